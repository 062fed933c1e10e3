// cep_rule: logic tests against the fake host (the plugin linked in),
// parameter tests, and the shipped example / rule through the real binary.
#include <fake_host.hpp>
#include <raw_http.hpp>
#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <thread>
#include <sstream>
#include <set>
#include <regex>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::testing::FakeHost;
using weir::testing::TempDir;

namespace {

const std::string kOverspeed = std::string(WEIR_SOURCE_DIR) + "/rules/overspeed.epl";

// A decoded smart-car record (csv_decode's field names and types).
FakeHost::Fields car(const char* date, const char* number, int64_t speed) {
  return {{"date", FakeHost::str(date)},          {"car_number", FakeHost::str(number)},
          {"speed_pedal", weir::int_value(1)},    {"break_pedal", weir::int_value(0)},
          {"steer_angle", FakeHost::str("F")},    {"direct_light", FakeHost::str("N")},
          {"speed", weir::int_value(speed)},      {"area_number", FakeHost::str("A01")}};
}

// The shipped rule's row (file_sink JSON) for a car() record it flags.
std::string row_of(const char* date, const char* number, int64_t speed) {
  return std::string("{\"date\":\"") + date + "\",\"car_number\":\"" + number +
         "\",\"speed_pedal\":1,\"break_pedal\":0,\"steer_angle\":\"F\",\"direct_light\":\"N\",\"speed\":" +
         std::to_string(speed) + ",\"area_number\":\"A01\"}";
}

std::vector<std::string> on_port(const FakeHost& h, const std::string& port) {
  std::vector<std::string> out;
  for (const auto& e : h.emitted)
    if (e.port == port) out.push_back(e.json);
  return out;
}

bool logged(const FakeHost& h, const std::string& text) {
  for (const auto& l : h.logs)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

// Rewrites a file so that its modification time surely changes.
void rewrite(const std::string& path, const std::string& text) {
  auto before = std::filesystem::last_write_time(path);
  std::ofstream(path) << text;
  if (std::filesystem::last_write_time(path) == before)
    std::filesystem::last_write_time(path, before + std::chrono::seconds(1));
}

int reload(FakeHost& h, std::string* message = nullptr) {
  char err[1024] = {0};
  int st = h.vt().reload(h.instance(), err, sizeof err);
  if (message) *message = err;
  return st;
}

const char* kAvgRule =
    "create variable double threshold = 80;\n"
    "select car_number, avg(speed) as avg_speed from Car#time_batch(30 sec)\n"
    "  group by car_number having avg(speed) > threshold;\n";

struct Node {
  FakeHost host{weir_plugin_entry()};
  TempDir dir;
  std::string rule;
  explicit Node(const std::string& text = kAvgRule, const std::string& name = "rule.epl") {
    rule = dir.write(name, text);
    host.param("rules", std::vector<std::string>{rule}).param("time_field", std::string("date"));
  }
  void send(const std::vector<FakeHost::Fields>& rows) { ASSERT_EQ(host.process(host.make_batch(rows)), WEIR_OK); }
};

// b: a second instance of a's rule with a's snapshot restored (a hot swap, a checkpoint).
void restore_copy(Node& a, FakeHost& b) {
  std::string state;
  weir_writer w{&state, [](void* o, const void* d, size_t n) { static_cast<std::string*>(o)->append(static_cast<const char*>(d), n); }};
  ASSERT_EQ(a.host.vt().snapshot(a.host.instance(), &w), WEIR_OK);
  ASSERT_FALSE(state.empty());
  b.param("rules", std::vector<std::string>{a.rule}).param("time_field", std::string("date"));
  ASSERT_EQ(b.create(), "");
  ASSERT_EQ(b.vt().restore(b.instance(), state.data(), state.size()), WEIR_OK);
}

// ---------------------------------------------------------------- the smart-car rule

TEST(CepRule, ShippedOverspeedRuleFlagsEveryRecordOfAFastCar) {
  FakeHost h(weir_plugin_entry());
  h.param("rules", std::vector<std::string>{kOverspeed}).param("time_field", std::string("date"));
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  ASSERT_EQ(h.process(h.make_batch({car("20220426061000", "A0001", 90), car("20220426061000", "B0002", 50),
                                    car("20220426061010", "A0001", 95), car("20220426061010", "B0002", 60),
                                    // 06:10:30: the batch 06:10:00-06:10:30 ends before this one.
                                    car("20220426061030", "C0003", 10)})),
            WEIR_OK);
  EXPECT_EQ(on_port(h, "all").size(), 5u);
  auto flagged = on_port(h, "overspeed");
  ASSERT_EQ(flagged.size(), 2u);
  EXPECT_EQ(flagged[0], row_of("20220426061000", "A0001", 90));
  EXPECT_EQ(flagged[1], row_of("20220426061010", "A0001", 95));
  EXPECT_TRUE(h.rejected.empty());
}

// to_row looks a field up where it was in the previous record first (by its
// interned name): a record with its fields in another order still gives each
// column its own field.
TEST(CepRule, FieldsInAnotherOrderAreFoundByName) {
  FakeHost h(weir_plugin_entry());
  h.param("rules", std::vector<std::string>{kOverspeed}).param("time_field", std::string("date"));
  ASSERT_EQ(h.create(), "");
  FakeHost::Fields reversed = car("20220426061010", "A0001", 95);
  std::reverse(reversed.begin(), reversed.end());
  ASSERT_EQ(h.process(h.make_batch({car("20220426061000", "A0001", 90), reversed})), WEIR_OK);
  ASSERT_EQ(h.process(h.make_batch({car("20220426061020", "A0001", 91), car("20220426061030", "C0003", 10)})), WEIR_OK);
  auto flagged = on_port(h, "overspeed");
  ASSERT_EQ(flagged.size(), 3u);
  EXPECT_EQ(flagged[0], row_of("20220426061000", "A0001", 90));
  EXPECT_EQ(flagged[1], row_of("20220426061010", "A0001", 95));
  EXPECT_EQ(flagged[2], row_of("20220426061020", "A0001", 91));
  EXPECT_TRUE(h.rejected.empty());
}

TEST(CepRule, ThresholdFromTheVariablesTable) {
  FakeHost h(weir_plugin_entry());
  h.param("rules", std::vector<std::string>{kOverspeed})
      .param("time_field", std::string("date"))
      .param("variables", std::vector<std::pair<std::string, std::string>>{{"threshold", "55"}});
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.process(h.make_batch({car("20220426061000", "A0001", 90), car("20220426061000", "B0002", 60),
                                    car("20220426061030", "C0003", 10)})),
            WEIR_OK);
  EXPECT_EQ(on_port(h, "overspeed").size(), 2u);  // B0002 averages 60 > 55
}

// ---------------------------------------------------------------- bad records

TEST(CepRule, MissingFieldOrWrongTypeGoesToTheErrorPort) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90),
          {{"date", FakeHost::str("20220426061001")}, {"car_number", FakeHost::str("B0002")}},
          {{"date", FakeHost::str("20220426061002")}, {"car_number", FakeHost::str("B0002")}, {"speed", FakeHost::str("fast")}},
          {{"date", FakeHost::str("yesterday")}, {"car_number", FakeHost::str("B0002")}, {"speed", weir::int_value(3)}}});
  ASSERT_EQ(n.host.rejected.size(), 3u);
  EXPECT_EQ(n.host.rejected[0].rfind("missing field 'speed' (the rules read it)", 0), 0u) << n.host.rejected[0];
  EXPECT_EQ(n.host.rejected[1].rfind("field 'speed' is string, the rules read it as a long", 0), 0u) << n.host.rejected[1];
  EXPECT_EQ(n.host.rejected[2].rfind("time field 'date' is not a yyyyMMddHHmmss date", 0), 0u) << n.host.rejected[2];
  EXPECT_EQ(on_port(n.host, "all").size(), 4u);  // `all` carries every record
}

