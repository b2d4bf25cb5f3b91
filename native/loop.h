// The engine core: one Loop per Node environment (main thread or worker), serving an
// edge-triggered readiness source (poller.h) from inside libuv. The core owns the fd-indexed slot
// table, the rounds (readiness first, then the still-ready list), the batches of records handed
// to JS and the ops JS hands back, reading, writing, ending and closing a connection, and the
// listeners. What a ready slot means is decided in one place, Loop::slot_ready: a listener
// accepts, a server connection is read by its listener's protocol, a client connection goes to
// the connector. The parts it owns, each with its own state:
//   Protocols (protocols.h)  what a frame, an HTTP request or a WebSocket frame means; responses
//   Topics (topics.h)        publish/subscribe for WebSocket connections
//   Timers (timers.h)        idle timeouts and per-connection deadlines, the libuv timer
//   Connector (connector.h)  client groups (the load side) and the client read path
// The parts reach the core only through the services in the private section (they are its
// friends; the addon is not), and call each other through the core's accessors.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "byte_buf.h"
#include "conn_table.h"
#include "connector.h"
#include "counters.h"
#include "poller.h"
#include "protocols.h"
#include "records.h"
#include "timers.h"
#include "tls.h"
#include "topics.h"
#include "uring.h"

namespace c1m {

class Loop {
 public:
  struct JsHooks {
    // Called once per dispatch with the number of records; the engine is inside the callback
    // until it returns. Implemented by addon.cc (it owns the N-API side).
    void (*dispatch)(void* ctx, uint32_t count);
    void* ctx;
  };

  // Buffers are JS-owned ArrayBuffers whose backing stores the addon pins for the Loop's life.
  struct Views {
    uint32_t* records;
    uint32_t record_cap;
    uint8_t* arena;
    size_t arena_cap;
    uint32_t* meta;  // request descriptors (see kRecRequest)
    uint32_t meta_cap;
    uint32_t* ops;  // ops[0] = count, ops from index kRecordWords
    uint32_t ops_cap;
    uint8_t* out_arena;
    size_t out_arena_cap;
    Counters* counters;
  };

  // Opens the readiness source and the libuv handles on `uv`. Returns 0 or -errno.
  int init(uv_loop_t* uv, const Views& views, JsHooks hooks);
  // Closes every fd and the libuv handles; `done` runs once libuv has released them.
  void shutdown(void (*done)(void*), void* arg);

  // Opens a listener. Returns its index (>= 0) and sets *port to the bound port, or -errno. tls:
  // a server context (Tls::server_context) its connections speak TLS with, or nullptr; it is the
  // listener's from here on, freed on failure too. Both backends serve it.
  int listen(const char* host, int port, const ListenOptions& opt, int* bound_port, TlsContext* tls = nullptr);
  // Stops accepting. graceful: each connection is drained (what it sent is answered, WebSocket
  // peers get 1001, queued bytes go out, then it ends) and the listener reports drained when the
  // last is gone; otherwise they are closed at once (a second, forced call cuts what a graceful
  // drain left). Returns the number of connections closed at once (counted in drainCut), or -1
  // for an unknown index.
  int64_t close_listener(int index, bool graceful);

  // Writes bytes, queueing what the socket does not take. Returns the connection's queued
  // byte count after the write, or -1 for a stale/closed id, -2 after end().
  int64_t write(uint32_t fd, uint32_t gen, const uint8_t* p, size_t n);
  // Graceful close (flush, FIN, close on peer EOF). Returns false for a stale id.
  bool end(uint32_t fd, uint32_t gen);
  // Immediate close, dropping queued bytes. Returns false for a stale id.
  bool close(uint32_t fd, uint32_t gen);
  // Stops/starts reading a connection. Returns false for a stale id.
  bool pause(uint32_t fd, uint32_t gen);
  bool resume(uint32_t fd, uint32_t gen);
  // Queued (unsent) bytes of a connection, or -1 for a stale id.
  int64_t queued(uint32_t fd, uint32_t gen) const;
  // Opens the io_uring backend if it is not open yet (listen() does it for a uring listener).
  // Returns 0 or -errno: -ENOSYS when built without liburing, the kernel's error otherwise.
  int uring_open();
  // Whether this build and kernel can run the io_uring backend: 0, or -errno (-ENOSYS: built without liburing).
  static int uring_support() { return UringBackend::probe(); }
  // True while fd holds the server connection with this generation.
  bool live(uint32_t fd, uint32_t gen) const {
    return fd < table_.size() && table_[fd].kind == SlotKind::kConn && table_[fd].gen == gen;
  }

