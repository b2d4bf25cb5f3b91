// What the bytes of a server connection mean, by its listener's protocol: length-prefixed frames,
// HTTP/1.1 requests (with responses from JS or a native static answer), the WebSocket upgrade
// and WebSocket frames (echo, broadcast through Topics, or messages to JS). Protocols owns the
// request parsed last, the Date header cache, WebSocket messages in reassembly, and the
// connections doomed by a protocol error until JS has answered what they sent before it.
//
// The core reads the socket and cuts the bytes into units (Loop::read_units, deliver_units);
// Protocols says how long a unit is (measure) and handles each complete one (deliver_unit).
// Parsing itself is pure and lives in proto/ (fuzzed separately).
//
// Nothing touches a connection after its close: every call here that can close one (a send, a
// record's dispatch, an error answer) is followed by a liveness check before the slot is read
// again, and a false return tells the caller to stop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "byte_buf.h"
#include "conn_table.h"
#include "proto/http.h"

namespace c1m {

class Loop;

namespace internal {

// A WebSocket message being reassembled from fragments (rare: kept off the slot).
struct WsFragments {
  uint8_t opcode = 0;
  ByteBuf buf;
  uint32_t utf8 = 0;
};

// A connection that broke its protocol while JS still owed answers to what it sent before: it is
// failed (HTTP status, WebSocket close code, or a plain close) once those answers went out.
struct Doom {
  uint64_t tag;
  uint16_t code;       // HTTP status / WebSocket close code to send; 0: just close
  const char* reason;
};

}  // namespace internal

class Protocols {
 public:
  // How long is the message unit at p (a frame, an HTTP request, a WebSocket frame)?
  struct Unit {
    enum Status : uint8_t { kComplete, kIncomplete, kError } status;
    bool total_known;
    size_t total;
    uint16_t code;       // HTTP status or WebSocket close code on kError
    const char* reason;  // short diagnostic on kError
  };

  explicit Protocols(Loop& loop) : loop_(loop) {}
  Protocols(const Protocols&) = delete;
  Protocols& operator=(const Protocols&) = delete;

  // ---- Ops from JS (the addon and Loop::run_ops call these) ----

  // Answers the oldest unanswered request of an HTTP connection: status, extra header lines
  // (CRLF-terminated), body. Adds Content-Length, Date and, for a last request, Connection:
  // close (then ends the connection). Returns false for a stale id or a connection with no
  // request pending.
  bool respond(uint32_t fd, uint32_t gen, uint16_t status, const uint8_t* headers, size_t hlen, const uint8_t* body,
               size_t blen);
  // Sends one unfragmented WebSocket message (opcode 1 text, 2 binary). False for a stale id.
  bool ws_send(uint32_t fd, uint32_t gen, uint8_t opcode, const uint8_t* p, size_t n);
  // Starts the close handshake with code and reason; the connection closes when the peer answers
  // or after its own close frame. False for a stale id.
  bool ws_close(uint32_t fd, uint32_t gen, uint16_t code, const uint8_t* reason, size_t n);

  // ---- The unit read path (Loop::deliver_units) ----

  // Whether the units of this connection go to JS (else they are handled natively).
  static bool unit_to_js(const Slot& s, const Listener& L) {
    if (s.flags & kFlagWs) return L.opt.ws == WsMode::kJs;
    return L.opt.proto == Proto::kFrame || L.opt.proto == Proto::kHttp;
  }
  // Whether an HTTP connection has kMaxPipelined requests unanswered: it is not read further.
  static bool pipeline_full(const Slot& s, const Listener& L) {
    return s.pending >= kMaxPipelined && !(s.flags & kFlagWs) && L.opt.proto == Proto::kHttp;
  }
  // Measures the unit at [p, p+n). For HTTP it parses the request head (kept for deliver_unit).
  Unit measure(const Slot& s, const Listener& L, const uint8_t* p, size_t n);
  // Bytes deliver_unit will copy into the arena for the complete unit at p: a frame that ends a
  // fragmented WebSocket message brings the whole message along. 0 for any other unit.
  size_t message_copy(uint32_t fd, const Slot& s, const uint8_t* p, size_t total) const {
    if (!(s.flags & kFlagWs) || (p[0] & 0x8f) != 0x80) return 0;
    auto fr = frags_.find(fd);
    return fr != frags_.end() ? fr->second.buf.size() + total : 0;
  }
  // Handles one complete unit (in the arena when `placed`); returns false when the connection
  // is gone or must stop reading.
  bool deliver_unit(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed);
  // The start of unit u now waits in the slot's `in` buffer: an HTTP head starts its header
  // timeout; a whole head that expects 100 Continue gets it (or is owed it). False when the
  // connection is gone.
  bool unit_pending(uint32_t fd, Slot& s, const Listener& L, const Unit& u);
  // A unit that cannot be parsed: failed at once natively, or doomed until JS answered what
  // came before it.
  void fail_unit(uint32_t fd, uint32_t gen, uint16_t code, const char* reason);
  // Fails the doomed connections whose earlier units JS has now answered (after each dispatch).
  void reap_doomed();

  // ---- For the core's close and drain paths and for Timers ----

  // Answers an HTTP error (status, reason as the body) and ends the connection with a lingering
  // close; after the answers JS still owes, when there are some.
  void http_fail(uint32_t fd, uint16_t status, const char* reason);
  // Sends one WebSocket frame from the server (unmasked). False when the connection is gone.
  bool send_ws_frame(uint32_t fd, Slot& s, uint8_t opcode, const uint8_t* p, size_t n);
  // Sends our close frame (code, reason cut to 123 bytes) and starts the wait for the peer's.
  // False when the connection is gone.
  bool ws_close_frame(uint32_t fd, uint16_t code, const uint8_t* reason, size_t n);
  // A connection is closing: its message in reassembly, if any, is freed.
  void on_close(uint32_t fd);
  // Frees every message in reassembly (the engine is shutting down).
  void release_all();
  // Heap bytes of what Protocols holds besides the buffers' bytes (counted in the core), in malloc chunks.
  uint64_t memory_bytes() const;

 private:
  bool deliver_http(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed);
  uint32_t write_request_descriptor(const uint8_t* base, const http::Request& req, size_t body_len);
  bool static_respond(uint32_t fd, Slot& s, const Listener& L, const uint8_t* base, const http::Request& req);
  bool send_continue(uint32_t fd, Slot& s);
  bool ws_upgrade(uint32_t fd, uint32_t gen, const uint8_t* p, bool placed);
  bool deliver_ws(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed);
  bool ws_message(uint32_t fd, uint32_t gen, uint8_t opcode, uint8_t* p, size_t n, bool placed);
  void ws_fail(uint32_t fd, uint16_t code, const char* reason);

  Loop& loop_;
  http::Request req_;  // the request measure() parsed last (one at a time)
  http::DateCache date_;
  std::unordered_map<uint32_t, internal::WsFragments> frags_;  // fd -> message in reassembly
  std::vector<internal::Doom> doomed_;                         // protocol violators to fail after the current batch
};

}  // namespace c1m
