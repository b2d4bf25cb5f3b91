// libFuzzer target for the WebSocket pieces (native/proto/ws.h): frame headers in both mask
// modes and their prefixes, encode -> parse round trips, unmasking in pieces, UTF-8 whole vs
// incremental vs a plain reference decoder, and close payloads.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define C1M_FUZZ_TARGET "ws_fuzz"
#include "require.h"
#include "proto/ws.h"

namespace {

using c1m::ws::FrameHeader;
using c1m::ws::Status;

bool known_opcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

void check_header(const uint8_t* p, size_t n, bool expect_masked, uint64_t max) {
  FrameHeader h;
  c1m::ws::Result r = c1m::ws::parse_header(p, n, expect_masked, max, &h);
  if (r.status == Status::kError) {
    REQUIRE(r.reason != nullptr && std::strlen(r.reason) < 123);
    REQUIRE(r.close_code == 1002 || r.close_code == 1009);
    return;
  }
  REQUIRE(r.close_code == 0 && r.reason == nullptr);
  if (r.status == Status::kIncomplete) return;
  REQUIRE(h.header_len >= 2 && h.header_len <= c1m::ws::kMaxHeaderBytes && h.header_len <= n);
  uint8_t len7 = p[1] & 0x7F;
  size_t want = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (h.masked ? 4 : 0);
  REQUIRE(h.header_len == want);
  REQUIRE(h.masked == expect_masked && h.rsv == 0 && known_opcode(h.opcode));
  REQUIRE(h.payload_len <= max && (h.payload_len >> 63) == 0);
  if (h.opcode >= 8) REQUIRE(h.fin && h.payload_len <= 125);
  if (h.masked) REQUIRE(std::memcmp(h.mask, p + h.header_len - 4, 4) == 0);
  // Every shorter prefix is still waiting for bytes: nothing in it can be an error.
  for (size_t k = 0; k < h.header_len; k++) {
    FrameHeader part;
    REQUIRE(c1m::ws::parse_header(p, k, expect_masked, max, &part).status == Status::kIncomplete);
  }
  // Re-encoding gives the minimal form of the same header.
  uint8_t buf[c1m::ws::kMaxHeaderBytes];
  size_t len = c1m::ws::encode_header(buf, h.fin, h.opcode, h.payload_len, h.masked ? h.mask : nullptr);
  REQUIRE(len <= h.header_len);
  FrameHeader back;
  REQUIRE(c1m::ws::parse_header(buf, len, expect_masked, max, &back).status == Status::kComplete);
  REQUIRE(back.fin == h.fin && back.opcode == h.opcode && back.payload_len == h.payload_len &&
          back.header_len == len && std::memcmp(back.mask, h.mask, 4) == 0);
}

bool utf8_reference(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    uint32_t cp, min;
    size_t len;
    if (b < 0x80) {
      i++;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t ctl = data[0];
  const uint8_t* p = data + 1;
  size_t n = size - 1;
  uint64_t max = (ctl & 1) ? 1024 : (ctl & 2) ? 125 : UINT64_MAX;

  check_header(p, n, true, max);
  check_header(p, n, false, max);

  // UTF-8: whole, in pieces whose sizes come from the control byte, and the reference agree.
  bool whole = c1m::ws::utf8_valid(p, n);
  REQUIRE(whole == utf8_reference(p, n));
  c1m::ws::Utf8State st{0};
  bool ok = true;
  size_t step = 1 + (ctl >> 4);
  for (size_t off = 0; off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    bool fed = c1m::ws::utf8_feed(&st, p + off, k);
    if (!ok) REQUIRE(!fed);  // once rejected, always rejected
    ok = fed;
  }
  REQUIRE((ok && c1m::ws::utf8_complete(st)) == whole);

  // Close payload.
  uint16_t code = 0;
  c1m::ws::Result cr = c1m::ws::parse_close_payload(p, n, &code);
  if (n == 0 || n == 1) {
    REQUIRE((cr.status == Status::kComplete) == (n == 0));
  } else {
    uint16_t raw = uint16_t((p[0] << 8) | p[1]);
    bool good = c1m::ws::close_code_valid(raw) && c1m::ws::utf8_valid(p + 2, n - 2);
    REQUIRE((cr.status == Status::kComplete) == good);
    if (good) REQUIRE(code == raw);
    if (!c1m::ws::close_code_valid(raw)) REQUIRE(cr.close_code == 1002);
  }

  // Unmasking: whole vs pieces vs the byte-by-byte definition; twice is the identity.
  if (n >= 4) {
    uint8_t mask[4];
    std::memcpy(mask, p, 4);
    uint64_t start = ctl & 7;
    std::vector<uint8_t> a(p + 4, p + n), b = a, ref = a;
    c1m::ws::unmask(a.data(), a.size(), mask, start);
    for (size_t i = 0; i < ref.size(); i++) ref[i] ^= mask[(start + i) & 3];
    REQUIRE(a == ref);
    size_t off = 0, piece = 1 + (ctl >> 3);
    while (off < b.size()) {
      size_t k = b.size() - off < piece ? b.size() - off : piece;
      c1m::ws::unmask(b.data() + off, k, mask, start + off);
      off += k;
      piece = piece * 3 % 37 + 1;
    }
    REQUIRE(b == ref);
    c1m::ws::unmask(a.data(), a.size(), mask, start);
    REQUIRE(a == std::vector<uint8_t>(p + 4, p + n));
  }

  // encode -> parse round trip from fields taken out of the input.
  if (n >= 13) {
    static const uint8_t kOps[] = {0, 1, 2, 8, 9, 10};
    uint8_t op = kOps[p[0] % 6];
    bool fin = (p[1] & 1) != 0;
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
    len >>= 1 + p[10] % 63;  // spread lengths over every encoding size; the top bit is always clear
    if (op >= 8) {
      fin = true;
      len %= 126;
    }
    bool masked = (p[11] & 1) != 0;
    uint8_t buf[c1m::ws::kMaxHeaderBytes];
    size_t hl = c1m::ws::encode_header(buf, fin, op, len, masked ? p + 9 : nullptr);
    FrameHeader h;
    c1m::ws::Result r = c1m::ws::parse_header(buf, hl, masked, UINT64_MAX, &h);
    REQUIRE(r.status == Status::kComplete);
    REQUIRE(h.fin == fin && h.opcode == op && h.payload_len == len && h.header_len == hl && h.masked == masked);
    if (masked) REQUIRE(std::memcmp(h.mask, p + 9, 4) == 0);
  }
  return 0;
}
