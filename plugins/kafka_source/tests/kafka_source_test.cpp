// kafka_source against librdkafka's mock cluster, driven through the fake host:
// every record once and in partition order, commits of acknowledged offsets
// only, restart from the commit, multi-topic position encoding, rebalances
// with in-flight records, lag gauges, parameter errors.
#include "mock_cluster.hpp"

#include <fake_host.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::testing::FakeHost;
using weir::testing::MockCluster;

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct Rec {
  std::string topic, key, payload;
  int32_t partition = 0;
  int64_t offset = 0;
};

Rec parse(const std::string& json) {
  static const std::regex kKey(R"re("_key":"([^"]*)")re"), kPayload(R"re("_payload":"([^"]*)")re"),
      kMeta(R"re("topic":"([^"]*)","partition":(\d+),"offset":(\d+))re");
  Rec r;
  std::smatch m;
  if (std::regex_search(json, m, kKey)) r.key = m[1];
  if (std::regex_search(json, m, kPayload)) r.payload = m[1];
  if (std::regex_search(json, m, kMeta)) {
    r.topic = m[1];
    r.partition = std::stoi(m[2]);
    r.offset = std::stoll(m[3]);
  }
  return r;
}

// Faster group membership than the defaults, for tests.
const Settings kFast = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}, {"log_level", "4"}};

struct Source {
  FakeHost h{weir_plugin_entry()};
  std::vector<Rec> records;
  std::map<std::string, int32_t> topic_index;  // what the test expects the plugin to assign
  int last = WEIR_OK;

  Source(const MockCluster& mc, const std::vector<std::string>& topics, const std::string& group, Settings extra = {}) {
    h.param("endpoints", mc.bootstraps()).param("topics", topics).param("group_id", group);
    Settings rd = kFast;
    for (auto& kv : extra) rd.push_back(kv);
    h.param("rdkafka", rd);
  }
  std::string create() { return h.create(); }
  void open() {
    ASSERT_EQ(h.create(), "");
    ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  }
  int poll() {
    size_t before = h.emitted.size();
    last = h.vt().poll(h.instance());
    for (size_t i = before; i < h.emitted.size(); ++i) records.push_back(parse(h.emitted[i].json));
    return last;
  }
  template <class Pred>
  bool poll_until(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (poll() == WEIR_IDLE) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (last == WEIR_FAILED || last == WEIR_END) return done();
    }
    return true;
  }
  // Acknowledge records, as the host does: the highest offset per (encoded) partition.
  void ack(const std::vector<Rec>& recs) {
    std::map<int32_t, int64_t> highest;
    for (const Rec& r : recs) {
      int32_t id = topic_index[r.topic] * 65536 + r.partition;
      highest[id] = std::max(highest.count(id) ? highest[id] : -1, r.offset);
    }
    std::vector<weir_position> pos;
    for (auto [p, o] : highest) pos.push_back({p, o});
    ASSERT_EQ(h.vt().commit(h.instance(), pos.data(), static_cast<uint32_t>(pos.size())), WEIR_OK);
  }
  void close() { ASSERT_EQ(h.vt().close(h.instance()), WEIR_OK); }
  ~Source() {
    if (::testing::Test::HasFailure())
      for (auto& l : h.logs) std::fprintf(stderr, "  log: %s\n", l.c_str());
  }
  bool logged(const std::string& text) const {
    return std::any_of(h.logs.begin(), h.logs.end(), [&](auto& l) { return l.find(text) != std::string::npos; });
  }
};

