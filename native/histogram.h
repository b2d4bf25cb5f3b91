// HDR latency histogram: HdrHistogram's log-linear bucket layout with explicit range and
// precision, mergeable across processes, serialized in a sparse form that src/metrics/histogram.ts
// reads and writes with the same bucket math.
#pragma once
#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace c1m {

enum class HistStatus : uint8_t {
  kOk,
  kBadLowest,       // lowest < 1
  kBadHighest,      // highest < 2 * lowest, above kMaxHighest, or too many bits for the layout
  kBadDigits,       // digits outside 1..5
  kLayoutMismatch,  // merge of histograms with different (lowest, highest, digits)
  kCorrupt,         // decode found an inconsistent encoding
};

// Short name of a status, for error messages.
inline const char* hist_status_name(HistStatus s) {
  switch (s) {
    case HistStatus::kOk: return "ok";
    case HistStatus::kBadLowest: return "lowest must be >= 1";
    case HistStatus::kBadHighest: return "highest must be >= 2 * lowest and <= 2^53 - 1";
    case HistStatus::kBadDigits: return "digits must be 1..5";
    case HistStatus::kLayoutMismatch: return "histogram layouts differ (lowest, highest, digits)";
    case HistStatus::kCorrupt: return "corrupt histogram encoding";
  }
  return "unknown";
}

// Counts of uint64 values in HdrHistogram's classic layout.
//
// Layout (identical to HdrHistogram, and to src/metrics/histogram.ts):
//   unit_magnitude      = floor(log2(lowest))
//   sub_bucket_count    = 2^ceil(log2(2 * 10^digits)), half of it is sub_bucket_half_count
//   bucket b covers values with (bit length - unit_magnitude - log2(sub_bucket_count)) == b
//   (bucket 0 also holds everything smaller), each in sub_bucket_half_count steps of
//   2^(b + unit_magnitude); counts_len = (bucket_count + 1) * sub_bucket_half_count.
// Every value and count is an exact JavaScript number because highest is capped at 2^53 - 1.
//
// Semantics shared with the TypeScript side:
// - Values above highest are recorded as highest and also counted in overflow(), so they move
//   percentiles to the top instead of vanishing.
// - min() and max() are the exact extreme recorded values (0 when empty).
// - value_at_percentile(p): p <= 0 gives min(), p >= 100 gives max(); otherwise p is rounded to
//   a multiple of 1e-7 percent, rank = max(1, ceil(p / 100 * count)) is computed in exact
//   integer arithmetic, and the answer is the highest value equivalent to the bucket where the
//   cumulative count first reaches rank, capped at max().
// - mean() and stddev() use each bucket's median-equivalent value, summed in double precision
//   in ascending index order, exactly as HdrHistogram does (same order on both sides, so the
//   same bits).
class Histogram {
 public:
  static constexpr uint64_t kMaxHighest = (uint64_t(1) << 53) - 1;
  // Fields before the [index, count] pairs in encode(): lowest, highest, digits, count, min,
  // max, overflow.
  static constexpr size_t kHeaderFields = 7;

  // Checks constructor arguments; the constructor requires kOk.
  static HistStatus check_params(uint64_t lowest, uint64_t highest, uint32_t digits) {
    if (lowest < 1) return HistStatus::kBadLowest;
    if (digits < 1 || digits > 5) return HistStatus::kBadDigits;
    if (highest > kMaxHighest || highest / 2 < lowest) return HistStatus::kBadHighest;
    if (unit_magnitude_of(lowest) + sub_bucket_count_magnitude_of(digits) > 62) return HistStatus::kBadHighest;
    return HistStatus::kOk;
  }

  // Creates an empty histogram for values lowest..highest at `digits` significant digits.
  Histogram(uint64_t lowest, uint64_t highest, uint32_t digits)
      : lowest_(lowest), highest_(highest), digits_(digits) {
    assert(check_params(lowest, highest, digits) == HistStatus::kOk);
    unit_magnitude_ = unit_magnitude_of(lowest);
    sub_bucket_count_magnitude_ = sub_bucket_count_magnitude_of(digits);
    sub_bucket_half_count_magnitude_ = sub_bucket_count_magnitude_ - 1;
    sub_bucket_count_ = uint32_t(1) << sub_bucket_count_magnitude_;
    sub_bucket_half_count_ = sub_bucket_count_ / 2;
    uint64_t smallest_untrackable = uint64_t(sub_bucket_count_) << unit_magnitude_;
    bucket_count_ = 1;
    while (smallest_untrackable <= highest) {
      smallest_untrackable <<= 1;
      ++bucket_count_;
    }
    counts_.assign(size_t(bucket_count_ + 1) * sub_bucket_half_count_, 0);
    highest_index_ = index_of(highest);
  }

  // --- Layout -------------------------------------------------------------------------------

  uint64_t lowest() const { return lowest_; }
  uint64_t highest() const { return highest_; }
  uint32_t digits() const { return digits_; }
  uint32_t sub_bucket_count() const { return sub_bucket_count_; }
  uint32_t bucket_count() const { return bucket_count_; }
  size_t counts_len() const { return counts_.size(); }

