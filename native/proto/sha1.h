// SHA-1 (FIPS 180-4), only for the WebSocket handshake's Sec-WebSocket-Accept; not for security.
#pragma once
#include <cstddef>
#include <cstdint>

namespace c1m {

constexpr size_t kSha1DigestBytes = 20;

// Streaming SHA-1: construct, update any number of times, finish once.
class Sha1 {
 public:
  Sha1();
  // Appends n bytes of message.
  void update(const uint8_t* p, size_t n);
  // Pads, writes the 20-byte digest to out; the object must not be updated afterwards.
  void finish(uint8_t out[kSha1DigestBytes]);

 private:
  void compress(const uint8_t block[64]);
  uint32_t h_[5];
  uint64_t total_bytes_;
  uint8_t block_[64];
  uint32_t used_;
};

// One-shot SHA-1 of n bytes at p.
void sha1(const uint8_t* p, size_t n, uint8_t out[kSha1DigestBytes]);

}  // namespace c1m
