// WebSocket (RFC 6455) pieces that need no socket: frame header parse/encode, unmasking, the
// opening handshake (validation, accept key, 101 response), UTF-8 and close-payload checks.
// Pure functions over byte ranges: no allocation, no exceptions, never a read past p + n.
#pragma once
#include <cstddef>
#include <cstdint>

#include "proto/http.h"

namespace c1m::ws {

enum Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

constexpr size_t kMaxHeaderBytes = 14;       // 2 + 8-byte length + 4-byte mask
constexpr uint64_t kMaxControlPayload = 125;

// Close codes this module returns.
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseInvalidPayload = 1007;  // bad UTF-8
constexpr uint16_t kCloseTooBig = 1009;

struct FrameHeader {
  bool fin;
  uint8_t rsv;     // the three RSV bits, 0..7 (always 0 on kComplete: we negotiate no extensions)
  uint8_t opcode;
  bool masked;
  uint8_t mask[4];  // zeros when !masked
  uint64_t payload_len;
  uint8_t header_len;  // 2..14; the payload starts at p + header_len
};

enum class Status : uint8_t { kComplete, kIncomplete, kError };

// close_code and reason are set on kError only (0 and nullptr otherwise); reason is a short static
// diagnostic that fits a close frame (< 123 bytes, ASCII).
struct Result {
  Status status;
  uint16_t close_code;
  const char* reason;
};

// Parses one frame header at p (n bytes available) into *out. Errors as soon as the bytes present
// show them: RSV bits set, unknown opcode, fragmented or >125-byte control frame, mask bit !=
// expect_masked, 64-bit length with the top bit set (1002); payload_len > max_payload (1009).
// Non-minimal length encodings are accepted.
Result parse_header(const uint8_t* p, size_t n, bool expect_masked, uint64_t max_payload, FrameHeader* out);

// XORs n payload bytes in place with mask; offset = payload bytes of this frame already unmasked,
// so a payload may be unmasked in pieces of any size.
void unmask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset);

// Writes a frame header (2..10 bytes, +4 mask bytes if mask != nullptr) into out (room for 14);
// returns its length. RSV bits are zero; opcode is taken mod 16.
size_t encode_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t payload_len, const uint8_t* mask);

constexpr size_t kAcceptKeyLen = 28;

// Writes base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) to out (28 chars, no NUL).
void accept_key(const uint8_t* key, size_t key_len, char out[kAcceptKeyLen]);

// Reasons validate_upgrade returns; compare by pointer. kBadVersion deserves a 426 with
// "Sec-WebSocket-Version: 13" (RFC 6455 4.4); every other reason a 400.
extern const char* const kNotGet;
extern const char* const kNotHttp11;
extern const char* const kNotUpgrade;
extern const char* const kMissingVersion;
extern const char* const kBadVersion;
extern const char* const kDuplicateVersion;
extern const char* const kMissingKey;
extern const char* const kBadKey;
extern const char* const kDuplicateKey;

// Checks a request parsed by http::parse_request (base = its first byte) for a valid opening
// handshake: GET, HTTP/1.1, Upgrade: websocket + Connection: upgrade, exactly one
// Sec-WebSocket-Version equal to 13, exactly one Sec-WebSocket-Key that is base64 of 16 bytes.
// Returns nullptr if valid, else one of the reasons above.
const char* validate_upgrade(const uint8_t* base, const http::Request& req);

// Writes the 101 Switching Protocols response carrying accept into out; returns its length, or 0
// if cap is too small.
size_t write_upgrade_response(char* out, size_t cap, const char accept[kAcceptKeyLen]);

// Incremental UTF-8 validator state; zero-initialise ({0}) to start a message.
struct Utf8State {
  uint32_t state;
};

// Feeds n more bytes; returns false as soon as the bytes so far cannot start valid UTF-8
// (overlong forms, surrogates, code points above U+10FFFF, stray continuation bytes), and keeps
// returning false afterwards.
bool utf8_feed(Utf8State* s, const uint8_t* p, size_t n);

// True if everything fed so far is valid and no code point is left unfinished.
bool utf8_complete(const Utf8State& s);

// True if the n bytes at p are complete, valid UTF-8.
bool utf8_valid(const uint8_t* p, size_t n);

// True if code may appear in a received close frame (RFC 6455 7.4 plus the IANA-registered
// 1012-1014): 1000-1003, 1007-1014, 3000-4999.
bool close_code_valid(uint16_t code);

// Checks an unmasked close payload: empty (no code), or a valid 2-byte code followed by a UTF-8
// reason. On success *code is the code (1005 "no status" when empty) and the reason is
// payload[2, n). Errors: 1 byte or bad code -> 1002, bad UTF-8 -> 1007.
Result parse_close_payload(const uint8_t* payload, size_t n, uint16_t* code);

}  // namespace c1m::ws
