// Self-test of the engine's pure data structures: TimerWheel (native/timer_wheel.h) and
// Histogram (native/histogram.h). Prints "N passed, M failed" and exits non-zero on failure.
// Build: g++ -std=c++20 -O1 -g -fsanitize=address,undefined -Wall -Wextra -Inative
//          native/tests/structs_selftest.cc -o /tmp/structs_selftest
// `--fixture` prints the cross-language fixtures that test/histogram.test.ts hard-codes.
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "histogram.h"
#include "timer_wheel.h"

namespace {

int g_passed = 0;
int g_failed = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (cond) {                                                           \
      ++g_passed;                                                         \
    } else {                                                              \
      ++g_failed;                                                         \
      std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                     \
  } while (0)

#define CHECK_EQ(a, b)                                                                       \
  do {                                                                                       \
    const auto va_ = (a);                                                                    \
    const auto vb_ = (b);                                                                    \
    if (va_ == vb_) {                                                                        \
      ++g_passed;                                                                            \
    } else {                                                                                 \
      ++g_failed;                                                                            \
      std::fprintf(stderr, "FAIL %s:%d: %s == %s (%.17g vs %.17g)\n", __FILE__, __LINE__, #a, \
                   #b, double(va_), double(vb_));                                            \
    }                                                                                        \
  } while (0)

using c1m::Histogram;
using c1m::HistStatus;
using c1m::TimerWheel;

// Deterministic generators shared with test/histogram.test.ts (same arithmetic in uint32).
struct XorShift32 {
  uint32_t x;
  uint32_t next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ===== Timer wheel =========================================================================

void test_wheel_basic() {
  TimerWheel w(10, 64, 7);
  CHECK_EQ(w.next_due_ms(), TimerWheel::kNever);
  w.arm(5, 0, 1000);
  CHECK(w.armed(5));
  CHECK_EQ(w.size(), size_t(1));
  CHECK_EQ(w.deadline_ms(5), uint64_t(1000));
  // 100 ticks is more than the 64 buckets: the bucket is first visited at tick 36, where the
  // timer is only relinked, and then at tick 100.
  CHECK_EQ(w.next_due_ms(), uint64_t(360));
  std::vector<std::pair<uint32_t, uint8_t>> fired;
  auto cb = [&](uint32_t s, uint8_t k) { fired.push_back({s, k}); };
  CHECK_EQ(w.advance(360, cb), size_t(0));
  CHECK_EQ(w.next_due_ms(), uint64_t(1000));
  CHECK_EQ(w.advance(999, cb), size_t(0));
  CHECK(fired.empty());
  CHECK_EQ(w.advance(1000, cb), size_t(1));
  CHECK_EQ(fired.size(), size_t(1));
  CHECK(fired.size() == 1 && fired[0].first == 5 && fired[0].second == 7);
  CHECK(!w.armed(5));
  CHECK_EQ(w.size(), size_t(0));
  CHECK_EQ(w.next_due_ms(), TimerWheel::kNever);

  // A deadline inside a tick is rounded up to the tick's end: armed at 1003 for 25 ms the
  // deadline is 1028, due at 1030.
  w.arm(1, 1003, 25);
  CHECK_EQ(w.deadline_ms(1), uint64_t(1030));
  CHECK_EQ(w.advance(1029, cb), size_t(0));
  CHECK_EQ(w.advance(1030, cb), size_t(1));
}

void test_wheel_touch_is_lazy() {
  TimerWheel w(10, 256);
  size_t fired = 0;
  auto cb = [&](uint32_t, uint8_t) { ++fired; };
  w.arm(3, 0, 100);
  CHECK(w.touch(3, 50));
  CHECK_EQ(w.deadline_ms(3), uint64_t(150));
  CHECK_EQ(w.next_due_ms(), uint64_t(100));  // still in its old bucket: lazy
  CHECK_EQ(w.advance(100, cb), size_t(0));   // visited, relinked to 150
  CHECK_EQ(w.next_due_ms(), uint64_t(150));
  CHECK_EQ(w.advance(149, cb), size_t(0));
  CHECK_EQ(w.advance(150, cb), size_t(1));
  // A stale touch never pulls a deadline earlier.
  w.arm(3, 200, 100);
  w.touch(3, 250);
  w.touch(3, 220);
  CHECK_EQ(w.deadline_ms(3), uint64_t(350));
  CHECK(!w.touch(99, 300));
  CHECK(!w.touch(1u << 31, 300));
}

void test_wheel_disarm() {
  TimerWheel w(10, 64);
  size_t fired = 0;
  auto cb = [&](uint32_t, uint8_t) { ++fired; };
  w.arm(0, 0, 50);
  w.arm(1, 0, 50);
  CHECK(w.disarm(0));
  CHECK(!w.disarm(0));
  CHECK(!w.disarm(12345));
  CHECK(!w.armed(0));
  CHECK_EQ(w.advance(50, cb), size_t(1));
  CHECK_EQ(fired, size_t(1));
  CHECK_EQ(w.next_due_ms(), TimerWheel::kNever);
  // Re-arming an armed slot moves it.
  w.arm(2, 100, 500);
  w.arm(2, 100, 20);
  CHECK_EQ(w.size(), size_t(1));
  CHECK_EQ(w.advance(120, cb), size_t(1));
}

void test_wheel_long_timeout_and_catch_up() {
  TimerWheel w(10, 8);  // one revolution is 80 ms
  std::vector<uint32_t> fired;
  auto cb = [&](uint32_t s, uint8_t) { fired.push_back(s); };
  w.arm(1, 0, 1000);
  uint64_t t = 0;
  for (; t < 1000; t += 10) w.advance(t, cb);
  CHECK(fired.empty());
  w.advance(1000, cb);
  CHECK_EQ(fired.size(), size_t(1));

  // One jump of many revolutions fires what is due and keeps what is not.
  fired.clear();
  for (uint32_t s = 0; s < 100; ++s) w.arm(s, 1000, s < 50 ? 30 + s * 10 : 100000);
  CHECK_EQ(w.advance(5000, cb), size_t(50));
  CHECK_EQ(fired.size(), size_t(50));
  CHECK_EQ(w.size(), size_t(50));
  std::set<uint32_t> got(fired.begin(), fired.end());
  CHECK(got.size() == 50 && *got.begin() == 0 && *got.rbegin() == 49);
  CHECK_EQ(w.advance(100999, cb), size_t(0));
  CHECK_EQ(w.advance(101000, cb), size_t(50));
}

void test_wheel_callback_reentry() {
  // Heartbeat pattern: each fire re-arms the slot for the next interval.
  TimerWheel w(10, 64, 2);
  size_t pings = 0;
  w.arm(4, 0, 100);
  for (uint64_t t = 10; t <= 1000; t += 10) {
    w.advance(t, [&](uint32_t s, uint8_t kind) {
      CHECK_EQ(kind, uint8_t(2));
      ++pings;
      w.arm(s, t, 100);
    });
  }
  CHECK_EQ(pings, size_t(10));

  // Re-arming with timeout 0 inside the callback fires once per advance(), never loops.
  TimerWheel z(10, 16);
  size_t n = 0;
  z.arm(1, 0, 0);
  for (uint64_t t = 10; t <= 200; t += 10) z.advance(t, [&](uint32_t s, uint8_t) { ++n; z.arm(s, t, 0); });
  CHECK_EQ(n, size_t(20));
  // Also across a jump longer than a revolution.
  n = 0;
  z.advance(100000, [&](uint32_t s, uint8_t) { ++n; z.arm(s, 100000, 0); });
  CHECK_EQ(n, size_t(1));

  // A callback that disarms timers waiting in the same firing list, and arms new ones.
  TimerWheel d(10, 64);
  for (uint32_t s = 0; s < 10; ++s) d.arm(s, 0, 100);
  size_t fired = 0;
  d.advance(100, [&](uint32_t s, uint8_t) {
    ++fired;
    for (uint32_t o = 0; o < 10; ++o)
      if (o != s) d.disarm(o);
    d.arm(1000 + s, 100, 50);  // grows the node array inside the callback
  });
  CHECK_EQ(fired, size_t(1));
  CHECK_EQ(d.size(), size_t(1));
  CHECK_EQ(d.advance(150, [&](uint32_t s, uint8_t) { CHECK(s >= 1000); }), size_t(1));
}

// Random operations against a model: a slot armed at now with timeout T must fire at the
// first advance whose tick reaches max(ceil((now + T) / tick), current tick at arm + 1), with
// touches moving that later, and never otherwise.
void test_wheel_against_model() {
  const uint32_t kTick = 7, kSlots = 300;
  TimerWheel w(kTick, 32);
  XorShift32 rng{99};
  std::map<uint32_t, uint64_t> due;  // slot -> due tick
  std::map<uint32_t, uint32_t> timeout;
  uint64_t now = 5000;
  size_t total_fired = 0;
  bool ok = true;
  for (int round = 0; round < 20000 && ok; ++round) {
    const uint32_t op = rng.next() % 100;
    const uint32_t slot = rng.next() % kSlots;
    if (op < 30) {
      uint32_t t = rng.next() % 3 == 0 ? rng.next() % 2000 : rng.next() % 60;
      if (rng.next() % 50 == 0) t = 0;
      w.arm(slot, now, t);
      const uint64_t d = (now + t + kTick - 1) / kTick;
      due[slot] = d > w.current_tick() ? d : w.current_tick() + 1;
      timeout[slot] = t;
    } else if (op < 55) {
      const bool was = due.count(slot) != 0;
      ok &= w.touch(slot, now) == was;
      if (was) {
        const uint64_t d = (now + timeout[slot] + kTick - 1) / kTick;
        if (d > due[slot]) due[slot] = d;
      }
    } else if (op < 62) {
      ok &= w.disarm(slot) == (due.erase(slot) != 0);
    } else {
      // Mostly small steps, sometimes a jump of several revolutions.
      const uint32_t r = rng.next() % 100;
      now += r < 90 ? rng.next() % 15 : r < 98 ? rng.next() % 400 : rng.next() % 5000;
      const uint64_t nd = w.next_due_ms();
      if (!due.empty()) {
        uint64_t earliest = UINT64_MAX;
        for (auto& [s, d] : due) earliest = std::min(earliest, d);
        ok &= nd != TimerWheel::kNever && nd <= earliest * kTick && nd > w.current_tick() * kTick;
      } else {
        ok &= nd == TimerWheel::kNever;
      }
      const uint64_t tick = now / kTick;
      std::set<uint32_t> expect;
      for (auto& [s, d] : due)
        if (d <= tick) expect.insert(s);
      std::set<uint32_t> got;
      w.advance(now, [&](uint32_t s, uint8_t) {
        ok &= got.insert(s).second;
        ok &= !w.armed(s);
      });
      if (got != expect) {
        std::fprintf(stderr, "model mismatch at round %d now %" PRIu64 ": expected %zu got %zu\n", round, now,
                     expect.size(), got.size());
        ok = false;
      }
      for (uint32_t s : got) due.erase(s);
      total_fired += got.size();
      ok &= w.size() == due.size();
    }
  }
  CHECK(ok);
  CHECK(total_fired > 1000);
}

void bench_wheel() {
  const uint32_t kN = 1000000;
  TimerWheel w(10, 4096, 1);
  w.reserve(kN);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t s = 0; s < kN; ++s) w.arm(s, 0, s % 10 == 0 ? 1000 : 60000);
  const double t_arm = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  for (uint32_t s = 0; s < kN; ++s) w.touch(s, 500);
  const double t_touch = seconds_since(t1);
  size_t fired = 0;
  const auto t2 = std::chrono::steady_clock::now();
  w.advance(1600, [&](uint32_t, uint8_t) { ++fired; });
  const double t_adv = seconds_since(t2);
  CHECK_EQ(fired, size_t(kN / 10));
  CHECK_EQ(w.size(), size_t(kN - kN / 10));
  std::printf("timer wheel: %zu bytes per slot (node), %.2f bytes per armed slot in total (%zu bytes for %u)\n",
              TimerWheel::bytes_per_slot(), double(w.memory_bytes()) / kN, w.memory_bytes(), kN);
  std::printf("timer wheel: 1M arm %.1f ms, 1M touch %.1f ms, advance expiring %zu (after relinking them) %.1f ms;"
              " total %.1f ms\n",
              t_arm * 1e3, t_touch * 1e3, fired, t_adv * 1e3, (t_arm + t_touch + t_adv) * 1e3);
}

// ===== Histogram ===========================================================================

void test_hist_params() {
  CHECK(Histogram::check_params(0, 100, 3) == HistStatus::kBadLowest);
  CHECK(Histogram::check_params(1, 100, 0) == HistStatus::kBadDigits);
  CHECK(Histogram::check_params(1, 100, 6) == HistStatus::kBadDigits);
  CHECK(Histogram::check_params(10, 19, 3) == HistStatus::kBadHighest);
  CHECK(Histogram::check_params(10, 20, 3) == HistStatus::kOk);
  CHECK(Histogram::check_params(1, Histogram::kMaxHighest, 5) == HistStatus::kOk);
  CHECK(Histogram::check_params(1, Histogram::kMaxHighest + 1, 3) == HistStatus::kBadHighest);
  CHECK(Histogram::check_params(uint64_t(1) << 50, uint64_t(1) << 52, 5) == HistStatus::kBadHighest);
}

void test_hist_layout() {
  Histogram h(1, 60000000, 3);
  CHECK_EQ(h.sub_bucket_count(), 2048u);
  CHECK_EQ(h.bucket_count(), 16u);
  CHECK_EQ(h.counts_len(), size_t(17408));
  std::printf("histogram (1, 60e6, 3): %u buckets x %u sub-buckets, %zu counts, %zu bytes per instance\n",
              h.bucket_count(), h.sub_bucket_count(), h.counts_len(), h.memory_bytes());
  // HdrHistogram's (1, 3600000000, 3): countsArrayLength 23552.
  Histogram hh(1, 3600000000ull, 3);
  CHECK_EQ(hh.counts_len(), size_t(23552));
  Histogram h2(1, 1000000, 2);
  CHECK_EQ(h2.sub_bucket_count(), 256u);
  CHECK_EQ(h2.index_of(255), size_t(255));
  CHECK_EQ(h2.index_of(256), size_t(256));
  CHECK_EQ(h2.highest_equivalent(256), uint64_t(257));
  CHECK_EQ(h2.index_of(1000), size_t(506));
  CHECK_EQ(h2.lowest_equivalent(1001), uint64_t(1000));
  CHECK_EQ(h2.highest_equivalent(1000), uint64_t(1003));
  CHECK_EQ(h2.highest_equivalent(2000), uint64_t(2007));
  // lowest > 1: unit magnitude 3 (lowest 10 -> 8-wide units at the bottom).
  Histogram h3(10, 100000, 2);
  CHECK_EQ(h3.lowest_equivalent(15), uint64_t(8));
  CHECK_EQ(h3.highest_equivalent(15), uint64_t(15));
  CHECK_EQ(h3.index_of(7), size_t(0));

  // Every value lies in its bucket, buckets are contiguous and ordered, and each is narrower
  // than 10^-digits of its lowest value above the linear range.
  bool ok = true;
  for (uint32_t digits = 1; digits <= 5; ++digits) {
    Histogram g(1, Histogram::kMaxHighest, digits);
    XorShift32 rng{digits};
    for (int k = 0; k < 20000 && ok; ++k) {
      const uint64_t v = ((uint64_t(rng.next()) << 32) | rng.next()) >> (11 + rng.next() % 53);
      const size_t i = g.index_of(v);
      const uint64_t lo = g.value_from_index(i), hi = lo + g.range_at_index(i) - 1;
      ok &= lo <= v && v <= hi && g.lowest_equivalent(v) == lo && g.highest_equivalent(v) == hi;
      ok &= i + 1 >= g.counts_len() || g.value_from_index(i + 1) == hi + 1;
      if (lo >= g.sub_bucket_count()) ok &= double(hi - lo + 1) / double(lo) <= std::pow(10.0, -double(digits));
    }
  }
  CHECK(ok);
}

void test_hist_percentiles() {
  Histogram h(1, 1000000, 2);
  CHECK_EQ(h.value_at_percentile(50), uint64_t(0));
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  CHECK_EQ(h.count(), uint64_t(100));
  CHECK_EQ(h.min(), uint64_t(1));
  CHECK_EQ(h.max(), uint64_t(100));
  CHECK_EQ(h.value_at_percentile(0), uint64_t(1));
  CHECK_EQ(h.value_at_percentile(50), uint64_t(50));
  CHECK_EQ(h.value_at_percentile(90), uint64_t(90));
  CHECK_EQ(h.value_at_percentile(99), uint64_t(99));
  CHECK_EQ(h.value_at_percentile(99.9), uint64_t(100));
  CHECK_EQ(h.value_at_percentile(100), uint64_t(100));
  CHECK_EQ(h.value_at_percentile(0.5), uint64_t(1));
  CHECK_EQ(h.value_at_percentile(1e-12), uint64_t(1));  // rounds to 0 ppb: rank 1
  CHECK_EQ(h.mean(), 50.5);
  CHECK(std::fabs(h.stddev() - std::sqrt((100.0 * 100.0 - 1.0) / 12.0)) < 1e-12);

  // Quantized values: 1000 -> [1000, 1003], 2000 -> [2000, 2007].
  Histogram q(1, 1000000, 2);
  q.record(1000);
  q.record(2000);
  CHECK_EQ(q.value_at_percentile(50), uint64_t(1003));
  CHECK_EQ(q.value_at_percentile(50.0000001), uint64_t(2000));  // rank 2, 2007 capped at max
  CHECK_EQ(q.value_at_percentile(75), uint64_t(2000));
  CHECK_EQ(q.mean(), (1002.0 + 2004.0) / 2);

  // 99.9 / 100 * 1000 is 999.0000000000001 in doubles; the exact rank is 999.
  Histogram e(1, 1000000, 3);
  for (uint64_t v = 1; v <= 1000; ++v) e.record(v);
  CHECK_EQ(e.value_at_percentile(99.9), uint64_t(999));
  CHECK_EQ(e.value_at_percentile(99.99), uint64_t(1000));
  CHECK_EQ(Histogram::rank_for(99.9, 1000), uint64_t(999));
  CHECK_EQ(Histogram::rank_for(99.99, 1000), uint64_t(1000));
  CHECK_EQ(Histogram::rank_for(50, uint64_t(1) << 62), uint64_t(1) << 61);
}

void test_hist_overflow_and_reset() {
  Histogram h(1, 1000, 2);
  h.record(5);
  h.record(5000);
  CHECK_EQ(h.count(), uint64_t(2));
  CHECK_EQ(h.overflow(), uint64_t(1));
  CHECK_EQ(h.max(), uint64_t(1000));
  CHECK_EQ(h.value_at_percentile(100), uint64_t(1000));
  h.record(0);
  CHECK_EQ(h.min(), uint64_t(0));
  h.reset();
  CHECK_EQ(h.count(), uint64_t(0));
  CHECK_EQ(h.overflow(), uint64_t(0));
  CHECK_EQ(h.min(), uint64_t(0));
  CHECK_EQ(h.max(), uint64_t(0));
  CHECK_EQ(h.mean(), 0.0);
}

bool same_contents(const Histogram& a, const Histogram& b) {
  if (!a.same_layout(b) || a.count() != b.count() || a.min() != b.min() || a.max() != b.max() ||
      a.overflow() != b.overflow())
    return false;
  for (size_t i = 0; i < a.counts_len(); ++i)
    if (a.count_at_index(i) != b.count_at_index(i)) return false;
  return true;
}

void test_hist_corrected() {
  // Hand case: 10000 with interval 1000 adds 9000, 8000, ..., 1000.
  Histogram h(1, 100000, 3);
  h.record_corrected(10000, 1000);
  CHECK_EQ(h.count(), uint64_t(10));
  CHECK_EQ(h.min(), uint64_t(1000));
  h.record_corrected(1500, 1000);  // nothing synthetic: 500 < interval
  CHECK_EQ(h.count(), uint64_t(11));

  // Against HdrHistogram's plain loop, including stalls beyond highest.
  bool ok = true;
  XorShift32 rng{4242};
  for (int k = 0; k < 3000 && ok; ++k) {
    Histogram fast(1, 200000, 1 + k % 5), slow(1, 200000, 1 + k % 5);
    const uint64_t v = rng.next() % 400000;
    const uint64_t interval = rng.next() % 3 == 0 ? 0 : 1 + rng.next() % (k % 2 ? 50 : 5000);
    fast.record_corrected(v, interval);
    slow.record(v);
    if (interval > 0)
      for (uint64_t m = v - std::min(v, interval); m >= interval && v > interval; m -= interval) slow.record(m);
    ok &= same_contents(fast, slow);
  }
  CHECK(ok);
}

// The definition record_corrected must match: v, then v - interval, v - 2*interval, ... while
// >= interval, one record() each (a value above highest lands on highest and in overflow).
void record_corrected_naive(Histogram& h, uint64_t v, uint64_t interval) {
  h.record(v);
  if (interval == 0 || v < interval) return;
  for (uint64_t m = v - interval; m >= interval; m -= interval) h.record(m);
}

void test_hist_corrected_above_highest() {
  // An interval above highest: of 2600 and 1100 (both above highest) only 2600 is >= interval.
  // The run above highest used to ignore that bound, so m -= n * interval wrapped and the
  // count came out near 1.2e16.
  Histogram h(1, 1000, 3);
  h.record_corrected(4100, 1500);
  CHECK_EQ(h.count(), uint64_t(2));
  CHECK_EQ(h.overflow(), uint64_t(2));
  CHECK_EQ(h.min(), uint64_t(1000));
  CHECK_EQ(h.max(), uint64_t(1000));
  Histogram slow(1, 1000, 3);
  record_corrected_naive(slow, 4100, 1500);
  CHECK(same_contents(h, slow));

  // A stall of 2^53 - 1 at interval 7 stays O(buckets): floor(v / 7) samples, the smallest
  // v % 7 + 7, those above highest in overflow.
  Histogram big(1, 1000000, 3);
  const uint64_t v = Histogram::kMaxHighest, r = v % 7;
  big.record_corrected(v, 7);
  CHECK_EQ(big.count(), v / 7);
  CHECK_EQ(big.overflow(), v / 7 - (1000000 - r) / 7);
  CHECK_EQ(big.min(), r + 7);
  CHECK_EQ(big.max(), uint64_t(1000000));

  // Random layouts, values and intervals around highest (interval 0, == v, > highest + 1,
  // v and interval both above highest), kept small enough for the naive loop.
  bool ok = true;
  XorShift32 rng{1729};
  int k = 0;
  for (; k < 20000 && ok; ++k) {
    const uint64_t lowest = 1 + rng.next() % (k % 4 == 0 ? 100 : 3);
    const uint64_t highest = 2 * lowest + rng.next() % 5000;
    const uint32_t digits = 1 + rng.next() % 3;
    const uint64_t v = rng.next() % (4 * highest + 10);
    uint64_t interval;
    switch (rng.next() % 6) {
      case 0: interval = 0; break;
      case 1: interval = v; break;
      case 2: interval = highest + 2 + rng.next() % (2 * highest); break;
      case 3: interval = highest - 2 + rng.next() % 5; break;
      default: interval = 1 + rng.next() % (highest / 4 + 1); break;
    }
    Histogram fast(lowest, highest, digits), naive(lowest, highest, digits);
    fast.record_corrected(v, interval);
    record_corrected_naive(naive, v, interval);
    std::vector<uint64_t> ef, en;
    fast.encode(ef);
    naive.encode(en);
    ok &= same_contents(fast, naive) && ef == en &&
          fast.value_at_percentile(50) == naive.value_at_percentile(50) &&
          fast.value_at_percentile(99) == naive.value_at_percentile(99);
    if (!ok)
      std::fprintf(stderr, "record_corrected(%" PRIu64 ", %" PRIu64 ") in (%" PRIu64 ", %" PRIu64 ", %u): count %" PRIu64
                   " vs %" PRIu64 "\n", v, interval, lowest, highest, digits, fast.count(), naive.count());
  }
  CHECK(ok);
  CHECK_EQ(k, 20000);
}

void test_hist_merge() {
  Histogram all(1, 60000000, 3), a(1, 60000000, 3), b(1, 60000000, 3);
  XorShift32 rng{5};
  for (int k = 0; k < 50000; ++k) {
    const uint64_t v = 1 + rng.next() % 70000000;
    all.record(v);
    (k % 3 ? a : b).record(v);
  }
  CHECK(a.merge(b) == HistStatus::kOk);
  CHECK(same_contents(a, all));
  CHECK_EQ(a.value_at_percentile(99.9), all.value_at_percentile(99.9));
  Histogram other(1, 60000000, 2);
  CHECK(a.merge(other) == HistStatus::kLayoutMismatch);
  Histogram other2(2, 60000000, 3);
  CHECK(a.merge(other2) == HistStatus::kLayoutMismatch);
  Histogram empty(1, 60000000, 3);
  CHECK(a.merge(empty) == HistStatus::kOk);
  CHECK(same_contents(a, all));
  CHECK(empty.merge(all) == HistStatus::kOk);
  CHECK(same_contents(empty, all));
}

void test_hist_encoding() {
  Histogram h(1, 60000000, 3);
  XorShift32 rng{77};
  for (int k = 0; k < 1000; ++k) h.record(rng.next() % 80000000);
  std::vector<uint64_t> enc;
  h.encode(enc);
  CHECK_EQ(enc[0], uint64_t(1));
  CHECK_EQ(enc[1], uint64_t(60000000));
  CHECK_EQ(enc[2], uint64_t(3));
  CHECK_EQ(enc[3], uint64_t(1000));
  std::vector<uint64_t> pairs;
  CHECK_EQ(h.serialize_sparse(pairs) * 2 + Histogram::kHeaderFields, enc.size());
  std::optional<Histogram> back;
  CHECK(Histogram::decode(enc.data(), enc.size(), back) == HistStatus::kOk);
  CHECK(back.has_value() && same_contents(*back, h));

  Histogram empty(1, 1000, 1);
  std::vector<uint64_t> e;
  empty.encode(e);
  CHECK_EQ(e.size(), Histogram::kHeaderFields);
  std::optional<Histogram> eb;
  CHECK(Histogram::decode(e.data(), e.size(), eb) == HistStatus::kOk);
  CHECK(eb.has_value() && eb->count() == 0);

  auto corrupt = [&](auto mutate) {
    std::vector<uint64_t> c = enc;
    mutate(c);
    std::optional<Histogram> o;
    return Histogram::decode(c.data(), c.size(), o) != HistStatus::kOk && !o.has_value();
  };
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[3] += 1; }));                         // count != sum
  CHECK(corrupt([](std::vector<uint64_t>& c) { c.pop_back(); }));                      // odd length
  CHECK(corrupt([](std::vector<uint64_t>& c) { std::swap(c[7], c[9]); }));             // unordered
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[c.size() - 2] = 17408; }));           // index past end
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[4] = c[5]; }));                       // min not in first bucket
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[2] = 9; }));                          // digits
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[6] = c[3] + 1; }));                   // overflow > count
  CHECK(corrupt([](std::vector<uint64_t>& c) { c[8] = 0; }));                          // zero count pair
}

