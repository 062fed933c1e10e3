// Checkpoints in a compacted Kafka topic (librdkafka), so that a process on
// any machine can take a partition over with its windows: Kafka Streams keeps
// a task's state in a changelog topic for the same reason. Kafka is the only
// distributed part; weir runs no coordination service of its own.
//
// One record per key, "<pipeline>/<node>/<key>" -> the checkpoint's bytes (the
// file format, checksum included); compaction keeps the newest per key. The
// topic has one partition, so one reader sees every write in order.
//  * write: produced with acks=all and idempotence, then flushed: a checkpoint
//    is written only once the broker has it (as a file is only once fsynced);
//  * read: the store follows the topic from its beginning up to the end offset
//    the broker reports at the time of the call, so it sees every write that
//    finished before, by any process, and answers from the newest record of the key.
#include "kafka_checkpoint_store.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <memory>

namespace weir {
namespace {

constexpr int kTimeoutMs = 15'000;

class KafkaStore : public CheckpointStore {
 public:
  KafkaStore(std::string topic, std::string prefix) : topic_(std::move(topic)), prefix_(std::move(prefix)) {}
  ~KafkaStore() override {
    if (producer_) {
      rd_kafka_flush(producer_, 5000);
      rd_kafka_destroy(producer_);
    }
    if (consumer_) rd_kafka_destroy(consumer_);
  }

  bool open(const std::string& brokers, std::string& error) {
    char err[512];
    rd_kafka_conf_t* pc = conf(brokers);
    set(pc, "acks", "all");
    set(pc, "enable.idempotence", "true");
    set(pc, "linger.ms", "0");
    rd_kafka_conf_set_opaque(pc, this);
    rd_kafka_conf_set_dr_msg_cb(pc, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<KafkaStore*>(opaque);
      if (m->err && self->delivery_error_.empty()) self->delivery_error_ = rd_kafka_err2str(m->err);
    });
    if (!(producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err))) {
      error = "checkpoint store: cannot create a Kafka producer: " + std::string(err);
      return false;
    }
    if (!ensure_topic(error)) return false;
    rd_kafka_conf_t* cc = conf(brokers);
    set(cc, "group.id", "weir-checkpoint-reader");  // required by librdkafka; partitions are assigned, never joined
    set(cc, "enable.auto.commit", "false");
    set(cc, "enable.partition.eof", "true");
    set(cc, "auto.offset.reset", "earliest");
    if (!(consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err))) {
      error = "checkpoint store: cannot create a Kafka consumer: " + std::string(err);
      return false;
    }
    rd_kafka_poll_set_consumer(consumer_);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
      error = "checkpoint store: cannot read topic " + topic_ + ": " + rd_kafka_err2str(e);
      return false;
    }
    return true;
  }

  std::string where(const std::string& key) const override {
    return "kafka topic " + topic_ + " key " + record_key(key);
  }

  std::optional<CheckpointData> read(const std::string& key, std::string& error) override {
    error.clear();
    if (!catch_up(error)) return std::nullopt;
    auto it = latest_.find(record_key(key));
    if (it == latest_.end()) return std::nullopt;
    return parse_checkpoint(it->second, where(key), error);
  }

  bool write(const std::vector<std::pair<std::string, const CheckpointData*>>& items, std::string& error) override {
    delivery_error_.clear();
    for (const auto& [key, data] : items) {
      std::string k = record_key(key), value = serialize_checkpoint(*data);
      rd_kafka_resp_err_t e = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(k.data(), k.size()),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e) {
        error = where(key) + ": cannot be written: " + rd_kafka_err2str(e);
        return false;
      }
    }
    if (rd_kafka_resp_err_t e = rd_kafka_flush(producer_, kTimeoutMs)) {
      error = "checkpoint store: topic " + topic_ + " did not take the checkpoint within " +
              std::to_string(kTimeoutMs / 1000) + " s: " + rd_kafka_err2str(e);
      return false;
    }
    if (!delivery_error_.empty()) {
      error = "checkpoint store: topic " + topic_ + " refused the checkpoint: " + delivery_error_;
      return false;
    }
    return true;
  }

 private:
  static rd_kafka_conf_t* conf(const std::string& brokers) {
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", brokers.c_str());
    set(c, "client.id", "weir-checkpoints");
    return c;
  }
  static void set(rd_kafka_conf_t* c, const char* k, const char* v) {
    char err[256];
    rd_kafka_conf_set(c, k, v, err, sizeof err);  // only known keys with valid values here
  }
  std::string record_key(const std::string& key) const { return prefix_ + (key.empty() ? "node" : key); }

  // Compacted, one partition; an existing topic is used as it is.
  bool ensure_topic(std::string& error) {
    char err[256];
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic_.c_str(), 1, -1, err, sizeof err);
    if (!t) {
      error = "checkpoint store: " + std::string(err);
      return false;
    }
    rd_kafka_NewTopic_set_config(t, "cleanup.policy", "compact");
    rd_kafka_queue_t* q = rd_kafka_queue_new(producer_);
    rd_kafka_CreateTopics(producer_, &t, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, kTimeoutMs);
    bool ok = false;
    if (!ev) {
      error = "checkpoint store: no answer from Kafka within " + std::to_string(kTimeoutMs / 1000) + " s creating topic " + topic_;
    } else if (rd_kafka_event_error(ev)) {
      error = "checkpoint store: creating topic " + topic_ + ": " + rd_kafka_event_error_string(ev);
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
      ok = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
      if (!ok) error = "checkpoint store: creating topic " + topic_ + ": " + rd_kafka_topic_result_error_string(results[0]);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(t);
    return ok;
  }

  // Reads the topic up to the end offset the broker reports now.
  bool catch_up(std::string& error) {
    int64_t low = 0, high = 0;  // low: compaction may have removed the first offsets
    if (rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(consumer_, topic_.c_str(), 0, &low, &high, kTimeoutMs)) {
      error = "checkpoint store: cannot read topic " + topic_ + ": " + rd_kafka_err2str(e);
      return false;
    }
    for (int waited = 0; next_ < high; waited += 100) {
      if (waited > kTimeoutMs) {
        error = "checkpoint store: topic " + topic_ + " could not be read to offset " + std::to_string(high) + " within " +
                std::to_string(kTimeoutMs / 1000) + " s (at " + std::to_string(next_) + ")";
        return false;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
      if (!m) continue;
      if (!m->err) {
        std::string key(static_cast<const char*>(m->key), m->key_len);
        if (key.rfind(prefix_, 0) == 0) {
          if (m->payload) latest_[key].assign(static_cast<const char*>(m->payload), m->len);
          else latest_.erase(key);  // a tombstone
        }
        next_ = m->offset + 1;
      } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        next_ = std::max(next_, m->offset);
      }
      rd_kafka_message_destroy(m);
    }
    return true;
  }

  std::string topic_, prefix_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
  std::string delivery_error_;
  int64_t next_ = 0;                          // the next offset to read
  std::map<std::string, std::string> latest_;  // this node's keys -> the newest bytes
};

}  // namespace

std::unique_ptr<CheckpointStore> open_kafka_checkpoint_store(const std::string& brokers, const std::string& topic,
                                                             const std::string& prefix, std::string& error) {
  auto store = std::make_unique<KafkaStore>(topic, prefix);
  if (!store->open(brokers, error)) return nullptr;
  return store;
}

}  // namespace weir