TEST(CepRule, IntegersAreAcceptedWhereTheFirstRecordHadADouble) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({{{"date", FakeHost::str("20220426061000")}, {"car_number", FakeHost::str("A")}, {"speed", weir::double_value(90.5)}},
          {{"date", FakeHost::str("20220426061001")}, {"car_number", FakeHost::str("A")}, {"speed", weir::int_value(90)}},
          {{"date", FakeHost::str("20220426061100")}, {"car_number", FakeHost::str("B")}, {"speed", weir::int_value(1)}}});
  EXPECT_TRUE(n.host.rejected.empty());
  ASSERT_EQ(on_port(n.host, "rule").size(), 1u);
  EXPECT_EQ(on_port(n.host, "rule")[0], "{\"car_number\":\"A\",\"avg_speed\":90.25}");
}

// A rule with a keyed context gets each batch's records in one send_batch
// (cep_rule.cpp's send_held): the same rows, in the same order, as with one
// record per batch, with batches ending (timers due) between the records of
// one input batch and a rejected record among them.
TEST(CepRule, KeyedContextGivesTheSameRowsInOneBatchAsOneRecordAtATime) {
  const std::string rule =
      "create variable double threshold = 80;\n"
      "create context ByCar partition by car_number from Car;\n"
      "context ByCar select car_number, count(*) as n, avg(speed) as avg_speed from Car#time_batch(10 sec)\n"
      "  having avg(speed) > threshold;\n";
  std::vector<FakeHost::Fields> records;
  std::deque<std::string> dates;  // the records point into them
  const char* cars[] = {"A0001", "B0002", "C0003", "D0004"};
  for (int s = 0; s < 45; ++s) {
    char date[16];
    std::snprintf(date, sizeof date, "202204260610%02d", s);
    dates.push_back(date);
    for (int c = 0; c < 4; ++c) records.push_back(car(dates.back().c_str(), cars[c], 60 + 10 * c + (s * 7 + c * 3) % 11));
  }
  records.insert(records.begin() + 37, {{"date", FakeHost::str("not a date")}, {"car_number", FakeHost::str("A0001")}});
  Node batched(rule), single(rule);
  ASSERT_EQ(batched.host.create(), "");
  ASSERT_EQ(single.host.create(), "");
  batched.send(records);
  for (const FakeHost::Fields& r : records) single.send({r});
  std::vector<std::string> want = on_port(single.host, "rule");
  ASSERT_GE(want.size(), 6u);  // cars C and D are flagged in every 10 s batch
  EXPECT_EQ(on_port(batched.host, "rule"), want);
  EXPECT_EQ(batched.host.rejected.size(), 1u);
  EXPECT_EQ(single.host.rejected.size(), 1u);
}

