// The engine core (loop.h says what it owns): what readiness means for each kind of slot, the
// budgets that keep one busy peer from starving the rest, reading, writing, ending and closing a
// connection, and the batches that carry events into JS.
//
// The edge-triggered rule, kept here because every function below depends on it: a socket is
// registered once (Poller::add_socket: EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET) and never modified, so
// the kernel reports each transition once. After an edge we must read (or accept) until EAGAIN, or
// until a short read shows the receive queue is empty (epoll(7) allows that inference for stream
// sockets), or until the per-round budget runs out; in that last case the connection goes on the
// still-ready list and is served next round, because no new edge will come for bytes that are
// already waiting. Writes go until EAGAIN; the rest is queued and flushed on the next EPOLLOUT
// edge, which the kernel raises when the send buffer has room again.
#include "loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "proto/http.h"

namespace c1m {

using internal::tag_of;

namespace {

constexpr int kEventsPerWait = 1024;
constexpr int kWaitsPerRound = 8;        // then libuv gets a turn (timers, other I/O, JS)
constexpr int kAcceptsPerRound = 512;    // per listener per round
constexpr uint64_t kFdReserve = 32;       // fds kept free for the process itself (see fd_cap_)
constexpr size_t kMaxRecv = 256u << 10;  // bytes asked of one recv into the arena
constexpr size_t kMinArenaSpace = 64u << 10;
constexpr uint32_t kMetaPerUnit = kReqFixedWords + 4 * http::kMaxHeaders;  // the largest request descriptor
constexpr int kDispatchesPerRound = 16;
constexpr size_t kInGrowStep = 16u << 10;  // a pending unit's buffer: at most what arrived + this, or twice what arrived


inline CloseReason reason_for(int err) {
  return (err == ECONNRESET || err == EPIPE) ? kCloseReset : kCloseError;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Setup and teardown

int Loop::init(uv_loop_t* uv, const Views& views, JsHooks hooks) {
  uv_ = uv;
  v_ = views;
  hooks_ = hooks;
  int r = poller_.open();
  if (r < 0) return r;
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  scratch_ = static_cast<uint8_t*>(malloc(kScratchBytes));
  if (!scratch_) return -ENOMEM;
  // Listener indices are stored in one byte per slot; reserving them all up front also means a
  // listen() from inside a JS callback never moves a Listener a caller holds a reference to.
  listeners_.reserve(256);
  // Reserve the table up to the fd limit: the pages stay untouched (not RSS) until a slot is
  // used, so growth costs exactly one slot per fd, with no reallocation that would copy the
  // table or leave a doubled, half-empty one behind.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    table_.reserve(std::min<size_t>(size_t(nofile.rlim_cur), size_t(1) << 24));
    fd_cap_ = nofile.rlim_cur - std::min<uint64_t>(kFdReserve, nofile.rlim_cur / 16);
  }
  table_.resize(1024);
  poll_ = new uv_poll_t;
  poll_->data = this;
  r = uv_poll_init(uv, poll_, poller_.watch_fd());
  if (r != 0) return r;
  uv_poll_start(poll_, UV_READABLE, on_poll);
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  idle_ = new uv_idle_t;
  idle_->data = this;
  uv_idle_init(uv, idle_);
  turn_check_ = new uv_check_t;
  turn_check_->data = this;
  uv_check_init(uv, turn_check_);
  uv_check_start(turn_check_, on_turn);
  uv_unref(reinterpret_cast<uv_handle_t*>(turn_check_));
  idle_seen_ = uv_metrics_idle_time(uv);
  timers_.init(uv);
  connector_.init(uv);
  return 0;
}

namespace {
struct ShutdownState {
  int pending;
  void (*done)(void*);
  void* arg;
};
void on_handle_closed(uv_handle_t* h) {
  auto* st = static_cast<ShutdownState*>(h->data);
  if (h->type == UV_POLL) delete reinterpret_cast<uv_poll_t*>(h);
  else if (h->type == UV_TIMER) delete reinterpret_cast<uv_timer_t*>(h);
  else if (h->type == UV_PREPARE) delete reinterpret_cast<uv_prepare_t*>(h);
  else if (h->type == UV_CHECK) delete reinterpret_cast<uv_check_t*>(h);
  else delete reinterpret_cast<uv_idle_t*>(h);
  if (--st->pending == 0) {
    st->done(st->arg);
    delete st;
  }
}
}  // namespace

void Loop::shutdown(void (*done)(void*), void* arg) {
  // The ring first: its close cancels and waits for every request, so no send still reads a
  // buffer freed below.
  uring_.close();
  for (auto& [tag, b] : orphans_) bytebuf_free(b);
  orphans_.clear();
  for (int fd : closing_fds_) ::close(fd);
  closing_fds_.clear();
  for (size_t fd = 0; fd < table_.size(); ++fd) {
    Slot& s = table_[fd];
    if (s.kind == SlotKind::kFree) continue;
    bytebuf_free(s.in);
    bytebuf_free(s.out);
    tls_.close(uint32_t(fd));
    ::close(int(fd));
    s = Slot{};
  }
  for (Listener& L : listeners_) {
    Tls::context_free(L.tls);
    L.tls = nullptr;
  }
  free(tls_rx_);
  tls_rx_ = nullptr;
  for (ByteBuf* b : cork_pool_) bytebuf_free(b);
  cork_pool_.clear();
  corked_.clear();
  protocols_.release_all();
  poller_.close();
  if (spare_fd_ >= 0) ::close(spare_fd_);
  spare_fd_ = -1;
  free(scratch_);
  scratch_ = nullptr;
  auto* st = new ShutdownState{0, done, arg};
  // uv_close stops an active handle first; each closed handle counts down to `done`.
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(poll_), reinterpret_cast<uv_handle_t*>(ring_poll_),
                         reinterpret_cast<uv_handle_t*>(submit_prep_), reinterpret_cast<uv_handle_t*>(idle_),
                         reinterpret_cast<uv_handle_t*>(turn_check_),
                         reinterpret_cast<uv_handle_t*>(timers_.release_handle()),
                         reinterpret_cast<uv_handle_t*>(connector_.release_handle())}) {
    if (!h) continue;
    h->data = st;
    st->pending++;
    uv_close(h, on_handle_closed);
  }
  poll_ = nullptr;
  ring_poll_ = nullptr;
  submit_prep_ = nullptr;
  idle_ = nullptr;
  turn_check_ = nullptr;
  connector_.release_rings();
  if (st->pending == 0) {
    done(arg);
    delete st;
  }
}

bool Loop::grow_table(size_t fd) {
  if (fd < table_.size()) return true;
  // Within the reserved capacity, grow to just past this fd (fds are allocated lowest-first);
  // beyond it (the limit was raised at run time), double.
  size_t n = fd + 1 <= table_.capacity() ? std::min(table_.capacity(), fd + 1024) : std::max(fd + 1, table_.size() * 2);
  table_.resize(n);
  return true;
}

Slot* Loop::slot_for(uint32_t fd, uint32_t gen) {
  if (fd >= table_.size()) return nullptr;
  Slot& s = table_[fd];
  if (s.kind == SlotKind::kFree || s.gen != gen) return nullptr;
  return &s;
}

void Loop::queued_add(int64_t delta) {
  Counters& c = *v_.counters;
  c.queuedBytes = uint64_t(int64_t(c.queuedBytes) + delta);
  if (c.queuedBytes > c.queuedBytesPeak) c.queuedBytesPeak = c.queuedBytes;
}

void Loop::account_memory() {
  // Each container is counted by what malloc gives it (heap_chunk), the same unit as mallinfo2.
  auto vec = [](size_t bytes) { return heap_chunk(bytes); };
  uint64_t b = table_.size() * sizeof(Slot) + uint64_t(std::max<int64_t>(mem_bufs_, 0));
  b += vec(listeners_.capacity() * sizeof(Listener)) + vec(ready_.capacity() * 8) + vec(serving_.capacity() * 8) +
       vec(deferred_.capacity() * 4) + vec(compose_.capacity());
  // The parts: protocol state, topics, the timer wheels, the connector's groups and rings.
  b += protocols_.memory_bytes() + topics_.memory_bytes() + timers_.memory_bytes() + connector_.memory_bytes();
  // TLS: the per-fd table, the sink and the ciphertext read buffer (OpenSSL's own allocations go
  // through its allocator and are not counted here).
  b += tls_.memory_bytes() + (tls_rx_ ? heap_chunk(kTlsRxBytes) : 0);
  // The io_uring backend: its receive buffers and buffer ring (mmap'd), per-fd state, and the
  // table of send buffers still in flight for closed connections.
  b += uring_.memory_bytes() + vec(touched_.capacity() * 8) + orphans_.size() * 48;
  v_.counters->engineBytes = b;
  v_.counters->topics = topics_.live_count();
  // libuv's epoll_pwait calls: one per turn of its loop, and a second in a turn whose poll
  // blocked. Node has libuv measure the loop's idle time (for eventLoopUtilization), and then a
  // poll with a timeout first looks with timeout 0 and waits only if that found nothing; the
  // idle time grows in just those turns (on_turn).
  uv_metrics_t m;
  if (uv_ && uv_metrics_info(uv_, &m) == 0) v_.counters->loopWaits = m.loop_count + blocked_turns_;
}

void Loop::on_turn(uv_check_t* h) {
  Loop* L = static_cast<Loop*>(h->data);
  const uint64_t idle = uv_metrics_idle_time(L->uv_);
  if (idle != L->idle_seen_) {
    L->idle_seen_ = idle;
    L->blocked_turns_++;
  }
}

// The poll handle keeps Node alive only while something is open; the idle handle runs only
// while there is work that no edge will announce (still-ready connections, pending records).
void Loop::update_activity() {
  if (!poll_) return;
  const Counters& c = *v_.counters;
  bool want_ref = c.active > 0 || c.listeners > 0 || connector_.open_fds() > 0;
  if (want_ref != ref_on_) {
    if (want_ref) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    ref_on_ = want_ref;
  }
  uring_kick();
  bool want_idle = !ready_.empty() || nrec_ > 0 || !deferred_.empty();
  if (want_idle != idle_on_) {
    if (want_idle) uv_idle_start(idle_, on_idle);
    else uv_idle_stop(idle_);
    idle_on_ = want_idle;
  }
}

// ---------------------------------------------------------------------------------------------
// Listeners

int Loop::listen(const char* host, int port, const ListenOptions& opt, int* bound_port, TlsContext* tls) {
  // Every failure below gives the context back.
  struct Owned {
    TlsContext* c;
    ~Owned() { Tls::context_free(c); }
  } owned{tls};
  int index = -1;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (!listeners_[i].in_use) {
      index = int(i);
      break;
    }
  }
  if (index < 0) {
    if (listeners_.size() >= 256) return -EMFILE;
    listeners_.emplace_back();
    index = int(listeners_.size() - 1);
  }

  sockaddr_storage ss{};
  socklen_t sl;
  int family;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    family = a4->sin_family = AF_INET;
    a4->sin_port = htons(uint16_t(port));
    sl = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    family = a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(uint16_t(port));
    sl = sizeof(sockaddr_in6);
  } else {
    return -EINVAL;
  }

  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (opt.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  if (family == AF_INET6 && opt.ipv6_only) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from the listener: one setsockopt here instead of one
  // per connection (accept_all checks the first accepted socket and falls back if not).
  if (opt.no_delay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 || ::listen(fd, opt.backlog) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  sockaddr_storage got{};
  socklen_t gl = sizeof got;
  getsockname(fd, reinterpret_cast<sockaddr*>(&got), &gl);
  *bound_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);

  grow_table(size_t(fd));
  Slot& s = table_[fd];
  s.kind = SlotKind::kListener;
  s.listener = uint8_t(index);
  s.flags = 0;
  // A listener is edge-triggered too: accept until EAGAIN or the budget (accept_all). Under
  // io_uring it has one multishot accept instead, re-armed whenever it ends.
  int r = 0;
  if (opt.uring) {
    r = uring_open();
    if (r == 0) {
      uring_.reserve(size_t(fd));
      uring_conns_ = std::max(uring_conns_, size_t(fd) + 1);
      s.flags = kFlagUring;
      uring_.arm_accept(fd, tag_of(uint32_t(fd), s.gen));
    }
  } else {
    r = poller_.add_listener(fd, tag_of(uint32_t(fd), s.gen));
  }
  if (r < 0) {
    ::close(fd);
    s = Slot{.gen = (s.gen + 1) & kGenMask};
    return r;
  }
  Listener& L = listeners_[size_t(index)];
  L = Listener{};
  L.fd = fd;
  L.in_use = true;
  L.opt = opt;
  L.tls = owned.c;
  owned.c = nullptr;
  v_.counters->listeners++;
  update_activity();
  return index;
}

