// Event time per input partition (runtime/src/watermarks.hpp).
#include <gtest/gtest.h>

#include "watermarks.hpp"

namespace weir {
namespace {

constexpr int64_t kS = 1'000'000'000;

WatermarkOptions options(int64_t lateness_s, bool per_partition) {
  WatermarkOptions o;
  o.allowed_lateness_ns = lateness_s < 0 ? -1 : lateness_s * kS;
  o.idle_timeout_ns = 10 * kS;
  o.max_ahead_ns = 3600 * kS;
  o.per_partition = per_partition;
  return o;
}

TEST(Watermarks, EachPartitionAdvancesOnItsOwnAndTheClockIsTheSlowestActiveOne) {
  Watermarks w(options(-1, false));
  int64_t d = 0;
  EXPECT_EQ(w.observe(0, 100 * kS, 0, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.observe(1, 40 * kS, 0, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.of(0), 100 * kS);
  EXPECT_EQ(w.of(1), 40 * kS);
  EXPECT_EQ(w.clock(1 * kS), 40 * kS) << "never ahead of a partition that is behind";
  // Partition 1 goes quiet: after idle_timeout it stops holding the clock back.
  EXPECT_EQ(w.observe(0, 130 * kS, 11 * kS, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.clock(11 * kS), 130 * kS);
  EXPECT_EQ(w.clock(11 * kS + 20 * kS), 40 * kS) << "all idle: the slowest";
  w.drop(1);
  EXPECT_EQ(w.clock(11 * kS), 130 * kS);
}

TEST(Watermarks, PerPartitionARecordIsJudgedByItsOwnPartitionsWatermark) {
  Watermarks w(options(5, true));
  int64_t d = 0;
  w.observe(0, 100 * kS, 0, d);
  w.observe(1, 10 * kS, 0, d);
  EXPECT_EQ(w.observe(1, 8 * kS, 0, d), Watermarks::Verdict::kOnTime) << "within the allowed 5 s";
  EXPECT_EQ(w.observe(1, 4 * kS, 0, d), Watermarks::Verdict::kLate);
  EXPECT_EQ(d, 6 * kS);
  EXPECT_EQ(w.of(1), 10 * kS) << "a late record moves nothing";
  EXPECT_EQ(w.observe(0, 96 * kS, 0, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.observe(0, 94 * kS, 0, d), Watermarks::Verdict::kLate);
}

TEST(Watermarks, GlobalStateJudgesByTheNodesClock) {
  Watermarks w(options(0, false));
  int64_t d = 0;
  w.observe(0, 100 * kS, 0, d);
  w.observe(1, 10 * kS, 0, d);
  // Behind partition 0, but not behind the clock (partition 1 holds it at 10 s).
  EXPECT_EQ(w.observe(0, 50 * kS, 0, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.observe(1, 9 * kS, 0, d), Watermarks::Verdict::kLate);
}

TEST(Watermarks, AFarFutureRecordDoesNotMoveTime) {
  Watermarks w(options(0, true));
  int64_t d = 0;
  w.observe(0, 100 * kS, 0, d);
  EXPECT_EQ(w.observe(0, (100 + 365 * 86400) * kS, 0, d), Watermarks::Verdict::kTooFarAhead);
  EXPECT_EQ(w.of(0), 100 * kS);
  EXPECT_EQ(w.observe(0, 101 * kS, 0, d), Watermarks::Verdict::kOnTime) << "later records are not late";
}

TEST(Watermarks, UnknownEventTimesAreNeverLateAndMoveNothing) {
  Watermarks w(options(0, true));
  int64_t d = 0;
  w.observe(0, 100 * kS, 0, d);
  EXPECT_EQ(w.observe(0, 0, 0, d), Watermarks::Verdict::kOnTime);
  EXPECT_EQ(w.of(0), 100 * kS);
}

TEST(Watermarks, EntriesAreWhatTheNodesSnapshotShows) {
  Watermarks w(options(0, true));
  int64_t d = 0;
  w.observe(3, 7 * kS, 0, d);
  w.observe(3, 1 * kS, 0, d);  // late
  w.observe(1, 2 * kS, 0, d);
  auto entries = w.entries(0);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].partition, 1);  // by partition number
  EXPECT_EQ(entries[1].partition, 3);
  EXPECT_EQ(entries[1].watermark_ns, 7 * kS);
  EXPECT_EQ(entries[1].late, 1u);
  EXPECT_EQ(w.clock(0), 2 * kS);
}

}  // namespace
}  // namespace weir
