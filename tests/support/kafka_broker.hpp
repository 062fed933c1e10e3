// Tests against a real Kafka broker: scripts/test.sh starts one and sets
// KAFKA_BOOTSTRAP; without it such a test is skipped, not failed.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace weir::testing {

inline std::string bootstrap() {
  const char* b = std::getenv("KAFKA_BOOTSTRAP");
  return b ? b : "";
}

}  // namespace weir::testing

#define REQUIRE_BROKER()                                                                                  \
  if (::weir::testing::bootstrap().empty())                                                               \
  GTEST_SKIP() << "KAFKA_BOOTSTRAP is not set: start a broker with scripts/services/kafka.sh start, then " \
                  "`source .services/kafka.env`"
