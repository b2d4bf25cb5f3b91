// The engine: one Loop per Node environment (main thread or worker), driving an
// edge-triggered epoll set from inside libuv. loop.cc holds the policy (what readiness means
// for a listener or a connection); epoll_backend.cc holds the syscalls.
#pragma once
#include <sys/epoll.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "byte_buf.h"
#include "counters.h"

namespace c1m {

// What a listener does with the bytes of its connections.
enum class Proto : uint8_t {
  kRaw = 0,        // bytes to JS as DATA records
  kEcho = 1,       // native echo, no JS at all (the I/O floor)
  kFrame = 2,      // 4-byte big-endian length-prefixed frames to JS as FRAME records
  kFrameEcho = 3,  // frames parsed and echoed natively (the floor for frame-echo)
};

// Record kinds crossing into JS. A record is kRecordWords uint32 words:
// [kind | listener << 16, fd, gen, a, b]; the meaning of a/b is given per kind.
enum RecordKind : uint32_t {
  kRecOpen = 1,     // a connection was accepted
  kRecData = 2,     // a = arena offset, b = length
  kRecFrame = 3,    // a = arena offset of the payload, b = payload length
  kRecEnd = 4,      // the peer half-closed (read returned 0)
  kRecClose = 5,    // a = CloseReason, b = errno (0 if none); the id is dead afterwards
  kRecDrain = 6,    // the write queue emptied after having held bytes
  kRecListenerDrained = 7,  // fd = listener index: it is closed and its last connection is gone
};
constexpr uint32_t kRecordWords = 5;

enum CloseReason : uint32_t {
  kCloseGraceful = 1,     // both directions finished (end() flushed and peer ended)
  kCloseLocal = 2,        // close() or server shutdown: queued bytes dropped
  kCloseReset = 3,        // the peer reset the connection
  kCloseError = 4,        // another I/O error (errno in b)
  kCloseProtocol = 5,     // the peer broke the framing (e.g. a frame over the maximum)
  kCloseBackpressure = 6, // the write queue exceeded maxQueuedBytes
  kCloseNoMemory = 7,     // a buffer could not be allocated
};

// Operations JS queues in the shared ops buffer while a batch callback runs; executed by the
// engine right after the callback returns (one boundary crossing per round, both ways).
// An op is kRecordWords words: [op, fd, gen, offset in out arena, length].
enum OpKind : uint32_t {
  kOpWrite = 1,
  kOpEnd = 2,       // graceful: flush, then FIN
  kOpClose = 3,     // immediate: drop queued bytes
  kOpWriteEnd = 4,  // write, then end
  kOpPause = 5,
  kOpResume = 6,
};

struct ListenOptions {
  Proto proto = Proto::kRaw;
  int backlog = 511;
  bool reuse_port = false;
  bool ipv6_only = false;
  bool no_delay = true;
  bool allow_half_open = false;
  uint32_t max_frame = 1u << 20;          // frame payload bytes
  uint32_t read_budget = 256u << 10;      // bytes per connection per round
  uint64_t high_water = 1u << 20;         // native echo pauses reading above this many queued bytes
  uint64_t max_queued = 0;                // 0 = unbounded; above it the connection is closed
};

struct Listener {
  int fd = -1;          // -1 once closed
  bool in_use = false;
  bool closing = false;  // stopped accepting; drained when active reaches 0
  ListenOptions opt;
  uint64_t active = 0;
};

// Slot flags.
enum : uint16_t {
  kFlagInReady = 1 << 0,     // on the still-ready list
  kFlagPeerEnded = 1 << 1,   // read returned 0
  kFlagEndPending = 1 << 2,  // end() requested: FIN after the queue drains
  kFlagWriteShut = 1 << 3,   // FIN sent
  kFlagPausedJs = 1 << 4,    // pause() from JS
  kFlagPausedBp = 1 << 5,    // native echo paused by its own write queue
  kFlagRdHup = 1 << 6,       // EPOLLRDHUP/EPOLLHUP seen: read until 0, a short read is not the end
  kFlagDrainWanted = 1 << 7, // bytes were queued: send kRecDrain when the queue empties
  kFlagDoomed = 1 << 8,      // broke the protocol: not read again, closed once JS answered what came before
};

enum class SlotKind : uint8_t { kFree = 0, kListener = 1, kConn = 2 };

// One per fd number. An idle connection costs exactly this (24 bytes) in user space.
struct Slot {
  uint32_t gen = 0;  // bumped at every close, so a stale id never reaches a reused fd
  SlotKind kind = SlotKind::kFree;
  uint8_t listener = 0;
  uint16_t flags = 0;
  ByteBuf* in = nullptr;   // partial frame, only while one is pending
  ByteBuf* out = nullptr;  // unsent bytes, only while some are queued
};
static_assert(sizeof(Slot) == 24);

constexpr uint32_t kGenMask = (1u << 21) - 1;  // ids are fd + gen * 2^32 and must stay below 2^53

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
  // Stops accepting. graceful: existing connections end() and the listener reports drained;
  // otherwise they are closed at once. Returns false for an unknown index.
  bool close_listener(int index, bool graceful);

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
  // True while fd holds the connection with this generation.
  bool live(uint32_t fd, uint32_t gen) const;
  // Executes the ops JS queued so far (JS calls it when its ops buffer fills mid-callback).
  void run_ops();

 private:
  static void on_poll(uv_poll_t* h, int status, int events);
  static void on_idle(uv_idle_t* h);

  void round();
  void handle_event(const epoll_event& ev);
  void serve_ready();
  void accept_all(uint32_t lfd);
  void read_conn(uint32_t fd);
  void read_echo(uint32_t fd, Slot& s, const Listener& L);
  void read_raw(uint32_t fd);
  void read_frames(uint32_t fd);
  bool deliver_frames(uint32_t fd, uint32_t gen, uint8_t* p, size_t n);
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
  bool ensure_room(uint32_t recs, size_t bytes);
  void reap_doomed();
  void update_activity();
  Slot* slot_for(uint32_t fd, uint32_t gen);
  bool grow_table(size_t fd);
  bool is_js(const Listener& L) const { return L.opt.proto == Proto::kRaw || L.opt.proto == Proto::kFrame; }
  void queued_add(int64_t delta);

  uv_loop_t* uv_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  int epfd_ = -1;
  int spare_fd_ = -1;  // held open so EMFILE can be answered by accepting and closing
  bool idle_on_ = false;
  bool ref_on_ = false;
  bool in_round_ = false;     // inside round(): dispatching to JS is allowed
  bool in_dispatch_ = false;  // inside the JS callback
  bool in_ops_ = false;       // executing queued ops
  Views v_{};
  JsHooks hooks_{};
  uint32_t nrec_ = 0;        // records in the current batch
  size_t arena_used_ = 0;
  std::vector<Slot> table_;  // indexed by fd
  std::vector<Listener> listeners_;
  std::vector<uint64_t> ready_;       // fd | gen << 32, served next round
  std::vector<uint64_t> serving_;     // the list being served this round (swapped with ready_)
  std::vector<uint32_t> deferred_;    // records raised while JS is inside a callback
  std::vector<uint64_t> doomed_;      // protocol violators to close after the current batch
  uint8_t* scratch_ = nullptr;        // read buffer of the native echo path
  epoll_event events_[1024];
};

}  // namespace c1m
