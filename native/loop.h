// The engine: one Loop per Node environment (main thread or worker), driving an
// edge-triggered readiness source (poller.h) from inside libuv. loop.cc holds the policy (what
// readiness means for a listener or a connection); poller_epoll.cc holds the syscalls.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include <deque>

#include "byte_buf.h"
#include "conn_table.h"
#include "counters.h"
#include "histogram.h"
#include "poller.h"
#include "protocols.h"
#include "proto/http.h"
#include "timer_wheel.h"
#include "timers.h"
#include "topics.h"

namespace c1m {

// ---- Client side (the connector): load groups of outgoing connections, all native. ----

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
enum class LoadMode : uint8_t { kIdle = 0, kClosed = 1, kOpen = 2, kStall = 3 };

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
};

// Counts of one group, reset at the start of each measured window (ops, bytes, errors, latency)
// or kept for the group's life (connections).
//
// Every message scheduled in a measured window ends in the latency histogram exactly once:
// answered (ops; latency from its send time, or in the open loop from its scheduled time), or
// given up, recorded at the time it had waited so far and counted by why: `dropped` (the open
// loop could not send it before response_timeout_ms passed, or the window ended first),
// `timed_out` (its answer was overdue by response_timeout_ms: its connection is closed), `lost`
// (its connection closed before the answer came), `unanswered` (open loop: still in flight when
// the window ended). The first three mean the contender fell behind: the step is flagged.
struct ClientStats {
  uint64_t started = 0, established = 0, failed = 0, closed = 0, pending = 0, active = 0;
  uint64_t ops = 0, bytes_in = 0, bytes_out = 0, sent = 0, dropped = 0, timed_out = 0, lost = 0, unanswered = 0;
  uint64_t err_connect = 0, err_read = 0, err_write = 0, err_timeout = 0, err_protocol = 0, peer_closed = 0;
};

// Ring entries carry this bit once the message was recorded as given up (its answer, if it still
// comes, is not recorded again). Times are µs of CLOCK_MONOTONIC, far below 2^63.
constexpr uint64_t kStampGivenUp = uint64_t(1) << 63;

// Per client connection (indexed by fd): send times of the messages in flight.
struct ClientConn {
  uint64_t* ring = nullptr;  // send (or intended) times in µs, oldest first; allocated while loaded
  uint32_t ring_cap = 0, ring_head = 0, ring_count = 0;
  uint32_t member = 0;       // index in the group's member list
  uint32_t rx = 0;           // bytes of the current answer received (stream, frame)
  uint8_t hdr[4] = {};       // frame header bytes of the current answer
  uint8_t state = 0;         // 0 connecting, 1 WebSocket handshake, 2 ready
  bool publisher = false;
  uint32_t t0_ms = 0;        // when its connect started (low 32 bits of uv_now): the window's delay signal
  uint32_t index = 0;        // order of establishment within the group (room, publisher role)
};

struct ClientGroup {
  bool in_use = false;
  ClientOptions opt;
  ClientStats st;
  Histogram hist{1, 60'000'000, 3};  // latency in µs, 1 µs .. 60 s, 3 significant digits
  std::unordered_map<int, uint64_t> connect_errnos;
  std::vector<uint64_t> members;     // established connections (tags)
  std::vector<uint64_t> pubs;        // ws-broadcast publishers (tags)
  std::deque<std::pair<uint64_t, uint64_t>> connecting;  // (tag, deadline ms)
  std::deque<std::pair<uint64_t, uint64_t>> upgrading;   // WebSocket handshakes: (tag, deadline ms)
  // Connects in flight are capped by a window that adapts to how long they take (see
  // client_window_*): a ramp faster than the server answers would otherwise queue handshakes
  // until they time out, and every timed-out one is work the server did for nothing.
  double window = 0;
  uint64_t window_cut_ms = 0;        // last decrease (at most one per window_hold)
  uint64_t window_min = 0;           // smallest the window got in this group's life (reported)
  uint64_t attempts_left = 0;        // ramp: connects still to start
  double ramp_rate = 0;              // connections/s; 0 = as fast as pending allows
  uint64_t ramp_t0_ms = 0, ramp_started = 0;
  LoadMode mode = LoadMode::kIdle;
  bool running = false;
  bool recording = false;
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

// A WebSocket message being reassembled from fragments (rare: kept off the slot).
struct WsFragments {
  uint8_t opcode = 0;
  ByteBuf buf;
  uint32_t utf8 = 0;
};

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

