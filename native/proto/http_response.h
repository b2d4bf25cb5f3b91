// HTTP/1.1 response framing for the load driver: where a response ends and its status. Only
// what a client needs to count and check answers (status line, Content-Length); the server
// side's request parser (http.h) is the strict one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace c1m::http {

enum class RespStatus : uint8_t { kComplete, kIncomplete, kError };

struct Response {
  uint16_t status;
  size_t head_bytes;  // status line + headers + blank line
  size_t total;       // head + Content-Length body
};

// Finds the end of a response at p (n bytes). kComplete sets *out (total may exceed n: the body
// is still arriving, wait for out->total bytes); kError for anything that is not HTTP/1.x with a
// 3-digit status and either a Content-Length or no body; kIncomplete until the head is whole.
// Heads longer than max_head are errors.
inline RespStatus parse_response(const uint8_t* p, size_t n, size_t max_head, Response* out) {
  const size_t scan = n < max_head ? n : max_head;
  const void* end = memmem(p, scan, "\r\n\r\n", 4);
  if (!end) return n >= max_head ? RespStatus::kError : RespStatus::kIncomplete;
  const size_t head = size_t(static_cast<const uint8_t*>(end) - p) + 4;
  if (head < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') return RespStatus::kError;
  uint16_t st = 0;
  for (int i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') return RespStatus::kError;
    st = uint16_t(st * 10 + (p[i] - '0'));
  }
  uint64_t len = 0;
  bool have_len = false;
  // Walk header lines for Content-Length (case-insensitive name).
  size_t i = 0;
  while (i < head && p[i] != '\n') ++i;
  for (size_t line = i + 1; line + 2 < head;) {
    size_t eol = line;
    while (eol < head && p[eol] != '\n') ++eol;
    static const char kName[] = "content-length:";
    if (eol - line > 15 && strncasecmp(reinterpret_cast<const char*>(p + line), kName, 15) == 0) {
      size_t v = line + 15;
      while (v < eol && (p[v] == ' ' || p[v] == '\t')) ++v;
      if (v >= eol || p[v] < '0' || p[v] > '9') return RespStatus::kError;
      len = 0;
      while (v < eol && p[v] >= '0' && p[v] <= '9') {
        len = len * 10 + uint64_t(p[v] - '0');
        if (len > (1ull << 40)) return RespStatus::kError;
        ++v;
      }
      have_len = true;
    }
    line = eol + 1;
  }
  // A keep-alive benchmark needs delimited bodies; 1xx/204/304 carry none.
  if (!have_len && !(st < 200 || st == 204 || st == 304)) return RespStatus::kError;
  out->status = st;
  out->head_bytes = head;
  out->total = head + size_t(len);
  return RespStatus::kComplete;
}

}  // namespace c1m::http
