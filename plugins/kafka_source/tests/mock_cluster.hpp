// librdkafka's in-process mock cluster for the Kafka plugins' unit tests: a
// broker on a loopback port (clients in this process or another one can
// connect), plus helpers to produce, read back and inspect committed offsets.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace weir::testing {

struct KafkaMessage {
  std::string topic, key, value;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
};

// With `bootstrap` empty: a mock cluster of `brokers` brokers; otherwise a
// real one (topics are then created with the admin API).
class MockCluster {
 public:
  explicit MockCluster(int brokers = 1, const std::string& bootstrap = "") {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (bootstrap.empty()) set(conf, "test.mock.num.brokers", std::to_string(brokers));
    else set(conf, "bootstrap.servers", bootstrap);
    set(conf, "log_level", "2");
    // This handle owns the mock cluster and doubles as a plain producer.
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) throw std::runtime_error(err);
    if (bootstrap.empty()) {
      mc_ = rd_kafka_handle_mock_cluster(rk_);
      bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc_);
    } else {
      bootstraps_ = bootstrap;
    }
  }
  ~MockCluster() { rd_kafka_destroy(rk_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* raw() const { return mc_; }
  bool is_mock() const { return mc_ != nullptr; }

  void create_topic(const std::string& topic, int partitions) {
    if (mc_) {
      if (rd_kafka_mock_topic_create(mc_, topic.c_str(), partitions, 1)) throw std::runtime_error("mock topic_create");
      return;
    }
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, nullptr, 0);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
    rd_kafka_CreateTopics(rk_, &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    // Wait for the leaders.
    for (int i = 0; i < 100; ++i) {
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
      bool ready = rd_kafka_metadata(rk_, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
                   md->topics[0].partition_cnt == partitions;
      for (int p = 0; ready && p < partitions; ++p) ready = md->topics[0].partitions[p].leader >= 0;
      if (md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(rkt);
      if (ready) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("topic " + topic + " has no leaders");
  }

  // Produces (key, value) pairs; partition -1 = by key. Waits for delivery.
  void produce(const std::string& topic, const std::vector<std::pair<std::string, std::string>>& kvs, int32_t partition = -1,
               int64_t timestamp_ms = 0) {
    for (const auto& [k, v] : kvs) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(k.data(), k.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
      if (e) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(e));
    }
    if (rd_kafka_flush(rk_, 10000)) throw std::runtime_error("produce: flush timed out");
  }

  // Reads every partition of `topic` from the beginning until `count`
  // messages arrived or `timeout` passed (no group, no commits).
  std::vector<KafkaMessage> read_all(const std::string& topic, int partitions, size_t count,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    rd_kafka_t* c = consumer("");
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(l, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    std::vector<KafkaMessage> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (!m) continue;
      if (!m->err) {
        KafkaMessage km;
        km.topic = rd_kafka_topic_name(m->rkt);
        km.partition = m->partition;
        km.offset = m->offset;
        if (m->key) km.key.assign(static_cast<const char*>(m->key), m->key_len);
        if (m->payload) km.value.assign(static_cast<const char*>(m->payload), m->len);
        km.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
        out.push_back(std::move(km));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return out;
  }

  // The group's committed offset per partition (-1001 = none).
  std::map<int32_t, int64_t> committed(const std::string& group, const std::string& topic, int partitions) {
    rd_kafka_t* c = consumer(group);
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(l, topic.c_str(), p);
    std::map<int32_t, int64_t> out;
    if (rd_kafka_committed(c, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int i = 0; i < l->cnt; ++i) out[l->elems[i].partition] = l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(c);
    return out;
  }

 private:
  static void set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) throw std::runtime_error(err);
  }
  rd_kafka_t* consumer(const std::string& group) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstraps_);
    set(conf, "group.id", group.empty() ? "weir-test-reader" : group);
    set(conf, "enable.auto.commit", "false");
    set(conf, "log_level", "2");
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c) throw std::runtime_error(err);
    return c;
  }

  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::string bootstraps_;
};

}  // namespace weir::testing
