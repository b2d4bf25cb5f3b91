// libFuzzer target for c1m::http::parse_request and the response writer (native/proto/http.h).
// Checks: every span of a complete head lies inside header_bytes <= n and says what the field
// rules promise; prefixes give kIncomplete or the same answer as the whole (status, http_status,
// reason); the first prefix that is not kIncomplete is where an independent whole-line grammar
// check says the request line is settled (400 at its first impossible byte, 505 at its LF) or 431
// just past the window; a pipelined loop over the input always makes progress; validate_upgrade
// and write_response_head never misbehave.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define C1M_FUZZ_TARGET "http_fuzz"
#include "require.h"
#include "proto/http.h"
#include "proto/ws.h"

namespace {

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
  if (a.expect_continue != b.expect_continue || a.expect_other != b.expect_other) return false;
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
  if (req.expect_continue) REQUIRE(req.version_minor == 1);
  if (req.expect_continue || req.expect_other) REQUIRE(c1m::http::find_header(p, req, "expect") != nullptr);
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
    REQUIRE((rp.reason == nullptr) == (rw.reason == nullptr));
    if (rp.reason != nullptr) REQUIRE(std::strcmp(rp.reason, rw.reason) == 0);
    if (rp.status == Status::kComplete) REQUIRE(same_request(part, whole));
  }
}

bool is_tchar_ref(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// The request-line grammar as a whole-line check, written apart from the parser's byte-by-byte
// scanner: after empty lines, exactly one line ending at the last byte, one optional CR before its
// LF, split at SP into exactly method, target and "HTTP/" DIGIT "." DIGIT.
bool line_valid(const std::string& s) {
  size_t i = 0;
  while (s.compare(i, 1, "\n") == 0 || s.compare(i, 2, "\r\n") == 0) i += s[i] == '\n' ? 1 : 2;
  if (s.empty() || s.find('\n', i) != s.size() - 1) return false;
  std::string line = s.substr(i, s.size() - 1 - i);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  size_t sp1 = line.find(' ');
  if (sp1 == std::string::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos) return false;
  if (sp1 == 0 || sp2 == sp1 + 1 || line.size() - sp2 - 1 != 8) return false;
  for (size_t k = 0; k < sp1; k++) {
    if (!is_tchar_ref(uint8_t(line[k]))) return false;
  }
  for (size_t k = sp1 + 1; k < sp2; k++) {
    if (uint8_t(line[k]) <= 0x20 || uint8_t(line[k]) == 0x7F) return false;
  }
  const char* v = line.c_str() + sp2 + 1;
  return std::memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9';
}

// True if some bytes appended to p[0, k) make it a valid request line. The suffixes of kTail
// complete any prefix that can be completed at all.
bool line_viable(const uint8_t* p, size_t k) {
  static const std::string kTail = "\nGET / HTTP/1.1\r\n";
  std::string m(reinterpret_cast<const char*>(p), k);
  for (size_t t = 0; t <= kTail.size(); t++) {
    if (line_valid(m + kTail.substr(t))) return true;
  }
  return false;
}

// Checks where the first verdict comes: the shortest prefix that is not kIncomplete (found by
// bisection, which the prefix property makes valid) against what line_valid says about the bytes
// in the window p[0, min(n, max_header_bytes)).
void check_first_verdict(const uint8_t* p, size_t n, const Limits& lim) {
  Request req;
  Result rw = c1m::http::parse_request(p, n, lim, &req);
  size_t lo = 0, hi = n + 1;  // the first verdict is in [lo, hi]; n + 1 means none
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c1m::http::parse_request(p, mid, lim, &req).status == Status::kIncomplete) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t first = lo;
  if (first <= n) {
    Result rf = c1m::http::parse_request(p, first, lim, &req);
    REQUIRE(rf.status == rw.status && rf.http_status == rw.http_status);
    if (first > 0) REQUIRE(c1m::http::parse_request(p, first - 1, lim, &req).status == Status::kIncomplete);
  } else {
    REQUIRE(rw.status == Status::kIncomplete);
  }

  size_t w = n < lim.max_header_bytes ? n : lim.max_header_bytes;
  // The end of the candidate line: just past the first LF after the leading empty lines.
  size_t i = 0;
  while (i < w && (p[i] == '\n' || (p[i] == '\r' && i + 1 < w && p[i + 1] == '\n'))) i += p[i] == '\n' ? 1 : 2;
  const void* lf = i < w ? std::memchr(p + i, '\n', w - i) : nullptr;
  size_t line_end = lf != nullptr ? size_t(static_cast<const uint8_t*>(lf) - p) + 1 : 0;
  if (line_end != 0 && line_valid(std::string(reinterpret_cast<const char*>(p), line_end))) {
    uint8_t major = p[line_end - (p[line_end - 2] == '\r' ? 5 : 4)];
    if (major != '1') {
      REQUIRE(first == line_end && rw.status == Status::kError && rw.http_status == 505);
    } else {
      REQUIRE(first >= line_end);  // nothing is decided before a good line is complete
    }
    return;
  }
  size_t upto = line_end != 0 ? line_end : w;
  if (line_viable(p, upto)) {
    // Undecided in the window: 431 just past it, or still kIncomplete.
    REQUIRE(line_end == 0);
    if (n > lim.max_header_bytes) {
      REQUIRE(first == size_t(lim.max_header_bytes) + 1 && rw.http_status == 431);
    } else {
      REQUIRE(rw.status == Status::kIncomplete);
    }
    return;
  }
  // The shortest prefix no bytes can complete is the first verdict, a 400.
  size_t a = 0, b = upto;  // line_viable(a) holds, line_viable(b) does not
  while (b - a > 1) {
    size_t mid = a + (b - a) / 2;
    if (line_viable(p, mid)) {
      a = mid;
    } else {
      b = mid;
    }
  }
  REQUIRE(first == b && rw.status == Status::kError && rw.http_status == 400);
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

  // Early verdicts: the request line is settled at the first byte that settles it.
  check_first_verdict(data, size, lim);
  check_first_verdict(data, size, tight);

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