// Topic and group names unique per run (a real broker keeps them).
std::string unique(const std::string& base) {
  static int n = 0;
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

std::vector<std::pair<std::string, std::string>> numbered(int n, int first = 0) {
  std::vector<std::pair<std::string, std::string>> kvs;
  for (int i = first; i < first + n; ++i) kvs.emplace_back("k" + std::to_string(i % 13), "v" + std::to_string(i));
  return kvs;
}

// Every record exactly once, each partition's offsets 0.. in order.
[[maybe_unused]] void expect_once_in_order(const std::vector<Rec>& recs, size_t n) {
  std::set<std::string> values;
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (const Rec& r : recs) {
    EXPECT_TRUE(values.insert(r.payload).second) << "duplicate " << r.payload;
    int64_t& want = next[{r.topic, r.partition}];
    EXPECT_EQ(r.offset, want) << r.topic << "[" << r.partition << "]";
    want = r.offset + 1;
  }
  EXPECT_EQ(values.size(), n);
}

#ifndef WEIR_KAFKA_REAL_BROKER  // the mock-cluster tests (label unit)
TEST(KafkaSource, ReadsEveryRecordOnceInPartitionOrder) {
  MockCluster mc;
  mc.create_topic("t", 3);
  mc.produce("t", numbered(300));
  Source s(mc, {"t"}, "g1");
  s.open();
  ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 300; })) << s.records.size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.poll();
  EXPECT_EQ(s.records.size(), 300u);
  expect_once_in_order(s.records, 300);
  for (const Rec& r : s.records) {
    EXPECT_EQ(r.topic, "t");
    EXPECT_EQ(r.key, "k" + std::to_string(std::stoi(r.payload.substr(1)) % 13));
  }
  s.close();
  EXPECT_TRUE(s.logged("assigned t[0,1,2]"));
}

// Only acknowledged offsets are committed (offset + 1); a restart resumes right after them.
TEST(KafkaSource, CommitsOnlyAcknowledgedOffsetsAndResumesThere) {
  MockCluster mc;
  mc.create_topic("t", 2);
  mc.produce("t", numbered(200));
  std::vector<Rec> acked;
  {
    Source s(mc, {"t"}, "g2");
    s.open();
    ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 200; }));
    // Acknowledge the first 30 records of partition 0 and 10 of partition 1.
    for (const Rec& r : s.records)
      if ((r.partition == 0 && r.offset < 30) || (r.partition == 1 && r.offset < 10)) acked.push_back(r);
    s.ack(acked);
    s.close();
  }
  auto committed = mc.committed("g2", "t", 2);
  EXPECT_EQ(committed[0], 30);
  EXPECT_EQ(committed[1], 10);

  Source again(mc, {"t"}, "g2");
  again.open();
  ASSERT_TRUE(again.poll_until([&] { return again.records.size() >= 160; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  again.poll();
  EXPECT_EQ(again.records.size(), 160u);  // nothing acknowledged is read again, nothing else is skipped
  std::set<std::string> all;
  for (auto& r : acked) all.insert(r.payload);
  for (auto& r : again.records) EXPECT_TRUE(all.insert(r.payload).second) << "read again: " << r.payload;
  EXPECT_EQ(all.size(), 200u);
  for (const Rec& r : again.records) EXPECT_GE(r.offset, r.partition == 0 ? 30 : 10);
  again.close();
}

TEST(KafkaSource, CommitIntervalZeroCommitsAtOnce) {
  MockCluster mc;
  mc.create_topic("t", 1);
  mc.produce("t", numbered(20));
  FakeHost* host = nullptr;
  Source s(mc, {"t"}, "g3");
  s.h.param("commit_interval_ms", int64_t{0});
  host = &s.h;
  s.open();
  ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 20; }));
  s.ack({s.records[4]});
  // The async commit completes in the background; poll serves its result.
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    s.poll();
    seen = mc.committed("g3", "t", 1)[0] == 5;
  }
  EXPECT_TRUE(seen);
  s.close();
  (void)host;
}

// Several topics: position.partition = topic_index * 65536 + partition.
TEST(KafkaSource, SeveralTopicsAndRegexSubscriptions) {
  MockCluster mc;
  mc.create_topic("alpha", 2);
  mc.create_topic("beta", 2);
  mc.produce("alpha", numbered(40, 0));
  mc.produce("beta", numbered(60, 1000));
  Source s(mc, {"alpha", "beta"}, "g4");
  s.topic_index = {{"alpha", 0}, {"beta", 1}};  // in the order the assignment lists them
  s.open();
  ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 100; }));
  expect_once_in_order(s.records, 100);
  s.ack(s.records);
  s.close();
  auto a = mc.committed("g4", "alpha", 2), b = mc.committed("g4", "beta", 2);
  int64_t ends[2] = {0, 0};
  for (const Rec& r : s.records) ends[r.topic == "beta"] += 1;
  EXPECT_EQ(a[0] + a[1], ends[0]);
  EXPECT_EQ(b[0] + b[1], ends[1]);

  mc.create_topic("metrics-1", 1);
  mc.create_topic("metrics-2", 1);
  mc.produce("metrics-1", numbered(5, 0));
  mc.produce("metrics-2", numbered(7, 100));
  Source re(mc, {"^metrics-.*"}, "g5");
  re.open();
  ASSERT_TRUE(re.poll_until([&] { return re.records.size() >= 12; }));
  expect_once_in_order(re.records, 12);
  re.close();
}

