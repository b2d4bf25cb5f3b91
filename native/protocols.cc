// What a frame, an HTTP request or a WebSocket frame means, responses and the upgrade (see
// protocols.h for what Protocols owns). Parsing itself is pure and lives in proto/.
#include "protocols.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "loop.h"
#include "proto/frame.h"
#include "proto/http.h"
#include "proto/ws.h"

namespace c1m {

using internal::tag_of;

namespace {

bool span_is(const uint8_t* base, http::Span s, std::string_view lit) {
  return s.len == lit.size() && memcmp(base + s.off, lit.data(), lit.size()) == 0;
}

// The value of `key` in the query string of a request target ("/chat?room=a&x=1" -> "a").
std::string_view query_param(const uint8_t* base, const http::Request& req, std::string_view key) {
  std::string_view t(reinterpret_cast<const char*>(base + req.target.off), req.target.len);
  size_t q = t.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view qs = t.substr(q + 1);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    if (kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == '=') return kv.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    qs = qs.substr(amp + 1);
  }
  return {};
}
}  // namespace

Protocols::Unit Protocols::measure(const Slot& s, const Listener& L, const uint8_t* p, size_t n) {
  if (s.flags & kFlagWs) {
    ws::FrameHeader h;
    ws::Result r = ws::parse_header(p, n, true, L.opt.max_frame, &h);
    if (r.status == ws::Status::kError) return {Unit::kError, false, 0, r.close_code, r.reason};
    if (r.status == ws::Status::kIncomplete) return {Unit::kIncomplete, false, 0, 0, nullptr};
    size_t total = size_t(h.header_len) + size_t(h.payload_len);
    return {total <= n ? Unit::kComplete : Unit::kIncomplete, true, total, 0, nullptr};
  }
  switch (L.opt.proto) {
    case Proto::kFrame:
    case Proto::kFrameEcho: {
      frame::Result r = frame::parse(p, n, L.opt.max_frame);
      if (r.status == frame::Status::kTooLarge) return {Unit::kError, false, 0, 0, "frame over the maximum"};
      return {r.status == frame::Status::kComplete ? Unit::kComplete : Unit::kIncomplete, r.header_known, r.total_len, 0, nullptr};
    }
    case Proto::kHttp:
    case Proto::kHttpStatic: {
      // After the last response (or end()) the connection waits for the peer's FIN; whatever
      // the peer sends meanwhile is one unit that deliver_http drops unparsed.
      if (s.flags & (kFlagEndPending | kFlagWriteShut)) return {Unit::kComplete, true, n, 0, nullptr};
      http::Limits lim;
      lim.max_header_bytes = L.opt.max_header_bytes;
      lim.max_body_bytes = L.opt.max_body;
      http::Result r = http::parse_request(p, n, lim, &req_);
      if (r.status == http::Status::kError) return {Unit::kError, false, 0, r.http_status, r.reason};
      if (r.status == http::Status::kIncomplete) return {Unit::kIncomplete, false, 0, 0, nullptr};
      size_t total = size_t(req_.header_bytes) + size_t(req_.content_length);
      return {total <= n ? Unit::kComplete : Unit::kIncomplete, true, total, 0, nullptr};
    }
    default:
      return {Unit::kError, false, 0, 0, "not a unit protocol"};
  }
}

bool Protocols::deliver_unit(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  if (s.flags & kFlagWs) return deliver_ws(fd, gen, p, total, placed);
  switch (L.opt.proto) {
    case Proto::kFrame: {
      if (!placed) {
        if (!loop_.room_or_close(fd, gen, 1, total, 0)) return false;
        uint8_t* at = loop_.arena_take(total);
        memcpy(at, p, total);
        p = at;
      }
      loop_.counters().framesIn++;
      loop_.emit(kRecFrame, loop_.slot(fd).listener, fd, gen, loop_.arena_offset(p) + frame::kHeaderBytes, uint32_t(total - frame::kHeaderBytes));
      return loop_.live(fd, gen);
    }
    case Proto::kFrameEcho: {
      loop_.counters().framesIn++;
      int64_t q = loop_.send_or_queue(fd, s, p, total);
      if (q < 0) return false;
      loop_.note_queue(s, L, q);
      return true;
    }
    case Proto::kHttp:
    case Proto::kHttpStatic:
      return deliver_http(fd, gen, p, total, placed);
    default:
      return false;
  }
}