  // Executes the ops JS queued so far (JS calls it when its ops buffer fills mid-callback).
  void run_ops();
  // Refreshes counters.engineBytes (everything the engine holds, counted in malloc chunks),
  // counters.topics and counters.loopWaits (libuv's epoll_pwait). Called when JS reads the counters,
  // not every round: it walks the topics.
  void account_memory();

  // The parts, for the addon's calls (responses and WebSocket ops, topics, client groups) and
  // for each other's.
  Protocols& protocols() { return protocols_; }
  Topics& topics() { return topics_; }
  Timers& timers() { return timers_; }
  Connector& connector() { return connector_; }
  Tls& tls() { return tls_; }

 private:
  friend class Connector;
  friend class Protocols;
  friend class Timers;
  friend class Topics;

  // ---- Services to the parts ----

  static constexpr size_t kScratchBytes = 256u << 10;  // the read buffer native paths share

  // The slot table.
  Slot& slot(uint32_t fd) { return table_[fd]; }
  size_t table_size() const { return table_.size(); }
  size_t table_capacity() const { return table_.capacity(); }
  // Makes fd a valid index of the table.
  bool grow_table(size_t fd);
  const Listener& listener_of(const Slot& s) const { return listeners_[s.listener]; }
  // Highest fd a connection may have (see fd_cap_).
  uint64_t fd_cap() const { return fd_cap_; }
  Poller& poller() { return poller_; }
  Counters& counters() { return *v_.counters; }

  // Shared buffers: reads of the native paths land in scratch(); a response, frame or client
  // message is composed in compose(). buf_account() is the running total of heap bytes in the
  // engine's ByteBufs: every buffer counts itself there.
  uint8_t* scratch() { return scratch_; }
  std::vector<uint8_t>& compose() { return compose_; }
  int64_t* buf_account() { return &mem_bufs_; }

  // The batch: records, and the arena and descriptor words units are copied into. arena_take
  // reserves n bytes at the arena's end and returns where they go; the caller made room first
  // (room_or_close) or checked arena_fits (n bytes fit without a dispatch).
  void emit(uint32_t kind, uint8_t listener, uint32_t fd, uint32_t gen, uint32_t a, uint32_t b);
  bool room_or_close(uint32_t fd, uint32_t gen, uint32_t recs, size_t bytes, uint32_t meta);
  uint8_t* arena_take(size_t n) {
    uint8_t* at = v_.arena + arena_used_;
    arena_used_ += n;
    return at;
  }
  bool arena_fits(size_t n) const { return deferred_.empty() && nrec_ < v_.record_cap && v_.arena_cap - arena_used_ >= n; }
  uint32_t arena_offset(const uint8_t* p) const { return uint32_t(p - v_.arena); }
  // Reserves `words` descriptor words; *at = their index (what a record carries).
  uint32_t* meta_take(uint32_t words, uint32_t* at) {
    *at = meta_used_;
    uint32_t* w = v_.meta + meta_used_;
    meta_used_ += words;
    return w;
  }
  // While one lives, no JS runs: records raised meanwhile wait in the deferred list (see emit),
  // so no callback can close or reuse what its holder is walking through.
  class NoJs {
   public:
    explicit NoJs(Loop& loop) : loop_(loop), saved_(loop.in_ops_) { loop.in_ops_ = true; }
    ~NoJs() { loop_.in_ops_ = saved_; }
    NoJs(const NoJs&) = delete;
    NoJs& operator=(const NoJs&) = delete;

   private:
    Loop& loop_;
    bool saved_;
  };

  // Output is corked inside a scope: a round, a timer round, the connector's tick or a call that
  // loads its connections. What one connection is given in the scope (pipelined responses,
  // several echoes, broadcast deliveries) is gathered and leaves in one send when the outermost
  // scope ends; a write of kCorkLimit or more, or one that would make the gathered bytes pass
  // it, first sends what is gathered and then goes straight out. Ordering holds: a connection
  // with a real queue (the socket was full) appends to it, never to a cork. The connector sends
  // a client connection's gathered output earlier, as soon as it is done with that connection
  // (Connector::send_gathered): its messages carry their send times.
  class Cork {
   public:
    explicit Cork(Loop& loop) : loop_(loop) { ++loop.cork_depth_; }
    ~Cork() {
      if (--loop_.cork_depth_ == 0) loop_.flush_corked();
    }
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    Loop& loop_;
  };
  static constexpr size_t kCorkLimit = 64u << 10;
  // A new gathering buffer's least size, and the largest kept in the pool for the next round.
  static constexpr size_t kCorkFirst = 256;
  static constexpr size_t kCorkPooled = 4096;

