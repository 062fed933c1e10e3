// The rule store in a compacted Kafka topic (format: rule_store.hpp).
//
// KafkaRuleSource reads the topic from its beginning on a thread of its own
// (no consumer group, nothing committed), publishes every version it reads,
// and follows the topic. The other functions are what `weir-rules` needs:
// creating the topic, publishing a version, reading everything once.
// librdkafka configurations come from weir_kafka_common's build_conf.
#pragma once

#include "rule_store.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct rd_kafka_conf_s;

namespace weir::cep::store {

using Settings = std::vector<std::pair<std::string, std::string>>;

class KafkaRuleSource : public RuleSource {
 public:
  // Checks the settings (throws weir::ConfigError listing what librdkafka
  // refuses); connects only in start().
  KafkaRuleSource(std::string endpoints, std::string topic, const Settings& settings);
  ~KafkaRuleSource() override;
  void start() override;
  std::string describe() const override;

 private:
  void run();
  bool sleep_ms(int ms);

  std::string endpoints_, topic_;
  rd_kafka_conf_s* conf_ = nullptr;  // until start() hands it to the consumer
  std::mutex start_mu_;
  bool started_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct TopicState {
  bool exists = false;
  bool created = false;            // by ensure_topic, now
  int partitions = 0;
  std::string cleanup_policy;      // as the broker reports it, e.g. "compact"
};

// Creates the topic if it is missing (1 partition, cleanup.policy=compact,
// the broker's replication factor) and reports its cleanup.policy. Returns ""
// or why it failed.
std::string ensure_topic(const std::string& endpoints, const std::string& topic, const Settings& settings,
                         int64_t timeout_ms, TopicState& state);
// The topic's state without changing anything.
std::string describe_topic(const std::string& endpoints, const std::string& topic, const Settings& settings,
                           int64_t timeout_ms, TopicState& state);

// Publishes one version (idempotent producer, acks=all) and waits until the
// broker has it; sets where it went. Returns "" or the error. No validation
// here: weir-rules validates first.
std::string publish_version(const std::string& endpoints, const std::string& topic, const Settings& settings,
                            const RuleVersion& v, int64_t timeout_ms, int32_t& partition, int64_t& offset);

}  // namespace weir::cep::store
