// The connector: the load side of the engine (see connector.h for what it owns and how it loads).
#include "connector.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "loop.h"
#include "proto/http_response.h"
#include "proto/ws.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace c1m {

using internal::ClientConn;
using internal::tag_of;

namespace {
// The connect window (connects and TLS and WebSocket handshakes in flight per group): starts at
// kInitialWindow, grows by one per connection established (doubling per round trip, as TCP's
// slow start) up to kMaxPendingConnects, and halves, at most once per kWindowHoldMs, on a sign
// that the server's kernel is dropping connects or the server cannot finish handshakes in time:
// a SYN that had to be retransmitted (the listener's queues were full), a connect or handshake
// that timed out here, or a handshake the server closed before it was done (its own handshake
// timeout). Time alone is not that sign: a connect or handshake that took a second because the
// server (or this driver) waited for a CPU, as 102 processes on 2 CPUs do in a
// 1,000,000-connection ramp, is queued in socket buffers the kernel keeps anyway; shrinking the
// window then only shrinks every process's batches (more wake-ups per connection) and slows the
// ramp further, which a 1,000,000 WebSocket ramp did (windows down to 8, 130 s at 20,000/s
// asked). A ramp then runs as fast as the server answers, and handshakes do not queue into their
// timeout.
constexpr uint32_t kMaxPendingConnects = 1024;
constexpr uint32_t kInitialWindow = 64;
constexpr uint32_t kMinWindow = 8;
constexpr uint64_t kWindowDelayMs = 1000;       // a SYN retransmit takes 1 s: only connects slower than that are checked for one
constexpr uint64_t kWindowHoldMs = 1000;
constexpr uint32_t kConnectsPerTick = 256;      // so one tick of connect() calls never blocks the loop for long
constexpr uint64_t kMaxOpenPerTick = 20000;     // open-loop sends per 1 ms tick, so one tick never stalls
constexpr size_t kClientReadBudget = 256u << 10;
constexpr size_t kMaxRespHead = 16384;
constexpr uint32_t kOpenRing = 256;             // open loop: answers a connection may owe
enum : uint8_t { kConnecting = 0, kHandshake = 1, kReady = 2, kTlsHandshake = 3 };
enum : uint8_t { kChurnNone = 0, kChurnUnrecorded = 1, kChurnRecorded = 2, kChurnTicket = 3 };  // ClientConn::churn
constexpr uint64_t kPacingTickUs = 1000;       // the open loop's tick (timer_update): the quantization a stamp forgives
constexpr uint64_t kTicketWaitMs = 1000;       // churn over TLS with resume: the longest a connection waits for its ticket
// The handshakes the handshake timeout bounds (the `upgrading` queue): TLS, then WebSocket.
inline bool handshaking(uint8_t state) { return state == kHandshake || state == kTlsHandshake; }

inline bool is_ws(const ClientOptions& o) { return o.proto == ClientProto::kWsEcho || o.proto == ClientProto::kWsBroadcast; }
}  // namespace

uint64_t Connector::now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

// ---------------------------------------------------------------------------------------------
// Groups

int Connector::open_group(ClientOptions opt, TlsContext* tls) {
  if (opt.targets.empty()) {
    Tls::context_free(tls);
    return -EINVAL;
  }
  int g = -1;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (!groups_[i].in_use) {
      g = int(i);
      break;
    }
  }
  if (g < 0) {
    if (groups_.size() >= 256) {
      Tls::context_free(tls);
      return -EMFILE;
    }
    groups_.emplace_back();
    g = int(groups_.size() - 1);
  }
  ClientGroup& G = groups_[size_t(g)];
  G = ClientGroup{};
  G.in_use = true;
  G.opt = std::move(opt);
  G.tls = tls;
  return g;
}

const ClientGroup* Connector::group(int g) const {
  if (g < 0 || size_t(g) >= groups_.size() || !groups_[size_t(g)].in_use) return nullptr;
  return &groups_[size_t(g)];
}

bool Connector::ramp(int g, uint64_t target, double rate) {
  if (!group(g)) return false;
  ClientGroup& G = groups_[size_t(g)];
  const uint64_t have = G.st.active + G.st.pending;
  if (target < have) {
    // Shrink: close the newest connections first (pending ones count as wanted).
    uint64_t drop = std::min<uint64_t>(have - target, G.members.size());
    for (uint64_t i = 0; i < drop; ++i) close(uint32_t(G.members.back()), false);
    G.attempts_left = 0;
  } else {
    G.attempts_left = target - have;
  }
  if (G.window == 0) G.window = G.window_min = kInitialWindow;
  G.ramp_rate = rate;
  G.ramp_t0_ms = uv_now(uv_);
  G.ramp_started = 0;
  timer_update();
  tick();
  loop_.update_activity();
  return true;
}

bool Connector::run(int g, LoadMode mode, double rate) {
  if (!group(g)) return false;
  // Each connection's first `depth` messages leave in one send, as a pipelining client writes
  // them, as soon as they are written (see send_gathered).
  Loop::Cork cork(loop_);
  ClientGroup& G = groups_[size_t(g)];
  // Messages the previous open loop had scheduled and could not send end here, counted.
  give_up_backlog(G, UINT64_MAX);
  G.mode = mode;
  G.rate = rate;
  G.running = mode == LoadMode::kClosed || mode == LoadMode::kOpen || mode == LoadMode::kChurn;
  G.run_t0_us = now_us();
  G.open_sent = 0;
  G.hb_last_ms = uv_now(uv_);
  if (G.running && mode == LoadMode::kClosed) {
    std::vector<uint64_t> m = G.members;
    for (uint64_t t : m) {
      if (!live(uint32_t(t), uint32_t(t >> 32))) continue;
      kick(uint32_t(t), G);
      send_gathered(uint32_t(t), uint32_t(t >> 32));
    }
  }
  timer_update();
  return true;
}

bool Connector::reset(int g) {
  if (!group(g)) return false;
  ClientGroup& G = groups_[size_t(g)];
  const ClientStats keep = G.st;
  G.st = ClientStats{};
  // Connection counts describe the group, not the window.
  G.st.started = keep.started;
  G.st.established = keep.established;
  G.st.failed = keep.failed;
  G.st.closed = keep.closed;
  G.st.pending = keep.pending;
  G.st.active = keep.active;
  G.st.tls_handshakes = keep.tls_handshakes;
  G.st.tls_resumed = keep.tls_resumed;
  G.st.tls_failed = keep.tls_failed;
  G.st.closed_in_handshake = keep.closed_in_handshake;
  G.hist.reset();
  G.recording = true;
  G.window_open = true;
  G.window_t0_us = now_us();
  return true;
}

bool Connector::stop(int g) {
  if (!group(g)) return false;
  ClientGroup& G = groups_[size_t(g)];
  // Messages the open loop scheduled in the window and never sent are dropped; those in flight
  // wait for finish(), so that an answer that comes soon after the window is recorded at its
  // real latency rather than at the part of it the window saw.
  if (G.recording && G.running && G.mode == LoadMode::kOpen) give_up_backlog(G, UINT64_MAX);
  if (G.recording && G.running && G.mode == LoadMode::kChurn) {
    // Connections due in the window: those never started are dropped, those not yet established
    // are recorded at what they waited so far.
    give_up_backlog(G, UINT64_MAX);
    const uint64_t now = now_us();
    for (size_t fd = 0; fd < conns_.size() && fd < loop_.table_size(); ++fd) {
      const Slot& s = loop_.slot(fd);
      if (s.kind != SlotKind::kClient || s.listener != uint8_t(g) || conns_[fd].churn != kChurnRecorded) continue;
      if (conns_[fd].state != kReady) {
        G.hist.record(std::max<uint64_t>(uint32_t(uint32_t(now) - conns_[fd].due_us), 1));
        G.st.unanswered++;
      } else if (conns_[fd].ring_count) {
        give_up_ring(G, conns_[fd], now, &G.st.unanswered);
      }
      conns_[fd].churn = kChurnUnrecorded;  // recorded once: a later window leaves it out
    }
  }
  G.running = false;
  G.window_open = false;
  timer_update();
  return true;
}

