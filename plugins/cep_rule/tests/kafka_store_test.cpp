// The rule store against a real Kafka broker (label kafka):
//   scripts/services/kafka.sh start && source .services/kafka.env && ctest -L kafka
// Skipped, saying so, when KAFKA_BOOTSTRAP is not set.
//
//  * weir-rules put/get/list on a fresh topic (created compacted), a rule with
//    an error refused with its position and not published;
//  * two cep_rule nodes (FakeHosts) in one process share one reader of the
//    topic; one is ahead of the other when a new version is put; both switch
//    at its effective time; a bad version written past the CLI is logged once
//    and the previous version stays;
//  * the smart-car rule through `weir run` (loggen -> csv_decode -> cep_rule):
//    exactly the rows of one threshold before the new version's time and those
//    of the other after it.
#include "kafka_rule_store.hpp"
#include "rule_store_fixture.hpp"

#include <kafka_broker.hpp>
#include <weir_test.hpp>

#include <chrono>
#include <regex>
#include <set>
#include <thread>

using weir::testing::TempDir;
using namespace weir::testing::rules;
namespace st = weir::cep::store;

namespace {

using weir::testing::bootstrap;

std::string unique_topic(const std::string& base) {
  return base + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

// `weir-rules ARGS --brokers $KAFKA_BOOTSTRAP --topic TOPIC`.
weir::testing::RunResult rules_cli(const std::string& args, const std::string& topic) {
  TempDir tmp;
  std::string cmd = std::string(WEIR_RULES_BINARY) + " " + args + " --brokers " + bootstrap() + " --topic " + topic + " >" +
                    tmp.file("out") + " 2>" + tmp.file("err");
  weir::testing::RunResult r;
  int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = weir::testing::read_file(tmp.file("out"));
  r.err = weir::testing::read_file(tmp.file("err"));
  return r;
}

// Waits until the process's reader of the topic holds `n` versions.
void wait_for_versions(const std::string& topic, size_t n) {
  auto source = st::rule_source(bootstrap(), topic, {});
  for (int i = 0; i < 300 && source->catalog()->version_count() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(source->catalog()->version_count(), n);
}

TEST(CepRuleKafka, PutGetListAndABadRuleIsRefused) {
  REQUIRE_BROKER();
  std::string topic = unique_topic("weir-it-rules");
  TempDir dir;
  std::string v80 = dir.write("overspeed.epl", rule(80)), v100 = dir.write("overspeed100.epl", rule(100));

  auto r = rules_cli("put overspeed " + v80 + " --effective-from 20220426061000", topic);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("created topic " + topic + " (cleanup.policy=compact)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("published overspeed effective from 2022-04-26 06:10:00 UTC (1650953400000), " +
                       std::to_string(rule(80).size()) + " bytes, topic " + topic + " partition 0 offset 0"),
            std::string::npos)
      << r.out;
  r = rules_cli("put overspeed " + v100 + " --effective-from 1650953445000", topic);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("created topic"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partition 0 offset 1"), std::string::npos) << r.out;

  st::TopicState state;
  ASSERT_EQ(st::describe_topic(bootstrap(), topic, {}, 10000, state), "");
  EXPECT_TRUE(state.exists);
  EXPECT_EQ(state.partitions, 1);
  EXPECT_EQ(state.cleanup_policy, "compact");

  // A rule with an error: its position, exit 2, nothing published.
  std::string bad = dir.write("bad.epl", "create variable double threshold = 80;\nselect car_number from Car#time_batch(30 sec)\n"
                                         "  group by car_number havin avg(speed) > threshold;\n");
  r = rules_cli("put overspeed " + bad + " --effective-from 20220426061100", topic);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, bad + ":3:23: expected ';' or the end of the file, found 'havin'\n"
                         "weir-rules: overspeed not published: the rule has errors\n");
  EXPECT_EQ(rules_cli("put over/speed " + v80, topic).exit_code, 2);
  EXPECT_EQ(rules_cli("put overspeed " + v80 + " --effective-from yesterday", topic).exit_code, 2);

  r = rules_cli("list", topic);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(weir::testing::count_lines(r.out), 3u) << r.out;  // the header and two versions
  EXPECT_NE(r.out.find("overspeed\t20220426061000\t1650953400000\t" + std::to_string(rule(80).size()) + "\t0\t0\t"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("overspeed\t20220426061045\t1650953445000\t" + std::to_string(rule(100).size()) + "\t0\t1\t"),
            std::string::npos)
      << r.out;

  r = rules_cli("get overspeed", topic);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, rule(100));
  EXPECT_NE(r.err.find("# overspeed: effective from 2022-04-26 06:10:45 UTC (1650953445000)"), std::string::npos) << r.err;
  r = rules_cli("get overspeed --at 20220426061044", topic);
  EXPECT_EQ(r.out, rule(80));
  r = rules_cli("get speeding", topic);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "weir-rules: no rule 'speeding' in topic '" + topic + "'\n");

  r = rules_cli("list", unique_topic("weir-it-rules-none"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the topic does not exist"), std::string::npos) << r.err;
}

TEST(CepRuleKafka, TwoNodesReadTheTopicAndSwitchAtTheSameEventTime) {
  REQUIRE_BROKER();
  std::string topic = unique_topic("weir-it-rules-switch");
  TempDir dir;
  ASSERT_EQ(rules_cli("put overspeed " + dir.write("v80.epl", rule(80)) + " --effective-from 20220426061000", topic).exit_code, 0);

  Node ahead(bootstrap(), topic, {"overspeed"}, 20000), behind(bootstrap(), topic, {"overspeed"}, 20000);
  ahead.start();
  behind.start();
  // One reader for the process: both nodes and this test hold the same one.
  auto source = st::rule_source(bootstrap(), topic, {});
  EXPECT_EQ(source.use_count(), 3);

  ahead.drive("20220426061000", "20220426061025");
  behind.drive("20220426061000", "20220426061005");
  ASSERT_EQ(rules_cli("put overspeed " + dir.write("v100.epl", rule(100)) + " --effective-from 20220426061045", topic).exit_code, 0);
  wait_for_versions(topic, 2);
  ahead.drive("20220426061030", "20220426061130");
  behind.drive("20220426061010", "20220426061130");
  const std::vector<std::string> expected = {kX, kY, kY, kY};  // 80 for :00-:30, then 100 (its batch contains 06:10:45)
  EXPECT_EQ(ahead.rows(), expected) << ahead.logs();
  EXPECT_EQ(behind.rows(), expected) << behind.logs();

  // Written past the CLI: a version that does not compile.
  int32_t partition = -1;
  int64_t offset = -1;
  st::RuleVersion bad;
  bad.name = "overspeed";
  bad.effective_from_ms = ms("20220426061145");
  bad.text = "select car_number from Car#time_batch(30 sec, 0L) havin avg(speed) > 1;\n";
  ASSERT_EQ(st::publish_version(bootstrap(), topic, {}, bad, 10000, partition, offset), "");
  wait_for_versions(topic, 3);
  ahead.drive("20220426061135", "20220426061200");
  behind.drive("20220426061135", "20220426061200");
  EXPECT_EQ(ahead.rows(), (std::vector<std::string>{kX, kY, kY, kY, kY})) << ahead.logs();  // 100 stays
  EXPECT_EQ(behind.rows(), ahead.rows()) << behind.logs();
  std::string error = "ERROR overspeed@20220426061145:1:57: expected ';' or the end of the file, found 'avg' (rule "
                      "'overspeed' version effective from 2022-04-26 06:11:45 UTC (offset 2 of topic '" +
                      topic + "' at " + bootstrap() + ") is not used; the previous version stays in force)";
  EXPECT_NE(ahead.logged(error), behind.logged(error)) << ahead.logs() << behind.logs();

  // A node started now, with the whole history in the topic: the same rows.
  Node later(bootstrap(), topic, {"overspeed"}, 20000);
  later.start();
  later.drive("20220426061000", "20220426061200");
  EXPECT_EQ(later.rows(), ahead.rows()) << later.logs();
}

TEST(CepRuleKafka, AMissingTopicOrRuleFailsTheStart) {
  REQUIRE_BROKER();
  std::string topic = unique_topic("weir-it-rules-missing");
  {
    Node n(bootstrap(), topic, {"overspeed"}, 5000);
    ASSERT_EQ(n.host.create(), "");
    EXPECT_EQ(n.host.vt().open(n.host.instance()), WEIR_FAILED);
    EXPECT_TRUE(n.logged("ERROR rule store topic '" + topic + "' at " + bootstrap() +
                         ": the topic does not exist (publish a rule into it with `weir-rules put NAME FILE --topic " +
                         topic + "`)"))
        << n.logs();
  }
  TempDir dir;
  ASSERT_EQ(rules_cli("put overspeed " + dir.write("v80.epl", rule(80)), topic).exit_code, 0);
  Node n(bootstrap(), topic, {"speeding"}, 20000);
  ASSERT_EQ(n.host.create(), "");
  EXPECT_EQ(n.host.vt().open(n.host.instance()), WEIR_FAILED);
  EXPECT_TRUE(n.logged("ERROR rule 'speeding' is not in the rule store topic '" + topic + "' at " + bootstrap())) << n.logs();
}

// loggen -> csv_decode -> cep_rule -> file_sink through the real binary, the rule
// from the store. The flagged rows are those of the shipped rule with threshold
// 60 up to the batch that ends at 00:01:00 and those of threshold 150 after it,
// each computed by a run with the rule file. (loggen's normal cars cruise at
// 55-75 km/h, its wild ones at 145-165: 80 and 100 would flag the same cars.)
TEST(CepRuleKafkaPipeline, TheSmartCarRuleSwitchesAtItsEffectiveTime) {
  REQUIRE_BROKER();
  std::string topic = unique_topic("weir-it-rules-pipeline");
  TempDir dir;
  std::string shipped = weir::testing::read_file(std::string(WEIR_SOURCE_DIR) + "/rules/overspeed.epl");
  ASSERT_NE(shipped.find("threshold = 80;"), std::string::npos);
  std::string lax = shipped, strict = shipped;
  lax.replace(lax.find("threshold = 80;"), 15, "threshold = 60;");
  strict.replace(strict.find("threshold = 80;"), 15, "threshold = 150;");
  std::filesystem::create_directories(dir.file("strict"));  // same file name: the port is named after it
  std::string v60 = dir.write("overspeed.epl", lax), v150 = dir.write("strict/overspeed.epl", strict);
  ASSERT_EQ(rules_cli("put overspeed " + v60 + " --effective-from 20220426000000", topic).exit_code, 0);
  ASSERT_EQ(rules_cli("put overspeed " + v150 + " --effective-from 20220426000100", topic).exit_code, 0);

  auto pipeline = [&](const std::string& name, const std::string& rules) {
    return dir.write(name + ".toml",
                     "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 20\nseconds = 150\nspeeding_share = 0.3\n"
                     "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfields = [\"date:string\", "
                     "\"car_number:string\", \"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", "
                     "\"direct_light:string\", \"speed:int64\", \"area_number:string\"]\n"
                     "[nodes.rule]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\ntime_field = \"date\"\n" +
                         rules +
                         "[nodes.flagged]\nplugin = \"file_sink\"\ninputs = [\"rule.overspeed\"]\npath = \"" +
                         dir.file(name + ".json") + "\"\n");
  };
  auto flagged = [&](const std::string& name, const std::string& rules) {
    auto r = weir::testing::run_weir("run " + pipeline(name, rules) + " --no-progress");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines;
    std::stringstream in(weir::testing::read_file(dir.file(name + ".json")));
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return std::make_pair(lines, r.err);
  };
  auto [store_rows, log] = flagged("store", "rules_topic = \"" + topic + "\"\nrules_endpoints = \"" + bootstrap() +
                                                "\"\nrules_names = [\"overspeed\"]\n");
  auto [rows60, log60] = flagged("r60", "rules = [\"" + v60 + "\"]\n");
  auto [rows150, log150] = flagged("r150", "rules = [\"" + v150 + "\"]\n");
  EXPECT_NE(log.find("rule 'overspeed' version effective from 2022-04-26 00:01:00 UTC"), std::string::npos) << log;

  static const std::regex kDate("\"date\":\"(\\d{14})\"");
  auto before = [](const std::string& row) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(row, m, kDate)) << row;
    return m[1].str() < "20220426000100";  // rows of the batches that end by 00:01:00
  };
  std::vector<std::string> expected;
  for (const auto& row : rows60)
    if (before(row)) expected.push_back(row);
  size_t from60 = expected.size();
  for (const auto& row : rows150)
    if (!before(row)) expected.push_back(row);
  EXPECT_GT(from60, 0u);
  EXPECT_GT(expected.size(), from60);
  EXPECT_LT(rows150.size(), rows60.size());
  EXPECT_EQ(store_rows, expected);
}

}  // namespace
