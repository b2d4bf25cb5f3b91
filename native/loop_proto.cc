// HTTP/1.1 and WebSocket on top of the unit read path (loop.cc): what a complete frame,
// request or WebSocket frame means, responses and the upgrade.
// Parsing itself is pure and lives in proto/ (fuzzed separately).
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

Loop::Unit Loop::measure(const Slot& s, const Listener& L, const uint8_t* p, size_t n) {
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

bool Loop::deliver_unit(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = table_[fd];
  const Listener& L = listeners_[s.listener];
  if (s.flags & kFlagWs) return deliver_ws(fd, gen, p, total, placed);
  switch (L.opt.proto) {
    case Proto::kFrame: {
      if (!placed) {
        if (!room_or_close(fd, gen, 1, total, 0)) return false;
        memcpy(v_.arena + arena_used_, p, total);
        p = v_.arena + arena_used_;
        arena_used_ += total;
      }
      v_.counters->framesIn++;
      emit(kRecFrame, table_[fd].listener, fd, gen, uint32_t(p - v_.arena) + frame::kHeaderBytes, uint32_t(total - frame::kHeaderBytes));
      return live(fd, gen);
    }
    case Proto::kFrameEcho: {
      v_.counters->framesIn++;
      int64_t q = send_or_queue(fd, s, p, total);
      if (q < 0) return false;
      note_queue(s, L, q);
      return true;
    }
    case Proto::kHttp:
    case Proto::kHttpStatic:
      return deliver_http(fd, gen, p, total, placed);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

uint32_t Loop::write_request_descriptor(const uint8_t* base, const http::Request& req, size_t body_len) {
  const uint32_t b = uint32_t(base - v_.arena);
  uint32_t* w = v_.meta + meta_used_;
  const uint32_t at = meta_used_;
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
  meta_used_ += kReqFixedWords + 4 * req.num_headers;
  return at;
}

bool Loop::deliver_http(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = table_[fd];
  const Listener& L = listeners_[s.listener];
  if (s.flags & (kFlagEndPending | kFlagWriteShut)) return true;  // bytes after the last response (see measure)
  v_.counters->httpRequests++;
  // The request is whole: its head timer (if any) and its 100-continue state are done.
  if (s.flags & kFlagHeadTimer) timers_.deadline_disarm(fd);
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
    if (!room_or_close(fd, gen, 1, total, words)) return false;
    memcpy(v_.arena + arena_used_, p, total);
    p = v_.arena + arena_used_;
    arena_used_ += total;
    req_ = keep;
  }
  uint32_t at = write_request_descriptor(p, req_, size_t(req_.content_length));
  // HEAD answers carry no body: remember which pending requests were HEAD (one bit each, oldest
  // in bit 0; an HTTP connection has no topics, so that field holds the bits).
  Slot& s2 = table_[fd];
  if (s2.pending < 32 && span_is(p, req_.method, "HEAD")) s2.topics |= 1u << s2.pending;
  s2.pending++;
  emit(kRecRequest, table_[fd].listener, fd, gen, at, words);
  return live(fd, gen);
}

bool Loop::static_respond(uint32_t fd, Slot& s, const Listener& L, const uint8_t* base, const http::Request& req) {
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
  resp_.resize(cap + body.size());
  size_t hn = http::write_response_head(reinterpret_cast<char*>(resp_.data()), cap, ok ? 200 : 404, nullptr, body.size(),
                                        keep, date_.get(int64_t(time(nullptr))), extra);
  size_t len = hn;
  if (!head) {
    memcpy(resp_.data() + hn, body.data(), body.size());
    len += body.size();
  }
  v_.counters->httpResponses++;
  const int64_t q = send_or_queue(fd, s, resp_.data(), len);
  if (q < 0) return false;
  note_queue(s, L, q);
  if (!keep) {
    // The rest of the connection is the wait for the peer's FIN: reading goes on (and drops
    // what arrives, see measure) so that FIN is seen and the connection closes.
    s.flags &= ~kFlagHttpLast;
    begin_end(fd);
  }
  return true;
}

void Loop::http_fail(uint32_t fd, uint16_t status, const char* reason) {
  Slot& s = table_[fd];
  if (s.pending > 0) {
    // JS still owes answers to requests that came before the bad one. They go out first:
    // respond() sends this error when the last of them is answered.
    s.flags |= kFlagDoomed;
    doomed_.push_back(Doom{tag_of(fd, s.gen), status, reason});
    return;
  }
  v_.counters->httpErrors++;
  std::string body = std::string(reason ? reason : http::reason_phrase(status)) + "\n";
  const char* extra = status == 426 ? "Content-Type: text/plain\r\nSec-WebSocket-Version: 13\r\n" : "Content-Type: text/plain\r\n";
  resp_.resize(512 + body.size());
  size_t hn = http::write_response_head(reinterpret_cast<char*>(resp_.data()), 512, status, nullptr, body.size(), false,
                                        date_.get(int64_t(time(nullptr))), extra);
  memcpy(resp_.data() + hn, body.data(), body.size());
  // No more requests are read; the connection closes once the answer is flushed.
  s.flags |= kFlagDoomed | kFlagHttpLast;
  if (send_or_queue(fd, s, resp_.data(), hn + body.size()) < 0) return;
  begin_end(fd);
}

bool Loop::respond(uint32_t fd, uint32_t gen, uint16_t status, const uint8_t* headers, size_t hlen, const uint8_t* body,
                   size_t blen) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return false;
  }
  Slot& s = table_[fd];
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
  const bool last = s.pending == 0 && ((s.flags & kFlagHttpLast) || ((s.flags & kFlagDraining) && !buffered_unit(fd)));
  std::string extra(reinterpret_cast<const char*>(headers), hlen);
  if ((s.flags & kFlagHttp10) && !last) extra += "Connection: keep-alive\r\n";
  resp_.resize(512 + hlen + send_len);
  size_t hn = http::write_response_head(reinterpret_cast<char*>(resp_.data()), 512 + hlen, status, nullptr, blen, !last,
                                        date_.get(int64_t(time(nullptr))), extra.c_str());
  if (hn == 0) return false;
  if (send_len) memcpy(resp_.data() + hn, body, send_len);
  v_.counters->httpResponses++;
  const int64_t q = send_or_queue(fd, s, resp_.data(), hn + send_len);
  if (q < 0) return true;
  note_queue(s, listeners_[s.listener], q);
  if ((s.flags & kFlagDoomed) && s.pending == 0) {
    // A bad request followed the ones now all answered: its error goes out now (see http_fail).
    const uint64_t tag = tag_of(fd, gen);
    auto it = std::find_if(doomed_.begin(), doomed_.end(), [tag](const Doom& d) { return d.tag == tag; });
    if (it != doomed_.end()) {
      const Doom d = *it;
      doomed_.erase(it);
      http_fail(fd, d.code, d.reason);
    }
    update_activity();
    return true;
  }
  if (last) {
    // Reading stopped at the last request; it resumes so the peer's FIN is seen (measure drops
    // anything else it sends). No edge announces a FIN that arrived while reading was stopped.
    s.flags &= ~kFlagHttpLast;
    begin_end(fd);
    if (live(fd, gen) && !(table_[fd].flags & kFlagPeerEnded)) push_ready(fd);
    update_activity();
    return true;
  }
  if ((s.flags & kFlagExpectWait) && s.pending == 0) {
    // The request after these asked for 100 Continue; it may send its body now.
    if (!send_continue(fd, s) || !live(fd, gen)) return true;
  }
  if ((s.flags & kFlagPausedPipe) && s.pending < kMaxPipelined) {
    // Below the pipeline cap again: the requests kept back are delivered next round.
    s.flags &= ~kFlagPausedPipe;
    push_ready(fd);
  }
  if ((s.flags & kFlagDraining) && s.pending == 0) drain_step(fd);
  update_activity();
  return true;
}

