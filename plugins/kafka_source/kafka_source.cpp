// kafka_source — a Kafka consumer-group member (librdkafka) as a weir source.
//
// At-least-once: librdkafka never commits by itself (enable.auto.commit and
// enable.auto.offset.store are off). The host calls commit() with, per
// partition, the highest offset every sink downstream has acknowledged; we
// commit offset + 1 (async, at most every commit_interval_ms; synchronously on
// revoke and close).
//
// Positions: weir_position has one int32 partition, so records of several
// topics are told apart by encoding the topic's index (in the order this
// process first sees the topic) into it: position.partition =
// topic_index * 65536 + kafka_partition. The real partition is in the
// `partition` field.
//
// Rebalance: on revoke we stop reading, wait (up to revoke_timeout_ms) for the
// records already emitted from the revoked partitions to be acknowledged,
// commit synchronously, and only then give the partitions up. Records still
// unacknowledged after the timeout are not committed: the partitions' next
// owner reads them again (duplicates, never loss).
//
// Threading: every callback (rebalance, commit results, logs, errors) is
// served by rd_kafka_consume_batch_queue on the consumer queue, i.e. on the
// host's source thread, which also calls commit() and on_timer(): no locks
// needed for that state.
//
// Lag: kafka_consumer_lag = the broker's end offset (high watermark) minus the
// committed position (what a restart would read from), and
// kafka_consumer_position_lag = the end offset minus the consumed position (the
// next offset to read). They are published by a thread of their own, which asks
// the broker for the end offsets every lag_interval_ms (ListOffsets). Neither
// the timer nor librdkafka's cached watermarks would do: when the pipeline
// holds the source back, its thread is blocked inside emit() (on_timer runs
// between polls, so not at all while a sink stalls), and librdkafka stops
// fetching, so stops refreshing its cache, once its own queue is full. The
// source thread publishes the positions it owns (lag_view_, under lag_mu_);
// the lag thread only reads them.
#include <kafka_common.hpp>

#include <weir/sdk.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace {

constexpr int32_t kPartitionsPerTopic = 65536;
constexpr int32_t kMaxTopics = INT32_MAX / kPartitionsPerTopic;

const weir_port_spec kOutputs[] = {
    {"out", "one record per message: key, payload, event time = message timestamp, fields topic/partition/offset"}};
