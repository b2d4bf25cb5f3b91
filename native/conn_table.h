// The connection table's vocabulary, below every part of the engine: one Slot per fd number and
// its flags, the Listener a server slot belongs to with the options it was opened with, and the
// tag (fd + generation) that names a connection in the readiness source, timers and topics.
#pragma once
#include <cstdint>
#include <string>

#include "byte_buf.h"
#include "records.h"

namespace c1m {

struct ListenOptions {
  Proto proto = Proto::kRaw;
  WsMode ws = WsMode::kOff;
  int backlog = 511;
  bool reuse_port = false;
  bool ipv6_only = false;
  bool uring = false;                     // the io_uring backend (uring.h) instead of epoll, for this listener's connections
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
  // TLS (when the listener has a context, see Listener::tls): how long a handshake may take from
  // accept before the connection is closed (0 = no limit).
  uint32_t tls_handshake_timeout_ms = 10000;
};

struct TlsContext;

struct Listener {
  int fd = -1;          // -1 once closed
  bool in_use = false;   // the index stays taken until JS has been handed its drained record
  bool closing = false;  // stopped accepting; drained when active reaches 0
  bool drained = false;  // the drained record was emitted; the index is freed once it is dispatched
  ListenOptions opt;
  TlsContext* tls = nullptr;  // opt.tls: the context its connections share (owned; freed at close)
  uint64_t active = 0;
  // no_delay: set on the listening socket, which Linux copies to each accepted one; checked on
  // the first accept (-1: not yet, 1: inherited, 0: set on every accepted socket instead).
  int8_t no_delay_inherited = -1;

  // Whether JS hears of this listener's connections (open/close/end/drain records).
  bool is_js() const {
    return opt.proto == Proto::kRaw || opt.proto == Proto::kFrame || opt.proto == Proto::kHttp || opt.ws == WsMode::kJs;
  }
  // Whether its connections speak HTTP/1.1 (and may upgrade to WebSocket).
  bool is_http() const { return opt.proto == Proto::kHttp || opt.proto == Proto::kHttpStatic; }
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
  kFlagCorked = 1 << 20,     // `out` holds this round's output, not yet sent (see Loop::send_or_queue)
  kFlagUring = 1 << 21,      // served by the io_uring backend: `out` (when not corked) is the send in flight
  kFlagTls = 1 << 22,        // bytes pass through TLS (tls.h): reads are decrypted, `out` holds ciphertext unless corked
  kFlagTlsHandshake = 1 << 23, // its TLS handshake has not finished: JS has not been told of it (no open, end, drain or close record)
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
  uint8_t listener = 0;  // its listener's index (a client slot: its group's)
  uint16_t pending = 0;  // HTTP: requests delivered to JS and not yet answered (<= kMaxPipelined)
  uint32_t flags = 0;
  // WebSocket: topics subscribed (0: nothing to clean up at close). HTTP: one bit per pending
  // request, oldest in bit 0, set for HEAD (its answer carries no body).
  uint32_t topics = 0;
  ByteBuf* in = nullptr;   // partial frame/request, only while one is pending
  ByteBuf* out = nullptr;  // unsent bytes, only while some are queued
};
static_assert(sizeof(Slot) == 32);

constexpr uint32_t kGenMask = (1u << 21) - 1;  // ids are fd + gen * 2^32 and must stay below 2^53

namespace internal {

// A connection's tag: fd | gen << 32. It is what the readiness source, the still-ready list and
// topic member lists hold, so a stale entry never reaches a reused fd.
inline uint64_t tag_of(uint32_t fd, uint32_t gen) { return uint64_t(fd) | (uint64_t(gen) << 32); }

}  // namespace internal

}  // namespace c1m
