// Standard base64 (RFC 4648 section 4, with '=' padding): header-only, no allocation.
#pragma once
#include <cstddef>
#include <cstdint>

namespace c1m::base64 {

// Number of characters encode() writes for n input bytes.
constexpr size_t encoded_len(size_t n) { return (n + 2) / 3 * 4; }

// Encodes n bytes of in into out (encoded_len(n) chars, no NUL); returns the count written.
inline size_t encode(const uint8_t* in, size_t n, char* out) {
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | uint32_t(in[i + 2]);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t(in[i]) << 16;
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  return o;
}

// Value of one base64 character, or -1 if c is not in the alphabet ('=' included).
constexpr int decode_char(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes padded base64 (length a multiple of 4, '=' only as the last one or two chars) into out.
// Returns false on any other input or if the result would exceed cap; *out_len gets the byte count.
// Unused low bits of the last character are ignored, as most decoders do.
inline bool decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (n % 4 != 0) return false;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    bool last = i + 4 == n;
    int a = decode_char(in[i]), b = decode_char(in[i + 1]);
    int c = decode_char(in[i + 2]), d = decode_char(in[i + 3]);
    if (a < 0 || b < 0) return false;
    size_t bytes = 3;
    if (d < 0) {
      if (!last || in[i + 3] != '=') return false;
      bytes = 2;
      if (c < 0) {
        if (in[i + 2] != '=') return false;
        bytes = 1;
      }
    } else if (c < 0) {
      return false;
    }
    if (o + bytes > cap) return false;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c < 0 ? 0 : c) << 6) | uint32_t(d < 0 ? 0 : d);
    out[o++] = uint8_t(v >> 16);
    if (bytes > 1) out[o++] = uint8_t(v >> 8);
    if (bytes > 2) out[o++] = uint8_t(v);
  }
  *out_len = o;
  return true;
}

}  // namespace c1m::base64