int64_t Loop::close_listener(int index, bool graceful) {
  if (index < 0 || size_t(index) >= listeners_.size()) return -1;
  Listener& L = listeners_[size_t(index)];
  if (!L.in_use || L.drained) return -1;
  // A second, forced call closes what a graceful drain left open (the drain timed out).
  if (L.closing && graceful) return 0;
  L.closing = true;
  if (L.fd >= 0) {
    Slot& ls = table_[size_t(L.fd)];
    // The armed accept holds the socket open: cancelled, it lets go (its completion is stale).
    const bool ring = ls.flags & kFlagUring;
    if (ring) uring_.cancel(UringBackend::make_tag(UringBackend::kOpAccept, tag_of(uint32_t(L.fd), ls.gen)));
    ls.kind = SlotKind::kFree;
    ls.flags = 0;
    ls.gen = (ls.gen + 1) & kGenMask;
    // A listener whose accept is not even submitted yet is closed after it is (uring_submit).
    if (ring && uring_.names_fd(uint32_t(L.fd))) closing_fds_.push_back(L.fd);
    else ::close(L.fd);
    L.fd = -1;
    v_.counters->listeners--;
    // Its connections keep OpenSSL's reference to the context as long as they need it.
    Tls::context_free(L.tls);
    L.tls = nullptr;
  }
  int64_t cut = 0;
  for (size_t fd = 0; fd < table_.size(); ++fd) {
    Slot& s = table_[fd];
    if (s.kind != SlotKind::kConn || s.listener != index) continue;
    if (graceful) {
      drain_conn(uint32_t(fd));
    } else {
      if ((s.flags & kFlagCorked) && !flush_cork(uint32_t(fd))) continue;
      if (table_[fd].kind == SlotKind::kConn) close_conn(uint32_t(fd), kCloseLocal, 0);
      cut++;
    }
  }
  v_.counters->drainCut += uint64_t(cut);
  listener_drained_check(uint8_t(index));
  update_activity();
  // A listener's close is not left to the round's end: its fds are gone when the call returns,
  // as under epoll (JS may call it from a callback and count fds before the round ends).
  uring_submit();
  return cut;
}

// Once a closing listener's last connection is gone, JS hears it (kRecListenerDrained). The
// index stays taken until that record has been dispatched (see dispatch): a listen() made
// before JS saw it must not be handed the same index, or the record would detach the new server.
void Loop::listener_drained_check(uint8_t index) {
  Listener& L = listeners_[index];
  if (!L.in_use || !L.closing || L.drained || L.active != 0) return;
  L.drained = true;
  drained_pending_++;
  emit(kRecListenerDrained, index, index, 0, 0, 0);
}

void Loop::accept_all(uint32_t lfd) {
  const uint32_t lgen = table_[lfd].gen;
  const uint8_t index = table_[lfd].listener;
  for (int i = 0; i < kAcceptsPerRound; ++i) {
    // A JS callback (run when a full batch is dispatched) may have closed this listener.
    if (lfd >= table_.size() || table_[lfd].kind != SlotKind::kListener || table_[lfd].gen != lgen) return;
    int cfd = ::accept4(int(lfd), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      if (e == EMFILE || e == ENFILE) {
        // Out of fds: give back the spare, accept and drop one pending connection, take the
        // spare again. The backlog shrinks instead of the listener staying readable forever.
        v_.counters->errEmfile++;
        if (spare_fd_ >= 0) {
          ::close(spare_fd_);
          int x = ::accept4(int(lfd), nullptr, nullptr, SOCK_CLOEXEC);
          const int xe = errno;
          if (x >= 0) ::close(x);
          spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          if (x >= 0) continue;
          if (xe == EAGAIN || xe == EWOULDBLOCK) return;  // the backlog is empty: the edge is consumed
        }
        // No spare, or the re-accept failed: connections may still wait, and no new edge will
        // come for them. Try again next round.
        v_.counters->budgetRequeues++;
        push_ready(lfd);
        return;
      }
      // Any other failure (ENOBUFS, ENOMEM, EPERM from a firewall, EPROTO): the backlog may still
      // hold connections that no new edge will announce, so the listener is served again next round.
      v_.counters->errAccept++;
      push_ready(lfd);
      return;
    }
    take_conn(index, cfd);
  }
  // Budget spent with the backlog possibly non-empty: no new edge will come for it.
  v_.counters->budgetRequeues++;
  push_ready(lfd);
}

// A connection accepted on listener `index` (by accept4 or a multishot accept) becomes a slot:
// registered with epoll, or given a multishot receive on the ring. False when it was refused.
bool Loop::take_conn(uint8_t index, int cfd) {
  if (uint64_t(cfd) >= fd_cap_) {
    // Into the fds the process keeps for itself: refused like EMFILE, before it is ours.
    ::close(cfd);
    v_.counters->errEmfile++;
    return false;
  }
  Listener& L = listeners_[index];
  if (L.opt.no_delay && L.no_delay_inherited != 1) {
    int on = 0;
    socklen_t ol = sizeof on;
    if (L.no_delay_inherited < 0) {
      L.no_delay_inherited = getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, &ol) == 0 && on ? 1 : 0;
    }
    if (!L.no_delay_inherited) {
      int one = 1;
      setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  grow_table(size_t(cfd));
  Slot& s = table_[size_t(cfd)];
  s.kind = SlotKind::kConn;
  s.listener = index;
  s.flags = 0;
  s.in = s.out = nullptr;
  if (L.tls && tls_.open(uint32_t(cfd), L.tls) < 0) {
    ::close(cfd);
    s.kind = SlotKind::kFree;
    s.gen = (s.gen + 1) & kGenMask;
    v_.counters->errNoMemory++;
    return false;
  }
  if (L.opt.uring) {
    // A multishot receive: its first attempt reads what arrived with the handshake.
    uring_.reserve(size_t(cfd));
    uring_conns_ = std::max(uring_conns_, size_t(cfd) + 1);
    uring_.conn(uint32_t(cfd)) = UringBackend::Conn{};
    s.flags = kFlagUring;
    uring_.arm_recv(cfd, tag_of(uint32_t(cfd), s.gen));
  } else if (poller_.add_socket(cfd, tag_of(uint32_t(cfd), s.gen)) < 0) {
    // Registration reports readiness that already exists, so bytes that arrived with the
    // handshake are not missed.
    tls_.close(uint32_t(cfd));
    ::close(cfd);
    s.kind = SlotKind::kFree;
    s.gen = (s.gen + 1) & kGenMask;
    v_.counters->errAccept++;
    return false;
  }
  v_.counters->accepted++;
  v_.counters->active++;
  L.active++;
  timers_.on_accept(uint32_t(cfd), L);
  if (L.tls) {
    // JS hears of it once its handshake is done (tls_established); until then the deadline wheel
    // holds its handshake timeout.
    s.flags |= kFlagTls | kFlagTlsHandshake;
    if (L.opt.tls_handshake_timeout_ms) timers_.deadline_arm(uint32_t(cfd), L.opt.tls_handshake_timeout_ms);
    return true;
  }
  if (L.is_js()) emit(kRecOpen, index, uint32_t(cfd), s.gen, 0, 0);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The rounds: drain the readiness source, serve the still-ready list, hand records to JS.

// libuv reported the readiness source readable: a round that waits on it.
void Loop::on_poll(uv_poll_t* h, int status, int) {
  if (status < 0) return;
  static_cast<Loop*>(h->data)->round(true);
}

// Work no edge will announce (the still-ready list, records still to hand over): a round that
// does not wait. The idle handle makes libuv's poll in this same iteration non-blocking, and when
// the readiness source has events that poll reports it and on_poll runs the waiting round, so
// nothing starves; waiting here too would cost one epoll_wait per requeue that finds nothing (a
// 1 MiB echo cut by the 256 KiB budget made four of them per message).
void Loop::on_idle(uv_idle_t* h) { static_cast<Loop*>(h->data)->round(false); }

void Loop::round(bool wait) {
  if (!poller_.is_open()) return;
  round_body(wait);
  // Under io_uring, what the round queued (sends, receives re-armed, cancels) goes to the kernel
  // in one io_uring_enter, after the cork has turned each connection's output into one send.
  uring_submit();
}

void Loop::round_body(bool wait) {
  // Everything the round produces for one connection leaves in one send when it ends (see Cork).
  Cork cork(*this);
  in_round_ = true;
  v_.counters->rounds++;
  // Completions first (no syscall: the ring is shared memory); connections that received are
  // read as each batch is taken, so few buffers are held at once.
  if (uring_.is_open()) uring_reap();
  serving_.swap(ready_);
  // One wait per round unless it filled the event array: a short batch means the source was
  // drained, and asking again would only return what arrived since (libuv's next poll sees it).
  for (int w = 0; wait && w < kWaitsPerRound; ++w) {
    int n = poller_.wait(events_, kEventsPerWait);
    v_.counters->epollWaits++;
    if (n <= 0) break;
    v_.counters->events += uint64_t(n);
    for (int i = 0; i < n; ++i) serve_event(events_[i]);
    if (n < kEventsPerWait) break;
  }
  for (uint64_t e : serving_) {
    uint32_t fd = uint32_t(e), gen = uint32_t(e >> 32);
    Slot* s = slot_for(fd, gen);
    if (!s) continue;
    s->flags &= ~kFlagInReady;
    slot_ready(fd, *s, kReadyAgain);
  }
  serving_.clear();
  for (int i = 0; i < kDispatchesPerRound && (nrec_ > 0 || !deferred_.empty()); ++i) dispatch();
  protocols_.reap_doomed();
  for (int i = 0; i < kDispatchesPerRound && (nrec_ > 0 || !deferred_.empty()); ++i) dispatch();
  in_round_ = false;
  connector_.after_round();
  update_activity();
  timers_.schedule();
}

// A round the libuv timer starts instead of readiness: the wheels fire, then the records their
// closes raised go to JS.
void Loop::timer_round() {
  if (!poller_.is_open()) return;
  timer_round_body();
  uring_submit();
}

void Loop::timer_round_body() {
  Cork cork(*this);
  in_round_ = true;
  // No JS while the wheels fire: records raised by closes wait in the deferred list, so no
  // callback can touch a wheel in the middle of advance().
  const bool saved = in_ops_;
  in_ops_ = true;
  timers_.expire(uv_now(uv_));
  in_ops_ = saved;
  for (int i = 0; i < 16 && (nrec_ > 0 || !deferred_.empty()); ++i) dispatch();
  in_round_ = false;
  update_activity();
  timers_.schedule();
}

// ---------------------------------------------------------------------------------------------
// The dispatcher: what a ready slot means, by its kind. The one place that knows every kind of
// slot and which part handles it (uSockets' loop.c keeps the same switch).

void Loop::serve_event(const Poller::Event& ev) {
  const uint64_t tag = Poller::event_tag(ev);
  uint32_t fd = uint32_t(tag), gen = uint32_t(tag >> 32);
  Slot* s = slot_for(fd, gen);
  if (!s) return;  // closed (and perhaps reused) earlier in this batch of events
  slot_ready(fd, *s, Poller::event_bits(ev));
}

// A live slot is ready: `events` are the ReadyBits the poller reported, or kReadyAgain for its
// turn on the still-ready list (its budget cut it off last round and no new edge will come, so
// it is read on).
void Loop::slot_ready(uint32_t fd, Slot& s, uint32_t events) {
  switch (s.kind) {
    case SlotKind::kListener:
      accept_all(fd);
      return;
    case SlotKind::kConn:
      if (events == kReadyAgain) read_conn(fd);
      else conn_ready(fd, s, events);
      return;
    case SlotKind::kClient: {
      const uint32_t gen = s.gen;
      if (events == kReadyAgain) connector_.read(fd);
      else connector_.on_ready(fd, events);
      connector_.send_gathered(fd, gen);
      return;
    }
    case SlotKind::kFree:
      return;
  }
}

// A server connection's readiness: note a hang-up, surface an error a paused connection would
// never read, flush on a writable edge, then read.
void Loop::conn_ready(uint32_t fd, Slot& s, uint32_t e) {
  const uint32_t gen = s.gen;
  if (e & (kReadyPeerEnd | kReadyHup)) s.flags |= kFlagRdHup;
  if ((e & kReadyError) && (s.flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe))) {
    // Paused connections are not read, so the error would never surface through recv.
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(int(fd), SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
      close_conn(fd, reason_for(err), err);
      return;
    }
  }
  // A writable edge flushes a real queue; gathered output leaves when the round's cork ends.
  if ((e & kReadyOut) && s.out && !(s.flags & kFlagCorked)) {
    flush_out(fd);
    if (!live(fd, gen)) return;
  }
  if (e & (kReadyIn | kReadyPeerEnd | kReadyHup | kReadyError)) read_conn(fd);
}

// A server connection is read by its listener's protocol.
void Loop::read_conn(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.flags & kFlagLinger) {
    read_discard(fd);
    return;
  }
  if (s.flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe | kFlagPeerEnded | kFlagDoomed | kFlagHttpLast)) return;
  const Listener& L = listeners_[s.listener];
  switch (L.opt.proto) {
    case Proto::kEcho: read_echo(fd, s, L); break;
    case Proto::kRaw: read_raw(fd); break;
    case Proto::kFrame:
    case Proto::kFrameEcho:
    case Proto::kHttp:
    case Proto::kHttpStatic: read_units(fd); break;
  }
}