  // A connection's I/O and lifecycle. Any of these but push_ready, note_queue, buffered_unit
  // and update_activity can close the connection: the caller re-checks liveness before it
  // touches the slot again.
  int64_t send_or_queue(uint32_t fd, Slot& s, const uint8_t* p, size_t n);
  int64_t send_direct(uint32_t fd, Slot& s, const uint8_t* p, size_t n);
  int64_t send_wire(uint32_t fd, Slot& s, const uint8_t* p, size_t n);
  void flush_out(uint32_t fd);
  void push_ready(uint32_t fd);
  void queued_add(int64_t delta);
  void note_queue(Slot& s, const Listener& L, int64_t queued);
  // Every unsent byte of a connection: its queue or gathered output, and under io_uring the send
  // in flight and what was written behind it.
  size_t out_bytes(uint32_t fd, const Slot& s) const {
    size_t n = s.out ? s.out->size() : 0;
    if ((s.flags & kFlagUring) && fd < uring_conns_ && uring_.conn_const(fd).more) n += uring_.conn_const(fd).more->size();
    return n;
  }
  // The unsent bytes highWaterMark and maxQueuedBytes bound: what the socket has not taken (under
  // io_uring, a send in flight counts once the kernel has sent it short: see uring_backlog).
  size_t bounded_bytes(uint32_t fd, const Slot& s) const {
    if ((s.flags & kFlagUring) && s.out && !(s.flags & kFlagCorked)) return uring_backlog(fd, s);
    return s.out ? s.out->size() : 0;
  }
  bool buffered_unit(uint32_t fd);
  void begin_end(uint32_t fd);
  void drain_step(uint32_t fd);
  void close_conn(uint32_t fd, CloseReason why, int err);
  CloseReason linger_reason(const Slot& s) const;
  void update_activity();
  // The round the libuv timer starts (Timers calls it when the wheels are due).
  void timer_round();

  // ---- The core's own ----

  // Rounds and the dispatcher (what a ready slot means, by its kind).
  static constexpr uint32_t kReadyAgain = 0;  // slot_ready: no new event, the slot's still-ready turn
  static void on_poll(uv_poll_t* h, int status, int events);
  static void on_idle(uv_idle_t* h);
  // After each poll phase of libuv's loop: counts the turns whose poll blocked (see account_memory).
  static void on_turn(uv_check_t* h);
  // A round: drain the readiness source (when `wait`), serve the still-ready list, hand records
  // to JS. on_poll's rounds wait; on_idle's do not (see on_idle).
  void round(bool wait);
  void round_body(bool wait);
  void timer_round_body();
  void serve_event(const Poller::Event& ev);
  void slot_ready(uint32_t fd, Slot& s, uint32_t events);
  void conn_ready(uint32_t fd, Slot& s, uint32_t events);
  Slot* slot_for(uint32_t fd, uint32_t gen);

  // Listeners.
  void accept_all(uint32_t lfd);
  void listener_drained_check(uint8_t index);

  // The io_uring backend (loop.cc, "The io_uring backend"): opened by the first uring listener.
  static void on_ring_poll(uv_poll_t* h, int status, int events);
  static void on_submit(uv_prepare_t* h);
  void uring_reap();
  void uring_accepted(uint64_t tag, int32_t res, uint32_t flags);
  void uring_received(uint64_t tag, int32_t res, uint32_t flags);
  void uring_sent(uint64_t tag, int32_t res);
  int64_t uring_send(uint32_t fd, Slot& s, const uint8_t* p, size_t n);
  size_t uring_backlog(uint32_t fd, const Slot& s) const;
  void uring_flight(uint32_t fd, Slot& s);
  void uring_forget(uint32_t fd, Slot& s);
  void uring_submit();
  void uring_kick();

  // Listeners.
  bool take_conn(uint8_t index, int cfd);

  // Reading. conn_recv is the one seam every read path goes through (plaintext under TLS);
  // wire_recv is what lies under it: ::recv under epoll, the bytes already received into ring
  // buffers under io_uring (EAGAIN when there are none).
  ssize_t conn_recv(uint32_t fd, uint8_t* buf, size_t want);
  ssize_t wire_recv(uint32_t fd, uint8_t* buf, size_t want);
  void read_conn(uint32_t fd);
  void read_echo(uint32_t fd, Slot& s, const Listener& L);
  void read_raw(uint32_t fd);
  void read_units(uint32_t fd);
  void read_discard(uint32_t fd);
  bool recv_ended(uint32_t fd, ssize_t n);
  bool read_budget_spent(uint32_t fd, size_t got, const Listener& L);
  bool deliver_units(uint32_t fd, uint32_t gen, uint8_t* p, size_t n);

  // TLS (loop.cc, "TLS"): the read seam's decrypting side, the records OpenSSL makes going out in
  // order, the handshake's end, its failures and the plain HTTP answer. Each can close the
  // connection, except tls_seal_cork.
  static constexpr size_t kTlsRxBytes = 64u << 10;  // ciphertext asked of one recv
  ssize_t tls_recv(uint32_t fd, uint8_t* buf, size_t want);
  bool tls_send_sink(uint32_t fd);
  bool tls_seal_cork(uint32_t fd, ByteBuf* b);
  void tls_established(uint32_t fd);
  void tls_fail(uint32_t fd);
  void tls_plain_http(uint32_t fd);