  // Creates the epoll set and the libuv handles on `uv`. Returns 0 or -errno.
  int init(uv_loop_t* uv, const Views& views, JsHooks hooks);
  // Closes every fd and the libuv handles; `done` runs once libuv has released them.
  void shutdown(void (*done)(void*), void* arg);

  // Opens a listener. Returns its index (>= 0) and sets *port to the bound port, or -errno.
  int listen(const char* host, int port, const ListenOptions& opt, int* bound_port);
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


  // Creates a client group; returns its index or -errno (-EMFILE when 256 are in use).
  int client_group(ClientOptions opt);
  // Grows the group to `target` connections at `rate` new ones per second (0: unpaced), or
  // closes the newest ones down to it. Returns false for an unknown group.
  bool client_ramp(int g, uint64_t target, double rate);
  // Starts the load on every connection (and on each one established later).
  bool client_run(int g, LoadMode mode, double rate);
  // Starts a measured window: ops, bytes, errors and the histogram restart from zero.
  bool client_reset(int g);
  // Stops sending new messages; answers still in flight are not counted.
  bool client_stop(int g);
  // The group, or nullptr.
  const ClientGroup* client(int g) const;
  // Closes every connection of the group and frees it.
  bool client_close(int g);
  // True while fd holds the connection with this generation.
  bool live(uint32_t fd, uint32_t gen) const;
  // Executes the ops JS queued so far (JS calls it when its ops buffer fills mid-callback).
  void run_ops();
  // Refreshes counters.engineBytes (everything the engine holds, counted in malloc chunks) and
  // counters.topics. Called when JS reads the counters, not every round: it walks the topics.
  void account_memory();

  // The parts the addon calls directly.
  Protocols& protocols() { return protocols_; }
  Topics& topics() { return topics_; }

 private:
  // The parts reach the core through the services below (they are its friends; the addon is not).
  friend class Protocols;
  friend class Timers;
  friend class Topics;

  // ---- Services to the parts ----
  Slot& slot(uint32_t fd) { return table_[fd]; }
  size_t table_size() const { return table_.size(); }
  const Listener& listener_of(const Slot& s) const { return listeners_[s.listener]; }
  Counters& counters() { return *v_.counters; }
  Timers& timers() { return timers_; }
  std::vector<uint8_t>& compose() { return compose_; }
  // The running total of heap bytes in the engine's ByteBufs: every buffer counts itself here.
  int64_t* buf_account() { return &mem_bufs_; }

  // The batch's arena and descriptor words, for units copied in by Protocols. arena_take
  // reserves n bytes at the arena's end and returns where they go; callers made room first
  // (room_or_close) or checked arena_fits, which says whether n bytes fit with no dispatch.
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

  static void on_poll(uv_poll_t* h, int status, int events);
  static void on_idle(uv_idle_t* h);

  void round();
  void handle_event(const Poller::Event& ev);
  void serve_ready();
  void accept_all(uint32_t lfd);
  void read_conn(uint32_t fd);
  void read_echo(uint32_t fd, Slot& s, const Listener& L);
  void read_raw(uint32_t fd);
  void read_units(uint32_t fd);
  bool recv_ended(uint32_t fd, ssize_t n);
  bool read_budget_spent(uint32_t fd, size_t got, const Listener& L);
  bool deliver_units(uint32_t fd, uint32_t gen, uint8_t* p, size_t n);

  void note_queue(Slot& s, const Listener& L, int64_t queued);
  bool buffered_unit(uint32_t fd);
  void drain_conn(uint32_t fd);
  void drain_step(uint32_t fd);
  void linger(uint32_t fd);
  void read_discard(uint32_t fd);
  CloseReason linger_reason(const Slot& s) const;
  bool room_or_close(uint32_t fd, uint32_t gen, uint32_t recs, size_t bytes, uint32_t meta);
  void listener_drained_check(uint8_t index);

