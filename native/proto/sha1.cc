#include "proto/sha1.h"

#include <cstring>

namespace c1m {

namespace {

inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

Sha1::Sha1()
    : h_{0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u},
      total_bytes_(0),
      block_{},
      used_(0) {}

void Sha1::compress(const uint8_t block[64]) {
  // A 16-word ring stands in for the 80-word schedule: word t only needs words t-3, t-8, t-14, t-16.
  uint32_t w[16];
  for (int i = 0; i < 16; i++) w[i] = load_be32(block + 4 * i);
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int t = 0; t < 80; t++) {
    if (t >= 16) {
      w[t & 15] = rotl(w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15], 1);
    }
    uint32_t f, k;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    uint32_t tmp = rotl(a, 5) + f + e + k + w[t & 15];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = tmp;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
}

void Sha1::update(const uint8_t* p, size_t n) {
  total_bytes_ += n;
  if (used_ > 0) {
    size_t take = 64 - used_ < n ? 64 - used_ : n;
    std::memcpy(block_ + used_, p, take);
    used_ += uint32_t(take);
    p += take;
    n -= take;
    if (used_ < 64) return;
    compress(block_);
    used_ = 0;
  }
  while (n >= 64) {
    compress(p);
    p += 64;
    n -= 64;
  }
  if (n > 0) {
    std::memcpy(block_, p, n);
    used_ = uint32_t(n);
  }
}

void Sha1::finish(uint8_t out[kSha1DigestBytes]) {
  uint64_t bits = total_bytes_ * 8;
  block_[used_++] = 0x80;
  if (used_ > 56) {
    std::memset(block_ + used_, 0, 64 - used_);
    compress(block_);
    used_ = 0;
  }
  std::memset(block_ + used_, 0, 56 - used_);
  for (int i = 0; i < 8; i++) block_[56 + i] = uint8_t(bits >> (56 - 8 * i));
  compress(block_);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = uint8_t(h_[i] >> 24);
    out[4 * i + 1] = uint8_t(h_[i] >> 16);
    out[4 * i + 2] = uint8_t(h_[i] >> 8);
    out[4 * i + 3] = uint8_t(h_[i]);
  }
}

void sha1(const uint8_t* p, size_t n, uint8_t out[kSha1DigestBytes]) {
  Sha1 s;
  s.update(p, n);
  s.finish(out);
}

}  // namespace c1m
