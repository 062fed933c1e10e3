// test_source — emits seq 0..count-1 spread over partitions, and appends every
// commit it receives to a file, so tests can check what was committed when.
// With payload_file, the records carry that file's lines (any bytes) as payloads.
#include <weir/sdk.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

namespace {

const weir_port_spec kOutputs[] = {{"out", "records with field seq"}};
const weir_param_spec kParams[] = {
    {"count", WEIR_PARAM_INT, "1000", 0, "records", "records to emit (0 = until stopped)"},
    {"partitions", WEIR_PARAM_INT, "1", 0, nullptr, "partition = seq % partitions, offset = seq / partitions"},
    {"batch_size", WEIR_PARAM_INT, "100", 0, "records", "records per batch"},
    {"rate", WEIR_PARAM_INT, "0", 0, "batches/s", "0 = unthrottled"},
    {"commit_log", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "append 'partition offset' per committed position"},
    {"positions", WEIR_PARAM_BOOL, "true", 0, nullptr, "false = records carry no position (like a source that cannot commit)"},
    {"resume", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "per partition, start after the last offset in commit_log, as a consumer group would"},
    {"revoke_at", WEIR_PARAM_INT, "0", 0, "records",
     "after this many records, announce partition 0 revoked, hold its records back for revoke_batches batches, "
     "then announce it assigned again and send them (0 = never)"},
    {"revoke_batches", WEIR_PARAM_INT, "5", 0, "batches", "how long partition 0 stays revoked"},
    {"flaps", WEIR_PARAM_INT, "0", 0, nullptr,
     "at start, before any record: announce every partition assigned, revoked and assigned again this many times "
     "(a rebalance that comes while the previous one's restore is under way)"},
    {"event_times", WEIR_PARAM_BOOL, "false", 0, nullptr, "event time of seq = (seq + 1) s since the epoch"},
    {"late_every", WEIR_PARAM_INT, "0", 0, "records", "with event_times: every Nth record is dated 60 s earlier (0 = none)"},
    {"ahead_seq", WEIR_PARAM_INT, "-1", 0, nullptr, "with event_times: this record is dated a year ahead (-1 = none)"},
    {"payload_file", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "one record per line of this file, the line's bytes (without \\n) as payload; count = the number of lines"},
};

class TestSource : public weir::Plugin {
 public:
  TestSource(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), count_(p.integer("count")), partitions_(p.integer("partitions")), batch_(p.integer("batch_size")),
        rate_(p.integer("rate")), log_path_(p.str("commit_log")), resume_(p.boolean("resume")),
        positions_(p.boolean("positions")), revoke_at_(p.integer("revoke_at")), revoke_batches_(p.integer("revoke_batches")),
        flaps_(p.integer("flaps")), event_times_(p.boolean("event_times")), late_every_(p.integer("late_every")), ahead_seq_(p.integer("ahead_seq")) {
    if (std::string path = p.str("payload_file"); !path.empty()) {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw weir::ConfigError("cannot read payload_file " + path);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (size_t at = 0; at < text.size();) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        payloads_.push_back(text.substr(at, end - at));
        at = end + 1;
      }
      if (payloads_.empty()) throw weir::ConfigError("payload_file " + path + " has no lines");
      count_ = static_cast<int64_t>(payloads_.size());
    }
    out_ = ctx_.port("out");
    seq_name_ = ctx_.name("seq");
  }
  ~TestSource() override {
    if (log_) std::fclose(log_);
  }
  weir_status open() override {
    if (resume_ && !log_path_.empty()) {
      if (std::FILE* in = std::fopen(log_path_.c_str(), "r")) {
        int partition = 0;
        long long offset = 0;
        while (std::fscanf(in, "%d %lld", &partition, &offset) == 2) committed_[partition] = offset;
        std::fclose(in);
      }
      // The first record some partition has not committed; later ones already committed are skipped.
      seq_ = -1;
      for (int64_t p = 0; p < partitions_; ++p) {
        auto it = committed_.find(static_cast<int32_t>(p));
        int64_t first = it == committed_.end() ? p : (it->second + 1) * partitions_ + p;
        seq_ = seq_ < 0 ? first : std::min(seq_, first);
      }
    }
    if (!log_path_.empty()) log_ = std::fopen(log_path_.c_str(), "a");
    start_ = ctx_.now_ns();
    return WEIR_OK;
  }
  weir_status poll() override {
    if (count_ > 0 && seq_ >= count_ && held_back_.empty()) return WEIR_END;
    if (rate_ > 0 && (ctx_.now_ns() - start_) * rate_ / 1'000'000'000 < batches_) return WEIR_IDLE;
    if (batches_ == 0) {
      std::vector<int32_t> all;
      for (int32_t p = 0; p < partitions_; ++p) all.push_back(p);
      for (int64_t i = 0; i < flaps_; ++i) {
        ctx_.partitions_assigned(all);
        ctx_.partitions_revoked(all, false);
      }
      if (flaps_ > 0) ctx_.partitions_assigned(all);
    }
    ++batches_;
    const int32_t revoked_partition = 0;
    if (revoke_at_ > 0 && seq_ >= revoke_at_ && revoked_since_ < 0) {
      revoked_since_ = batches_;
      ctx_.partitions_revoked(std::span<const int32_t>(&revoked_partition, 1), false);
    }
    bool revoked = revoked_since_ >= 0 && batches_ - revoked_since_ < revoke_batches_;
    auto b = ctx_.batch(static_cast<uint32_t>(batch_));
    if (!revoked && !held_back_.empty()) {
      ctx_.partitions_assigned(std::span<const int32_t>(&revoked_partition, 1));
      for (int64_t seq : held_back_) add(b, seq);
      held_back_.clear();
    }
    for (int64_t i = 0; i < batch_ && (count_ == 0 || seq_ < count_); ++i, ++seq_) {
      int32_t partition = static_cast<int32_t>(seq_ % partitions_);
      if (auto it = committed_.find(partition); it != committed_.end() && seq_ / partitions_ <= it->second) continue;
      if (revoked && partition == revoked_partition) held_back_.push_back(seq_);
      else add(b, seq_);
    }
    return ctx_.emit(out_, b) == WEIR_STOPPING ? WEIR_END : WEIR_OK;
  }
  void add(weir::BatchBuilder& b, int64_t seq) {
    auto r = b.add();
    if (positions_) r.position(static_cast<int32_t>(seq % partitions_), seq / partitions_);
    r.fields(1)[0] = {seq_name_, weir::int_value(seq)};
    if (!payloads_.empty()) r.payload(payloads_[static_cast<size_t>(seq)]);
    if (event_times_) {
      int64_t s = seq + 1;
      if (late_every_ > 0 && seq > 0 && seq % late_every_ == 0) s -= 60;
      if (seq == ahead_seq_) s += 365 * 86400;
      r.event_time_ns(s * 1'000'000'000);
    }
  }

  weir_status commit(std::span<const weir_position> done) override {
    for (const auto& p : done) {
      // The runtime promises per-partition monotonic commits.
      if (p.offset < last_[p.partition]) ctx_.error_log("commit went backwards");
      last_[p.partition] = p.offset;
      if (log_) std::fprintf(log_, "%d %lld\n", p.partition, static_cast<long long>(p.offset));
    }
    if (log_) std::fflush(log_);
    return WEIR_OK;
  }

 private:
  weir::Context ctx_;
  int64_t count_, partitions_, batch_, rate_;
  std::string log_path_;
  bool resume_ = false;
  bool positions_ = true;
  std::FILE* log_ = nullptr;
  int32_t out_;
  weir_str seq_name_;
  int64_t revoke_at_, revoke_batches_, flaps_;
  bool event_times_;
  int64_t late_every_, ahead_seq_;
  int64_t seq_ = 0, batches_ = 0, start_ = 0;
  int64_t revoked_since_ = -1;       // the batch at which partition 0 was revoked
  std::vector<int64_t> held_back_;   // its records while revoked
  std::map<int32_t, int64_t> last_, committed_;
  std::vector<std::string> payloads_;
};

}  // namespace

WEIR_PLUGIN(TestSource, (weir::PluginInfo{.name = "test_source", .version = "1.0.0",
                                          .description = "test: numbered records, logs commits",
                                          .kind = WEIR_SOURCE, .outputs = kOutputs, .params = kParams}))