// ---------------------------------------------------------------- hot reload

TEST(CepRule, ReloadKeepsTheWindowSoTheNewThresholdAppliesToItsEvents) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90), car("20220426061001", "A0001", 91), car("20220426061005", "B0002", 70),
          car("20220426061006", "B0002", 71)});
  rewrite(n.rule, std::string(kAvgRule).replace(std::string(kAvgRule).find("80"), 2, "60"));
  std::string msg;
  ASSERT_EQ(reload(n.host, &msg), WEIR_OK) << msg;
  EXPECT_TRUE(logged(n.host, "INFO reloaded " + n.rule));
  n.send({car("20220426061030", "C0003", 10)});  // ends the batch that began before the reload
  auto rows = on_port(n.host, "rule");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], "{\"car_number\":\"A0001\",\"avg_speed\":90.5}");
  EXPECT_EQ(rows[1], "{\"car_number\":\"B0002\",\"avg_speed\":70.5}");  // 70.5 > 60: the new threshold
}

TEST(CepRule, ChangedFileIsReloadedOnTheTimer) {
  Node n;
  n.host.param("watch_interval_ms", int64_t{1000});
  ASSERT_EQ(n.host.create(), "");
  ASSERT_EQ(n.host.vt().open(n.host.instance()), WEIR_OK);
  EXPECT_EQ(n.host.timer_ms, 1000);
  n.send({car("20220426061000", "A0001", 90), car("20220426061005", "B0002", 70)});
  rewrite(n.rule, std::string(kAvgRule).replace(std::string(kAvgRule).find("80"), 2, "95"));
  ASSERT_EQ(n.host.vt().on_timer(n.host.instance(), 5'000'000'000), WEIR_OK);
  EXPECT_TRUE(logged(n.host, "reloaded"));
  n.send({car("20220426061030", "C0003", 10)});
  EXPECT_TRUE(on_port(n.host, "rule").empty());  // 90 is not above 95 any more
}

TEST(CepRule, BadReloadIsLoggedCountedAndTheOldRuleKeepsRunning) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  ASSERT_EQ(n.host.vt().open(n.host.instance()), WEIR_OK);
  n.send({car("20220426061000", "A0001", 90), car("20220426061001", "A0001", 91)});
  rewrite(n.rule, "create variable double threshold = 80;\nselect car_number, avg(speed) as a from Car#time_batch(30 sec)\n"
                  "  group by car_number havin avg(speed) > threshold;\n");
  std::string msg;
  EXPECT_EQ(reload(n.host, &msg), WEIR_FAILED);
  EXPECT_EQ(msg, n.rule + ":3:23: expected ';' or the end of the file, found 'havin'");
  EXPECT_TRUE(logged(n.host, "ERROR " + n.rule + ":3:23: expected ';'"));
  EXPECT_EQ(n.host.gauges["rule_reload_errors{}"], 1.0);
  // The timer sees the same broken file: reported once, not at every poll.
  ASSERT_EQ(n.host.vt().on_timer(n.host.instance(), 9'000'000'000), WEIR_OK);
  ASSERT_EQ(n.host.vt().on_timer(n.host.instance(), 19'000'000'000), WEIR_OK);
  EXPECT_EQ(n.host.gauges["rule_reload_errors{}"], 1.0);
  n.send({car("20220426061030", "C0003", 10)});
  auto rows = on_port(n.host, "rule");
  ASSERT_EQ(rows.size(), 1u);  // the old rule, with its window, still runs
  EXPECT_EQ(rows[0], "{\"car_number\":\"A0001\",\"avg_speed\":90.5}");
}

TEST(CepRule, ReloadWithATypeErrorIsRefused) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90)});
  rewrite(n.rule, "select car_number, avg(car_number) as a from Car#time_batch(30 sec) group by car_number;\n");
  std::string msg;
  EXPECT_EQ(reload(n.host, &msg), WEIR_FAILED);
  EXPECT_EQ(msg, n.rule + ":1:24: implicit conversion from datatype 'String' to numeric is not allowed for aggregation function 'avg'");
}

TEST(CepRule, ReloadWithADifferentWindowStartsItEmpty) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90)});
  rewrite(n.rule, std::string(kAvgRule).replace(std::string(kAvgRule).find("30 sec"), 6, "20 sec"));
  ASSERT_EQ(reload(n.host), WEIR_OK);
  EXPECT_TRUE(logged(n.host, "INFO " + n.rule + ": statement 1 starts with an empty window: no statement of the previous rule had the same window"));
  n.send({car("20220426061100", "C0003", 10)});
  EXPECT_TRUE(on_port(n.host, "rule").empty());
}

// ---------------------------------------------------------------- configuration errors