#endif

// A second member joins: the first stops reading, finishes its in-flight
// records (acked here), commits and only then lets the partitions go. Nothing
// is read twice, nothing is skipped.
//
// With the eager protocol (range, roundrobin) the revoke happens while the
// group is rebalancing: Kafka accepts that commit, but librdkafka 2.0.2's mock
// cluster refuses it (REBALANCE_IN_PROGRESS), so there the test can only check
// that nothing is missing; with cooperative-sticky it checks no duplicates too.
void rebalance_waits_for_in_flight_records(const std::string& strategy, bool expect_no_duplicates,
                                           const std::string& bootstrap = "") {
  MockCluster mc(1, bootstrap);
  const std::string topic = unique("r"), group = unique("g6-" + strategy);
  mc.create_topic(topic, 4);
  mc.produce(topic, numbered(200));
  Settings st = {{"partition.assignment.strategy", strategy}};
  Source a(mc, {topic}, group, st);
  a.open();
  ASSERT_TRUE(a.poll_until([&] { return a.records.size() >= 200; }));
  Source b(mc, {topic}, group, st);
  b.open();
  // Poll both until A is waiting on its revoke.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!a.logged("revoking") && std::chrono::steady_clock::now() < deadline) {
    a.poll();
    b.poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(a.logged("revoking")) << "no rebalance";
  EXPECT_EQ(a.poll(), WEIR_IDLE);  // waiting for acks, reading nothing
  a.ack(a.records);                // the pipeline finishes the in-flight records
  // Both end up with partitions; new records go to whoever owns them.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && !(a.logged("revoked") && b.logged("assigned " + topic + "["))) {
    a.poll();
    b.poll();
  }
  ASSERT_TRUE(b.logged("assigned " + topic + "[")) << "B got nothing";
  mc.produce(topic, numbered(100, 200));
  // Poll until every record was seen (duplicates do not count).
  std::set<std::string> values;
  auto collect = [&] {
    values.clear();
    for (auto* s : {&a, &b})
      for (auto& r : s->records) values.insert(r.payload);
  };
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  for (collect(); values.size() < 300 && std::chrono::steady_clock::now() < deadline; collect()) {
    a.poll();
    b.poll();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  a.poll();
  b.poll();
  collect();
  EXPECT_EQ(values.size(), 300u) << "nothing is missing";
  size_t twice = a.records.size() + b.records.size() - values.size();
  // librdkafka 2.0.2's mock refuses commits while the group rebalances (Kafka
  // accepts them in PreparingRebalance); under load that can happen with any
  // protocol. When the revoke's commit went through, nothing is read twice.
  bool commit_refused = a.logged("final offset commit failed");
  if (!mc.is_mock()) {
    EXPECT_FALSE(commit_refused) << "a real broker accepts the commit of a revoke";
  }
  if (expect_no_duplicates && !commit_refused) {
    EXPECT_EQ(twice, 0u) << "records read twice";
  } else {
    std::fprintf(stderr, "  %s: %zu records read twice (the commit during the rebalance was refused)\n", strategy.c_str(), twice);
  }
  EXPECT_GT(b.records.size(), 0u);
  a.close();
  b.close();
}

#ifndef WEIR_KAFKA_REAL_BROKER
TEST(KafkaSource, RebalanceWaitsForInFlightRecordsCooperative) {
  rebalance_waits_for_in_flight_records("cooperative-sticky", true);
}

