// libFuzzer target for c1m::http::parse_request and the response writer (native/proto/http.h).
// Checks: every span of a complete head lies inside header_bytes <= n and says what the field
// rules promise; prefixes give kIncomplete or the same answer as the whole; a pipelined loop over
// the input always makes progress; validate_upgrade and write_response_head never misbehave.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/http.h"
#include "proto/ws.h"

namespace {

[[noreturn]] void fail(const char* what, int line) {
  std::fprintf(stderr, "http_fuzz invariant broken at line %d: %s\n", line, what);
  std::abort();
}

#define REQUIRE(cond) \
  do {                \
    if (!(cond)) fail(#cond, __LINE__); \
  } while (0)

using c1m::http::Limits;
using c1m::http::Request;
using c1m::http::Result;
using c1m::http::Span;
using c1m::http::Status;

bool inside(Span s, uint32_t end) { return uint64_t(s.off) + s.len <= end; }

bool has_byte(const uint8_t* base, Span s, uint8_t c) { return s.len != 0 && std::memchr(base + s.off, c, s.len) != nullptr; }

bool same_span(Span a, Span b) { return a.off == b.off && a.len == b.len; }

bool same_request(const Request& a, const Request& b) {
  if (!same_span(a.method, b.method) || !same_span(a.target, b.target) || !same_span(a.path, b.path)) return false;
  if (a.version_minor != b.version_minor || a.num_headers != b.num_headers) return false;
  if (a.content_length != b.content_length || a.header_bytes != b.header_bytes) return false;
  if (a.keep_alive != b.keep_alive || a.upgrade_websocket != b.upgrade_websocket) return false;
  if (!same_span(a.host, b.host) || !same_span(a.ws_key, b.ws_key) || !same_span(a.ws_version, b.ws_version)) return false;
  for (int i = 0; i < a.num_headers; i++) {
    if (!same_span(a.headers[i].name, b.headers[i].name) || !same_span(a.headers[i].value, b.headers[i].value)) {
      return false;
    }
  }
  return true;
}

void check_result(const uint8_t* p, size_t n, const Limits& lim, Result r, const Request& req) {
  switch (r.status) {
    case Status::kError:
      REQUIRE(r.reason != nullptr);
      REQUIRE(r.http_status == 400 || r.http_status == 413 || r.http_status == 431 || r.http_status == 501 ||
              r.http_status == 505);
      return;
    case Status::kIncomplete:
      REQUIRE(r.http_status == 0 && r.reason == nullptr);
      REQUIRE(n <= lim.max_header_bytes);
      return;
    case Status::kComplete:
      break;
  }
  REQUIRE(r.http_status == 0 && r.reason == nullptr);
  uint32_t hb = req.header_bytes;
  REQUIRE(hb >= 4 && hb <= n && hb <= lim.max_header_bytes);
  REQUIRE(p[hb - 1] == '\n');
  REQUIRE(req.version_minor <= 1);
  REQUIRE(req.num_headers <= lim.max_headers && req.num_headers <= c1m::http::kMaxHeaders);
  REQUIRE(req.content_length <= lim.max_body_bytes);
  REQUIRE(req.method.len > 0 && req.target.len > 0);
  REQUIRE(inside(req.method, hb) && inside(req.target, hb) && inside(req.path, hb));
  REQUIRE(req.path.off == req.target.off && req.path.len <= req.target.len);
  REQUIRE(!has_byte(p, req.path, '?'));
  REQUIRE(req.method.off + req.method.len + 1 == req.target.off);
  REQUIRE(!has_byte(p, req.target, ' ') && !has_byte(p, req.target, '\r') && !has_byte(p, req.target, '\n'));
  REQUIRE(inside(req.host, hb) && inside(req.ws_key, hb) && inside(req.ws_version, hb));
  if (req.version_minor == 0) REQUIRE(!req.keep_alive || c1m::http::find_header(p, req, "connection") != nullptr);
  bool saw_length = false;
  for (int i = 0; i < req.num_headers; i++) {
    Span name = req.headers[i].name, value = req.headers[i].value;
    REQUIRE(name.len > 0 && inside(name, hb) && inside(value, hb));
    REQUIRE(p[name.off + name.len] == ':');
    REQUIRE(!has_byte(p, name, ' ') && !has_byte(p, name, '\t') && !has_byte(p, name, ':'));
    REQUIRE(!has_byte(p, value, '\r') && !has_byte(p, value, '\n') && !has_byte(p, value, 0));
    if (value.len > 0) {
      uint8_t first = p[value.off], last = p[value.off + value.len - 1];
      REQUIRE(first != ' ' && first != '\t' && last != ' ' && last != '\t');
    }
    REQUIRE(!c1m::http::header_equals(p, name, "transfer-encoding"));
    if (c1m::http::header_equals(p, name, "content-length")) {
      REQUIRE(!saw_length);
      saw_length = true;
    }
  }
  if (!saw_length) REQUIRE(req.content_length == 0);
  if (req.upgrade_websocket) {
    REQUIRE(c1m::http::find_header(p, req, "upgrade") != nullptr);
    REQUIRE(c1m::http::find_header(p, req, "connection") != nullptr);
  }
}

// Parses p[0, n) and every prefix in `cuts`, checking each against the whole.
void check_prefixes(const uint8_t* p, size_t n, const Limits& lim, const size_t* cuts, int num_cuts) {
  Request whole;
  Result rw = c1m::http::parse_request(p, n, lim, &whole);
  check_result(p, n, lim, rw, whole);
  for (int i = 0; i < num_cuts; i++) {
    size_t k = cuts[i];
    if (k > n) continue;
    Request part;
    Result rp = c1m::http::parse_request(p, k, lim, &part);
    check_result(p, k, lim, rp, part);
    if (rp.status == Status::kIncomplete) {
      if (rw.status == Status::kComplete) REQUIRE(k < whole.header_bytes);
      continue;
    }
    REQUIRE(rp.status == rw.status);
    REQUIRE(rp.http_status == rw.http_status);
    if (rp.status == Status::kComplete) REQUIRE(same_request(part, whole));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Limits lim;
  size_t half = size / 2;
  size_t cuts[] = {0, 1, 2, half, size > 0 ? size - 1 : 0, 0, 0};
  int num_cuts = 5;
  Request req;
  Result r = c1m::http::parse_request(data, size, lim, &req);
  if (r.status == Status::kComplete) {
    cuts[num_cuts++] = req.header_bytes - 1;
    cuts[num_cuts++] = req.header_bytes;
  }
  check_prefixes(data, size, lim, cuts, num_cuts);

  // Tight limits reach the 431 paths with short inputs.
  Limits tight;
  tight.max_header_bytes = 48;
  tight.max_headers = 3;
  tight.max_body_bytes = 10;
  tight.require_host = false;
  check_prefixes(data, size, tight, cuts, 5);

  // Pipelined: consume head + body while both are present; each step must make progress.
  size_t pos = 0;
  int guard = 0;
  while (pos < size) {
    Request q;
    Result rq = c1m::http::parse_request(data + pos, size - pos, lim, &q);
    check_result(data + pos, size - pos, lim, rq, q);
    if (rq.status != Status::kComplete) break;
    REQUIRE(q.header_bytes > 0);
    if (c1m::ws::validate_upgrade(data + pos, q) == nullptr) {
      REQUIRE(q.upgrade_websocket && q.ws_key.len == 24 && q.version_minor == 1);
      char accept[c1m::ws::kAcceptKeyLen];
      c1m::ws::accept_key(data + pos + q.ws_key.off, q.ws_key.len, accept);
      char resp[256];
      REQUIRE(c1m::ws::write_upgrade_response(resp, sizeof resp, accept) > 0);
    }
    uint64_t total = uint64_t(q.header_bytes) + q.content_length;
    if (total > size - pos) break;
    pos += size_t(total);
    REQUIRE(++guard <= 1 + int(size / 4));
  }

  // The response writer: any status, and a capacity that may be too small.
  if (size >= 3) {
    uint16_t status = uint16_t(data[0] | (data[1] << 8)) % 1100;
    size_t cap = data[2];
    char out[300];
    std::memset(out, '#', sizeof out);
    size_t n = c1m::http::write_response_head(out, cap, status, nullptr, size, data[0] & 1,
                                              "Sun, 06 Nov 1994 08:49:37 GMT", (data[1] & 1) ? "X-Fuzz: 1\r\n" : nullptr);
    REQUIRE(n <= cap);
    REQUIRE(out[cap] == '#');
    if (n > 0) REQUIRE(status >= 100 && status <= 999 && out[n - 1] == '\n' && out[n - 2] == '\r');
  }
  return 0;
}
