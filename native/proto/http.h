// HTTP/1.1 request-head parser, response-head writer and a cached IMF-fixdate (RFC 9110, RFC 9112).
// Pure functions over byte ranges: no sockets, no allocation, no exceptions, never a read past p + n.
//
// Parsing model. parse_request() is stateless: the engine calls it again from the first byte of the
// request whenever more bytes arrive. Each call runs in this order, over the window of the first
// min(n, max_header_bytes) bytes:
//   1. The request line (after any leading empty lines) is checked byte by byte as far as the window
//      goes, stopping at the first byte that proves it invalid: a method byte that is not a tchar, an
//      empty method, a target byte outside the set below, an empty target, a version byte that cannot
//      continue "HTTP/" DIGIT "." DIGIT, or anything but [CR] LF after it. That is a 400 at once, with
//      no wait for the blank line, so a TLS ClientHello, an SSH banner or binary noise is answered
//      after its first offending byte. A complete line with a major version other than 1 is a 505 at
//      once too.
//   2. A request line still unfinished at the end of the window: 431 if n > max_header_bytes, else
//      kIncomplete.
//   3. A valid request line: the blank line that ends the head is looked for in the window (a memchr
//      walk); none there is 431 if n > max_header_bytes, else kIncomplete.
//   4. The head is complete: the header lines are parsed and checked; the first error found wins.
// So a request-line error (400 or 505) decided within the first max_header_bytes bytes comes before
// 431, and 431 before any header-line error; header-line errors are seen only once the head is
// complete. Each step's verdict depends only on the bytes up to the one that decides it, so a prefix
// of the stream gives either kIncomplete or exactly the result of the whole stream (same status,
// http_status and reason). A re-call costs a scan of the request line plus a memchr over the rest of
// the window, both bounded by max_header_bytes. On kError the engine should answer http_status
// (Connection: close) and close: the request boundary is lost.
//
// Choices where RFC 9112 leaves room:
// - A bare LF ends a line like CRLF does (2.2 MAY). A CR not followed by LF is a 400.
// - Empty lines before the request line are skipped (2.2 SHOULD); they count toward header_bytes.
// - Version: "HTTP/1.0" -> version_minor 0, "HTTP/1.1".."HTTP/1.9" -> 1 (RFC 9110 2.5: treat a
//   higher minor as the highest we speak); any other major digit -> 505; anything else -> 400.
// - Request target: any bytes 0x21-0x7E or 0x80-0xFF; its form (origin, absolute, ...) is not checked.
// - obs-fold (a line starting with SP/HTAB) -> 400. Whitespace before the colon -> 400.
// - Header values: leading/trailing SP/HTAB trimmed; HTAB, SP, VCHAR and obs-text (0x80-0xFF) allowed;
//   any other control byte (NUL, DEL, ...) -> 400.
// - Content-Length: 1*DIGIT only; a second Content-Length line -> 400 even if equal; a list
//   ("5, 5") -> 400; a value over max_body_bytes (including one too long for 64 bits) -> 413.
// - Transfer-Encoding in any form -> 501: we do not decode chunked bodies, and refusing it also
//   shuts the Transfer-Encoding/Content-Length smuggling door.
// - Host: a second Host line -> 400; a missing Host in HTTP/1.1 -> 400 unless Limits::require_host
//   is false (RFC 9112 3.2 MUST).
// - Expect: never an error here; Request::expect_continue / expect_other report it and the engine
//   decides between 100, 417 and a final status (RFC 9110 10.1.1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace c1m::http {

// A byte range of the request: base + off, len bytes. Offsets are from the first byte handed to
// parse_request (leading empty lines included).
struct Span {
  uint32_t off;
  uint32_t len;
};

struct Header {
  Span name;
  Span value;  // OWS-trimmed
};

constexpr int kMaxHeaders = 64;

struct Limits {
  uint32_t max_header_bytes = 8192;  // request line + headers + blank line
  uint32_t max_headers = kMaxHeaders;  // values above kMaxHeaders act as kMaxHeaders
  uint64_t max_body_bytes = 1u << 20;
  bool require_host = true;  // HTTP/1.1 without Host -> 400
};

