// Self-test of the pure protocol code in native/proto: frame, sha1, base64, http, ws.
// A standalone program: prints "N passed, M failed" and exits non-zero if anything failed.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "proto/base64.h"
#include "proto/frame.h"
#include "proto/http.h"
#include "proto/sha1.h"
#include "proto/ws.h"

namespace {

int g_passed = 0;
int g_failed = 0;
int g_case_failures = 0;

void check(bool ok, const char* expr, const char* file, int line) {
  if (ok) return;
  g_case_failures++;
  if (g_case_failures <= 10) std::fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", file, line, expr);
}

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

void run(const char* name, void (*fn)()) {
  g_case_failures = 0;
  fn();
  if (g_case_failures == 0) {
    g_passed++;
  } else {
    g_failed++;
    std::fprintf(stderr, "FAIL %s (%d failed checks)\n", name, g_case_failures);
  }
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::string hex(const uint8_t* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 15];
  }
  return s;
}

// Deterministic xorshift so every run tests the same inputs.
struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint32_t below(uint32_t n) { return uint32_t(next() % n); }
};

// ---------------------------------------------------------------- frame.h

void test_frame() {
  using namespace c1m::frame;
  uint8_t buf[16] = {};
  CHECK(parse(buf, 0, 1024).status == Status::kIncomplete);
  CHECK(!parse(buf, 3, 1024).header_known);
  write_len(buf, 5);
  CHECK(read_len(buf) == 5);
  Result r = parse(buf, 4, 1024);
  CHECK(r.status == Status::kIncomplete && r.header_known && r.payload_len == 5 && r.total_len == 9);
  CHECK(parse(buf, 8, 1024).status == Status::kIncomplete);
  CHECK(parse(buf, 9, 1024).status == Status::kComplete);
  CHECK(parse(buf, 16, 1024).status == Status::kComplete);
  write_len(buf, 0);
  CHECK(parse(buf, 4, 1024).status == Status::kComplete);
  write_len(buf, 1024);
  CHECK(parse(buf, 4, 1024).status == Status::kIncomplete);
  write_len(buf, 1025);
  CHECK(parse(buf, 4, 1024).status == Status::kTooLarge);
  write_len(buf, 0xFFFFFFFFu);
  CHECK(read_len(buf) == 0xFFFFFFFFu);
  r = parse(buf, 4, 0xFFFFFFFFu);
  CHECK(r.status == Status::kIncomplete && r.total_len == 4 + size_t(0xFFFFFFFFu));
  CHECK(buf[0] == 0xFF && buf[3] == 0xFF);
  write_len(buf, 0x01020304u);
  CHECK(buf[0] == 1 && buf[1] == 2 && buf[2] == 3 && buf[3] == 4);
}

// ---------------------------------------------------------------- sha1 / base64

std::string sha1_hex(const std::string& s) {
  uint8_t d[20];
  c1m::sha1(bytes(s), s.size(), d);
  return hex(d, 20);
}

void test_sha1_vectors() {
  CHECK(sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                 "mnopqrstnopqrstu") == "a49b2446a02c645bf419f995b67091253a04a259");
  // One million 'a', fed in uneven pieces.
  c1m::Sha1 h;
  std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    size_t k = left < chunk.size() ? left : chunk.size();
    h.update(bytes(chunk), k);
    left -= k;
  }
  uint8_t d[20];
  h.finish(d);
  CHECK(hex(d, 20) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

void test_sha1_streaming() {
  // Every length around the padding boundaries, split at every point, equals the one-shot digest.
  std::string msg;
  for (int i = 0; i < 200; i++) msg += char('A' + i % 53);
  for (size_t len = 0; len <= 200; len++) {
    uint8_t whole[20];
    c1m::sha1(bytes(msg), len, whole);
    for (size_t cut = 0; cut <= len; cut += (len < 140 ? 1 : 7)) {
      c1m::Sha1 h;
      h.update(bytes(msg), cut);
      h.update(bytes(msg) + cut, len - cut);
      uint8_t d[20];
      h.finish(d);
      CHECK(std::memcmp(d, whole, 20) == 0);
    }
  }
}

std::string b64(const std::string& s) {
  char out[64];
  size_t n = c1m::base64::encode(bytes(s), s.size(), out);
  return std::string(out, n);
}

bool b64_decode(const std::string& s, std::string* out) {
  uint8_t buf[64];
  size_t n = 0;
  if (!c1m::base64::decode(bytes(s), s.size(), buf, sizeof buf, &n)) return false;
  out->assign(reinterpret_cast<char*>(buf), n);
  return true;
}

void test_base64() {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    CHECK(b64(plain[i]) == coded[i]);
    CHECK(c1m::base64::encoded_len(std::strlen(plain[i])) == std::strlen(coded[i]));
    std::string back;
    CHECK(b64_decode(coded[i], &back) && back == plain[i]);
  }
  std::string all;
  for (int c = 0; c < 48; c++) all += char(c * 5 + 7);
  std::string back;
  CHECK(b64_decode(b64(all), &back) && back == all);
  const char* bad[] = {"Zg=", "Z===", "====", "Zg==Zg==", "Zm9=Zm9v", "Zm9v=", "Zm 9", "Zm9\n", "Zm-_", "Z=g="};
  for (const char* s : bad) CHECK(!b64_decode(s, &back));
  uint8_t small[2];
  size_t n;
  CHECK(!c1m::base64::decode(bytes("Zm9v"), 4, small, sizeof small, &n));
}

// ---------------------------------------------------------------- http

using c1m::http::Limits;
using c1m::http::Request;

std::string span_str(const std::string& base, c1m::http::Span s) { return base.substr(s.off, s.len); }

c1m::http::Result parse(const std::string& s, Request* req, const Limits& lim = Limits{}) {
  return c1m::http::parse_request(bytes(s), s.size(), lim, req);
}

// Everything parse_request reports, as text, so two results compare with ==.
std::string describe(const uint8_t* base, const Request& r) {
  std::string d;
  auto add = [&](const char* label, c1m::http::Span s) {
    d += label;
    d.append(reinterpret_cast<const char*>(base) + s.off, s.len);
  };
  auto num = [&](const char* label, uint64_t v) {
    d += label;
    d += std::to_string(v);
  };
  add("", r.method);
  add("|", r.target);
  add("|", r.path);
  num("|1.", r.version_minor);
  num("|cl=", r.content_length);
  num("|hb=", r.header_bytes);
  num("|ka=", r.keep_alive);
  num("|up=", r.upgrade_websocket);
  num("|100=", r.expect_continue);
  num("|exp=", r.expect_other);
  add("|host=", r.host);
  add("|key=", r.ws_key);
  add("|ver=", r.ws_version);
  for (int i = 0; i < r.num_headers; i++) {
    add("|", r.headers[i].name);
    add(":", r.headers[i].value);
  }
  return d;
}

bool is_error(const std::string& s, uint16_t status, const Limits& lim = Limits{}) {
  Request req;
  c1m::http::Result r = parse(s, &req, lim);
  if (r.status != c1m::http::Status::kError || r.http_status != status || r.reason == nullptr) {
    std::fprintf(stderr, "  expected %u for %s: got status %d http %u (%s)\n", status, s.c_str(), int(r.status),
                 r.http_status, r.reason ? r.reason : "-");
    return false;
  }
  return true;
}

bool is_complete(const std::string& s, Request* req, const Limits& lim = Limits{}) {
  c1m::http::Result r = parse(s, req, lim);
  if (r.status != c1m::http::Status::kComplete) {
    std::fprintf(stderr, "  expected complete for %s: got status %d http %u (%s)\n", s.c_str(), int(r.status),
                 r.http_status, r.reason ? r.reason : "-");
    return false;
  }
  return true;
}

