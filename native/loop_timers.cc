// Idle timeouts and per-connection deadlines: two timer wheels (timer_wheel.h) indexed by fd and
// one libuv timer set to the earliest due tick. Activity costs one touch (O(1), no list work).
// The deadline wheel holds one deadline per connection; what it means follows from the
// connection's state, checked in on_wheel in this order: lingering after an error answer, the
// wait for the peer's WebSocket close frame, the wait for its FIN after ours, an HTTP request
// head that has not arrived whole, and otherwise the WebSocket heartbeat.
#include "loop.h"
#include "proto/ws.h"

namespace c1m {

void Loop::timers_on_accept(uint32_t fd, const Listener& L) {
  if (L.opt.idle_timeout_ms) idle_wheel_.arm(fd, uv_now(uv_), L.opt.idle_timeout_ms);
}

void Loop::timers_on_activity(uint32_t fd, const Listener& L) {
  if (L.opt.idle_timeout_ms) idle_wheel_.touch(fd, uv_now(uv_));
}

void Loop::timers_on_close(uint32_t fd, const Listener& L) {
  if (L.opt.idle_timeout_ms) idle_wheel_.disarm(fd);
  deadline_wheel_.disarm(fd);
}

// We sent a close frame: the peer has ws_close_timeout_ms to answer (and to read what is
// queued). The deadline replaces the heartbeat: a closing connection is pinged no more.
void Loop::timers_on_ws_closing(uint32_t fd, const Listener& L) { timers_on_deadline(fd, L.opt.ws_close_timeout_ms); }

// Sets the connection's one deadline ms from now (replacing what it held).
void Loop::timers_on_deadline(uint32_t fd, uint32_t ms) {
  deadline_wheel_.arm(fd, uv_now(uv_), ms);
  schedule_timer();
}

void Loop::schedule_timer() {
  if (!timer_) return;
  uint64_t due = std::min(idle_wheel_.next_due_ms(), deadline_wheel_.next_due_ms());
  if (due == timer_due_) return;
  timer_due_ = due;
  if (due == TimerWheel::kNever) {
    uv_timer_stop(timer_);
    return;
  }
  uint64_t now = uv_now(uv_);
  uv_timer_start(timer_, on_timer, due > now ? due - now : 0, 0);
}

void Loop::on_timer(uv_timer_t* h) { static_cast<Loop*>(h->data)->fire_timers(); }

void Loop::fire_timers() {
  timer_due_ = TimerWheel::kNever;
  if (!poller_.is_open()) return;
  in_round_ = true;
  // No JS while the wheels fire: records raised by closes wait in the deferred list, so no
  // callback can touch a wheel in the middle of advance().
  const bool saved = in_ops_;
  in_ops_ = true;
  const uint64_t now = uv_now(uv_);
  idle_wheel_.advance(now, [this](uint32_t fd, uint8_t kind) { on_wheel(fd, kind); });
  deadline_wheel_.advance(now, [this](uint32_t fd, uint8_t kind) { on_wheel(fd, kind); });
  in_ops_ = saved;
  for (int i = 0; i < 16 && (nrec_ > 0 || !deferred_.empty()); ++i) dispatch();
  in_round_ = false;
  update_activity();
  schedule_timer();
}

void Loop::on_wheel(uint32_t fd, uint8_t kind) {
  if (fd >= table_.size() || table_[fd].kind != SlotKind::kConn) return;
  Slot& s = table_[fd];
  if (kind == 0) {
    v_.counters->idleTimeouts++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagLinger) {
    // The peer neither closed nor stopped sending within linger_ms after our error answer.
    v_.counters->lingerTimeouts++;
    close_conn(fd, linger_reason(s), 0);
    return;
  }
  if (s.flags & kFlagWsClosing) {
    // Our close frame went unanswered (or unread) for ws_close_timeout_ms.
    v_.counters->wsCloseTimeouts++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagWriteShut) {
    // We sent our FIN linger_ms ago and the peer never sent its own.
    v_.counters->finWaitTimeouts++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagHeadTimer) {
    // A request head still not whole header_timeout_ms after its first byte (slowloris): 408,
    // then the lingering close; the flag stays so the close is counted as a header timeout.
    v_.counters->headerTimeouts++;
    bytebuf_free(s.in);
    s.in = nullptr;
    http_fail(fd, 408, "request header timeout");
    return;
  }
  if (!(s.flags & kFlagWs)) return;
  if (s.flags & kFlagPingOut) {
    // The ping of the previous interval is still unanswered.
    v_.counters->heartbeatCloses++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  const uint32_t gen = s.gen;
  const uint32_t interval = listeners_[s.listener].opt.ping_interval_ms;
  if (!interval) return;
  s.flags |= kFlagPingOut;
  v_.counters->pingsSent++;
  if (!send_ws_frame(fd, s, ws::kPing, nullptr, 0) || !live(fd, gen)) return;
  deadline_wheel_.arm(fd, uv_now(uv_), interval);
}

}  // namespace c1m