void Loop::push_ready(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.flags & kFlagInReady) return;
  s.flags |= kFlagInReady;
  ready_.push_back(tag_of(fd, s.gen));
}

// ---------------------------------------------------------------------------------------------
// Reading

// A read loop's recv returned n <= 0: the peer ended (EOF), the socket ran dry (EAGAIN: the
// edge is consumed), or it failed (closed, counted). True only for EINTR: read again.
bool Loop::recv_ended(uint32_t fd, ssize_t n) {
  if (n == 0) {
    on_peer_end(fd);
    return false;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    v_.counters->eagainReads++;
    return false;
  }
  if (errno == EINTR) return true;
  v_.counters->errRead++;
  close_conn(fd, reason_for(errno), errno);
  return false;
}

// After a read that may not have drained the socket: once a connection has had its share of
// the round, it goes on the ready list (no new edge will come for what is left) and true.
bool Loop::read_budget_spent(uint32_t fd, size_t got, const Listener& L) {
  if (got < L.opt.read_budget) return false;
  v_.counters->budgetRequeues++;
  push_ready(fd);
  return true;
}

// Native echo: recv into one scratch buffer and send it straight back; no JS, no records.
void Loop::read_echo(uint32_t fd, Slot& s, const Listener& L) {
  size_t got = 0;
  for (;;) {
    ssize_t n = conn_recv(fd, scratch_, kScratchBytes);
    if (n > 0) {
      v_.counters->bytesIn += uint64_t(n);
      got += size_t(n);
      timers_.on_activity(fd, L);
      int64_t q = send_or_queue(fd, s, scratch_, size_t(n));
      if (q < 0) return;
      if (uint64_t(q) > L.opt.high_water) {
        // The peer is not reading its echoes: stop reading it until the queue drains.
        s.flags |= kFlagPausedBp;
        v_.counters->pausedReads++;
        return;
      }
      if (size_t(n) < kScratchBytes && !(s.flags & kFlagRdHup)) return;  // drained
      if (read_budget_spent(fd, got, L)) return;
      continue;
    }
    if (recv_ended(fd, n)) continue;
    return;
  }
}

// Makes room for `recs` records, `bytes` of arena and `meta` descriptor words, dispatching the
// current batch if needed.
bool Loop::ensure_room(uint32_t recs, size_t bytes, uint32_t meta) {
  for (int i = 0; i < 4; ++i) {
    if (deferred_.empty() && nrec_ + recs <= v_.record_cap && v_.arena_cap - arena_used_ >= bytes &&
        v_.meta_cap - meta_used_ >= meta)
      return true;
    if (!in_round_ || in_dispatch_ || in_ops_) return false;
    dispatch();
  }
  return false;
}

// Raw bytes to JS: recv straight into the shared arena, one DATA record per recv.
void Loop::read_raw(uint32_t fd) {
  const uint32_t gen = table_[fd].gen;
  size_t got = 0;
  for (;;) {
    // A read that finishes a TLS handshake emits the open record before the data's: room for both,
    // or the data record would find the batch full and dispatch, and the arena bytes it names
    // would be written over by the next read.
    const uint32_t recs = (table_[fd].flags & kFlagTlsHandshake) ? 2 : 1;
    if (!ensure_room(recs, kMinArenaSpace, 0)) {
      if (live(fd, gen)) push_ready(fd);
      return;
    }
    // A dispatch inside ensure_room ran JS, which may have closed or paused this connection.
    if (!live(fd, gen)) return;
    Slot& s = table_[fd];
    if (s.flags & (kFlagPausedJs | kFlagPeerEnded)) return;
    const Listener& L = listeners_[s.listener];
    size_t want = std::min(v_.arena_cap - arena_used_, kMaxRecv);
    ssize_t n = conn_recv(fd, v_.arena + arena_used_, want);
    if (n > 0) {
      v_.counters->bytesIn += uint64_t(n);
      timers_.on_activity(fd, L);
      emit(kRecData, s.listener, fd, gen, uint32_t(arena_used_), uint32_t(n));
      arena_used_ += size_t(n);
      got += size_t(n);
      if (size_t(n) < want && !(s.flags & kFlagRdHup)) return;
      if (read_budget_spent(fd, got, L)) return;
      continue;
    }
    if (recv_ended(fd, n)) continue;
    return;
  }
}

// Message units: length-prefixed frames, HTTP requests, WebSocket frames. Bytes land in a
// window (the arena when the unit goes to JS, scratch when it is handled natively); complete
// units are handled in place; an incomplete tail is kept in the slot's `in` buffer. When the
// tail's total length is known, the rest of that unit is read straight into `in` (sized to the
// unit), so a large unit that trickles in is copied once, not once per read.
void Loop::read_units(uint32_t fd) {
  const uint32_t gen = table_[fd].gen;
  size_t got = 0;
  for (;;) {
    if (!live(fd, gen)) return;
    Slot& s = table_[fd];
    if (s.flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe | kFlagPeerEnded | kFlagDoomed | kFlagHttpLast | kFlagLinger)) return;
    const Listener& L = listeners_[s.listener];
    const bool to_js = Protocols::unit_to_js(s, L);
    ssize_t n;
    size_t want;

    if (buffered_unit(fd)) {
      // Whole units kept back while the connection was paused (the pipeline cap, backpressure)
      // go first, from the buffer itself: no edge will announce bytes that were already read.
      ByteBuf* held = s.in;
      s.in = nullptr;
      bool ok = deliver_units(fd, gen, held->data + held->head, held->size());
      bytebuf_free(held);
      if (!ok) return;
      continue;
    }
    if ((s.flags & kFlagDraining) && !(s.flags & (kFlagWs | kFlagEndPending | kFlagWriteShut)) && L.is_http()) {
      // The listener is closing: what an HTTP peer sent is answered, nothing new is read. (A
      // WebSocket peer is read on: its answer to our 1001 close frame ends the connection.)
      drain_step(fd);
      return;
    }
    if (s.in && s.in->limit) {
      // Finish the pending unit (total known) directly in its own buffer, which grows as the
      // bytes arrive rather than being sized up front to what the peer announced.
      const size_t left = s.in->limit - s.in->size();
      if (s.in->cap == s.in->tail && !s.in->reserve(std::min(left, std::max(kInGrowStep, s.in->size())))) {
        v_.counters->errNoMemory++;
        close_conn(fd, kCloseNoMemory, ENOMEM);
        return;
      }
      want = std::min(left, s.in->cap - s.in->tail);
      n = conn_recv(fd, s.in->data + s.in->tail, want);
      if (n > 0) {
        v_.counters->bytesIn += uint64_t(n);
        got += size_t(n);
        s.in->tail += size_t(n);
        timers_.on_activity(fd, L);
        if (s.in->size() == s.in->limit) {
          ByteBuf* done = s.in;
          s.in = nullptr;
          bool ok = deliver_units(fd, gen, done->data + done->head, done->size());
          bytebuf_free(done);
          if (!ok) return;
        } else if (size_t(n) < want && !(s.flags & kFlagRdHup)) {
          return;
        }
        if (read_budget_spent(fd, got, L)) return;
        continue;
      }
    } else {
      uint8_t* win;
      size_t cap;
      const size_t prefix = s.in ? s.in->size() : 0;
      if (to_js) {
        if (!ensure_room(1, kMinArenaSpace + prefix, 0)) {
          if (live(fd, gen)) push_ready(fd);
          return;
        }
        if (!live(fd, gen)) return;
        win = v_.arena + arena_used_;
        cap = std::min(v_.arena_cap - arena_used_, kMaxRecv + prefix);
      } else {
        win = scratch_;
        cap = kScratchBytes;
      }
      Slot& s2 = table_[fd];
      // A short pending tail (total not yet known: part of a header) goes in front of the new
      // bytes. It stays in `in` until the recv succeeds, so nothing is lost on EAGAIN or EOF.
      if (prefix) memcpy(win, s2.in->begin(), prefix);
      want = cap - prefix;
      n = conn_recv(fd, win + prefix, want);
      if (n > 0) {
        v_.counters->bytesIn += uint64_t(n);
        got += size_t(n);
        if (prefix) {
          bytebuf_free(s2.in);
          s2.in = nullptr;
        }
        timers_.on_activity(fd, L);
        if (!deliver_units(fd, gen, win, prefix + size_t(n))) return;
        Slot& s3 = table_[fd];
        if (size_t(n) < want && !(s3.flags & kFlagRdHup)) return;
        if (read_budget_spent(fd, got, L)) return;
        continue;
      }
    }
    if (recv_ended(fd, n)) continue;
    return;
  }
}

// True when the connection's `in` buffer holds at least one whole unit (or a unit already known
// to be bad) that was kept back while reading was paused, rather than the start of one unit.
bool Loop::buffered_unit(uint32_t fd) {
  const Slot& s = table_[fd];
  if (!s.in || s.in->limit || s.in->empty()) return false;
  return protocols_.measure(s, listeners_[s.listener], s.in->begin(), s.in->size()).status != Protocols::Unit::kIncomplete;
}

// Drops what a lingering connection still sends until its FIN (on_peer_end then closes it) or
// its deadline.
void Loop::read_discard(uint32_t fd) {
  const Listener& L = listeners_[table_[fd].listener];
  size_t got = 0;
  for (;;) {
    ssize_t n = conn_recv(fd, scratch_, kScratchBytes);
    if (n > 0) {
      v_.counters->bytesIn += uint64_t(n);
      got += size_t(n);
      if (size_t(n) < kScratchBytes && !(table_[fd].flags & kFlagRdHup)) return;
      if (read_budget_spent(fd, got, L)) return;
      continue;
    }
    if (recv_ended(fd, n)) continue;
    return;
  }
}

