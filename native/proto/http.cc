#include "proto/http.h"

#include <cstring>
#include <ctime>

namespace c1m::http {

namespace {

constexpr Result kOk{Status::kComplete, 0, nullptr};
constexpr Result kMore{Status::kIncomplete, 0, nullptr};

constexpr Result error(uint16_t status, const char* reason) { return {Status::kError, status, reason}; }

// tchar per RFC 9110 5.6.2: the bytes allowed in a method and a header name.
constexpr bool is_tchar(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

struct CharTables {
  bool tchar[256];
  bool target[256];  // request-target bytes
  bool value[256];   // field-value bytes (after trimming): HTAB, SP, VCHAR, obs-text
};

constexpr CharTables make_tables() {
  CharTables t{};
  for (int c = 0; c < 256; c++) {
    t.tchar[c] = is_tchar(uint8_t(c));
    t.target[c] = (c >= 0x21 && c <= 0x7E) || c >= 0x80;
    t.value[c] = c == '\t' || (c >= 0x20 && c <= 0x7E) || c >= 0x80;
  }
  return t;
}

constexpr CharTables kTables = make_tables();

inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? uint8_t(c + 32) : c; }

inline bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

// Case-insensitive comparison of n bytes at a with the literal lit (which has at least n chars).
inline bool iequals(const uint8_t* a, size_t n, const char* lit) {
  for (size_t i = 0; i < n; i++) {
    if (lower(a[i]) != lower(uint8_t(lit[i]))) return false;
  }
  return true;
}

// Returns the offset just past the blank line that ends the head, searching p[start, n), or 0 if
// there is none yet. A line ends at LF; the blank line is "\n" or "\r\n" right after a line end.
size_t find_head_end(const uint8_t* p, size_t n, size_t start) {
  size_t i = start;
  while (i < n) {
    const void* q = std::memchr(p + i, '\n', n - i);
    if (q == nullptr) return 0;
    size_t j = size_t(static_cast<const uint8_t*>(q) - p);
    if (j + 1 < n && p[j + 1] == '\n') return j + 2;
    if (j + 2 < n && p[j + 1] == '\r' && p[j + 2] == '\n') return j + 3;
    i = j + 1;
  }
  return 0;
}

// Parses 1*DIGIT. Returns false if the bytes are empty or hold a non-digit; *overflow is set when
// the number does not fit in 64 bits (and *out is then meaningless).
bool parse_decimal(const uint8_t* p, size_t n, uint64_t* out, bool* overflow) {
  if (n == 0) return false;
  uint64_t v = 0;
  *overflow = false;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = c - '0';
    if (v > (UINT64_MAX - d) / 10) *overflow = true;
    if (!*overflow) v = v * 10 + d;
  }
  *out = v;
  return true;
}

// The headers parse_request interprets, identified once per line by name.
enum class Known : uint8_t { kOther, kContentLength, kTransferEncoding, kConnection, kUpgrade, kHost, kWsKey, kWsVersion, kExpect };

Known classify(const uint8_t* name, size_t n) {
  switch (n) {
    case 4:
      if (iequals(name, n, "host")) return Known::kHost;
      break;
    case 6:
      if (iequals(name, n, "expect")) return Known::kExpect;
      break;
    case 7:
      if (iequals(name, n, "upgrade")) return Known::kUpgrade;
      break;
    case 10:
      if (iequals(name, n, "connection")) return Known::kConnection;
      break;
    case 14:
      if (iequals(name, n, "content-length")) return Known::kContentLength;
      break;
    case 17:
      if (iequals(name, n, "transfer-encoding")) return Known::kTransferEncoding;
      if (iequals(name, n, "sec-websocket-key")) return Known::kWsKey;
      break;
    case 21:
      if (iequals(name, n, "sec-websocket-version")) return Known::kWsVersion;
      break;
    default:
      break;
  }
  return Known::kOther;
}

inline Span span(size_t off, size_t len) { return {uint32_t(off), uint32_t(len)}; }

}  // namespace

bool header_equals(const uint8_t* base, Span s, const char* lit) {
  size_t n = std::strlen(lit);
  return s.len == n && iequals(base + s.off, n, lit);
}