TEST(CepRule, ConfigErrorsNameTheFileAndPosition) {
  {
    Node n("select car_number from Car#time_batch(30 parsecs);\n");
    EXPECT_EQ(n.host.create(), n.rule + ":1:42: expected a time unit (msec, sec, min, hour), found 'parsecs'");
  }
  {
    Node n("select car_number,\n       avg(speed) as a\n  from Car#time(1 min)\n where avg(speed) > 3;\n");
    EXPECT_EQ(n.host.create(), n.rule + ":4:8: aggregate functions are not allowed in the where clause");
  }
  {
    FakeHost h(weir_plugin_entry());
    h.param("rules", std::vector<std::string>{"/nonexistent/x.epl"});
    EXPECT_NE(h.create().find("/nonexistent/x.epl: cannot read the rule file"), std::string::npos);
  }
  {
    Node n;
    n.host.param("variables", std::vector<std::pair<std::string, std::string>>{{"treshold", "90"}});
    EXPECT_EQ(n.host.create(), "variables.treshold: no rule file declares or uses a variable named 'treshold'");
  }
  {
    Node n;
    n.host.param("variables", std::vector<std::pair<std::string, std::string>>{{"threshold", "fast"}});
    EXPECT_EQ(n.host.create(), n.rule + ":1:1: variable 'threshold' is declared double but its configured value 'fast' is not a number");
  }
  {
    Node n;
    n.host.param("stream", std::string("Bus"));
    EXPECT_EQ(n.host.create(), n.rule + ":2:49: the rule reads stream 'Car' but the node's stream is 'Bus'");
  }
  {
    FakeHost h(weir_plugin_entry());
    EXPECT_EQ(h.create(), "no rules: give rule files (parameter 'rules') or a rule store (rules_topic, rules_names)");
  }
}

// ---------------------------------------------------------------- ports

TEST(CepRule, InsertIntoAndIrstreamNameThePorts) {
  Node n("insert into CarAvg select car_number, avg(speed) as a from Car#time_batch(10 sec) group by car_number;\n"
         "select irstream car_number, a from CarAvg#length(1);\n");
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A", 90), car("20220426061000", "A", 91), car("20220426061001", "B", 70),
          car("20220426061001", "B", 71), car("20220426061010", "C", 1)});
  EXPECT_EQ(on_port(n.host, "CarAvg"), (std::vector<std::string>{"{\"car_number\":\"A\",\"a\":90.5}", "{\"car_number\":\"B\",\"a\":70.5}"}));
  EXPECT_EQ(on_port(n.host, "rule").size(), 2u);
  EXPECT_EQ(on_port(n.host, "rule_removed"), (std::vector<std::string>{"{\"car_number\":\"A\",\"a\":90.5}"}));
}

TEST(CepRule, NamedStatementUsesItsName) {
  Node n("@name('fast') select car_number from Car where speed > 100;\n");
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A", 120)});
  EXPECT_EQ(on_port(n.host, "fast"), (std::vector<std::string>{"{\"car_number\":\"A\"}"}));
}

// ---------------------------------------------------------------- time, holds, state

TEST(CepRule, BatchInputStaysHeldUntilItsWindowIsEvaluated) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90)});
  n.send({car("20220426061010", "A0001", 90)});
  EXPECT_EQ(n.host.holds_, 2u);
  EXPECT_EQ(n.host.releases_, 0u);
  n.send({car("20220426061030", "A0001", 90)});  // the first batch ends: both held batches are done
  EXPECT_EQ(n.host.holds_, 3u);
  EXPECT_EQ(n.host.releases_, 2u);
  n.host.is_stopping = true;
  ASSERT_EQ(n.host.vt().flush(n.host.instance()), WEIR_OK);  // a stop: everything is let go
  EXPECT_EQ(n.host.releases_, 3u);
}

// A stop (Ctrl-C, --duration: the host is stopping when it flushes) leaves the
// open batch unevaluated, as Esper does; evaluate_on_flush ends it there too.
TEST(CepRule, AStopLeavesPendingBatchesUnlessEvaluateOnFlush) {
  for (bool evaluate : {false, true}) {
    Node n;
    n.host.param("evaluate_on_flush", evaluate);
    ASSERT_EQ(n.host.create(), "");
    n.send({car("20220426061000", "A0001", 90), car("20220426061001", "A0001", 91)});
    EXPECT_TRUE(on_port(n.host, "rule").empty());
    n.host.is_stopping = true;
    ASSERT_EQ(n.host.vt().flush(n.host.instance()), WEIR_OK);
    EXPECT_EQ(on_port(n.host, "rule"), evaluate ? std::vector<std::string>{"{\"car_number\":\"A0001\",\"avg_speed\":90.5}"}
                                                : std::vector<std::string>{})
        << "evaluate_on_flush = " << evaluate;
    EXPECT_EQ(n.host.releases_, 1u);
  }
}

// The inputs ended by themselves (the host is not stopping when it flushes: a
// bounded input read to its end, e.g. kafka_source's end_at_eof): the open
// batch ends, as Flink's final watermark ends every window.
TEST(CepRule, TheEndOfABoundedInputEndsPendingBatches) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 90), car("20220426061001", "A0001", 91)});
  EXPECT_TRUE(on_port(n.host, "rule").empty());
  ASSERT_FALSE(n.host.is_stopping);
  ASSERT_EQ(n.host.vt().flush(n.host.instance()), WEIR_OK);
  EXPECT_EQ(on_port(n.host, "rule"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"avg_speed\":90.5}"}));
  EXPECT_EQ(n.host.releases_, 1u);
}