// Handles every complete unit in [p, p+n) and keeps the incomplete tail in the slot. For JS,
// p may lie in the arena at arena_used_ (then units are handed over in place). Returns false
// when the connection is gone or must not be read any further.
bool Loop::deliver_units(uint32_t fd, uint32_t gen, uint8_t* p, size_t n) {
  size_t off = 0;
  for (;;) {
    Slot& s = table_[fd];
    if (s.flags & (kFlagDoomed | kFlagHttpLast | kFlagLinger)) {
      if (in_arena(p)) arena_used_ = std::max(arena_used_, size_t(p + off - v_.arena));
      return false;
    }
    const Listener& L = listeners_[s.listener];
    if (off == n) break;
    // Paused (by JS, by backpressure, or by the pipeline cap): the rest is kept in `in` and
    // delivered when reading resumes (read_units serves a buffered unit before any recv).
    if (s.flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe)) break;
    const bool js = Protocols::unit_to_js(s, L);
    if (js && Protocols::pipeline_full(s, L)) {
      s.flags |= kFlagPausedPipe;
      v_.counters->pausedReads++;
      break;
    }
    Protocols::Unit u = protocols_.measure(s, L, p + off, n - off);
    if (u.status == Protocols::Unit::kError) {
      if (in_arena(p)) arena_used_ = std::max(arena_used_, size_t(p + off - v_.arena));
      protocols_.fail_unit(fd, gen, u.code, u.reason);
      return false;
    }
    if (u.status == Protocols::Unit::kIncomplete) break;
    uint8_t* unit = p + off;
    bool placed = in_arena(unit);
    // A frame that completes a fragmented WebSocket message to JS makes deliver_ws copy the
    // whole message into the arena. The copy goes after the window, never over its unread rest,
    // and when it does not fit there the batch is handed over first (the window then moves to
    // the start of the arena).
    const size_t copy = js && placed ? protocols_.message_copy(fd, s, unit, u.total) : 0;
    const size_t window_end = size_t(p + n - v_.arena);
    if (js && placed && (nrec_ >= v_.record_cap || v_.meta_cap - meta_used_ < kMetaPerUnit || !deferred_.empty() ||
                         (copy && unit != v_.arena && v_.arena_cap - std::max(arena_used_, window_end) < copy))) {
      // The batch is full: hand over what we have, then move the unparsed rest to the start
      // of the (now free) arena and go on.
      arena_used_ = size_t(unit - v_.arena);
      if (!room_or_close(fd, gen, 2, std::min(copy + (n - off), v_.arena_cap), kMetaPerUnit)) return false;
      memmove(v_.arena + arena_used_, unit, n - off);
      p = v_.arena + arena_used_;
      n -= off;
      off = 0;
      continue;
    }
    // Units are handed over in place; arena_used_ only grows here, so nothing a handler copied
    // into the arena earlier in this window is given back before the batch is dispatched.
    if (js && placed) arena_used_ = std::max(arena_used_, copy ? window_end : size_t(unit - v_.arena) + u.total);
    if (!protocols_.deliver_unit(fd, gen, unit, u.total, placed)) return false;
    off += u.total;
  }
  if (in_arena(p)) arena_used_ = std::max(arena_used_, size_t(p + off - v_.arena));
  size_t rest = n - off;
  if (rest) {
    Slot& s = table_[fd];
    const Listener& L = listeners_[s.listener];
    Protocols::Unit u = protocols_.measure(s, L, p + off, rest);
    // The start of one unit (its total known once its header is): `limit` lets read_units read
    // the rest straight into the buffer, which grows as bytes come (a peer announcing a large
    // unit gets no memory for bytes it has not sent). Whole units kept back by a pause have no
    // limit: read_units delivers them from the buffer.
    const bool started = u.status == Protocols::Unit::kIncomplete;
    const size_t size = started && u.total_known ? std::min(u.total, rest + kInGrowStep) : rest;
    ByteBuf* b = bytebuf_new(&mem_bufs_);
    if (!b || !b->reserve(size)) {
      bytebuf_free(b);
      v_.counters->errNoMemory++;
      close_conn(fd, kCloseNoMemory, ENOMEM);
      return false;
    }
    b->append(p + off, rest);
    if (started && u.total_known) b->limit = u.total;
    s.in = b;
    if (started) return protocols_.unit_pending(fd, s, L, u);
  }
  return true;
}

