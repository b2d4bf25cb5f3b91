#include "proto/ws.h"

#include <cstring>

#include "proto/base64.h"
#include "proto/sha1.h"

namespace c1m::ws {

namespace {

constexpr Result kOk{Status::kComplete, 0, nullptr};
constexpr Result kMore{Status::kIncomplete, 0, nullptr};

constexpr Result error(uint16_t code, const char* reason) { return {Status::kError, code, reason}; }

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

Result parse_header(const uint8_t* p, size_t n, bool expect_masked, uint64_t max_payload, FrameHeader* out) {
  if (n < 2) return kMore;
  uint8_t b0 = p[0], b1 = p[1];
  bool fin = (b0 & 0x80) != 0;
  uint8_t rsv = (b0 >> 4) & 7;
  uint8_t opcode = b0 & 0x0F;
  bool masked = (b1 & 0x80) != 0;
  uint8_t len7 = b1 & 0x7F;
  if (rsv != 0) return error(kCloseProtocolError, "reserved bits set");
  switch (opcode) {
    case kContinuation: case kText: case kBinary: case kClose: case kPing: case kPong:
      break;
    default:
      return error(kCloseProtocolError, "unknown opcode");
  }
  if ((opcode & 0x08) != 0) {
    if (!fin) return error(kCloseProtocolError, "fragmented control frame");
    if (len7 > kMaxControlPayload) return error(kCloseProtocolError, "control frame too long");
  }
  if (masked != expect_masked) {
    return error(kCloseProtocolError, expect_masked ? "unmasked client frame" : "masked server frame");
  }
  size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  if (n < 2 + ext) return kMore;
  uint64_t len = len7;
  if (ext != 0) {
    len = 0;
    for (size_t i = 0; i < ext; i++) len = (len << 8) | p[2 + i];
    if (ext == 8 && (len >> 63) != 0) return error(kCloseProtocolError, "invalid payload length");
  }
  if (len > max_payload) return error(kCloseTooBig, "message too big");
  size_t header_len = 2 + ext + (masked ? 4 : 0);
  if (n < header_len) return kMore;
  out->fin = fin;
  out->rsv = rsv;
  out->opcode = opcode;
  out->masked = masked;
  if (masked) {
    std::memcpy(out->mask, p + 2 + ext, 4);
  } else {
    std::memset(out->mask, 0, 4);
  }
  out->payload_len = len;
  out->header_len = uint8_t(header_len);
  return kOk;
}

void unmask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset) {
  // Rotate the key so that byte 0 of data lines up with payload byte `offset`, then XOR a word at a
  // time; memcpy keeps the unaligned loads and stores well-defined and compiles to plain moves.
  uint8_t m[8];
  for (int k = 0; k < 8; k++) m[k] = mask[(offset + uint64_t(k)) & 3];
  uint64_t m64;
  std::memcpy(&m64, m, 8);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, data + i, 32);
    w[0] ^= m64;
    w[1] ^= m64;
    w[2] ^= m64;
    w[3] ^= m64;
    std::memcpy(data + i, w, 32);
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= m64;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < n; i++) data[i] ^= m[i & 3];
}

size_t encode_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t payload_len, const uint8_t* mask) {
  out[0] = uint8_t((fin ? 0x80 : 0) | (opcode & 0x0F));
  uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  size_t len;
  if (payload_len <= 125) {
    out[1] = uint8_t(mask_bit | payload_len);
    len = 2;
  } else if (payload_len <= 0xFFFF) {
    out[1] = uint8_t(mask_bit | 126);
    out[2] = uint8_t(payload_len >> 8);
    out[3] = uint8_t(payload_len);
    len = 4;
  } else {
    out[1] = uint8_t(mask_bit | 127);
    for (int i = 0; i < 8; i++) out[2 + i] = uint8_t(payload_len >> (56 - 8 * i));
    len = 10;
  }
  if (mask != nullptr) {
    std::memcpy(out + len, mask, 4);
    len += 4;
  }
  return len;
}

void accept_key(const uint8_t* key, size_t key_len, char out[kAcceptKeyLen]) {
  Sha1 h;
  h.update(key, key_len);
  h.update(reinterpret_cast<const uint8_t*>(kGuid), sizeof kGuid - 1);
  uint8_t digest[kSha1DigestBytes];
  h.finish(digest);
  base64::encode(digest, sizeof digest, out);
}

const char* const kNotGet = "method must be GET";
const char* const kNotHttp11 = "HTTP/1.1 required";
const char* const kNotUpgrade = "missing Upgrade: websocket or Connection: upgrade";
const char* const kMissingVersion = "missing Sec-WebSocket-Version";
const char* const kBadVersion = "unsupported Sec-WebSocket-Version";
const char* const kDuplicateVersion = "duplicate Sec-WebSocket-Version";
const char* const kMissingKey = "missing Sec-WebSocket-Key";
const char* const kBadKey = "Sec-WebSocket-Key is not base64 of 16 bytes";
const char* const kDuplicateKey = "duplicate Sec-WebSocket-Key";