bool Connector::finish(int g) {
  if (!group(g)) return false;
  ClientGroup& G = groups_[size_t(g)];
  if (G.recording) {
    // What the window scheduled and still got no answer: a contender that stalled at the end of
    // the window shows it here (its last messages are its worst, and must not vanish), in the
    // closed loop as in the open one.
    const uint64_t now = now_us();
    for (uint64_t t : G.members) {
      const uint32_t fd = uint32_t(t);
      if (live(fd, uint32_t(t >> 32)) && conns_[fd].ring_count) give_up_ring(G, conns_[fd], now, &G.st.unanswered);
    }
  }
  G.running = false;
  G.window_open = false;
  G.recording = false;
  timer_update();
  return true;
}

// The group's end (the driver's teardown): every connection is reset, not closed with a FIN. A
// FIN leaves each socket of ours in TIME_WAIT for 60 s, and that kernel memory then drained away
// during the next run's steps: the next contender's kernel bytes per connection read about 9 %
// low (results/reference/suite/idle-hold: epoll 10.3 KB first, 9.4 KB after 28,000 of them).
bool Connector::close_group(int g) {
  if (!group(g)) return false;
  ClientGroup& G = groups_[size_t(g)];
  G.attempts_left = 0;
  G.running = false;
  const linger abort_close{1, 0};
  for (size_t fd = 0; fd < loop_.table_size(); ++fd) {
    if (loop_.slot(fd).kind == SlotKind::kClient && loop_.slot(fd).listener == uint8_t(g)) {
      setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
      close(uint32_t(fd), false);
    }
  }
  Tls::context_free(G.tls);
  G = ClientGroup{};
  timer_update();
  loop_.update_activity();
  return true;
}

bool Connector::live(uint32_t fd, uint32_t gen) const {
  return fd < loop_.table_size() && loop_.slot(fd).kind == SlotKind::kClient && loop_.slot(fd).gen == gen;
}

// ---------------------------------------------------------------------------------------------
// Connecting

bool Connector::start_connect(int g) {
  ClientGroup& G = groups_[size_t(g)];
  const uint64_t i = G.st.started;
  const sockaddr_storage& dst = G.opt.targets[i % G.opt.targets.size()];
  int fd = ::socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    G.st.failed++;
    G.st.err_connect++;
    G.connect_errnos[e]++;
    // Out of fds: more attempts would fail the same way; the ramp ends here, counted.
    if (e == EMFILE || e == ENFILE) G.attempts_left = 0;
    return false;
  }
  if (uint64_t(fd) >= loop_.fd_cap()) {
    // Into the fds this process keeps for itself: as good as EMFILE.
    ::close(fd);
    G.st.failed++;
    G.st.err_connect++;
    G.connect_errnos[EMFILE]++;
    G.attempts_left = 0;
    return false;
  }
  G.st.started++;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int err = 0;
  if (!G.opt.sources.empty() && dst.ss_family == AF_INET) {
    // Defer the port choice to connect(), so the 4-tuple (not the source address alone) must be
    // unique: each source address then gives a full ephemeral range per destination. Connection i
    // goes to target i mod T from source (i / T) mod S, so every (source, target) pair carries
    // an equal share: with i mod S only lcm(S, T) of the S × T pairs were ever used, and the
    // busiest could need more ports than the range that preflight counted on for each.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const sockaddr_in& src = G.opt.sources[(i / G.opt.targets.size()) % G.opt.sources.size()];
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) err = errno;
  }
  if (!err) {
    socklen_t len = dst.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), len) < 0 && errno != EINPROGRESS) err = errno;
  }
  if (err) {
    ::close(fd);
    G.st.failed++;
    G.st.err_connect++;
    G.connect_errnos[err]++;
    return false;
  }
  loop_.grow_table(size_t(fd));
  if (conns_.size() < loop_.table_size()) {
    if (conns_.capacity() < loop_.table_capacity()) conns_.reserve(loop_.table_capacity());
    conns_.resize(loop_.table_size());
  }
  Slot& s = loop_.slot(size_t(fd));
  s.kind = SlotKind::kClient;
  s.listener = uint8_t(g);
  s.flags = 0;
  s.in = s.out = nullptr;
  conns_[size_t(fd)] = ClientConn{};
  conns_[size_t(fd)].t0_ms = uint32_t(uv_now(uv_));
  if (const int r = loop_.poller().add_socket(fd, tag_of(uint32_t(fd), s.gen)); r < 0) {
    ::close(fd);
    s.kind = SlotKind::kFree;
    G.st.failed++;
    G.st.err_connect++;
    G.connect_errnos[-r]++;  // the poller's -errno: a failure with its reason, as every other
    return false;
  }
  open_fds_++;
  G.st.pending++;
  G.connecting.emplace_back(tag_of(uint32_t(fd), s.gen), uv_now(uv_) + G.opt.connect_timeout_ms);
  // Over TLS the upgrade waits for the handshake, which starts at the connect's writable edge.
  if (is_ws(G.opt) && !G.tls) upgrade_now(uint32_t(fd));
  return true;
}

// A WebSocket client sends its upgrade request as soon as connect() returns when the TCP
// handshake is already done, as it is on loopback (the SYN, SYN-ACK and ACK are processed before
// connect() returns): the request then waits in the server's socket when it accepts, which reads
// it at the connection's first event, and the driver does not wait a round for the writable edge
// to send it. Still connecting (EAGAIN), the writable edge sends it (connected()) as before; a
// failure fails the connect. Returns false when the connection was closed.
bool Connector::upgrade_now(uint32_t fd) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  ClientConn& c = conns_[fd];
  c.index = uint32_t(G.seq);
  const std::string req = upgrade_request(G, c);
  ssize_t w = ::send(int(fd), req.data(), req.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  loop_.counters().writes++;
  if (w < 0) {
    const int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return true;
    fail_connect(fd, e);
    return false;
  }
  G.seq++;
  loop_.counters().bytesOut += uint64_t(w);
  begin_handshake(fd, G, req.size());
  if (size_t(w) < req.size()) {
    return loop_.send_or_queue(fd, loop_.slot(fd), reinterpret_cast<const uint8_t*>(req.data()) + w, req.size() - size_t(w)) >= 0;
  }
  return true;
}

// The upgrade request of connection c; a ws-broadcast connection's room travels in the query
// string, and its index decides whether it publishes. The key is fixed (the server's answer is
// checked for the matching accept value).
std::string Connector::upgrade_request(const ClientGroup& G, ClientConn& c) {
  std::string path = G.opt.path;
  c.publisher = false;
  if (G.opt.proto == ClientProto::kWsBroadcast) {
    path += (path.find('?') == std::string::npos ? "?room=r" : "&room=r") + std::to_string(c.index % std::max(1u, G.opt.rooms));
    c.publisher = c.index < G.opt.publishers;
  }
  return "GET " + path + " HTTP/1.1\r\nHost: " + G.opt.host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n";
}

