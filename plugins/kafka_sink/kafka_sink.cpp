// kafka_sink — an idempotent Kafka producer (librdkafka) as a weir sink.
//
// A weir::Sink: encode() makes a request that tracks each record of the batch;
// send() produces every record not yet delivered and returns WEIR_PENDING; the
// request is reported (host->sent) from our poll thread once librdkafka has
// reported every record's delivery (acks=all). If some records failed after
// librdkafka's own retries (delivery_timeout_ms), it is reported failed: the
// host sends the same request again after its retry backoff, and send()
// re-produces only the records that failed. A record that failed
// delivery_attempts times, or that Kafka refuses outright (too large,
// invalid), goes to the error port.
//
// Duplicates: idempotence removes the duplicates of librdkafka's in-session
// retries; a record re-produced by a later send() (after a delivery timeout)
// or by a restarted pipeline (at-least-once) can appear twice in the topic.
//
// Memory: payloads and string fields are handed to librdkafka without a copy
// (the batch stays alive until we acknowledge it); JSON values, rendered keys
// and numbers turned into text are made once, by encode(), and kept in the request.
#include <kafka_common.hpp>

#include <weir/delivery.hpp>
#include <weir/json.hpp>
#include <weir/template.hpp>
#include <weir/sdk.hpp>

#include <pthread.h>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to produce"}};
const weir_param_spec kOwnParams[] = {
    {"endpoints", WEIR_PARAM_STRING, nullptr, 1, nullptr, "bootstrap brokers, \"host:port[,host:port...]\""},
    {"topic", WEIR_PARAM_STRING, nullptr, 1, weir::kTemplateUnit,
     "topic to produce to, or a template giving one per record, e.g. \"cars-{_time|date('%Y%m')}\" (docs/templates.md)"},
    {"key", WEIR_PARAM_STRING, "\"\"", 0, weir::kTemplateUnit,
     "message key template, e.g. \"{car_number}\" (docs/templates.md); \"\" = key_field, else the record's key"},
    {"key_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "field whose value is the message key (a null one: no key); \"\" = the record's key"},
    {"keyed", WEIR_PARAM_BOOL, "true", 0, nullptr,
     "false = messages without a key: each batch goes whole to one partition, the next batch to the next (fewer, larger "
     "requests, and a third of the CPU for small records), but a key's records no longer share a partition"},
    {"value_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "field whose value is the message value; \"\" = the payload"},
    {"json_value", WEIR_PARAM_BOOL, "false", 0, nullptr, "the message value is the whole record as a JSON object"},
    {"event_time_as_timestamp", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "message timestamp = the record's event time (mind retention: old times are deleted); else the produce time"},
    {"linger_ms", WEIR_PARAM_INT, "5", 0, "ms", "how long librdkafka waits to fill a batch (linger.ms)"},
    {"batch_bytes", WEIR_PARAM_INT, "1000000", 0, "bytes", "largest batch of messages per partition request (batch.size)"},
    {"compression", WEIR_PARAM_STRING, "\"none\"", 0, nullptr, "none, gzip, snappy, lz4 or zstd"},
    {"delivery_timeout_ms", WEIR_PARAM_INT, "120000", 0, "ms",
     "librdkafka retries a message this long before reporting it failed (message.timeout.ms)"},
    {"delivery_attempts", WEIR_PARAM_INT, "3", 0, nullptr,
     "times a record is produced (each with librdkafka's retries) before it goes to the error port"},
    {"flush_timeout_ms", WEIR_PARAM_INT, "30000", 0, "ms", "at shutdown, wait this long for outstanding deliveries"},
    {"rdkafka", WEIR_PARAM_TABLE, "{}", 0, nullptr,
     "librdkafka producer properties passed through, e.g. \"security.protocol\" = \"SSL\" (quote dotted keys)"},
};
// librdkafka pipelines requests itself: many batches may be out at once.
constexpr auto kParams = weir::with_delivery_params(kOwnParams, {{"max_in_flight", "32"}});

