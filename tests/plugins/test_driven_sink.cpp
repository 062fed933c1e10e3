// test_driven_sink — a weir::Sink (ABI 1.3: encode/send, the host drives
// delivery) that writes each record's seq to a file, and the size of every
// request it stores to another; it can fail every Nth send (WEIR_RETRY), or
// answer asynchronously from a thread of its own.
#include <weir/delivery.hpp>
#include <weir/sdk.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace {

const weir_port_spec kInputs[] = {{"in", "records with field seq"}};
const weir_param_spec kOwnParams[] = {
    {"path", WEIR_PARAM_STRING, nullptr, 1, nullptr, "file to append seq values to (one per line)"},
    {"sizes_path", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "file to append the record count of every stored request to"},
    {"fail_every", WEIR_PARAM_INT, "0", 0, "sends", "every Nth send returns WEIR_RETRY"},
    {"async", WEIR_PARAM_BOOL, "false", 0, nullptr, "answer from a separate thread (WEIR_PENDING)"},
    {"refuse_seq", WEIR_PARAM_INT, "-1", 0, nullptr,
     "the record with this seq is refused by the server (reject_sent), reported twice along with an index past the "
     "request, as a buggy plugin might"},
};
constexpr auto kParams = weir::with_delivery_params(kOwnParams);

struct Seqs : weir::SinkRequest {
  std::vector<long long> seqs;
};

class TestDrivenSink : public weir::Sink {
 public:
  TestDrivenSink(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), path_(p.str("path")), sizes_path_(p.str("sizes_path")), fail_every_(p.integer("fail_every")),
        async_(p.boolean("async")), refuse_seq_(p.integer("refuse_seq")) {}
  ~TestDrivenSink() override { stop(); }
  weir_status open() override {
    if (async_) answerer_ = std::thread([this] { answer_loop(); });
    return WEIR_OK;
  }
  weir_status close() override {
    stop();
    return WEIR_OK;
  }
  std::unique_ptr<weir::SinkRequest> encode(weir::Batch in) override {
    auto r = std::make_unique<Seqs>();
    for (weir::Record rec : in) {
      const weir_value* seq = rec.field("seq");
      if (seq && seq->type == WEIR_INT64) r->seqs.push_back(seq->as.i64);
      else ctx_.reject(rec, "no int64 field seq");
    }
    return r;
  }
  weir_status send(weir::SinkRequest& request, std::string& reason) override {
#ifndef TEST_SINK_MENDED  // the mended build stores whatever fail_every says
    if (fail_every_ && ++sends_ % fail_every_ == 0) {
      reason = "told to fail (fail_every = " + std::to_string(fail_every_) + ")";
      return WEIR_RETRY;
    }
#else
    (void)reason;
#endif
    auto& r = static_cast<Seqs&>(request);
    for (size_t i = 0; i < r.seqs.size(); ++i) {
      if (r.seqs[i] != refuse_seq_) continue;
      // Every record of this test has a seq, so its index in seqs is its index in the batch.
      for (int twice = 0; twice < 2; ++twice) ctx_.reject_sent(r, static_cast<uint32_t>(i), "told to refuse it");
      ctx_.reject_sent(r, static_cast<uint32_t>(r.seqs.size() + 1000), "an index past the request");
      r.seqs.erase(r.seqs.begin() + static_cast<long>(i));
      break;
    }
    if (!async_) {
      store(r);
      return WEIR_OK;
    }
    std::lock_guard lock(mu_);
    pending_.push_back(&r);
    cv_.notify_one();
    return WEIR_PENDING;
  }

 private:
  void store(const Seqs& r) {
    append(path_, r.seqs);
    if (!sizes_path_.empty()) append(sizes_path_, {static_cast<long long>(r.seqs.size())});
  }
  static void append(const std::string& path, const std::vector<long long>& values) {
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) return;
    for (long long v : values) std::fprintf(f, "%lld\n", v);
    std::fclose(f);
  }
  void answer_loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      Seqs* r = pending_.front();
      pending_.pop_front();
      lock.unlock();
      store(*r);
      ctx_.sent(*r, true);
      lock.lock();
    }
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (answerer_.joinable()) answerer_.join();
  }

  weir::Context ctx_;
  std::string path_, sizes_path_;
  int64_t fail_every_, sends_ = 0;
  bool async_;
  int64_t refuse_seq_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Seqs*> pending_;
  bool stopping_ = false;
  std::thread answerer_;
};

}  // namespace

#ifndef TEST_SINK_VERSION
#define TEST_SINK_VERSION "1.0.0"
#endif
WEIR_PLUGIN(TestDrivenSink, (weir::PluginInfo{.name = "test_driven_sink", .version = TEST_SINK_VERSION,
                                              .description = "test: a sink driven by the host (encode/send), failing or async",
                                              .kind = WEIR_SINK, .inputs = kInputs, .params = kParams}))