// The request (request_bytes long) is sent or queued: the connection waits for the server's 101,
// within the handshake timeout.
void Connector::begin_handshake(uint32_t fd, ClientGroup& G, size_t request_bytes) {
  conns_[fd].state = kHandshake;
  G.upgrading.emplace_back(tag_of(fd, loop_.slot(fd).gen), uv_now(uv_) + G.opt.handshake_timeout_ms);
  G.st.bytes_out += request_bytes;
}

void Connector::on_ready(uint32_t fd, uint32_t events) {
  ClientConn& c = conns_[fd];
  const uint32_t gen = loop_.slot(fd).gen;
  if (c.state == kConnecting) {
    if (!(events & (kReadyOut | kReadyError | kReadyHup))) return;
    // A failed connect always reports EPOLLERR (the socket's error is pending until read), so a
    // writable edge without it is a completed one: SO_ERROR is read only when the event carries
    // an error or a hang-up, not once per connection.
    if (events & (kReadyError | kReadyHup)) {
      int err = 0;
      socklen_t l = sizeof err;
      getsockopt(int(fd), SOL_SOCKET, SO_ERROR, &err, &l);
      if (err || (events & kReadyError)) {
        fail_connect(fd, err ? err : ECONNREFUSED);
        return;
      }
    }
    connected(fd);
    if (!live(fd, gen)) return;
  }
  if (events & (kReadyPeerEnd | kReadyHup)) loop_.slot(fd).flags |= kFlagRdHup;
  if (groups_[loop_.slot(fd).listener].mode == LoadMode::kStall) {
    // A stalled peer reads nothing; the server closing on it is the one event it still sees.
    if (events & (kReadyPeerEnd | kReadyHup | kReadyError)) close(fd, true);
    return;
  }
  if ((events & kReadyOut) && loop_.slot(fd).out && !(loop_.slot(fd).flags & kFlagCorked)) {
    loop_.flush_out(fd);
    if (!live(fd, gen)) return;
  }
  if (events & (kReadyIn | kReadyPeerEnd | kReadyHup | kReadyError)) read(fd);
}

// One connect ended: established (dropped: false), or with a sign that the server's kernel
// dropped connects or the server cannot keep up (a retransmitted SYN, a timeout, a handshake the
// server closed).
void Connector::window_update(ClientGroup& G, bool dropped) {
  const uint64_t now = uv_now(uv_);
  if (!dropped) {
    G.window = std::min<double>(kMaxPendingConnects, G.window + 1);
  } else if (now - G.window_cut_ms >= kWindowHoldMs) {
    G.window = std::max<double>(kMinWindow, G.window / 2);
    G.window_cut_ms = now;
    G.window_min = std::min<uint64_t>(G.window_min, uint64_t(G.window));
  }
}

// The server ended connection fd (a FIN or a reset). The window halves when that ended a handshake
// the server had not finished: more handshakes in flight than it finishes in time, so it closed
// what waited too long (its own handshake timeout). Without this sign a TLS ramp past the
// servers' pace grew every window to its cap and queued handshakes into their timeout (a
// 350,000-connection TLS ramp: 29 % of the accepted closed at the servers' 10 s). Either the
// handshake (TLS or WebSocket) was still going, or, over TLS, the connection was established
// here but heard nothing since, no ticket and no byte of plaintext, within the handshake timeout
// of its connect: a TLS 1.3 client is done at its own Finished, before the server has read it,
// and a server that times the handshake out after that leaves exactly this (8.8 % of the
// accepted in that ramp, before this case was read as the sign). A refusal of ours (a TLS alert,
// an upgrade answered with an error) is not a sign of load and halves nothing.
void Connector::peer_ended(uint32_t fd) {
  const ClientConn& c = conns_[fd];
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  bool unfinished = handshaking(c.state);
  if (!unfinished && c.state == kReady && !c.heard && uint32_t(uv_now(uv_)) - c.t0_ms <= G.opt.handshake_timeout_ms) {
    Tls& tls = loop_.tls();
    unfinished = tls.has(fd) && !tls.got_ticket(fd);
  }
  if (unfinished) window_update(G, true);
}

// True when connection fd's SYN was sent more than once: its connect took longer than a SYN
// retransmit (kWindowDelayMs) and TCP_INFO counts a retransmission. Asked only of slow connects,
// so a ramp whose connects complete at once pays no extra syscall.
bool Connector::syn_retransmitted(uint32_t fd) const {
  if (uint32_t(uv_now(uv_)) - conns_[fd].t0_ms <= kWindowDelayMs) return false;
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(int(fd), IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return false;
  return ti.tcpi_total_retrans > 0;
}

// A churn connection due in the measured window that closes before its answer (connect refused
// or timed out, a TLS alert, a handshake timeout, the server closing) is recorded at what it
// waited and counted as lost, once: under overload the slowest and failed ones are the point.
void Connector::churn_lost(uint32_t fd, ClientGroup& G) {
  ClientConn& c = conns_[fd];
  if (c.churn != kChurnRecorded) return;
  const uint64_t now = now_us();
  give_up(G, now - uint32_t(uint32_t(now) - c.due_us), now, &G.st.lost);
  c.churn = kChurnUnrecorded;
}

// One connect failed: one error, with its errno as the reason. A connect that timed out (ours,
// or the kernel's ETIMEDOUT) is a timeout error, as the other drivers count it, not a connect
// error as well.
void Connector::fail_connect(uint32_t fd, int err) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  churn_lost(fd, G);
  G.st.pending--;
  G.st.failed++;
  want_refill(G);
  if (err == ETIMEDOUT) G.st.err_timeout++;
  else G.st.err_connect++;
  G.connect_errnos[err]++;
  Slot& s = loop_.slot(fd);
  loop_.tls().close(fd);
  ::close(int(fd));
  s = Slot{.gen = (s.gen + 1) & kGenMask};
  open_fds_--;
}

// A connection counts as established when it can carry the protocol: at connect for TCP, at
// the server's 101 for WebSocket (until then it is still pending, and the ramp waits for it).
void Connector::ready(uint32_t fd) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  ClientConn& c = conns_[fd];
  G.st.pending--;
  G.st.established++;
  G.st.active++;
  want_refill(G);
  window_update(G, c.syn_dropped);
  c.state = kReady;
  c.member = uint32_t(G.members.size());
  G.members.push_back(tag_of(fd, loop_.slot(fd).gen));
  if (c.publisher) G.pubs.push_back(tag_of(fd, loop_.slot(fd).gen));
  if (c.churn) {
    // Established: it asks once (a request, an echo, a frame), stamped with when the connection
    // was due, and closes on the answer (answer → churn_done). A broadcast member has nothing to
    // ask: its op is the upgrade itself.
    const uint64_t now = now_us();
    const uint64_t due = now - uint32_t(uint32_t(now) - c.due_us);
    if (G.opt.proto == ClientProto::kWsBroadcast) {
      if (c.churn == kChurnRecorded && G.recording && due >= G.window_t0_us) {
        G.hist.record(std::max<uint64_t>(now - due, 1));
        G.st.answered++;
        if (G.window_open) G.st.ops++;
      }
      churn_done(fd, G);
      return;
    }
    // An unrecorded one (due outside the window) carries its due time marked as not to be
    // recorded (answer() and give_up skip it), so the response timeout still runs from when it
    // was due. Stamped 0, it was overdue at once: the next timeout scan (every 100 ms) closed
    // every warm-up connection still waiting for its answer and counted it as a timeout.
    send(fd, G, c, c.churn == kChurnRecorded ? due : due | kStampGivenUp, true);
    return;
  }
  if (G.running && G.mode == LoadMode::kClosed) kick(fd, G);
}

