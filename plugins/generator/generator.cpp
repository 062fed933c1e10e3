// generator — synthetic records at a given rate, for tests, demos and benchmarks.
#include <weir/sdk.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

const weir_port_spec kOutputs[] = {{"out", "generated records"}};
const weir_param_spec kParams[] = {
    {"count", WEIR_PARAM_INT, "0", 0, "records", "how many records to emit; 0 = until stopped"},
    {"rate", WEIR_PARAM_INT, "0", 0, "records/s", "target rate; 0 = as fast as the pipeline takes them"},
    {"payload_bytes", WEIR_PARAM_INT, "100", 0, "bytes", "size of each record's payload"},
    {"batch_size", WEIR_PARAM_INT, "1024", 0, "records", "records per emitted batch"},
    {"keys", WEIR_PARAM_INT, "16", 0, nullptr, "distinct keys (key = k<seq % keys>)"},
    {"partitions", WEIR_PARAM_INT, "1", 0, nullptr, "spread positions over this many partitions (seq % partitions)"},
    {"fields", WEIR_PARAM_BOOL, "true", 0, nullptr, "add typed fields seq (int64) and key (string)"},
};

class Generator : public weir::Plugin {
 public:
  Generator(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx),
        count_(p.integer("count")),
        rate_(p.integer("rate")),
        payload_bytes_(p.integer("payload_bytes")),
        batch_size_(p.integer("batch_size")),
        keys_(p.integer("keys")),
        partitions_(p.integer("partitions")),
        fields_(p.boolean("fields")) {
    if (count_ < 0 || rate_ < 0 || payload_bytes_ < 0) throw weir::ConfigError("count, rate and payload_bytes must be >= 0");
    if (batch_size_ <= 0 || keys_ <= 0 || partitions_ <= 0) throw weir::ConfigError("batch_size, keys and partitions must be > 0");
    out_ = ctx_.port("out");
    seq_name_ = ctx_.name("seq");
    key_name_ = ctx_.name("key");
  }

  weir_status open() override {
    start_ = std::chrono::steady_clock::now();
    return WEIR_OK;
  }

  weir_status poll() override {
    if (count_ > 0 && seq_ >= count_) return WEIR_END;
    int64_t n = batch_size_;
    if (count_ > 0) n = std::min(n, count_ - seq_);
    if (rate_ > 0) {
      // How many records the schedule allows by now.
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      int64_t allowed = static_cast<int64_t>(elapsed * static_cast<double>(rate_)) - seq_;
      if (allowed <= 0) return WEIR_IDLE;
      n = std::min(n, allowed);
    }
    weir::BatchBuilder b = ctx_.batch(static_cast<uint32_t>(n));
    std::string payload(static_cast<size_t>(payload_bytes_), 'x');
    char key[32];
    for (int64_t i = 0; i < n; ++i, ++seq_) {
      weir::RecordBuilder r = b.add();
      int klen = std::snprintf(key, sizeof key, "k%lld", static_cast<long long>(seq_ % keys_));
      r.key(std::string_view(key, static_cast<size_t>(klen)));
      if (payload_bytes_ > 0) {
        // The sequence number leads the payload so every record is distinct.
        int plen = std::snprintf(payload.data(), payload.size(), "%lld", static_cast<long long>(seq_));
        if (plen < payload_bytes_) payload[static_cast<size_t>(plen)] = ' ';
        r.payload(payload);
      }
      r.position(static_cast<int32_t>(seq_ % partitions_), seq_ / partitions_);
      if (fields_) {
        auto f = r.fields(2);
        f[0] = {seq_name_, weir::int_value(seq_)};
        f[1] = {key_name_, weir::string_value(r.raw()->key)};
      }
    }
    return ctx_.emit(out_, b) == WEIR_STOPPING ? WEIR_END : WEIR_OK;
  }

 private:
  weir::Context ctx_;
  int64_t count_, rate_, payload_bytes_, batch_size_, keys_, partitions_;
  bool fields_;
  int32_t out_;
  weir_str seq_name_, key_name_;
  int64_t seq_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

WEIR_PLUGIN(Generator, (weir::PluginInfo{
                           .name = "generator",
                           .version = "1.0.0",
                           .description = "synthetic records (seq, key, payload) at a fixed rate or as fast as possible",
                           .kind = WEIR_SOURCE,
                           .outputs = kOutputs,
                           .params = kParams,
                       }))
