// The same end-to-end checks against a real Kafka broker (label kafka):
//   scripts/services/kafka.sh start && source .services/kafka.env && ctest -L kafka
// Skipped, saying so, when KAFKA_BOOTSTRAP is not set.
#include "kafka_e2e.hpp"

#include <kafka_broker.hpp>

#include <algorithm>
#include <set>

namespace e2e = weir::testing::e2e;
using weir::testing::TempDir;

namespace {

using weir::testing::bootstrap;

TEST(KafkaIntegration, LoggenThroughKafkaEachRecordOnce) {
  REQUIRE_BROKER();
  std::string topic = e2e::unique_name("weir-it-lines");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  e2e::produce(bootstrap(), topic, 100, 100, dir);
  e2e::consume_all_once(bootstrap(), topic, 100, 100, dir);
}

TEST(KafkaIntegration, ABoundedRunEndsTheRulesLastBatches) {
  REQUIRE_BROKER();
  std::string topic = e2e::unique_name("weir-it-bounded");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  e2e::produce(bootstrap(), topic, 20, 45, dir);
  e2e::bounded_run_ends_the_last_batches(bootstrap(), topic, 20, 45, dir);
}

// keyed = false: kafka_sink sends whole batches to one partition in turn; the
// broker gets every line once, without a key, spread over all partitions.
TEST(KafkaIntegration, UnkeyedBatchesReachEveryPartitionEachLineOnce) {
  REQUIRE_BROKER();
  std::string topic = e2e::unique_name("weir-it-unkeyed");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  e2e::produce(bootstrap(), topic, 100, 100, dir, "keyed = false\nbatch_bytes = 100000\n");
  std::string out = dir.file("consumed.json");
  std::string file = dir.write("consume.toml", e2e::consumer_pipeline(bootstrap(), topic, e2e::unique_name("g-unkeyed"), out, true));
  weir::testing::RunResult r = weir::testing::run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<e2e::SinkLine> lines = e2e::read_sink(out);
  std::vector<std::string> got, want = e2e::loggen_lines(100, 100);
  std::set<int32_t> partitions;
  for (const e2e::SinkLine& l : lines) {
    got.push_back(l.payload);
    partitions.insert(l.partition);
    EXPECT_EQ(l.key, "") << "keyed = false sends no key";
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << "every line exactly once";
  EXPECT_EQ(partitions.size(), 4u) << "batches go to every partition in turn";
}

TEST(KafkaIntegration, SigkillMidStreamLosesNothing) {
  REQUIRE_BROKER();
  std::string topic = e2e::unique_name("weir-it-crash");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  e2e::produce(bootstrap(), topic, 200, 300, dir);
  e2e::crash_and_resume(bootstrap(), topic, 4, 200, 300, dir);
}

}  // namespace
