// The connector: the load side of the engine, in the same loop and the same fd table as the
// servers. Connector owns the client groups (their options, counts, latency histogram, member
// lists, connect window and open-loop schedule), each client connection's send-time ring, the
// libuv timer that paces them, and the client read path.
//
// Groups of outgoing connections are opened at a set rate (source addresses spread with
// IP_BIND_ADDRESS_NO_PORT to pass the ~28k ports per address/destination pair), then held idle
// or loaded (closed loop: `depth` messages in flight per connection; open loop: a fixed total
// rate with latency measured from the schedule, so a stalled server cannot hide its stall:
// coordinated omission corrected as in wrk2). Latency goes into a native histogram.
//
// Reading follows the core's edge-triggered rules (drain to EAGAIN or a short read, budget,
// requeue on the still-ready list). A client slot's `listener` byte holds its group's index.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "histogram.h"
#include "records.h"
#include "tls.h"

namespace c1m {

class Loop;

// What a client group speaks to its target.
enum class ClientProto : uint8_t {
  kStream = 0,      // tcp-echo: a message is msg_bytes bytes, answered by the same bytes
  kFrame = 1,       // frame-echo: 4-byte length + msg_bytes payload, answered by the same frame
  kHttp = 2,        // http-hello: GET path, pipelined `depth` deep; non-2xx counts as a protocol error
  kWsEcho = 3,      // ws-echo: masked binary messages, each answered by its echo
  kWsBroadcast = 4, // ws-broadcast: join room i % rooms; publishers send timestamped messages; all count deliveries
};

// kStall: the connections stop reading and sending (a slow consumer, or a peer that went silent:
// no pongs); only a close by the server is still noticed.
// kChurn: new connections at a fixed rate (open loop, like kOpen's messages). Each, once
// established (connected; its TLS handshake done; upgraded for WebSocket), asks once (a request,
// an echo, a frame) and is closed by the client on the answer; a ws-broadcast member, with
// nothing to ask, at its upgrade. An op is one such connection; its latency runs from when it was
// due to its answer, so a server slow to accept cannot hide behind a late connect. The group's
// held connections are left alone.
enum class LoadMode : uint8_t { kIdle = 0, kClosed = 1, kOpen = 2, kStall = 3, kChurn = 4 };

struct ClientOptions {
  ClientProto proto = ClientProto::kStream;
  std::vector<sockaddr_storage> targets;
  std::vector<sockaddr_in> sources;   // bound with IP_BIND_ADDRESS_NO_PORT; empty = kernel's choice
  uint32_t msg_bytes = 64;
  uint32_t depth = 1;
  uint32_t connect_timeout_ms = 10000;
  // WebSocket: from TCP connect to the server's 101. Longer than the connect timeout: under a
  // connect storm the server may accept long after the kernel completed the handshake.
  uint32_t handshake_timeout_ms = 30000;
  uint32_t response_timeout_ms = 10000;
  uint32_t heartbeat_ms = 0;          // idle mode: one heartbeat per connection this often
  uint32_t rooms = 1;
  uint32_t publishers = 1;
  std::string path = "/";
  std::string host = "127.0.0.1";
  // TLS (the group's context, see ClientGroup::tls): each connection's handshake runs between its
  // TCP connect and its protocol's first bytes, within handshake_timeout_ms of the connect.
};

// Counts of one group, reset at the start of each measured window (ops, bytes, errors, latency)
// or kept for the group's life (connections).
//
// Every message scheduled in a measured window ends in the latency histogram exactly once:
// answered (latency from its send time, or in the open loop from its scheduled time; also when
// the answer comes after the window ended, until finish()), or given up, recorded at the time it
// had waited so far and counted by why: `dropped` (the open loop could not send it before
// response_timeout_ms passed, or the window ended first), `timed_out` (its answer was overdue by
// response_timeout_ms: its connection is closed), `lost` (its connection closed before the
// answer came), `unanswered` (still in flight at finish()). The first three mean the contender
// fell behind: the step is flagged.
//
// `ops` counts the successful answers (an HTTP answer outside 2xx is a protocol error, not an op)
// that arrived inside the window, whenever their message left: one sent in the warm-up and
// answered in the window is work the server did in it, and one still in flight when the window
// ends is not. (A churn connection counts by when it was due, as its latency does.) So ops over
// the window is the server's throughput over the same span as its CPU, and the histogram's count
// is the window's schedule, not its answers.
//
// `err_*` are errors of any phase since the reset: a connection the server closed or broke in its
// handshake (TLS or WebSocket) counts as a read error (`closed_in_handshake` too), a TLS failure
// (an alert, a record that does not decrypt) as a protocol error with its reason in tls_errors.
struct ClientStats {
  uint64_t started = 0, established = 0, failed = 0, closed = 0, pending = 0, active = 0;
  uint64_t ops = 0, bytes_in = 0, bytes_out = 0, sent = 0, dropped = 0, timed_out = 0, lost = 0, unanswered = 0;
  uint64_t answered = 0;  // answers recorded in the latency: with the four given-up counts, the histogram's count
  uint64_t err_connect = 0, err_read = 0, err_write = 0, err_timeout = 0, err_protocol = 0, peer_closed = 0;
  // Connections the server closed or reset during their handshake (kept across resets, as `failed` is).
  uint64_t closed_in_handshake = 0;
  // TLS handshakes finished in full, resumed (the group's kept session was accepted), and failed
  // (an alert, a protocol error, the server closing or timing out mid-handshake).
  uint64_t tls_handshakes = 0, tls_resumed = 0, tls_failed = 0;
};

// Ring entries carry this bit once the message was recorded as given up (its answer, if it still
// comes, is not recorded again), or from the start when it is not to be recorded at all (a churn
// connection due outside the window). Times are µs of CLOCK_MONOTONIC, far below 2^63.
constexpr uint64_t kStampGivenUp = uint64_t(1) << 63;

struct ClientGroup {
  bool in_use = false;
  bool refill = false;
  uint64_t in_flight = 0;            // messages awaiting answers over all its connections (their rings' counts)               // a connect in flight ended this round: fill the window at its end
  ClientOptions opt;
  ClientStats st;
  Histogram hist{1, 60'000'000, 3};  // latency in µs, 1 µs .. 60 s, 3 significant digits
  std::unordered_map<int, uint64_t> connect_errnos;
  TlsContext* tls = nullptr;         // TLS: the group's client context (owned), with its kept session
  std::unordered_map<std::string, uint64_t> tls_errors;  // failed TLS handshakes by OpenSSL's reason
  std::vector<uint64_t> members;     // established connections (tags)
  std::vector<uint64_t> pubs;        // ws-broadcast publishers (tags)
  std::deque<std::pair<uint64_t, uint64_t>> connecting;  // (tag, deadline ms)
  std::deque<std::pair<uint64_t, uint64_t>> upgrading;   // WebSocket handshakes: (tag, deadline ms)
  std::deque<std::pair<uint64_t, uint64_t>> ticket_wait; // churn over TLS: connections waiting for a session ticket (tag, deadline ms)
  // Connects in flight are capped by a window that grows with each one established and halves
  // when the server's kernel drops them (see Connector::window_update): a ramp faster than the
  // server answers would otherwise queue handshakes until they time out, and every timed-out one
  // is work the server did for nothing.
  double window = 0;
  uint64_t window_cut_ms = 0;        // last decrease (at most one per window_hold)
  uint64_t window_min = 0;           // smallest the window got in this group's life (reported)
  uint64_t attempts_left = 0;        // ramp: connects still to start
  double ramp_rate = 0;              // connections/s; 0 = as fast as pending allows
  uint64_t ramp_t0_ms = 0, ramp_started = 0;
  LoadMode mode = LoadMode::kIdle;
  bool running = false;
  bool recording = false;            // answers of messages scheduled since window_t0_us are recorded (reset .. finish)
  bool window_open = false;          // answers count as ops (reset .. stop)
  double rate = 0;                   // open loop: messages/s
  uint64_t run_t0_us = 0, open_sent = 0;
  uint64_t window_t0_us = 0;         // start of the measured window: only messages scheduled since count
  // Open loop: scheduled times of messages no connection could take yet (every ring full, or
  // none ready). Sent first, with their own schedule, as answers free room; given up (recorded,
  // counted as dropped) once older than response_timeout_ms.
  std::deque<uint64_t> backlog;
  size_t rr = 0, hb_cursor = 0;
  uint64_t hb_last_ms = 0;
  uint64_t seq = 0;                  // establishment counter (ClientConn::index)
};

namespace internal {

// Per client connection (indexed by fd): send times of the messages in flight.
struct ClientConn {
  uint64_t* ring = nullptr;  // send (or intended) times in µs, oldest first; allocated while loaded
  uint32_t ring_cap = 0, ring_head = 0, ring_count = 0;
  uint32_t member = 0;       // index in the group's member list
  uint32_t rx = 0;           // bytes of the current answer received (stream, frame)
  uint8_t hdr[4] = {};       // frame header bytes of the current answer
  uint8_t state = 0;         // 0 connecting, 1 WebSocket handshake, 2 ready, 3 TLS handshake
  bool publisher = false;
  bool syn_dropped = false;  // its SYN was retransmitted (see Connector::syn_retransmitted): the window halves when it is ready
  bool heard = false;        // a byte of plaintext came from the server (see Connector::peer_ended)
  uint32_t t0_ms = 0;        // when its connect started (low 32 bits of uv_now)
  uint32_t due_us = 0;       // churn: when it was due (low 32 bits of now_us; latencies are far below 71 minutes)
  uint8_t churn = 0;         // churn: closed once established (1), its latency recorded too (2: due in the measured window)
  uint32_t index = 0;        // order of establishment within the group (room, publisher role)
};

}  // namespace internal

class Connector {
 public:
  explicit Connector(Loop& loop) : loop_(loop) {}
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // ---- Groups (the addon calls these) ----

