// Idle timeouts and WebSocket heartbeats: two timer wheels (timer_wheel.h) indexed by fd and
// one libuv timer set to the earliest due tick. Activity costs one touch (O(1), no list work).
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
  // Also armed without heartbeats, by the close handshake (timers_on_ws_closing).
  ping_wheel_.disarm(fd);
}

// We sent a close frame: the peer has ws_close_timeout_ms to answer (and to read what is
// queued). The heartbeat wheel holds the deadline: a closing connection is pinged no more.
void Loop::timers_on_ws_closing(uint32_t fd, const Listener& L) {
  ping_wheel_.arm(fd, uv_now(uv_), L.opt.ws_close_timeout_ms);
  schedule_timer();
}

void Loop::schedule_timer() {
  if (!timer_) return;
  uint64_t due = std::min(idle_wheel_.next_due_ms(), ping_wheel_.next_due_ms());
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
  if (epfd_ < 0) return;
  in_round_ = true;
  // No JS while the wheels fire: records raised by closes wait in the deferred list, so no
  // callback can touch a wheel in the middle of advance().
  const bool saved = in_ops_;
  in_ops_ = true;
  const uint64_t now = uv_now(uv_);
  idle_wheel_.advance(now, [this](uint32_t fd, uint8_t kind) { on_wheel(fd, kind); });
  ping_wheel_.advance(now, [this](uint32_t fd, uint8_t kind) { on_wheel(fd, kind); });
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
  if (s.flags & kFlagWsClosing) {
    // Our close frame went unanswered (or unread) for ws_close_timeout_ms.
    v_.counters->wsCloseTimeouts++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  if (s.flags & kFlagPingOut) {
    // The ping of the previous interval is still unanswered.
    v_.counters->heartbeatCloses++;
    close_conn(fd, kCloseTimeout, 0);
    return;
  }
  const uint32_t gen = s.gen;
  const uint32_t interval = listeners_[s.listener].opt.ping_interval_ms;
  s.flags |= kFlagPingOut;
  v_.counters->pingsSent++;
  if (!send_ws_frame(fd, s, ws::kPing, nullptr, 0) || !live(fd, gen)) return;
  ping_wheel_.arm(fd, uv_now(uv_), interval);
}

}  // namespace c1m