TEST(CepRule, ProcessingTimeWindowsEndOnTheTimer) {
  FakeHost h(weir_plugin_entry());
  TempDir dir;
  h.param("rules", std::vector<std::string>{dir.write("p.epl", "select count(*) as n from Ev#time_batch(1 sec);\n")});
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  EXPECT_EQ(h.timer_ms, 100);
  h.now = 5'000'000'000;  // 5 s
  ASSERT_EQ(h.process(h.make_batch({{{"x", weir::int_value(1)}}, {{"x", weir::int_value(2)}}})), WEIR_OK);
  ASSERT_EQ(h.vt().on_timer(h.instance(), 5'500'000'000), WEIR_OK);
  EXPECT_TRUE(on_port(h, "p").empty());
  ASSERT_EQ(h.vt().on_timer(h.instance(), 6'000'000'000), WEIR_OK);
  EXPECT_EQ(on_port(h, "p"), (std::vector<std::string>{"{\"n\":2}"}));
}

TEST(CepRule, SnapshotAndRestoreContinueTheWindow) {
  Node a;
  ASSERT_EQ(a.host.create(), "");
  a.send({car("20220426061000", "A0001", 90), car("20220426061005", "B0002", 85)});
  FakeHost b(weir_plugin_entry());
  restore_copy(a, b);
  ASSERT_EQ(b.process(b.make_batch({car("20220426061010", "A0001", 101), car("20220426061030", "C", 1)})), WEIR_OK);
  EXPECT_EQ(on_port(b, "rule"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"avg_speed\":95.5}",
                                                          "{\"car_number\":\"B0002\",\"avg_speed\":85}"}));
}

// The hard-braking pattern through the plugin: a snapshot taken between a
// speeding and its braking carries the pending match to another instance.
TEST(CepRule, APatternContinuesAcrossSnapshotAndRestore) {
  const char* rule =
      "select a.car_number as car_number, a.speed as fast, b.speed as slow from pattern\n"
      "  [every a=Car(speed > 100) -> b=Car(car_number = a.car_number, speed < 30) where timer:within(10 sec)];\n";
  Node a(rule, "braking.epl");
  ASSERT_EQ(a.host.create(), "");
  a.send({car("20220426061000", "A0001", 120), car("20220426061001", "B0002", 130)});
  FakeHost b(weir_plugin_entry());
  restore_copy(a, b);
  // A0001 brakes 5 s later; B0002 only 12 s later, too late.
  ASSERT_EQ(b.process(b.make_batch({car("20220426061005", "A0001", 20), car("20220426061013", "B0002", 10)})), WEIR_OK);
  EXPECT_EQ(on_port(b, "braking"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"fast\":120,\"slow\":20}"}));
}

// match_recognize through the plugin: the rule compiles before the first
// record, reads the fields it names, and its partial matches per car move
// with a snapshot into another instance.
TEST(CepRule, ARowPatternContinuesAcrossSnapshotAndRestore) {
  const char* rule =
      "select * from Car match_recognize (partition by car_number\n"
      "  measures A.car_number as car, A.speed as fast, last(B.speed) as slowest, count(B.speed) as n\n"
      "  pattern (A B+ C) define A as A.speed > 100, B as B.speed < prev(B.speed), C as C.speed < 30);\n";
  Node a(rule, "slowdown.epl");
  ASSERT_EQ(a.host.create(), "");
  a.send({car("20220426061000", "A0001", 120), car("20220426061001", "B0002", 130),
          car("20220426061002", "A0001", 90), car("20220426061003", "B0002", 140)});
  FakeHost b(weir_plugin_entry());
  restore_copy(a, b);
  // A0001: 120, 90, 60, then 20 ends it; B0002: 130, 140 (not slower), 100, 20.
  ASSERT_EQ(b.process(b.make_batch({car("20220426061004", "A0001", 60), car("20220426061005", "B0002", 100),
                                    car("20220426061006", "A0001", 20), car("20220426061007", "B0002", 20)})),
            WEIR_OK);
  EXPECT_EQ(on_port(b, "slowdown"), (std::vector<std::string>{"{\"car\":\"A0001\",\"fast\":120,\"slowest\":60,\"n\":2}",
                                                               "{\"car\":\"B0002\",\"fast\":140,\"slowest\":100,\"n\":1}"}));
}

TEST(CepRule, RestoreOfGarbageIsRefused) {
  Node n;
  ASSERT_EQ(n.host.create(), "");
  std::string junk = "not a state";
  EXPECT_EQ(n.host.vt().restore(n.host.instance(), junk.data(), junk.size()), WEIR_FAILED);
}

// ---------------------------------------------------------------- through the real binary

// Rule paths are relative to the working directory: the example runs from the repository root.
TEST(CepRulePipeline, ExampleValidates) {
  auto r = weir::testing::run_weir("validate plugins/cep_rule/example.toml", "cd " + std::string(WEIR_SOURCE_DIR) + " &&");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CepRulePipeline, UnknownParameterIsRefused) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = 1\n"
                                         "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"gen\"]\nrules = [\"" +
                                             kOverspeed + "\"]\nwatch_interval = 5\n"
                                                          "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"cep.overspeed\"]\n");
  auto r = weir::testing::run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown parameter 'watch_interval'; did you mean 'watch_interval_ms'?"), std::string::npos) << r.err;
}