// Makes room in the batch for a unit already read from the socket; when no room can be made, the
// connection is closed (counted in errNoRoom): dropping the unit would desynchronise the stream.
bool Loop::room_or_close(uint32_t fd, uint32_t gen, uint32_t recs, size_t bytes, uint32_t meta) {
  if (ensure_room(recs, bytes, meta)) return live(fd, gen);
  if (live(fd, gen)) {
    v_.counters->errNoRoom++;
    close_conn(fd, kCloseNoMemory, ENOBUFS);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Writing

int64_t Loop::send_or_queue(uint32_t fd, Slot& s, const uint8_t* p, size_t n) {
  if (s.flags & kFlagCorked) {
    if (s.out->size() + n <= kCorkLimit) {
      if (!s.out->append(p, n)) {
        v_.counters->errNoMemory++;
        close_conn(fd, kCloseNoMemory, ENOMEM);
        return -1;
      }
      return 0;
    }
    // Too much for one gathered send: what is gathered goes first, then these bytes.
    if (!flush_cork(fd)) return -1;
  } else if (cork_depth_ > 0 && !s.out && n < kCorkLimit) {
    ByteBuf* b = cork_take(n);
    if (!b || !b->append(p, n)) {
      if (b) cork_give(b);
      v_.counters->errNoMemory++;
      close_conn(fd, kCloseNoMemory, ENOMEM);
      return -1;
    }
    s.out = b;
    s.flags |= kFlagCorked;
    corked_.push_back(tag_of(fd, s.gen));
    return 0;
  }
  return send_direct(fd, s, p, n);
}

// Sends at once what the socket takes and queues the rest (flushed on the next writable edge).
// Returns the connection's queued bytes, or -1 when the connection was closed.
int64_t Loop::send_direct(uint32_t fd, Slot& s, const uint8_t* p, size_t n) {
  if (s.flags & kFlagTls) {
    // Sealed now, behind whatever ciphertext is queued. No JS may run while the sink holds them.
    NoJs no_js(*this);
    if (!tls_.encrypt(fd, p, n)) {
      tls_.sink_clear();
      v_.counters->errWrite++;
      close_conn(fd, kCloseError, EPROTO);
      return -1;
    }
    const int64_t q = send_wire(fd, s, tls_.sink_data(), tls_.sink_size());
    tls_.sink_clear();
    return q;
  }
  return send_wire(fd, s, p, n);
}

// The bytes as they go on the wire (ciphertext under TLS): sent at once as far as the socket
// takes them, the rest queued (under io_uring: the send in flight, or behind it). Returns the
// queued bytes, or -1 when the connection was closed.
int64_t Loop::send_wire(uint32_t fd, Slot& s, const uint8_t* p, size_t n) {
  if (s.flags & kFlagUring) return uring_send(fd, s, p, n);
  size_t off = 0;
  if (!s.out) {
    while (off < n) {
      ssize_t w = ::send(int(fd), p + off, n - off, MSG_NOSIGNAL);
      v_.counters->writes++;
      if (w > 0) {
        off += size_t(w);
        v_.counters->bytesOut += uint64_t(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        v_.counters->eagainWrites++;
        break;
      }
      int e = errno;
      v_.counters->errWrite++;
      close_conn(fd, reason_for(e), e);
      return -1;
    }
  }
  size_t rest = n - off;
  if (rest) {
    // The send buffer is full: keep the rest; the next EPOLLOUT edge flushes it.
    if (!s.out) s.out = bytebuf_new(&mem_bufs_);
    if (!s.out || !s.out->append(p + off, rest)) {
      v_.counters->errNoMemory++;
      close_conn(fd, kCloseNoMemory, ENOMEM);
      return -1;
    }
    queued_add(int64_t(rest));
    s.flags |= kFlagDrainWanted;
    if (s.kind == SlotKind::kConn && listeners_[s.listener].opt.max_queued && s.out->size() > listeners_[s.listener].opt.max_queued) {
      close_conn(fd, kCloseBackpressure, 0);
      return -1;
    }
  }
  return s.out ? int64_t(s.out->size()) : 0;
}

// Sends a connection's gathered output in one send. What the socket does not take becomes its
// queue (counted, flushed on the next writable edge, bounded by max_queued, and past high_water
// it stops the connection being read). False when the connection was closed.
bool Loop::flush_cork(uint32_t fd) {
  Slot& s = table_[fd];
  const uint32_t gen = s.gen;
  ByteBuf* b = s.out;
  // Under TLS the round's plaintext becomes records here, all of it at once (fewer, fuller records
  // than one per write), and leaves in the one send below (or the one send SQE).
  if ((s.flags & kFlagTls) && !tls_seal_cork(fd, b)) {
    s.flags &= ~kFlagCorked;
    s.out = nullptr;
    cork_give(b);
    v_.counters->errWrite++;
    close_conn(fd, kCloseError, EPROTO);
    return false;
  }
  if (s.flags & kFlagUring) {
    // The gathered buffer becomes the send in flight (one send SQE); it counts as queued until
    // its completion, which is where the rest of flush_cork's work (ending, drain) happens.
    // A fresh send is what epoll's first send() is: bytes handed to the socket, not yet bounded
    // by maxQueuedBytes (see uring_backlog).
    s.flags &= ~kFlagCorked;
    queued_add(int64_t(b->size()));
    uring_flight(fd, s);
    return true;
  }
  size_t off = 0;
  while (off < b->size()) {
    ssize_t w = ::send(int(fd), b->begin() + off, b->size() - off, MSG_NOSIGNAL);
    v_.counters->writes++;
    if (w > 0) {
      off += size_t(w);
      v_.counters->bytesOut += uint64_t(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      v_.counters->eagainWrites++;
      break;
    }
    int e = errno;
    v_.counters->errWrite++;
    close_conn(fd, reason_for(e), e);
    return false;
  }
  s.flags &= ~kFlagCorked;
  if (off == b->size()) {
    s.out = nullptr;
    cork_give(b);
    if (s.flags & kFlagEndPending) {
      finish_end(fd);
      return slot_for(fd, gen) != nullptr;
    }
    return true;
  }
  // The rest is a real queue now, in a buffer of the connection's own (the pool's stays spare).
  b->consume(off);
  const size_t rest = b->size();
  ByteBuf* q = bytebuf_new(&mem_bufs_);
  if (!q || !q->append(b->begin(), rest)) {
    bytebuf_free(q);
    cork_give(b);
    s.out = nullptr;
    v_.counters->errNoMemory++;
    close_conn(fd, kCloseNoMemory, ENOMEM);
    return false;
  }
  cork_give(b);
  s.out = q;
  queued_add(int64_t(rest));
  s.flags |= kFlagDrainWanted;
  if (s.kind == SlotKind::kConn) {
    const Listener& L = listeners_[s.listener];
    if (L.opt.max_queued && rest > L.opt.max_queued) {
      close_conn(fd, kCloseBackpressure, 0);
      return false;
    }
    note_queue(s, L, int64_t(rest));
  }
  return true;
}

// The end of the outermost cork scope: every connection that gathered output sends it.
void Loop::flush_corked() {
  if (corked_.empty()) return;
  std::vector<uint64_t> list;
  list.swap(corked_);
  for (uint64_t t : list) {
    Slot* s = slot_for(uint32_t(t), uint32_t(t >> 32));
    if (s && (s->flags & kFlagCorked)) flush_cork(uint32_t(t));
  }
  // The list's capacity is kept for the next round (the most connections one round wrote to).
  if (corked_.empty()) {
    list.clear();
    corked_.swap(list);
  }
  // The scope's owner already settled the loop's handles; a flush that closed or ended a
  // connection raised records that need a round to reach JS.
  update_activity();
}

// A gathering buffer for a first write of n bytes: a spare one, or a new one sized to those
// bytes (at least kCorkFirst) and grown as more come. A broadcast round corks every member of a
// room at once, so what each one takes is what it is sent, not a page: ten thousand members
// with a 100-byte delivery each hold about 2.5 MB until the round ends, not 40 MB.
ByteBuf* Loop::cork_take(size_t n) {
  if (!cork_pool_.empty()) {
    ByteBuf* b = cork_pool_.back();
    cork_pool_.pop_back();
    return b;
  }
  ByteBuf* b = bytebuf_new(&mem_bufs_);
  if (b && !b->reserve(n, kCorkFirst)) {
    bytebuf_free(b);
    return nullptr;
  }
  return b;
}

// Keeps a spare gathering buffer for the next round (a few hundred at most, only small ones, so
// the pool holds well under a megabyte), or frees it.
void Loop::cork_give(ByteBuf* b) {
  if (cork_pool_.size() < 256 && b->cap <= kCorkPooled) {
    b->head = b->tail = b->limit = 0;
    cork_pool_.push_back(b);
    return;
  }
  bytebuf_free(b);
}

// A closing connection's output: a real queue leaves the queued count; gathered bytes never
// entered it and their buffer goes back to the pool.
void Loop::free_out(Slot& s) {
  if (!s.out) return;
  if (s.flags & kFlagCorked) {
    cork_give(s.out);
  } else {
    queued_add(-int64_t(s.out->size()));
    bytebuf_free(s.out);
  }
  s.out = nullptr;
}

void Loop::flush_out(uint32_t fd) {
  Slot& s = table_[fd];
  ByteBuf* b = s.out;
  while (!b->empty()) {
    ssize_t w = ::send(int(fd), b->begin(), b->size(), MSG_NOSIGNAL);
    v_.counters->writes++;
    if (w > 0) {
      b->consume(size_t(w));
      v_.counters->bytesOut += uint64_t(w);
      queued_add(-int64_t(w));
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      v_.counters->eagainWrites++;
      return;
    }
    int e = errno;
    v_.counters->errWrite++;
    close_conn(fd, reason_for(e), e);
    return;
  }
  after_queue_drained(fd, s);
}

void Loop::after_queue_drained(uint32_t fd, Slot& s) {
  bytebuf_free(s.out);
  s.out = nullptr;
  bool drain = s.flags & kFlagDrainWanted;
  s.flags &= ~kFlagDrainWanted;
  if (s.flags & kFlagEndPending) {
    finish_end(fd);
    return;
  }
  if (s.flags & kFlagPausedBp) {
    // Bytes may be waiting unread since we paused; no edge will announce them again.
    s.flags &= ~kFlagPausedBp;
    push_ready(fd);
  }
  if (drain && s.kind == SlotKind::kConn && !(s.flags & kFlagTlsHandshake) && listeners_[s.listener].is_js()) {
    emit(kRecDrain, s.listener, fd, s.gen, 0, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Ending and closing

void Loop::on_peer_end(uint32_t fd) {
  Slot& s = table_[fd];
  uint32_t gen = s.gen;
  s.flags |= kFlagPeerEnded;
  if (s.flags & kFlagLinger) {
    // The peer read our error answer and closed: nothing is left unread, so no reset follows.
    v_.counters->lingerCloses++;
    close_conn(fd, linger_reason(s), 0);
    return;
  }
  if (s.flags & kFlagWriteShut) {
    close_conn(fd, kCloseGraceful, 0);
    return;
  }
  const Listener& L = listeners_[s.listener];
  if (L.is_js() && !(s.flags & kFlagTlsHandshake)) {
    emit(kRecEnd, s.listener, fd, gen, 0, 0);
    if (!live(fd, gen)) return;
  }
  Slot& t = table_[fd];
  if (L.opt.allow_half_open || (t.flags & kFlagEndPending)) return;
  if (t.pending > 0 && !(t.flags & kFlagWs)) {
    // An HTTP client may half-close right after its last request: the answers JS still owes
    // go out first, and respond() ends the connection after the last of them.
    t.flags |= kFlagHttpLast;
    return;
  }
  begin_end(fd);
}

void Loop::begin_end(uint32_t fd) {
  Slot& s = table_[fd];
  s.flags |= kFlagEndPending;
  if (!s.out) finish_end(fd);
}

void Loop::finish_end(uint32_t fd) {
  Slot& s = table_[fd];
  s.flags &= ~kFlagEndPending;
  if (s.flags & kFlagTls) {
    // Our close_notify goes before the FIN (or the close), so the peer can tell our end from a
    // cut. It is queued only if the socket is full: the end then waits for it to drain.
    tls_.close_notify(fd);
    if (tls_.sink_size() > 0) {
      if (!tls_send_sink(fd)) return;
      if (table_[fd].out) {
        table_[fd].flags |= kFlagEndPending;
        return;
      }
    }
  }
  // A protocol violator has had its error answer: it lingers so the peer can read it.
  if (s.flags & kFlagDoomed) {
    linger(fd);
    return;
  }
  // A finished WebSocket close handshake needs no half-closed wait, nor a peer that ended.
  if (s.flags & (kFlagPeerEnded | kFlagWsClosing)) {
    close_conn(fd, kCloseGraceful, 0);
    return;
  }
  // Half-close our side; the connection closes when the peer's FIN arrives (on_peer_end), or
  // after linger_ms if it never comes.
  ::shutdown(int(fd), SHUT_WR);
  s.flags |= kFlagWriteShut;
  timers_.deadline_arm(fd, listeners_[s.listener].opt.linger_ms);
}

// An error close that lets the peer read why (nginx's lingering close). Closing a socket with
// unread input makes the kernel send a reset, which can destroy the status or close frame we
// just queued before the peer reads it. So: our side is shut (FIN after the answer), what the
// peer still sends is read and dropped, and the connection closes at the peer's FIN, or after
// linger_ms.
void Loop::linger(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.flags & kFlagPeerEnded) {
    // Everything up to the peer's FIN was read: nothing unread, close() sends no reset.
    close_conn(fd, linger_reason(s), 0);
    return;
  }
  ::shutdown(int(fd), SHUT_WR);
  s.flags |= kFlagWriteShut | kFlagLinger;
  timers_.deadline_arm(fd, listeners_[s.listener].opt.linger_ms);
  push_ready(fd);  // input that arrived while the connection was not read raised its edge already
}

CloseReason Loop::linger_reason(const Slot& s) const {
  return (s.flags & kFlagHeadTimer) ? kCloseHeaderTimeout : kCloseProtocol;
}

// A native path queued `queued` bytes for this connection: past high_water it is not read again
// until the queue is flushed (after_queue_drained), so a peer that sends without reading cannot
// make the engine buffer answers without bound.
void Loop::note_queue(Slot& s, const Listener& L, int64_t queued) {
  if (queued >= 0 && uint64_t(queued) > L.opt.high_water && !(s.flags & kFlagPausedBp)) {
    s.flags |= kFlagPausedBp;
    v_.counters->pausedReads++;
  }
}

// Graceful end of one connection of a closing listener. Nothing new is read from an HTTP socket;
// requests already received are answered (respond() and read_units call drain_step as answers go
// out); WebSocket peers get a 1001 close frame and may answer with theirs (bounded by
// ws_close_timeout_ms); other protocols end (FIN after their queued bytes). The listener's drain
// timeout, kept by JS, bounds everything: then close_listener(index, false) cuts the rest.
void Loop::drain_conn(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.flags & (kFlagEndPending | kFlagWriteShut | kFlagLinger | kFlagDoomed)) return;  // already ending
  if (s.flags & kFlagTlsHandshake) {
    // Still in its TLS handshake: nothing was asked, JS never heard of it, so it is closed now
    // (an end mid-handshake would leave it write-shut when the handshake finished after all).
    close_conn(fd, kCloseLocal, 0);
    return;
  }
  s.flags |= kFlagDraining;
  if (s.flags & kFlagWs) {
    static constexpr char kGoingAway[] = "server shutting down";
    if (!(s.flags & kFlagWsClosing)) protocols_.ws_close_frame(fd, 1001, reinterpret_cast<const uint8_t*>(kGoingAway), sizeof kGoingAway - 1);
    return;
  }
  drain_step(fd);
}

// A draining connection ends once nothing it sent is left unanswered.
void Loop::drain_step(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.flags & (kFlagEndPending | kFlagWriteShut | kFlagLinger | kFlagDoomed)) return;
  if (listeners_[s.listener].is_http() && !(s.flags & kFlagWs)) {
    if (s.pending > 0) return;  // respond() calls again after the last answer
    if (buffered_unit(fd)) {
      // Whole requests kept back by the pipeline cap or backpressure were received: they are
      // delivered (read_units) and answered before the end.
      if (!(s.flags & (kFlagPausedBp | kFlagPausedPipe | kFlagPausedJs))) push_ready(fd);
      return;
    }
    // A request only partly received is not answered: the peer sees our FIN and may retry it.
    bytebuf_free(s.in);
    s.in = nullptr;
  }
  begin_end(fd);
}

void Loop::close_conn(uint32_t fd, CloseReason why, int err) {
  Slot& s = table_[fd];
  if (s.kind == SlotKind::kClient) {
    // The shared write path failed on a client socket: the connector closes it, as its own.
    connector_.close_on_error(fd, why);
    return;
  }
  assert(s.kind == SlotKind::kConn);
  if (s.kind != SlotKind::kConn) return;
  const uint32_t gen = s.gen;
  const uint8_t index = s.listener;
  const bool hidden = s.flags & kFlagTlsHandshake;  // JS never heard of it
  // A handshake the peer broke off (a reset or error on a read or a send, a peer that never read
  // our flight) failed. Failures OpenSSL reported (tls_fail: doomed), a FIN mid-handshake
  // (tls_recv) and timeouts are counted where they happen.
  if ((s.flags & (kFlagTls | kFlagTlsHandshake)) == (kFlagTls | kFlagTlsHandshake) && !(s.flags & kFlagDoomed) &&
      (why == kCloseReset || why == kCloseError || why == kCloseBackpressure || why == kCloseNoMemory)) {
    v_.counters->tlsHandshakeFailed++;
  }
  if ((s.flags & kFlagCorked) && why != kCloseReset && why != kCloseError && why != kCloseNoMemory &&
      (!(s.flags & kFlagTls) || tls_seal_cork(fd, s.out))) {
    // Output this round gave it before deciding to close left the caller's hands as far as it
    // knows (before corking it was sent at once): what the socket takes still goes out.
    ssize_t w = ::send(int(fd), s.out->begin(), s.out->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    v_.counters->writes++;
    if (w > 0) v_.counters->bytesOut += uint64_t(w);
  }
  tls_.close(fd);
  timers_.on_close(fd, listeners_[index]);
  topics_.drop(fd);
  protocols_.on_close(fd);
  const bool ring = s.flags & kFlagUring;
  const bool defer_close = ring && uring_.names_fd(fd);
  if (ring) uring_forget(fd, s);
  free_out(s);
  bytebuf_free(s.in);
  // Also removes it from the readiness set: no fd is ever duplicated. Under io_uring, a request
  // still queued for this fd (a receive armed, a send) names it by number, and the number must
  // not be reused before it is issued: then the close waits for the submit. (The cancels name a
  // tag.) The socket itself closes once the cancels have let go of it.
  if (defer_close) closing_fds_.push_back(int(fd));
  else ::close(int(fd));
  s = Slot{.gen = (gen + 1) & kGenMask};
  Counters& c = *v_.counters;
  c.closed++;
  c.active--;
  switch (why) {
    case kCloseGraceful: c.closedGraceful++; break;
    case kCloseLocal: c.closedLocal++; break;
    case kCloseReset: c.closedReset++; break;
    case kCloseProtocol: c.closedProtocol++; break;
    case kCloseBackpressure: c.closedBackpressure++; break;
    case kCloseTimeout:
    case kCloseHeaderTimeout: c.closedTimeout++; break;
    default: c.closedError++; break;
  }
  Listener& L = listeners_[index];
  L.active--;
  if (L.is_js() && !hidden) emit(kRecClose, index, fd, gen, why, uint32_t(err));
  listener_drained_check(index);
}

// ---------------------------------------------------------------------------------------------
// Records and dispatch

// Appends a record to the batch. While JS is inside a callback (or ops run), or older records
// are still waiting, records go to the deferred list so JS sees them in order next dispatch.
void Loop::emit(uint32_t kind, uint8_t listener, uint32_t fd, uint32_t gen, uint32_t a, uint32_t b) {
  // The listener index rides in the high half of the kind word, so JS routes a record to its
  // server without keeping any per-connection table of its own.
  kind |= uint32_t(listener) << 16;
  if (!in_dispatch_ && !in_ops_ && in_round_ && deferred_.empty() && nrec_ >= v_.record_cap) dispatch();
  if (!in_dispatch_ && deferred_.empty() && nrec_ < v_.record_cap) {
    uint32_t* r = v_.records + size_t(nrec_) * kRecordWords;
    r[0] = kind;
    r[1] = fd;
    r[2] = gen;
    r[3] = a;
    r[4] = b;
    nrec_++;
    return;
  }
  deferred_.insert(deferred_.end(), {kind, fd, gen, a, b});
}

void Loop::move_deferred() {
  size_t n = std::min<size_t>(deferred_.size() / kRecordWords, v_.record_cap - nrec_);
  if (n == 0) return;
  memcpy(v_.records + size_t(nrec_) * kRecordWords, deferred_.data(), n * kRecordWords * sizeof(uint32_t));
  nrec_ += uint32_t(n);
  deferred_.erase(deferred_.begin(), deferred_.begin() + ptrdiff_t(n * kRecordWords));
}

void Loop::dispatch() {
  if (in_dispatch_ || in_ops_) return;
  if (nrec_ == 0) move_deferred();
  if (nrec_ == 0) return;
  Counters& c = *v_.counters;
  c.batches++;
  c.records += nrec_;
  if (nrec_ > c.largestBatch) c.largestBatch = nrec_;
  in_dispatch_ = true;
  hooks_.dispatch(hooks_.ctx, nrec_);
  in_dispatch_ = false;
  if (drained_pending_ > 0) {
    // JS has now been handed these drained records: their listener indices may be reused.
    for (uint32_t i = 0; i < nrec_; ++i) {
      const uint32_t word = v_.records[size_t(i) * kRecordWords];
      if ((word & 0xff) != kRecListenerDrained) continue;
      Listener& L = listeners_[word >> 16];
      if (L.drained) {
        L.in_use = false;
        L.drained = false;
        drained_pending_--;
      }
    }
  }
  // The arena and the records are free again: JS was told its views die with the callback.
  nrec_ = 0;
  arena_used_ = 0;
  meta_used_ = 0;
  run_ops();
  protocols_.reap_doomed();
  move_deferred();
}

void Loop::run_ops() {
  if (in_ops_) return;
  Cork cork(*this);
  in_ops_ = true;
  const uint32_t n = std::min(v_.ops[0], v_.ops_cap);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t* o = v_.ops + size_t(i + 1) * kRecordWords;
    uint32_t fd = o[1], gen = o[2], off = o[3], len = o[4];
    const uint32_t op = o[0] & 0xffff, arg = o[0] >> 16;
    // The second line of defence: JS validated, but a bad op must never read out of bounds.
    if (size_t(off) + len > v_.out_arena_cap) {
      v_.counters->staleIds++;
      continue;
    }
    const uint8_t* bytes = v_.out_arena + off;
    switch (op) {
      case kOpWrite:
      case kOpWriteEnd:
        if (write(fd, gen, bytes, len) >= 0 && op == kOpWriteEnd) end(fd, gen);
        break;
      case kOpRespond: {
        // bytes: u32 header-lines length (host order), header lines, body.
        uint32_t hlen = 0;
        if (len < 4) break;
        memcpy(&hlen, bytes, 4);
        if (hlen > len - 4) break;
        protocols_.respond(fd, gen, uint16_t(arg), bytes + 4, hlen, bytes + 4 + hlen, len - 4 - hlen);
        break;
      }
      case kOpWsSend: protocols_.ws_send(fd, gen, uint8_t(arg), bytes, len); break;
      case kOpWsClose: protocols_.ws_close(fd, gen, uint16_t(arg), bytes, len); break;
      case kOpEnd: end(fd, gen); break;
      case kOpClose: close(fd, gen); break;
      case kOpPause: pause(fd, gen); break;
      case kOpResume: resume(fd, gen); break;
      default: break;
    }
  }
  v_.ops[0] = 0;
  in_ops_ = false;
}

// ---------------------------------------------------------------------------------------------
// The per-connection API (ids are fd + generation)

int64_t Loop::write(uint32_t fd, uint32_t gen, const uint8_t* p, size_t n) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return -1;
  }
  Slot& s = table_[fd];
  if (s.flags & (kFlagEndPending | kFlagWriteShut)) return -2;
  int64_t q = n ? send_or_queue(fd, s, p, n) : int64_t(out_bytes(fd, s));
  update_activity();
  return q;
}

bool Loop::end(uint32_t fd, uint32_t gen) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return false;
  }
  if (!(table_[fd].flags & (kFlagEndPending | kFlagWriteShut))) begin_end(fd);
  update_activity();
  if (!in_round_) uring_submit();
  return true;
}

