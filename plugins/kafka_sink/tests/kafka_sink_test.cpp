// kafka_sink against librdkafka's mock cluster, driven through the fake host:
// acks only after delivery, key/value selection (key templates), failed deliveries retried
// record by record, then sent to the error port; parameter errors.
//
// The sink acks from its poll thread (the fake host locks), so the tests look
// at acks only after flush() (every delivery report served) or close() (poll
// thread joined).
#include "../../kafka_source/tests/mock_cluster.hpp"

#include <fake_host.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::testing::FakeHost;
using weir::testing::MockCluster;

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct Sink {
  FakeHost h{weir_plugin_entry()};
  Sink(const MockCluster& mc, const std::string& topic, Settings rd = {}) {
    h.param("endpoints", mc.bootstraps()).param("topic", topic);
    rd.emplace_back("log_level", "0");  // librdkafka's own logs would race on the fake host
    h.param("rdkafka", rd);
  }
  void open() {
    ASSERT_EQ(h.create(), "");
    ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  }
  int write(const weir_batch* b) { return h.write(b); }  // one attempt, as the host makes it
  void flush() { ASSERT_EQ(h.vt().flush(h.instance()), WEIR_OK); }
  void close() { ASSERT_EQ(h.vt().close(h.instance()), WEIR_OK); }
  // Writes B and waits until it is acknowledged, once, as delivered.
  void deliver(const weir_batch* b) {
    size_t acks = h.acked.size();
    EXPECT_EQ(write(b), WEIR_PENDING);
    flush();
    ASSERT_EQ(h.acked.size(), acks + 1);
    EXPECT_EQ(h.acked.back(), "ok");
  }
};

TEST(KafkaSink, AcksABatchOnceAllItsRecordsAreDelivered) {
  MockCluster mc;
  mc.create_topic("out", 3);
  Sink s(mc, "out");
  s.open();
  std::vector<const weir_batch*> batches;
  for (int b = 0; b < 5; ++b) {
    std::vector<std::string> payloads;
    for (int i = 0; i < 100; ++i) payloads.push_back("v" + std::to_string(b * 100 + i));
    batches.push_back(s.h.make_batch({}, payloads));
  }
  for (auto* b : batches) EXPECT_EQ(s.write(b), WEIR_PENDING);
  s.flush();
  EXPECT_EQ(s.h.acked, std::vector<std::string>(5, "ok"));
  s.close();
  auto msgs = mc.read_all("out", 3, 500);
  ASSERT_EQ(msgs.size(), 500u);
  std::set<std::string> values;
  for (auto& m : msgs) values.insert(m.value);
  EXPECT_EQ(values.size(), 500u);
}

TEST(KafkaSink, KeyAndValueFromFieldsAndEventTime) {
  MockCluster mc;
  mc.create_topic("out", 2);
  Sink s(mc, "out");
  s.h.param("key_field", std::string("car")).param("value_field", std::string("speed")).param("event_time_as_timestamp", true);
  s.open();
  using F = FakeHost::Fields;
  const weir_batch* b = s.h.make_batch({F{{"car", FakeHost::str("O0010")}, {"speed", weir::int_value(85)}},
                                        F{{"car", FakeHost::str("Z0001")}, {"speed", FakeHost::str("fast")}},
                                        F{{"speed", weir::int_value(1)}}});  // no key field: rejected
  // Event time becomes the message timestamp.
  const_cast<weir_record*>(&b->records[0])->event_time_ns = 1650953400123LL * 1'000'000;
  s.deliver(b);
  ASSERT_EQ(s.h.rejected.size(), 1u);
  EXPECT_NE(s.h.rejected[0].find("key_field 'car' is missing"), std::string::npos);
  s.close();
  auto msgs = mc.read_all("out", 2, 2);
  ASSERT_EQ(msgs.size(), 2u);
  std::map<std::string, weir::testing::KafkaMessage> by_key;
  for (auto& m : msgs) by_key[m.key] = m;
  EXPECT_EQ(by_key["O0010"].value, "85");
  EXPECT_EQ(by_key["O0010"].timestamp_ms, 1650953400123LL);
  EXPECT_EQ(by_key["Z0001"].value, "fast");
}

