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
#include "counters.h"
#include "histogram.h"
#include "poller.h"
#include "proto/http.h"
#include "timer_wheel.h"

namespace c1m {

// What a listener does with the bytes of its connections.
enum class Proto : uint8_t {
  kRaw = 0,         // bytes to JS as DATA records
  kEcho = 1,        // native echo, no JS at all (the I/O floor)
  kFrame = 2,       // 4-byte big-endian length-prefixed frames to JS as FRAME records
  kFrameEcho = 3,   // frames parsed and echoed natively (the floor for frame-echo)
  kHttp = 4,        // HTTP/1.1 requests to JS as REQUEST records; responses via respond ops
  kHttpStatic = 5,  // HTTP/1.1 answered natively: GET <static path> -> 200 body, else 404
};

// What an HTTP listener does with a valid WebSocket upgrade request.
enum class WsMode : uint8_t {
  kOff = 0,        // upgrades are answered 404 like any other unknown request
  kJs = 1,         // WS_OPEN / WS_MESSAGE records to JS
  kEcho = 2,       // every message echoed natively with its opcode
  kBroadcast = 3,  // joins the topic named by ?room=NAME; every message is published to it natively
};

// Record kinds crossing into JS. A record is kRecordWords uint32 words:
// [kind | detail << 8 | listener << 16, fd, gen, a, b]; a/b and detail are given per kind.
enum RecordKind : uint32_t {
  kRecOpen = 1,     // a connection was accepted
  kRecData = 2,     // a = arena offset, b = length
  kRecFrame = 3,    // a = arena offset of the payload, b = payload length
  kRecEnd = 4,      // the peer half-closed (read returned 0)
  kRecClose = 5,    // a = CloseReason, b = errno (0 if none); the id is dead afterwards
  kRecDrain = 6,    // the write queue emptied after having held bytes
  kRecListenerDrained = 7,  // fd = listener index: it is closed and its last connection is gone
  kRecRequest = 8,  // a = arena offset of the request descriptor (uint32 words, see below), b = its word count
  kRecWsOpen = 9,   // upgrade done; a/b as for kRecRequest (the upgrade request)
  kRecWsMessage = 10,  // a = arena offset, b = length; detail = opcode (1 text, 2 binary)
};
constexpr uint32_t kRecordWords = 5;

// Request descriptor written into the arena (4-byte aligned) for kRecRequest/kRecWsOpen. All
// offsets are arena offsets. Words: [0] method off [1] method len [2] target off [3] target len
// [4] path len [5] version_minor | keep_alive << 8 | upgrade << 9 [6] body off [7] body len
// [8] header count, then 4 words per header: name off, name len, value off, value len.
constexpr uint32_t kReqFixedWords = 9;

enum CloseReason : uint32_t {
  kCloseGraceful = 1,     // both directions finished (end() flushed and peer ended)
  kCloseLocal = 2,        // close() or server shutdown: queued bytes dropped
  kCloseReset = 3,        // the peer reset the connection
  kCloseError = 4,        // another I/O error (errno in b)
  kCloseProtocol = 5,     // the peer broke the protocol (bad frame, bad HTTP, WS violation)
  kCloseBackpressure = 6, // the write queue exceeded maxQueuedBytes
  kCloseNoMemory = 7,     // a buffer could not be allocated
  kCloseTimeout = 8,      // idle timeout, no pong to a heartbeat ping, a close or FIN never answered
  kCloseHeaderTimeout = 9,  // an HTTP request head did not arrive whole within headerTimeoutMs (408 sent)
};

// Operations JS queues in the shared ops buffer while a batch callback runs; executed by the
// engine right after the callback returns (one boundary crossing per round, both ways).
// An op is kRecordWords words: [op | arg << 16, fd, gen, offset in out arena, length].
enum OpKind : uint32_t {
  kOpWrite = 1,
  kOpEnd = 2,       // graceful: flush, then FIN
  kOpClose = 3,     // immediate: drop queued bytes
  kOpWriteEnd = 4,  // write, then end
  kOpPause = 5,
  kOpResume = 6,
  kOpRespond = 7,   // arg = status; bytes = u32 extra-header length, extra header lines, body
  kOpWsSend = 8,    // arg = opcode (1 text, 2 binary); bytes = payload
  kOpWsClose = 9,   // arg = close code; bytes = reason
};

struct ListenOptions {
  Proto proto = Proto::kRaw;
  WsMode ws = WsMode::kOff;
  int backlog = 511;
  bool reuse_port = false;
  bool ipv6_only = false;
  bool no_delay = true;
  bool allow_half_open = false;
  uint32_t max_frame = 1u << 20;          // frame payload bytes; WebSocket message bytes
  uint32_t read_budget = 256u << 10;      // bytes per connection per round
  // Native paths (echo, frame-echo, HTTP, WebSocket echo) stop reading a connection whose queued
  // answers exceed this many bytes, and read again once the queue is flushed.
  uint64_t high_water = 1u << 20;
  uint64_t max_queued = 16u << 20;        // 0 = unbounded; above it the connection is closed (backpressure)
  uint32_t max_header_bytes = 8192;       // HTTP request head
  uint32_t max_body = 1u << 20;           // HTTP Content-Length
  uint32_t idle_timeout_ms = 120000;      // 0 = none: close a connection silent this long
  uint32_t header_timeout_ms = 10000;     // HTTP: a request head must arrive whole this long after its first byte (0 = none)
  uint32_t linger_ms = 5000;              // after our FIN (end, a last response, an error): the wait for the peer's
  uint32_t ping_interval_ms = 0;          // WebSocket heartbeat: ping this often, close if no pong by the next
  uint32_t ws_close_timeout_ms = 5000;    // WebSocket: after our close frame, wait this long for the peer's
  uint32_t max_topic_name = 256;          // bytes of a topic (room) name
  uint32_t max_topics = 65536;            // topics alive at once in this thread's engine
  std::string static_path = "/";          // kHttpStatic: the path answered 200
  std::string static_body = "Hello, World!";
  std::string static_type = "text/plain";
};

struct Listener {
  int fd = -1;          // -1 once closed
  bool in_use = false;   // the index stays taken until JS has been handed its drained record
  bool closing = false;  // stopped accepting; drained when active reaches 0
  bool drained = false;  // the drained record was emitted; the index is freed once it is dispatched
  ListenOptions opt;
  uint64_t active = 0;
};

// A publish/subscribe topic: members are connection tags (fd | gen << 32). A member leaves when
// it unsubscribes or closes (each subscription knows its position, so leaving is O(1)); the
// topic is freed with its last member.
struct Topic {
  const std::string* name = nullptr;  // the key in Loop::topic_ids_ (node-based: stable)
  std::vector<uint64_t> members;
};

// One connection's topic memberships: the topic and the member's index in Topic::members.
struct Subscription {
  uint32_t topic;
  uint32_t index;
};

// Slot flags.
enum : uint32_t {
  kFlagInReady = 1 << 0,     // on the still-ready list
  kFlagPeerEnded = 1 << 1,   // read returned 0
  kFlagEndPending = 1 << 2,  // end() requested: FIN after the queue drains
  kFlagWriteShut = 1 << 3,   // FIN sent
  kFlagPausedJs = 1 << 4,    // pause() from JS
  kFlagPausedBp = 1 << 5,    // a native path's queued answers passed high_water: not read until flushed
  kFlagRdHup = 1 << 6,       // EPOLLRDHUP/EPOLLHUP seen: read until 0, a short read is not the end
  kFlagDrainWanted = 1 << 7, // bytes were queued: send kRecDrain when the queue empties
  kFlagDoomed = 1 << 8,      // broke the protocol: not read again, closed once JS answered what came before
  kFlagWs = 1 << 9,          // upgraded to WebSocket
  kFlagHttpLast = 1 << 10,   // a request asked to close: no more requests are read
  kFlagHttp10 = 1 << 11,     // HTTP/1.0 keep-alive client: responses say Connection: keep-alive
  kFlagPingOut = 1 << 12,    // a heartbeat ping is unanswered
  kFlagWsClosing = 1 << 13,  // we sent a close frame
  kFlagLinger = 1 << 14,     // error close: our side is shut, input is read and dropped until the peer's FIN
  kFlagPausedPipe = 1 << 15, // HTTP: kMaxPipelined requests unanswered; reading waits for answers
  kFlagDraining = 1 << 16,   // its listener is closing gracefully: nothing new is read from the socket
  kFlagContinued = 1 << 17,  // HTTP: 100 Continue sent for the request being received
  kFlagExpectWait = 1 << 18, // HTTP: 100 Continue owed once the earlier requests are answered
  kFlagHeadTimer = 1 << 19,  // HTTP: the deadline wheel holds this connection's header timeout
};

// HTTP requests one connection may have delivered to JS and not yet had answered; beyond it the
// connection is not read until answers go out (the HEAD bits of Slot::topics hold exactly this many).
constexpr uint32_t kMaxPipelined = 32;

enum class SlotKind : uint8_t { kFree = 0, kListener = 1, kConn = 2, kClient = 3 };

// One per fd number. An idle connection costs exactly this (32 bytes) in user space, plus 16
// bytes in the idle wheel when it has a timeout.
struct Slot {
  uint32_t gen = 0;  // bumped at every close, so a stale id never reaches a reused fd
  SlotKind kind = SlotKind::kFree;
  uint8_t listener = 0;
  uint16_t pending = 0;  // HTTP: requests delivered to JS and not yet answered (<= kMaxPipelined)
  uint32_t flags = 0;
  // WebSocket: topics subscribed (0: nothing to clean up at close). HTTP: one bit per pending
  // request, oldest in bit 0, set for HEAD (its answer carries no body).
  uint32_t topics = 0;
  ByteBuf* in = nullptr;   // partial frame/request, only while one is pending
  ByteBuf* out = nullptr;  // unsent bytes, only while some are queued
};
static_assert(sizeof(Slot) == 32);

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

