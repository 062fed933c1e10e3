// The same end-to-end checks against a real Kafka broker (label kafka):
//   scripts/services/kafka.sh start && source .services/kafka.env && ctest -L kafka
// Skipped, saying so, when KAFKA_BOOTSTRAP is not set.
#include "kafka_e2e.hpp"

namespace e2e = weir::testing::e2e;
using weir::testing::TempDir;

namespace {

std::string bootstrap() {
  const char* b = std::getenv("KAFKA_BOOTSTRAP");
  return b ? b : "";
}

#define REQUIRE_BROKER()                                                                                  \
  if (bootstrap().empty())                                                                                \
  GTEST_SKIP() << "KAFKA_BOOTSTRAP is not set: start a broker with scripts/services/kafka.sh start, then " \
                  "`source .services/kafka.env`"

TEST(KafkaIntegration, LoggenThroughKafkaEachRecordOnce) {
  REQUIRE_BROKER();
  std::string topic = e2e::unique_name("weir-it-lines");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  e2e::produce(bootstrap(), topic, 100, 100, dir);
  e2e::consume_all_once(bootstrap(), topic, 100, 100, dir);
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