bool Protocols::unit_pending(uint32_t fd, Slot& s, const Listener& L, const Unit& u) {
  if (!L.is_http() || (s.flags & (kFlagWs | kFlagEndPending | kFlagWriteShut))) return true;
  if (!u.total_known) {
    // Part of a request head: it must arrive whole within header_timeout_ms (slowloris).
    if (L.opt.header_timeout_ms && !(s.flags & kFlagHeadTimer)) {
      s.flags |= kFlagHeadTimer;
      loop_.timers().deadline_arm(fd, L.opt.header_timeout_ms);
    }
    return true;
  }
  if (s.flags & kFlagHeadTimer) {
    s.flags &= ~kFlagHeadTimer;
    loop_.timers().deadline_disarm(fd);
  }
  if (!req_.expect_continue || req_.content_length == 0 || (s.flags & (kFlagContinued | kFlagExpectWait))) return true;
  // The head is whole and asks whether to send its body: it may (a body too large was refused by
  // measure as 413 already). Not before the answers owed for earlier requests.
  if (s.pending == 0) return send_continue(fd, s);
  s.flags |= kFlagExpectWait;
  return true;
}

// A unit that cannot be parsed: handled at once natively, or after JS answered what came
// before it.
void Protocols::fail_unit(uint32_t fd, uint32_t gen, uint16_t code, const char* reason) {
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  if (unit_to_js(s, L)) {
    s.flags |= kFlagDoomed;
    doomed_.push_back(internal::Doom{tag_of(fd, gen), code, reason});
    return;
  }
  if (code == 0) loop_.close_conn(fd, kCloseProtocol, 0);
  else if (s.flags & kFlagWs) ws_fail(fd, code, reason);
  else http_fail(fd, code, reason);
}

// Connections that broke their protocol while JS still had earlier messages of theirs to
// answer: now that the answers went out, they get their error (HTTP status, WebSocket close
// code) or, for framing, a plain close.
void Protocols::reap_doomed() {
  if (doomed_.empty()) return;
  std::vector<internal::Doom> list;
  list.swap(doomed_);
  for (const internal::Doom& d : list) {
    uint32_t fd = uint32_t(d.tag), gen = uint32_t(d.tag >> 32);
    if (!loop_.live(fd, gen)) continue;
    const Slot& s = loop_.slot(fd);
    if (d.code == 0) loop_.close_conn(fd, kCloseProtocol, 0);
    else if (s.flags & kFlagWs) ws_fail(fd, d.code, d.reason);
    else http_fail(fd, d.code, d.reason);
  }
}

void Protocols::on_close(uint32_t fd) {
  // The connection's unfinished fragmented message: its bytes are plain malloc memory (ByteBuf
  // has no destructor), so they are released before the entry is erased.
  auto it = frags_.find(fd);
  if (it == frags_.end()) return;
  it->second.buf.release();
  frags_.erase(it);
}

void Protocols::release_all() {
  for (auto& [fd, f] : frags_) f.buf.release();
  frags_.clear();
}

uint64_t Protocols::memory_bytes() const {
  auto vec = [](size_t bytes) { return heap_chunk(bytes); };
  // An unordered_map node: the next pointer and the value.
  constexpr size_t kFragsNode = sizeof(void*) + sizeof(std::pair<const uint32_t, internal::WsFragments>);
  // Fragmented WebSocket messages in reassembly (their bytes are counted with every buffer's).
  return vec(doomed_.capacity() * sizeof(internal::Doom)) + vec(frags_.bucket_count() * sizeof(void*)) +
         frags_.size() * heap_chunk(kFragsNode);
}

// ---------------------------------------------------------------------------------------------
// HTTP

// Sends 100 Continue for the request whose head was just received (RFC 9110 15.2.1); its body
// follows. False when the connection is gone.
bool Protocols::send_continue(uint32_t fd, Slot& s) {
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  s.flags = (s.flags & ~kFlagExpectWait) | kFlagContinued;
  loop_.counters().httpContinues++;
  return loop_.send_or_queue(fd, s, reinterpret_cast<const uint8_t*>(kContinue), sizeof kContinue - 1) >= 0;
}