  // Answers the oldest unanswered request of an HTTP connection: status, extra header lines
  // (CRLF-terminated), body. Adds Content-Length, Date and, for a last request, Connection:
  // close (then ends the connection). Returns false for a stale id or a connection with no
  // request pending.
  bool respond(uint32_t fd, uint32_t gen, uint16_t status, const uint8_t* headers, size_t hlen,
               const uint8_t* body, size_t blen);
  // Sends one unfragmented WebSocket message (opcode 1 text, 2 binary). False for a stale id.
  bool ws_send(uint32_t fd, uint32_t gen, uint8_t opcode, const uint8_t* p, size_t n);
  // Starts the close handshake with code and reason; the connection closes when the peer answers
  // or after its own close frame. False for a stale id.
  bool ws_close(uint32_t fd, uint32_t gen, uint16_t code, const uint8_t* reason, size_t n);
  // Adds a WebSocket connection to a topic (idempotent). 1 on success; 0 for a stale id or a
  // connection that is not a WebSocket; kTopicNameTooLong / kTooManyTopics when its listener's
  // bounds refuse it.
  static constexpr int kTopicNameTooLong = -1;
  static constexpr int kTooManyTopics = -2;
  int subscribe(uint32_t fd, uint32_t gen, std::string_view topic);
  // Removes it. False for a stale id or when it was not subscribed.
  bool unsubscribe(uint32_t fd, uint32_t gen, std::string_view topic);
  // Sends one message to every member of a topic natively; returns the number of deliveries.
  uint64_t publish(std::string_view topic, uint8_t opcode, const uint8_t* p, size_t n);
  // Members of a topic right now (closed ones not yet pruned are not counted).
  uint64_t topic_size(std::string_view topic);

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

