// The vocabulary that crosses into JS: record kinds, op kinds, close reasons, the layout of a
// record and of a request descriptor, and the protocol and WebSocket-mode codes a listener is
// opened with. Each list is written once, as an X-macro: the enums the engine uses and the
// tables the addon exports (addon.cc: recordKinds, opKinds, closeReasons, protocols, wsModes)
// are both generated from it, and test/engine-constants.test.ts fails when
// src/engine/records.ts disagrees with what the addon exports.
#pragma once
#include <cstdint>

namespace c1m {

// Record kinds crossing into JS. A record is kRecordWords uint32 words:
// [kind | detail << 8 | listener << 16, fd, gen, a, b]; a/b and detail are given per kind.
// X(name, code): the enum is kRec<name>; JS sees Rec.<name>.
#define C1M_RECORD_KINDS(X)                                                                          \
  X(Open, 1)             /* a connection was accepted */                                            \
  X(Data, 2)             /* a = arena offset, b = length */                                         \
  X(Frame, 3)            /* a = arena offset of the payload, b = payload length */                  \
  X(End, 4)              /* the peer half-closed (read returned 0) */                               \
  X(Close, 5)            /* a = CloseReason, b = errno (0 if none); the id is dead afterwards */    \
  X(Drain, 6)            /* the write queue emptied after having held bytes */                      \
  X(ListenerDrained, 7)  /* fd = listener index: it is closed and its last connection is gone */    \
  X(Request, 8)          /* a = arena offset of the request descriptor (see below), b = its words */ \
  X(WsOpen, 9)           /* upgrade done; a/b as for Request (the upgrade request) */               \
  X(WsMessage, 10)       /* a = arena offset, b = length; detail = opcode (1 text, 2 binary) */

enum RecordKind : uint32_t {
#define C1M_ENUM(name, code) kRec##name = code,
  C1M_RECORD_KINDS(C1M_ENUM)
#undef C1M_ENUM
};
constexpr uint32_t kRecordWords = 5;

// Request descriptor written into the arena (4-byte aligned) for kRecRequest/kRecWsOpen. All
// offsets are arena offsets. Words: [0] method off [1] method len [2] target off [3] target len
// [4] path len [5] version_minor | keep_alive << 8 | upgrade << 9 [6] body off [7] body len
// [8] header count, then 4 words per header: name off, name len, value off, value len.
constexpr uint32_t kReqFixedWords = 9;

// Why a connection closed (word 3 of a kRecClose record).
// X(name, JS name, code): the enum is kClose<name>; JS sees CloseReason[code] = JS name.
#define C1M_CLOSE_REASONS(X)                                                                          \
  X(Graceful, "graceful", 1)          /* both directions finished (end() flushed and peer ended) */   \
  X(Local, "local", 2)                /* close() or server shutdown: queued bytes dropped */          \
  X(Reset, "reset", 3)                /* the peer reset the connection */                             \
  X(Error, "error", 4)                /* another I/O error (errno in b) */                            \
  X(Protocol, "protocol", 5)          /* the peer broke the protocol (bad frame, bad HTTP, WS violation) */ \
  X(Backpressure, "backpressure", 6)  /* the write queue exceeded maxQueuedBytes */                   \
  X(NoMemory, "no-memory", 7)         /* a buffer could not be allocated */                           \
  X(Timeout, "timeout", 8)            /* idle timeout, no pong to a heartbeat ping, a close or FIN never answered */ \
  X(HeaderTimeout, "header-timeout", 9) /* an HTTP request head did not arrive whole within headerTimeoutMs (408 sent) */

enum CloseReason : uint32_t {
#define C1M_ENUM(name, js, code) kClose##name = code,
  C1M_CLOSE_REASONS(C1M_ENUM)
#undef C1M_ENUM
};

// Operations JS queues in the shared ops buffer while a batch callback runs; executed by the
// engine right after the callback returns (one boundary crossing per round, both ways).
// An op is kRecordWords words: [op | arg << 16, fd, gen, offset in out arena, length].
// X(name, code): the enum is kOp<name>; JS sees Op.<name>.
#define C1M_OP_KINDS(X)                                                                      \
  X(Write, 1)                                                                                \
  X(End, 2)        /* graceful: flush, then FIN */                                           \
  X(Close, 3)      /* immediate: drop queued bytes */                                        \
  X(WriteEnd, 4)   /* write, then end */                                                     \
  X(Pause, 5)                                                                                \
  X(Resume, 6)                                                                               \
  X(Respond, 7)    /* arg = status; bytes = u32 extra-header length, extra header lines, body */ \
  X(WsSend, 8)     /* arg = opcode (1 text, 2 binary); bytes = payload */                    \
  X(WsClose, 9)    /* arg = close code; bytes = reason */

enum OpKind : uint32_t {
#define C1M_ENUM(name, code) kOp##name = code,
  C1M_OP_KINDS(C1M_ENUM)
#undef C1M_ENUM
};

// What a listener does with the bytes of its connections.
// X(name, JS name, code): the enum is Proto::k<name>; JS sees ProtoCode[JS name] = code.
#define C1M_PROTOCOLS(X)                                                                              \
  X(Raw, "raw", 0)               /* bytes to JS as DATA records */                                    \
  X(Echo, "echo", 1)             /* native echo, no JS at all (the I/O floor) */                      \
  X(Frame, "frame", 2)           /* 4-byte big-endian length-prefixed frames to JS as FRAME records */ \
  X(FrameEcho, "frame-echo", 3)  /* frames parsed and echoed natively (the floor for frame-echo) */   \
  X(Http, "http", 4)             /* HTTP/1.1 requests to JS as REQUEST records; responses via respond ops */ \
  X(HttpStatic, "http-static", 5) /* HTTP/1.1 answered natively: GET <static path> -> 200 body, else 404 */

enum class Proto : uint8_t {
#define C1M_ENUM(name, js, code) k##name = code,
  C1M_PROTOCOLS(C1M_ENUM)
#undef C1M_ENUM
};

// What an HTTP listener does with a valid WebSocket upgrade request.
// X(name, JS name, code): the enum is WsMode::k<name>; JS sees WsModeCode[JS name] = code.
#define C1M_WS_MODES(X)                                                                          \
  X(Off, "off", 0)              /* upgrades are answered 404 like any other unknown request */   \
  X(Js, "js", 1)                /* WS_OPEN / WS_MESSAGE records to JS */                         \
  X(Echo, "echo", 2)            /* every message echoed natively with its opcode */              \
  X(Broadcast, "broadcast", 3)  /* joins the topic named by ?room=NAME; every message is published to it natively */

enum class WsMode : uint8_t {
#define C1M_ENUM(name, js, code) k##name = code,
  C1M_WS_MODES(C1M_ENUM)
#undef C1M_ENUM
};

}  // namespace c1m