  // True if other has the same (lowest, highest, digits), so counts add index by index.
  bool same_layout(const Histogram& other) const {
    return lowest_ == other.lowest_ && highest_ == other.highest_ && digits_ == other.digits_;
  }

  // Bytes owned by this instance (the object plus its counts array).
  size_t memory_bytes() const { return sizeof(*this) + counts_.capacity() * sizeof(uint64_t); }

  // Index in the counts array of a value <= highest.
  size_t index_of(uint64_t v) const {
    int bucket = int(std::bit_width(v)) - int(unit_magnitude_) - int(sub_bucket_count_magnitude_);
    if (bucket < 0) bucket = 0;
    const uint64_t sub = v >> (uint32_t(bucket) + unit_magnitude_);
    return (size_t(bucket + 1) << sub_bucket_half_count_magnitude_) + size_t(sub) - sub_bucket_half_count_;
  }

  // Lowest value that maps to counts index i.
  uint64_t value_from_index(size_t i) const {
    int bucket = int(i >> sub_bucket_half_count_magnitude_) - 1;
    uint64_t sub = (i & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
    if (bucket < 0) {
      sub -= sub_bucket_half_count_;
      bucket = 0;
    }
    return sub << (uint32_t(bucket) + unit_magnitude_);
  }

  // Number of distinct values that map to counts index i.
  uint64_t range_at_index(size_t i) const {
    int bucket = int(i >> sub_bucket_half_count_magnitude_) - 1;
    if (bucket < 0) bucket = 0;
    return uint64_t(1) << (uint32_t(bucket) + unit_magnitude_);
  }

  // Smallest value equivalent to v (same counts index).
  uint64_t lowest_equivalent(uint64_t v) const { return value_from_index(index_of(v)); }

  // Largest value equivalent to v (same counts index).
  uint64_t highest_equivalent(uint64_t v) const {
    const size_t i = index_of(v);
    return value_from_index(i) + range_at_index(i) - 1;
  }

  // Count stored at counts index i.
  uint64_t count_at_index(size_t i) const { return counts_[i]; }

  // --- Recording ----------------------------------------------------------------------------

  // Records one value; a value above highest is recorded as highest and counted in overflow.
  void record(uint64_t v) { record_count(v, 1); }

  // Records value v n times.
  void record_count(uint64_t v, uint64_t n) {
    if (n == 0) return;
    if (v > highest_) {
      v = highest_;
      overflow_ += n;
    }
    counts_[index_of(v)] += n;
    count_ += n;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }

  // Records v, plus the samples a stalled closed-loop client failed to send: v - k*interval for
  // k = 1, 2, ... while that is >= interval (HdrHistogram's recordValueWithExpectedInterval).
  // Runs of synthetic values are added per bucket, so a long stall costs O(buckets), not
  // O(v / interval).
  void record_corrected(uint64_t v, uint64_t interval) {
    record(v);
    if (interval == 0 || v <= interval) return;
    uint64_t m = v - interval;  // largest synthetic value still to record
    while (m >= interval) {
      uint64_t n;
      if (m > highest_) {
        // How many of m, m - interval, ... exceed highest, bounded by how many stay >= interval
        // (m / interval of them): with interval > highest + 1 the first bound alone runs below
        // interval and m -= n * interval wraps.
        n = std::min((m - (highest_ + 1)) / interval + 1, m / interval);
        record_count(highest_, n);
        overflow_ += n;
      } else {
        const uint64_t lo = lowest_equivalent(m) > interval ? lowest_equivalent(m) : interval;
        n = (m - lo) / interval + 1;  // how many fall in m's bucket (and stay >= interval)
        counts_[index_of(m)] += n;
        count_ += n;
        const uint64_t smallest = m - (n - 1) * interval;
        if (smallest < min_) min_ = smallest;
        if (m > max_) max_ = m;
      }
      m -= n * interval;
    }
  }

  // Adds other's counts to this one; other must have the same layout.
  HistStatus merge(const Histogram& other) {
    if (!same_layout(other)) return HistStatus::kLayoutMismatch;
    if (other.count_ == 0) return HistStatus::kOk;
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    overflow_ += other.overflow_;
    if (other.min_ < min_) min_ = other.min_;
    if (other.max_ > max_) max_ = other.max_;
    return HistStatus::kOk;
  }

  // Clears all counts, keeping the layout.
  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = overflow_ = max_ = 0;
    min_ = UINT64_MAX;
  }

  // --- Statistics ---------------------------------------------------------------------------

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  // Values that were above highest (also included in count(), recorded as highest).
  uint64_t overflow() const { return overflow_; }

