// Length-prefixed framing: a 4-byte big-endian payload length, then the payload.
// Pure functions over a byte range, shared by the engine, the connector and the fuzz target.
#pragma once
#include <cstddef>
#include <cstdint>

namespace c1m::frame {

constexpr size_t kHeaderBytes = 4;

enum class Status : uint8_t { kComplete, kIncomplete, kTooLarge };

struct Result {
  Status status;
  uint32_t payload_len;  // valid for kComplete and kIncomplete once the header is in
  size_t total_len;      // header + payload, valid when the header is in
  bool header_known;     // false while fewer than 4 bytes are present
};

// Reads the 4-byte big-endian length at p (p must hold at least 4 bytes).
inline uint32_t read_len(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Writes len as 4 big-endian bytes at p.
inline void write_len(uint8_t* p, uint32_t len) {
  p[0] = uint8_t(len >> 24);
  p[1] = uint8_t(len >> 16);
  p[2] = uint8_t(len >> 8);
  p[3] = uint8_t(len);
}

// Inspects the frame starting at p with n bytes available. Never reads past p + n.
inline Result parse(const uint8_t* p, size_t n, uint32_t max_payload) {
  if (n < kHeaderBytes) return {Status::kIncomplete, 0, 0, false};
  uint32_t len = read_len(p);
  if (len > max_payload) return {Status::kTooLarge, len, kHeaderBytes + size_t(len), true};
  size_t total = kHeaderBytes + size_t(len);
  return {n >= total ? Status::kComplete : Status::kIncomplete, len, total, true};
}

}  // namespace c1m::frame