bool Loop::close(uint32_t fd, uint32_t gen) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return false;
  }
  // Output given before the close was sent as far as the caller knows: gathered bytes go out
  // first (a real queue is dropped, as close() says).
  if ((table_[fd].flags & kFlagCorked) && !flush_cork(fd)) {
    update_activity();
    return true;
  }
  if (live(fd, gen)) close_conn(fd, kCloseLocal, 0);
  update_activity();
  if (!in_round_) uring_submit();
  return true;
}

bool Loop::pause(uint32_t fd, uint32_t gen) {
  if (!live(fd, gen)) return false;
  table_[fd].flags |= kFlagPausedJs;
  return true;
}

bool Loop::resume(uint32_t fd, uint32_t gen) {
  if (!live(fd, gen)) return false;
  Slot& s = table_[fd];
  if (s.flags & kFlagPausedJs) {
    s.flags &= ~kFlagPausedJs;
    push_ready(fd);  // bytes that arrived while paused raised their edge already
    update_activity();
  }
  return true;
}

int64_t Loop::queued(uint32_t fd, uint32_t gen) const {
  if (!live(fd, gen)) return -1;
  return int64_t(out_bytes(fd, table_[fd]));
}

// ---------------------------------------------------------------------------------------------
// TLS
//
// A TLS connection (kFlagTls) reads through the same seam as any other: conn_recv hands the read
// paths plaintext, so every protocol is served unchanged. tls_recv keeps the edge-triggered rule
// for the ciphertext underneath: it reads the socket until the plaintext buffer is full, the
// socket runs dry (EAGAIN or a short read: then a short return tells the read path the same), or
// the peer ends; the read path's own budget caps the round, and ciphertext already taken from the
// socket but not yet decrypted waits in the connection's pending buffer, which the next read
// serves first (a connection cut off by its budget or paused is put on the still-ready list by
// the same paths as for bytes left in the socket).
//
// Output is ordered by when OpenSSL makes it: records made while reading (handshake flights,
// tickets, alerts) are sent at once by tls_send_sink; plaintext a round gathers (the Cork) is
// sealed when the cork is flushed; anything else is sealed as it is written. Unsent ciphertext is
// the connection's queue, bounded like any other.
//
// Both backends run the same layer: the ciphertext comes through wire_recv (recv(2), or the ring
// buffers the multishot receive filled) and leaves through send_wire and flush_cork (send(2), or
// the send SQE in flight with what is written behind it), so under io_uring a round's records
// still leave in one send per connection.

namespace {
// Whether the first bytes of a connection are a plain-text HTTP request line ("GET /", "POST /"
// …): uppercase letters up to a space. A TLS stream starts with a record type below 0x20.
bool looks_like_http(const uint8_t* p, size_t n) {
  if (n == 0 || p[0] < 'A' || p[0] > 'Z') return false;
  const size_t k = std::min<size_t>(n, 8);
  for (size_t i = 1; i < k; ++i) {
    if (p[i] == ' ') return true;
    if (p[i] < 'A' || p[i] > 'Z') return false;
  }
  return n < 8;  // only letters so far: nothing a TLS stream could start with either
}
}  // namespace