 private:
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

  // How long is the message unit at p (a frame, an HTTP request, a WebSocket frame)?
  struct Unit {
    enum Status : uint8_t { kComplete, kIncomplete, kError } status;
    bool total_known;
    size_t total;
    uint16_t code;       // HTTP status or WebSocket close code on kError
    const char* reason;  // short diagnostic on kError
  };
  Unit measure(const Slot& s, const Listener& L, const uint8_t* p, size_t n);
  // Handles one complete unit; returns false when the connection is gone or must stop reading.
  bool deliver_unit(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool in_arena);
  bool deliver_http(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool in_arena);
  bool deliver_ws(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool in_arena);
  bool ws_message(uint32_t fd, uint32_t gen, uint8_t opcode, uint8_t* p, size_t n, bool in_arena);
  bool ws_upgrade(uint32_t fd, uint32_t gen, const uint8_t* p, bool in_arena);
  void http_fail(uint32_t fd, uint16_t status, const char* reason);
  bool send_continue(uint32_t fd, Slot& s);
  void note_queue(Slot& s, const Listener& L, int64_t queued);
  bool buffered_unit(uint32_t fd);
  void drain_conn(uint32_t fd);
  void drain_step(uint32_t fd);
  void linger(uint32_t fd);
  void read_discard(uint32_t fd);
  CloseReason linger_reason(const Slot& s) const;
  bool room_or_close(uint32_t fd, uint32_t gen, uint32_t recs, size_t bytes, uint32_t meta);
  void listener_drained_check(uint8_t index);
  bool ws_close_frame(uint32_t fd, uint16_t code, const uint8_t* reason, size_t n);
  void ws_fail(uint32_t fd, uint16_t code, const char* reason);
  bool send_ws_frame(uint32_t fd, Slot& s, uint8_t opcode, const uint8_t* p, size_t n);
  bool static_respond(uint32_t fd, Slot& s, const Listener& L, const uint8_t* base, const http::Request& req);
  uint32_t write_request_descriptor(const uint8_t* base, const http::Request& req, size_t body_len);
  void drop_subscriptions(uint32_t fd);
  uint32_t topic_id(std::string_view name);
  uint32_t topic_create(std::string_view name);
  void topic_leave(uint32_t topic, uint32_t index);

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