  // Creates a client group; returns its index or -errno (-EMFILE when 256 are in use). tls: a
  // client context (Tls::client_context) its connections speak TLS with, or nullptr; it is the
  // group's from here on, freed on failure too.
  int open_group(ClientOptions opt, TlsContext* tls = nullptr);
  // Grows the group to `target` connections at `rate` new ones per second (0: unpaced), or
  // closes the newest ones down to it. Returns false for an unknown group.
  bool ramp(int g, uint64_t target, double rate);
  // Starts the load on every connection (and on each one established later).
  bool run(int g, LoadMode mode, double rate);
  // Starts a measured window: ops, bytes, errors and the histogram restart from zero.
  bool reset(int g);
  // Ends the measured window: no new messages, no more ops. Answers still in flight are still
  // recorded in the latency (until finish), the open loop's unsent backlog is dropped, and churn
  // connections still due are given up.
  bool stop(int g);
  // Gives up every message of the window still in flight (recorded at what it waited, counted as
  // unanswered) and ends the recording. stop() comes first; stop() then finish() at once is the
  // window with no grace for late answers.
  bool finish(int g);
  // Closes every connection of the group and frees it.
  bool close_group(int g);
  // The group, or nullptr.
  const ClientGroup* group(int g) const;

  // ---- For the core ----