// ---------------------------------------------------------------------------------------------
// WebSocket

bool Loop::ws_upgrade(uint32_t fd, uint32_t gen, const uint8_t* p, bool placed) {
  const char* why = ws::validate_upgrade(p, req_);
  if (why) {
    fail_unit(fd, gen, why == ws::kBadVersion ? 426 : 400, why);
    return false;
  }
  Slot& s = table_[fd];
  const Listener& L = listeners_[s.listener];
  char accept[ws::kAcceptKeyLen];
  ws::accept_key(p + req_.ws_key.off, req_.ws_key.len, accept);
  char resp[256];
  size_t rn = ws::write_upgrade_response(resp, sizeof resp, accept);
  if (L.opt.ws == WsMode::kBroadcast) {
    // The room is checked before the 101: a name its bounds refuse gets a clear HTTP answer.
    const std::string room = http::decode_query_value(query_param(p, req_, "room"));
    if (room.size() > L.opt.max_topic_name) {
      v_.counters->topicRefusals++;
      fail_unit(fd, gen, 414, "room name too long");
      return false;
    }
    if (!room.empty() && topics_.find(room) == Topics::kNone && topics_.live_count() >= L.opt.max_topics) {
      v_.counters->topicRefusals++;
      fail_unit(fd, gen, 503, "too many rooms");
      return false;
    }
  }
  s.flags |= kFlagWs;
  v_.counters->wsUpgrades++;
  if (send_or_queue(fd, s, reinterpret_cast<uint8_t*>(resp), rn) < 0) return false;
  if (L.opt.ping_interval_ms) timers_.deadline_arm(fd, L.opt.ping_interval_ms);
  switch (L.opt.ws) {
    case WsMode::kBroadcast: {
      const std::string room = http::decode_query_value(query_param(p, req_, "room"));
      // No room named: the connection joins nothing, and what it sends is a protocol error.
      if (!room.empty()) topics_.subscribe(fd, gen, room);
      return true;
    }
    case WsMode::kJs: {
      const uint32_t words = kReqFixedWords + 4 * req_.num_headers;
      const size_t head = req_.header_bytes;
      if (!placed) {
        http::Request keep = req_;
        if (!room_or_close(fd, gen, 1, head, words)) return false;
        memcpy(v_.arena + arena_used_, p, head);
        p = v_.arena + arena_used_;
        arena_used_ += head;
        req_ = keep;
      }
      uint32_t at = write_request_descriptor(p, req_, 0);
      emit(kRecWsOpen, table_[fd].listener, fd, gen, at, words);
      return live(fd, gen);
    }
    default:
      return true;
  }
}