ssize_t Loop::tls_recv(uint32_t fd, uint8_t* buf, size_t want) {
  // No JS while OpenSSL's records are in flight between it and the socket: a record raised here
  // (a handshake finished) waits for the next dispatch.
  NoJs no_js(*this);
  const uint32_t gen = table_[fd].gen;
  const SlotKind kind = table_[fd].kind;
  auto gone = [&] { return table_[fd].gen != gen || table_[fd].kind != kind || !(table_[fd].flags & kFlagTls); };
  if (!tls_rx_ && !(tls_rx_ = static_cast<uint8_t*>(malloc(kTlsRxBytes)))) {
    errno = ENOMEM;
    return -1;
  }
  size_t got = 0;
  const uint8_t* win = nullptr;  // ciphertext read by this call, not yet used
  size_t win_n = 0;
  bool dry = false;  // the socket ran dry: no more reads in this call
  for (;;) {
    ByteBuf*& kept = tls_.pending(fd);
    const bool from_kept = kept != nullptr;
    const uint8_t* in = from_kept ? kept->begin() : win;
    const size_t in_n = from_kept ? kept->size() : win_n;
    if (in_n > 0 && kind == SlotKind::kConn && tls_.fresh(fd) && looks_like_http(in, in_n)) {
      tls_plain_http(fd);
      errno = EAGAIN;
      return -1;
    }
    const Tls::Feed f = tls_.feed(fd, in, in_n, buf + got, want - got);
    if (from_kept) {
      kept->consume(f.used);
      if (kept->empty()) {
        bytebuf_free(kept);
        kept = nullptr;
      }
    } else {
      win += f.used;
      win_n -= f.used;
    }
    got += f.got;
    // What OpenSSL made (a handshake flight, tickets, an alert) goes out before anything else.
    if (tls_.sink_size() > 0 && (!tls_send_sink(fd) || gone())) {
      errno = EAGAIN;
      return -1;
    }
    if (f.step == Tls::Step::kFailed) {
      tls_fail(fd);
      errno = EAGAIN;
      return -1;
    }
    if (f.established) {
      tls_established(fd);
      if (gone()) {
        errno = EAGAIN;
        return -1;
      }
    }
    if (f.step == Tls::Step::kEnded) {
      // close_notify: the stream ends here (bytes after it are not data). The read path sees the
      // end at its next read (kFlagRdHup makes it read on past a short one).
      table_[fd].flags |= kFlagRdHup;
      return got > 0 ? ssize_t(got) : 0;
    }
    if (f.step == Tls::Step::kFull) {
      // The plaintext buffer is full: ciphertext this call read and SSL did not reach waits in
      // the connection's pending buffer (only while there is some), served first next time.
      if (!from_kept && win_n > 0) {
        ByteBuf* b = bytebuf_new(&mem_bufs_);
        if (!b || !b->append(win, win_n)) {
          bytebuf_free(b);
          v_.counters->errNoMemory++;
          close_conn(fd, kCloseNoMemory, ENOMEM);
          errno = EAGAIN;
          return -1;
        }
        tls_.pending(fd) = b;
      }
      return ssize_t(got);
    }
    // SSL used everything it was lent and wants more.
    if (from_kept || win_n > 0) continue;
    if (dry) break;
    const ssize_t n = wire_recv(fd, tls_rx_, kTlsRxBytes);
    if (n > 0) {
      win = tls_rx_;
      win_n = size_t(n);
      if (size_t(n) < kTlsRxBytes && !(table_[fd].flags & kFlagRdHup)) dry = true;
      continue;
    }
    if (n == 0) {
      if (kind == SlotKind::kConn && (table_[fd].flags & kFlagTlsHandshake)) {
        // The peer gave up mid-handshake (a truncated ClientHello, a probe): a failed handshake.
        v_.counters->tlsHandshakeFailed++;
        close_conn(fd, kCloseProtocol, 0);
        errno = EAGAIN;
        return -1;
      }
      table_[fd].flags |= kFlagRdHup;
      return got > 0 ? ssize_t(got) : 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (got > 0) {
      // The plaintext goes first; the read path reads again (no new edge would come) and sees
      // the end of the broken stream.
      table_[fd].flags |= kFlagRdHup;
      return ssize_t(got);
    }
    return -1;
  }
  if (got > 0) return ssize_t(got);
  errno = EAGAIN;
  return -1;
}

// Sends the records OpenSSL made, in order with the connection's output: straight out or behind
// its queue; when the connection holds this round's plaintext (not sealed yet), these records
// come first, and if the socket cannot take them all, the rest and then the sealed plaintext
// become its queue. False when the connection was closed.
bool Loop::tls_send_sink(uint32_t fd) {
  // No JS runs while the shared sink holds this connection's records: a close record raised by a
  // failed send must not dispatch a callback whose writes would seal behind them.
  NoJs no_js(*this);
  Slot& s = table_[fd];
  const uint32_t gen = s.gen;
  if (!(s.flags & kFlagCorked)) {
    const int64_t q = send_wire(fd, s, tls_.sink_data(), tls_.sink_size());
    tls_.sink_clear();
    return q >= 0 && slot_for(fd, gen) != nullptr;
  }
  const uint8_t* p = tls_.sink_data();
  const size_t n = tls_.sink_size();
  // Under io_uring a corked connection has no send in flight (the cork is `out`), and these
  // records and the sealed plaintext leave together as its one send SQE, below.
  const bool ring = s.flags & kFlagUring;
  size_t off = 0;
  while (!ring && off < n) {
    ssize_t w = ::send(int(fd), p + off, n - off, MSG_NOSIGNAL);
    v_.counters->writes++;
    if (w > 0) {
      off += size_t(w);
      v_.counters->bytesOut += uint64_t(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      v_.counters->eagainWrites++;
      break;
    }
    const int e = errno;
    tls_.sink_clear();
    v_.counters->errWrite++;
    close_conn(fd, reason_for(e), e);
    return false;
  }
  if (off == n && !ring) {
    tls_.sink_clear();
    return true;
  }
  ByteBuf* q = bytebuf_new(&mem_bufs_);
  const bool copied = q && q->append(p + off, n - off);
  tls_.sink_clear();
  ByteBuf* cork = s.out;
  s.out = nullptr;
  s.flags &= ~kFlagCorked;
  const bool sealed = copied && tls_seal_cork(fd, cork) && q->append(cork->begin(), cork->size());
  cork_give(cork);
  if (!sealed) {
    bytebuf_free(q);
    v_.counters->errNoMemory++;
    close_conn(fd, kCloseNoMemory, ENOMEM);
    return false;
  }
  s.out = q;
  queued_add(int64_t(q->size()));
  if (ring) {
    // A fresh send, as flush_cork makes one: bounded once the kernel shows the socket full.
    uring_flight(fd, s);
    return true;
  }
  s.flags |= kFlagDrainWanted;
  if (s.kind == SlotKind::kConn) {
    const Listener& L = listeners_[s.listener];
    if (L.opt.max_queued && q->size() > L.opt.max_queued) {
      close_conn(fd, kCloseBackpressure, 0);
      return false;
    }
    note_queue(s, L, int64_t(q->size()));
  }
  return true;
}

// Replaces the plaintext gathered in b with its records. False when OpenSSL or memory failed
// (b then holds nothing). Never closes the connection.
bool Loop::tls_seal_cork(uint32_t fd, ByteBuf* b) {
  assert(tls_.sink_size() == 0);
  const bool ok = tls_.encrypt(fd, b->begin(), b->size());
  b->head = b->tail = 0;
  const bool kept = ok && b->append(tls_.sink_data(), tls_.sink_size());
  tls_.sink_clear();
  return kept;
}

// The handshake finished: a server connection is counted and JS hears of it now; a client's goes
// on to its protocol.
void Loop::tls_established(uint32_t fd) {
  Slot& s = table_[fd];
  s.flags &= ~kFlagTlsHandshake;
  if (s.kind == SlotKind::kClient) {
    connector_.tls_ready(fd);
    return;
  }
  if (tls_.resumed(fd)) v_.counters->tlsResumed++;
  else v_.counters->tlsHandshakes++;
  timers_.deadline_disarm(fd);
  const Listener& L = listeners_[s.listener];
  if (L.is_js()) emit(kRecOpen, s.listener, fd, s.gen, 0, 0);
}

// OpenSSL failed the connection (its alert, if it made one, is sent already). A client's is the
// connector's to count and close. A server's ends with a lingering close, so the alert is read
// rather than lost to a reset; the session stays, failed (nothing more is sealed or read through
// it), until the connection closes.
void Loop::tls_fail(uint32_t fd) {
  Slot& s = table_[fd];
  if (s.kind == SlotKind::kClient) {
    connector_.tls_failed(fd, tls_.failure(fd));
    return;
  }
  if (s.flags & kFlagTlsHandshake) v_.counters->tlsHandshakeFailed++;
  s.flags |= kFlagDoomed;
  begin_end(fd);
}

// A plain HTTP request came to a TLS port: it is answered in plain text (the peer could not read
// anything else), then the connection ends with a lingering close.
void Loop::tls_plain_http(uint32_t fd) {
  static constexpr std::string_view kBody = "This port speaks TLS: a plain HTTP request was sent to a TLS (HTTPS) port. Use https://.\n";
  v_.counters->tlsPlainHttp++;
  Slot& s = table_[fd];
  tls_.close(fd);
  s.flags &= ~kFlagTls;
  s.flags |= kFlagDoomed;
  std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(kBody.size()) +
                       "\r\nConnection: close\r\n\r\n";
  answer += kBody;
  if (send_or_queue(fd, s, reinterpret_cast<const uint8_t*>(answer.data()), answer.size()) < 0) return;
  begin_end(fd);
}

// ---------------------------------------------------------------------------------------------
// The io_uring backend
//
// A completion model behind the same core. A uring listener holds one multishot accept; each of
// its connections holds one multishot receive into the provided-buffer ring (uring.h). Completed
// buffers are kept per connection, in order, and the read paths take them through conn_recv,
// exactly where they call ::recv under epoll ("EAGAIN" when none are left), so the protocols do
// not fork. Output is gathered by the same Cork; at the end of the cork the gathered buffer
// becomes the connection's one send in flight (`out`, never moved or freed until its
// completion); what is written meanwhile waits behind it (Conn::more) and leaves when the
// flight completes: short sends resubmit the rest. In-flight bytes count as queued everywhere
// (highWaterMark, maxQueuedBytes, queued(), engineBytes). The rounds reap completions from the
// ring's shared memory (no syscall) and end with one io_uring_enter for everything queued.
// Closing cancels the connection's requests by tag before close(2), and completions whose tag
// (fd + generation) is stale only give back their buffer or free their orphaned send buffer.

namespace {
constexpr uint32_t kCqeBuffer = 1u << 0;  // IORING_CQE_F_BUFFER
constexpr uint32_t kCqeMore = 1u << 1;    // IORING_CQE_F_MORE
constexpr unsigned kCqeBufferShift = 16;  // IORING_CQE_BUFFER_SHIFT
constexpr unsigned kReapBatch = 512;      // completions taken before the connections they name are read
constexpr int kReapBatchesPerRound = 32;  // then libuv gets a turn (the ring fd stays readable)
}  // namespace

int Loop::uring_open() {
  if (uring_.is_open()) return 0;
  if (uring_error_) return uring_error_;
  int r = uring_.open(&v_.counters->enters);
  if (r < 0) {
    uring_error_ = r;
    return r;
  }
  uring_.reserve(table_.size());
  uring_conns_ = table_.size();
  ring_poll_ = new uv_poll_t;
  ring_poll_->data = this;
  r = uv_poll_init(uv_, ring_poll_, uring_.watch_fd());
  if (r != 0) {
    delete ring_poll_;
    ring_poll_ = nullptr;
    uring_.close();
    uring_error_ = r;
    return r;
  }
  uv_poll_start(ring_poll_, UV_READABLE, on_ring_poll);
  v_.counters->uringCoopTaskrun = uring_.coop_taskrun() ? 1 : 0;
  // The epoll handle's reference (update_activity) keeps Node alive for every connection.
  uv_unref(reinterpret_cast<uv_handle_t*>(ring_poll_));
  submit_prep_ = new uv_prepare_t;
  submit_prep_->data = this;
  uv_prepare_init(uv_, submit_prep_);
  uv_unref(reinterpret_cast<uv_handle_t*>(submit_prep_));
  return 0;
}

// Completions are waiting: a round that reaps them and does not wait on epoll.
void Loop::on_ring_poll(uv_poll_t* h, int status, int) {
  if (status < 0) return;
  static_cast<Loop*>(h->data)->round(false);
}

// Requests queued outside a round (a JS write from a timer, a listen, a close) go to the kernel
// before libuv blocks: one io_uring_enter per loop iteration for all of them.
void Loop::on_submit(uv_prepare_t* h) { static_cast<Loop*>(h->data)->uring_submit(); }

void Loop::uring_submit() {
  if (!uring_.is_open()) return;
  if (uring_.pending() > 0) uring_.submit();
  // Only now, with every request that names them issued (the cancels included), may their
  // numbers be reused.
  for (int fd : closing_fds_) ::close(fd);
  closing_fds_.clear();
  if (submit_on_) {
    uv_prepare_stop(submit_prep_);
    submit_on_ = false;
  }
}

void Loop::uring_kick() {
  if (!uring_.is_open()) return;
  // A close outside a round is not left to the next loop iteration: the fd is gone when the call
  // returns, as under epoll (JS counts fds, or reuses the number, right after).
  if (!in_round_ && !closing_fds_.empty()) {
    uring_submit();
    return;
  }
  if (!submit_on_ && uring_.pending() > 0) {
    uv_prepare_start(submit_prep_, on_submit);
    submit_on_ = true;
  }
}

void Loop::uring_reap() {
  reaps_++;
  UringBackend::Completion cq[kReapBatch];
  for (int b = 0; b < kReapBatchesPerRound; ++b) {
    const unsigned n = uring_.reap(cq, kReapBatch);
    if (n == 0) break;
    v_.counters->events += n;
    for (unsigned i = 0; i < n; ++i) {
      const UringBackend::Completion& c = cq[i];
      switch (UringBackend::tag_op(c.tag)) {
        case UringBackend::kOpAccept: uring_accepted(UringBackend::tag_conn(c.tag), c.res, c.flags); break;
        case UringBackend::kOpRecv: uring_received(UringBackend::tag_conn(c.tag), c.res, c.flags); break;
        case UringBackend::kOpSend: uring_sent(UringBackend::tag_conn(c.tag), c.res); break;
        default: break;  // a cancel that found nothing left to cancel
      }
    }
    // The connections that received are read now, while their buffers are few.
    for (size_t i = 0; i < touched_.size(); ++i) {
      const uint64_t t = touched_[i];
      Slot* s = slot_for(uint32_t(t), uint32_t(t >> 32));
      if (!s || s->kind != SlotKind::kConn || !(s->flags & kFlagUring)) continue;
      uring_.conn(uint32_t(t)).state &= uint8_t(~UringBackend::kTouched);
      read_conn(uint32_t(t));
    }
    touched_.clear();
    if (n < kReapBatch) break;
  }
}

void Loop::uring_accepted(uint64_t tag, int32_t res, uint32_t flags) {
  const uint32_t lfd = uint32_t(tag), lgen = uint32_t(tag >> 32);
  Slot* ls = slot_for(lfd, lgen);
  const bool live_listener = ls && ls->kind == SlotKind::kListener;
  if (res >= 0) {
    if (!live_listener) ::close(res);  // accepted as the listener was closing
    else take_conn(ls->listener, res);
  } else if (live_listener && res != -ECANCELED) {
    if (res == -EMFILE || res == -ENFILE) {
      // Out of fds: as in accept_all, the spare fd is given back to accept and drop one pending
      // connection, so the backlog shrinks instead of the accept failing forever.
      v_.counters->errEmfile++;
      if (spare_fd_ >= 0) {
        ::close(spare_fd_);
        int x = ::accept4(int(lfd), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (x >= 0) ::close(x);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      }
    } else {
      v_.counters->errAccept++;
    }
  }
  // A multishot accept that ended (an error, or the kernel's own limit) is armed again while
  // its listener is open.
  if (!(flags & kCqeMore)) {
    Slot* again = slot_for(lfd, lgen);
    if (again && again->kind == SlotKind::kListener) uring_.arm_accept(int(lfd), tag);
  }
}

void Loop::uring_received(uint64_t tag, int32_t res, uint32_t flags) {
  const uint32_t fd = uint32_t(tag), gen = uint32_t(tag >> 32);
  Slot* s = slot_for(fd, gen);
  const bool live_conn = s && s->kind == SlotKind::kConn && (s->flags & kFlagUring);
  if (res > 0 && (flags & kCqeBuffer)) {
    const uint16_t bid = uint16_t(flags >> kCqeBufferShift);
    if (!live_conn) {
      uring_.give_back(bid);  // received just before its connection closed
      return;
    }
    uring_.hold(fd, bid, uint32_t(res));
    v_.counters->uringRecvs++;
  }
  if (!live_conn) return;
  UringBackend::Conn& u = uring_.conn(fd);
  if (!(flags & kCqeMore)) {
    // The multishot receive ended: at the peer's FIN (0), an error, a cancel of ours, or an
    // empty buffer ring (ENOBUFS). conn_recv arms it again once the held bytes are read, unless
    // the stream ended; an end or error is reported after the held bytes (kFlagRdHup makes the
    // read paths read on until they see it).
    u.state &= uint8_t(~(UringBackend::kArmed | UringBackend::kCancelling));
    if (res == 0) {
      u.state |= UringBackend::kEof;
      s->flags |= kFlagRdHup;
    } else if (res == -ENOBUFS) {
      v_.counters->uringNoBufs++;
    } else if (res < 0 && res != -ECANCELED) {
      u.err = int16_t(-res);
      s->flags |= kFlagRdHup;
      if (s->flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe)) {
        // A paused connection is not read, so the error would never surface (as under epoll).
        v_.counters->errRead++;
        close_conn(fd, reason_for(-res), -res);
        return;
      }
    }
  } else if ((s->flags & (kFlagPausedJs | kFlagPausedBp | kFlagPausedPipe | kFlagPeerEnded | kFlagDoomed | kFlagHttpLast)) &&
             u.held >= UringBackend::kHoldPaused && !(u.state & UringBackend::kCancelling)) {
    // Not being read: the rest waits in the kernel's socket buffer, not in the shared ring.
    uring_.cancel(UringBackend::make_tag(UringBackend::kOpRecv, tag));
    u.state |= UringBackend::kCancelling;
  } else if (u.held >= UringBackend::kHoldCap && !(u.state & UringBackend::kCancelling)) {
    // Read, but slower than it arrives (its round budget): the same bound.
    uring_.cancel(UringBackend::make_tag(UringBackend::kOpRecv, tag));
    u.state |= UringBackend::kCancelling;
  }
  if (!(u.state & UringBackend::kTouched)) {
    u.state |= UringBackend::kTouched;
    touched_.push_back(tag);
  }
}

// The read paths' recv: plaintext through TLS on a TLS connection; a lingering connection (after
// a TLS failure too) only drops what it reads.
ssize_t Loop::conn_recv(uint32_t fd, uint8_t* buf, size_t want) {
  if ((table_[fd].flags & (kFlagTls | kFlagLinger)) == kFlagTls) return tls_recv(fd, buf, want);
  return wire_recv(fd, buf, want);
}

// The bytes as they came off the wire (ciphertext under TLS), with recv(2)'s contract: ::recv
// under epoll; under io_uring, the bytes already received, in order, then the end or error the
// receive stopped with, else EAGAIN (arming the receive again if it had ended for want of buffers
// or by a cancel of ours).
ssize_t Loop::wire_recv(uint32_t fd, uint8_t* buf, size_t want) {
  if (!(table_[fd].flags & kFlagUring)) {
    v_.counters->reads++;
    return ::recv(int(fd), buf, want, 0);
  }
  const size_t n = uring_.take(fd, buf, want);
  UringBackend::Conn& u = uring_.conn(fd);
  // Once the held bytes are gone, a receive that ended (for want of buffers, or cancelled while
  // the connection held too many) is armed again, here and not on the EAGAIN: a read path that
  // sees a short read takes the socket as drained and does not ask again.
  if (u.head == UringBackend::kNone && !(u.state & (UringBackend::kArmed | UringBackend::kEof)) && !u.err) {
    uring_.arm_recv(int(fd), tag_of(fd, table_[fd].gen));
    v_.counters->uringRearms++;
  }
  if (n > 0) return ssize_t(n);
  if (u.err) {
    errno = u.err;
    return -1;
  }
  if (u.state & UringBackend::kEof) return 0;
  errno = EAGAIN;
  return -1;
}

// Output outside a cork, or behind a send in flight (see the section comment).
int64_t Loop::uring_send(uint32_t fd, Slot& s, const uint8_t* p, size_t n) {
  if (!s.out) {
    ByteBuf* b = bytebuf_new(&mem_bufs_);
    if (!b || !b->append(p, n)) {
      bytebuf_free(b);
      v_.counters->errNoMemory++;
      close_conn(fd, kCloseNoMemory, ENOMEM);
      return -1;
    }
    s.out = b;
    queued_add(int64_t(n));
    uring_flight(fd, s);
  } else {
    UringBackend::Conn& u = uring_.conn(fd);
    if (!u.more) u.more = bytebuf_new(&mem_bufs_);
    if (!u.more || !u.more->append(p, n)) {
      v_.counters->errNoMemory++;
      close_conn(fd, kCloseNoMemory, ENOMEM);
      return -1;
    }
    queued_add(int64_t(n));
    // A queue formed behind the socket's pace: JS hears kRecDrain when it is gone.
    s.flags |= kFlagDrainWanted;
  }
  const size_t backlog = uring_backlog(fd, s);
  if (s.kind == SlotKind::kConn && listeners_[s.listener].opt.max_queued && backlog > listeners_[s.listener].opt.max_queued) {
    close_conn(fd, kCloseBackpressure, 0);
    return -1;
  }
  return int64_t(backlog);
}

// What the bounds (maxQueuedBytes, highWaterMark) see under io_uring: nothing while the send in
// flight may still be going out at once, as a send() under epoll does when it is made; the
// flight and everything written behind it once the kernel has shown the socket full: the send
// came back short, or it was submitted and a reap went by without its completion (the kernel
// tries a send at once when it is submitted, and a socket with room completes it there; one it
// parks waits for room). Every one of these bytes counts as queued (queuedBytes, queued(),
// engineBytes) until its completion; only the bounds wait for the kernel's word, so the same bound
// closes the same peers on both backends (two deliveries to one member in one round must not close
// it because the first has not been reaped yet).
size_t Loop::uring_backlog(uint32_t fd, const Slot& s) const {
  const UringBackend::Conn& u = uring_.conn_const(fd);
  if (!(u.state & UringBackend::kSending) || !s.out || (s.flags & kFlagCorked)) return 0;
  const bool parked = (u.state & UringBackend::kShort) || (!uring_.names_fd(fd) && u.flight_reap != reaps_);
  if (!parked) return 0;
  return s.out->size() + (u.more ? u.more->size() : 0);
}

// Hands `out` to the kernel as the connection's one send in flight.
void Loop::uring_flight(uint32_t fd, Slot& s) {
  uring_.send(int(fd), tag_of(fd, s.gen), s.out->begin(), s.out->size());
  uring_.conn(fd).state |= UringBackend::kSending;
  uring_.conn(fd).flight_reap = reaps_;
  v_.counters->uringSends++;
}

void Loop::uring_sent(uint64_t tag, int32_t res) {
  const uint32_t fd = uint32_t(tag), gen = uint32_t(tag >> 32);
  Slot* s = slot_for(fd, gen);
  if (!s || s->kind != SlotKind::kConn || !(s->flags & kFlagUring) || !(uring_.conn(fd).state & UringBackend::kSending)) {
    // Its connection closed while the send was in flight: the buffer is free only now.
    auto it = orphans_.find(tag);
    if (it != orphans_.end()) {
      bytebuf_free(it->second);
      orphans_.erase(it);
    }
    return;
  }
  UringBackend::Conn& u = uring_.conn(fd);
  u.state &= uint8_t(~UringBackend::kSending);
  if (res < 0) {
    // The flight is over: close_conn frees `out` as a plain queue.
    v_.counters->errWrite++;
    close_conn(fd, reason_for(-res), -res);
    return;
  }
  v_.counters->bytesOut += uint64_t(res);
  s->out->consume(size_t(res));
  queued_add(-int64_t(res));
  if (!s->out->empty()) {
    // A short send: the socket was full. The rest goes again (and JS hears kRecDrain after); it
    // is queued in epoll's sense now, under the same bounds.
    s->flags |= kFlagDrainWanted;
    u.state |= UringBackend::kShort;
    v_.counters->eagainWrites++;
    uring_flight(fd, *s);
    const Listener& L = listeners_[s->listener];
    const size_t backlog = uring_backlog(fd, *s);
    if (L.opt.max_queued && backlog > L.opt.max_queued) {
      close_conn(fd, kCloseBackpressure, 0);
      return;
    }
    note_queue(*s, L, int64_t(backlog));
    return;
  }
  u.state &= uint8_t(~UringBackend::kShort);
  cork_give(s->out);
  s->out = nullptr;
  if (u.more) {
    s->out = u.more;
    u.more = nullptr;
    uring_flight(fd, *s);
    return;
  }
  // Everything was sent: what a writable edge does after a flushed queue under epoll.
  after_queue_drained(fd, *s);
}

// A uring connection is closing: its armed receive and its send in flight are cancelled by tag
// (never by fd: the number may be reused before the cancel runs), the in-flight buffer is kept
// until its completion, and the buffers it held go back to the ring.
void Loop::uring_forget(uint32_t fd, Slot& s) {
  UringBackend::Conn& u = uring_.conn(fd);
  const uint64_t tag = tag_of(fd, s.gen);
  if ((u.state & UringBackend::kArmed) && !(u.state & UringBackend::kCancelling)) {
    uring_.cancel(UringBackend::make_tag(UringBackend::kOpRecv, tag));
  }
  if ((u.state & UringBackend::kSending) && s.out && !(s.flags & kFlagCorked)) {
    uring_.cancel(UringBackend::make_tag(UringBackend::kOpSend, tag));
    queued_add(-int64_t(s.out->size()));
    orphans_[tag] = s.out;
    s.out = nullptr;
  }
  if (u.more) {
    queued_add(-int64_t(u.more->size()));
    bytebuf_free(u.more);
  }
  uring_.release(fd);
  u = UringBackend::Conn{};
}

}  // namespace c1m
