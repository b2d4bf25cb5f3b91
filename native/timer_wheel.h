// Idle-timeout and heartbeat wheel: one deadline per dense slot index (the engine uses the fd),
// O(1) arm/touch/disarm, and advance() that costs O(due buckets + expired), not O(armed).
#pragma once
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace c1m {

// A hashed timing wheel of `bucket_count` buckets (a power of two), each `tick_ms` wide.
//
// Storage. Every slot owns one 16-byte node {next, prev, deadline tick, timeout_ms} in one
// std::vector grown on demand; nodes are linked into circular doubly linked lists by index, so
// an armed timer allocates nothing. Node indices [0, bucket_count] are list sentinels (one per
// bucket plus one "pending" list used while a bucket fires); slot s lives at node
// s + bucket_count + 1. Sentinels make unlink branch-free and let a timer be removed from any
// list (including the one being fired) without knowing which list it is in. A bitmap of
// non-empty buckets makes next_due_ms() a word scan instead of a bucket walk.
//
// Lazy rescheduling. touch() only moves the stored deadline later; the node stays where it is.
// Invariant: a node sits in a bucket whose next visit (the first tick after the current one
// that maps to that bucket) is at or before its deadline. When a bucket is visited, each node
// whose deadline has passed fires; the others are relinked into the bucket of their real
// deadline. A busy connection therefore costs one relink per timeout period, not one per
// message, and a timeout longer than one revolution (bucket_count * tick_ms) costs one relink
// per revolution.
//
// Resolution. The deadline is rounded up to a whole tick, and a tick is due once
// floor(now_ms / tick_ms) reaches it, so a timer never fires before now_ms + timeout_ms and fires
// on the first advance() at or after the end of that tick (within one tick of the deadline, if
// the engine calls advance() when next_due_ms() says). A timer armed with a deadline at or before
// the wheel's current tick (timeout 0, or a stale now_ms) fires on the next tick.
//
// Two kinds. The engine keeps one wheel per purpose (idle timeout, heartbeat) instead of a kind
// field per slot: the two deadlines are independent, a slot then sits in exactly one list per
// wheel (two list memberships per slot would need two link pairs anyway), each wheel can pick
// its own tick length, and a connection that uses only one of them costs nothing in the other.
// The `kind` given at construction is passed back to the callback so one dispatch function can
// serve both wheels.
//
// Time is always passed in (monotonic milliseconds); the wheel never reads a clock. Ticks are
// stored as 32-bit and compared with wrap-around arithmetic, which is exact while every
// timeout is shorter than 2^31 ticks (kMaxTimeoutMs caps it at 2^30 ms).
class TimerWheel {
 public:
  static constexpr uint64_t kNever = UINT64_MAX;
  static constexpr uint32_t kMaxTimeoutMs = uint32_t(1) << 30;
  static constexpr uint32_t kMaxSlot = (uint32_t(1) << 31) - 1;

  // Creates a wheel of bucket_count buckets (a power of two >= 2) of tick_ms (>= 1) each.
  TimerWheel(uint32_t tick_ms, uint32_t bucket_count, uint8_t kind = 0)
      : tick_ms_(tick_ms),
        bucket_count_(bucket_count),
        mask_(bucket_count - 1),
        pending_(bucket_count),
        base_(bucket_count + 1),
        kind_(kind),
        nonempty_((bucket_count + 63) / 64, 0) {
    assert(tick_ms >= 1);
    assert(bucket_count >= 2 && std::has_single_bit(bucket_count));
    assert(bucket_count < (uint32_t(1) << 30));
    nodes_.resize(base_);
    for (uint32_t i = 0; i < base_; ++i) nodes_[i] = Node{i, i, 0, 0};
  }

  // Preallocates nodes for slots [0, slots) so arming them never reallocates.
  void reserve(uint32_t slots) { grow(slots); }

  // Arms (or re-arms) slot to fire timeout_ms after now_ms; an armed slot is moved.
  void arm(uint32_t slot, uint64_t now_ms, uint32_t timeout_ms) {
    assert(slot <= kMaxSlot);
    if (timeout_ms > kMaxTimeoutMs) timeout_ms = kMaxTimeoutMs;
    const uint32_t n = node_of(slot);
    grow(slot + 1);
    if (is_linked(n)) {
      unlink(n);
    } else {
      // An empty wheel has nothing to catch up on, so it jumps to the present; this also sets
      // the epoch on first use, whatever the caller's monotonic clock starts at.
      if (armed_ == 0 && !in_advance_ && now_ms / tick_ms_ > current_) current_ = now_ms / tick_ms_;
      ++armed_;
    }
    nodes_[n].timeout_ms = timeout_ms;
    nodes_[n].deadline = uint32_t(deadline_tick_for(now_ms, timeout_ms));
    link(n, bucket_for(deadline_of(n)));
  }

  // Disarms slot; returns false if it was not armed. Safe inside the advance() callback.
  bool disarm(uint32_t slot) {
    if (slot > kMaxSlot) return false;
    const uint32_t n = node_of(slot);
    if (n >= nodes_.size() || !is_linked(n)) return false;
    unlink(n);
    nodes_[n].next = kUnlinked;
    --armed_;
    return true;
  }

  // Records activity at now_ms: the deadline becomes now_ms + the armed timeout. O(1), no relink.
  bool touch(uint32_t slot, uint64_t now_ms) {
    if (slot > kMaxSlot) return false;
    const uint32_t n = node_of(slot);
    if (n >= nodes_.size() || !is_linked(n)) return false;
    const uint32_t d = uint32_t(deadline_tick_for(now_ms, nodes_[n].timeout_ms));
    // Only ever later: an earlier deadline could precede the bucket the node sits in.
    if (int32_t(d - nodes_[n].deadline) > 0) nodes_[n].deadline = d;
    return true;
  }

  // Fires every timer due at now_ms: calls on_expire(slot, kind) after unlinking it, so the
  // callback may close, re-arm, touch or disarm any slot (but not call advance). Returns the
  // number fired. Timers armed during the callback never fire in the same call.
  template <class F>
  size_t advance(uint64_t now_ms, F&& on_expire) {
    assert(!in_advance_);
    const uint64_t target = now_ms / tick_ms_;
    if (target <= current_) return 0;
    const uint64_t span = target - current_;
    uint64_t first = current_ + 1;
    // Every bucket is visited at most once per call; a jump longer than a revolution visits
    // each bucket once, in tick order.
    if (span > bucket_count_) first = target - bucket_count_ + 1;
    // Moving the clock first makes arm() inside the callback place a timer that is already due
    // in the bucket of target + 1, which this call has either visited already or will not
    // visit, so a callback that re-arms with timeout 0 cannot loop.
    current_ = target;
    if (armed_ == 0) return 0;
    in_advance_ = true;
    size_t fired = 0;
    for (uint64_t t = first; t <= target && armed_ != 0; ++t) {
      const uint32_t b = uint32_t(t) & mask_;
      if (!bit(b)) continue;
      move_to_pending(b);
      // Pop from the pending head each time rather than walking next pointers: the callback
      // may disarm any pending node, which unlinks it cleanly from this list.
      while (nodes_[pending_].next != pending_) {
        const uint32_t n = nodes_[pending_].next;
        unlink(n);
        const uint64_t d = deadline_of(n);
        if (d <= target) {
          nodes_[n].next = kUnlinked;
          --armed_;
          ++fired;
          on_expire(n - base_, kind_);
        } else {
          link(n, uint32_t(d) & mask_);
        }
      }
    }
    in_advance_ = false;
    return fired;
  }

  // Earliest time (ms) at which advance() may have work, or kNever when nothing is armed.
  // With touched or long timers that work may be relinking only; call again afterwards.
  uint64_t next_due_ms() const {
    if (armed_ == 0) return kNever;
    const uint32_t start = uint32_t(current_ + 1) & mask_;
    const uint32_t words = uint32_t(nonempty_.size());
    // Scan the bitmap circularly from `start`: the first word masked below start, then whole
    // words, then the first word again for the bits below start.
    uint32_t w = start / 64;
    uint64_t bits = nonempty_[w] & (~uint64_t(0) << (start % 64));
    for (uint32_t step = 0; step <= words; ++step) {
      if (bits != 0) {
        const uint32_t b = w * 64 + uint32_t(std::countr_zero(bits));
        const uint32_t dist = (b - start) & mask_;
        return (current_ + 1 + dist) * tick_ms_;
      }
      w = (w + 1 == words) ? 0 : w + 1;
      bits = nonempty_[w];
    }
    assert(false && "armed timers but no non-empty bucket");
    return kNever;
  }

  // True if slot is armed (including while it waits in the list being fired).
  bool armed(uint32_t slot) const {
    if (slot > kMaxSlot) return false;
    const uint32_t n = node_of(slot);
    return n < nodes_.size() && is_linked(n);
  }

  // Time (ms) at which an armed slot becomes due (a tick boundary), or kNever if not armed.
  uint64_t deadline_ms(uint32_t slot) const {
    if (!armed(slot)) return kNever;
    return deadline_of(node_of(slot)) * tick_ms_;
  }

  // Number of armed slots.
  size_t size() const { return armed_; }

  // Last tick processed by advance() (ticks are now_ms / tick_ms).
  uint64_t current_tick() const { return current_; }

  uint32_t tick_ms() const { return tick_ms_; }
  uint32_t bucket_count() const { return bucket_count_; }
  uint8_t kind() const { return kind_; }

  // Bytes of memory owned by this wheel (node array capacity, bitmap, the object itself).
  size_t memory_bytes() const {
    return sizeof(*this) + nodes_.capacity() * sizeof(Node) + nonempty_.capacity() * sizeof(uint64_t);
  }

  // Bytes of per-slot state (what each additional slot costs once reserved).
  static constexpr size_t bytes_per_slot() { return sizeof(Node); }

 private:
  struct Node {
    uint32_t next;        // kUnlinked when the slot is not armed
    uint32_t prev;
    uint32_t deadline;    // tick at which the timer is due (low 32 bits)
    uint32_t timeout_ms;  // what touch() adds to now
  };
  static constexpr uint32_t kUnlinked = UINT32_MAX;

  uint32_t node_of(uint32_t slot) const { return slot + base_; }
  bool is_linked(uint32_t n) const { return nodes_[n].next != kUnlinked; }

  void grow(uint32_t slots) {
    const size_t want = size_t(base_) + slots;
    if (nodes_.size() < want) nodes_.resize(want, Node{kUnlinked, kUnlinked, 0, 0});
  }

  uint64_t deadline_tick_for(uint64_t now_ms, uint32_t timeout_ms) const {
    return (now_ms + timeout_ms + tick_ms_ - 1) / tick_ms_;
  }

  // Widens a stored 32-bit deadline around the current tick.
  uint64_t deadline_of(uint32_t n) const {
    const int32_t delta = int32_t(nodes_[n].deadline - uint32_t(current_));
    return uint64_t(int64_t(current_) + delta);
  }

  uint32_t bucket_for(uint64_t deadline) const {
    return uint32_t(deadline > current_ ? deadline : current_ + 1) & mask_;
  }

  bool bit(uint32_t b) const { return (nonempty_[b / 64] >> (b % 64)) & 1; }

  void link(uint32_t n, uint32_t list) {
    const uint32_t tail = nodes_[list].prev;
    nodes_[n].prev = tail;
    nodes_[n].next = list;
    nodes_[tail].next = n;
    nodes_[list].prev = n;
    if (list < bucket_count_) nonempty_[list / 64] |= uint64_t(1) << (list % 64);
  }

  void unlink(uint32_t n) {
    const uint32_t p = nodes_[n].prev;
    const uint32_t q = nodes_[n].next;
    nodes_[p].next = q;
    nodes_[q].prev = p;
    // In a circular list with a sentinel, prev == next after removal only when the sentinel
    // is all that is left.
    if (p == q && p < bucket_count_) nonempty_[p / 64] &= ~(uint64_t(1) << (p % 64));
  }

  void move_to_pending(uint32_t b) {
    Node& s = nodes_[b];
    const uint32_t head = s.next;
    const uint32_t tail = s.prev;
    nodes_[pending_].next = head;
    nodes_[pending_].prev = tail;
    nodes_[head].prev = pending_;
    nodes_[tail].next = pending_;
    s.next = s.prev = b;
    nonempty_[b / 64] &= ~(uint64_t(1) << (b % 64));
  }

  uint32_t tick_ms_;
  uint32_t bucket_count_;
  uint32_t mask_;
  uint32_t pending_;  // sentinel of the list being fired
  uint32_t base_;     // node index of slot 0
  uint8_t kind_;
  bool in_advance_ = false;
  uint64_t current_ = 0;  // last tick processed
  size_t armed_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint64_t> nonempty_;
};

}  // namespace c1m