uint32_t Protocols::write_request_descriptor(const uint8_t* base, const http::Request& req, size_t body_len) {
  const uint32_t b = loop_.arena_offset(base);
  uint32_t at;
  uint32_t* w = loop_.meta_take(kReqFixedWords + 4 * req.num_headers, &at);
  w[0] = b + req.method.off;
  w[1] = req.method.len;
  w[2] = b + req.target.off;
  w[3] = req.target.len;
  w[4] = req.path.len;
  w[5] = uint32_t(req.version_minor) | (req.keep_alive ? 1u << 8 : 0) | (req.upgrade_websocket ? 1u << 9 : 0);
  w[6] = b + req.header_bytes;
  w[7] = uint32_t(body_len);
  w[8] = req.num_headers;
  for (uint32_t i = 0; i < req.num_headers; ++i) {
    const http::Header& h = req.headers[i];
    w[kReqFixedWords + 4 * i] = b + h.name.off;
    w[kReqFixedWords + 4 * i + 1] = h.name.len;
    w[kReqFixedWords + 4 * i + 2] = b + h.value.off;
    w[kReqFixedWords + 4 * i + 3] = h.value.len;
  }
  return at;
}

bool Protocols::deliver_http(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  if (s.flags & (kFlagEndPending | kFlagWriteShut)) return true;  // bytes after the last response (see measure)
  loop_.counters().httpRequests++;
  // The request is whole: its head timer (if any) and its 100-continue state are done.
  if (s.flags & kFlagHeadTimer) loop_.timers().deadline_disarm(fd);
  s.flags &= ~(kFlagHeadTimer | kFlagContinued | kFlagExpectWait);
  if (req_.upgrade_websocket && L.opt.ws != WsMode::kOff) {
    // The 101 would overtake answers JS still owes, and a WebSocket connection takes no HTTP
    // answers at all: an upgrade pipelined behind unanswered requests is refused after them.
    if (s.pending > 0) {
      fail_unit(fd, gen, 400, "upgrade pipelined behind unanswered requests");
      return false;
    }
    return ws_upgrade(fd, gen, p, placed);
  }
  if (!req_.keep_alive) s.flags |= kFlagHttpLast;
  else if (req_.version_minor == 0) s.flags |= kFlagHttp10;
  if (L.opt.proto == Proto::kHttpStatic) return static_respond(fd, s, L, p, req_);

  const uint32_t words = kReqFixedWords + 4 * req_.num_headers;
  if (!placed) {
    // The request arrived through the slot's pending buffer: JS needs it in the arena. req_
    // holds offsets relative to the request start, so it stays valid after the copy.
    http::Request keep = req_;
    if (!loop_.room_or_close(fd, gen, 1, total, words)) return false;
    uint8_t* at = loop_.arena_take(total);
    memcpy(at, p, total);
    p = at;
    req_ = keep;
  }
  uint32_t at = write_request_descriptor(p, req_, size_t(req_.content_length));
  // HEAD answers carry no body: remember which pending requests were HEAD (one bit each, oldest
  // in bit 0; an HTTP connection has no topics, so that field holds the bits).
  Slot& s2 = loop_.slot(fd);
  if (s2.pending < 32 && span_is(p, req_.method, "HEAD")) s2.topics |= 1u << s2.pending;
  s2.pending++;
  loop_.emit(kRecRequest, loop_.slot(fd).listener, fd, gen, at, words);
  return loop_.live(fd, gen);
}

bool Protocols::static_respond(uint32_t fd, Slot& s, const Listener& L, const uint8_t* base, const http::Request& req) {
  const bool head = span_is(base, req.method, "HEAD");
  const bool ok = (span_is(base, req.method, "GET") || head) && span_is(base, req.path, L.opt.static_path);
  const bool keep = !(s.flags & kFlagHttpLast);
  std::string_view body = ok ? std::string_view(L.opt.static_body) : std::string_view("Not Found");
  const std::string_view type = ok ? std::string_view(L.opt.static_type) : std::string_view("text/plain");
  const std::string_view conn = (s.flags & kFlagHttp10) && keep ? "Connection: keep-alive\r\n" : "";
  // The extra header lines fit on the stack for any sensible Content-Type; a long one (the
  // option has no length limit) must not be cut off mid-line.
  const size_t need = 16 + type.size() + conn.size() + 1;
  char small[256];
  std::string big;
  char* extra = small;
  if (need > sizeof small) {
    big.resize(need);
    extra = big.data();
  }
  snprintf(extra, need, "Content-Type: %.*s\r\n%.*s", int(type.size()), type.data(), int(conn.size()), conn.data());
  // Status line, Content-Length, Date and Connection take well under 256 bytes.
  const size_t cap = 256 + need;
  std::vector<uint8_t>& out = loop_.compose();
  out.resize(cap + body.size());
  size_t hn = http::write_response_head(reinterpret_cast<char*>(out.data()), cap, ok ? 200 : 404, nullptr, body.size(),
                                        keep, date_.get(int64_t(time(nullptr))), extra);
  size_t len = hn;
  if (!head) {
    memcpy(out.data() + hn, body.data(), body.size());
    len += body.size();
  }
  loop_.counters().httpResponses++;
  const int64_t q = loop_.send_or_queue(fd, s, out.data(), len);
  if (q < 0) return false;
  loop_.note_queue(s, L, q);
  if (!keep) {
    // The rest of the connection is the wait for the peer's FIN: reading goes on (and drops
    // what arrives, see measure) so that FIN is seen and the connection closes.
    s.flags &= ~kFlagHttpLast;
    loop_.begin_end(fd);
  }
  return true;
}