  // Creates the pacing timer on `uv`, unreferenced (open client sockets keep Node alive instead).
  void init(uv_loop_t* uv);
  // Hands the pacing timer over to be closed (Loop::shutdown); nullptr when there is none.
  uv_timer_t* release_handle();
  // Frees every send-time ring and TLS context (the engine is shutting down; the core closes the
  // sockets and their TLS sessions first).
  void release_rings();
  // Readiness of a client slot, as the poller reported it.
  void on_ready(uint32_t fd, uint32_t events);
  // Reads a client connection until EAGAIN, a short read or its budget (the still-ready list
  // comes back here).
  void read(uint32_t fd);
  // What the client gathered for connection fd (the generation the caller saw) leaves now, if it
  // is still open: the core calls it when it is done with a client slot's readiness.
  void send_gathered(uint32_t fd, uint32_t gen);
  // The core's write path failed on a client socket (why: the close reason it would have used):
  // the connection is closed and counted as the group's.
  void close_on_error(uint32_t fd, CloseReason why);
  // The end of a loop round: ramps whose connects ended in it refill their windows.
  void after_round();
  // A client connection's TLS handshake finished (Loop::tls_established): counted, then its
  // protocol starts (a WebSocket upgrade, or it is established). It may close the connection.
  void tls_ready(uint32_t fd);
  // Its TLS failed (why: OpenSSL's reason): counted by reason and closed.
  void tls_failed(uint32_t fd, const char* why);
  // Open client sockets: they keep Node alive like servers do.
  uint64_t open_fds() const { return open_fds_; }
  // Heap bytes of the groups and the per-connection state, in malloc chunks.
  uint64_t memory_bytes() const;