  static void on_timer(uv_timer_t* h);
  void schedule_timer();
  void fire_timers();
  void on_wheel(uint32_t fd, uint8_t kind);
  void timers_on_accept(uint32_t fd, const Listener& L);
  void timers_on_activity(uint32_t fd, const Listener& L);
  void timers_on_close(uint32_t fd, const Listener& L);
  void timers_on_ws_closing(uint32_t fd, const Listener& L);
  void timers_on_deadline(uint32_t fd, uint32_t ms);
  uint64_t publish_id(uint32_t id, uint8_t opcode, const uint8_t* p, size_t n);
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
  void reap_doomed();
  void fail_unit(uint32_t fd, uint32_t gen, uint16_t code, const char* reason);
  bool in_arena(const uint8_t* p) const { return p >= v_.arena && p < v_.arena + v_.arena_cap; }
  // Whether the units of this connection go to JS (else they are handled natively).
  bool unit_to_js(const Slot& s, const Listener& L) const {
    if (s.flags & kFlagWs) return L.opt.ws == WsMode::kJs;
    return L.opt.proto == Proto::kFrame || L.opt.proto == Proto::kHttp;
  }
  void update_activity();
  Slot* slot_for(uint32_t fd, uint32_t gen);
  bool is_http(const Listener& L) const { return L.opt.proto == Proto::kHttp || L.opt.proto == Proto::kHttpStatic; }
  bool grow_table(size_t fd);
  // Whether JS hears of this listener's connections (open/close/end/drain records).
  bool is_js(const Listener& L) const {
    return L.opt.proto == Proto::kRaw || L.opt.proto == Proto::kFrame || L.opt.proto == Proto::kHttp ||
           L.opt.ws == WsMode::kJs;
  }
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
  struct Doom {
    uint64_t tag;
    uint16_t code;       // HTTP status / WebSocket close code to send; 0: just close
    const char* reason;
  };
  std::vector<Doom> doomed_;          // protocol violators to fail after the current batch
  std::vector<Topic> topics_;                  // indexed by topic id; a freed id goes on free_topics_
  std::vector<uint32_t> free_topics_;
  uint64_t live_topics_ = 0;
  std::unordered_map<std::string, uint32_t> topic_ids_;
  std::unordered_map<uint32_t, std::vector<Subscription>> subs_;  // fd -> memberships (only subscribed fds)
  int64_t mem_bufs_ = 0;               // heap bytes of every ByteBuf the engine holds (ByteBuf::acct)
  uint32_t drained_pending_ = 0;       // drained records emitted whose index is not yet free
  std::unordered_map<uint32_t, WsFragments> frags_;           // fd -> message in reassembly
  http::Request req_;                 // the request measure() parsed last (one at a time)
  http::DateCache date_;
  TimerWheel idle_wheel_{50, 4096, 0};  // 50 ms ticks; longer timeouts are relinked lazily
  // One deadline per connection, whose meaning its state gives: the WebSocket heartbeat, the wait
  // for the peer's close frame, the wait for its FIN after ours (lingering), an HTTP head timeout.
  TimerWheel deadline_wheel_{50, 4096, 1};
  uv_timer_t* timer_ = nullptr;
  uv_timer_t* ctimer_ = nullptr;      // connector pacing: ramps, open loop, heartbeats, timeouts
  uint64_t ctimer_interval_ = 0;
  std::vector<ClientGroup> groups_;
  std::vector<ClientConn> cconn_;     // indexed by fd, for client slots
  uint64_t last_timeout_scan_ms_ = 0;
  uint64_t client_fds_ = 0;           // open client sockets (they keep the loop alive like servers)
  uint32_t mask_seed_ = 0x9e3779b9u;  // WebSocket client masks (xorshift; unpredictability is not a goal here)
  uint64_t timer_due_ = TimerWheel::kNever;
  std::vector<uint8_t> resp_;         // response / WebSocket frame being composed
  uint8_t* scratch_ = nullptr;        // read buffer of the native echo path
  Poller::Event events_[1024];
};

}  // namespace c1m
