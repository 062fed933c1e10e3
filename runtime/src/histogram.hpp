// A lock-free latency histogram: log2 buckets split in 8, so a percentile is
// exact to within ~9%. Written by one thread, read by the metrics thread.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace weir {

class Histogram {
 public:
  static constexpr int kSub = 8;
  static constexpr int kBuckets = 64 * kSub;

  void record(uint64_t ns) {
    counts_[index(ns)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ns, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t count() const { return total_.load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  // Upper bound of the bucket holding quantile Q (0..1), in ns.
  uint64_t quantile(double q) const {
    uint64_t n = count();
    if (n == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n - 1)) + 1, seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return upper(i);
    }
    return upper(kBuckets - 1);
  }
  uint64_t bucket_count(int i) const { return counts_[i].load(std::memory_order_relaxed); }
  static uint64_t upper(int i) {
    int exp = i / kSub, sub = i % kSub;
    if (exp < 3) return static_cast<uint64_t>(i);  // tiny values are stored exactly
    return (uint64_t{1} << exp) + (static_cast<uint64_t>(sub + 1) << (exp - 3)) - 1;
  }

 private:
  static int index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    int exp = 63 - std::countl_zero(v);
    int sub = static_cast<int>((v >> (exp - 3)) & (kSub - 1));
    return exp * kSub + sub;
  }
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_{0}, total_{0};
};

}  // namespace weir
