// Rules from a rule store (rules_topic): the record format, the selection of
// the version in force by event time, and the plugin against an in-memory
// store — engines at different clocks switch at the same event time, a
// restored snapshot continues with its version, a bad version keeps the
// previous one.
#include "rule_store_fixture.hpp"

#include <atomic>
#include <deque>

using weir::testing::FakeHost;
using namespace weir::testing::rules;
namespace st = weir::cep::store;

namespace {

st::RuleVersion version(const std::string& name, int64_t from, const std::string& text) {
  st::RuleVersion v;
  v.name = name;
  v.effective_from_ms = from;
  v.published_ms = 1;
  v.text = text;
  return v;
}

// ---------------------------------------------------------------- the record format

TEST(RuleStoreFormat, AVersionRoundTrips) {
  st::RuleVersion v = version("overspeed", ms("20220426061030"), "select * from Car;\n");
  v.published_ms = 1777;
  std::string key = st::record_key(v.name, v.effective_from_ms);
  EXPECT_EQ(key, "overspeed@1650953430000");
  std::string value = st::encode_value(v);
  EXPECT_EQ(value,
            "weir-rule 1 name=overspeed effective_from_ms=1650953430000 published_ms=1777 size=19\nselect * from Car;\n");
  std::string why;
  auto back = st::decode(key, value, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->name, "overspeed");
  EXPECT_EQ(back->effective_from_ms, v.effective_from_ms);
  EXPECT_EQ(back->published_ms, 1777);
  EXPECT_EQ(back->text, v.text);
  // Header fields a later writer may add are ignored.
  EXPECT_TRUE(st::decode(key, "weir-rule 1 name=overspeed author=me effective_from_ms=1650953430000 size=2\nab", why)) << why;
}

TEST(RuleStoreFormat, RecordsThatAreNotVersionsAreRefusedWithAReason) {
  std::string why;
  EXPECT_FALSE(st::decode("x@1", "select 1", why));
  EXPECT_EQ(why, "not a weir rule version (the value does not start with 'weir-rule 1')");
  EXPECT_FALSE(st::decode("x@1", "weir-rule 1 name=x effective_from_ms=1 size=5\nabc", why));
  EXPECT_EQ(why, "the header says 5 bytes of rule text, the record holds 3");
  EXPECT_FALSE(st::decode("y@1", "weir-rule 1 name=x effective_from_ms=1 size=0\n", why));
  EXPECT_EQ(why, "the key 'y@1' does not match the header (x@1)");
  EXPECT_FALSE(st::decode("x@1", "weir-rule 1 name=x size=0\n", why));
  EXPECT_EQ(why, "the header lacks name, effective_from_ms or size");
  EXPECT_FALSE(st::decode("a b@1", "weir-rule 1 name=a/b effective_from_ms=1 size=0\n", why));
  std::string name;
  int64_t t = 0;
  EXPECT_TRUE(st::parse_key("overspeed@1650953430000", name, t));
  EXPECT_EQ(name, "overspeed");
  EXPECT_EQ(t, 1650953430000);
  EXPECT_FALSE(st::parse_key("overspeed", name, t));
}

TEST(RuleStoreFormat, TimesAreShownInUtc) {
  EXPECT_EQ(st::time14(ms("20220426061030")), "20220426061030");
  EXPECT_EQ(st::time14(ms("20220426061030") + 250), "20220426061030.250");
  EXPECT_EQ(st::readable_time(ms("20220426061030")), "2022-04-26 06:10:30 UTC");
  EXPECT_EQ(st::time14(0), "19700101000000");
}

TEST(RuleStoreFormat, RuleNamesAreCheckedForPortsAndKeys) {
  EXPECT_EQ(st::check_name("overspeed-v2.x_1"), "");
  EXPECT_NE(st::check_name(""), "");
  EXPECT_EQ(st::check_name("a@b"), "a rule name has only letters, digits, '_', '-' and '.', not 'a@b'");
}

// ---------------------------------------------------------------- versions

TEST(RuleStoreVersions, TheVersionInForceIsTheLatestEffectiveAtOrBeforeT) {
  st::Catalog c;
  c.put(version("r", 2000, "two"));
  c.put(version("r", 1000, "one"));
  c.put(version("r", 3000, "three"));
  c.put(version("r", 2000, "two again"));  // same name and time: replaces
  const auto* vs = c.find("r");
  ASSERT_TRUE(vs);
  ASSERT_EQ(vs->size(), 3u);
  auto all = [](const st::RuleVersion&) { return true; };
  EXPECT_EQ(st::version_at(*vs, 999, all), nullptr);
  EXPECT_EQ(st::first_usable(*vs, all)->text, "one");
  EXPECT_EQ(st::version_at(*vs, 1000, all)->text, "one");
  EXPECT_EQ(st::version_at(*vs, 1999, all)->text, "one");
  EXPECT_EQ(st::version_at(*vs, 2000, all)->text, "two again");
  EXPECT_EQ(st::version_at(*vs, 99999, all)->text, "three");
  // An unusable version (it does not compile) is skipped: the previous one stays in force.
  auto not_three = [](const st::RuleVersion& v) { return v.text != "three"; };
  EXPECT_EQ(st::version_at(*vs, 99999, not_three)->text, "two again");
  c.erase("r", 2000);
  EXPECT_EQ(st::version_at(*c.find("r"), 2500, all)->text, "one");
  EXPECT_EQ(c.version_count(), 2u);
  EXPECT_EQ(c.find("other"), nullptr);
}

// ---------------------------------------------------------------- the plugin, in-memory store

// A store installed for the plugin under a unique (endpoints, topic).
struct Store {
  std::shared_ptr<st::MemoryRuleSource> source = std::make_shared<st::MemoryRuleSource>();
  std::string endpoints;
  Store() {
    static std::atomic<int> n{0};
    endpoints = "memory-" + std::to_string(++n) + ":9092";
    st::install_rule_source(endpoints, "weir-rules", source);
  }
  ~Store() { st::install_rule_source(endpoints, "weir-rules", nullptr); }
  void put(const char* from, const std::string& text, const std::string& name = "overspeed") {
    source->put(version(name, ms(from), text));
  }
};

struct Node : weir::testing::rules::Node {
  explicit Node(const Store& s, const std::vector<std::string>& names = {"overspeed"})
      : weir::testing::rules::Node(s.endpoints, "weir-rules", names) {}
};


// Threshold 80 until 06:10:45, then 100. The batch [06:10:30, 06:11:00)
// contains 06:10:45: it is evaluated with 100, so X (91) is flagged only in
// the first batch. Two engines, one ahead of the other when the new version
// arrives, give the same rows.
TEST(CepRuleStore, EnginesAheadAndBehindSwitchAtTheSameEventTime) {
  Store s;
  s.put("20220426061000", rule(80));
  Node ahead(s), behind(s);
  ahead.start();
  behind.start();
  ahead.drive("20220426061000", "20220426061025");
  behind.drive("20220426061000", "20220426061005");
  s.put("20220426061045", rule(100));  // published while both clocks are before 06:10:45
  ahead.drive("20220426061030", "20220426061130");
  behind.drive("20220426061010", "20220426061130");
  const std::vector<std::string> expected = {kX, kY, kY, kY};  // batches :00-:30 (80), :30-:00 and :00-:30 (100)
  EXPECT_EQ(ahead.rows(), expected) << ahead.logs();
  EXPECT_EQ(behind.rows(), expected) << behind.logs();
  EXPECT_TRUE(ahead.logged("INFO rule 'overspeed' version effective from 2022-04-26 06:10:45 UTC is in force from engine time "
                           "2022-04-26 06:10:45 UTC"))
      << ahead.logs();
  EXPECT_FALSE(ahead.logged("WARN")) << ahead.logs();

  // A third engine started later, with both versions in the store from the start: the same rows.
  Node later(s);
  later.start();
  later.drive("20220426061000", "20220426061130");
  EXPECT_EQ(later.rows(), expected) << later.logs();
}

// The same switch for a rule with a keyed context, whose plugin holds an input
// batch's records to send them in one RuleSet::send_batch: a version boundary
// inside the batch sends the records before it to the old version first. One
// input batch from 06:10:00 to 06:11:30 gives the rows of one record pair per batch.
TEST(CepRuleStore, AKeyedContextSwitchesInsideAnInputBatch) {
  auto ctx_rule = [](int threshold) {
    return "create variable double threshold = " + std::to_string(threshold) +
           ";\n"
           "create context ByCar partition by car_number from Car;\n"
           "context ByCar select car_number, avg(speed) as avg_speed from Car#time_batch(30 sec, 0L)\n"
           "  having avg(speed) > threshold;\n";
  };
  Store s;
  s.put("20220426061000", ctx_rule(80));
  s.put("20220426061045", ctx_rule(100));
  std::deque<std::string> dates;  // the records point into them
  std::vector<FakeHost::Fields> records;
  for (int64_t t = ms("20220426061000"); t <= ms("20220426061130"); t += 5000) {
    dates.push_back(weir::cep::store::time14(t));
    records.push_back(car(dates.back().c_str(), "X", 91));
    records.push_back(car(dates.back().c_str(), "Y", 111));
  }
  Node batched(s), single(s);
  batched.start();
  single.start();
  batched.send(records);
  for (size_t i = 0; i < records.size(); i += 2) single.send({records[i], records[i + 1]});
  const std::vector<std::string> expected = {kX, kY, kY, kY};  // as EnginesAheadAndBehindSwitchAtTheSameEventTime
  EXPECT_EQ(single.rows(), expected) << single.logs();
  EXPECT_EQ(batched.rows(), expected) << batched.logs();
}

// On a batch boundary: the batch that ends at the version's time still runs the
// old one, the batch that starts there the new one. A millisecond earlier,
// the new version is in force within the first batch, which it then evaluates.
TEST(CepRuleStore, AVersionFirstAppliesToTheBatchContainingItsEffectiveTime) {
  {
    Store s;
    s.put("20220426061000", rule(80));
    s.put("20220426061030", rule(100));
    Node n(s);
    n.start();
    n.drive("20220426061000", "20220426061100");
    EXPECT_EQ(n.rows(), (std::vector<std::string>{kX, kY, kY})) << n.logs();
  }
  {
    Store s;
    s.put("20220426061000", rule(80));
    s.source->put(version("overspeed", ms("20220426061030") - 1, rule(100)));
    Node n(s);
    n.start();
    n.drive("20220426061000", "20220426061100");
    EXPECT_EQ(n.rows(), (std::vector<std::string>{kY, kY})) << n.logs();
  }
}

// Data older than every version: the first version covers it.
TEST(CepRuleStore, TheFirstVersionAlsoCoversEarlierEvents) {
  Store s;
  s.put("20300101000000", rule(80));
  Node n(s);
  n.start();
  n.drive("20220426061000", "20220426061030");
  EXPECT_EQ(n.rows(), (std::vector<std::string>{kX, kY})) << n.logs();
}

// A snapshot taken under the first version, restored after the store moved on
// (the first version even gone from it): the engine continues with its saved
// version and switches at the second one's time, like an engine that never
// stopped. Restored before open() (a checkpoint at start) and after it (a
// partition assigned to a running node).
TEST(CepRuleStore, ARestoredSnapshotContinuesWithItsVersion) {
  Store s;
  s.put("20220426061000", rule(80));
  Node first(s);
  first.start();
  first.drive("20220426061000", "20220426061020");
  std::string state = first.snapshot();

  s.put("20220426061045", rule(100));
  s.source->erase("overspeed", ms("20220426061000"));

  for (bool before_open : {true, false}) {
    Node again(s);
    ASSERT_EQ(again.host.create(), "");
    if (before_open) again.restore(state);
    ASSERT_EQ(again.host.vt().open(again.host.instance()), WEIR_OK) << again.logs();
    if (!before_open) again.restore(state);
    again.drive("20220426061025", "20220426061130");
    EXPECT_EQ(again.rows(), (std::vector<std::string>{kX, kY, kY, kY})) << again.logs();
    EXPECT_FALSE(again.logged("WARN")) << again.logs();
  }
  // Without the snapshot the store's only version (100) covers everything.
  Node fresh(s);
  fresh.start();
  fresh.drive("20220426061000", "20220426061130");
  EXPECT_EQ(fresh.rows(), (std::vector<std::string>{kY, kY, kY}));
}

// The limit: a version that arrives when an engine's clock is already past
// its time applies from that clock on, and the engine says so. Here the batch
// :30-:00 was evaluated with 80 before the version for 06:10:45 arrived.
TEST(CepRuleStore, AVersionThatComesLateAppliesAtOnceWithAWarning) {
  Store s;
  s.put("20220426061000", rule(80));
  Node n(s);
  n.start();
  n.drive("20220426061000", "20220426061100");
  s.put("20220426061045", rule(100));
  n.drive("20220426061105", "20220426061130");
  EXPECT_EQ(n.rows(), (std::vector<std::string>{kX, kY, kX, kY, kY})) << n.logs();
  EXPECT_TRUE(n.logged("WARN rule 'overspeed' version effective from 2022-04-26 06:10:45 UTC is in force from engine "
                       "time 2022-04-26 06:11:00 UTC: it came late: this engine's clock was already at 2022-04-26 06:11:00 "
                       "UTC, 15000 ms after it; what ended in between (a batch that ended then) was evaluated with the previous version"))
      << n.logs();
}

// Someone bypassed weir-rules: a version that does not compile is logged once
// (for every engine of the process) with its position, counted, and the
// previous version stays in force; the next good version is used on time.
TEST(CepRuleStore, ABadVersionIsLoggedOnceAndThePreviousOneStays) {
  Store s;
  s.put("20220426061000", rule(80));
  Node a(s), b(s);
  a.start();
  b.start();
  a.drive("20220426061000", "20220426061005");
  b.drive("20220426061000", "20220426061005");
  s.put("20220426061045", "create variable double threshold = 100;\nselect car_number from Car#time_batch(30 sec, 0L)\n"
                          "  group by car_number havin avg(speed) > threshold;\n");
  s.put("20220426061100", rule(100));
  a.drive("20220426061010", "20220426061130");
  b.drive("20220426061010", "20220426061130");
  const std::vector<std::string> expected = {kX, kY, kX, kY, kY};  // 80 until 06:11:00, then 100
  EXPECT_EQ(a.rows(), expected) << a.logs();
  EXPECT_EQ(b.rows(), expected) << b.logs();
  const std::string error = "ERROR overspeed@20220426061045:3:23: expected ';' or the end of the file, found 'havin' (rule "
                            "'overspeed' version effective from 2022-04-26 06:10:45 UTC is not used; the previous version "
                            "stays in force)";
  EXPECT_NE(a.logged(error), b.logged(error)) << a.logs() << b.logs();  // once in the process
  EXPECT_EQ(a.host.gauges["rule_reload_errors{}"], 1.0);
  EXPECT_EQ(b.host.gauges["rule_reload_errors{}"], 1.0);
}

// A version that parses but does not type-check against the input (known only
// from the first record) is refused when an engine gets to it.
TEST(CepRuleStore, AVersionWithATypeErrorIsRefusedWhenDue) {
  Store s;
  s.put("20220426061000", rule(80));
  s.put("20220426061045",
        "select car_number, avg(car_number) as a from Car#time_batch(30 sec, 0L) group by car_number;\n");
  Node n(s);
  n.start();
  n.drive("20220426061000", "20220426061100");
  EXPECT_EQ(n.rows(), (std::vector<std::string>{kX, kY, kX, kY})) << n.logs();
  EXPECT_TRUE(n.logged("ERROR overspeed@20220426061045:1:24: implicit conversion from datatype 'String' to numeric is not "
                       "allowed for aggregation function 'avg'"))
      << n.logs();
}

TEST(CepRuleStore, ProcessingTimeSwitchesOnTheTimer) {
  Store s;
  s.put("19700101000000", "select count(*) as n from Ev#time_batch(1 sec, 0L);\n", "count");
  s.source->put(version("count", 5'500, "select count(*) * 10 as n from Ev#time_batch(1 sec, 0L);\n"));
  FakeHost h(weir_plugin_entry());
  h.param("rules_topic", std::string("weir-rules")).param("rules_endpoints", s.endpoints)
      .param("rules_names", std::vector<std::string>{"count"});
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  h.now = 5'000'000'000;
  ASSERT_EQ(h.process(h.make_batch({{{"x", weir::int_value(1)}}, {{"x", weir::int_value(2)}}})), WEIR_OK);
  ASSERT_EQ(h.vt().on_timer(h.instance(), 6'000'000'000), WEIR_OK);
  std::vector<std::string> rows;
  for (const auto& e : h.emitted)
    if (e.port == "count") rows.push_back(e.json);
  EXPECT_EQ(rows, (std::vector<std::string>{"{\"n\":20}"}));  // the batch [5 s, 6 s) contains 5.5 s: the second version
}

TEST(CepRuleStore, SeveralRulesEachWithItsOwnVersions) {
  Store s;
  s.put("20220426061000", rule(80));
  s.put("20220426061000", rule(100), "strict");
  Node n(s, {"overspeed", "strict"});
  n.start();
  n.drive("20220426061000", "20220426061030");
  EXPECT_EQ(n.rows(), (std::vector<std::string>{kX, kY}));
  EXPECT_EQ(n.rows("strict"), (std::vector<std::string>{kY}));
}

// ---------------------------------------------------------------- start and configuration

TEST(CepRuleStore, AMissingRuleFailsTheStartClearly) {
  Store s;
  s.put("20220426061000", rule(80));
  Node n(s, {"overspeed", "speeding"});
  ASSERT_EQ(n.host.create(), "");
  EXPECT_EQ(n.host.vt().open(n.host.instance()), WEIR_FAILED);
  EXPECT_TRUE(n.logged("ERROR rule 'speeding' is not in the rule store 'memory' (in memory) (publish it with `weir-rules put "
                       "speeding FILE`)"))
      << n.logs();
}

TEST(CepRuleStore, AStoreNotReadInTimeFailsTheStart) {
  struct Stuck : st::RuleSource {
    std::string describe() const override { return "topic 'weir-rules' at nowhere:9092"; }
  };
  auto stuck = std::make_shared<Stuck>();
  stuck->set_problem("no answer from the brokers: Local: Broker transport failure");
  st::install_rule_source("nowhere:9092", "weir-rules", stuck);
  FakeHost h(weir_plugin_entry());
  h.param("rules_topic", std::string("weir-rules")).param("rules_endpoints", std::string("nowhere:9092"))
      .param("rules_names", std::vector<std::string>{"overspeed"}).param("rules_timeout_ms", int64_t{50});
  ASSERT_EQ(h.create(), "");
  EXPECT_EQ(h.vt().open(h.instance()), WEIR_FAILED);
  ASSERT_FALSE(h.logs.empty());
  EXPECT_EQ(h.logs.back(), "ERROR rule store topic 'weir-rules' at nowhere:9092: not read to its end within 50 ms: no answer "
                           "from the brokers: Local: Broker transport failure");
  st::install_rule_source("nowhere:9092", "weir-rules", nullptr);
}

TEST(CepRuleStore, ConfigurationErrors) {
  Store s;
  auto create = [&](const std::function<void(FakeHost&)>& set) {
    FakeHost h(weir_plugin_entry());
    set(h);
    return h.create();
  };
  EXPECT_EQ(create([&](FakeHost& h) {
              h.param("rules", std::vector<std::string>{"x.epl"}).param("rules_topic", std::string("weir-rules"))
                  .param("rules_endpoints", s.endpoints).param("rules_names", std::vector<std::string>{"overspeed"});
            }),
            "rules (files) and rules_topic (a rule store) exclude each other: give one of them");
  EXPECT_EQ(create([&](FakeHost& h) {
              h.param("rules_topic", std::string("weir-rules")).param("rules_endpoints", s.endpoints);
            }),
            "rules_names must name at least one rule of the store, e.g. [\"overspeed\"]");
  EXPECT_EQ(create([&](FakeHost& h) {
              h.param("rules_topic", std::string("weir-rules")).param("rules_names", std::vector<std::string>{"overspeed"});
            }),
            "rules_endpoints must name the rule store's brokers, e.g. \"${KAFKA_BOOTSTRAP}\"");
  EXPECT_EQ(create([&](FakeHost& h) { h.param("rules_names", std::vector<std::string>{"overspeed"}); }),
            "rules_names and rules_endpoints belong to a rule store: set rules_topic too");
  EXPECT_EQ(create([&](FakeHost& h) {
              h.param("rules_topic", std::string("weir-rules")).param("rules_endpoints", s.endpoints)
                  .param("rules_names", std::vector<std::string>{"over speed"});
            }),
            "rules_names: a rule name has only letters, digits, '_', '-' and '.', not 'over speed'");
  EXPECT_EQ(create([&](FakeHost& h) {
              h.param("rules_topic", std::string("weir-rules")).param("rules_endpoints", s.endpoints)
                  .param("rules_names", std::vector<std::string>{"a", "a"});
            }),
            "rules_names: 'a' is given twice");
}

// A configured variable applies to every version, and one no version uses is refused at the start.
TEST(CepRuleStore, VariablesApplyToEveryVersion) {
  Store s;
  s.put("20220426061000", rule(80));
  s.put("20220426061045", rule(100));
  Node n(s);
  n.host.param("variables", std::vector<std::pair<std::string, std::string>>{{"threshold", "95"}});
  n.start();
  n.drive("20220426061000", "20220426061100");
  EXPECT_EQ(n.rows(), (std::vector<std::string>{kY, kY})) << n.logs();

  Node typo(s);
  typo.host.param("variables", std::vector<std::pair<std::string, std::string>>{{"treshold", "95"}});
  ASSERT_EQ(typo.host.create(), "");
  EXPECT_EQ(typo.host.vt().open(typo.host.instance()), WEIR_FAILED);
  EXPECT_TRUE(typo.logged("ERROR variables.treshold: no rule file declares or uses a variable named 'treshold'")) << typo.logs();
}

}  // namespace