bool Loop::send_ws_frame(uint32_t fd, Slot& s, uint8_t opcode, const uint8_t* p, size_t n) {
  uint8_t h[ws::kMaxHeaderBytes];
  size_t hn = ws::encode_header(h, true, opcode, n, nullptr);
  if (opcode == ws::kText || opcode == ws::kBinary) v_.counters->wsMessagesOut++;
  if (n <= (64u << 10)) {
    // One send for header and payload: small messages are the common case.
    resp_.resize(hn + n);
    memcpy(resp_.data(), h, hn);
    if (n) memcpy(resp_.data() + hn, p, n);
    return send_or_queue(fd, s, resp_.data(), hn + n) >= 0;
  }
  if (send_or_queue(fd, s, h, hn) < 0) return false;
  return send_or_queue(fd, s, p, n) >= 0;
}

void Loop::ws_fail(uint32_t fd, uint16_t code, const char* reason) {
  Slot& s = table_[fd];
  v_.counters->wsProtocolErrors++;
  uint8_t payload[125];
  size_t rn = reason ? std::min(strlen(reason), sizeof payload - 2) : 0;
  payload[0] = uint8_t(code >> 8);
  payload[1] = uint8_t(code);
  if (rn) memcpy(payload + 2, reason, rn);
  s.flags |= kFlagDoomed | kFlagWsClosing;
  const uint32_t gen = s.gen;
  if (!send_ws_frame(fd, s, ws::kClose, payload, 2 + rn) || !live(fd, gen)) return;
  timers_.on_ws_closing(fd, listeners_[s.listener]);
  begin_end(fd);
}