  // Writing, ending and closing.
  void after_queue_drained(uint32_t fd, Slot& s);
  bool flush_cork(uint32_t fd);
  void flush_corked();
  ByteBuf* cork_take(size_t n);
  void cork_give(ByteBuf* b);
  void free_out(Slot& s);
  void on_peer_end(uint32_t fd);
  void finish_end(uint32_t fd);
  void linger(uint32_t fd);
  void drain_conn(uint32_t fd);

  // Records and dispatch.
  void dispatch();
  void move_deferred();
  bool ensure_room(uint32_t recs, size_t bytes, uint32_t meta);
  bool in_arena(const uint8_t* p) const { return p >= v_.arena && p < v_.arena + v_.arena_cap; }

  // Node's loop and the readiness source.
  uv_loop_t* uv_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // watches poller_.watch_fd()
  uv_idle_t* idle_ = nullptr;
  uv_check_t* turn_check_ = nullptr;
  uint64_t idle_seen_ = 0;      // libuv's idle time (ns) at the previous turn's check
  uint64_t blocked_turns_ = 0;  // turns whose poll blocked: two epoll_pwait calls, not one
  Poller poller_;              // the readiness source: the core never calls epoll_* itself
  int spare_fd_ = -1;          // held open so EMFILE can be answered by accepting and closing
  // Highest fd a connection may have: the top fds of RLIMIT_NOFILE stay free for the process
  // itself (reading /proc for stats, loading a module), so a full table never starves it.
  uint64_t fd_cap_ = UINT64_MAX;
  bool idle_on_ = false;
  bool ref_on_ = false;
  bool in_round_ = false;     // inside round(): dispatching to JS is allowed
  bool in_dispatch_ = false;  // inside the JS callback
  bool in_ops_ = false;       // executing queued ops

  // The batch crossing into JS.
  Views v_{};
  JsHooks hooks_{};
  uint32_t nrec_ = 0;        // records in the current batch
  size_t arena_used_ = 0;
  uint32_t meta_used_ = 0;   // descriptor words used in the current batch
  std::vector<uint32_t> deferred_;  // records raised while JS is inside a callback

  // Slots, listeners and the still-ready list.
  std::vector<Slot> table_;  // indexed by fd
  std::vector<Listener> listeners_;
  uint32_t drained_pending_ = 0;    // drained records emitted whose index is not yet free
  std::vector<uint64_t> ready_;     // fd | gen << 32, served next round
  std::vector<uint64_t> serving_;   // the list being served this round (swapped with ready_)

  // Corked output (see Cork): the connections holding some, and spare buffers for the next.
  uint32_t cork_depth_ = 0;
  std::vector<uint64_t> corked_;     // fd | gen << 32
  std::vector<ByteBuf*> cork_pool_;

  // Memory the native paths share.
  int64_t mem_bufs_ = 0;            // heap bytes of every ByteBuf the engine holds (ByteBuf::acct)
  std::vector<uint8_t> compose_;    // a response, frame or client message being composed (any part's)
  uint8_t* scratch_ = nullptr;      // read buffer of the native paths (echo, discard, client reads)
  Poller::Event events_[1024];

  // The io_uring backend, when a listener asked for it: the ring, the uv_poll_t on its fd, the
  // prepare handle that submits what was queued outside a round, the send buffers of closed
  // connections still in flight (freed at their completion), the connections that received
  // something in the current batch of completions.
  UringBackend uring_;
  size_t uring_conns_ = 0;  // fds with backend state (uring_.reserve)
  int uring_error_ = 0;     // why the ring could not be opened (-errno), once tried
  uv_poll_t* ring_poll_ = nullptr;
  uv_prepare_t* submit_prep_ = nullptr;
  bool submit_on_ = false;
  std::unordered_map<uint64_t, ByteBuf*> orphans_;
  std::vector<uint64_t> touched_;
  std::vector<int> closing_fds_;  // closed by uring_submit, once requests naming them are issued
  uint8_t reaps_ = 0;             // uring_reap calls (low byte): a send that outlived one was parked by the kernel

  // The parts.
  Protocols protocols_{*this};
  Topics topics_{*this};
  Timers timers_{*this};
  Connector connector_{*this};
  // TLS state of server and client connections (sessions by fd, the BIO, the sink).
  Tls tls_;
  uint8_t* tls_rx_ = nullptr;  // ciphertext read buffer (kTlsRxBytes), allocated by the first TLS read
};

}  // namespace c1m
