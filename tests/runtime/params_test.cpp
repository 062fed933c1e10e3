// weir::Params (sdk.hpp): a plugin reads its parameters without restating
// their defaults; the host passes every declared one, so a missing one is a bug.
#include <weir/sdk.hpp>

#include <gtest/gtest.h>

namespace {

weir_param_value int_param(const char* name, int64_t v) {
  weir_param_value p{};
  p.name = name;
  p.type = WEIR_PARAM_INT;
  p.as.i64 = v;
  return p;
}

TEST(Params, ReadsWhatTheHostPassedWithoutAFallback) {
  weir_param_value values[] = {int_param("batch_size", 7), int_param("share", 1)};
  weir_param_value text{};
  text.name = "start";
  text.type = WEIR_PARAM_STRING;
  text.as.str = {"earliest", 8};
  weir_param_value all[] = {values[0], values[1], text};
  weir::Params p(all, 3);
  EXPECT_EQ(p.integer("batch_size"), 7);
  EXPECT_EQ(p.number("share"), 1.0);  // `share = 1` for a double parameter
  EXPECT_EQ(p.str("start"), "earliest");
}

TEST(Params, AMissingOrMistypedParameterIsABugNotADefault) {
  weir_param_value values[] = {int_param("batch_size", 7)};
  weir::Params p(values, 1);
  try {
    p.integer("linger_ms");
    FAIL() << "a parameter the host did not pass was given a value";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 'linger_ms' was not passed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.str("batch_size"), std::logic_error);
  EXPECT_THROW(p.boolean("batch_size"), std::logic_error);
  EXPECT_THROW(p.list("batch_size"), std::logic_error);
}

}  // namespace
