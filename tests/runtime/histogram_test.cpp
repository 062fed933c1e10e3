#include "histogram.hpp"

#include <gtest/gtest.h>

namespace weir {
namespace {

TEST(Histogram, QuantilesAreWithinTheBucketError) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms, uniform
  double p50 = static_cast<double>(h.quantile(0.5)), p99 = static_cast<double>(h.quantile(0.99));
  EXPECT_NEAR(p50, 50e6, 50e6 * 0.13);
  EXPECT_NEAR(p99, 99e6, 99e6 * 0.13);
  EXPECT_EQ(h.count(), 100000u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  h.record(3);
  EXPECT_EQ(h.quantile(1.0), 3u);
}

}  // namespace
}  // namespace weir
