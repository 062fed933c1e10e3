#include "kafka_rule_store.hpp"

#include <kafka_common.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <set>

namespace weir::cep::store {

namespace {

// librdkafka's log lines and errors become store messages (logged by an
// engine on its node's thread); only warnings and worse.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (level > 4) return;
  if (auto* s = static_cast<RuleSource*>(rd_kafka_opaque(rk)))
    s->message(2, std::string("rule store: rdkafka: ") + fac + ": " + buf);
}

void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  (void)rk;
  auto* s = static_cast<RuleSource*>(opaque);
  s->set_problem(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " + reason);
}

// The CLI's clients print librdkafka's errors (not its transient warnings).
void cli_log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  if (level <= 3) std::fprintf(stderr, "weir-rules: rdkafka: %s: %s\n", fac, buf);
}

// A configuration for a helper client (admin, producer) of the CLI. Topics
// are never created by asking for their metadata: only ensure_topic creates
// one, compacted.
kafka::ConfPtr client_conf(const std::string& endpoints, const Settings& settings, const Settings& forced_extra) {
  kafka::Settings forced = {{"bootstrap.servers", endpoints}, {"allow.auto.create.topics", "false"}};
  forced.insert(forced.end(), forced_extra.begin(), forced_extra.end());
  kafka::ConfPtr conf = kafka::build_conf({{"client.id", "weir-rules"}}, settings, forced,
                                          {{"bootstrap.servers", "use --brokers"},
                                           {"metadata.broker.list", "use --brokers"},
                                           {"allow.auto.create.topics", "weir-rules creates the topic itself, compacted"}});
  rd_kafka_conf_set_log_cb(conf.get(), cli_log_cb);
  return conf;
}

struct Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk) rd_kafka_destroy(rk);
  }
};

std::string new_handle(rd_kafka_type_t type, kafka::ConfPtr conf, Handle& h) {
  char err[512];
  h.rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!h.rk) return std::string("cannot create a Kafka client: ") + err;
  (void)conf.release();  // owned by the handle now
  return "";
}

// Partitions of `topic`, 0 if it does not exist, -1 (with why) if the
// brokers did not answer.
int partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms, std::string& why) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  int n = -1;
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    why = std::string("no answer from the brokers: ") + rd_kafka_err2str(e);
  } else if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    n = 0;
  } else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    why = std::string("topic metadata: ") + rd_kafka_err2str(md->topics[0].err);
  } else {
    n = md->topics[0].partition_cnt;
  }
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return n;
}

// The result event of an admin request, or nullptr after the timeout.
rd_kafka_event_t* wait_result(rd_kafka_queue_t* q, int64_t timeout_ms) {
  return rd_kafka_queue_poll(q, static_cast<int>(timeout_ms));
}

std::string cleanup_policy(rd_kafka_t* rk, const std::string& topic, int64_t timeout_ms, std::string& policy) {
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, nullptr, q);
  rd_kafka_event_t* ev = wait_result(q, timeout_ms);
  std::string why;
  if (!ev) {
    why = "DescribeConfigs timed out";
  } else if (rd_kafka_event_error(ev)) {
    why = std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** out =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t cn = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(out[i], &cn);
      for (size_t j = 0; j < cn; ++j)
        if (std::string(rd_kafka_ConfigEntry_name(entries[j])) == "cleanup.policy")
          policy = rd_kafka_ConfigEntry_value(entries[j]) ? rd_kafka_ConfigEntry_value(entries[j]) : "";
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_ConfigResource_destroy(res);
  return why;
}

std::string describe_with(rd_kafka_t* rk, const std::string& topic, int64_t timeout_ms, TopicState& state) {
  std::string why;
  int n = partition_count(rk, topic, static_cast<int>(timeout_ms), why);
  if (n < 0) return why;
  state.exists = n > 0;
  state.partitions = n;
  if (!state.exists) return "";
  return cleanup_policy(rk, topic, timeout_ms, state.cleanup_policy);
}

}  // namespace

// ---------------------------------------------------------------- reader