void Protocols::http_fail(uint32_t fd, uint16_t status, const char* reason) {
  Slot& s = loop_.slot(fd);
  if (s.pending > 0) {
    // JS still owes answers to requests that came before the bad one. They go out first:
    // respond() sends this error when the last of them is answered.
    s.flags |= kFlagDoomed;
    doomed_.push_back(internal::Doom{tag_of(fd, s.gen), status, reason});
    return;
  }
  loop_.counters().httpErrors++;
  std::string body = std::string(reason ? reason : http::reason_phrase(status)) + "\n";
  const char* extra = status == 426 ? "Content-Type: text/plain\r\nSec-WebSocket-Version: 13\r\n" : "Content-Type: text/plain\r\n";
  std::vector<uint8_t>& out = loop_.compose();
  out.resize(512 + body.size());
  size_t hn = http::write_response_head(reinterpret_cast<char*>(out.data()), 512, status, nullptr, body.size(), false,
                                        date_.get(int64_t(time(nullptr))), extra);
  memcpy(out.data() + hn, body.data(), body.size());
  // No more requests are read; the connection closes once the answer is flushed.
  s.flags |= kFlagDoomed | kFlagHttpLast;
  if (loop_.send_or_queue(fd, s, out.data(), hn + body.size()) < 0) return;
  loop_.begin_end(fd);
}

bool Protocols::respond(uint32_t fd, uint32_t gen, uint16_t status, const uint8_t* headers, size_t hlen, const uint8_t* body,
                   size_t blen) {
  if (!loop_.live(fd, gen)) {
    loop_.counters().staleIds++;
    return false;
  }
  Slot& s = loop_.slot(fd);
  // A 1xx is not an answer (the request would still be owed one); 101 belongs to the upgrade.
  if (s.pending == 0 || (s.flags & kFlagWs) || status < 200) return false;
  s.pending--;
  // A HEAD answer keeps the Content-Length of the body it would have had, without the body
  // (RFC 9110 9.3.2); 204 and 304 never carry a body (RFC 9110 6.4.1), and 204 no length.
  const bool head = s.topics & 1u;
  s.topics >>= 1;
  const bool no_body = head || status == 204 || status == 304;
  const size_t send_len = no_body ? 0 : blen;
  // The connection ends after this answer if the request asked to close, or if the listener is
  // draining and nothing else it received waits for an answer.
  const bool last = s.pending == 0 && ((s.flags & kFlagHttpLast) || ((s.flags & kFlagDraining) && !loop_.buffered_unit(fd)));
  std::string extra(reinterpret_cast<const char*>(headers), hlen);
  if ((s.flags & kFlagHttp10) && !last) extra += "Connection: keep-alive\r\n";
  std::vector<uint8_t>& out = loop_.compose();
  out.resize(512 + hlen + send_len);
  size_t hn = http::write_response_head(reinterpret_cast<char*>(out.data()), 512 + hlen, status, nullptr, blen, !last,
                                        date_.get(int64_t(time(nullptr))), extra.c_str());
  if (hn == 0) return false;
  if (send_len) memcpy(out.data() + hn, body, send_len);
  loop_.counters().httpResponses++;
  const int64_t q = loop_.send_or_queue(fd, s, out.data(), hn + send_len);
  if (q < 0) return true;
  loop_.note_queue(s, loop_.listener_of(s), q);
  if ((s.flags & kFlagDoomed) && s.pending == 0) {
    // A bad request followed the ones now all answered: its error goes out now (see http_fail).
    const uint64_t tag = tag_of(fd, gen);
    auto it = std::find_if(doomed_.begin(), doomed_.end(), [tag](const internal::Doom& d) { return d.tag == tag; });
    if (it != doomed_.end()) {
      const internal::Doom d = *it;
      doomed_.erase(it);
      http_fail(fd, d.code, d.reason);
    }
    loop_.update_activity();
    return true;
  }
  if (last) {
    // Reading stopped at the last request; it resumes so the peer's FIN is seen (measure drops
    // anything else it sends). No edge announces a FIN that arrived while reading was stopped.
    s.flags &= ~kFlagHttpLast;
    loop_.begin_end(fd);
    if (loop_.live(fd, gen) && !(loop_.slot(fd).flags & kFlagPeerEnded)) loop_.push_ready(fd);
    loop_.update_activity();
    return true;
  }
  if ((s.flags & kFlagExpectWait) && s.pending == 0) {
    // The request after these asked for 100 Continue; it may send its body now.
    if (!send_continue(fd, s) || !loop_.live(fd, gen)) return true;
  }
  if ((s.flags & kFlagPausedPipe) && s.pending < kMaxPipelined) {
    // Below the pipeline cap again: the requests kept back are delivered next round.
    s.flags &= ~kFlagPausedPipe;
    loop_.push_ready(fd);
  }
  if ((s.flags & kFlagDraining) && s.pending == 0) loop_.drain_step(fd);
  loop_.update_activity();
  return true;
}