// Errors that another attempt cannot fix: the record goes to the error port at once.
bool permanent(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

class KafkaSink : public weir::Sink {
 public:
  KafkaSink(weir::Context ctx, const weir::Params& p) : opaque_{ctx, this} {
    topic_ = p.str("topic");
    try {
      weir::Template t = weir::Template::compile(topic_);
      if (!t.constant()) topic_template_ = std::move(t);
      else topic_ = t.constant_text();
    } catch (const weir::TemplateError& e) {
      throw weir::ConfigError("topic: template \"" + topic_ + "\", " + e.what());
    }
    key_field_ = p.str("key_field");
    if (std::string key = p.str("key"); !key.empty()) {
      try {
        key_ = weir::Template::compile(key);
      } catch (const weir::TemplateError& e) {
        throw weir::ConfigError("key: template \"" + key + "\", " + e.what());
      }
      if (key_->constant()) throw weir::ConfigError("key \"" + key + "\" uses no field: every message would have the same key");
    }
    keyed_ = p.boolean("keyed");
    value_field_ = p.str("value_field");
    json_value_ = p.boolean("json_value");
    timestamps_ = p.boolean("event_time_as_timestamp");
    int64_t linger = p.integer("linger_ms"), batch_bytes = p.integer("batch_bytes");
    int64_t delivery_timeout = p.integer("delivery_timeout_ms");
    std::string compression = p.str("compression");
    delivery_attempts_ = p.integer("delivery_attempts");
    flush_timeout_ms_ = p.integer("flush_timeout_ms");

    if (p.str("endpoints").empty()) throw weir::ConfigError("endpoints must name at least one broker, e.g. \"127.0.0.1:9092\"");
    if (topic_.empty()) throw weir::ConfigError("topic must not be empty");
    if (json_value_ && !value_field_.empty()) throw weir::ConfigError("json_value and value_field exclude each other");
    if (!keyed_ && !key_field_.empty()) throw weir::ConfigError("keyed = false and key_field exclude each other");
    if (!keyed_ && key_) throw weir::ConfigError("keyed = false and key exclude each other");
    if (key_ && !key_field_.empty()) throw weir::ConfigError("key and key_field exclude each other");
    auto rdkafka = p.table("rdkafka");
    // Unless the user picks librdkafka's partitioner, kafka_sink partitions whole batches itself (see produce_all).
    // Per-record topics go through librdkafka's partitioner (the same murmur2_random).
    own_partitioning_ = !topic_template_ &&
                        std::none_of(rdkafka.begin(), rdkafka.end(), [](const auto& kv) { return kv.first == "partitioner"; });
    if (delivery_attempts_ < 1) throw weir::ConfigError("delivery_attempts must be >= 1");
    if (linger < 0 || batch_bytes < 1 || delivery_timeout < 0 || flush_timeout_ms_ < 0)
      throw weir::ConfigError("linger_ms, delivery_timeout_ms and flush_timeout_ms must be >= 0, batch_bytes >= 1");

    const char* instead_timeout = "use the parameter delivery_timeout_ms";
    conf_ = weir::kafka::build_conf(
        {
            // Java clients' partitioner: the same key lands on the same partition from either.
            {"partitioner", "murmur2_random"},
            {"client.id", "weir-kafka_sink"},
        },
        p.table("rdkafka"),
        {
            {"bootstrap.servers", p.str("endpoints")},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"linger.ms", std::to_string(linger)},
            {"batch.size", std::to_string(batch_bytes)},
            {"compression.codec", compression},
            {"message.timeout.ms", std::to_string(delivery_timeout)},
        },
        {
            {"bootstrap.servers", "use the parameter endpoints"},
            {"metadata.broker.list", "use the parameter endpoints"},
            {"enable.idempotence", "kafka_sink always produces idempotently"},
            {"acks", "kafka_sink always waits for all in-sync replicas (acks=all)"},
            {"request.required.acks", "kafka_sink always waits for all in-sync replicas (acks=all)"},
            {"linger.ms", "use the parameter linger_ms"},
            {"queue.buffering.max.ms", "use the parameter linger_ms"},
            {"batch.size", "use the parameter batch_bytes"},
            {"compression.codec", "use the parameter compression"},
            {"compression.type", "use the parameter compression"},
            {"message.timeout.ms", instead_timeout},
            {"delivery.timeout.ms", instead_timeout},
        });
    weir::kafka::route_logs(conf_.get());
    rd_kafka_conf_set_opaque(conf_.get(), &opaque_);
    rd_kafka_conf_set_dr_msg_cb(conf_.get(), &KafkaSink::delivery_cb);
    rd_kafka_conf_set_error_cb(conf_.get(), &KafkaSink::error_cb);
  }

  ~KafkaSink() override { shutdown(); }

  weir_status open() override {
    char err[512];
    char qmax[32];
    size_t qmax_size = sizeof qmax;
    if (rd_kafka_conf_get(conf_.get(), "queue.buffering.max.messages", qmax, &qmax_size) == RD_KAFKA_CONF_OK)
      queue_max_ = std::max<size_t>(1, std::strtoull(qmax, nullptr, 10));
    max_chunk_ = std::max<size_t>(1, std::min<size_t>(10000, queue_max_ / 2));
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf_.get(), err, sizeof err);
    if (!rk_) {
      ctx().error_log(std::string("cannot create the Kafka producer: ") + err);
      return WEIR_FAILED;
    }
    (void)conf_.release();                 // owned by rk_ now
    rd_kafka_set_log_queue(rk_, nullptr);  // logs are served by our poll thread
    // Per-record topics get their handles as records name them (topic_handle).
    if (!topic_template_) rkt_ = rd_kafka_topic_new(rk_, topic_.c_str(), nullptr);
    if (!topic_template_ && !rkt_) {
      ctx().error_log("cannot create topic handle " + topic_ + ": " + rd_kafka_err2str(rd_kafka_last_error()));
      return WEIR_FAILED;
    }
    if (own_partitioning_) refresh_partitions();
    running_ = true;
    poller_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "kafka_sink:poll");
      auto next_refresh = std::chrono::steady_clock::now() + kPartitionRefresh;
      while (running_.load(std::memory_order_acquire)) {
        rd_kafka_poll(rk_, 100);
        if (own_partitioning_ && std::chrono::steady_clock::now() >= next_refresh) {
          refresh_partitions();
          next_refresh = std::chrono::steady_clock::now() + kPartitionRefresh;
        }
      }
    });
    ctx().set_timer(1000);
    return WEIR_OK;
  }

  // The request: one slot per record of the batch, with its key and value.
  // Records that cannot become messages go to the error port here, once.
  std::unique_ptr<weir::SinkRequest> encode(weir::Batch in) override {
    auto st = std::make_unique<BatchState>(in);
    std::string_view key, value;
    std::string scratch_key, scratch_value, why;
    bool any = false;
    std::string topic;
    for (uint32_t i = 0; i < in.size(); ++i) {
      bool copy_value = false;
      bool ok = select(in[i], key, value, copy_value, scratch_key, scratch_value, why);
      if (ok) {
        // Text made here (a rendered key, JSON, a number) lives in the request,
        // as the batch's own bytes do, until the request is done: no copy by librdkafka.
        if (!key.empty() && key.data() == scratch_key.data()) key = st->owned.emplace_back(std::move(scratch_key));
        if (copy_value && value.data()) value = st->owned.emplace_back(std::move(scratch_value));
        st->slots[i].key = key;
        st->slots[i].value = value;
      }
      if (ok && topic_template_) {
        topic.clear();
        if (!topic_template_->render(in[i], topic, why)) {
          why = "topic " + topic_template_->text() + ": " + why;
          ok = false;
        } else if (!(st->slots[i].topic = topic_handle(topic, why))) {
          ok = false;
        }
      }
      if (ok) {
        any = true;
        continue;
      }
      st->slots[i].status = Status::Rejected;
      ctx().reject(in[i], why);
    }
    if (!any) return nullptr;
    return st;
  }

  // send() hands the request's records to librdkafka with one rd_kafka_produce_batch
  // call (one topic lock and one clock reading per call instead of per record;
  // the per-record clock_gettime/gettimeofday pair was ~40% of this thread's CPU).
  // Nothing is copied: keys and values are the batch's bytes (kept alive by the host
  // until the request is done) or the request's own (encode()).
  weir_status send(weir::SinkRequest& request, std::string& reason) override {
    if (fatal_) return WEIR_FAILED;
    auto& st = static_cast<BatchState&>(request);
    weir::Batch in = st.batch;
    ++st.attempts;
    st.remaining.store(1, std::memory_order_relaxed);  // our own hold until every record is handed over
    st.failed.store(false, std::memory_order_relaxed);
    msgs_.clear();
    for (uint32_t i = 0; i < in.size(); ++i) {
      Slot& s = st.slots[i];
      weir::Record rec = in[i];
      // Still in flight from the previous attempt, which has settled: delivered (delivery_cb
      // marks only failures, so that the common case does not write to the slot).
      if (s.status == Status::InFlight) s.status = Status::Delivered;
      if (s.status == Status::Delivered || s.status == Status::Rejected) continue;
      if (s.status == Status::Failed && st.attempts > delivery_attempts_) {
        refuse(st, s, "delivery to " + topic_ + " failed " + std::to_string(delivery_attempts_) + " times, last: " + rd_kafka_err2str(s.err));
        continue;
      }
      s.status = Status::InFlight;
      if (timestamps_) {
        // Per record: rd_kafka_produce_batch cannot set a message timestamp.
        int64_t ts = rec.event_time_ns() > 0 ? rec.event_time_ns() / 1'000'000 : 0;
        st.remaining.fetch_add(1, std::memory_order_relaxed);
        produce_one(s, s.key, s.value, 0, ts);
        continue;
      }
      rd_kafka_message_t m{};
      m.payload = const_cast<char*>(s.value.data());
      m.len = s.value.size();
      m.key = const_cast<char*>(s.key.data());  // nullptr = no key (keyed = false, or a null key_field)
      m.key_len = s.key.size();
      m._private = &s;
      msgs_.push_back(m);
    }
    if (!msgs_.empty()) {
      if (topic_template_) produce_by_topic(st, 0);
      else produce_all(st, 0);
    }
    if (st.remaining.fetch_sub(1, std::memory_order_acq_rel) > 1) return WEIR_PENDING;
    // Every record is settled already (delivered fast, refused, or failed to enqueue).
    if (fatal_) return WEIR_FAILED;
    if (st.failed.load(std::memory_order_relaxed)) {
      reason = "delivery to " + topic_ + " failed: " + rd_kafka_err2str(st.last_err.load());
      return WEIR_RETRY;
    }
    return WEIR_OK;
  }

  weir_status on_timer(int64_t) override {
    if (rk_) ctx().gauge("kafka_producer_queue", "", rd_kafka_outq_len(rk_));
    return WEIR_OK;
  }

  weir_status flush() override {
    if (!rk_) return WEIR_OK;
    if (rd_kafka_flush(rk_, static_cast<int>(flush_timeout_ms_)) == RD_KAFKA_RESP_ERR__TIMED_OUT)
      ctx().warn(std::to_string(rd_kafka_outq_len(rk_)) + " messages still undelivered after flush_timeout_ms (" +
                 std::to_string(flush_timeout_ms_) + " ms); their records are not acknowledged and will be sent again");
    return WEIR_OK;
  }

  weir_status close() override {
    shutdown();
    return WEIR_OK;
  }

 private:
  enum class Status : uint8_t { Pending, InFlight, Delivered, Failed, Rejected };
  struct BatchState;
  struct Slot {
    BatchState* owner = nullptr;
    rd_kafka_topic_t* topic = nullptr;  // per-record topics: its handle (topic_handles_); else rkt_
    Status status = Status::Pending;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string_view key, value;  // into the batch, or into BatchState::owned
  };
  struct BatchState : weir::SinkRequest {
    explicit BatchState(weir::Batch b) : batch(b), slots(b.size()) {
      for (Slot& s : slots) s.owner = this;
    }
    weir::Batch batch;
    std::vector<Slot> slots;
    std::deque<std::string> owned;  // keys and values made by encode() (a deque: stable addresses)
    std::atomic<int32_t> remaining{0};
    std::atomic<bool> failed{false};  // some record of the current attempt failed
    std::atomic<rd_kafka_resp_err_t> last_err{RD_KAFKA_RESP_ERR_NO_ERROR};
    int64_t attempts = 0;
  };

  const weir::Context& ctx() const { return opaque_.ctx; }

  // The handle of TOPIC (per-record topics), made once and kept until shutdown.
  rd_kafka_topic_t* topic_handle(const std::string& topic, std::string& why) {
    auto it = topic_handles_.find(topic);
    if (it != topic_handles_.end()) return it->second;
    rd_kafka_topic_t* h = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (!h) {
      why = "topic '" + topic + "': " + rd_kafka_err2str(rd_kafka_last_error());
      return nullptr;
    }
    return topic_handles_.emplace(topic, h).first->second;
  }

  // Record S goes to the error port once its request is stored.
  void refuse(BatchState& st, Slot& s, const std::string& why) {
    s.status = Status::Rejected;
    ctx().reject_sent(st, static_cast<uint32_t>(&s - st.slots.data()), why);
  }

  // Text of a non-string value, by the SDK's one rule (<weir/template.hpp>).
  static std::string_view text(const weir_value& v, std::string& scratch) {
    if (v.type == WEIR_STRING) return weir::view(v.as.str);
    scratch.clear();
    weir::append_value_text(scratch, v);
    return scratch;
  }

  bool select(weir::Record rec, std::string_view& key, std::string_view& value, bool& copy_value, std::string& sk,
              std::string& sv, std::string& why) const {
    if (!keyed_) {
      key = {};
    } else if (key_) {
      sk.clear();
      if (!key_->render(rec, sk, why)) {
        why = "key " + key_->text() + ": " + why;
        return false;
      }
      key = sk;
    } else if (key_field_.empty()) {
      key = rec.key();
    } else {
      const weir_value* v = rec.field(key_field_);
      if (!v) {
        why = "key_field '" + key_field_ + "' is missing";
        return false;
      }
      key = v->type == WEIR_NULL ? std::string_view() : text(*v, sk);
    }
    if (json_value_) {
      sv = weir::to_json(rec);
      value = sv;
      copy_value = true;
    } else if (value_field_.empty()) {
      value = rec.payload();
    } else {
      const weir_value* v = rec.field(value_field_);
      if (!v) {
        why = "value_field '" + value_field_ + "' is missing";
        return false;
      }
      copy_value = v->type != WEIR_STRING;
      value = v->type == WEIR_NULL ? std::string_view() : text(*v, sv);
    }
    return true;
  }

  // Hands msgs_ to librdkafka, partitioned.
  //
  // Partitioning: librdkafka partitions and enqueues message by message, reading
  // the clock for each (its sticky partitioner, and the enqueue time): with
  // 35-byte records that was ~40% of this thread's CPU. Given a partition, it
  // enqueues a whole call at once. So kafka_sink partitions batches itself, the
  // way librdkafka would: keyed messages by murmur2 of the key over all
  // partitions (Java-compatible, librdkafka's own function), grouped per
  // partition in their order; unkeyed ones (keyed = false) whole to one
  // partition with a leader, the next call to the next (like the sticky
  // partitioner, per batch instead of per 10 ms).
  // Per-record topics: msgs_ grouped by topic (stably: a key's records keep
  // their order), each group through librdkafka's partitioner.
  void produce_by_topic(BatchState& st, int flags) {
    std::stable_sort(msgs_.begin(), msgs_.end(), [](const rd_kafka_message_t& a, const rd_kafka_message_t& b) {
      return static_cast<Slot*>(a._private)->topic < static_cast<Slot*>(b._private)->topic;
    });
    for (size_t begin = 0; begin < msgs_.size();) {
      rd_kafka_topic_t* rkt = static_cast<Slot*>(msgs_[begin]._private)->topic;
      size_t end = begin;
      while (end < msgs_.size() && static_cast<Slot*>(msgs_[end]._private)->topic == rkt) ++end;
      produce_run(st, flags, msgs_.data() + begin, end - begin, RD_KAFKA_PARTITION_UA, rkt);
      begin = end;
    }
  }

  void produce_all(BatchState& st, int flags) {
    // A retried batch goes through librdkafka's own partitioner, which knows
    // leaders as of now; our partition list may be up to kPartitionRefresh old.
    Partitions parts = st.attempts > 1 ? Partitions{} : partitions();
    if (parts.count == 0) {
      produce_run(st, flags, msgs_.data(), msgs_.size(), RD_KAFKA_PARTITION_UA, rkt_);  // no metadata (yet)
      return;
    }
    if (!keyed_) {
      produce_run(st, flags, msgs_.data(), msgs_.size(), parts.unkeyed, rkt_);
      return;
    }
    // Counting sort by partition: stable, so each key's records keep their order.
    // runs_[p] counts partition p's messages, then holds where its run starts,
    // then (after placing) where it ends, which is where run p + 1 starts.
    runs_.assign(static_cast<size_t>(parts.count), 0);
    partition_of_.resize(msgs_.size());
    for (size_t i = 0; i < msgs_.size(); ++i) {
      partition_of_[i] = rd_kafka_msg_partitioner_murmur2_random(rkt_, msgs_[i].key, msgs_[i].key_len, parts.count,
                                                                 nullptr, nullptr);
      ++runs_[static_cast<size_t>(partition_of_[i])];
    }
    size_t start = 0;
    for (size_t& r : runs_) start += std::exchange(r, start);
    grouped_.resize(msgs_.size());
    for (size_t i = 0; i < msgs_.size(); ++i) grouped_[runs_[static_cast<size_t>(partition_of_[i])]++] = msgs_[i];
    size_t begin = 0;
    for (int32_t p = 0; p < parts.count; ++p) {
      size_t end = runs_[static_cast<size_t>(p)];
      if (end > begin) produce_run(st, flags, grouped_.data() + begin, end - begin, p, rkt_);
      begin = end;
    }
  }

  // Hands N messages for PARTITION to librdkafka in chunks that fit its queue
  // (queue.buffering.max.messages): waiting for room before the call, not
  // retrying after QUEUE_FULL, keeps the records in order. A record librdkafka
  // does not take is settled here (no delivery report follows).
  void produce_run(BatchState& st, int flags, rd_kafka_message_t* msgs, size_t n, int32_t partition, rd_kafka_topic_t* rkt) {
    for (size_t done = 0; done < n;) {
      const size_t chunk = std::min(n - done, max_chunk_);
      while (!fatal_ && static_cast<size_t>(std::max(0, rd_kafka_outq_len(rk_))) + chunk > queue_max_)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // backpressure: wait for deliveries
      rd_kafka_message_t* m = msgs + done;
      st.remaining.fetch_add(static_cast<int32_t>(chunk), std::memory_order_relaxed);
      int taken = rd_kafka_produce_batch(rkt, partition, flags, m, static_cast<int>(chunk));
      if (taken != static_cast<int>(chunk)) {
        for (size_t i = 0; i < chunk; ++i) {
          if (m[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
          Slot& s = *static_cast<Slot*>(m[i]._private);
          if (m[i].err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !fatal_) {
            // The queue filled anyway (queue.buffering.max.kbytes): this one record by itself.
            produce_one(s, {static_cast<const char*>(m[i].key), m[i].key_len},
                        {static_cast<const char*>(m[i].payload), m[i].len}, flags, 0);
            continue;
          }
          settle_unsent(st, s, m[i].err);
        }
      }
      done += chunk;
    }
  }

  // One record, retried while librdkafka's queue is full. st.remaining counts it already.
  void produce_one(Slot& s, std::string_view key, std::string_view value, int flags, int64_t ts) {
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_RKT(s.topic ? s.topic : rkt_), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA), RD_KAFKA_V_MSGFLAGS(flags),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(&s), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !fatal_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // backpressure: wait for deliveries
        continue;
      }
      settle_unsent(*s.owner, s, e);
      return;
    }
  }

  void settle_unsent(BatchState& st, Slot& s, rd_kafka_resp_err_t e) {
    st.remaining.fetch_sub(1, std::memory_order_relaxed);
    s.err = e;
    if (permanent(e)) {
      refuse(st, s, std::string("Kafka refuses the record: ") + rd_kafka_err2str(e));
    } else {
      s.status = Status::Failed;
      st.last_err.store(e, std::memory_order_relaxed);
      st.failed.store(true, std::memory_order_relaxed);
    }
  }

  // What produce_all needs of the partition list (refresh_partitions keeps it).
  struct Partitions {
    int32_t count = 0;    // the topic's partitions (0 = no metadata yet)
    int32_t unkeyed = 0;  // where the next unkeyed batch goes
  };
  Partitions partitions() {
    if (!own_partitioning_) return {};
    std::lock_guard lock(partitions_mu_);
    if (partition_count_ == 0 || writable_.empty()) return {};
    return {partition_count_, writable_[next_unkeyed_++ % writable_.size()]};
  }

  // Partitions with a leader, from the broker's metadata (at open, then every
  // kPartitionRefresh on the poll thread, so new partitions and lost leaders are seen).
  void refresh_partitions() {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_, 0, rkt_, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return;  // keep the last list
    int32_t count = 0;
    std::vector<int32_t> writable;
    for (int t = 0; t < md->topic_cnt; ++t) {
      if (md->topics[t].err) continue;  // e.g. not created yet: librdkafka partitions until it is
      count = md->topics[t].partition_cnt;
      for (int i = 0; i < md->topics[t].partition_cnt; ++i)
        if (md->topics[t].partitions[i].leader >= 0) writable.push_back(md->topics[t].partitions[i].id);
    }
    rd_kafka_metadata_destroy(md);
    std::lock_guard lock(partitions_mu_);
    partition_count_ = count;
    writable_ = std::move(writable);
  }

  // Runs on the poll thread (or inside rd_kafka_flush on the sink thread).
  static void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(static_cast<weir::kafka::Opaque*>(opaque)->self);
    auto* s = static_cast<Slot*>(m->_private);
    if (!s) return;
    BatchState* st = s->owner;
    if (m->err) {
      // Only failures touch the slot (the sink thread wrote it last: a cache-line transfer
      // per record, which was most of this callback's cost). Success = still InFlight.
      // Why the request failed is the host's to log (with its retry).
      s->err = m->err;
      s->status = Status::Failed;
      st->last_err.store(m->err, std::memory_order_relaxed);
      st->failed.store(true, std::memory_order_relaxed);
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) self->fatal_ = true;
    }
    if (st->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    // The last record of the request settled: tell the host (which may free
    // the request at once: st is not touched after). Deliveries are served by
    // our poll thread and, during flush(), by the sink thread: one at a time.
    bool ok = !st->failed.load(std::memory_order_relaxed);
    if (self->closing_) return;
    std::string reason = ok ? "" : "delivery to " + self->topic_ + " failed: " + rd_kafka_err2str(st->last_err.load());
    self->ctx().sent(*st, ok, reason);
  }

  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(static_cast<weir::kafka::Opaque*>(opaque)->self);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[256];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      self->ctx().error_log(std::string("fatal producer error: ") + fatal + "; the pipeline stops");
      self->fatal_ = true;
      return;
    }
    self->warnings_.warn(self->ctx(), err,
                         std::string("kafka: ") + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason);
  }

  void shutdown() {
    if (running_.exchange(false)) {
      // Wake the poller now rather than at the end of its rd_kafka_poll(100): that wait
      // was the last 0-100 ms of every run. (rd_kafka_yield() only works from a callback.)
      rd_kafka_queue_t* main_q = rd_kafka_queue_get_main(rk_);
      rd_kafka_queue_yield(main_q);
      rd_kafka_queue_destroy(main_q);
      poller_.join();
    }
    if (!rk_) return;
    closing_ = true;  // undelivered records are not acknowledged: the source re-reads them
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);
    if (rkt_) rd_kafka_topic_destroy(rkt_);
    rkt_ = nullptr;
    for (auto& [name, h] : topic_handles_) rd_kafka_topic_destroy(h);
    topic_handles_.clear();
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  weir::kafka::Opaque opaque_;
  weir::kafka::ConfPtr conf_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::optional<weir::Template> topic_template_;                    // per-record topics, or none
  std::unordered_map<std::string, rd_kafka_topic_t*> topic_handles_;  // their handles (node thread)
  std::string topic_, key_field_, value_field_;
  std::optional<weir::Template> key_;  // the key template, when given
  bool json_value_ = false, timestamps_ = false, keyed_ = true;
  static constexpr auto kPartitionRefresh = std::chrono::seconds(30);
  bool own_partitioning_ = true;  // false when rdkafka.partitioner is given
  std::mutex partitions_mu_;
  int32_t partition_count_ = 0;
  std::vector<int32_t> writable_;  // partitions with a leader
  uint64_t next_unkeyed_ = 0;
  std::vector<int32_t> partition_of_;        // produce_all's scratch: each message's partition,
  std::vector<size_t> runs_;                 // each partition's run,
  std::vector<rd_kafka_message_t> grouped_;  // and the messages grouped by partition
  int64_t delivery_attempts_ = 3, flush_timeout_ms_ = 30000;

  size_t queue_max_ = 100000, max_chunk_ = 10000;  // queue.buffering.max.messages; records per produce call
  std::vector<rd_kafka_message_t> msgs_;          // send()'s records for rd_kafka_produce_batch

  std::thread poller_;
  std::atomic<bool> running_{false}, fatal_{false}, closing_{false};
  weir::kafka::WarnLimiter warnings_;
};

}  // namespace

WEIR_PLUGIN(KafkaSink, (weir::PluginInfo{
                           .name = "kafka_sink",
                           .version = "1.1.0",
                           .description = "idempotent Kafka producer (librdkafka, acks=all); a request is done when all its records are",
                           .kind = WEIR_SINK,
                           .inputs = kInputs,
                           .params = kParams,
                       }))