KafkaRuleSource::KafkaRuleSource(std::string endpoints, std::string topic, const Settings& settings)
    : endpoints_(std::move(endpoints)), topic_(std::move(topic)) {
  const char* reader_only = "the rule store is read from its beginning without a consumer group";
  kafka::ConfPtr conf = kafka::build_conf({{"client.id", "weir-cep_rule-rules"}}, settings,
                                          {
                                              {"bootstrap.servers", endpoints_},
                                              // assign() needs a group; nothing is ever committed to it.
                                              {"group.id", "weir-cep_rule-rules-reader"},
                                              {"allow.auto.create.topics", "false"},
                                              {"enable.auto.commit", "false"},
                                              {"enable.auto.offset.store", "false"},
                                              {"enable.partition.eof", "true"},
                                              {"auto.offset.reset", "earliest"},
                                          },
                                          {
                                              {"bootstrap.servers", "use the parameter rules_endpoints"},
                                              {"metadata.broker.list", "use the parameter rules_endpoints"},
                                              {"group.id", reader_only},
                                              {"allow.auto.create.topics", "weir-rules put creates the topic, compacted"},
                                              {"enable.auto.commit", reader_only},
                                              {"enable.auto.offset.store", reader_only},
                                              {"enable.partition.eof", reader_only},
                                              {"auto.offset.reset", reader_only},
                                          });
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  rd_kafka_conf_set_error_cb(conf.get(), error_cb);
  rd_kafka_conf_set_opaque(conf.get(), static_cast<RuleSource*>(this));
  conf_ = conf.release();
}

KafkaRuleSource::~KafkaRuleSource() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (conf_) rd_kafka_conf_destroy(conf_);
}

std::string KafkaRuleSource::describe() const { return "topic '" + topic_ + "' at " + endpoints_; }