// ---------------------------------------------------------------------------------------------
// WebSocket

bool Protocols::ws_upgrade(uint32_t fd, uint32_t gen, const uint8_t* p, bool placed) {
  const char* why = ws::validate_upgrade(p, req_);
  if (why) {
    fail_unit(fd, gen, why == ws::kBadVersion ? 426 : 400, why);
    return false;
  }
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  char accept[ws::kAcceptKeyLen];
  ws::accept_key(p + req_.ws_key.off, req_.ws_key.len, accept);
  char resp[256];
  size_t rn = ws::write_upgrade_response(resp, sizeof resp, accept);
  if (L.opt.ws == WsMode::kBroadcast) {
    // The room is checked before the 101: a name its bounds refuse gets a clear HTTP answer.
    const std::string room = http::decode_query_value(query_param(p, req_, "room"));
    if (room.size() > L.opt.max_topic_name) {
      loop_.counters().topicRefusals++;
      fail_unit(fd, gen, 414, "room name too long");
      return false;
    }
    if (!room.empty() && loop_.topics().find(room) == Topics::kNone && loop_.topics().live_count() >= L.opt.max_topics) {
      loop_.counters().topicRefusals++;
      fail_unit(fd, gen, 503, "too many rooms");
      return false;
    }
  }
  s.flags |= kFlagWs;
  loop_.counters().wsUpgrades++;
  if (loop_.send_or_queue(fd, s, reinterpret_cast<uint8_t*>(resp), rn) < 0) return false;
  if (L.opt.ping_interval_ms) loop_.timers().deadline_arm(fd, L.opt.ping_interval_ms);
  switch (L.opt.ws) {
    case WsMode::kBroadcast: {
      const std::string room = http::decode_query_value(query_param(p, req_, "room"));
      // No room named: the connection joins nothing, and what it sends is a protocol error.
      if (!room.empty()) loop_.topics().subscribe(fd, gen, room);
      return true;
    }
    case WsMode::kJs: {
      const uint32_t words = kReqFixedWords + 4 * req_.num_headers;
      const size_t head = req_.header_bytes;
      if (!placed) {
        http::Request keep = req_;
        if (!loop_.room_or_close(fd, gen, 1, head, words)) return false;
        uint8_t* at = loop_.arena_take(head);
        memcpy(at, p, head);
        p = at;
        req_ = keep;
      }
      uint32_t at = write_request_descriptor(p, req_, 0);
      loop_.emit(kRecWsOpen, loop_.slot(fd).listener, fd, gen, at, words);
      return loop_.live(fd, gen);
    }
    default:
      return true;
  }
}