// ----- Cross-language fixture ----------------------------------------------------------------

// The value sequence test/histogram.test.ts regenerates bit for bit.
uint64_t fixture_value(XorShift32& rng) {
  const uint32_t r = rng.next();
  uint64_t v = 1 + r % 50000;
  if (r % 97 == 0) v *= 1000;
  if (r % 1009 == 0) v = 70000000;
  return v;
}

std::string to_json(const Histogram& h) {
  std::string s;
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "{\"lowest\":%" PRIu64 ",\"highest\":%" PRIu64 ",\"digits\":%u,\"count\":%" PRIu64 ",\"min\":%" PRIu64
                ",\"max\":%" PRIu64 ",\"overflow\":%" PRIu64 ",\"buckets\":[",
                h.lowest(), h.highest(), h.digits(), h.count(), h.min(), h.max(), h.overflow());
  s += buf;
  std::vector<uint64_t> pairs;
  h.serialize_sparse(pairs);
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%" PRIu64, i ? "," : "", pairs[i]);
    s += buf;
  }
  s += "]}";
  return s;
}

// FNV-1a over the flat encoding, each word as two little-endian 32-bit halves.
uint32_t digest(const Histogram& h) {
  std::vector<uint64_t> enc;
  h.encode(enc);
  uint32_t x = 2166136261u;
  for (uint64_t w : enc) {
    for (uint32_t half : {uint32_t(w), uint32_t(w >> 32)}) {
      x ^= half;
      x *= 16777619u;
    }
  }
  return x;
}