// A rule store is read when the node opens, not when it is configured: the
// pipeline validates without a broker (create() does no I/O).
TEST(CepRulePipeline, ARuleStoreConfigurationValidatesWithoutABroker) {
  TempDir dir;
  auto pipeline = [&](const std::string& rules) {
    return dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = 1\n"
                               "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"gen\"]\n" + rules +
                               "rules_topic = \"weir-rules\"\nrules_endpoints = \"127.0.0.1:1\"\nrules_names = [\"overspeed\"]\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"cep.overspeed\"]\n");
  };
  auto r = weir::testing::run_weir("validate " + pipeline(""));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = weir::testing::run_weir("validate " + pipeline("rules = [\"" + kOverspeed + "\"]\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rules (files) and rules_topic (a rule store) exclude each other"), std::string::npos) << r.err;
}

// loggen (45 s, bounded) -> csv_decode -> cep_rule (the shipped rule, a threshold
// every car passes) -> file_sink: every line is flagged, also the 15 s of the
// last batch, which no later line ends: the end of the input ends it.
TEST(CepRulePipeline, ABoundedInputEndsTheLastBatch) {
  TempDir dir;
  std::string file = dir.write(
      "p.toml",
      "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\ncars = 3\nseconds = 45\n"
      "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfields = [\"date:string\", \"car_number:string\", "
      "\"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", \"direct_light:string\", \"speed:int64\", "
      "\"area_number:string\"]\n"
      "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\nrules = [\"" +
          kOverspeed + "\"]\ntime_field = \"date\"\nvariables = { threshold = \"-1\" }\n"
          "[nodes.flagged]\nplugin = \"file_sink\"\ninputs = [\"cep.overspeed\"]\npath = \"" + dir.file("flagged.json") + "\"\n");
  auto r = weir::testing::run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(weir::testing::count_lines(weir::testing::read_file(dir.file("flagged.json"))), 3u * 45);
}

// loggen -> csv_decode -> cep_rule (the shipped rule) -> file_sink: cars flagged,
// every record on `all`, nothing rejected.
TEST(CepRulePipeline, SmartCarFlowFlagsFastCars) {
  TempDir dir;
  std::string file = dir.write(
      "p.toml",
      "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 20\nseconds = 120\nspeeding_share = 0.2\n"
      "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfields = [\"date:string\", \"car_number:string\", "
      "\"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", \"direct_light:string\", \"speed:int64\", "
      "\"area_number:string\"]\n"
      "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\nrules = [\"" +
          kOverspeed +
          "\"]\ntime_field = \"date\"\n"
          "[nodes.flagged]\nplugin = \"file_sink\"\ninputs = [\"cep.overspeed\"]\npath = \"" +
          dir.file("flagged.json") +
          "\"\n"
          "[nodes.all]\nplugin = \"file_sink\"\ninputs = [\"cep.all\"]\npath = \"" +
          dir.file("all.json") + "\"\n");
  auto r = weir::testing::run_weir("run " + file + " --dead-letter " + dir.file("dead.json") + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(weir::testing::count_lines(weir::testing::read_file(dir.file("all.json"))), 2400u);
  std::string flagged = weir::testing::read_file(dir.file("flagged.json"));
  EXPECT_GT(weir::testing::count_lines(flagged), 0u);
  EXPECT_NE(flagged.find("\"car_number\":"), std::string::npos);
  EXPECT_TRUE(weir::testing::read_file(dir.file("dead.json")).empty());
}

// time_field = "_time" takes the time csv_decode read from `date` (event_time_field)
// instead of parsing the field again: the same flagged rows, and the same window
// ends (the rows' event time, `_time` in the file), as time_field = "date". The
// lines start 15 s past a window boundary and end mid-window, so a time that
// differed by a second would move rows between windows.
std::string flagged_rows(const std::string& time_field) {
  TempDir dir;
  std::string file = dir.write(
      "p.toml",
      "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"235915\"\ncars = 20\nseconds = 200\n"
      "speeding_share = 0.2\nseed = 7\n"
      "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfields = [\"date:string\", \"car_number:string\", "
      "\"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", \"direct_light:string\", \"speed:int64\", "
      "\"area_number:string\"]\nevent_time_field = \"date\"\nevent_time_format = \"%Y%m%d%H%M%S\"\n"
      "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\nrules = [\"" +
          kOverspeed + "\"]\ntime_field = \"" + time_field +
          "\"\n"
          "[nodes.flagged]\nplugin = \"file_sink\"\ninputs = [\"cep.overspeed\"]\nmetadata = true\npath = \"" +
          dir.file("flagged.json") + "\"\n");
  auto r = weir::testing::run_weir("run " + file + " --no-progress");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return weir::testing::read_file(dir.file("flagged.json"));
}

TEST(CepRulePipeline, TheRecordTimeGivesTheSameRowsAsTheDateField) {
  std::string by_field = flagged_rows("date"), by_record_time = flagged_rows("_time");
  EXPECT_GT(weir::testing::count_lines(by_field), 100u);
  // The first batch ends at 2022-04-26 23:59:30 UTC (the rows' event time, ns).
  EXPECT_NE(by_field.find("\"_time\":1651017570000000000,"), std::string::npos);
  EXPECT_EQ(by_record_time, by_field);
}

}  // namespace