const char* validate_upgrade(const uint8_t* base, const http::Request& req) {
  if (req.method.len != 3 || std::memcmp(base + req.method.off, "GET", 3) != 0) return kNotGet;
  if (req.version_minor != 1) return kNotHttp11;
  if (!req.upgrade_websocket) return kNotUpgrade;
  const http::Header* version = nullptr;
  const http::Header* key = nullptr;
  for (uint16_t i = 0; i < req.num_headers; i++) {
    const http::Header& h = req.headers[i];
    if (http::header_equals(base, h.name, "sec-websocket-version")) {
      if (version != nullptr) return kDuplicateVersion;
      version = &h;
    } else if (http::header_equals(base, h.name, "sec-websocket-key")) {
      if (key != nullptr) return kDuplicateKey;
      key = &h;
    }
  }
  if (version == nullptr) return kMissingVersion;
  if (version->value.len != 2 || std::memcmp(base + version->value.off, "13", 2) != 0) return kBadVersion;
  if (key == nullptr) return kMissingKey;
  uint8_t raw[16];
  size_t raw_len = 0;
  if (key->value.len != base64::encoded_len(16) ||
      !base64::decode(base + key->value.off, key->value.len, raw, sizeof raw, &raw_len) || raw_len != 16) {
    return kBadKey;
  }
  return nullptr;
}

size_t write_upgrade_response(char* out, size_t cap, const char accept[kAcceptKeyLen]) {
  static constexpr char kHead[] =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  constexpr size_t kHeadLen = sizeof kHead - 1;
  constexpr size_t kTotal = kHeadLen + kAcceptKeyLen + 4;
  if (cap < kTotal) return 0;
  std::memcpy(out, kHead, kHeadLen);
  std::memcpy(out + kHeadLen, accept, kAcceptKeyLen);
  std::memcpy(out + kHeadLen + kAcceptKeyLen, "\r\n\r\n", 4);
  return kTotal;
}

namespace {

// UTF-8 as a small automaton (RFC 3629 section 4). State 0 = between code points; 1..3 = that
// many continuation bytes (80..BF) still due; 4..7 = the next continuation byte has a narrower
// range, which is how overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4) are
// refused; 8 = rejected for good.
enum : uint8_t { kAccept = 0, kReject = 8 };

struct Utf8Tables {
  uint8_t lead[256];  // state after a byte in state 0
  uint8_t lo[8], hi[8], next[8];  // states 1..7: allowed byte range and the state after it
};

constexpr Utf8Tables make_utf8_tables() {
  Utf8Tables t{};
  for (int c = 0; c < 256; c++) {
    uint8_t s = kReject;
    if (c < 0x80) s = kAccept;
    else if (c >= 0xC2 && c <= 0xDF) s = 1;
    else if (c == 0xE0) s = 4;
    else if (c == 0xED) s = 5;
    else if (c >= 0xE1 && c <= 0xEF) s = 2;
    else if (c == 0xF0) s = 6;
    else if (c >= 0xF1 && c <= 0xF3) s = 3;
    else if (c == 0xF4) s = 7;
    t.lead[c] = s;
  }
  const uint8_t ranges[8][3] = {
      {0, 0, 0},           // state 0 uses lead[]
      {0x80, 0xBF, 0},     // 1: last continuation byte
      {0x80, 0xBF, 1},     // 2
      {0x80, 0xBF, 2},     // 3
      {0xA0, 0xBF, 1},     // 4: after E0, refuse overlong 3-byte forms
      {0x80, 0x9F, 1},     // 5: after ED, refuse U+D800..U+DFFF
      {0x90, 0xBF, 2},     // 6: after F0, refuse overlong 4-byte forms
      {0x80, 0x8F, 2},     // 7: after F4, refuse above U+10FFFF
  };
  for (int s = 0; s < 8; s++) {
    t.lo[s] = ranges[s][0];
    t.hi[s] = ranges[s][1];
    t.next[s] = ranges[s][2];
  }
  return t;
}

constexpr Utf8Tables kUtf8 = make_utf8_tables();

}  // namespace

bool utf8_feed(Utf8State* s, const uint8_t* p, size_t n) {
  uint32_t st = s->state;
  if (st >= kReject) return false;
  size_t i = 0;
  while (i < n) {
    if (st == kAccept) {
      // ASCII dominates real text: skip it eight bytes at a time.
      while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        if ((w & 0x8080808080808080ull) != 0) break;
        i += 8;
      }
      if (i == n) break;
      st = kUtf8.lead[p[i++]];
      if (st == kReject) break;
    } else {
      uint8_t c = p[i++];
      if (c < kUtf8.lo[st] || c > kUtf8.hi[st]) {
        st = kReject;
        break;
      }
      st = kUtf8.next[st];
    }
  }
  s->state = st;
  return st != kReject;
}

bool utf8_complete(const Utf8State& s) { return s.state == kAccept; }

bool utf8_valid(const uint8_t* p, size_t n) {
  Utf8State s{0};
  return utf8_feed(&s, p, n) && utf8_complete(s);
}

bool close_code_valid(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && !(code >= 1004 && code <= 1006);
}

Result parse_close_payload(const uint8_t* payload, size_t n, uint16_t* code) {
  if (n == 0) {
    *code = 1005;
    return kOk;
  }
  if (n == 1) return error(kCloseProtocolError, "close payload of 1 byte");
  uint16_t c = uint16_t((payload[0] << 8) | payload[1]);
  if (!close_code_valid(c)) return error(kCloseProtocolError, "invalid close code");
  if (!utf8_valid(payload + 2, n - 2)) return error(kCloseInvalidPayload, "close reason is not UTF-8");
  *code = c;
  return kOk;
}

}  // namespace c1m::ws