Histogram small_fixture() {
  Histogram h(1, 60000000, 3);
  XorShift32 rng{7};
  for (int k = 0; k < 12; ++k) h.record(fixture_value(rng));
  h.record(70000000);
  h.record_corrected(25000, 10000);
  return h;
}

Histogram large_fixture() {
  Histogram h(1, 60000000, 3);
  XorShift32 rng{12345};
  for (int k = 0; k < 100000; ++k) h.record(fixture_value(rng));
  return h;
}

// record_corrected with intervals of every kind around highest (0, == v, above highest + 1,
// below highest); with naive = true the same samples go through the plain loop instead.
Histogram corrected_fixture(bool naive) {
  Histogram h(2, 5000, 2);
  XorShift32 rng{99};
  for (int k = 0; k < 500; ++k) {
    const uint64_t v = rng.next() % 24000;
    const uint32_t kind = rng.next() % 4;
    const uint64_t r = rng.next();
    const uint64_t interval = kind == 0 ? 0 : kind == 1 ? v : kind == 2 ? 5002 + r % 5000 : 1 + r % 3000;
    if (naive) record_corrected_naive(h, v, interval);
    else h.record_corrected(v, interval);
  }
  return h;
}

// Expected values, also hard-coded in test/histogram.test.ts.
const char* const kSmallJson =
    "{\"lowest\":1,\"highest\":60000000,\"digits\":3,\"count\":15,\"min\":5157,\"max\":60000000,\"overflow\":1,"
    "\"buckets\":[3337,1,3425,1,4167,1,4947,1,5215,1,5622,1,5658,1,6005,1,6336,1,6346,1,6352,1,6397,1,6444,1,"
    "6450,1,17191,1]}";