// key: a template of the SDK's language; a record it cannot render goes to the error port.
TEST(KafkaSink, KeyFromATemplate) {
  MockCluster mc;
  mc.create_topic("out", 2);
  Sink s(mc, "out");
  s.h.param("key", std::string("{car}-{date[0:8]}|{ok}")).param("value_field", std::string("speed"));
  s.open();
  using F = FakeHost::Fields;
  const weir_batch* b = s.h.make_batch(
      {F{{"car", FakeHost::str("O0010")}, {"date", FakeHost::str("20220426061000")}, {"ok", weir::bool_value(true)},
         {"speed", weir::int_value(85)}},
       F{{"car", FakeHost::str("Z0001")}, {"date", FakeHost::str("2022")}, {"ok", weir::bool_value(false)},
         {"speed", weir::int_value(1)}}});  // date too short for its slice: rejected
  s.deliver(b);
  ASSERT_EQ(s.h.rejected.size(), 1u);
  EXPECT_NE(s.h.rejected[0].find("key {car}-{date[0:8]}|{ok}: field 'date' is \"2022\" (4 bytes); {date[0:8]} needs 8"),
            std::string::npos)
      << s.h.rejected[0];
  s.close();
  auto msgs = mc.read_all("out", 2, 1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].key, "O0010-20220426|true");
  EXPECT_EQ(msgs[0].value, "85");
}

// A topic per record: each message in the topic its template renders, a
// key's messages on the partition murmur2 gives them, in their order.
TEST(KafkaSink, TopicFromATemplate) {
  MockCluster mc;
  mc.create_topic("cars-a", 2);
  mc.create_topic("cars-b", 2);
  Sink s(mc, "cars-{fleet}");
  s.h.param("key_field", std::string("car")).param("value_field", std::string("seq"));
  s.open();
  using F = FakeHost::Fields;
  std::vector<F> rows;
  for (int i = 0; i < 60; ++i)
    rows.push_back(F{{"fleet", FakeHost::str(i % 3 == 0 ? "a" : "b")}, {"car", FakeHost::str(i % 2 ? "C1" : "C2")},
                     {"seq", weir::int_value(i)}});
  rows.push_back(F{{"car", FakeHost::str("C3")}, {"seq", weir::int_value(99)}});  // no fleet: rejected
  s.deliver(s.h.make_batch(rows));
  ASSERT_EQ(s.h.rejected.size(), 1u);
  EXPECT_NE(s.h.rejected[0].find("topic cars-{fleet}: "), std::string::npos) << s.h.rejected[0];
  s.close();
  for (const char* fleet : {"a", "b"}) {
    auto msgs = mc.read_all(std::string("cars-") + fleet, 2, fleet[0] == 'a' ? 20 : 40);
    ASSERT_EQ(msgs.size(), fleet[0] == 'a' ? 20u : 40u) << fleet;
    std::map<std::string, std::vector<int>> seqs;
    for (auto& m : msgs) {
      int seq = std::stoi(m.value);
      EXPECT_EQ(seq % 3 == 0, fleet[0] == 'a') << "seq " << seq << " in fleet " << fleet;
      EXPECT_EQ(m.partition, rd_kafka_msg_partitioner_murmur2_random(nullptr, m.key.data(), m.key.size(), 2, nullptr, nullptr));
      seqs[m.key].push_back(seq);
    }
    for (auto& [key, v] : seqs) EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << key;
  }
}

TEST(KafkaSink, ProduceTimeByDefault) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out");
  s.open();
  const weir_batch* b = s.h.make_batch({}, {"x"});
  const_cast<weir_record*>(&b->records[0])->event_time_ns = 1650953400123LL * 1'000'000;  // 2022
  int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_EQ(s.write(b), WEIR_PENDING);
  s.flush();
  s.close();
  auto msgs = mc.read_all("out", 1, 1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_GE(msgs[0].timestamp_ms, before);  // not 2022: Kafka's time retention would delete it
}

TEST(KafkaSink, JsonValueAndRecordKey) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out");
  s.h.param("json_value", true);
  s.open();
  const weir_batch* b = s.h.make_batch({FakeHost::Fields{{"speed", weir::int_value(85)}}}, {"line"});
  const_cast<weir_record*>(&b->records[0])->key = {"k1", 2};
  EXPECT_EQ(s.write(b), WEIR_PENDING);
  s.flush();
  s.close();
  auto msgs = mc.read_all("out", 1, 1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].key, "k1");
  EXPECT_EQ(msgs[0].value, "{\"_key\":\"k1\",\"_payload\":\"line\",\"speed\":85}");
}

// librdkafka's queue holds fewer messages than a batch: write() hands the batch
// over in chunks, waiting for deliveries in between (backpressure), in order.
TEST(KafkaSink, BatchesLargerThanTheProducerQueueKeepTheirOrder) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out", {{"queue.buffering.max.messages", "10"}});
  s.open();
  std::vector<std::string> payloads;
  for (int i = 0; i < 250; ++i) payloads.push_back("v" + std::to_string(i));
  const weir_batch* b = s.h.make_batch({}, payloads);
  s.deliver(b);
  s.close();
  auto msgs = mc.read_all("out", 1, 250);
  ASSERT_EQ(msgs.size(), 250u);
  for (int i = 0; i < 250; ++i) EXPECT_EQ(msgs[i].value, payloads[i]);
}