 private:
  bool live(uint32_t fd, uint32_t gen) const;
  bool start_connect(int g);
  void connected(uint32_t fd);
  bool upgrade_now(uint32_t fd);
  std::string upgrade_request(const ClientGroup& G, internal::ClientConn& c);
  void begin_handshake(uint32_t fd, ClientGroup& G, size_t request_bytes);
  void ready(uint32_t fd);
  void fail_connect(uint32_t fd, int err);
  void window_update(ClientGroup& G, bool dropped);
  void peer_ended(uint32_t fd);  // the server closed fd: a handshake it had not finished halves the window
  bool syn_retransmitted(uint32_t fd) const;
  bool receive(uint32_t fd, uint8_t* p, size_t n);
  bool receive_unit(uint32_t fd, ClientGroup& G, const uint8_t* p, size_t n, size_t* used);
  bool answer(uint32_t fd, ClientGroup& G, uint64_t stamp_us, bool ok = true);
  bool send(uint32_t fd, ClientGroup& G, internal::ClientConn& c, uint64_t stamp_us, bool track);
  void kick(uint32_t fd, ClientGroup& G);
  void open_pump(ClientGroup& G);
  void schedule(ClientGroup& G, uint64_t t);
  void churn_pump(size_t gi);
  void churn_done(uint32_t fd, ClientGroup& G);
  void churn_lost(uint32_t fd, ClientGroup& G);
  void give_up(ClientGroup& G, uint64_t stamp_us, uint64_t now, uint64_t* counter);
  void give_up_backlog(ClientGroup& G, uint64_t older_than_us);
  uint64_t give_up_ring(ClientGroup& G, internal::ClientConn& c, uint64_t now, uint64_t* counter);
  void close(uint32_t fd, bool peer_closed);
  static void on_uv_timer(uv_timer_t* h);
  void tick();
  void fill(size_t gi, uint64_t now_ms);
  // A connect of G ended: its ramp refills at the end of the round (after_round).
  void want_refill(ClientGroup& G) {
    if (G.attempts_left) G.refill = refill_ = true;
  }
  void timer_update();
  static uint64_t now_us();

  Loop& loop_;
  uv_loop_t* uv_ = nullptr;
  uv_timer_t* timer_ = nullptr;      // pacing: ramps, open loop, heartbeats, timeouts
  uint64_t timer_interval_ = 0;
  bool refill_ = false;              // some group's refill is set
  std::vector<ClientGroup> groups_;
  std::vector<internal::ClientConn> conns_;  // indexed by fd, for client slots
  uint64_t last_timeout_scan_ms_ = 0;
  uint64_t open_fds_ = 0;            // open client sockets (they keep the loop alive like servers)
  uint32_t mask_seed_ = 0x9e3779b9u; // WebSocket client masks (xorshift; unpredictability is not a goal here)
};

}  // namespace c1m
