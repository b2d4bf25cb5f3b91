// Idle timeouts and per-connection deadlines. Timers owns two timer wheels (timer_wheel.h),
// indexed by fd, and the one libuv timer set to the earliest tick either wheel has due; activity
// costs one touch (O(1), no list work), so a million idle timers are not a million heap entries.
//
// The idle wheel closes a connection silent for its listener's idle_timeout_ms. The deadline
// wheel holds one deadline per connection, whose meaning follows from the connection's state,
// checked in Timers::on_due in this order: lingering after an error answer, a TLS handshake not
// finished in time, the wait for the peer's WebSocket close frame, the wait for its FIN after ours, an HTTP request head that has
// not arrived whole, and otherwise the WebSocket heartbeat.
//
// The wheels fire inside Loop::timer_round, which keeps JS out while they do (a callback must
// not touch a wheel in the middle of advance()).
#pragma once
#include <uv.h>

#include <cstdint>

#include "conn_table.h"
#include "timer_wheel.h"

namespace c1m {

class Loop;

class Timers {
 public:
  explicit Timers(Loop& loop) : loop_(loop) {}
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  // Creates the libuv timer on `uv`, unreferenced: timers alone never keep Node alive.
  void init(uv_loop_t* uv);
  // Hands the libuv timer over to be closed (Loop::shutdown); nullptr when there is none.
  uv_timer_t* release_handle();

  // A connection was accepted: its idle timeout starts.
  void on_accept(uint32_t fd, const Listener& L) {
    if (!L.opt.idle_timeout_ms) return;
    idle_.arm(fd, uv_now(uv_), L.opt.idle_timeout_ms);
    dirty_ = true;
  }
  // It sent bytes: its idle timeout starts over.
  void on_activity(uint32_t fd, const Listener& L) {
    if (L.opt.idle_timeout_ms) idle_.touch(fd, uv_now(uv_));
  }
  // It is closing: neither wheel holds it any more.
  void on_close(uint32_t fd, const Listener& L) {
    if (L.opt.idle_timeout_ms) idle_.disarm(fd);
    deadline_.disarm(fd);
  }
  // We sent a close frame: the peer has ws_close_timeout_ms to answer (and to read what is
  // queued). The deadline replaces the heartbeat: a closing connection is pinged no more.
  void on_ws_closing(uint32_t fd, const Listener& L) { deadline_arm(fd, L.opt.ws_close_timeout_ms); }
  // Sets the connection's one deadline ms from now (replacing what it held) and reschedules.
  void deadline_arm(uint32_t fd, uint32_t ms);
  // Forgets the connection's deadline.
  void deadline_disarm(uint32_t fd) { deadline_.disarm(fd); }

  // Sets the libuv timer to the earliest tick either wheel has due (or stops it). Called at the
  // end of every round, it costs nothing unless a timer was armed or the wheels advanced since:
  // touch() only moves deadlines later, and a disarm that leaves the timer set early costs one
  // expire() that finds nothing and reschedules.
  void schedule();
  // Fires what is due at now_ms, the idle wheel first. No JS may run meanwhile.
  void expire(uint64_t now_ms);
  // Heap bytes of both wheels.
  uint64_t memory_bytes() const { return idle_.memory_bytes() + deadline_.memory_bytes(); }

 private:
  static void on_uv_timer(uv_timer_t* h);
  // What a due timer means for its connection (kind 0: the idle wheel, 1: the deadline wheel).
  void on_due(uint32_t fd, uint8_t kind);

  Loop& loop_;
  uv_loop_t* uv_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint64_t due_ = TimerWheel::kNever;  // when the libuv timer is set to fire
  bool dirty_ = false;                 // a wheel changed in a way that can make due_ wrong
  TimerWheel idle_{50, 4096, 0};       // 50 ms ticks; longer timeouts are relinked lazily
  // One deadline per connection, whose meaning its state gives: the WebSocket heartbeat, the wait
  // for the peer's close frame, the wait for its FIN after ours (lingering), an HTTP head timeout.
  TimerWheel deadline_{50, 4096, 1};
};

}  // namespace c1m