struct Request {
  Span method, target;  // target = path + query as sent
  Span path;            // target up to '?'
  uint8_t version_minor;  // 0 or 1; see the version rules above
  uint16_t num_headers;
  Header headers[kMaxHeaders];
  uint64_t content_length;  // 0 when absent
  uint32_t header_bytes;    // leading empty lines + request line + headers + blank line
  bool keep_alive;  // 1.1: true unless Connection has "close"; 1.0: only with "keep-alive" and no "close"
  bool upgrade_websocket;  // Upgrade lists "websocket" and Connection lists "upgrade" (case-insensitive)
  // Expect (RFC 9110 10.1.1), over every Expect line, each a comma-separated list of members (commas
  // inside a quoted-string do not split; empty members are skipped):
  // expect_continue: a member is exactly "100-continue" (case-insensitive, no "=value" or parameters)
  //   and version_minor is 1 (the RFC says to ignore it in HTTP/1.0). Set whatever content_length
  //   is; the engine may send "100 Continue" before reading the body, or the final status at once.
  // expect_other: a member is anything else (including "100-continue=x"), in any version; the engine
  //   may answer 417. Both can be true; both are false without an Expect line.
  bool expect_continue;
  bool expect_other;
  Span host;               // len 0 when absent
  Span ws_key, ws_version;  // first Sec-WebSocket-Key / Sec-WebSocket-Version; len 0 when absent
};

enum class Status : uint8_t { kComplete, kIncomplete, kError };

// http_status and reason are set on kError only (0 and nullptr otherwise). reason is a short static
// diagnostic in printable ASCII (e.g. "invalid header name"); reason_phrase(http_status) is the
// standard phrase.
struct Result {
  Status status;
  uint16_t http_status;
  const char* reason;
};

// Parses the request head at p (n bytes available). kComplete: *out is filled and the body of
// out->content_length bytes starts at out->header_bytes. kIncomplete: call again with more bytes.
// kError: 400 malformed, 413 body too large, 431 head too large or too many headers, 501
// Transfer-Encoding, 505 version. *out is only meaningful on kComplete.
Result parse_request(const uint8_t* p, size_t n, const Limits& lim, Request* out);

// True if the bytes at base + s equal lit, ASCII case-insensitively.
bool header_equals(const uint8_t* base, Span s, const char* lit);

// True if the comma-separated list at base + s has an element equal to token (case-insensitive,
// OWS around elements ignored, empty elements skipped).
bool list_has_token(const uint8_t* base, Span s, const char* token);

// One value of an application/x-www-form-urlencoded query string, decoded as URLSearchParams
// decodes it (so a room named natively is the room JS names): '+' is a space, %XX is that byte,
// and a '%' not followed by two hex digits stays as it is.
std::string decode_query_value(std::string_view v);

// The first header named name (case-insensitive), or nullptr.
const Header* find_header(const uint8_t* base, const Request& req, const char* name);

// Standard reason phrase for status ("OK", "Not Found", ...), "Unknown" for codes we do not list.
const char* reason_phrase(uint16_t status);

// Writes "HTTP/1.1 <status> <reason>\r\nContent-Length: <n>\r\nDate: <date29>\r\n[Connection: close\r\n]
// <extra_headers>\r\n" into out and returns its length, or 0 if cap is too small or status is not
// 100..999. reason nullptr -> reason_phrase(status); date29 nullptr -> no Date line; extra_headers
// (nullptr allowed) must be complete CRLF-terminated lines. Content-Length is left out for 1xx, 204
// (RFC 9110 8.6) and 304. An HTTP/1.0 client that should keep the connection needs
// "Connection: keep-alive\r\n" in extra_headers.
size_t write_response_head(char* out, size_t cap, uint16_t status, const char* reason,
                           uint64_t content_length, bool keep_alive, const char* date29,
                           const char* extra_headers);

constexpr size_t kDateLen = 29;

// The IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for a Unix second, reformatted only when the
// second changes. One per loop; not thread-safe.
struct DateCache {
  char value[kDateLen + 1] = {};
  int64_t second = INT64_MIN;
  // Returns the 29-character, NUL-terminated date for now_sec (Unix seconds, UTC).
  const char* get(int64_t now_sec);
};

// Formats now_sec as an IMF-fixdate into out (29 chars + NUL). Years outside 0..9999 are clamped.
void format_imf_date(int64_t now_sec, char out[kDateLen + 1]);

}  // namespace c1m::http
