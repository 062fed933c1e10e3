// The real `weir` binary against librdkafka's mock cluster (which listens on a
// loopback port of this test process): the shipped pipeline, a full
// produce/consume round trip and the SIGKILL crash test, no broker needed.
#include "kafka_e2e.hpp"

namespace e2e = weir::testing::e2e;
using weir::testing::MockCluster;
using weir::testing::TempDir;

namespace {

TEST(KafkaPipeline, ExamplesValidate) {
  for (const char* f : {"/plugins/kafka_source/example.toml", "/plugins/kafka_sink/example.toml", "/pipelines/smartcar-loggen.toml"}) {
    auto r = weir::testing::run_weir("validate " + std::string(WEIR_SOURCE_DIR) + f);
    EXPECT_EQ(r.exit_code, 0) << f << ": " << r.err;
  }
}

// pipelines/smartcar-loggen.toml, shortened: SmartCar-Topic gets one line per car per second, keyed by car.
TEST(KafkaPipeline, SmartCarLoggenPipeline) {
  MockCluster mc;
  mc.create_topic("SmartCar-Topic", 4);
  auto r = weir::testing::run_weir("run " + std::string(WEIR_SOURCE_DIR) +
                                       "/pipelines/smartcar-loggen.toml --set cars.seconds=5 --set cars.rate=0 --no-progress",
                                   "KAFKA_BOOTSTRAP=" + mc.bootstraps());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto msgs = mc.read_all("SmartCar-Topic", 4, 500);
  ASSERT_EQ(msgs.size(), 500u);
  for (auto& m : msgs) EXPECT_EQ(m.key, m.value.substr(15, 5));
}

TEST(KafkaPipeline, LoggenThroughKafkaEachRecordOnce) {
  MockCluster mc;
  mc.create_topic("lines", 4);
  TempDir dir;
  e2e::produce(mc.bootstraps(), "lines", 50, 40, dir);
  e2e::consume_all_once(mc.bootstraps(), "lines", 50, 40, dir);
}

TEST(KafkaPipeline, ABoundedRunEndsTheRulesLastBatches) {
  MockCluster mc;
  mc.create_topic("bounded", 4);
  TempDir dir;
  e2e::produce(mc.bootstraps(), "bounded", 20, 45, dir);
  e2e::bounded_run_ends_the_last_batches(mc.bootstraps(), "bounded", 20, 45, dir);
}

TEST(KafkaPipeline, SigkillMidStreamLosesNothing) {
  MockCluster mc;
  mc.create_topic("crash", 4);
  TempDir dir;
  e2e::produce(mc.bootstraps(), "crash", 100, 1000, dir);
  e2e::crash_and_resume(mc.bootstraps(), "crash", 4, 100, 1000, dir);
}

}  // namespace
