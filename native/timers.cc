// Idle timeouts and per-connection deadlines (see timers.h for what each wheel means).
#include "timers.h"

#include <algorithm>

#include "loop.h"
#include "proto/ws.h"

namespace c1m {

void Timers::init(uv_loop_t* uv) {
  uv_ = uv;
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(uv, timer_);
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
}

uv_timer_t* Timers::release_handle() {
  uv_timer_t* t = timer_;
  timer_ = nullptr;
  return t;
}

void Timers::deadline_arm(uint32_t fd, uint32_t ms) {
  deadline_.arm(fd, uv_now(uv_), ms);
  dirty_ = true;
  schedule();
}

void Timers::schedule() {
  if (!timer_ || !dirty_) return;
  dirty_ = false;
  uint64_t due = std::min(idle_.next_due_ms(), deadline_.next_due_ms());
  if (due == due_) return;
  due_ = due;
  if (due == TimerWheel::kNever) {
    uv_timer_stop(timer_);
    return;
  }
  uint64_t now = uv_now(uv_);
  uv_timer_start(timer_, on_uv_timer, due > now ? due - now : 0, 0);
}

void Timers::on_uv_timer(uv_timer_t* h) {
  auto* self = static_cast<Timers*>(h->data);
  self->due_ = TimerWheel::kNever;
  self->loop_.timer_round();
}

void Timers::expire(uint64_t now_ms) {
  idle_.advance(now_ms, [this](uint32_t fd, uint8_t kind) { on_due(fd, kind); });
  deadline_.advance(now_ms, [this](uint32_t fd, uint8_t kind) { on_due(fd, kind); });
  // The wheels moved on (and what fired may have re-armed, even scheduled mid-advance): the next
  // due time is recomputed after them.
  dirty_ = true;
}

void Timers::on_due(uint32_t fd, uint8_t kind) {
  if (fd >= loop_.table_size() || loop_.slot(fd).kind != SlotKind::kConn) return;
  Slot& s = loop_.slot(fd);
  Counters& c = loop_.counters();
  if (kind == 0) {
    c.idleTimeouts++;
    // An idle limit shorter than the handshake's ended it: the handshake timed out as well.
    if ((s.flags & (kFlagTls | kFlagTlsHandshake)) == (kFlagTls | kFlagTlsHandshake) && !(s.flags & (kFlagWriteShut | kFlagDoomed))) c.tlsHandshakeTimeouts++;
    loop_.close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagLinger) {
    // The peer neither closed nor stopped sending within linger_ms after our error answer.
    c.lingerTimeouts++;
    loop_.close_conn(fd, loop_.linger_reason(s), 0);
    return;
  }
  if ((s.flags & (kFlagTls | kFlagTlsHandshake)) == (kFlagTls | kFlagTlsHandshake) && !(s.flags & (kFlagWriteShut | kFlagDoomed))) {
    // A TLS handshake not finished handshake_timeout_ms after accept (a stalled or truncated
    // ClientHello): closed, counted. JS never heard of the connection.
    c.tlsHandshakeTimeouts++;
    loop_.close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagWsClosing) {
    // Our close frame went unanswered (or unread) for ws_close_timeout_ms.
    c.wsCloseTimeouts++;
    loop_.close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagWriteShut) {
    // We sent our FIN linger_ms ago and the peer never sent its own.
    c.finWaitTimeouts++;
    loop_.close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagHeadTimer) {
    // A request head still not whole header_timeout_ms after its first byte (slowloris): 408,
    // then the lingering close; the flag stays so the close is counted as a header timeout.
    c.headerTimeouts++;
    bytebuf_free(s.in);
    s.in = nullptr;
    loop_.protocols().http_fail(fd, 408, "request header timeout");
    return;
  }
  if (!(s.flags & kFlagWs)) return;
  if (s.flags & kFlagPingOut) {
    // The ping of the previous interval is still unanswered.
    c.heartbeatCloses++;
    loop_.close_conn(fd, kCloseTimeout, 0);
    return;
  }
  const uint32_t gen = s.gen;
  const uint32_t interval = loop_.listener_of(s).opt.ping_interval_ms;
  if (!interval) return;
  s.flags |= kFlagPingOut;
  c.pingsSent++;
  if (!loop_.protocols().send_ws_frame(fd, s, ws::kPing, nullptr, 0) || !loop_.live(fd, gen)) return;
  deadline_.arm(fd, uv_now(uv_), interval);
}

}  // namespace c1m