// ---------------------------------------------------------------- on-demand queries (ABI 1.3)

std::string query(FakeHost& h, const std::string& text, int* status = nullptr) {
  std::string out;
  weir_writer w{&out, [](void* o, const void* d, size_t n) { static_cast<std::string*>(o)->append(static_cast<const char*>(d), n); }};
  char err[1024] = {0};
  int st = h.vt().query(h.instance(), text.data(), static_cast<uint32_t>(text.size()), &w, err, sizeof err);
  if (status) *status = st;
  return st == WEIR_OK ? out : err;
}

// A property that only an on-trigger statement reads (area_number, in its
// filter) is still taken from the records: the deletion happens.
TEST(CepRule, NamedWindowOnDeleteReadsTheTriggersOwnProperties) {
  Node n("create window Fast#unique(car_number) as select car_number, speed from Car;\n"
         "insert into Fast select car_number, speed from Car(speed > 100);\n"
         "on Car(speed <= 100 and area_number = 'A01') as e delete from Fast as f where f.car_number = e.car_number;\n");
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 120), car("20220426061000", "B0002", 130)});
  EXPECT_EQ(query(n.host, "select car_number, speed from Fast"),
            "{\"car_number\":\"A0001\",\"speed\":120}\n{\"car_number\":\"B0002\",\"speed\":130}\n");
  n.send({car("20220426061001", "A0001", 50)});  // area A01, slow: deleted
  EXPECT_EQ(query(n.host, "select car_number from Fast"), "{\"car_number\":\"B0002\"}\n");
  int st = 0;
  EXPECT_EQ(query(n.host, "select car_number from Fast where", &st), "query:1:34: expected an expression, found the end of the input");
  EXPECT_EQ(st, WEIR_FAILED);
}

// The create window statement posts the window's changes, as Esper's does
// (cases 520-527): what enters on its port, what leaves (replaced or deleted)
// on <port>_removed; the insert into's rows go to the window's port as before.
TEST(CepRule, ACreateWindowStatementPostsTheWindowsChanges) {
  Node n("@name('fast') create window Fast#unique(car_number) as select car_number, speed from Car;\n"
         "insert into Fast select car_number, speed from Car(speed > 100);\n"
         "@name('slowed') on Car(speed <= 100) as e delete from Fast as f where f.car_number = e.car_number;\n");
  ASSERT_EQ(n.host.create(), "");
  n.send({car("20220426061000", "A0001", 120), car("20220426061001", "A0001", 130), car("20220426061002", "A0001", 50)});
  EXPECT_EQ(on_port(n.host, "fast"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"speed\":120}",
                                                                 "{\"car_number\":\"A0001\",\"speed\":130}"}));
  EXPECT_EQ(on_port(n.host, "fast_removed"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"speed\":120}",
                                                                         "{\"car_number\":\"A0001\",\"speed\":130}"}));
  EXPECT_EQ(on_port(n.host, "Fast").size(), 2u);  // the insert into's own rows
  EXPECT_EQ(on_port(n.host, "slowed"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"speed\":130}"}));
}

// The "speed above the car's running average" rule through the plugin: the
// table's rows answer a query and move to another instance with a snapshot.
TEST(CepRule, ATableThroughThePlugin) {
  Node a("create table CarAvg (car_number string primary key, avg_speed avg(long), n count(*));\n"
         "into table CarAvg select avg(speed) as avg_speed, count(*) as n from Car group by car_number;\n"
         "@name('above') select car_number, speed from Car\n"
         "  where speed > CarAvg[car_number].avg_speed;\n");
  ASSERT_EQ(a.host.create(), "");
  a.send({car("20220426061000", "A0001", 60), car("20220426061001", "A0001", 100), car("20220426061002", "B0002", 70)});
  EXPECT_EQ(on_port(a.host, "above"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"speed\":100}"}));
  EXPECT_EQ(query(a.host, "select car_number, n from CarAvg where avg_speed > 75"), "{\"car_number\":\"A0001\",\"n\":2}\n");
  EXPECT_EQ(query(a.host, "select car_number from CarAvg"), "{\"car_number\":\"A0001\"}\n{\"car_number\":\"B0002\"}\n");
  FakeHost b(weir_plugin_entry());
  restore_copy(a, b);
  EXPECT_EQ(query(b, "select car_number, n from CarAvg where n > 1"), "{\"car_number\":\"A0001\",\"n\":2}\n");
  ASSERT_EQ(b.process(b.make_batch({car("20220426061003", "B0002", 90)})), WEIR_OK);  // avg 80: above
  EXPECT_EQ(on_port(b, "above"), (std::vector<std::string>{"{\"car_number\":\"B0002\",\"speed\":90}"}));
}