const weir_param_spec kParams[] = {
    {"endpoints", WEIR_PARAM_STRING, nullptr, 1, nullptr, "bootstrap brokers, \"host:port[,host:port...]\""},
    {"topics", WEIR_PARAM_STRING_LIST, nullptr, 1, nullptr, "topics to subscribe to; an entry starting with ^ is a regex"},
    {"group_id", WEIR_PARAM_STRING, nullptr, 1, nullptr, "consumer group: members share the partitions, offsets are committed to it"},
    {"start", WEIR_PARAM_STRING, "\"earliest\"", 0, nullptr,
     "where a partition without a committed offset starts: earliest or latest (auto.offset.reset)"},
    {"batch_size", WEIR_PARAM_INT, "1024", 0, "records", "most records per poll (one emitted batch)"},
    {"poll_timeout_ms", WEIR_PARAM_INT, "100", 0, "ms", "how long one poll waits for the first message"},
    {"commit_interval_ms", WEIR_PARAM_INT, "1000", 0, "ms", "commit acknowledged offsets at most this often (async); 0 = at every ack"},
    {"revoke_timeout_ms", WEIR_PARAM_INT, "10000", 0, "ms",
     "on a rebalance, wait this long for in-flight records of revoked partitions to be acknowledged"},
    {"lag_interval_ms", WEIR_PARAM_INT, "5000", 0, "ms", "how often to publish the lag gauges; 0 = never"},
    {"max_records", WEIR_PARAM_INT, "0", 0, "records", "end after this many records (tests, benchmarks); 0 = never"},
    {"end_at_eof", WEIR_PARAM_BOOL, "false", 0, nullptr, "end once every assigned partition is read to its end (tests, backfills)"},
    {"fields", WEIR_PARAM_BOOL, "true", 0, nullptr, "add the fields topic (string), partition and offset (int64)"},
    {"rdkafka", WEIR_PARAM_TABLE, "{}", 0, nullptr,
     "librdkafka consumer properties passed through, e.g. \"security.protocol\" = \"SASL_SSL\" (quote dotted keys)"},
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

ListPtr new_list(int size) { return ListPtr(rd_kafka_topic_partition_list_new(size)); }

class KafkaSource : public weir::Plugin {
 public:
  KafkaSource(weir::Context ctx, const weir::Params& p) : opaque_{ctx, this} {
    topics_ = p.list("topics");
    group_id_ = p.str("group_id");
    std::string start = p.str("start");
    batch_size_ = p.integer("batch_size");
    poll_timeout_ms_ = p.integer("poll_timeout_ms");
    commit_interval_ms_ = p.integer("commit_interval_ms");
    revoke_timeout_ms_ = p.integer("revoke_timeout_ms");
    lag_interval_ms_ = p.integer("lag_interval_ms");
    max_records_ = p.integer("max_records");
    end_at_eof_ = p.boolean("end_at_eof");
    fields_ = p.boolean("fields");

    if (p.str("endpoints").empty()) throw weir::ConfigError("endpoints must name at least one broker, e.g. \"127.0.0.1:9092\"");
    if (topics_.empty()) throw weir::ConfigError("topics must list at least one topic (or a ^regex)");
    for (const auto& t : topics_)
      if (t.empty() || t == "^") throw weir::ConfigError("topics must not contain an empty name");
    if (group_id_.empty()) throw weir::ConfigError("group_id must not be empty");
    if (start != "earliest" && start != "latest") throw weir::ConfigError("start must be \"earliest\" or \"latest\", not \"" + start + "\"");
    if (batch_size_ < 1 || batch_size_ > 1'000'000) throw weir::ConfigError("batch_size must be 1..1000000");
    if (poll_timeout_ms_ < 0 || poll_timeout_ms_ > 60'000) throw weir::ConfigError("poll_timeout_ms must be 0..60000");
    if (commit_interval_ms_ < 0 || revoke_timeout_ms_ < 0 || lag_interval_ms_ < 0 || max_records_ < 0)
      throw weir::ConfigError("commit_interval_ms, revoke_timeout_ms, lag_interval_ms and max_records must be >= 0");

    conf_ = weir::kafka::build_conf(
        {
            // librdkafka prefetches into its own queue while emit() blocks on a full pipeline:
            // keep that bounded by bytes (librdkafka's default is 64 MB)...
            {"queued.max.messages.kbytes", "16384"},
            // ...and not by a message count: 2.0.2 backs a partition's fetcher off for a fixed
            // 1 s once its queue passes queued.min.messages (100000), which small records hit
            // long before 16 MB (measured: 1M 35-byte records in 1.4 s instead of 0.55 s).
            {"queued.min.messages", "1000000"},
            {"client.id", "weir-kafka_source"},
            // Incremental rebalancing: a member joining or leaving moves only the
            // partitions that must move; the others keep flowing (and keep their state).
            {"partition.assignment.strategy", "cooperative-sticky"},
        },
        p.table("rdkafka"),
        {
            {"bootstrap.servers", p.str("endpoints")},
            {"group.id", group_id_},
            {"auto.offset.reset", start},
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            {"enable.partition.eof", end_at_eof_ ? "true" : "false"},
        },
        {
            {"bootstrap.servers", "use the parameter endpoints"},
            {"metadata.broker.list", "use the parameter endpoints"},
            {"group.id", "use the parameter group_id"},
            {"auto.offset.reset", "use the parameter start"},
            {"enable.auto.commit", "kafka_source commits acknowledged offsets itself (at-least-once)"},
            {"enable.auto.offset.store", "kafka_source commits acknowledged offsets itself (at-least-once)"},
            {"enable.partition.eof", "use the parameter end_at_eof"},
        });
    weir::kafka::route_logs(conf_.get());
    rd_kafka_conf_set_opaque(conf_.get(), &opaque_);
    rd_kafka_conf_set_rebalance_cb(conf_.get(), &KafkaSource::rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf_.get(), &KafkaSource::commit_cb);
    rd_kafka_conf_set_error_cb(conf_.get(), &KafkaSource::error_cb);

    out_ = ctx.port("out");
    topic_name_ = ctx.name("topic");
    partition_name_ = ctx.name("partition");
    offset_name_ = ctx.name("offset");
  }

  ~KafkaSource() override {
    stop_lag_thread();
    // Only when close() did not run (open failed): no callbacks into a dying object.
    if (queue_) rd_kafka_queue_destroy(queue_);
    if (rk_) rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  weir_status open() override {
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf_.get(), err, sizeof err);
    if (!rk_) {
      ctx().error_log(std::string("cannot create the Kafka consumer: ") + err);
      return WEIR_FAILED;
    }
    (void)conf_.release();  // owned by rk_ now
    rd_kafka_set_log_queue(rk_, nullptr);  // logs to the main queue...
    rd_kafka_poll_set_consumer(rk_);       // ...forwarded to the consumer queue poll() reads
    queue_ = rd_kafka_queue_get_consumer(rk_);
    messages_.resize(static_cast<size_t>(batch_size_));
    ListPtr subscription = new_list(static_cast<int>(topics_.size()));
    for (const auto& t : topics_) rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, subscription.get())) {
      ctx().error_log(std::string("cannot subscribe: ") + rd_kafka_err2str(e));
      return WEIR_FAILED;
    }
    if (lag_interval_ms_ > 0) {
      ctx().set_timer(lag_interval_ms_);  // commits between polls when no acknowledgement comes
      lag_thread_ = std::thread([this] { lag_loop(); });
    }
    next_commit_ms_ = steady_ms() + commit_interval_ms_;
    return WEIR_OK;
  }

  weir_status poll() override {
    if (failed_) return WEIR_FAILED;
    if (revoke_.pending && !finish_revoke(false)) return WEIR_IDLE;  // still waiting for acks
    if (max_records_ > 0 && emitted_total_ >= max_records_) return WEIR_END;
    if (end_at_eof_ && all_at_eof()) return WEIR_END;
    if (dirty_ && steady_ms() >= next_commit_ms_) commit_acked(true);

    int64_t limit = batch_size_;
    if (max_records_ > 0) limit = std::min(limit, max_records_ - emitted_total_);
    weir::BatchBuilder b = ctx().batch(static_cast<uint32_t>(limit));
    // Messages in arrays from the consumer queue, which serves librdkafka's
    // callbacks (rebalance, commits, errors, logs) on the way as consumer_poll
    // does, but with one call per array instead of one per message (each
    // consumer_poll reads the clock and marks the consumer as polled). The first
    // call waits up to poll_timeout_ms for a message, the next take what is queued.
    int timeout = static_cast<int>(poll_timeout_ms_);
    for (int64_t want = timeout > 0 ? 1 : limit; b.size() < limit; want = limit - b.size(), timeout = 0) {
      ssize_t n = rd_kafka_consume_batch_queue(queue_, timeout, messages_.data(), static_cast<size_t>(want));
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = messages_[i];
        if (m->err) on_error_message(m);
        else add(b, m);
        rd_kafka_message_destroy(m);
      }
      if (revoke_.pending || failed_) break;  // a rebalance began inside the call
    }
    if (failed_) return WEIR_FAILED;
    publish_positions();  // before emit(), which may block for as long as the pipeline is held back
    weir_status st = b.size() == 0 ? (poll_timeout_ms_ > 0 ? WEIR_OK : WEIR_IDLE)  // we already waited in the first call
                                   : ctx().emit(out_, b) == WEIR_STOPPING ? WEIR_END : WEIR_OK;
    announce_revoked();  // behind the last records of the revoked partitions
    return st;
  }

  weir_status commit(std::span<const weir_position> positions) override {
    for (const weir_position& pos : positions) {
      auto it = parts_.find(pos.partition);
      // Not ours any more: the partition's new owner re-reads from the last commit.
      if (it == parts_.end() || !it->second.owned) continue;
      it->second.acked = std::max(it->second.acked, pos.offset);
      dirty_ = true;
    }
    if (dirty_ && !revoke_.pending && steady_ms() >= next_commit_ms_) commit_acked(true);
    return WEIR_OK;
  }

  weir_status on_timer(int64_t) override {
    if (!rk_) return WEIR_OK;
    if (dirty_ && !revoke_.pending && steady_ms() >= next_commit_ms_) commit_acked(true);
    return WEIR_OK;
  }

  weir_status close() override {
    if (!rk_) return WEIR_OK;
    closing_ = true;
    stop_lag_thread();
    if (revoke_.pending) finish_revoke(true);
    commit_sync_owned();
    // Leaves the group; the final revoke (rebalance_cb) runs inside and commits nothing new.
    if (rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk_))
      ctx().warn(std::string("leaving the consumer group: ") + rd_kafka_err2str(e));
    rd_kafka_queue_destroy(queue_);  // every queue reference goes before the handle
    queue_ = nullptr;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    ctx().info("consumed " + std::to_string(emitted_total_) + " records");
    return WEIR_OK;
  }

 private:
  struct Partition {
    std::string topic;
    int32_t partition = 0;
    int32_t id = 0;          // the encoded position.partition
    bool owned = false;      // assigned to us (including while a revoke waits)
    bool eof = false;
    int64_t emitted = -1;    // highest offset emitted since the partition was assigned
    int64_t acked = -1;      // highest offset acknowledged by every sink (commit())
    int64_t committed = -1;  // offset + 1 last sent in a commit (what Kafka will store)
    int64_t start = -1;      // first offset emitted since the partition was assigned
    std::string labels;      // topic="..",partition=".." for the gauges
    weir_str topic_field{};  // the topic, interned once for the records' `topic` field
  };

  const weir::Context& ctx() const { return opaque_.ctx; }

  int32_t topic_index(const char* name) {
    auto it = topic_index_.find(name);
    if (it != topic_index_.end()) return it->second;
    int32_t index = static_cast<int32_t>(topic_index_.size());
    topic_index_.emplace(name, index);
    return index;
  }

  Partition* partition_of(const char* topic, int32_t partition, bool create) {
    if (partition < 0 || partition >= kPartitionsPerTopic) {
      ctx().error_log(std::string("partition ") + std::to_string(partition) + " of topic " + topic +
                      " is beyond what kafka_source can encode (65536 per topic)");
      failed_ = true;
      return nullptr;
    }
    int32_t index = topic_index(topic);
    if (index >= kMaxTopics) {
      ctx().error_log("more than " + std::to_string(kMaxTopics) + " topics: kafka_source cannot encode their positions");
      failed_ = true;
      return nullptr;
    }
    int32_t id = index * kPartitionsPerTopic + partition;
    auto it = parts_.find(id);
    if (it != parts_.end()) return &it->second;
    if (!create) return nullptr;
    Partition& p = parts_[id];
    p.topic = topic;
    p.partition = partition;
    p.id = id;
    p.labels = "topic=\"" + p.topic + "\",partition=\"" + std::to_string(partition) + "\"";
    p.topic_field = ctx().name(p.topic);
    return &p;
  }

  // The partition of a message. librdkafka hands them out partition by partition
  // (one fetched message set after another), so the last one found is nearly
  // always the answer: no topic lookup (a std::string built and hashed) per
  // message. The name check keeps it right if librdkafka reuses a topic handle.
  // parts_ never erases, so the pointer stays valid.
  Partition* partition_of(rd_kafka_message_t* m) {
    if (last_part_ && last_rkt_ == m->rkt && last_part_->partition == m->partition &&
        last_part_->topic == rd_kafka_topic_name(m->rkt))
      return last_part_;
    Partition* p = partition_of(rd_kafka_topic_name(m->rkt), m->partition, false);
    if (p) {
      last_part_ = p;
      last_rkt_ = m->rkt;
    }
    return p;
  }

  void add(weir::BatchBuilder& b, rd_kafka_message_t* m) {
    Partition* part = partition_of(m);
    if (!part || !part->owned) {
      // A message of a partition no longer assigned (librdkafka normally purges
      // them on revoke): not emitted, so not committed; its owner reads it.
      ++not_owned_;
      return;
    }
    weir::RecordBuilder r = b.add();
    if (m->key_len) r.key(std::string_view(static_cast<const char*>(m->key), m->key_len));
    if (m->len) r.payload(std::string_view(static_cast<const char*>(m->payload), m->len));
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    if (ts >= 0) r.event_time_ns(ts * 1'000'000);
    r.position(part->id, m->offset);
    if (fields_) {
      // Member by member into the (zeroed) fields: `f[i] = {name, int_value(x)}`
      // builds each value on the stack in pieces and reads it back whole before
      // the pieces have left the store buffer, and the CPU waits for them (perf:
      // most of add()'s own time).
      auto f = r.fields(3);
      f[0].name = topic_name_;
      f[0].value.type = WEIR_STRING;
      f[0].value.as.str = part->topic_field;
      f[1].name = partition_name_;
      f[1].value.type = WEIR_INT64;
      f[1].value.as.i64 = m->partition;
      f[2].name = offset_name_;
      f[2].value.type = WEIR_INT64;
      f[2].value.as.i64 = m->offset;
    }
    part->emitted = std::max(part->emitted, m->offset);
    if (part->start < 0) part->start = m->offset;
    part->eof = false;
    ++emitted_total_;
  }

  void on_error_message(rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (Partition* p = m->rkt ? partition_of(m) : nullptr) p->eof = true;
      return;
    }
    char fatal[256];
    if (rd_kafka_fatal_error(rk_, fatal, sizeof fatal)) {
      ctx().error_log(std::string("fatal consumer error: ") + fatal);
      failed_ = true;
      return;
    }
    warn_limited(m->err, std::string("consumer error: ") + rd_kafka_message_errstr(m) +
                             (m->rkt ? std::string(" (topic ") + rd_kafka_topic_name(m->rkt) + ")" : ""));
  }

  void warn_limited(int code, const std::string& msg) { warnings_.warn(ctx(), code, msg); }

  bool all_at_eof() const {
    bool any = false;
    for (const auto& [id, p] : parts_) {
      if (!p.owned) continue;
      if (!p.eof) return false;
      any = true;
    }
    return any && !revoke_.pending;
  }

  // ---- commits

  // Async commit of what was acknowledged since the last commit.
  void commit_acked(bool async) {
    ListPtr list = new_list(8);
    for (auto& [id, p] : parts_)
      if (p.owned && p.acked + 1 > p.committed)
        rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.acked + 1;
    dirty_ = false;
    next_commit_ms_ = steady_ms() + commit_interval_ms_;
    if (list->cnt == 0) return;
    if (rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list.get(), async ? 1 : 0)) {
      warn_limited(e, std::string("offset commit failed: ") + rd_kafka_err2str(e) + "; retried with the next acknowledgement");
      dirty_ = true;
      return;
    }
    for (int i = 0; i < list->cnt; ++i)
      if (Partition* p = partition_of(list->elems[i].topic, list->elems[i].partition, false)) p->committed = list->elems[i].offset;
    publish_positions();
  }

  // Synchronous commit of every acknowledged offset of `list` (or of all owned partitions).
  void commit_sync(rd_kafka_topic_partition_list_t* which) {
    ListPtr list = new_list(8);
    auto add = [&](Partition& p) {
      if (p.acked >= 0) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.acked + 1;
    };
    if (which) {
      for (int i = 0; i < which->cnt; ++i)
        if (Partition* p = partition_of(which->elems[i].topic, which->elems[i].partition, false)) add(*p);
    } else {
      for (auto& [id, p] : parts_)
        if (p.owned) add(p);
    }
    if (list->cnt == 0) return;
    rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list.get(), 0);
    std::string failed;
    for (int i = 0; i < list->cnt; ++i) {
      const auto& el = list->elems[i];
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR && el.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (Partition* p = partition_of(el.topic, el.partition, false)) p->committed = el.offset;
      } else {
        failed += std::string(failed.empty() ? "" : ", ") + el.topic + "[" + std::to_string(el.partition) + "]@" + std::to_string(el.offset);
      }
    }
    publish_positions();
    if (!failed.empty())
      ctx().warn(std::string("final offset commit failed (") + rd_kafka_err2str(e ? e : RD_KAFKA_RESP_ERR__FAIL) + ") for " + failed +
                 ": those records will be delivered again");
  }

  void commit_sync_owned() { commit_sync(nullptr); }

  static void commit_cb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<weir::kafka::Opaque*>(opaque)->self);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
    for (int i = 0; offsets && i < offsets->cnt; ++i) {
      const auto& el = offsets->elems[i];
      rd_kafka_resp_err_t e = err ? err : el.err;
      if (!e) continue;
      // Let the next commit carry it again.
      if (Partition* p = self->partition_of(el.topic, el.partition, false); p && p->committed == el.offset) {
        p->committed = -1;
        self->dirty_ = true;
      }
      self->warn_limited(e, std::string("offset commit of ") + el.topic + "[" + std::to_string(el.partition) + "]@" +
                                std::to_string(el.offset) + " failed: " + rd_kafka_err2str(e) + "; it is retried");
    }
  }

  // ---- rebalance

  static void rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<KafkaSource*>(static_cast<weir::kafka::Opaque*>(opaque)->self)->on_rebalance(err, parts);
  }

  static std::string describe(const rd_kafka_topic_partition_list_t* l) {
    std::map<std::string, std::string> by_topic;
    for (int i = 0; i < l->cnt; ++i) {
      std::string& s = by_topic[l->elems[i].topic];
      s += (s.empty() ? "" : ",") + std::to_string(l->elems[i].partition);
    }
    std::string out;
    for (auto& [t, ps] : by_topic) out += (out.empty() ? "" : " ") + t + "[" + ps + "]";
    return out.empty() ? "nothing" : out;
  }

  bool cooperative() const { return std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0; }

  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (int i = 0; i < parts->cnt; ++i) {
        Partition* p = partition_of(parts->elems[i].topic, parts->elems[i].partition, true);
        if (!p) continue;
        p->owned = true;
        p->eof = false;
        p->emitted = p->acked = p->committed = p->start = -1;
      }
      rd_kafka_error_t* e = nullptr;
      rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
      if (cooperative()) e = rd_kafka_incremental_assign(rk_, parts);
      else code = rd_kafka_assign(rk_, parts);
      if (e) {
        ctx().warn(std::string("assign failed: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      } else if (code) {
        ctx().warn(std::string("assign failed: ") + rd_kafka_err2str(code));
      }
      ctx().info("assigned " + describe(parts));
      // Downstream state of these partitions is restored before their first records.
      std::vector<int32_t> ids;
      for (int i = 0; i < parts->cnt; ++i)
        if (Partition* p = partition_of(parts->elems[i].topic, parts->elems[i].partition, false)) ids.push_back(p->id);
      ctx().partitions_assigned(ids);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (revoke_.pending) finish_revoke(true);
      revoke_.list.reset(rd_kafka_topic_partition_list_copy(parts));
      revoke_.cooperative = cooperative();
      revoke_.lost = rd_kafka_assignment_lost(rk_) != 0;
      revoke_.deadline_ms = steady_ms() + revoke_timeout_ms_;
      revoke_.pending = true;
      // Downstream state of these partitions is checkpointed and dropped once the
      // batch being built (it may hold their last records) is out: see poll().
      for (int i = 0; i < parts->cnt; ++i)
        if (Partition* p = partition_of(parts->elems[i].topic, parts->elems[i].partition, false))
          announce_.push_back(p->id);
      announce_lost_ = announce_lost_ || revoke_.lost;
      if (revoke_.lost || closing_ || revoke_timeout_ms_ == 0) finish_revoke(true);
      else if (!finish_revoke(false))
        ctx().info("revoking " + describe(parts) + ": waiting up to " + std::to_string(revoke_timeout_ms_) +
                   " ms for its in-flight records to be acknowledged");
    } else {
      ctx().warn(std::string("rebalance error: ") + rd_kafka_err2str(err) + "; dropping the assignment");
      rd_kafka_assign(rk_, nullptr);
      for (auto& [id, p] : parts_) p.owned = false;
    }
    publish_assigned();
    publish_positions();
  }

  // Gives the revoked partitions up once their emitted records are acknowledged
  // (or `force`, or the timeout). Returns false while still waiting.
  bool finish_revoke(bool force) {
    rd_kafka_topic_partition_list_t* list = revoke_.list.get();
    std::vector<Partition*> revoked;
    for (int i = 0; i < list->cnt; ++i)
      if (Partition* p = partition_of(list->elems[i].topic, list->elems[i].partition, false)) revoked.push_back(p);
    bool ready = force || revoke_.lost;
    if (!ready) {
      ready = std::all_of(revoked.begin(), revoked.end(), [](Partition* p) { return p->acked >= p->emitted; });
      if (!ready && steady_ms() >= revoke_.deadline_ms) {
        ready = true;
        ctx().warn("revoke: records of " + describe(list) + " were not all acknowledged within revoke_timeout_ms (" +
                   std::to_string(revoke_timeout_ms_) + " ms); the acknowledged ones are committed, the rest will be "
                   "delivered again by the partitions' next owner");
      }
    }
    if (!ready) return false;
    if (!revoke_.lost) commit_sync(list);
    else ctx().warn("partitions " + describe(list) + " were lost (session timeout?): their uncommitted records will be delivered again");
    if (revoke_.cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, list)) {
        ctx().warn(std::string("unassign failed: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, nullptr);
    }
    for (Partition* p : revoked) {
      p->owned = false;
      p->eof = false;
      p->emitted = -1;
    }
    publish_positions();  // their lag gauges go: their next owner reports them
    ctx().info("revoked " + describe(list));
    revoke_.pending = false;
    revoke_.list.reset();
    publish_assigned();
    return true;
  }

  void announce_revoked() {
    if (announce_.empty()) return;
    ctx().partitions_revoked(announce_, announce_lost_);
    announce_.clear();
    announce_lost_ = false;
  }

  // ---- metrics

  void publish_assigned() {
    int n = 0;
    for (auto& [id, p] : parts_) n += p.owned;
    ctx().gauge("kafka_assigned_partitions", "", n);
  }

  // The positions of the partitions we own, for the lag thread; the gauges of
  // partitions no longer ours are removed here, under the same lock, so the
  // lag thread cannot publish them again.
  void publish_positions() {
    std::lock_guard lock(lag_mu_);
    for (auto it = lag_view_.begin(); it != lag_view_.end();) {
      auto p = parts_.find(it->first);
      if (p != parts_.end() && p->second.owned) {
        ++it;
        continue;
      }
      ctx().remove_gauge("kafka_consumer_lag", it->second.labels.c_str());
      ctx().remove_gauge("kafka_consumer_position_lag", it->second.labels.c_str());
      it = lag_view_.erase(it);
    }
    for (auto& [id, p] : parts_) {
      if (!p.owned) continue;
      LagView& v = lag_view_[id];
      if (v.topic.empty()) v = {p.topic, p.partition, p.labels};
      // Committed: what a restart reads from; before our first commit, where we started reading.
      v.committed = p.committed >= 0 ? p.committed : p.start;
      v.consumed = p.emitted >= 0 ? p.emitted + 1 : -1;
    }
  }

  void lag_loop() {
    std::unique_lock lock(lag_mu_);
    while (!lag_cv_.wait_for(lock, std::chrono::milliseconds(lag_interval_ms_), [&] { return lag_stop_; })) {
      std::vector<std::pair<int32_t, LagView>> view(lag_view_.begin(), lag_view_.end());
      lock.unlock();
      // A broker round trip per partition (ListOffsets): the end offset now.
      std::vector<std::pair<int32_t, int64_t>> ends;
      for (const auto& [id, v] : view) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk_, v.topic.c_str(), v.partition, &lo, &hi, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0)
          ends.emplace_back(id, hi);
        if (lag_stopping_.load()) break;
      }
      lock.lock();
      for (auto [id, end] : ends) {
        auto it = lag_view_.find(id);
        if (it == lag_view_.end()) continue;  // revoked meanwhile
        const LagView& v = it->second;
        if (v.committed >= 0)
          ctx().gauge("kafka_consumer_lag", v.labels.c_str(), static_cast<double>(std::max<int64_t>(0, end - v.committed)));
        if (v.consumed >= 0)
          ctx().gauge("kafka_consumer_position_lag", v.labels.c_str(),
                      static_cast<double>(std::max<int64_t>(0, end - v.consumed)));
      }
    }
  }

  void stop_lag_thread() {
    if (!lag_thread_.joinable()) return;
    lag_stopping_ = true;
    {
      std::lock_guard lock(lag_mu_);
      lag_stop_ = true;
    }
    lag_cv_.notify_all();
    lag_thread_.join();
  }

  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSource*>(static_cast<weir::kafka::Opaque*>(opaque)->self);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[256];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      self->ctx().error_log(std::string("fatal consumer error: ") + fatal);
      self->failed_ = true;
      return;
    }
    self->warn_limited(err, std::string("kafka: ") + rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason);
  }

  weir::kafka::Opaque opaque_;
  weir::kafka::ConfPtr conf_;
  rd_kafka_t* rk_ = nullptr;
  std::vector<std::string> topics_;
  std::string group_id_;
  int64_t batch_size_, poll_timeout_ms_, commit_interval_ms_, revoke_timeout_ms_, lag_interval_ms_, max_records_;
  bool end_at_eof_, fields_;
  int32_t out_ = -1;
  weir_str topic_name_, partition_name_, offset_name_;

  std::unordered_map<std::string, int32_t> topic_index_;
  rd_kafka_queue_t* queue_ = nullptr;           // the consumer queue (messages and callbacks)
  std::vector<rd_kafka_message_t*> messages_;   // poll()'s array, batch_size long
  Partition* last_part_ = nullptr;  // partition_of(message)'s last answer
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  std::unordered_map<int32_t, Partition> parts_;  // by encoded id; kept after revoke (the index is stable)
  struct {
    bool pending = false, cooperative = false, lost = false;
    int64_t deadline_ms = 0;
    ListPtr list;
  } revoke_;
  std::vector<int32_t> announce_;  // revoked partitions (encoded ids) not yet announced downstream
  bool announce_lost_ = false;
  bool dirty_ = false, closing_ = false, failed_ = false;
  int64_t next_commit_ms_ = 0;
  int64_t emitted_total_ = 0, not_owned_ = 0;
  weir::kafka::WarnLimiter warnings_;

  // What the lag thread reads (see the top of the file).
  struct LagView {
    std::string topic;
    int32_t partition = 0;
    std::string labels;
    int64_t committed = -1;  // next offset after a restart (-1: not known yet)
    int64_t consumed = -1;   // next offset to read (-1: nothing read yet)
  };
  std::mutex lag_mu_;
  std::condition_variable lag_cv_;
  std::map<int32_t, LagView> lag_view_;  // the partitions we own; written by the source thread
  bool lag_stop_ = false;                // under lag_mu_
  std::atomic<bool> lag_stopping_{false};
  std::thread lag_thread_;
};

}  // namespace

WEIR_PLUGIN(KafkaSource, (weir::PluginInfo{
                             .name = "kafka_source",
                             .version = "1.0.0",
                             .description = "Kafka consumer group member (librdkafka), at-least-once via acknowledged commits",
                             .kind = WEIR_SOURCE,
                             .outputs = kOutputs,
                             .params = kParams,
                         }))