bool Protocols::send_ws_frame(uint32_t fd, Slot& s, uint8_t opcode, const uint8_t* p, size_t n) {
  uint8_t h[ws::kMaxHeaderBytes];
  size_t hn = ws::encode_header(h, true, opcode, n, nullptr);
  if (opcode == ws::kText || opcode == ws::kBinary) loop_.counters().wsMessagesOut++;
  if (n <= (64u << 10)) {
    // One send for header and payload: small messages are the common case.
    std::vector<uint8_t>& out = loop_.compose();
    out.resize(hn + n);
    memcpy(out.data(), h, hn);
    if (n) memcpy(out.data() + hn, p, n);
    return loop_.send_or_queue(fd, s, out.data(), hn + n) >= 0;
  }
  if (loop_.send_or_queue(fd, s, h, hn) < 0) return false;
  return loop_.send_or_queue(fd, s, p, n) >= 0;
}

void Protocols::ws_fail(uint32_t fd, uint16_t code, const char* reason) {
  Slot& s = loop_.slot(fd);
  loop_.counters().wsProtocolErrors++;
  uint8_t payload[125];
  size_t rn = reason ? std::min(strlen(reason), sizeof payload - 2) : 0;
  payload[0] = uint8_t(code >> 8);
  payload[1] = uint8_t(code);
  if (rn) memcpy(payload + 2, reason, rn);
  s.flags |= kFlagDoomed | kFlagWsClosing;
  const uint32_t gen = s.gen;
  if (!send_ws_frame(fd, s, ws::kClose, payload, 2 + rn) || !loop_.live(fd, gen)) return;
  loop_.timers().on_ws_closing(fd, loop_.listener_of(s));
  loop_.begin_end(fd);
}