// A churn connection got its answer (or, a broadcast member, its upgrade): the client closes it,
// saying close_notify over TLS. Over TLS with resume it first waits for its own ticket, at most
// kTicketWaitMs (a server that issues none): TLS 1.3 sends tickets after the handshake, some
// servers (uWS) only with their first write, and the group offers the newest ticket it was given
// (each connection a copy of it, Tls::open), so every server is asked to issue them as a real
// client's churn would.
void Connector::churn_done(uint32_t fd, ClientGroup& G) {
  if (conns_[fd].churn == kChurnTicket) return;  // already done, waiting for its ticket
  if (G.tls && G.tls->resume && !loop_.tls().got_ticket(fd)) {
    conns_[fd].churn = kChurnTicket;
    G.ticket_wait.emplace_back(tag_of(fd, loop_.slot(fd).gen), uv_now(uv_) + kTicketWaitMs);
    return;
  }
  close(fd, false);
}

void Connector::connected(uint32_t fd) {
  const uint8_t g = loop_.slot(fd).listener;
  ClientGroup& G = groups_[g];
  ClientConn& c = conns_[fd];
  c.index = uint32_t(G.seq++);
  c.syn_dropped = syn_retransmitted(fd);
  if (G.tls) {
    // The TLS handshake first (the ClientHello goes now); tls_ready starts the protocol. It is
    // bounded by the handshake timeout, as a WebSocket upgrade is.
    if (loop_.tls().open(fd, G.tls) < 0) {
      fail_connect(fd, ENOMEM);
      return;
    }
    loop_.slot(fd).flags |= kFlagTls | kFlagTlsHandshake;
    c.state = kTlsHandshake;
    G.upgrading.emplace_back(tag_of(fd, loop_.slot(fd).gen), uv_now(uv_) + G.opt.handshake_timeout_ms);
    if (!loop_.tls().start(fd)) {
      tls_failed(fd, loop_.tls().failure(fd));
      return;
    }
    loop_.tls_send_sink(fd);
    return;
  }
  if (is_ws(G.opt)) {
    const std::string req = upgrade_request(G, c);
    begin_handshake(fd, G, req.size());
    loop_.send_or_queue(fd, loop_.slot(fd), reinterpret_cast<const uint8_t*>(req.data()), req.size());
    return;
  }
  ready(fd);
}

void Connector::tls_ready(uint32_t fd) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  ClientConn& c = conns_[fd];
  if (loop_.tls().resumed(fd)) G.st.tls_resumed++;
  else G.st.tls_handshakes++;
  if (is_ws(G.opt)) {
    const std::string req = upgrade_request(G, c);
    begin_handshake(fd, G, req.size());
    loop_.send_or_queue(fd, loop_.slot(fd), reinterpret_cast<const uint8_t*>(req.data()), req.size());
    return;
  }
  ready(fd);
}

void Connector::tls_failed(uint32_t fd, const char* why) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  G.tls_errors[why && *why ? why : "unknown"]++;
  G.st.err_protocol++;
  loop_.tls().sink_clear();  // what the failed call produced is not another connection's to send
  close(fd, false);
}

// ---------------------------------------------------------------------------------------------
// Sending

// Closed loop: fill the connection's window of `depth` messages.
void Connector::kick(uint32_t fd, ClientGroup& G) {
  ClientConn& c = conns_[fd];
  if (c.state != kReady || G.opt.proto == ClientProto::kWsBroadcast) return;
  const uint32_t gen = loop_.slot(fd).gen;
  while (c.ring_count < G.opt.depth && live(fd, gen)) {
    if (!send(fd, G, conns_[fd], now_us(), true)) return;
  }
}

// A message is stamped when it is written (its send time, or in the open loop the tick that
// first saw it due), and the loop gathers what a round or tick writes to one connection into one
// send at the scope's end (Loop::Cork). A client connection's gathered output therefore leaves as
// soon as the connector is done with that connection: the reads, sends and handshakes of every
// connection served after it in the same round or tick would otherwise wait between its stamp and
// its send, and read as the server's latency (a round of a few hundred answers holds the first
// one's next message for the whole round). What one connection writes in one go (pipelined
// requests, several echoes answered by one read) still leaves in one send.
void Connector::send_gathered(uint32_t fd, uint32_t gen) {
  if (live(fd, gen) && (loop_.slot(fd).flags & kFlagCorked)) loop_.flush_cork(fd);
}