bool list_has_token(const uint8_t* base, Span s, const char* token) {
  size_t tn = std::strlen(token);
  const uint8_t* p = base + s.off;
  size_t n = s.len;
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && p[j] != ',') j++;
    size_t a = i, b = j;
    while (a < b && is_ows(p[a])) a++;
    while (b > a && is_ows(p[b - 1])) b--;
    if (b > a && b - a == tn && iequals(p + a, tn, token)) return true;
    i = j + 1;
  }
  return false;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string decode_query_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < v.size() && hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
      out.push_back(char(hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const Header* find_header(const uint8_t* base, const Request& req, const char* name) {
  for (uint16_t i = 0; i < req.num_headers; i++) {
    if (header_equals(base, req.headers[i].name, name)) return &req.headers[i];
  }
  return nullptr;
}

namespace {

// Where scan_request_line found the parts of a complete, well-formed request line.
struct Line {
  size_t start;     // first byte of the method (after any leading empty lines)
  size_t t0, tend;  // target [t0, tend)
  size_t q;         // first '?' in the target, 0 if none (it can never be at offset 0)
  uint8_t major, minor;
  size_t next;      // first byte after the line's LF
};

// Skips leading empty lines and checks the request line in p[0, lim), byte by byte, stopping at the
// first byte that proves it invalid. kIncomplete: every byte so far fits (the line may still become
// valid); kError: 400 with the reason; kComplete: *line is filled. The verdict depends only on the
// bytes up to the deciding one, so a longer lim never changes a kError or kComplete.
Result scan_request_line(const uint8_t* p, size_t lim, Line* line) {
  size_t i = 0;
  for (;;) {
    if (i == lim) return kMore;
    if (p[i] == '\n') {
      i += 1;
    } else if (p[i] == '\r') {
      if (i + 1 == lim) return kMore;  // maybe the CR of an empty line
      if (p[i + 1] != '\n') break;     // a bare CR: not a tchar, so "invalid method" below
      i += 2;
    } else {
      break;
    }
  }
  line->start = i;
  while (i < lim && kTables.tchar[p[i]]) i++;
  if (i == lim) return kMore;
  if (i == line->start || p[i] != ' ') return error(400, "invalid method");
  line->t0 = ++i;
  line->q = 0;
  while (i < lim && kTables.target[p[i]]) {
    if (p[i] == '?' && line->q == 0) line->q = i;
    i++;
  }
  if (i == lim) return kMore;
  if (i == line->t0 || p[i] != ' ') return error(400, "invalid request target");
  line->tend = i++;
  // "HTTP/" DIGIT "." DIGIT, checked as far as the bytes go.
  static constexpr char kShape[] = "HTTP/9.9";
  for (size_t k = 0; k < 8; k++, i++) {
    if (i == lim) return kMore;
    uint8_t c = p[i];
    bool ok = kShape[k] == '9' ? (c >= '0' && c <= '9') : c == uint8_t(kShape[k]);
    if (!ok) return error(400, "invalid HTTP version");
  }
  line->major = p[i - 3];
  line->minor = p[i - 1];
  if (i == lim) return kMore;
  if (p[i] == '\r') {
    if (++i == lim) return kMore;
  }
  if (p[i] != '\n') return error(400, "invalid request line ending");
  line->next = i + 1;
  return kOk;
}

// Adds the expectations in one Expect field value (RFC 9110 10.1.1: #expectation, where
// expectation = token [ "=" ( token / quoted-string ) parameters ]) to the flags. A member is
// 100-continue only when it is exactly that token (case-insensitive, no "=" or parameters); every
// other non-empty member is "other". Commas inside a quoted-string do not split members.
void scan_expect(const uint8_t* p, size_t n, bool* is_continue, bool* other) {
  size_t i = 0;
  while (i < n) {
    size_t a = i;
    bool quoted = false;
    while (i < n && (quoted || p[i] != ',')) {
      if (p[i] == '"') {
        quoted = !quoted;
      } else if (p[i] == '\\' && quoted && i + 1 < n) {
        i++;
      }
      i++;
    }
    size_t b = i;
    while (a < b && is_ows(p[a])) a++;
    while (b > a && is_ows(p[b - 1])) b--;
    if (b - a == 12 && iequals(p + a, 12, "100-continue")) {
      *is_continue = true;
    } else if (b > a) {
      *other = true;
    }
    i++;  // past the comma
  }
}

}  // namespace

Result parse_request(const uint8_t* p, size_t n, const Limits& lim, Request* out) {
  // Only the first max_header_bytes bytes may hold the head; a longer head is a 431 whatever follows,
  // unless the request line is already settled (invalid, or a 505) within those bytes.
  size_t window = n < lim.max_header_bytes ? n : lim.max_header_bytes;
  Line line;
  Result r = scan_request_line(p, window, &line);
  if (r.status == Status::kError) return r;
  if (r.status == Status::kIncomplete) {
    if (n > lim.max_header_bytes) return error(431, "request header section too large");
    return kMore;
  }
  if (line.major != '1') return error(505, "HTTP version not supported");
  // The request line ends with the LF at line.next - 1; the blank line may follow it at once.
  size_t end = find_head_end(p, window, line.next - 1);
  if (end == 0) {
    if (n > lim.max_header_bytes) return error(431, "request header section too large");
    return kMore;
  }

  out->num_headers = 0;
  out->content_length = 0;
  out->header_bytes = uint32_t(end);
  out->keep_alive = false;
  out->upgrade_websocket = false;
  out->expect_continue = false;
  out->expect_other = false;
  out->host = out->ws_key = out->ws_version = Span{0, 0};
  out->method = span(line.start, line.t0 - 1 - line.start);
  out->target = span(line.t0, line.tend - line.t0);
  out->path = span(line.t0, (line.q != 0 ? line.q : line.tend) - line.t0);
  out->version_minor = line.minor == '0' ? 0 : 1;
  size_t i = line.next;

  uint32_t max_headers = lim.max_headers < uint32_t(kMaxHeaders) ? lim.max_headers : uint32_t(kMaxHeaders);
  bool seen_length = false;
  bool conn_close = false, conn_keep_alive = false, conn_upgrade = false, upgrade_ws = false;
  bool seen_host = false;
  bool expect_continue = false;

  // Header lines until the blank line. i is at a line start; every line ends with LF before `end`.
  for (;;) {
    uint8_t c = p[i];
    if (c == '\n') break;
    if (c == '\r') {
      if (p[i + 1] == '\n') break;
      return error(400, "bare CR");
    }
    if (is_ows(c)) return error(400, "obsolete line folding");
    size_t n0 = i;
    while (kTables.tchar[p[i]]) i++;
    if (p[i] != ':') {
      if (is_ows(p[i])) return error(400, "whitespace before colon");
      return error(400, "invalid header name");
    }
    if (i == n0) return error(400, "empty header name");
    size_t name_len = i - n0;
    i++;
    while (is_ows(p[i])) i++;
    size_t val0 = i;
    while (kTables.value[p[i]]) i++;
    size_t val_end = i;
    if (p[i] == '\r') i++;
    if (p[i] != '\n') return error(400, p[i] == '\r' || p[i - 1] == '\r' ? "bare CR" : "invalid header value");
    i++;
    while (val_end > val0 && is_ows(p[val_end - 1])) val_end--;

    if (out->num_headers >= max_headers) return error(431, "too many headers");
    Header& h = out->headers[out->num_headers++];
    h.name = span(n0, name_len);
    h.value = span(val0, val_end - val0);

    switch (classify(p + n0, name_len)) {
      case Known::kContentLength: {
        if (seen_length) return error(400, "duplicate Content-Length");
        seen_length = true;
        uint64_t len;
        bool overflow;
        if (!parse_decimal(p + val0, val_end - val0, &len, &overflow)) return error(400, "invalid Content-Length");
        if (overflow || len > lim.max_body_bytes) return error(413, "request body too large");
        out->content_length = len;
        break;
      }
      case Known::kTransferEncoding:
        return error(501, "Transfer-Encoding not supported");
      case Known::kConnection:
        conn_close = conn_close || list_has_token(p, h.value, "close");
        conn_keep_alive = conn_keep_alive || list_has_token(p, h.value, "keep-alive");
        conn_upgrade = conn_upgrade || list_has_token(p, h.value, "upgrade");
        break;
      case Known::kUpgrade:
        upgrade_ws = upgrade_ws || list_has_token(p, h.value, "websocket");
        break;
      case Known::kHost:
        if (seen_host) return error(400, "duplicate Host");
        seen_host = true;
        out->host = h.value;
        break;
      case Known::kWsKey:
        if (out->ws_key.len == 0) out->ws_key = h.value;
        break;
      case Known::kWsVersion:
        if (out->ws_version.len == 0) out->ws_version = h.value;
        break;
      case Known::kExpect:
        scan_expect(p + h.value.off, h.value.len, &expect_continue, &out->expect_other);
        break;
      case Known::kOther:
        break;
    }
  }

  if (lim.require_host && out->version_minor == 1 && !seen_host) return error(400, "missing Host");
  out->keep_alive = out->version_minor == 1 ? !conn_close : (conn_keep_alive && !conn_close);
  out->upgrade_websocket = conn_upgrade && upgrade_ws;
  // RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request MUST be ignored.
  out->expect_continue = expect_continue && out->version_minor == 1;
  return kOk;
}

const char* reason_phrase(uint16_t status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

// Appends bytes to a bounded buffer; once anything does not fit, ok stays false.
struct Writer {
  char* out;
  size_t cap;
  size_t len = 0;
  bool ok = true;

  void put(const char* s, size_t n) {
    if (!ok || n > cap - len) {
      ok = false;
      return;
    }
    std::memcpy(out + len, s, n);
    len += n;
  }
  void put(const char* s) { put(s, std::strlen(s)); }
  void put_u64(uint64_t v) {
    char digits[20];
    size_t k = sizeof digits;
    do {
      digits[--k] = char('0' + v % 10);
      v /= 10;
    } while (v != 0);
    put(digits + k, sizeof digits - k);
  }
};

}  // namespace

size_t write_response_head(char* out, size_t cap, uint16_t status, const char* reason,
                           uint64_t content_length, bool keep_alive, const char* date29,
                           const char* extra_headers) {
  if (status < 100 || status > 999) return 0;
  Writer w{out, cap};
  char line[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', char('0' + status / 100),
                   char('0' + status / 10 % 10), char('0' + status % 10), ' '};
  w.put(line, sizeof line);
  w.put(reason != nullptr ? reason : reason_phrase(status));
  w.put("\r\n", 2);
  // No Content-Length for 1xx and 204 (RFC 9110 8.6 forbids it), nor for 304, where it could
  // only repeat the length of a representation the engine does not know.
  if (status >= 200 && status != 204 && status != 304) {
    w.put("Content-Length: ", 16);
    w.put_u64(content_length);
    w.put("\r\n", 2);
  }
  if (date29 != nullptr) {
    w.put("Date: ", 6);
    w.put(date29, kDateLen);
    w.put("\r\n", 2);
  }
  if (!keep_alive) w.put("Connection: close\r\n", 19);
  if (extra_headers != nullptr) w.put(extra_headers);
  w.put("\r\n", 2);
  return w.ok ? w.len : 0;
}

void format_imf_date(int64_t now_sec, char out[kDateLen + 1]) {
  constexpr int64_t kMaxSec = 253402300799;  // 9999-12-31T23:59:59Z
  if (now_sec < 0) now_sec = 0;
  if (now_sec > kMaxSec) now_sec = kMaxSec;
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  time_t t = time_t(now_sec);
  struct tm tm;
  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900;
  char* o = out;
  std::memcpy(o, kDays + 3 * tm.tm_wday, 3);
  o += 3;
  *o++ = ',';
  *o++ = ' ';
  *o++ = char('0' + tm.tm_mday / 10);
  *o++ = char('0' + tm.tm_mday % 10);
  *o++ = ' ';
  std::memcpy(o, kMonths + 3 * tm.tm_mon, 3);
  o += 3;
  *o++ = ' ';
  *o++ = char('0' + year / 1000);
  *o++ = char('0' + year / 100 % 10);
  *o++ = char('0' + year / 10 % 10);
  *o++ = char('0' + year % 10);
  *o++ = ' ';
  *o++ = char('0' + tm.tm_hour / 10);
  *o++ = char('0' + tm.tm_hour % 10);
  *o++ = ':';
  *o++ = char('0' + tm.tm_min / 10);
  *o++ = char('0' + tm.tm_min % 10);
  *o++ = ':';
  *o++ = char('0' + tm.tm_sec / 10);
  *o++ = char('0' + tm.tm_sec % 10);
  std::memcpy(o, " GMT", 4);
  o += 4;
  *o = '\0';
}

const char* DateCache::get(int64_t now_sec) {
  if (now_sec != second) {
    format_imf_date(now_sec, value);
    second = now_sec;
  }
  return value;
}

}  // namespace c1m::http