bool Loop::deliver_ws(uint32_t fd, uint32_t gen, uint8_t* p, size_t total, bool placed) {
  Slot& s = table_[fd];
  const Listener& L = listeners_[s.listener];
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
      v_.counters->pongsIn++;
      return true;
    case ws::kClose: {
      uint16_t code = 0;
      ws::Result r = ws::parse_close_payload(pl, n, &code);
      if (r.status == ws::Status::kError) return fail(r.close_code, r.reason);
      if (s.flags & kFlagWsClosing) {
        // The answer to our own close frame: the handshake is complete.
        close_conn(fd, kCloseGraceful, 0);
        return false;
      }
      uint8_t echo[2] = {uint8_t(code >> 8), uint8_t(code)};
      s.flags |= kFlagWsClosing;
      if (!send_ws_frame(fd, s, ws::kClose, echo, code == 1005 ? 0 : 2) || !live(fd, gen)) return false;
      timers_.on_ws_closing(fd, L);
      begin_end(fd);
      return false;
    }
    case ws::kText:
    case ws::kBinary: {
      if (frags_.count(fd)) return fail(ws::kCloseProtocolError, "new message before the fragmented one ended");
      if (!h.fin) {
        WsFragments& f = frags_[fd];
        f.buf.acct = &mem_bufs_;
        f.opcode = h.opcode;
        if (!f.buf.append(pl, n)) return fail(1011, "out of memory");
        ws::Utf8State st{0};
        if (h.opcode == ws::kText && !ws::utf8_feed(&st, pl, n)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
        f.utf8 = st.state;
        return true;
      }
      if (h.opcode == ws::kText && !ws::utf8_valid(pl, n)) return fail(ws::kCloseInvalidPayload, "invalid UTF-8");
      v_.counters->wsMessagesIn++;
      return ws_message(fd, gen, h.opcode, pl, n, placed);
    }
    case ws::kContinuation: {
      auto it = frags_.find(fd);
      if (it == frags_.end()) return fail(ws::kCloseProtocolError, "continuation without a message");
      WsFragments& f = it->second;
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
      v_.counters->wsMessagesIn++;
      bool ok;
      if (L.opt.ws == WsMode::kJs && placed) {
        // This frame was parsed in place in the arena, where the unread rest of its read window
        // may follow it. A dispatch would hand the arena back under those bytes, so the message
        // is copied only into room free without one: deliver_units keeps the whole window below
        // arena_used_ and hands the batch over first when the room after it is too small.
        if (!deferred_.empty() || nrec_ >= v_.record_cap || v_.arena_cap - arena_used_ < msg.size()) {
          return fail(ws::kCloseTooBig, "message does not fit the receive arena");
        }
        uint8_t* at = v_.arena + arena_used_;
        if (msg.size()) memcpy(at, msg.data + msg.head, msg.size());
        arena_used_ += msg.size();
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

bool Loop::ws_message(uint32_t fd, uint32_t gen, uint8_t opcode, uint8_t* p, size_t n, bool placed) {
  Slot& s = table_[fd];
  const Listener& L = listeners_[s.listener];
  switch (L.opt.ws) {
    case WsMode::kJs:
      if (!placed) {
        if (!room_or_close(fd, gen, 1, n, 0)) return false;
        if (n) memcpy(v_.arena + arena_used_, p, n);
        p = v_.arena + arena_used_;
        arena_used_ += n;
      }
      emit(kRecWsMessage | (uint32_t(opcode) << 8), table_[fd].listener, fd, gen, uint32_t(p - v_.arena), uint32_t(n));
      return live(fd, gen);
    case WsMode::kEcho:
      if (!send_ws_frame(fd, s, opcode, p, n) || !live(fd, gen)) return false;
      note_queue(table_[fd], L, s.out ? int64_t(s.out->size()) : 0);
      return true;
    case WsMode::kBroadcast: {
      if (!topics_.publish_from(fd, opcode, p, n)) v_.counters->wsProtocolErrors++;
      return live(fd, gen);
    }
    default:
      return true;
  }
}

bool Loop::ws_send(uint32_t fd, uint32_t gen, uint8_t opcode, const uint8_t* p, size_t n) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return false;
  }
  Slot& s = table_[fd];
  if (!(s.flags & kFlagWs) || (s.flags & kFlagWsClosing)) return false;
  bool ok = send_ws_frame(fd, s, opcode, p, n);
  update_activity();
  return ok;
}

bool Loop::ws_close(uint32_t fd, uint32_t gen, uint16_t code, const uint8_t* reason, size_t n) {
  if (!live(fd, gen)) {
    v_.counters->staleIds++;
    return false;
  }
  Slot& s = table_[fd];
  if (!(s.flags & kFlagWs)) return false;
  if (!(s.flags & kFlagWsClosing)) ws_close_frame(fd, code, reason, n);
  update_activity();
  return true;
}

// Sends our close frame (code, reason cut to 123 bytes) and starts the wait for the peer's.
// False when the connection is gone.
bool Loop::ws_close_frame(uint32_t fd, uint16_t code, const uint8_t* reason, size_t n) {
  Slot& s = table_[fd];
  const uint32_t gen = s.gen;
  uint8_t payload[125];
  n = std::min(n, sizeof payload - 2);
  payload[0] = uint8_t(code >> 8);
  payload[1] = uint8_t(code);
  if (n) memcpy(payload + 2, reason, n);
  s.flags |= kFlagWsClosing;
  if (!send_ws_frame(fd, s, ws::kClose, payload, 2 + n) || !live(fd, gen)) return false;
  timers_.on_ws_closing(fd, listeners_[table_[fd].listener]);
  return true;
}

}  // namespace c1m