void KafkaRuleSource::start() {
  std::lock_guard lock(start_mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

bool KafkaRuleSource::sleep_ms(int ms) {
  for (int i = 0; i < ms / 50 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return !stop_;
}

void KafkaRuleSource::run() {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf_, err, sizeof err);
  if (!rk) {
    set_failure(std::string("cannot create the Kafka consumer: ") + err);
    return;
  }
  conf_ = nullptr;  // owned by rk now
  rd_kafka_poll_set_consumer(rk);

  // Which partitions: retried until the brokers answer (they may still be
  // starting); a topic that does not exist fails the wait at once, but is
  // looked for again in case it is created.
  int partitions = 0;
  while (!stop_) {
    std::string why;
    partitions = partition_count(rk, topic_, 2000, why);
    if (partitions > 0) break;
    if (partitions == 0)
      set_failure("the topic does not exist (publish a rule into it with `weir-rules put NAME FILE --topic " + topic_ + "`)");
    else
      set_problem(why);
    if (!sleep_ms(1000)) break;
  }
  if (stop_) {
    rd_kafka_destroy(rk);
    return;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) {
    set_failure(std::string("cannot read the topic: ") + rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    return;
  }

  struct Change {
    bool erase;
    RuleVersion v;
  };
  std::vector<Change> changes;
  auto flush = [&] {
    if (changes.empty()) return;
    publish([&](Catalog& c) {
      for (Change& ch : changes) {
        if (ch.erase) c.erase(ch.v.name, ch.v.effective_from_ms);
        else c.put(std::move(ch.v));
      }
    });
    changes.clear();
  };
  std::set<int32_t> at_end;
  bool ready = false;
  std::string last_error;
  while (!stop_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) {
      flush();
      continue;
    }
    std::string where = describe() + " partition " + std::to_string(m->partition) + " offset " + std::to_string(m->offset);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      flush();
      at_end.insert(m->partition);
      if (!ready && static_cast<int>(at_end.size()) == partitions) {
        ready = true;
        set_ready();
      }
    } else if (m->err) {
      std::string msg = rd_kafka_message_errstr(m);
      set_problem(msg);
      if (msg != last_error) message(2, "rule store " + describe() + ": " + msg);
      last_error = msg;
    } else {
      std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
      std::string why;
      if (!m->payload) {  // a tombstone: that version is deleted
        Change ch{true, {}};
        if (parse_key(key, ch.v.name, ch.v.effective_from_ms)) changes.push_back(std::move(ch));
        else message(2, where + ": a tombstone with key '" + std::string(key) + "', not a rule version key: ignored");
      } else if (auto v = decode(key, std::string_view(static_cast<const char*>(m->payload), m->len), why)) {
        v->partition = m->partition;
        v->offset = m->offset;
        changes.push_back({false, std::move(*v)});
      } else {
        message(2, where + ": key '" + std::string(key) + "': " + why + "; ignored");
      }
      if (changes.size() >= 500) flush();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

// ---------------------------------------------------------------- CLI side

std::string describe_topic(const std::string& endpoints, const std::string& topic, const Settings& settings,
                           int64_t timeout_ms, TopicState& state) {
  Handle h;
  if (std::string why = new_handle(RD_KAFKA_PRODUCER, client_conf(endpoints, settings, {}), h); !why.empty()) return why;
  return describe_with(h.rk, topic, timeout_ms, state);
}

std::string ensure_topic(const std::string& endpoints, const std::string& topic, const Settings& settings,
                         int64_t timeout_ms, TopicState& state) {
  Handle h;
  if (std::string why = new_handle(RD_KAFKA_PRODUCER, client_conf(endpoints, settings, {}), h); !why.empty()) return why;
  if (std::string why = describe_with(h.rk, topic, timeout_ms, state); !why.empty() || state.exists) return why;

  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, -1, err, sizeof err);
  if (!nt) return std::string("cannot create topic '") + topic + "': " + err;
  // Compaction keeps the last record of every key: every version (key NAME@TIME) stays.
  if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact")) {
    rd_kafka_NewTopic_destroy(nt);
    return "cannot set cleanup.policy";
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(h.rk);
  rd_kafka_CreateTopics(h.rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = wait_result(q, timeout_ms);
  std::string why;
  if (!ev) {
    why = "CreateTopics timed out";
  } else if (rd_kafka_event_error(ev)) {
    why = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) state.created = true;
    else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)  // created meanwhile by someone else: fine
      why = "cannot create topic '" + topic + "': " +
            (n == 1 && rd_kafka_topic_result_error_string(res[0]) ? rd_kafka_topic_result_error_string(res[0])
                                                                   : rd_kafka_err2str(e));
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  if (!why.empty()) return why;
  // Metadata may lag behind the creation for a moment.
  for (int i = 0; i < 50; ++i) {
    std::string ignored;
    if (partition_count(h.rk, topic, 2000, ignored) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  TopicState now;
  why = describe_with(h.rk, topic, timeout_ms, now);
  now.created = state.created;
  state = now;
  return why;
}

namespace {

struct Delivery {
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* d = static_cast<Delivery*>(m->_private);
  d->done = true;
  d->err = m->err;
  d->partition = m->partition;
  d->offset = m->offset;
}

}  // namespace

std::string publish_version(const std::string& endpoints, const std::string& topic, const Settings& settings,
                            const RuleVersion& v, int64_t timeout_ms, int32_t& partition, int64_t& offset) {
  kafka::ConfPtr conf = client_conf(endpoints, settings, {{"acks", "all"}, {"enable.idempotence", "true"}});
  rd_kafka_conf_set_dr_msg_cb(conf.get(), dr_cb);
  Handle h;
  if (std::string why = new_handle(RD_KAFKA_PRODUCER, std::move(conf), h); !why.empty()) return why;
  std::string key = record_key(v.name, v.effective_from_ms);
  std::string value = encode_value(v);
  Delivery d;
  rd_kafka_resp_err_t e = rd_kafka_producev(h.rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                                            RD_KAFKA_V_KEY(key.data(), key.size()),
                                            RD_KAFKA_V_VALUE(value.data(), value.size()),
                                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
  if (e) return std::string("cannot produce: ") + rd_kafka_err2str(e);
  rd_kafka_flush(h.rk, static_cast<int>(timeout_ms));
  if (!d.done) return "the broker did not confirm the record within " + std::to_string(timeout_ms) + " ms";
  if (d.err) return std::string("the broker refused the record: ") + rd_kafka_err2str(d.err);
  partition = d.partition;
  offset = d.offset;
  return "";
}

}  // namespace weir::cep::store