TEST(KafkaSource, RebalanceWaitsForInFlightRecordsEager) { rebalance_waits_for_in_flight_records("range", false); }
#else
// A real broker accepts the commit made while an eager rebalance waits for
// the revoking member: no duplicates with either protocol (label kafka).
std::string broker() {
  const char* b = std::getenv("KAFKA_BOOTSTRAP");
  return b ? b : "";
}
TEST(KafkaSourceBroker, RebalanceWaitsForInFlightRecordsEager) {
  if (broker().empty()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is not set (scripts/services/kafka.sh start; source .services/kafka.env)";
  rebalance_waits_for_in_flight_records("range", true, broker());
}
TEST(KafkaSourceBroker, RebalanceWaitsForInFlightRecordsCooperative) {
  if (broker().empty()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is not set (scripts/services/kafka.sh start; source .services/kafka.env)";
  rebalance_waits_for_in_flight_records("cooperative-sticky", true, broker());
}
#endif

// The pipeline holds the source back (a sink stalls): its thread is blocked
// inside emit(), so neither poll() nor on_timer() runs, while producers keep
// writing. The lag gauges must follow the backlog all the same: they used to
// be published from on_timer only, with librdkafka's cached high watermark,
// and froze (at 0 in production, during a 20 s HBase stall).
void lag_follows_the_backlog_while_held_back(const std::string& bootstrap) {
  MockCluster mc(1, bootstrap);
  const std::string topic = unique("lag"), group = unique("g-lag");
  mc.create_topic(topic, 1);
  mc.produce(topic, numbered(100), 0);
  Source s(mc, {topic}, group);
  s.h.param("lag_interval_ms", int64_t{100}).param("batch_size", int64_t{50}).param("commit_interval_ms", int64_t{0});
  s.open();
  ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 100; }));
  s.ack(s.records);  // written downstream: committed up to 100
  constexpr int64_t kBacklog = 20000;
  mc.produce(topic, numbered(kBacklog, 100), 0);
  // One more batch read and emitted, not acknowledged; then the source is stuck in emit().
  ASSERT_TRUE(s.poll_until([&] { return s.records.size() >= 150; }));
  const int64_t consumed = static_cast<int64_t>(s.records.size()), end = 100 + kBacklog;
  const std::string lag = "kafka_consumer_lag{topic=\"" + topic + "\",partition=\"0\"}";
  const std::string unread = "kafka_consumer_position_lag{topic=\"" + topic + "\",partition=\"0\"}";
  for (int i = 0; i < 400 && !(s.h.gauge_now(lag) == kBacklog && s.h.gauge_now(unread) == end - consumed); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(s.h.gauge_now(lag), kBacklog) << "end offset " << end << " minus the committed 100";
  EXPECT_EQ(s.h.gauge_now(unread), end - consumed) << "end offset minus the " << consumed << " read";
  s.close();
}