// keyed = false: no message key, even though the records have one.
TEST(KafkaSink, UnkeyedMessages) {
  MockCluster mc;
  mc.create_topic("out", 2);
  Sink s(mc, "out");
  s.h.param("keyed", false);
  s.open();
  const weir_batch* b = s.h.make_batch({}, {"a", "b", "c"});
  for (int i = 0; i < 3; ++i) const_cast<weir_record*>(&b->records[i])->key = {"k1", 2};
  s.deliver(b);
  s.close();
  auto msgs = mc.read_all("out", 2, 3);
  ASSERT_EQ(msgs.size(), 3u);
  for (auto& m : msgs) EXPECT_EQ(m.key, "");
}

// Keyed records are partitioned by kafka_sink itself (a whole run per
// partition), exactly as librdkafka's murmur2_random partitioner (= the Java
// client's) would: same key, same partition, in order.
TEST(KafkaSink, KeyedRecordsLandWhereMurmur2PutsThemInOrder) {
  MockCluster mc;
  mc.create_topic("out", 3);
  Sink s(mc, "out");
  s.h.param("key_field", std::string("car")).param("value_field", std::string("seq"));
  s.open();
  using F = FakeHost::Fields;
  std::vector<std::string> cars;
  for (int c = 0; c < 17; ++c) cars.push_back("C" + std::to_string(c));
  std::vector<F> rows;
  for (int i = 0; i < 200; ++i) rows.push_back(F{{"car", FakeHost::str(cars[i % 17].c_str())}, {"seq", weir::int_value(i)}});
  s.deliver(s.h.make_batch(rows));
  s.close();
  auto msgs = mc.read_all("out", 3, 200);
  ASSERT_EQ(msgs.size(), 200u);
  std::map<std::string, std::vector<int>> seqs_of_key;
  std::set<int32_t> used;
  for (auto& m : msgs) {
    int32_t expected = rd_kafka_msg_partitioner_murmur2_random(nullptr, m.key.data(), m.key.size(), 3, nullptr, nullptr);
    EXPECT_EQ(m.partition, expected) << "key " << m.key;
    seqs_of_key[m.key].push_back(std::stoi(m.value));
    used.insert(m.partition);
  }
  EXPECT_EQ(seqs_of_key.size(), 17u);
  for (auto& [key, seqs] : seqs_of_key) EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << key << " out of order";
  EXPECT_EQ(used.size(), 3u);
}

// keyed = false: a batch goes to one partition, the next batch to the next
// one, so every partition gets whole batches and all of them get some.
TEST(KafkaSink, UnkeyedBatchesGoWholeToOnePartitionInTurn) {
  MockCluster mc;
  mc.create_topic("out", 3);
  Sink s(mc, "out");
  s.h.param("keyed", false);
  s.open();
  for (int b = 0; b < 6; ++b) {
    std::vector<std::string> payloads;
    for (int i = 0; i < 10; ++i) payloads.push_back(std::to_string(b) + "-" + std::to_string(i));
    s.deliver(s.h.make_batch({}, payloads));
  }
  EXPECT_EQ(s.h.acked, std::vector<std::string>(6, "ok"));
  s.close();
  auto msgs = mc.read_all("out", 3, 60);
  ASSERT_EQ(msgs.size(), 60u);
  std::map<std::string, std::set<int32_t>> partitions_of_batch;
  std::set<int32_t> used;
  for (auto& m : msgs) {
    partitions_of_batch[m.value.substr(0, m.value.find('-'))].insert(m.partition);
    used.insert(m.partition);
  }
  ASSERT_EQ(partitions_of_batch.size(), 6u);
  for (auto& [batch, parts] : partitions_of_batch) EXPECT_EQ(parts.size(), 1u) << "batch " << batch << " was split";
  EXPECT_EQ(used.size(), 3u) << "every partition gets batches in turn";
}