  // Client side (loop_client.cc).
  void client_event(uint32_t fd, uint32_t events);
  void client_connected(uint32_t fd);
  void client_ready(uint32_t fd);
  void client_fail_connect(uint32_t fd, int err);
  void client_window(ClientGroup& G, uint32_t ms);
  void read_client(uint32_t fd);
  bool client_bytes(uint32_t fd, uint8_t* p, size_t n);
  bool client_unit(uint32_t fd, ClientGroup& G, const uint8_t* p, size_t n, size_t* used);
  bool client_answer(uint32_t fd, ClientGroup& G, uint64_t stamp_us);
  bool client_send(uint32_t fd, ClientGroup& G, ClientConn& c, uint64_t stamp_us, bool track);
  void client_open_pump(ClientGroup& G);
  void client_give_up(ClientGroup& G, uint64_t stamp_us, uint64_t now, uint64_t* counter);
  void client_give_up_backlog(ClientGroup& G, uint64_t older_than_us);
  uint64_t client_give_up_ring(ClientGroup& G, ClientConn& c, uint64_t now, uint64_t* counter);
  void client_kick(uint32_t fd, ClientGroup& G);
  void close_client(uint32_t fd, bool peer_closed);
  bool live_client(uint32_t fd, uint32_t gen) const;
  bool client_start_connect(int g);
  static void on_client_timer(uv_timer_t* h);
  void client_tick();
  void update_client_timer();
  static uint64_t now_us();

  void timer_round();
  void flush_out(uint32_t fd);
  int64_t send_or_queue(uint32_t fd, Slot& s, const uint8_t* p, size_t n);
  void on_peer_end(uint32_t fd);
  void begin_end(uint32_t fd);
  void finish_end(uint32_t fd);
  void close_conn(uint32_t fd, CloseReason why, int err);
  void after_queue_drained(uint32_t fd, Slot& s);
  void push_ready(uint32_t fd);
  void emit(uint32_t kind, uint8_t listener, uint32_t fd, uint32_t gen, uint32_t a, uint32_t b);
  void dispatch();
  void move_deferred();
  bool ensure_room(uint32_t recs, size_t bytes, uint32_t meta);
  bool in_arena(const uint8_t* p) const { return p >= v_.arena && p < v_.arena + v_.arena_cap; }
  void update_activity();
  Slot* slot_for(uint32_t fd, uint32_t gen);
  bool grow_table(size_t fd);
  void queued_add(int64_t delta);

  uv_loop_t* uv_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  Poller poller_;              // the readiness source: the core never calls epoll_* itself
  int spare_fd_ = -1;  // held open so EMFILE can be answered by accepting and closing
  // Highest fd a connection may have: the top fds of RLIMIT_NOFILE stay free for the process
  // itself (reading /proc for stats, loading a module), so a full table never starves it.
  uint64_t fd_cap_ = UINT64_MAX;
  bool idle_on_ = false;
  bool ref_on_ = false;
  bool in_round_ = false;     // inside round(): dispatching to JS is allowed
  bool in_dispatch_ = false;  // inside the JS callback
  bool in_ops_ = false;       // executing queued ops
  Views v_{};
  JsHooks hooks_{};
  uint32_t nrec_ = 0;        // records in the current batch
  size_t arena_used_ = 0;
  uint32_t meta_used_ = 0;            // descriptor words used in the current batch
  std::vector<Slot> table_;  // indexed by fd
  std::vector<Listener> listeners_;
  std::vector<uint64_t> ready_;       // fd | gen << 32, served next round
  std::vector<uint64_t> serving_;     // the list being served this round (swapped with ready_)
  std::vector<uint32_t> deferred_;    // records raised while JS is inside a callback
  Protocols protocols_{*this};
  Topics topics_{*this};
  int64_t mem_bufs_ = 0;               // heap bytes of every ByteBuf the engine holds (ByteBuf::acct)
  uint32_t drained_pending_ = 0;       // drained records emitted whose index is not yet free
  Timers timers_{*this};
  uv_timer_t* ctimer_ = nullptr;      // connector pacing: ramps, open loop, heartbeats, timeouts
  uint64_t ctimer_interval_ = 0;
  std::vector<ClientGroup> groups_;
  std::vector<ClientConn> cconn_;     // indexed by fd, for client slots
  uint64_t last_timeout_scan_ms_ = 0;
  uint64_t client_fds_ = 0;           // open client sockets (they keep the loop alive like servers)
  uint32_t mask_seed_ = 0x9e3779b9u;  // WebSocket client masks (xorshift; unpredictability is not a goal here)
  std::vector<uint8_t> compose_;      // a response, frame or client message being composed (any part's)
  uint8_t* scratch_ = nullptr;        // read buffer of the native echo path
  Poller::Event events_[1024];
};

}  // namespace c1m