bool Connector::send(uint32_t fd, ClientGroup& G, ClientConn& c, uint64_t stamp_us, bool track) {
  if (track) {
    // Sized for the current mode: a ring first allocated by a closed loop (depth slots) grows
    // when the same connection then runs an open loop, which may owe up to kOpenRing answers.
    const uint32_t want = std::max(G.opt.depth, G.mode == LoadMode::kOpen ? kOpenRing : 1u);
    if (c.ring_cap < want) {
      uint64_t* grown = static_cast<uint64_t*>(malloc(sizeof(uint64_t) * want));
      if (!grown) return false;
      for (uint32_t k = 0; k < c.ring_count; ++k) grown[k] = c.ring[(c.ring_head + k) % c.ring_cap];
      free(c.ring);
      c.ring = grown;
      c.ring_cap = want;
      c.ring_head = 0;
    }
    // Callers check for room first (the open loop keeps what does not fit in its backlog).
    assert(c.ring_count < c.ring_cap);
    if (c.ring_count == c.ring_cap) return true;
    c.ring[(c.ring_head + c.ring_count) % c.ring_cap] = stamp_us;
    c.ring_count++;
    G.in_flight++;
  }
  const ClientOptions& o = G.opt;
  const uint32_t n = o.msg_bytes;
  std::vector<uint8_t>& out = loop_.compose();
  out.clear();
  switch (o.proto) {
    case ClientProto::kStream:
      out.assign(n, uint8_t('x'));
      break;
    case ClientProto::kFrame:
      out.resize(4 + n, uint8_t('x'));
      out[0] = uint8_t(n >> 24);
      out[1] = uint8_t(n >> 16);
      out[2] = uint8_t(n >> 8);
      out[3] = uint8_t(n);
      break;
    case ClientProto::kHttp: {
      std::string r = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + "\r\n\r\n";
      out.assign(r.begin(), r.end());
      break;
    }
    case ClientProto::kWsEcho:
    case ClientProto::kWsBroadcast: {
      // Clients must mask (RFC 6455 5.3). The payload starts with the stamp so a broadcast
      // receiver can measure publish-to-delivery latency from the message itself.
      uint8_t payload_min = 8;
      const uint32_t plen = std::max<uint32_t>(n, payload_min);
      mask_seed_ ^= mask_seed_ << 13;
      mask_seed_ ^= mask_seed_ >> 17;
      mask_seed_ ^= mask_seed_ << 5;
      uint8_t mask[4];
      memcpy(mask, &mask_seed_, 4);
      uint8_t h[ws::kMaxHeaderBytes];
      size_t hn = ws::encode_header(h, true, ws::kBinary, plen, mask);
      out.resize(hn + plen, uint8_t('x'));
      memcpy(out.data(), h, hn);
      memcpy(out.data() + hn, &stamp_us, 8);
      ws::unmask(out.data() + hn, plen, mask, 0);  // XOR is its own inverse: this masks
      break;
    }
  }
  G.st.sent++;
  G.st.bytes_out += out.size();
  return loop_.send_or_queue(fd, loop_.slot(fd), out.data(), out.size()) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Receiving

void Connector::read(uint32_t fd) {
  const uint32_t gen = loop_.slot(fd).gen;
  if (groups_[loop_.slot(fd).listener].mode == LoadMode::kStall) return;
  size_t got = 0;
  for (;;) {
    if (!live(fd, gen)) return;
    // The core's read seam: ::recv, or plaintext out of TLS.
    ssize_t n = loop_.conn_recv(fd, loop_.scratch(), Loop::kScratchBytes);
    if (n > 0) {
      conns_[fd].heard = true;
      got += size_t(n);
      ClientGroup& G = groups_[loop_.slot(fd).listener];
      G.st.bytes_in += uint64_t(n);
      if (!receive(fd, loop_.scratch(), size_t(n))) return;
      if (size_t(n) < Loop::kScratchBytes && !(loop_.slot(fd).flags & kFlagRdHup)) return;
      if (got >= kClientReadBudget) {
        loop_.push_ready(fd);
        return;
      }
      continue;
    }
    if (n == 0) {
      peer_ended(fd);
      close(fd, true);
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // A churn connection waiting for its ticket goes once it came.
      if (conns_[fd].churn == kChurnTicket && loop_.tls().got_ticket(fd)) close(fd, false);
      return;
    }
    if (errno == EINTR) continue;
    groups_[loop_.slot(fd).listener].st.err_read++;
    // A reset in the handshake (TLS or WebSocket) has its reason in the ramp's, as a FIN there does.
    if (handshaking(conns_[fd].state)) groups_[loop_.slot(fd).listener].st.closed_in_handshake++;
    peer_ended(fd);
    close(fd, false);
    return;
  }
}

// Consumes received bytes: stream and frame answers are counted as they pass; HTTP and
// WebSocket units are parsed (a partial unit waits in the slot's `in` buffer).
bool Connector::receive(uint32_t fd, uint8_t* p, size_t n) {
  ClientGroup& G = groups_[loop_.slot(fd).listener];
  ClientConn& c = conns_[fd];
  const uint32_t gen = loop_.slot(fd).gen;
  if (c.state == kReady && (G.opt.proto == ClientProto::kStream || G.opt.proto == ClientProto::kFrame)) {
    const uint32_t unit = G.opt.proto == ClientProto::kFrame ? 4 + G.opt.msg_bytes : G.opt.msg_bytes;
    if (c.ring_count == 0 && !G.running) return true;  // idle heartbeat echoes and late answers
    size_t off = 0;
    while (off < n) {
      if (G.opt.proto == ClientProto::kFrame && c.rx < 4) {
        size_t take = std::min<size_t>(4 - c.rx, n - off);
        memcpy(c.hdr + c.rx, p + off, take);
        c.rx += uint32_t(take);
        off += take;
        if (c.rx == 4 && ((uint32_t(c.hdr[0]) << 24 | uint32_t(c.hdr[1]) << 16 | uint32_t(c.hdr[2]) << 8 | c.hdr[3]) != G.opt.msg_bytes)) {
          G.st.err_protocol++;
          close(fd, false);
          return false;
        }
        continue;
      }
      size_t take = std::min<size_t>(unit - c.rx, n - off);
      c.rx += uint32_t(take);
      off += take;
      if (c.rx == unit) {
        c.rx = 0;
        if (c.ring_count == 0) {
          // An answer nobody asked for: the server sent bytes we did not send.
          G.st.err_protocol++;
          close(fd, false);
          return false;
        }
        uint64_t sent = c.ring[c.ring_head];
        c.ring_head = (c.ring_head + 1) % c.ring_cap;
        c.ring_count--;
        G.in_flight--;
        if (!answer(fd, G, sent)) return false;
      }
    }
    return true;
  }
  // Unit protocols: append to a pending partial unit if there is one.
  Slot& s = loop_.slot(fd);
  const uint8_t* q = p;
  size_t m = n;
  if (s.in) {
    if (!s.in->append(p, n)) {
      close(fd, false);
      return false;
    }
    q = s.in->begin();
    m = s.in->size();
  }
  size_t off = 0;
  while (off < m) {
    size_t used = 0;
    if (!receive_unit(fd, G, q + off, m - off, &used)) return false;  // closed
    if (used == 0) break;                                            // incomplete
    off += used;
  }
  if (!live(fd, gen)) return false;
  Slot& s2 = loop_.slot(fd);
  if (s2.in) {
    s2.in->consume(off);
    if (s2.in->empty()) {
      bytebuf_free(s2.in);
      s2.in = nullptr;
    }
  } else if (off < m) {
    s2.in = bytebuf_new(loop_.buf_account());
    if (!s2.in || !s2.in->append(q + off, m - off)) {
      close(fd, false);
      return false;
    }
  }
  return true;
}

// One HTTP response or WebSocket frame (or the handshake answer). *used = its length, 0 when
// incomplete. Returns false when the connection was closed.
//
// An answer can close the connection (the closed loop's next send fails, and close() frees the
// slot, its buffers and its ring): after ready() and answer() the connection is checked before
// anything else is parsed, and false goes back so receive() stops at once.
bool Connector::receive_unit(uint32_t fd, ClientGroup& G, const uint8_t* p, size_t n, size_t* used) {
  ClientConn& c = conns_[fd];
  const uint32_t gen = loop_.slot(fd).gen;
  *used = 0;
  auto bad = [&]() {
    G.st.err_protocol++;
    close(fd, false);
    return false;
  };
  if (G.opt.proto == ClientProto::kHttp || c.state == kHandshake) {
    http::Response r;
    http::RespStatus st = http::parse_response(p, n, kMaxRespHead, &r);
    if (st == http::RespStatus::kError) return bad();
    if (st == http::RespStatus::kIncomplete || r.total > n) return true;
    *used = r.total;
    if (c.state == kHandshake) {
      if (r.status != 101) return bad();
      ready(fd);
      return live(fd, gen);
    }
    // An answer outside 2xx is answered (its latency is recorded) but not served: a protocol
    // error, not an op.
    const bool ok = r.status >= 200 && r.status <= 299;
    if (!ok) G.st.err_protocol++;
    if (c.ring_count == 0) return bad();
    uint64_t sent = c.ring[c.ring_head];
    c.ring_head = (c.ring_head + 1) % c.ring_cap;
    c.ring_count--;
    G.in_flight--;
    return answer(fd, G, sent, ok);
  }
  // WebSocket frames from the server are unmasked.
  ws::FrameHeader h;
  ws::Result r = ws::parse_header(p, n, false, 64u << 20, &h);
  if (r.status == ws::Status::kError) return bad();
  if (r.status == ws::Status::kIncomplete || h.header_len + h.payload_len > n) return true;
  *used = size_t(h.header_len + h.payload_len);
  const uint8_t* pl = p + h.header_len;
  switch (h.opcode) {
    case ws::kPing: {
      // Answer heartbeats natively (masked pong with the same payload).
      uint8_t mask[4] = {1, 2, 3, 4};
      uint8_t out[ws::kMaxHeaderBytes + 125];
      size_t hn = ws::encode_header(out, true, ws::kPong, h.payload_len, mask);
      memcpy(out + hn, pl, size_t(h.payload_len));
      ws::unmask(out + hn, size_t(h.payload_len), mask, 0);
      return loop_.send_or_queue(fd, loop_.slot(fd), out, hn + size_t(h.payload_len)) >= 0;
    }
    case ws::kPong:
      return true;
    case ws::kClose:
      close(fd, true);
      return false;
    case ws::kText:
    case ws::kBinary: {
      if (!h.fin) return bad();  // our servers answer unfragmented
      if (G.opt.proto == ClientProto::kWsBroadcast) {
        if (h.payload_len < 8) return bad();
        uint64_t stamp;
        memcpy(&stamp, pl, 8);
        return answer(fd, G, stamp & ~kStampGivenUp);
      }
      if (c.ring_count == 0) return bad();
      uint64_t sent = c.ring[c.ring_head];
      c.ring_head = (c.ring_head + 1) % c.ring_cap;
      c.ring_count--;
      G.in_flight--;
      return answer(fd, G, sent);
    }
    default:
      return bad();
  }
}

// One answer arrived for the message stamped stamp_us (its send time, or in the open loop its
// scheduled time); ok is false for an HTTP answer outside 2xx. Its latency is recorded once, if
// it was scheduled inside the measured window and not already given up; it is an op if it is ok
// and arrived inside the window (see ClientStats). Then the closed loop sends the next, and the
// open loop sends the oldest message its backlog holds. Returns false when that send closed the
// connection: the caller must not touch it again.
bool Connector::answer(uint32_t fd, ClientGroup& G, uint64_t stamp_us, bool ok) {
  const uint32_t gen = loop_.slot(fd).gen;
  const bool scheduled_in = G.recording && !(stamp_us & kStampGivenUp) && stamp_us >= G.window_t0_us;
  if (scheduled_in) {
    uint64_t now = now_us();
    G.hist.record(now > stamp_us ? now - stamp_us : 1);
    G.st.answered++;
  }
  if (ok && (conns_[fd].churn ? scheduled_in && G.window_open : G.window_open)) G.st.ops++;
  if (conns_[fd].churn) {
    churn_done(fd, G);
    return live(fd, gen);
  }
  if (!G.running) return true;
  if (G.mode == LoadMode::kClosed) {
    send(fd, G, conns_[fd], now_us(), true);
  } else if (G.mode == LoadMode::kOpen && !G.backlog.empty() && G.opt.proto != ClientProto::kWsBroadcast) {
    const uint64_t intended = G.backlog.front();
    G.backlog.pop_front();
    send(fd, G, conns_[fd], intended, true);
  }
  return live(fd, gen);
}

// Records a message that will get no answer at the time it waited so far (at least 1 µs), if it
// was scheduled inside the measured window, and counts it in *counter.
void Connector::give_up(ClientGroup& G, uint64_t stamp_us, uint64_t now, uint64_t* counter) {
  if (!G.recording || (stamp_us & kStampGivenUp) || stamp_us < G.window_t0_us) return;
  G.hist.record(now > stamp_us ? now - stamp_us : 1);
  (*counter)++;
}

// Gives up the open loop's backlogged messages scheduled before older_than_us (all of them with
// UINT64_MAX), as dropped.
void Connector::give_up_backlog(ClientGroup& G, uint64_t older_than_us) {
  if (G.backlog.empty()) return;
  const uint64_t now = now_us();
  while (!G.backlog.empty() && G.backlog.front() < older_than_us) {
    give_up(G, G.backlog.front(), now, &G.st.dropped);
    G.backlog.pop_front();
  }
}

// Gives up every message still in flight on one connection (each is marked, so an answer that
// comes later is not recorded again); returns how many were newly given up.
uint64_t Connector::give_up_ring(ClientGroup& G, ClientConn& c, uint64_t now, uint64_t* counter) {
  uint64_t n = 0;
  for (uint32_t k = 0; k < c.ring_count; ++k) {
    uint64_t& e = c.ring[(c.ring_head + k) % c.ring_cap];
    if (e & kStampGivenUp) continue;
    const uint64_t before = *counter;
    give_up(G, e, now, counter);
    n += *counter - before;
    e |= kStampGivenUp;
  }
  return n;
}

// Open loop: sends backlogged messages (oldest first, each with its own scheduled time) round
// robin to ready connections with room in their ring. Gives up the sweep after a run of
// connections without room (the answers that free room send the rest, see answer()).
void Connector::open_pump(ClientGroup& G) {
  const bool track = G.opt.proto != ClientProto::kWsBroadcast;
  const uint32_t room = std::max(G.opt.depth, kOpenRing);  // what send() sizes an open-loop ring to
  std::vector<uint64_t>& who = track ? G.members : G.pubs;
  const size_t miss_cap = std::min<size_t>(who.size(), 64);
  size_t misses = 0;
  uint64_t budget = kMaxOpenPerTick;
  while (!G.backlog.empty() && !who.empty() && budget && misses < miss_cap) {
    const uint64_t tag = who[G.rr++ % who.size()];
    const uint32_t fd = uint32_t(tag), gen = uint32_t(tag >> 32);
    if (!live(fd, gen) || conns_[fd].state != kReady || (track && conns_[fd].ring_count >= room)) {
      misses++;
      continue;
    }
    misses = 0;
    // A connection takes its share of the backlog in a row (one message unless the backlog holds
    // more than there are connections), and those leave in one send as soon as they are written
    // (send_gathered): none waits while the sweep serves the others.
    uint64_t share = (uint64_t(G.backlog.size()) + who.size() - 1) / who.size();
    while (share-- && budget && !G.backlog.empty() && !(track && conns_[fd].ring_count >= room)) {
      budget--;
      const uint64_t intended = G.backlog.front();
      G.backlog.pop_front();
      if (!send(fd, G, conns_[fd], intended, track) || !live(fd, gen)) break;
    }
    send_gathered(fd, gen);
  }
}

// The open loop's (and churn's) schedule: item k is due at t0 + k / rate. The items due by t join
// the backlog stamped t, not their exact due time, but never later than one tick after it: the
// pacing tick runs every millisecond, and an item due just after one tick can only leave at the
// next. Stamped with its due time, every item would carry that wait, the driver's own (up to a
// tick, plus one interval of the schedule: at 100/s a loopback echo read 10.5 ms instead of its
// 0.1), into the server's latency. Stamped with the tick that first saw it due, an item sent at
// once reads its answer's time; a tick that came late (the driver's loop busy) forgives only its
// first millisecond; and one that waits in the backlog (no connection free, the connect window
// full: the server is behind) reads that wait as well, so coordinated omission stays corrected. A tick never schedules more
// than kMaxOpenPerTick; a schedule that far behind skips ahead, and the skipped items are given
// up as dropped (the driver itself could not keep up).
void Connector::schedule(ClientGroup& G, uint64_t t) {
  const uint64_t due = uint64_t(double(t - G.run_t0_us) * G.rate / 1e6) + 1;  // item 0 is due at t0
  if (due > G.open_sent + kMaxOpenPerTick) {
    const uint64_t skip = due - G.open_sent - kMaxOpenPerTick;
    for (uint64_t k = 0; k < skip && G.recording; ++k) {
      give_up(G, G.run_t0_us + uint64_t(double(G.open_sent + k) * 1e6 / G.rate), t, &G.st.dropped);
    }
    G.open_sent += skip;
  }
  while (G.open_sent < due) {
    const uint64_t exact = G.run_t0_us + uint64_t(double(G.open_sent) * 1e6 / G.rate);
    G.backlog.push_back(std::min(t, exact + kPacingTickUs));
    G.open_sent++;
  }
}

// Churn: the backlog's connections start, oldest first, while the connect window has room
// (kMaxPendingConnects, the ramp's cap) and at most kConnectsPerTick per tick; each carries its
// backlog stamp, and its latency is recorded when it is established (ready).
void Connector::churn_pump(size_t gi) {
  ClientGroup& G = groups_[gi];
  uint64_t budget = kConnectsPerTick;
  while (!G.backlog.empty() && G.st.pending < kMaxPendingConnects && budget > 0) {
    budget--;
    const uint64_t at = G.backlog.front();
    G.backlog.pop_front();
    // A connect that failed at once (counted as a failed connect) is lost too, at what it waited.
    if (!start_connect(int(gi))) {
      give_up(G, at, now_us(), &G.st.lost);
      continue;
    }
    // start_connect registered it last: the newest of this group is at the back of connecting.
    // Only one due in the measured window is recorded (as the open loop's messages).
    const uint64_t tag = G.connecting.back().first;
    const uint32_t fd = uint32_t(tag);
    if (!live(fd, uint32_t(tag >> 32))) {
      give_up(G, at, now_us(), &G.st.lost);
      continue;
    }
    if (conns_[fd].state == kReady) continue;
    conns_[fd].churn = G.recording && at >= G.window_t0_us ? kChurnRecorded : kChurnUnrecorded;
    conns_[fd].due_us = uint32_t(at);
  }
}

void Connector::close(uint32_t fd, bool peer_closed) {
  Slot& s = loop_.slot(fd);
  // Every path that can close checks liveness before it closes; a second close of one fd could
  // hit a reused fd and would corrupt the counts (pending, active, open fds) that end a run.
  assert(s.kind == SlotKind::kClient);
  if (s.kind != SlotKind::kClient) return;
  ClientGroup& G = groups_[s.listener];
  ClientConn& c = conns_[fd];
  if (c.state != kReady) {
    // Closed before it could carry the protocol (connecting, a TLS or WebSocket handshake).
    churn_lost(fd, G);
    G.st.pending--;
    G.st.failed++;
    if (c.state == kTlsHandshake) G.st.tls_failed++;
    // The server ended it in its handshake: an error of the ramp (a failed connect is counted
    // where it failed, a refusal of ours where we refused).
    if (peer_closed && handshaking(c.state)) {
      G.st.err_read++;
      G.st.closed_in_handshake++;
    }
    want_refill(G);
  } else {
    // Messages it still owed answers for end in the record as lost.
    if (c.ring_count) give_up_ring(G, c, now_us(), &G.st.lost);
    // Swap-remove from the member list, keeping the moved member's index right.
    uint64_t last = G.members.back();
    G.members[c.member] = last;
    conns_[uint32_t(last)].member = c.member;
    G.members.pop_back();
    if (c.publisher) {
      auto it = std::find(G.pubs.begin(), G.pubs.end(), tag_of(fd, s.gen));
      if (it != G.pubs.end()) G.pubs.erase(it);
    }
    G.st.active--;
    G.st.closed++;
    if (peer_closed) G.st.peer_closed++;
  }
  const bool clean = s.out == nullptr || s.out->size() == 0;  // no record cut short in its queue
  loop_.free_out(s);
  bytebuf_free(s.in);
  // An established TLS connection says close_notify before its FIN (best effort: a full socket
  // drops it). It is also what keeps the group's session resumable: OpenSSL marks the session of
  // a connection freed without a shutdown as not resumable, and a churn that closed each
  // connection at once made every later handshake full.
  Tls& tls = loop_.tls();
  if (clean && tls.has(fd) && tls.established(fd)) {
    tls.close_notify(fd);
    if (tls.sink_size() > 0) {
      const ssize_t w = ::send(int(fd), tls.sink_data(), tls.sink_size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      loop_.counters().writes++;
      if (w > 0) loop_.counters().bytesOut += uint64_t(w);
    }
    tls.sink_clear();
  }
  tls.close(fd);
  G.in_flight -= c.ring_count;
  free(c.ring);
  c = ClientConn{};
  ::close(int(fd));
  s = Slot{.gen = (s.gen + 1) & kGenMask};
  open_fds_--;
}

// The core's write path failed on a client socket.
void Connector::close_on_error(uint32_t fd, CloseReason why) {
  if (why == kCloseReset || why == kCloseError) groups_[loop_.slot(fd).listener].st.err_write++;
  close(fd, false);
}

uint64_t Connector::memory_bytes() const {
  auto vec = [](size_t bytes) { return heap_chunk(bytes); };
  // Per-fd state, then the groups (histogram, member lists, timeout queues, backlog) and the
  // send-time rings.
  uint64_t b = conns_.size() * sizeof(ClientConn);
  b += vec(groups_.capacity() * sizeof(ClientGroup));
  for (const ClientGroup& G : groups_) {
    if (!G.in_use) continue;
    b += G.hist.memory_bytes() - sizeof(Histogram) + vec(G.members.capacity() * 8) + vec(G.pubs.capacity() * 8);
    b += (G.connecting.size() + G.upgrading.size() + G.ticket_wait.size()) * 16 + G.backlog.size() * 8;
  }
  for (const ClientConn& c : conns_) b += vec(size_t(c.ring_cap) * sizeof(uint64_t));
  return b;
}

// ---------------------------------------------------------------------------------------------
// The pacing tick: ramps, open-loop schedule, heartbeats, timeouts.

void Connector::init(uv_loop_t* uv) {
  uv_ = uv;
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(uv, timer_);
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
}

uv_timer_t* Connector::release_handle() {
  uv_timer_t* t = timer_;
  timer_ = nullptr;
  return t;
}

void Connector::release_rings() {
  for (ClientConn& c : conns_) free(c.ring);
  conns_.clear();
  for (ClientGroup& G : groups_) {
    Tls::context_free(G.tls);
    G.tls = nullptr;
  }
}

void Connector::on_uv_timer(uv_timer_t* h) {
  // One tick's sends (open-loop messages, heartbeats) leave one send per connection.
  Connector* self = static_cast<Connector*>(h->data);
  Loop::Cork cork(self->loop_);
  self->tick();
}

void Connector::timer_update() {
  if (!timer_) return;
  bool any = false;
  uint64_t interval = 50;
  for (const ClientGroup& G : groups_) {
    if (!G.in_use) continue;
    // An open loop keeps its schedule with no connection left: those messages are dropped.
    const bool scheduled = G.running && (G.mode == LoadMode::kOpen || G.mode == LoadMode::kChurn);
    if (G.attempts_left || G.st.pending || !G.members.empty() || scheduled) any = true;
    if (scheduled || (G.opt.heartbeat_ms && !G.members.empty())) interval = 1;
    // A paced ramp ticks about every 4 connects (1..10 ms): a slow ramp in each of many driver
    // processes would otherwise wake every one of them 1000 times a second for nothing.
    // An unpaced ramp refills from the round that freed its window (after_round); its tick is
    // what catches the rest (timeouts, a window that grew while nothing ended).
    if (G.attempts_left) {
      uint64_t every = G.ramp_rate > 0 ? uint64_t(4000.0 / G.ramp_rate) : 10;
      interval = std::min(interval, std::clamp<uint64_t>(every, 1, 10));
    }
  }
  if (!any) interval = 0;
  if (interval == timer_interval_) return;
  timer_interval_ = interval;
  if (interval == 0) uv_timer_stop(timer_);
  else uv_timer_start(timer_, on_uv_timer, interval, interval);
}

// Ramp: starts as many connects as the rate allows by now, with at most the window in flight
// and kConnectsPerTick per call.
void Connector::fill(size_t gi, uint64_t now_ms) {
  ClientGroup& G = groups_[gi];
  G.refill = false;
  if (!G.attempts_left) return;
  uint64_t allowed = G.attempts_left;
  if (G.ramp_rate > 0) {
    uint64_t due = uint64_t(double(now_ms - G.ramp_t0_ms + 1) * G.ramp_rate / 1000.0);
    allowed = due > G.ramp_started ? std::min(allowed, due - G.ramp_started) : 0;
  }
  allowed = std::min<uint64_t>(allowed, kConnectsPerTick);
  while (allowed-- && G.attempts_left && double(G.st.pending) < G.window) {
    G.attempts_left--;
    G.ramp_started++;
    start_connect(int(gi));
  }
}

// The end of a loop round (Loop::round calls it after its dispatches): a ramp whose connects
// ended in this round refills its window now, from the events that freed it, instead of waiting
// for the next tick. An unpaced ramp then needs no 1 ms tick: 51 driver processes woke 51,000
// times a second for it, most of them to find their windows full. Nothing above this call holds
// a slot, so connects may grow the table here.
void Connector::after_round() {
  if (!refill_) return;
  refill_ = false;
  if (!loop_.poller().is_open()) return;
  const uint64_t now_ms = uv_now(uv_);
  Loop::NoJs no_js(loop_);
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    if (groups_[gi].in_use && groups_[gi].refill) fill(gi, now_ms);
  }
}

void Connector::tick() {
  if (!loop_.poller().is_open()) return;
  const uint64_t now_ms = uv_now(uv_);
  {
    Loop::NoJs no_js(loop_);  // no JS in the middle of a tick
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      ClientGroup& G = groups_[gi];
      if (!G.in_use) continue;
      fill(gi, now_ms);
      // Connect and handshake timeouts (FIFO: each deque's entries share one timeout). An entry
      // whose connection moved on (connected, upgraded, closed, fd reused) is dropped unexamined.
      while (!G.connecting.empty() && G.connecting.front().second <= now_ms) {
        uint64_t t = G.connecting.front().first;
        G.connecting.pop_front();
        uint32_t fd = uint32_t(t);
        if (live(fd, uint32_t(t >> 32)) && conns_[fd].state == kConnecting) {
          window_update(G, true);
          fail_connect(fd, ETIMEDOUT);
        }
      }
      while (!G.upgrading.empty() && G.upgrading.front().second <= now_ms) {
        uint64_t t = G.upgrading.front().first;
        G.upgrading.pop_front();
        uint32_t fd = uint32_t(t);
        if (live(fd, uint32_t(t >> 32)) && handshaking(conns_[fd].state)) {
          // Connected, but the server never finished the TLS handshake or answered the upgrade
          // within the handshake timeout.
          G.st.err_timeout++;
          G.connect_errnos[ETIMEDOUT]++;
          window_update(G, true);
          close(fd, false);
        }
      }
      for (auto* q : {&G.connecting, &G.upgrading}) {
        while (!q->empty()) {
          uint64_t t = q->front().first;
          const uint32_t fd = uint32_t(t);
          if (live(fd, uint32_t(t >> 32)) && (q == &G.connecting ? conns_[fd].state == kConnecting : handshaking(conns_[fd].state))) break;
          q->pop_front();
        }
      }
      // Open loop and churn: message (or connection) k is due at t0 + k / rate. At each tick the
      // ones due since the last join the backlog's tail, stamped with this tick's time: the first
      // moment the driver could send them (see schedule). The backlog goes out to connections
      // with room (churn: into new connects while the window has room), and what waited longer
      // than the response timeout is given up: recorded at its wait and counted as dropped.
      while (!G.ticket_wait.empty() && G.ticket_wait.front().second <= now_ms) {
        const uint64_t t = G.ticket_wait.front().first;
        G.ticket_wait.pop_front();
        const uint32_t fd = uint32_t(t);
        if (live(fd, uint32_t(t >> 32)) && conns_[fd].churn == kChurnTicket) close(fd, false);
      }
      if (G.running && (G.mode == LoadMode::kOpen || G.mode == LoadMode::kChurn) && G.rate > 0) {
        const uint64_t t = now_us();
        schedule(G, t);
        if (G.mode == LoadMode::kOpen) open_pump(G);
        else churn_pump(gi);
        const uint64_t limit = uint64_t(G.opt.response_timeout_ms) * 1000u;
        if (t > limit) give_up_backlog(G, t - limit);
      }
      // Idle heartbeats, spread so each connection gets one per heartbeat_ms.
      if (G.opt.heartbeat_ms && !G.running && G.mode != LoadMode::kStall && !G.members.empty() && now_ms > G.hb_last_ms) {
        uint64_t n = std::max<uint64_t>(1, G.members.size() * (now_ms - G.hb_last_ms) / G.opt.heartbeat_ms);
        G.hb_last_ms = now_ms;
        for (uint64_t k = 0; k < n && !G.members.empty(); ++k) {
          uint64_t tag = G.members[G.hb_cursor++ % G.members.size()];
          uint32_t fd = uint32_t(tag);
          if (!live(fd, uint32_t(tag >> 32)) || conns_[fd].state != kReady) continue;
          uint8_t beat[8];
          size_t bn = 0;
          if (G.opt.proto == ClientProto::kStream) {
            beat[0] = 'h';
            bn = 1;
          } else if (G.opt.proto == ClientProto::kFrame) {
            memset(beat, 0, 4);  // an empty frame
            bn = 4;
          } else if (is_ws(G.opt)) {
            uint8_t mask[4] = {9, 8, 7, 6};
            bn = ws::encode_header(beat, true, ws::kPing, 0, mask);
          }
          if (bn) loop_.send_or_queue(fd, loop_.slot(fd), beat, bn);
        }
      }
      // Answers overdue by response_timeout_ms close their connection, counted (every 100 ms); the
      // messages it owed are recorded at their wait and counted as timed out. A group with nothing
      // in flight is not walked: 51 driver processes holding 1,000,000 idle connections walked
      // (and copied) all of them ten times a second, the busiest code of the ramp, and it grew
      // with every connection the ramp had already made.
      if (now_ms - last_timeout_scan_ms_ >= 100 && G.in_flight > 0) {
        const uint64_t limit = uint64_t(G.opt.response_timeout_ms) * 1000u;
        const uint64_t t = now_us();
        std::vector<uint64_t> m = G.members;
        for (uint64_t tag : m) {
          uint32_t fd = uint32_t(tag);
          if (!live(fd, uint32_t(tag >> 32))) continue;
          ClientConn& c = conns_[fd];
          if (c.ring_count && t > (c.ring[c.ring_head] & ~kStampGivenUp) + limit) {
            G.st.err_timeout++;
            give_up_ring(G, c, t, &G.st.timed_out);
            close(fd, false);
          }
        }
      }
    }
    if (now_ms - last_timeout_scan_ms_ >= 100) last_timeout_scan_ms_ = now_ms;
  }
  timer_update();
  loop_.update_activity();
}

}  // namespace c1m