  // Value at percentile p (0..100) as defined in the class comment; 0 when empty.
  uint64_t value_at_percentile(double p) const {
    if (count_ == 0) return 0;
    if (!(p > 0.0)) return min();
    if (p >= 100.0) return max_;
    const uint64_t rank = rank_for(p, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const uint64_t v = value_from_index(i) + range_at_index(i) - 1;
        return v < max_ ? v : max_;
      }
    }
    return max_;
  }

  // Mean of the bucket median-equivalent values; 0 when empty.
  double mean() const {
    if (count_ == 0) return 0.0;
    double total = 0.0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] != 0) total += double(median_at_index(i)) * double(counts_[i]);
    }
    return total / double(count_);
  }

  // Population standard deviation of the bucket median-equivalent values; 0 when empty.
  double stddev() const {
    if (count_ == 0) return 0.0;
    const double mu = mean();
    double total = 0.0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const double dev = double(median_at_index(i)) - mu;
      total += (dev * dev) * double(counts_[i]);
    }
    return std::sqrt(total / double(count_));
  }

  // Exact integer rank for percentile p in (0, 100): max(1, ceil(round(p * 1e7) * count / 1e9)).
  static uint64_t rank_for(double p, uint64_t count) {
    const uint64_t q = uint64_t(std::llround(p * 1e7));  // parts per 10^9
    __extension__ typedef unsigned __int128 u128;
    const u128 prod = u128(count) * q;
    const uint64_t rank = uint64_t((prod + 999999999u) / 1000000000u);
    return rank == 0 ? 1 : rank;
  }

  // --- Serialization ------------------------------------------------------------------------

  // Appends [index, count, index, count, ...] for every non-zero count, ascending; returns pairs.
  size_t serialize_sparse(std::vector<uint64_t>& out) const {
    size_t pairs = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      out.push_back(i);
      out.push_back(counts_[i]);
      ++pairs;
    }
    return pairs;
  }

  // Appends the flat encoding: lowest, highest, digits, count, min, max, overflow, then pairs.
  void encode(std::vector<uint64_t>& out) const {
    out.reserve(out.size() + kHeaderFields + 64);
    out.push_back(lowest_);
    out.push_back(highest_);
    out.push_back(digits_);
    out.push_back(count_);
    out.push_back(min());
    out.push_back(max_);
    out.push_back(overflow_);
    serialize_sparse(out);
  }

  // Rebuilds a histogram from encode()'s output (n words at data); out is set only on kOk.
  static HistStatus decode(const uint64_t* data, size_t n, std::optional<Histogram>& out) {
    if (n < kHeaderFields || (n - kHeaderFields) % 2 != 0) return HistStatus::kCorrupt;
    if (data[2] > 5) return HistStatus::kBadDigits;
    const HistStatus st = check_params(data[0], data[1], uint32_t(data[2]));
    if (st != HistStatus::kOk) return st;
    Histogram h(data[0], data[1], uint32_t(data[2]));
    const uint64_t count = data[3], min = data[4], max = data[5], overflow = data[6];
    uint64_t total = 0;
    size_t first = SIZE_MAX, last = 0;
    for (size_t k = kHeaderFields; k < n; k += 2) {
      const uint64_t i = data[k], c = data[k + 1];
      if (i > h.highest_index_ || c == 0) return HistStatus::kCorrupt;
      if (first != SIZE_MAX && i <= last) return HistStatus::kCorrupt;
      if (first == SIZE_MAX) first = size_t(i);
      last = size_t(i);
      h.counts_[size_t(i)] = c;
      if (total + c < total) return HistStatus::kCorrupt;
      total += c;
    }
    if (total != count || overflow > count) return HistStatus::kCorrupt;
    if (count == 0) {
      if (min != 0 || max != 0) return HistStatus::kCorrupt;
    } else {
      if (min > max || max > h.highest_) return HistStatus::kCorrupt;
      if (h.index_of(min) != first || h.index_of(max) != last) return HistStatus::kCorrupt;
      if (overflow > 0 && max != h.highest_) return HistStatus::kCorrupt;
      h.min_ = min;
      h.max_ = max;
    }
    h.count_ = count;
    h.overflow_ = overflow;
    out.emplace(std::move(h));
    return HistStatus::kOk;
  }

 private:
  static uint32_t unit_magnitude_of(uint64_t lowest) { return uint32_t(std::bit_width(lowest)) - 1; }

  // Smallest m with 2^m >= 2 * 10^digits, by integer arithmetic (no floating-point log).
  static uint32_t sub_bucket_count_magnitude_of(uint32_t digits) {
    uint64_t largest_single_unit = 2;
    for (uint32_t d = 0; d < digits; ++d) largest_single_unit *= 10;
    return uint32_t(std::bit_width(largest_single_unit - 1));
  }

  uint64_t median_at_index(size_t i) const { return value_from_index(i) + (range_at_index(i) >> 1); }

  uint64_t lowest_;
  uint64_t highest_;
  uint32_t digits_;
  uint32_t unit_magnitude_ = 0;
  uint32_t sub_bucket_count_magnitude_ = 0;
  uint32_t sub_bucket_half_count_magnitude_ = 0;
  uint32_t sub_bucket_count_ = 0;
  uint32_t sub_bucket_half_count_ = 0;
  uint32_t bucket_count_ = 0;
  size_t highest_index_ = 0;
  uint64_t count_ = 0;
  uint64_t overflow_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  std::vector<uint64_t> counts_;
};

}  // namespace c1m