// The keyed state through the plugin: each car's last speed upserted in a
// table by on-merge, its posts on the merge's ports, a query of the rows, and
// the rows in another instance restored from a snapshot.
TEST(CepRule, ATableUpsertThroughThePlugin) {
  Node a("create table LastSeen (car_number string primary key, speed long);\n"
         "@name('seen') on Car as e merge LastSeen as l where l.car_number = e.car_number\n"
         "  when matched then update set speed = e.speed\n"
         "  when not matched then insert select e.car_number as car_number, e.speed as speed;\n");
  ASSERT_EQ(a.host.create(), "");
  a.send({car("20220426061000", "A0001", 60), car("20220426061001", "B0002", 70), car("20220426061002", "A0001", 90)});
  EXPECT_EQ(on_port(a.host, "seen").size(), 3u);  // two inserts, one update
  EXPECT_EQ(on_port(a.host, "seen_removed"), (std::vector<std::string>{"{\"car_number\":\"A0001\",\"speed\":60}"}));
  EXPECT_EQ(query(a.host, "select car_number, speed from LastSeen"),
            "{\"car_number\":\"A0001\",\"speed\":90}\n{\"car_number\":\"B0002\",\"speed\":70}\n");
  FakeHost b(weir_plugin_entry());
  restore_copy(a, b);
  EXPECT_EQ(query(b, "select speed from LastSeen where car_number = 'A0001'"), "{\"speed\":90}\n");
}

namespace {

// POST /ctl/query to a running weir: the HTTP status and body.
std::pair<int, std::string> post_query(const weir::testing::BackgroundWeir& weir, const std::string& node,
                                       const std::string& text) {
  weir::testing::RawConn c("127.0.0.1", weir.admin_port());
  std::string body = "node=" + node + "\ntext=" + text + "\n";
  if (!c.ok() || !c.send("POST /ctl/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body))
    return {0, ""};
  std::string r = c.response();
  return {weir::testing::status_of(r), weir::testing::body_of(r)};
}

}  // namespace

// A running rule answers "what is in the window now" through `weir ctl query`:
// generator -> cep_rule keeping each key's latest record in a named window.
TEST(CepRulePipeline, CtlQueryReadsANamedWindowOfARunningRule) {
  TempDir dir;
  std::string rule = dir.write("last.epl",
                               "create window Last#unique(key) as select key, seq from Gen;\n"
                               "insert into Last select key, seq from Gen;\n"
                               "select key from Gen where seq < 0;\n");
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 2000\nkeys = 16\npayload_bytes = 8\n"
                                         "[nodes.cep]\nplugin = \"cep_rule\"\ninputs = [\"gen\"]\nrules = [\"" + rule + "\"]\n"
                                         "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"cep.all\"]\n");
  weir::testing::BackgroundWeir weir(dir, file + " --no-progress");
  ASSERT_TRUE(weir.started()) << weir.err();
  // Every key shows up once the generator went round them all: 16 rows, one per key.
  weir::testing::RunResult all;
  for (int i = 0; i < 200; ++i) {
    all = weir.ctl("query cep 'select key, seq from Last'");
    ASSERT_EQ(all.exit_code, 0) << all.err;
    if (weir::testing::count_lines(all.out) == 16) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(weir::testing::count_lines(all.out), 16u) << all.out;
  std::set<std::string> keys;
  std::regex row(R"re(\{"key":"(k\d+)","seq":(\d+)\})re");
  std::istringstream lines(all.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, row)) << line;
    keys.insert(m[1]);
    EXPECT_EQ("k" + std::to_string(std::stoll(m[2]) % 16), m[1].str()) << line;  // the key's own record
  }
  EXPECT_EQ(keys.size(), 16u);
  auto one = weir.ctl("query cep \"select seq % 16 as r from Last where key = 'k3'\"");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "{\"r\":3}\n");

  auto bad = weir.ctl("query cep 'select key from Nope'");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err, "query:1:17: unknown named window or table 'Nope' (known: Last)\n");
  EXPECT_EQ(post_query(weir, "cep", "select key from Last where").first, 400);
  EXPECT_EQ(post_query(weir, "nope", "select key from Last").first, 404);
  auto unsupported = post_query(weir, "out", "select 1 from X");
  EXPECT_EQ(unsupported.first, 501);
  EXPECT_NE(unsupported.second.find("plugin null_sink does not answer queries"), std::string::npos) << unsupported.second;
  auto ok = post_query(weir, "cep", "select key from Last where key = 'k5'");
  EXPECT_EQ(ok, (std::pair<int, std::string>{200, "{\"key\":\"k5\"}\n"}));
}

// A match_recognize rule at its bound of partial matches (MatchRun::kMaxStates):
// the gauge counts what was dropped and the log says so, once per growth.
TEST(CepRule, DroppedPartialMatchesAreCountedAndLogged) {
  Node n("select * from Car match_recognize (measures count(A.speed) as n pattern ((A | B)* C) "
         "define C as C.speed < 0);\n");
  ASSERT_EQ(n.host.create(), "");
  ASSERT_EQ(n.host.vt().open(n.host.instance()), WEIR_OK);
  EXPECT_EQ(n.host.gauges["match_states_dropped{}"], 0.0);
  std::vector<FakeHost::Fields> rows;
  for (int s = 0; s < 22; ++s) {
    char date[16];
    std::snprintf(date, sizeof date, "202204260610%02d", s);
    rows.push_back(car(date, "A0001", 50));
  }
  n.send(rows);
  ASSERT_EQ(n.host.vt().on_timer(n.host.instance(), 5'000'000'000), WEIR_OK);
  EXPECT_GT(n.host.gauges["match_states_dropped{}"], 0.0);
  EXPECT_TRUE(logged(n.host, "partial matches dropped at their bound (100000 per match_recognize statement"));
}