constexpr uint32_t kLargeDigest = 115944130u;
constexpr uint32_t kCorrectedDigest = 3046518349u;  // corrected_fixture(): count 7373, overflow 5076

void print_fixture() {
  const Histogram s = small_fixture();
  std::printf("small json: %s\n", to_json(s).c_str());
  const Histogram l = large_fixture();
  std::printf("large: count %" PRIu64 " min %" PRIu64 " max %" PRIu64 " overflow %" PRIu64 " digest %u\n", l.count(),
              l.min(), l.max(), l.overflow(), digest(l));
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
    std::printf("large p%g = %" PRIu64 "\n", p, l.value_at_percentile(p));
  std::printf("large mean %.17g stddev %.17g\n", l.mean(), l.stddev());
  std::printf("small p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64 " mean %.17g stddev %.17g\n",
              s.value_at_percentile(50), s.value_at_percentile(90), s.value_at_percentile(99), s.mean(), s.stddev());
}

void print_corrected_fixture() {
  const Histogram c = corrected_fixture(false);
  std::printf("corrected: count %" PRIu64 " min %" PRIu64 " max %" PRIu64 " overflow %" PRIu64 " digest %u\n",
              c.count(), c.min(), c.max(), c.overflow(), digest(c));
  std::printf("corrected p10 %" PRIu64 " p25 %" PRIu64 " p50 %" PRIu64 " mean %.17g stddev %.17g\n",
              c.value_at_percentile(10), c.value_at_percentile(25), c.value_at_percentile(50), c.mean(), c.stddev());
}