bool Protocols::deliver_ws(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  ws::FrameHeader h;
  ws::parse_header(p, total, true, L.opt.max_frame, &h);
  uint8_t* pl = p + h.header_len;
  const size_t n = size_t(h.payload_len);
  ws::unmask(pl, n, h.mask, 0);
  auto fail = [&](uint16_t code, const char* reason) {
    fail_unit(fd, gen, code, reason);
    return false;
  };
  switch (h.opcode) {
    case ws::kPing:
      return send_ws_frame(fd, s, ws::kPong, pl, n);
    case ws::kPong:
      s.flags &= ~kFlagPingOut;
      loop_.counters().pongsIn++;
      return true;
    case ws::kClose: {
      uint16_t code = 0;
      ws::Result r = ws::parse_close_payload(pl, n, &code);
      if (r.status == ws::Status::kError) return fail(r.close_code, r.reason);
      if (s.flags & kFlagWsClosing) {
        // The answer to our own close frame: the handshake is complete.
        loop_.close_conn(fd, kCloseGraceful, 0);
        return false;
      }
      uint8_t echo[2] = {uint8_t(code >> 8), uint8_t(code)};
      s.flags |= kFlagWsClosing;
      if (!send_ws_frame(fd, s, ws::kClose, echo, code == 1005 ? 0 : 2) || !loop_.live(fd, gen)) return false;
      loop_.timers().on_ws_closing(fd, L);
      loop_.begin_end(fd);
      return false;
    }
    case ws::kText:
    case ws::kBinary: {
      if (frags_.count(fd)) return fail(ws::kCloseProtocolError, "new message before the fragmented one ended");
      if (!h.fin) {
        internal::WsFragments& f = frags_[fd];
        f.buf.acct = loop_.buf_account();
        f.opcode = h.opcode;
        if (!f.buf.append(pl, n)) return fail(1011, "out of memory");
        ws::Utf8State st{0};
        if (h.opcode == ws::kText && !ws::utf8_feed(&st, pl, n)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
        f.utf8 = st.state;
        return true;
      }
      if (h.opcode == ws::kText && !ws::utf8_valid(pl, n)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
      loop_.counters().wsMessagesIn++;
      return ws_message(fd, gen, h.opcode, pl, n, placed);
    }
    case ws::kContinuation: {
      auto it = frags_.find(fd);
      if (it == frags_.end()) return fail(ws::kCloseProtocolError, "continuation without a message");
      internal::WsFragments& f = it->second;
      if (f.buf.size() + n > L.opt.max_frame) return fail(ws::kCloseTooBig, "message too big");
      if (!f.buf.append(pl, n)) return fail(1011, "out of memory");
      ws::Utf8State st{f.utf8};
      if (f.opcode == ws::kText && !ws::utf8_feed(&st, pl, n)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
      f.utf8 = st.state;
      if (!h.fin) return true;
      if (f.opcode == ws::kText && !ws::utf8_complete(st)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
      ByteBuf msg = f.buf;
      f.buf = ByteBuf{};  // the bytes are msg's now, whatever erasing the entry frees
      uint8_t opcode = f.opcode;
      frags_.erase(it);
      struct Release {
        ByteBuf& b;
        ~Release() { b.release(); }
      } release{msg};
      loop_.counters().wsMessagesIn++;
      bool ok;
      if (L.opt.ws == WsMode::kJs && placed) {
        // This frame was parsed in place in the arena, where the unread rest of its read window
        // may follow it. A dispatch would hand the arena back under those bytes, so the message
        // is copied only into room free without one: deliver_units keeps the whole window below
        // arena_used_ and hands the batch over first when the room after it is too small.
        if (!loop_.arena_fits(msg.size())) {
          return fail(ws::kCloseTooBig, "message does not fit the receive arena");
        }
        uint8_t* at = loop_.arena_take(msg.size());
        if (msg.size()) memcpy(at, msg.data + msg.head, msg.size());
        ok = ws_message(fd, gen, opcode, at, msg.size(), true);
      } else {
        ok = ws_message(fd, gen, opcode, msg.data + msg.head, msg.size(), false);
      }
      return ok;
    }
    default:
      return fail(ws::kCloseProtocolError, "unknown opcode");
  }
}

bool Protocols::ws_message(uint32_t fd, uint32_t gen, uint8_t opcode, uint8_t* p, size_t n, bool placed) {
  Slot& s = loop_.slot(fd);
  const Listener& L = loop_.listener_of(s);
  switch (L.opt.ws) {
    case WsMode::kJs:
      if (!placed) {
        if (!loop_.room_or_close(fd, gen, 1, n, 0)) return false;
        uint8_t* at = loop_.arena_take(n);
        if (n) memcpy(at, p, n);
        p = at;
      }
      loop_.emit(kRecWsMessage | (uint32_t(opcode) << 8), loop_.slot(fd).listener, fd, gen, loop_.arena_offset(p), uint32_t(n));
      return loop_.live(fd, gen);
    case WsMode::kEcho:
      if (!send_ws_frame(fd, s, opcode, p, n) || !loop_.live(fd, gen)) return false;
      loop_.note_queue(loop_.slot(fd), L, int64_t(loop_.bounded_bytes(fd, loop_.slot(fd))));
      return true;
    case WsMode::kBroadcast: {
      if (!loop_.topics().publish_from(fd, opcode, p, n)) loop_.counters().wsProtocolErrors++;
      return loop_.live(fd, gen);
    }
    default:
      return true;
  }
}

bool Protocols::ws_send(uint32_t fd, uint32_t gen, uint8_t opcode, const uint8_t* p, size_t n) {
  if (!loop_.live(fd, gen)) {
    loop_.counters().staleIds++;
    return false;
  }
  Slot& s = loop_.slot(fd);
  if (!(s.flags & kFlagWs) || (s.flags & kFlagWsClosing)) return false;
  bool ok = send_ws_frame(fd, s, opcode, p, n);
  loop_.update_activity();
  return ok;
}

bool Protocols::ws_close(uint32_t fd, uint32_t gen, uint16_t code, const uint8_t* reason, size_t n) {
  if (!loop_.live(fd, gen)) {
    loop_.counters().staleIds++;
    return false;
  }
  Slot& s = loop_.slot(fd);
  if (!(s.flags & kFlagWs)) return false;
  if (!(s.flags & kFlagWsClosing)) ws_close_frame(fd, code, reason, n);
  loop_.update_activity();
  return true;
}

// Sends our close frame (code, reason cut to 123 bytes) and starts the wait for the peer's.
// False when the connection is gone.
bool Protocols::ws_close_frame(uint32_t fd, uint16_t code, const uint8_t* reason, size_t n) {
  Slot& s = loop_.slot(fd);
  const uint32_t gen = s.gen;
  uint8_t payload[125];
  n = std::min(n, sizeof payload - 2);
  payload[0] = uint8_t(code >> 8);
  payload[1] = uint8_t(code);
  if (n) memcpy(payload + 2, reason, n);
  s.flags |= kFlagWsClosing;
  if (!send_ws_frame(fd, s, ws::kClose, payload, 2 + n) || !loop_.live(fd, gen)) return false;
  loop_.timers().on_ws_closing(fd, loop_.listener_of(loop_.slot(fd)));
  return true;
}

}  // namespace c1m