void test_http_simple() {
  std::string s = "GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  c1m/0.1 \t\r\nAccept: */*\r\n\r\n";
  Request req;
  c1m::http::Result r = parse(s, &req);
  CHECK(r.status == c1m::http::Status::kComplete && r.http_status == 0 && r.reason == nullptr);
  CHECK(span_str(s, req.method) == "GET");
  CHECK(span_str(s, req.target) == "/index.html?x=1&y=2");
  CHECK(span_str(s, req.path) == "/index.html");
  CHECK(req.version_minor == 1);
  CHECK(req.num_headers == 3);
  CHECK(span_str(s, req.headers[1].name) == "User-Agent");
  CHECK(span_str(s, req.headers[1].value) == "c1m/0.1");
  CHECK(span_str(s, req.host) == "example.com");
  CHECK(req.header_bytes == s.size());
  CHECK(req.content_length == 0);
  CHECK(req.keep_alive);
  CHECK(!req.upgrade_websocket);
  CHECK(req.ws_key.len == 0 && req.ws_version.len == 0);
  const c1m::http::Header* h = c1m::http::find_header(bytes(s), req, "ACCEPT");
  CHECK(h != nullptr && span_str(s, h->value) == "*/*");
  CHECK(c1m::http::find_header(bytes(s), req, "accept-encoding") == nullptr);
  // A body and the next request after the head are not part of it.
  std::string with_body = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n";
  CHECK(is_complete(with_body, &req));
  CHECK(req.content_length == 5 && req.header_bytes == with_body.find("hello"));
  // Empty header values and a query-only target.
  CHECK(is_complete("GET /? HTTP/1.1\r\nHost:\r\nX-Empty:   \r\n\r\n", &req));
  CHECK(req.path.len == 1 && req.target.len == 2 && req.host.len == 0 && req.headers[1].value.len == 0);
  // Other methods and target forms are tokens and bytes we pass through.
  CHECK(is_complete("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &req));
  CHECK(is_complete("M-SEARCH http://a.b/c?d HTTP/1.1\r\nHost: a.b\r\n\r\n", &req));
  CHECK(is_complete("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: h\r\nX-Latin: \xE9t\xE9\r\n\r\n", &req));
}

void test_http_line_endings() {
  Request req;
  std::string lf = "GET / HTTP/1.1\nHost: h\nX: 1\n\n";
  CHECK(is_complete(lf, &req));
  CHECK(req.header_bytes == lf.size() && req.num_headers == 2);
  CHECK(is_complete("GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\n", &req));
  CHECK(is_complete("GET / HTTP/1.1\nHost: h\r\n\r\n", &req));
  // Leading empty lines (a client's stray CRLF after a body) are skipped but counted.
  std::string lead = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  CHECK(is_complete(lead, &req));
  CHECK(span_str(lead, req.method) == "GET" && req.header_bytes == lead.size());
  CHECK(is_error("GET / HTTP/1.1\rHost: h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\n\rX\n\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n", 400));
  CHECK(is_error("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  Request r2;
  c1m::http::Result r = parse("\r\n\r\n", &r2);
  CHECK(r.status == c1m::http::Status::kIncomplete);
}

void test_http_versions() {
  Request req;
  CHECK(is_complete("GET / HTTP/1.0\r\n\r\n", &req));
  CHECK(req.version_minor == 0 && !req.keep_alive);
  CHECK(is_complete("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &req));
  CHECK(req.version_minor == 1);
  CHECK(is_complete("GET / HTTP/1.9\r\nHost: h\r\n\r\n", &req));
  CHECK(is_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505));
  CHECK(is_error("GET / HTTP/0.9\r\n\r\n", 505));
  CHECK(is_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505));
  CHECK(is_error("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/11\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET / http/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET /\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/\n\n", 400));
  CHECK(is_error("GET / H\n\n", 400));
}

void test_http_request_line_errors() {
  CHECK(is_error(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error("GET /a\x7F HTTP/1.1\r\nHost: h\r\n\r\n", 400));
  CHECK(is_error(std::string("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", 30), 400));
  CHECK(is_error("GET\r\n\r\n", 400));
  CHECK(is_error(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", 13), 400));  // a TLS hello
}

void test_http_header_errors() {
  CHECK(is_error("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400));           // whitespace before first header
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400));  // obs-fold
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nX(y): x\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400));
  CHECK(is_error(std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35), 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7F\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[0m\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n", 400));
  CHECK(is_error("GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400));  // missing Host
  Request req;
  CHECK(is_complete("GET / HTTP/1.0\r\nX: 1\r\n\r\n", &req));
  Limits no_host;
  no_host.require_host = false;
  CHECK(is_complete("GET / HTTP/1.1\r\n\r\n", &req, no_host));
}

void test_http_content_length() {
  Request req;
  CHECK(is_complete("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\n\r\n", &req) && req.content_length == 0);
  CHECK(is_complete("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  0042 \r\n\r\n", &req) && req.content_length == 42);
  CHECK(is_complete("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n", &req) &&
        req.content_length == 1048576);
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", 413));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", 413));
  Limits big;
  big.max_body_bytes = UINT64_MAX;
  CHECK(is_complete("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", &req, big) &&
        req.content_length == UINT64_MAX);
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", 413, big));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501));
  CHECK(is_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n", 501));
  CHECK(is_error("POST / HTTP/1.0\r\nTransfer-Encoding: identity\r\n\r\n", 501));
}

void test_http_limits() {
  Limits lim;
  lim.max_header_bytes = 64;
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
  Request req;
  // Incomplete up to the limit, 431 one byte past it.
  std::string fill = head + "X: " + std::string(64 - head.size() - 3, 'a');
  CHECK(fill.size() == 64);
  CHECK(parse(fill, &req, lim).status == c1m::http::Status::kIncomplete);
  CHECK(is_error(fill + "a", 431, lim));
  // A head of exactly the limit passes; one byte more is 431 even when complete.
  std::string exact = head + "X: " + std::string(64 - head.size() - 7, 'a') + "\r\n\r\n";
  CHECK(exact.size() == 64);
  CHECK(is_complete(exact, &req, lim) && req.header_bytes == 64);
  std::string over = head + "X: " + std::string(64 - head.size() - 6, 'a') + "\r\n\r\n";
  CHECK(is_error(over, 431, lim));
  CHECK(is_error(over.substr(0, 65), 431, lim));
  CHECK(parse(over.substr(0, 64), &req, lim).status == c1m::http::Status::kIncomplete);
  // Leading empty lines count too.
  CHECK(is_error(std::string(100, '\n'), 431, lim));
  // Header count: exactly the maximum passes, one more is 431.
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < c1m::http::kMaxHeaders; i++) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(is_complete(many + "\r\n", &req) && req.num_headers == c1m::http::kMaxHeaders);
  CHECK(is_error(many + "Y: 1\r\n\r\n", 431));
  Limits two;
  two.max_headers = 2;
  CHECK(is_complete("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", &req, two));
  CHECK(is_error("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", 431, two));
  Limits huge;
  huge.max_headers = 1000;  // clamped to kMaxHeaders
  CHECK(is_error(many + "Y: 1\r\n\r\n", 431, huge));
  Limits zero;
  zero.max_header_bytes = 0;
  CHECK(parse("", &req, zero).status == c1m::http::Status::kIncomplete);
  CHECK(is_error("G", 431, zero));
}

void test_http_connection() {
  struct Case {
    const char* req;
    bool keep_alive;
    bool upgrade;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n", false, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n", false, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", true, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo\r\nConnection: close\r\n\r\n", false, false},
      {"GET / HTTP/1.0\r\n\r\n", false, false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n", false, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true, true},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", true, true},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, websocket\r\nConnection: ,, upgrade ,\r\n\r\n", true, true},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", true, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", true, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websockets\r\nConnection: upgrade\r\n\r\n", true, false},
      {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrades\r\n\r\n", true, false},
  };
  for (const Case& c : cases) {
    Request req;
    bool ok = is_complete(c.req, &req);
    CHECK(ok);
    if (!ok) continue;
    if (req.keep_alive != c.keep_alive || req.upgrade_websocket != c.upgrade) {
      std::fprintf(stderr, "  connection case: %s\n", c.req);
    }
    CHECK(req.keep_alive == c.keep_alive);
    CHECK(req.upgrade_websocket == c.upgrade);
  }
}

void test_http_helpers() {
  std::string s = "Keep-Alive , UPGRADE,,x";
  const uint8_t* b = bytes(s);
  c1m::http::Span all{0, uint32_t(s.size())};
  CHECK(c1m::http::list_has_token(b, all, "keep-alive"));
  CHECK(c1m::http::list_has_token(b, all, "upgrade"));
  CHECK(c1m::http::list_has_token(b, all, "x"));
  CHECK(!c1m::http::list_has_token(b, all, "keep"));
  CHECK(!c1m::http::list_has_token(b, all, ""));
  CHECK(!c1m::http::list_has_token(b, c1m::http::Span{0, 0}, "x"));
  CHECK(c1m::http::header_equals(b, c1m::http::Span{0, 10}, "keep-alive"));
  CHECK(c1m::http::header_equals(b, c1m::http::Span{0, 10}, "KEEP-ALIVE"));
  CHECK(!c1m::http::header_equals(b, c1m::http::Span{0, 9}, "keep-alive"));
  CHECK(!c1m::http::header_equals(b, c1m::http::Span{0, 10}, "keep-alivE!"));
  CHECK(std::strcmp(c1m::http::reason_phrase(200), "OK") == 0);
  CHECK(std::strcmp(c1m::http::reason_phrase(431), "Request Header Fields Too Large") == 0);
  CHECK(std::strcmp(c1m::http::reason_phrase(799), "Unknown") == 0);
  // Query values decode as URLSearchParams decodes them.
  CHECK(c1m::http::decode_query_value("a%20b+c") == "a b c");
  CHECK(c1m::http::decode_query_value("%E2%82%AC") == "\xE2\x82\xAC");
  CHECK(c1m::http::decode_query_value("%zz%4") == "%zz%4");
  CHECK(c1m::http::decode_query_value("100%") == "100%");
  CHECK(c1m::http::decode_query_value("%2B%25") == "+%");
  CHECK(c1m::http::decode_query_value("").empty());
}

void test_http_websocket_fields() {
  std::string s =
      "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
      "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
  Request req;
  CHECK(is_complete(s, &req));
  CHECK(req.upgrade_websocket);
  CHECK(span_str(s, req.ws_key) == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(span_str(s, req.ws_version) == "13");
  CHECK(c1m::ws::validate_upgrade(bytes(s), req) == nullptr);
}

// Parses a pipelined stream the way the engine does: from each request's first byte, consuming
// head + body once both are present. `avail` is how many bytes have arrived.
struct Pipeline {
  std::vector<std::string> seen;
  size_t pos = 0;
  bool failed = false;

  void feed(const std::string& stream, size_t avail) {
    for (;;) {
      Request req;
      c1m::http::Result r = c1m::http::parse_request(bytes(stream) + pos, avail - pos, Limits{}, &req);
      if (r.status == c1m::http::Status::kError) {
        failed = true;
        return;
      }
      if (r.status == c1m::http::Status::kIncomplete) return;
      size_t total = req.header_bytes + req.content_length;
      if (avail - pos < total) return;
      seen.push_back(describe(bytes(stream) + pos, req) + "|body=" + stream.substr(pos + req.header_bytes, req.content_length));
      pos += total;
    }
  }
};

const std::string kPipelined =
    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST /b?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"
    "\r\n"  // a stray CRLF after a body, which the next parse skips
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
    "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    "GET /c HTTP/1.0\nConnection: keep-alive\n\n"
    "PUT /d HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

void test_http_split_points() {
  Pipeline whole;
  whole.feed(kPipelined, kPipelined.size());
  CHECK(!whole.failed && whole.pos == kPipelined.size() && whole.seen.size() == 5);
  for (size_t cut = 0; cut <= kPipelined.size(); cut++) {
    Pipeline p;
    p.feed(kPipelined, cut);
    p.feed(kPipelined, kPipelined.size());
    CHECK(!p.failed && p.pos == kPipelined.size() && p.seen == whole.seen);
  }
  // Byte by byte: every prefix of each request head is kIncomplete, then kComplete with the same result.
  size_t pos = 0;
  for (int k = 0; k < 5; k++) {
    Request full;
    c1m::http::Result r = c1m::http::parse_request(bytes(kPipelined) + pos, kPipelined.size() - pos, Limits{}, &full);
    CHECK(r.status == c1m::http::Status::kComplete);
    std::string want = describe(bytes(kPipelined) + pos, full);
    for (size_t n = 0; n <= kPipelined.size() - pos; n++) {
      Request req;
      r = c1m::http::parse_request(bytes(kPipelined) + pos, n, Limits{}, &req);
      if (n < full.header_bytes) {
        CHECK(r.status == c1m::http::Status::kIncomplete);
      } else {
        CHECK(r.status == c1m::http::Status::kComplete && describe(bytes(kPipelined) + pos, req) == want);
      }
    }
    pos += full.header_bytes + full.content_length;
  }
}

void test_http_prefix_errors() {
  // A prefix of a bad request is kIncomplete or the same error as the whole.
  const char* bad[] = {
      "GET / HTTP/1.1\r\nHost: h\r\nX : 1\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n",
  };
  for (const char* b : bad) {
    std::string s = b;
    Request req;
    c1m::http::Result whole = parse(s, &req);
    CHECK(whole.status == c1m::http::Status::kError);
    for (size_t n = 0; n < s.size(); n++) {
      c1m::http::Result r = c1m::http::parse_request(bytes(s), n, Limits{}, &req);
      CHECK(r.status == c1m::http::Status::kIncomplete ||
            (r.status == c1m::http::Status::kError && r.http_status == whole.http_status &&
             std::strcmp(r.reason, whole.reason) == 0));
    }
  }
}

bool same_result(c1m::http::Result a, c1m::http::Result b) {
  if (a.status != b.status || a.http_status != b.http_status) return false;
  if (a.reason == nullptr || b.reason == nullptr) return a.reason == b.reason;
  return std::strcmp(a.reason, b.reason) == 0;
}

// The shortest prefix of s whose parse is not kIncomplete (s.size() + 1 if there is none), with its
// result in *first. Also checks that every longer prefix, and s itself, gives that same result.
size_t first_verdict(const std::string& s, const Limits& lim, c1m::http::Result* first) {
  size_t k = 0;
  Request req;
  c1m::http::Result r{c1m::http::Status::kIncomplete, 0, nullptr};
  for (; k <= s.size(); k++) {
    r = c1m::http::parse_request(bytes(s), k, lim, &req);
    if (r.status != c1m::http::Status::kIncomplete) break;
  }
  *first = r;
  for (size_t m = k + 1; m <= s.size(); m++) {
    if (!same_result(c1m::http::parse_request(bytes(s), m, lim, &req), r)) {
      std::fprintf(stderr, "  prefix %zu disagrees with prefix %zu\n", m, k);
      CHECK(false);
      break;
    }
  }
  return k;
}

// True if the first prefix of s that is not kIncomplete is `len` bytes long and is that error.
bool rejected_at(const std::string& s, size_t len, uint16_t status, const char* reason = nullptr,
                 const Limits& lim = Limits{}) {
  c1m::http::Result r;
  size_t k = first_verdict(s, lim, &r);
  bool ok = k == len && r.status == c1m::http::Status::kError && r.http_status == status &&
            (reason == nullptr || (r.reason != nullptr && std::strcmp(r.reason, reason) == 0));
  if (!ok) {
    std::fprintf(stderr, "  expected %u (%s) at prefix %zu of %s: got status %d http %u (%s) at prefix %zu\n",
                 status, reason ? reason : "any", len, hex(bytes(s), s.size() < 24 ? s.size() : 24).c_str(),
                 int(r.status), r.http_status, r.reason ? r.reason : "-", k);
  }
  return ok;
}

void test_http_not_http() {
  // A TLS 1.2/1.3 ClientHello: record type 0x16 is not a tchar, so the first byte settles it.
  std::string tls("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
  Rng rng;
  for (int i = 0; i < 32; i++) tls += char(rng.next());  // client random
  tls += std::string("\x20", 1) + std::string(32, '\x5a') + std::string("\x00\x02\x13\x01\x01\x00", 6);
  CHECK(rejected_at(tls, 1, 400, "invalid method"));
  // An SSH client banner: "SSH-2.0-OpenSSH_9.0" is a valid method; its CR (byte 20) is not a SP.
  std::string ssh = "SSH-2.0-OpenSSH_9.0\r\n";
  CHECK(rejected_at(ssh, 20, 400, "invalid method"));
  CHECK(rejected_at(ssh + "more banner bytes that never end", 20, 400, "invalid method"));
  // 256 pseudo-random bytes whose first byte is not a tchar.
  std::string noise;
  for (int i = 0; i < 256; i++) noise += char(rng.next() >> 24);
  noise[0] = char(uint8_t(noise[0]) | 0x80);
  CHECK(rejected_at(noise, 1, 400, "invalid method"));
  // The same three with a small window: still 400 at the same prefix, never 431.
  Limits small;
  small.max_header_bytes = 24;
  CHECK(rejected_at(tls, 1, 400, "invalid method", small));
  CHECK(rejected_at(ssh + std::string(100, 'x'), 20, 400, "invalid method", small));
  CHECK(rejected_at(noise, 1, 400, "invalid method", small));
}

void test_http_early_errors() {
  // Each request-line error is reported by the prefix that ends with its first offending byte.
  struct Case {
    const char* s;
    size_t len;  // of the first prefix that is not kIncomplete
    uint16_t status;
    const char* reason;
  } cases[] = {
      {" / HTTP/1.1\r\n", 1, 400, "invalid method"},
      {"G@T / HTTP/1.1\r\n", 2, 400, "invalid method"},
      {"GET\t/ HTTP/1.1\r\n", 4, 400, "invalid method"},
      {"GET\r\n\r\n", 4, 400, "invalid method"},
      {"GET\n", 4, 400, "invalid method"},
      {"\r\n\rGET / HTTP/1.1\r\n", 4, 400, "invalid method"},
      {"\r\n\n\x16\x03", 4, 400, "invalid method"},
      {"GET  / HTTP/1.1\r\n", 5, 400, "invalid request target"},
      {"GET /\r\n\r\n", 6, 400, "invalid request target"},
      {"GET /a\x01 HTTP/1.1\r\n", 7, 400, "invalid request target"},
      {"GET /a\x7F HTTP/1.1\r\n", 7, 400, "invalid request target"},
      {"GET /a\tb HTTP/1.1\r\n", 7, 400, "invalid request target"},
      {"GET / http/1.1\r\n", 7, 400, "invalid HTTP version"},
      {"GET /  HTTP/1.1\r\n", 7, 400, "invalid HTTP version"},
      {"GET / H\n\n", 8, 400, "invalid HTTP version"},
      {"GET / HTTP/\n\n", 12, 400, "invalid HTTP version"},
      {"GET / HTTP/11\r\n", 13, 400, "invalid HTTP version"},
      {"GET / HTTP/1.x\r\n", 14, 400, "invalid HTTP version"},
      {"GET / HTTP/1.10\r\n", 15, 400, "invalid request line ending"},
      {"GET / HTTP/1.1 \r\n", 15, 400, "invalid request line ending"},
      {"GET / HTTP/1.1\rHost: h\r\n\r\n", 16, 400, "invalid request line ending"},
      {"GET / HTTP/1.1\r\r\n", 16, 400, "invalid request line ending"},
      // 505 as soon as the line is complete, before the blank line.
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 16, 505, "HTTP version not supported"},
      {"GET / HTTP/0.9\n", 15, 505, "HTTP version not supported"},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 16, 505, "HTTP version not supported"},
      {"\r\nGET / HTTP/3.0\r\n", 18, 505, "HTTP version not supported"},
  };
  for (const Case& c : cases) CHECK(rejected_at(c.s, c.len, c.status, c.reason));
  // The NUL case needs an explicit length.
  CHECK(rejected_at(std::string("GET /a\0b HTTP/1.1\r\n", 19), 7, 400, "invalid request target"));
  // Header-line errors still wait for the blank line.
  std::string bad_header = "GET / HTTP/1.1\r\nHost: h\r\nX : 1\r\n\r\n";
  CHECK(rejected_at(bad_header, bad_header.size(), 400, "whitespace before colon"));
}

void test_http_error_order() {
  // Request-line verdicts within the window > 431 > header-line errors.
  Limits lim;
  lim.max_header_bytes = 64;
  std::string pad(200, 'a');
  // An invalid method with an oversized head: 400 as prefix and as whole.
  CHECK(rejected_at("G@T / HTTP/1.1\r\nX: " + pad + "\r\n\r\n", 2, 400, "invalid method", lim));
  CHECK(rejected_at("GET / HTTP/2.0\r\nX: " + pad + "\r\n\r\n", 16, 505, nullptr, lim));
  // The offending byte is the last one in the window: 400; one byte later: 431 at 65 bytes.
  std::string last_in = "GET /" + std::string(58, 'a') + "\x01" + pad;
  CHECK(last_in[63] == '\x01');
  CHECK(rejected_at(last_in, 64, 400, "invalid request target", lim));
  std::string first_out = "GET /" + std::string(59, 'a') + "\x01" + pad;
  CHECK(rejected_at(first_out, 65, 431, "request header section too large", lim));
  // A request line longer than the window, valid so far: 431.
  CHECK(rejected_at("GET /" + pad + " HTTP/1.1\r\n\r\n", 65, 431, nullptr, lim));
  // A 505 line that ends past the window: 431.
  CHECK(rejected_at("GET /" + std::string(50, 'a') + " HTTP/2.0\r\n\r\n", 65, 431, nullptr, lim));
  // A valid line, a bad header line and no blank line within the window: 431, not 400.
  CHECK(rejected_at("GET / HTTP/1.1\r\nX : 1\r\nY: " + pad, 65, 431, nullptr, lim));
  // A bad header in a head that fits: 400 once the head is complete.
  std::string fits = "GET / HTTP/1.1\r\nX : 1\r\n\r\n";
  CHECK(rejected_at(fits + pad, fits.size(), 400, "whitespace before colon", lim));
  // Leading empty lines fill the window: 431, even when a CR is the window's last byte.
  CHECK(rejected_at(std::string(64, '\n') + "GET / HTTP/1.1\r\n\r\n", 65, 431, nullptr, lim));
  CHECK(rejected_at(std::string(63, '\n') + "\r\nGET", 65, 431, nullptr, lim));
  // An empty window decides nothing: 431 for any first byte.
  Limits zero;
  zero.max_header_bytes = 0;
  CHECK(rejected_at("\x16\x03\x01", 1, 431, nullptr, zero));
}

// Valid heads (some with a body after them): every proper prefix of the head is kIncomplete, and
// every prefix from the head on is the same kComplete.
void test_http_valid_prefixes() {
  const char* heads[] = {
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.0\n\n",
      "GET / HTTP/1.0\r\n\r\n",
      "OPTIONS * HTTP/1.1\nHost: h\n\n",
      "!#$%&'*+-.^_`|~09azAZ http://a.b:8/c?d=\"e\"&f={g} HTTP/1.9\r\nHost: a.b\r\n\r\n",
      "GET /caf\xC3\xA9?\xFF\x80 HTTP/1.1\r\nHost: h\r\nX-Latin: \xE9t\xE9\r\n\r\n",
      "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
      "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  };
  for (const char* h : heads) {
    std::string s = h;
    Request full;
    bool ok = is_complete(s, &full);
    CHECK(ok);
    if (!ok) continue;
    std::string want = describe(bytes(s), full);
    for (size_t n = 0; n <= s.size(); n++) {
      Request req;
      c1m::http::Result r = c1m::http::parse_request(bytes(s), n, Limits{}, &req);
      if (n < full.header_bytes) {
        CHECK(r.status == c1m::http::Status::kIncomplete);
      } else {
        CHECK(r.status == c1m::http::Status::kComplete && describe(bytes(s), req) == want);
      }
    }
  }
}

// An independent statement of the request-line grammar, written as a whole-line check (skip empty
// lines, cut at the first LF, drop one CR, split at SP into exactly three parts) rather than byte by
// byte like the parser.
bool whole_line_valid(const std::string& s) {
  size_t i = 0;
  while (s.compare(i, 1, "\n") == 0 || s.compare(i, 2, "\r\n") == 0) i += s[i] == '\n' ? 1 : 2;
  size_t lf = s.find('\n', i);
  if (lf != s.size() - 1) return false;  // exactly one line, ending at the last byte
  std::string line = s.substr(i, lf - i);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  size_t sp1 = line.find(' '), sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos) return false;
  std::string method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
  if (method.empty() || target.empty() || version.size() != 8) return false;
  for (char c : method) {
    if (!std::isalnum(uint8_t(c)) && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) return false;
    if (c == 0) return false;
  }
  for (char c : target) {
    if (uint8_t(c) <= 0x20 || uint8_t(c) == 0x7F) return false;
  }
  return version.compare(0, 5, "HTTP/") == 0 && std::isdigit(uint8_t(version[5])) && version[6] == '.' &&
         std::isdigit(uint8_t(version[7]));
}

// Where the request line at the start of s is settled, by whole_line_valid: kind 'B' (bad): the
// prefix of `len` bytes is the shortest that no bytes can complete; 'L' (line): the shortest prefix
// that is a whole valid line is `len` bytes, major is its major digit; 'O' (open): neither within s.
struct LineRef {
  char kind;
  size_t len;
  char major;
};

LineRef reference_line(const std::string& s) {
  static const std::string kTail = "\nGET / HTTP/1.1\r\n";  // its suffixes complete any viable prefix
  for (size_t k = 0; k <= s.size(); k++) {
    std::string m = s.substr(0, k);
    if (whole_line_valid(m)) return {'L', k, m[k - (m[k - 2] == '\r' ? 5 : 4)]};
    bool viable = false;
    for (size_t t = 0; t <= kTail.size() && !viable; t++) viable = whole_line_valid(m + kTail.substr(t));
    if (!viable) return {'B', k, 0};
  }
  return {'O', 0, 0};
}

// Random valid request heads (and bodies), then each with one byte replaced at every position.
std::string gen_request(Rng& rng) {
  static const char* methods[] = {"GET", "POST", "PUT", "M-SEARCH", "!#$%&'*+-.^_`|~", "x"};
  static const char* targets[] = {"/", "/a?b=c", "*", "http://h:8/p?q", "/caf\xC3\xA9", "/%20\"<>{}[]\\"};
  static const char* versions[] = {"1.1", "1.1", "1.0", "1.9", "2.0", "0.9"};
  static const char* headers[] = {"Host: h", "X: 1", "Content-Length: 3", "Connection: close", "Expect: 100-continue",
                                  "Upgrade: websocket", "Transfer-Encoding: chunked", "A:  b \t", "Expect: x"};
  auto eol = [&]() { return rng.below(3) == 0 ? "\n" : "\r\n"; };
  std::string s;
  for (uint32_t i = rng.below(4) == 0 ? 1 + rng.below(2) : 0; i > 0; i--) s += eol();
  s += std::string(methods[rng.below(6)]) + " " + targets[rng.below(6)] + " HTTP/" + versions[rng.below(6)] + eol();
  for (uint32_t i = rng.below(5); i > 0; i--) s += std::string(headers[rng.below(9)]) + eol();
  s += eol();
  if (rng.below(2)) s += "abc";
  return s;
}

void test_http_prefix_property() {
  Rng rng;
  Limits tight;
  tight.max_header_bytes = 40;
  tight.max_headers = 3;
  tight.require_host = false;
  const Limits limits[] = {Limits{}, tight};
  const uint8_t interesting[] = {' ', '\r', '\n', '\t', 0, 0x7F, 0x80, ':', '"', 'H', '/', '1', '.', 'a', 0x16};
  size_t inputs = 0, errors = 0, early = 0, checked_line = 0;
  for (int base = 0; base < 120; base++) {
    std::string valid = gen_request(rng);
    for (size_t pos = 0; pos <= valid.size(); pos++) {
      for (int variant = 0; variant < 2; variant++) {
        std::string s = valid;
        if (pos < valid.size()) {
          s[pos] = char(variant == 0 ? interesting[rng.below(sizeof interesting)] : uint8_t(rng.next()));
        } else if (variant == 1) {
          continue;  // the unmutated request once
        }
        inputs++;
        LineRef ref = reference_line(s);
        for (const Limits& lim : limits) {
          Request whole_req;
          c1m::http::Result whole = parse(s, &whole_req, lim);
          std::string whole_desc = whole.status == c1m::http::Status::kComplete ? describe(bytes(s), whole_req) : "";
          if (whole.status == c1m::http::Status::kError) errors++;
          // Every prefix: kIncomplete or exactly the whole's result; the first verdict sticks.
          size_t first = s.size() + 1;
          for (size_t k = 0; k <= s.size(); k++) {
            Request req;
            c1m::http::Result r = c1m::http::parse_request(bytes(s), k, lim, &req);
            if (r.status == c1m::http::Status::kIncomplete) {
              CHECK(first > s.size());
              continue;
            }
            if (first > s.size()) first = k;
            bool same = same_result(r, whole) &&
                        (r.status != c1m::http::Status::kComplete || describe(bytes(s), req) == whole_desc);
            if (!same) std::fprintf(stderr, "  prefix %zu of %s\n", k, hex(bytes(s), s.size()).c_str());
            CHECK(same);
          }
          // Early: the request line's verdict comes at the byte the regex says, within the window.
          size_t window_end = lim.max_header_bytes;  // a prefix longer than this is 431 if undecided
          if (ref.kind == 'B' && ref.len <= window_end) {
            checked_line++, early++;
            CHECK(first == ref.len && whole.status == c1m::http::Status::kError && whole.http_status == 400);
          } else if (ref.kind == 'L' && ref.len <= window_end && ref.major != '1') {
            checked_line++, early++;
            CHECK(first == ref.len && whole.http_status == 505);
          } else if (ref.kind == 'L' && ref.len <= window_end) {
            checked_line++;
            CHECK(first >= ref.len && whole.http_status != 505 &&
                  !(whole.status == c1m::http::Status::kError && first == ref.len && whole.http_status == 400));
          } else {
            // Undecided within the window: only 431 (past the window) or kIncomplete.
            checked_line++;
            CHECK(s.size() <= window_end ? first > s.size() : (first == window_end + 1 && whole.http_status == 431));
          }
        }
      }
    }
  }
  CHECK(inputs > 5000 && errors > inputs / 2 && early > inputs / 4 && checked_line == 2 * inputs);
}

void test_http_expect() {
  struct Case {
    const char* headers;
    bool cont;
    bool other;
  } cases[] = {
      {"", false, false},
      {"Expect: 100-continue\r\n", true, false},
      {"Expect: 100-Continue\r\n", true, false},
      {"expect: 100-CONTINUE\r\n", true, false},
      {"Expect:  100-continue \t\r\n", true, false},
      {"Expect: , 100-continue,,\r\n", true, false},
      {"Expect: foo\r\n", false, true},
      {"Expect: 100-continue, foo\r\n", true, true},
      {"Expect: foo\r\nExpect: 100-continue\r\n", true, true},
      {"Expect: 100-continue=1\r\n", false, true},
      {"Expect: 100-continue;a=b\r\n", false, true},
      {"Expect: 100-continuee\r\n", false, true},
      {"Expect: 100-contin\r\n", false, true},
      {"Expect: \"100-continue\"\r\n", false, true},
      // Commas inside a quoted-string (with \" escapes) do not split members.
      {"Expect: foo=\"x, 100-continue ,y\"\r\n", false, true},
      {"Expect: foo=\"a\\\", 100-continue, b\"\r\n", false, true},
      {"Expect: foo=\"a\", 100-continue\r\n", true, true},
      {"Expect:\r\n", false, false},
      {"Expect: ,,\r\n", false, false},
      {"X-Expect: 100-continue\r\n", false, false},
      {"Expectation: 100-continue\r\n", false, false},
  };
  for (const Case& c : cases) {
    std::string s = std::string("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n") + c.headers + "\r\nhello";
    Request req;
    bool ok = is_complete(s, &req);
    CHECK(ok);
    if (!ok) continue;
    if (req.expect_continue != c.cont || req.expect_other != c.other) std::fprintf(stderr, "  expect case: %s\n", c.headers);
    CHECK(req.expect_continue == c.cont);
    CHECK(req.expect_other == c.other);
    CHECK(req.content_length == 5 && req.header_bytes == s.size() - 5);
  }
  // HTTP/1.0: 100-continue is ignored (RFC 9110 10.1.1), other expectations are still reported.
  Request req;
  CHECK(is_complete("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", &req));
  CHECK(!req.expect_continue && !req.expect_other);
  CHECK(is_complete("POST / HTTP/1.0\r\nExpect: 100-continue, x\r\n\r\n", &req));
  CHECK(!req.expect_continue && req.expect_other);
  // A higher 1.x minor is treated as 1.1.
  CHECK(is_complete("POST / HTTP/1.5\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", &req));
  CHECK(req.expect_continue && !req.expect_other);
  // A reused Request does not keep the flags of the previous parse.
  CHECK(is_complete("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req));
  CHECK(!req.expect_continue && !req.expect_other);
}

void test_http_response_head() {
  char out[512];
  const char* date = "Sun, 06 Nov 1994 08:49:37 GMT";
  size_t n = c1m::http::write_response_head(out, sizeof out, 200, nullptr, 13, true, date, nullptr);
  CHECK(std::string(out, n) == "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
  n = c1m::http::write_response_head(out, sizeof out, 404, "Nope", 0, false, nullptr,
                                     "Content-Type: text/plain\r\nX-A: b\r\n");
  CHECK(std::string(out, n) ==
        "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\nConnection: close\r\nContent-Type: text/plain\r\nX-A: b\r\n\r\n");
  n = c1m::http::write_response_head(out, sizeof out, 204, nullptr, 0, true, nullptr, nullptr);
  CHECK(std::string(out, n) == "HTTP/1.1 204 No Content\r\n\r\n");
  n = c1m::http::write_response_head(out, sizeof out, 100, nullptr, 0, true, nullptr, nullptr);
  CHECK(std::string(out, n) == "HTTP/1.1 100 Continue\r\n\r\n");
  n = c1m::http::write_response_head(out, sizeof out, 200, nullptr, UINT64_MAX, true, nullptr, nullptr);
  CHECK(std::string(out, n) == "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n");
  CHECK(c1m::http::write_response_head(out, sizeof out, 99, nullptr, 0, true, nullptr, nullptr) == 0);
  CHECK(c1m::http::write_response_head(out, sizeof out, 1000, nullptr, 0, true, nullptr, nullptr) == 0);
  // Every capacity below the needed size gives 0 and writes nothing past cap.
  size_t need = c1m::http::write_response_head(out, sizeof out, 200, nullptr, 5, false, date, "X: y\r\n");
  CHECK(need > 0);
  for (size_t cap = 0; cap < need; cap++) {
    char small[512];
    std::memset(small, '#', sizeof small);
    CHECK(c1m::http::write_response_head(small, cap, 200, nullptr, 5, false, date, "X: y\r\n") == 0);
    CHECK(small[cap] == '#');
  }
  char exact[512];
  CHECK(c1m::http::write_response_head(exact, need, 200, nullptr, 5, false, date, "X: y\r\n") == need);
  CHECK(std::memcmp(exact, out, need) == 0);
}

void test_http_date() {
  char d[30];
  c1m::http::format_imf_date(784111777, d);
  CHECK(std::string(d) == "Sun, 06 Nov 1994 08:49:37 GMT");
  c1m::http::format_imf_date(0, d);
  CHECK(std::string(d) == "Thu, 01 Jan 1970 00:00:00 GMT");
  c1m::http::format_imf_date(951782400, d);
  CHECK(std::string(d) == "Tue, 29 Feb 2000 00:00:00 GMT");
  c1m::http::format_imf_date(253402300799, d);
  CHECK(std::string(d) == "Fri, 31 Dec 9999 23:59:59 GMT");
  c1m::http::format_imf_date(INT64_MAX, d);
  CHECK(std::string(d) == "Fri, 31 Dec 9999 23:59:59 GMT");
  c1m::http::format_imf_date(-5, d);
  CHECK(std::string(d) == "Thu, 01 Jan 1970 00:00:00 GMT");
  c1m::http::DateCache cache;
  const char* a = cache.get(784111777);
  CHECK(std::strlen(a) == c1m::http::kDateLen && std::string(a) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(cache.get(784111777) == a);
  CHECK(std::string(cache.get(784111778)) == "Sun, 06 Nov 1994 08:49:38 GMT");
  // Agrees with strftime in the C locale over a spread of seconds.
  Rng rng;
  for (int i = 0; i < 2000; i++) {
    int64_t t = int64_t(rng.next() % 4102444800ull);
    c1m::http::format_imf_date(t, d);
    time_t tt = time_t(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char want[64];
    std::strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK(std::string(d) == want);
  }
}

// ---------------------------------------------------------------- ws

using c1m::ws::FrameHeader;

c1m::ws::Result ws_parse(const std::vector<uint8_t>& v, bool masked, FrameHeader* h, uint64_t max = UINT64_MAX >> 1) {
  return c1m::ws::parse_header(v.data(), v.size(), masked, max, h);
}

bool ws_error(const std::vector<uint8_t>& v, bool masked, uint16_t code, uint64_t max = UINT64_MAX >> 1) {
  FrameHeader h;
  c1m::ws::Result r = ws_parse(v, masked, &h, max);
  return r.status == c1m::ws::Status::kError && r.close_code == code && r.reason != nullptr &&
         std::strlen(r.reason) < 123;
}

void test_ws_accept_key() {
  char out[28];
  std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  c1m::ws::accept_key(bytes(key), key.size(), out);
  CHECK(std::string(out, 28) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  char resp[256];
  size_t n = c1m::ws::write_upgrade_response(resp, sizeof resp, out);
  CHECK(std::string(resp, n) ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  CHECK(c1m::ws::write_upgrade_response(resp, n - 1, out) == 0);
  CHECK(c1m::ws::write_upgrade_response(resp, n, out) == n);
}

void test_ws_rfc_examples() {
  // RFC 6455 5.7.
  FrameHeader h;
  std::vector<uint8_t> hello = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
  CHECK(ws_parse(hello, false, &h).status == c1m::ws::Status::kComplete);
  CHECK(h.fin && h.opcode == c1m::ws::kText && !h.masked && h.payload_len == 5 && h.header_len == 2);
  std::vector<uint8_t> masked = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  CHECK(ws_parse(masked, true, &h).status == c1m::ws::Status::kComplete);
  CHECK(h.masked && h.header_len == 6 && h.payload_len == 5 && h.mask[0] == 0x37 && h.mask[3] == 0x3d);
  c1m::ws::unmask(masked.data() + 6, 5, h.mask, 0);
  CHECK(std::memcmp(masked.data() + 6, "Hello", 5) == 0);
  std::vector<uint8_t> frag1 = {0x01, 0x03, 'H', 'e', 'l'};
  std::vector<uint8_t> frag2 = {0x80, 0x02, 'l', 'o'};
  CHECK(ws_parse(frag1, false, &h).status == c1m::ws::Status::kComplete && !h.fin && h.opcode == c1m::ws::kText);
  CHECK(ws_parse(frag2, false, &h).status == c1m::ws::Status::kComplete && h.fin &&
        h.opcode == c1m::ws::kContinuation);
  std::vector<uint8_t> ping = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
  CHECK(ws_parse(ping, false, &h).status == c1m::ws::Status::kComplete && h.opcode == c1m::ws::kPing);
  std::vector<uint8_t> pong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  CHECK(ws_parse(pong, true, &h).status == c1m::ws::Status::kComplete && h.opcode == c1m::ws::kPong);
  std::vector<uint8_t> b256 = {0x82, 0x7E, 0x01, 0x00};
  CHECK(ws_parse(b256, false, &h).status == c1m::ws::Status::kComplete && h.payload_len == 256 && h.header_len == 4);
  std::vector<uint8_t> b64k = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
  CHECK(ws_parse(b64k, false, &h).status == c1m::ws::Status::kComplete && h.payload_len == 65536 &&
        h.header_len == 10);
}

void test_ws_lengths() {
  const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20, (1ull << 32) + 7, (1ull << 63) - 1};
  const uint8_t key[4] = {0xA1, 0xB2, 0xC3, 0xD4};
  for (uint64_t len : lens) {
    for (int m = 0; m < 2; m++) {
      uint8_t buf[c1m::ws::kMaxHeaderBytes];
      size_t hl = c1m::ws::encode_header(buf, true, c1m::ws::kBinary, len, m ? key : nullptr);
      size_t want = (len <= 125 ? 2 : len <= 65535 ? 4 : 10) + (m ? 4 : 0);
      CHECK(hl == want);
      FrameHeader h;
      for (size_t n = 0; n < hl; n++) {
        CHECK(c1m::ws::parse_header(buf, n, m == 1, UINT64_MAX, &h).status == c1m::ws::Status::kIncomplete);
      }
      c1m::ws::Result r = c1m::ws::parse_header(buf, hl, m == 1, UINT64_MAX, &h);
      CHECK(r.status == c1m::ws::Status::kComplete);
      CHECK(h.fin && h.rsv == 0 && h.opcode == c1m::ws::kBinary && h.masked == (m == 1) && h.payload_len == len &&
            h.header_len == hl);
      if (m) CHECK(std::memcmp(h.mask, key, 4) == 0);
      // Too big by one byte is 1009 as soon as the length is readable, not only once the mask is in.
      if (len > 0) {
        r = c1m::ws::parse_header(buf, hl - (m ? 4 : 0), m == 1, len - 1, &h);
        CHECK(r.status == c1m::ws::Status::kError && r.close_code == 1009);
      }
      CHECK(c1m::ws::parse_header(buf, hl, m == 1, len, &h).status == c1m::ws::Status::kComplete);
    }
  }
  // Non-minimal encodings are accepted.
  FrameHeader h;
  CHECK(ws_parse({0x82, 0x7E, 0x00, 0x05}, false, &h).status == c1m::ws::Status::kComplete && h.payload_len == 5);
  CHECK(ws_parse({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0}, false, &h).status == c1m::ws::Status::kComplete &&
        h.payload_len == 0);
  // encode_header keeps only the low 4 opcode bits and sets no RSV bit.
  uint8_t buf[14];
  c1m::ws::encode_header(buf, false, 0xF9, 3, nullptr);
  CHECK(buf[0] == 0x09 && buf[1] == 3);
}

void test_ws_header_errors() {
  for (uint8_t rsv = 1; rsv < 8; rsv++) CHECK(ws_error({uint8_t(0x81 | (rsv << 4)), 0x80}, true, 1002));
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) CHECK(ws_error({uint8_t(0x80 | op), 0x80}, true, 1002));
  CHECK(ws_error({0x09, 0x80}, true, 1002));  // fragmented ping
  CHECK(ws_error({0x08, 0x80}, true, 1002));  // fragmented close
  CHECK(ws_error({0x88, 0xFE}, true, 1002));  // close with 16-bit length
  CHECK(ws_error({0x89, 0xFF}, true, 1002));  // ping with 64-bit length
  CHECK(ws_error({0x8A, 0x7E}, false, 1002));
  CHECK(ws_error({0x81, 0x05}, true, 1002));  // server got an unmasked frame
  CHECK(ws_error({0x81, 0x85}, false, 1002));  // client got a masked frame
  CHECK(ws_error({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, false, 1002));
  CHECK(ws_error({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, false, 1002, 0));  // the MSB rule wins over 1009
  CHECK(ws_error({0x82, 0x7E, 0x04, 0x01}, false, 1009, 1024));
  CHECK(ws_error({0x89, 0x7D}, false, 1009, 100));
  FrameHeader h;
  CHECK(ws_parse({0x89, 0x7D}, false, &h, 125).status == c1m::ws::Status::kComplete);
  // Errors visible in the first two bytes are reported with just those bytes.
  CHECK(ws_error({0xC1, 0x85}, true, 1002));
  CHECK(ws_parse({0x81}, true, &h).status == c1m::ws::Status::kIncomplete);
  CHECK(ws_parse({}, true, &h).status == c1m::ws::Status::kIncomplete);
}

void test_ws_unmask() {
  Rng rng;
  std::vector<uint8_t> plain(1000);
  for (auto& b : plain) b = uint8_t(rng.next());
  for (int trial = 0; trial < 20; trial++) {
    uint8_t mask[4];
    for (auto& b : mask) b = uint8_t(rng.next());
    std::vector<uint8_t> whole = plain;
    c1m::ws::unmask(whole.data(), whole.size(), mask, 0);
    bool ref_ok = true;
    for (size_t i = 0; i < plain.size(); i++) ref_ok = ref_ok && whole[i] == (plain[i] ^ mask[i & 3]);
    CHECK(ref_ok);
    // Fixed piece sizes, then random ones; the pieces also start at unaligned addresses.
    for (size_t piece = 1; piece <= 41; piece += (piece < 10 ? 1 : 8)) {
      std::vector<uint8_t> v = plain;
      for (size_t off = 0; off < v.size(); off += piece) {
        size_t k = v.size() - off < piece ? v.size() - off : piece;
        c1m::ws::unmask(v.data() + off, k, mask, off);
      }
      CHECK(v == whole);
    }
    std::vector<uint8_t> v = plain;
    size_t off = 0;
    while (off < v.size()) {
      size_t k = rng.below(70);
      if (k > v.size() - off) k = v.size() - off;
      c1m::ws::unmask(v.data() + off, k, mask, off);
      off += k;
    }
    CHECK(v == whole);
    // Unmasking twice restores the input; a large offset only matters mod 4.
    c1m::ws::unmask(v.data(), v.size(), mask, 0);
    CHECK(v == plain);
    std::vector<uint8_t> a = plain, b = plain;
    c1m::ws::unmask(a.data(), a.size(), mask, (1ull << 40) + 3);
    c1m::ws::unmask(b.data(), b.size(), mask, 3);
    CHECK(a == b);
  }
  c1m::ws::unmask(nullptr, 0, plain.data(), 0);
}

std::string make_upgrade(const std::string& extra, const std::string& method = "GET", const std::string& ver = "1.1",
                         bool with_key = true, bool with_version = true) {
  std::string s = method + " /ws HTTP/" + ver + "\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (with_key) s += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (with_version) s += "Sec-WebSocket-Version: 13\r\n";
  return s + extra + "\r\n";
}

const char* upgrade_reason(const std::string& s) {
  Request req;
  if (!is_complete(s, &req)) return "did not parse";
  return c1m::ws::validate_upgrade(bytes(s), req);
}

void test_ws_validate_upgrade() {
  using namespace c1m::ws;
  CHECK(upgrade_reason(make_upgrade("")) == nullptr);
  CHECK(upgrade_reason(make_upgrade("", "POST")) == kNotGet);
  CHECK(upgrade_reason(make_upgrade("", "get")) == kNotGet);
  CHECK(upgrade_reason(make_upgrade("", "GET", "1.0")) == kNotHttp11);
  CHECK(upgrade_reason("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n") == kNotUpgrade);
  CHECK(upgrade_reason(make_upgrade("", "GET", "1.1", true, false)) == kMissingVersion);
  CHECK(upgrade_reason(make_upgrade("Sec-WebSocket-Version: 8\r\n", "GET", "1.1", true, false)) == kBadVersion);
  CHECK(upgrade_reason(make_upgrade("Sec-WebSocket-Version: 13, 8\r\n", "GET", "1.1", true, false)) == kBadVersion);
  CHECK(upgrade_reason(make_upgrade("Sec-WebSocket-Version: 13\r\n")) == kDuplicateVersion);
  CHECK(upgrade_reason(make_upgrade("", "GET", "1.1", false)) == kMissingKey);
  CHECK(upgrade_reason(make_upgrade("sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n")) == kDuplicateKey);
  const char* bad_keys[] = {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                            "dGhlIHNhbXBsZSBub25jZ===", "dGhlIHNhbXBsZSBub2 5jZQ==", "dGhlIHNhbXBsZSBub25jZQ.=",
                            "dGhlIHNhbXBsZSBub25jZS1hYg==", "AAAAAAAAAAAAAAAAAAAAAAAA"};
  for (const char* k : bad_keys) {
    CHECK(upgrade_reason(make_upgrade(std::string("Sec-WebSocket-Key: ") + k + "\r\n", "GET", "1.1", false)) ==
          kBadKey);
  }
  CHECK(upgrade_reason(make_upgrade("Sec-WebSocket-Key:   AAAAAAAAAAAAAAAAAAAAAA==  \r\n", "GET", "1.1", false)) ==
        nullptr);
}

// A plain code-point decoder, written differently from the automaton, to check it against.
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

bool utf8_str(const std::string& s) { return c1m::ws::utf8_valid(bytes(s), s.size()); }

void test_utf8_cases() {
  const char* valid[] = {"",
                         "hello, world",
                         "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5",  // κόσμε
                         "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
                         "\xEF\xBF\xBE", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\xF3\xBF\xBF\xBF",
                         ("abcdefgh\xC3\xA9" "abcdefghijklmnop\xF0\x9F\x98\x80xyz")};
  for (const char* s : valid) CHECK(utf8_str(s));
  CHECK(c1m::ws::utf8_valid(reinterpret_cast<const uint8_t*>("a\0b"), 3));
  const char* invalid[] = {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xF0\x8F\xBF\xBF",
                           "\xF0\x80\x80\x80", "\xED\xA0\x80", "\xED\xBF\xBF", "\xED\xA0\x80\xED\xB0\x80",
                           "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFC\x84\x80\x80\x80\x80",
                           "\xFE", "\xFF", "\xC2", "\xE2\x82", "\xF0\x9F\x98", "\xC2\x41", "\xE2\x28\xA1",
                           "abcdefgh\xC3", "abcdefghijklmnopqrstuvwxyz\x80"};
  for (const char* s : invalid) CHECK(!utf8_str(s));
}

void test_utf8_incremental() {
  // Every split of a valid multi-byte text gives the same answer, and truncation shows only at the end.
  std::string text = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5 hello \xF0\x9F\x98\x80 \xE2\x82\xAC!";
  for (size_t cut = 0; cut <= text.size(); cut++) {
    c1m::ws::Utf8State st{0};
    CHECK(c1m::ws::utf8_feed(&st, bytes(text), cut));
    CHECK(c1m::ws::utf8_complete(st) == utf8_str(text.substr(0, cut)));
    CHECK(c1m::ws::utf8_feed(&st, bytes(text) + cut, text.size() - cut));
    CHECK(c1m::ws::utf8_complete(st));
  }
  // Fail fast: the feed that brings the first impossible byte returns false (Autobahn 6.4.x).
  std::string bad = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80" "edited";
  c1m::ws::Utf8State st{0};
  CHECK(c1m::ws::utf8_feed(&st, bytes(bad), 12));
  CHECK(!c1m::ws::utf8_feed(&st, bytes(bad) + 12, 1));
  CHECK(!c1m::ws::utf8_feed(&st, bytes(bad) + 13, 5));
  CHECK(!c1m::ws::utf8_feed(&st, bytes("a"), 1));
  CHECK(!c1m::ws::utf8_complete(st));
  c1m::ws::Utf8State empty{0};
  CHECK(c1m::ws::utf8_feed(&empty, nullptr, 0) && c1m::ws::utf8_complete(empty));
}

void test_utf8_exhaustive() {
  // All sequences of 1..3 bytes, and 4-byte sequences over every lead and second byte.
  uint8_t b[4];
  bool same = true;
  for (uint32_t v = 0; v < (1u << 24) && same; v++) {
    b[0] = uint8_t(v >> 16), b[1] = uint8_t(v >> 8), b[2] = uint8_t(v);
    if (v < 256) same = same && c1m::ws::utf8_valid(b + 2, 1) == utf8_reference(b + 2, 1);
    if (v < 65536) same = same && c1m::ws::utf8_valid(b + 1, 2) == utf8_reference(b + 1, 2);
    same = same && c1m::ws::utf8_valid(b, 3) == utf8_reference(b, 3);
    if (!same) std::fprintf(stderr, "  utf8 mismatch at %06x\n", v);
  }
  CHECK(same);
  const uint8_t tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF};
  for (int lead = 0xE0; lead < 0x100; lead++) {
    for (int second = 0; second < 256; second++) {
      for (uint8_t c : tails) {
        for (uint8_t d : tails) {
          b[0] = uint8_t(lead), b[1] = uint8_t(second), b[2] = c, b[3] = d;
          same = same && c1m::ws::utf8_valid(b, 4) == utf8_reference(b, 4);
        }
      }
    }
  }
  CHECK(same);
  // Long random mixes, fed whole and in random pieces.
  Rng rng;
  const char* pieces[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF", "\x80", "\xC0",
                          "\xED\xA0", "\xF4\x90", "0123456789abcdef"};
  for (int trial = 0; trial < 3000; trial++) {
    std::string s;
    int count = int(rng.below(40));
    for (int i = 0; i < count; i++) s += pieces[rng.below(trial % 2 ? 10 : 5)];
    bool ref = utf8_reference(bytes(s), s.size());
    CHECK(utf8_str(s) == ref);
    c1m::ws::Utf8State st{0};
    bool ok = true;
    size_t off = 0;
    while (off < s.size()) {
      size_t k = 1 + rng.below(12);
      if (k > s.size() - off) k = s.size() - off;
      ok = c1m::ws::utf8_feed(&st, bytes(s) + off, k) && ok;
      off += k;
    }
    CHECK((ok && c1m::ws::utf8_complete(st)) == ref);
  }
}

void test_ws_close() {
  const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  const uint16_t bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
  for (uint16_t c : good) CHECK(c1m::ws::close_code_valid(c));
  for (uint16_t c : bad) CHECK(!c1m::ws::close_code_valid(c));
  uint16_t code = 0;
  CHECK(c1m::ws::parse_close_payload(nullptr, 0, &code).status == c1m::ws::Status::kComplete && code == 1005);
  uint8_t one[] = {0x03};
  c1m::ws::Result r = c1m::ws::parse_close_payload(one, 1, &code);
  CHECK(r.status == c1m::ws::Status::kError && r.close_code == 1002);
  uint8_t normal[] = {0x03, 0xE8, 'b', 'y', 'e'};
  CHECK(c1m::ws::parse_close_payload(normal, 5, &code).status == c1m::ws::Status::kComplete && code == 1000);
  uint8_t no_status[] = {0x03, 0xED};
  r = c1m::ws::parse_close_payload(no_status, 2, &code);
  CHECK(r.status == c1m::ws::Status::kError && r.close_code == 1002);
  uint8_t app[] = {0x0F, 0xA0, 0xCE, 0xBA};
  CHECK(c1m::ws::parse_close_payload(app, 4, &code).status == c1m::ws::Status::kComplete && code == 4000);
  uint8_t bad_utf8[] = {0x03, 0xE8, 0xCE, 0xBA, 0xED, 0xA0, 0x80};
  r = c1m::ws::parse_close_payload(bad_utf8, sizeof bad_utf8, &code);
  CHECK(r.status == c1m::ws::Status::kError && r.close_code == 1007);
}

}  // namespace

int main() {
  run("frame", test_frame);
  run("sha1 vectors", test_sha1_vectors);
  run("sha1 streaming", test_sha1_streaming);
  run("base64", test_base64);
  run("http simple", test_http_simple);
  run("http line endings", test_http_line_endings);
  run("http versions", test_http_versions);
  run("http request line errors", test_http_request_line_errors);
  run("http header errors", test_http_header_errors);
  run("http content-length", test_http_content_length);
  run("http limits", test_http_limits);
  run("http connection", test_http_connection);
  run("http helpers", test_http_helpers);
  run("http websocket fields", test_http_websocket_fields);
  run("http split points", test_http_split_points);
  run("http prefix errors", test_http_prefix_errors);
  run("http not http", test_http_not_http);
  run("http early errors", test_http_early_errors);
  run("http error order", test_http_error_order);
  run("http valid prefixes", test_http_valid_prefixes);
  run("http prefix property", test_http_prefix_property);
  run("http expect", test_http_expect);
  run("http response head", test_http_response_head);
  run("http date", test_http_date);
  run("ws accept key", test_ws_accept_key);
  run("ws rfc examples", test_ws_rfc_examples);
  run("ws lengths", test_ws_lengths);
  run("ws header errors", test_ws_header_errors);
  run("ws unmask", test_ws_unmask);
  run("ws validate upgrade", test_ws_validate_upgrade);
  run("utf8 cases", test_utf8_cases);
  run("utf8 incremental", test_utf8_incremental);
  run("utf8 exhaustive", test_utf8_exhaustive);
  run("ws close", test_ws_close);
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
