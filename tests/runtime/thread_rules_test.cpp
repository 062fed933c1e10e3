// The ABI's thread rules (abi.h): a host function reserved for the node's own
// thread, called from another thread, is refused with an ERROR naming it
// (before, it ran, racing the node's thread when it was not joined at once).
#include <weir_test.hpp>

#include <gtest/gtest.h>

namespace weir::testing {
namespace {

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

struct Rule {
  const char* call;
  const char* result;  // what the call returned to the plugin ("0" for the ones without a result)
};

void PrintTo(const Rule& rule, std::ostream* out) { *out << rule.call; }

class ThreadRules : public ::testing::TestWithParam<Rule> {};

TEST_P(ThreadRules, ANodeThreadFunctionFromAnotherThreadIsRefused) {
  const Rule& rule = GetParam();
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = 300\n"
                                         "[nodes.mid]\nplugin = \"test_wrong_thread\"\ncall = \"" + std::string(rule.call) +
                                             "\"\ninputs = [\"src\"]\n"
                                             "[nodes.out]\nplugin = \"test_sink\"\npath = \"" + dir.file("out") +
                                             "\"\ninputs = [\"mid\"]\n");
  auto r = run_weir("run " + file, kEnv);
  EXPECT_NE(r.err.find("[mid] host->" + std::string(rule.call) + " called from another thread than the node's own: refused"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("from another thread: " + std::string(rule.call) + " -> " + rule.result), std::string::npos) << r.err;
  // Refused means nothing happened: every record passes once, none more, none to the error port.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(read_file(dir.file("out"))), 300u);
  EXPECT_EQ(r.err.find("rejected"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(EveryEnforcedRule, ThreadRules,
                         ::testing::Values(Rule{"output_port", "-1"}, Rule{"emit", "-1"}, Rule{"forward", "-1"}, Rule{"error", "0"},
                                           Rule{"error_n", "0"}, Rule{"set_timer", "0"}, Rule{"hold", "0"}, Rule{"release", "0"},
                                           Rule{"partitions_assigned", "0"}, Rule{"partitions_revoked", "0"}),
                         [](const ::testing::TestParamInfo<Rule>& info) { return std::string(info.param.call); });

}  // namespace
}  // namespace weir::testing