#ifndef WEIR_KAFKA_REAL_BROKER
TEST(KafkaSource, LagFollowsTheBacklogWhileTheSourceIsHeldBack) { lag_follows_the_backlog_while_held_back(""); }
#else
TEST(KafkaSourceBroker, LagFollowsTheBacklogWhileTheSourceIsHeldBack) {
  if (broker().empty()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is not set (scripts/services/kafka.sh start; source .services/kafka.env)";
  lag_follows_the_backlog_while_held_back(broker());
}
#endif

#ifndef WEIR_KAFKA_REAL_BROKER
// In-flight records not acknowledged within revoke_timeout_ms are not
// committed: the partitions' next owner reads them again (at-least-once).
TEST(KafkaSource, RevokeTimeoutLeavesUnackedRecordsForTheNextOwner) {
  MockCluster mc;
  mc.create_topic("r", 2);
  mc.produce("r", numbered(100));
  Source a(mc, {"r"}, "g7", {{"partition.assignment.strategy", "roundrobin"}});
  a.h.param("revoke_timeout_ms", int64_t{500});
  a.open();
  ASSERT_TRUE(a.poll_until([&] { return a.records.size() >= 100; }));
  // Half of partition 0 is acknowledged before the rebalance.
  std::vector<Rec> acked;
  for (auto& r : a.records)
    if (r.partition == 0 && r.offset < 20) acked.push_back(r);
  a.ack(acked);
  Source b(mc, {"r"}, "g7", {{"partition.assignment.strategy", "roundrobin"}});
  b.open();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline && a.records.size() + b.records.size() < 180) {
    a.poll();
    b.poll();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  a.poll();
  b.poll();
  EXPECT_TRUE(a.logged("not all acknowledged within revoke_timeout_ms"));
  std::map<std::string, int> seen;
  for (auto& r : a.records) ++seen[r.payload];
  for (auto& r : b.records) ++seen[r.payload];
  EXPECT_EQ(seen.size(), 100u) << "nothing missing";
  int duplicates = 0;
  for (auto& [v, n] : seen) duplicates += n - 1;
  // The unacknowledged records come again: 100 - 20 (more only if the mock
  // rebalanced once more under load and refused a commit then).
  EXPECT_GE(duplicates, 80);
  if (duplicates != 80) std::fprintf(stderr, "  %d duplicates (80 expected without an extra rebalance)\n", duplicates);
  a.close();
  b.close();
}

TEST(KafkaSource, LagGaugeAndLimits) {
  MockCluster mc;
  mc.create_topic("t", 1);
  mc.produce("t", numbered(300));
  Source s(mc, {"t"}, "g8");
  s.h.param("max_records", int64_t{50}).param("batch_size", int64_t{20}).param("lag_interval_ms", int64_t{50});
  s.open();
  ASSERT_TRUE(s.poll_until([&] { return s.last == WEIR_END; }));
  EXPECT_EQ(s.records.size(), 50u);
  // Nothing committed: all 300 are still to be delivered; 250 are not even read.
  const std::string lag = "kafka_consumer_lag{topic=\"t\",partition=\"0\"}";
  const std::string unread = "kafka_consumer_position_lag{topic=\"t\",partition=\"0\"}";
  for (int i = 0; i < 200 && !(s.h.gauge_now(lag) == 300.0 && s.h.gauge_now(unread) == 250.0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(s.h.gauge_now(lag), 300.0);
  EXPECT_EQ(s.h.gauge_now(unread), 250.0);
  EXPECT_EQ(s.h.gauges["kafka_assigned_partitions{}"], 1.0);
  EXPECT_EQ(s.h.timer_ms, 50);
  s.close();
  EXPECT_EQ(s.h.gauges.count("kafka_consumer_lag{topic=\"t\",partition=\"0\"}"), 0u)
      << "a partition no longer assigned has no lag gauge";

  Source e(mc, {"t"}, "g9");
  e.h.param("end_at_eof", true);
  e.open();
  ASSERT_TRUE(e.poll_until([&] { return e.last == WEIR_END; }));
  EXPECT_EQ(e.records.size(), 300u);
  e.close();
}

TEST(KafkaSource, ParameterErrors) {
  MockCluster mc;
  auto error_of = [&](Settings rd, auto&&... more) {
    Source s(mc, {"t"}, "g", rd);
    (more(s.h), ...);
    return s.create();
  };
  auto none = [](FakeHost&) {};
  EXPECT_EQ(error_of({}, none), "");
  EXPECT_NE(error_of({{"enable.auto.commit", "true"}}, none).find("kafka_source commits acknowledged offsets itself"),
            std::string::npos);
  EXPECT_NE(error_of({{"group.id", "x"}}, none).find("use the parameter group_id"), std::string::npos);
  EXPECT_NE(error_of({{"no.such.property", "1"}}, none).find("rdkafka.no.such.property"), std::string::npos);
  EXPECT_NE(error_of({{"fetch.wait.max.ms", "soon"}}, none).find("fetch.wait.max.ms"), std::string::npos);
  EXPECT_NE(error_of({}, [](FakeHost& h) { h.param("start", std::string("beginning")); }).find("earliest"), std::string::npos);
  // Two errors are both reported.
  std::string two = error_of({{"no.such", "1"}, {"enable.auto.offset.store", "true"}}, none);
  EXPECT_NE(two.find("2 librdkafka settings refused"), std::string::npos) << two;
}

#endif

}  // namespace