void test_hist_fixture() {
  const std::string json = to_json(small_fixture());
  CHECK(json == kSmallJson);
  if (json != kSmallJson) std::fprintf(stderr, "small fixture json: %s\n", json.c_str());
  const Histogram l = large_fixture();
  CHECK_EQ(digest(l), kLargeDigest);

  // The corrected fixture equals the naive loop's and the figures test/histogram.test.ts
  // hard-codes for the TypeScript twin.
  const Histogram c = corrected_fixture(false);
  CHECK(same_contents(c, corrected_fixture(true)));
  CHECK_EQ(digest(c), kCorrectedDigest);
  CHECK_EQ(c.count(), uint64_t(7373));
  CHECK_EQ(c.overflow(), uint64_t(5076));
  CHECK_EQ(c.min(), uint64_t(7));
  CHECK_EQ(c.value_at_percentile(10), uint64_t(1719));
  CHECK_EQ(c.value_at_percentile(25), uint64_t(4047));
  CHECK_EQ(c.mean(), 4246.4429675844294);
  CHECK_EQ(c.stddev(), 1381.7344944348251);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--fixture") == 0) {
    print_fixture();
    print_corrected_fixture();
    return 0;
  }
  test_wheel_basic();
  test_wheel_touch_is_lazy();
  test_wheel_disarm();
  test_wheel_long_timeout_and_catch_up();
  test_wheel_callback_reentry();
  test_wheel_against_model();
  bench_wheel();
  test_hist_params();
  test_hist_layout();
  test_hist_percentiles();
  test_hist_overflow_and_reset();
  test_hist_corrected();
  test_hist_corrected_above_highest();
  test_hist_merge();
  test_hist_encoding();
  test_hist_fixture();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