// The broker is down longer than delivery_timeout_ms: the batch is acked as
// failed; the host writes it again and only the undelivered records go out.
TEST(KafkaSink, FailedDeliveriesAreRetriedByTheHost) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out");
  s.h.param("delivery_timeout_ms", int64_t{1500});
  s.open();
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back("v" + std::to_string(i));
  const weir_batch* b = s.h.make_batch({}, payloads);
  rd_kafka_mock_broker_set_down(mc.raw(), 1);
  EXPECT_EQ(s.write(b), WEIR_PENDING);
  s.flush();
  ASSERT_EQ(s.h.acked.size(), 1u);
  EXPECT_EQ(s.h.acked[0].rfind("retry: delivery to out failed: ", 0), 0u) << s.h.acked[0];
  rd_kafka_mock_broker_set_up(mc.raw(), 1);
  // What the host does with a failed batch: write it again (with backoff). The
  // first attempts after the outage may still fail: the idempotent producer
  // first re-establishes its producer id once timed-out messages were queued.
  int st = WEIR_FAILED;
  for (int attempt = 0; attempt < 10; ++attempt) {
    st = s.write(b);
    ASSERT_TRUE(st == WEIR_PENDING || st == WEIR_OK || st == WEIR_RETRY) << st;
    s.flush();
    if (st == WEIR_OK || (st == WEIR_PENDING && s.h.acked.back() == "ok")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(st == WEIR_OK || s.h.acked.back() == "ok") << "never delivered after the broker came back";
  EXPECT_TRUE(s.h.rejected.empty());
  s.close();
  auto msgs = mc.read_all("out", 1, 50, std::chrono::seconds(10));
  EXPECT_EQ(msgs.size(), 50u);
}

TEST(KafkaSink, RecordsGoToTheErrorPortAfterDeliveryAttempts) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out");
  s.h.param("delivery_timeout_ms", int64_t{800}).param("delivery_attempts", int64_t{1});
  s.open();
  const weir_batch* b = s.h.make_batch({}, {"a", "b", "c"});
  rd_kafka_mock_broker_set_down(mc.raw(), 1);
  EXPECT_EQ(s.write(b), WEIR_PENDING);
  s.flush();
  ASSERT_EQ(s.h.acked.size(), 1u);
  EXPECT_EQ(s.h.acked[0].rfind("retry: ", 0), 0u) << s.h.acked[0];
  EXPECT_EQ(s.write(b), WEIR_OK);  // nothing left to send: all three refused
  ASSERT_EQ(s.h.rejected.size(), 3u);
  EXPECT_EQ(s.h.rejected[0].rfind("delivery to out failed 1 times", 0), 0u) << s.h.rejected[0];
  EXPECT_NE(s.h.rejected[2].find("| record 2"), std::string::npos) << s.h.rejected[2];
  s.close();
}

TEST(KafkaSink, TooLargeRecordsAreRejectedAtOnce) {
  MockCluster mc;
  mc.create_topic("out", 1);
  Sink s(mc, "out", {{"message.max.bytes", "10000"}});
  s.open();
  const weir_batch* b = s.h.make_batch({}, {"small", std::string(20000, 'x'), "small2"});
  s.deliver(b);
  ASSERT_EQ(s.h.rejected.size(), 1u);
  EXPECT_NE(s.h.rejected[0].find("Kafka refuses the record"), std::string::npos) << s.h.rejected[0];
  s.close();
  EXPECT_EQ(mc.read_all("out", 1, 2).size(), 2u);
}

TEST(KafkaSink, ParameterErrors) {
  MockCluster mc;
  auto error_of = [&](Settings rd, auto&&... more) {
    Sink s(mc, "t", rd);
    (more(s.h), ...);
    return s.h.create();
  };
  auto none = [](FakeHost&) {};
  EXPECT_EQ(error_of({}, none), "");
  EXPECT_NE(error_of({{"acks", "1"}}, none).find("acks=all"), std::string::npos);
  EXPECT_NE(error_of({{"enable.idempotence", "false"}}, none).find("idempotently"), std::string::npos);
  EXPECT_NE(error_of({{"linger.ms", "50"}}, none).find("use the parameter linger_ms"), std::string::npos);
  EXPECT_NE(error_of({{"bogus.setting", "1"}}, none).find("rdkafka.bogus.setting"), std::string::npos);
  EXPECT_NE(error_of({}, [](FakeHost& h) { h.param("compression", std::string("brotli")); }).find("compression.codec"),
            std::string::npos);
  EXPECT_NE(error_of({}, [](FakeHost& h) {
              h.param("keyed", false).param("key_field", std::string("car"));
            }).find("exclude each other"),
            std::string::npos);
  EXPECT_NE(error_of({}, [](FakeHost& h) {
              h.param("key", std::string("{car}")).param("key_field", std::string("car"));
            }).find("key and key_field exclude each other"),
            std::string::npos);
  EXPECT_EQ(error_of({}, [](FakeHost& h) { h.param("key", std::string("{car|revers}")); }),
            "key: template \"{car|revers}\", column 6: unknown filter 'revers'; did you mean 'reverse'?");
  EXPECT_NE(error_of({}, [](FakeHost& h) { h.param("key", std::string("fixed")); }).find("uses no field"),
            std::string::npos);
  EXPECT_NE(error_of({}, [](FakeHost& h) {
              h.param("json_value", true).param("value_field", std::string("x"));
            }).find("exclude each other"),
            std::string::npos);
}

}  // namespace
