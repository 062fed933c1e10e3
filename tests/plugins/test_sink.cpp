// test_sink — writes each record's seq to a file, but can be slow, fail
// (WEIR_RETRY), fail for good (WEIR_FAILED), acknowledge asynchronously, fail async acks, reject records, or
// first write to a socket whose peer has closed (as a client library would).
#include <weir/sdk.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace {

const weir_port_spec kInputs[] = {{"in", "records with field seq"}};
const weir_param_spec kParams[] = {
    {"path", WEIR_PARAM_STRING, nullptr, 1, nullptr, "file to append seq values to (one per line)"},
    {"delay_us", WEIR_PARAM_INT, "0", 0, "us", "sleep per batch"},
    {"fail_every", WEIR_PARAM_INT, "0", 0, "writes", "every Nth write attempt returns WEIR_RETRY"},
    {"fail_after", WEIR_PARAM_INT, "0", 0, "writes",
     "the write attempt after this many returns WEIR_FAILED, as a sink that cannot go on (0 = never)"},
    {"async", WEIR_PARAM_BOOL, "false", 0, nullptr, "ack from a separate thread (WEIR_PENDING)"},
    {"async_fail_every", WEIR_PARAM_INT, "0", 0, "acks", "every Nth async ack reports failure"},
    {"reject_multiple_of", WEIR_PARAM_INT, "0", 0, nullptr, "send records whose seq is a multiple of this to the error port"},
    {"write_closed_socket", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "every write first writes to a socket whose peer has closed, with plain write(2), and warns once with the error"},
};

class TestSink : public weir::Plugin {
 public:
  TestSink(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), path_(p.str("path")), delay_us_(p.integer("delay_us")), fail_every_(p.integer("fail_every")),
        fail_after_(p.integer("fail_after")),
        async_(p.boolean("async")), async_fail_every_(p.integer("async_fail_every")),
        reject_multiple_of_(p.integer("reject_multiple_of")), write_closed_socket_(p.boolean("write_closed_socket")) {}
  ~TestSink() override {
    stop();
    if (file_) std::fclose(file_);
  }
  weir_status open() override {
    file_ = std::fopen(path_.c_str(), "a");
    if (!file_) return WEIR_FAILED;
    if (async_) acker_ = std::thread([this] { ack_loop(); });
    return WEIR_OK;
  }
  weir_status close() override {
    stop();
    return WEIR_OK;
  }
  weir_status write(weir::Batch in) override {
    if (write_closed_socket_) closed_socket_write();
    if (delay_us_) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    if (fail_after_ && writes_++ == fail_after_) {
      ctx_.error_log("failing for good, as told (fail_after = " + std::to_string(fail_after_) + ")");
      return WEIR_FAILED;
    }
#ifndef TEST_SINK_MENDED  // the mended build (test_sink_mended) writes whatever fail_every says
    if (fail_every_ && ++attempts_ % fail_every_ == 0) return WEIR_RETRY;
#endif
    if (!async_) {
      store(in);
      return WEIR_OK;
    }
    std::lock_guard lock(mu_);
    pending_.push_back(in.raw());
    cv_.notify_one();
    return WEIR_PENDING;
  }

 private:
  void store(weir::Batch in) {
    for (weir::Record r : in) {
      const weir_value* seq = r.field("seq");
      if (!seq || seq->type != WEIR_INT64) {
        ctx_.reject(r, "no int64 field seq");
        continue;
      }
      if (reject_multiple_of_ && seq->as.i64 % reject_multiple_of_ == 0) {
        ctx_.reject(r, "seq is a multiple of " + std::to_string(reject_multiple_of_));
        continue;
      }
      std::fprintf(file_, "%lld\n", static_cast<long long>(seq->as.i64));
    }
    std::fflush(file_);
  }
  // No MSG_NOSIGNAL, like hiredis: EPIPE here raises SIGPIPE unless the host ignores it.
  void closed_socket_write() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
    ::close(fds[1]);
    ssize_t w = ::write(fds[0], "x", 1);
    int err = errno;
    ::close(fds[0]);
    if (w < 0 && !warned_closed_) {
      warned_closed_ = true;
      ctx_.warn(std::string("write to a closed socket: ") + std::strerror(err));
    }
  }
  void ack_loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;
      const weir_batch* b = pending_.front();
      pending_.pop_front();
      lock.unlock();
      bool ok = !(async_fail_every_ && ++acks_ % async_fail_every_ == 0);
      if (ok) store(weir::Batch(b));
      ctx_.ack(weir::Batch(b), ok);
      lock.lock();
    }
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (acker_.joinable()) acker_.join();
  }

  weir::Context ctx_;
  std::string path_;
  int64_t delay_us_, fail_every_, fail_after_, writes_ = 0;
  bool async_;
  int64_t async_fail_every_, reject_multiple_of_;
  bool write_closed_socket_, warned_closed_ = false;
  std::FILE* file_ = nullptr;
  int64_t attempts_ = 0, acks_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<const weir_batch*> pending_;
  bool stopping_ = false;
  std::thread acker_;
};

}  // namespace

#ifndef TEST_SINK_VERSION
#define TEST_SINK_VERSION "1.0.0"
#endif
WEIR_PLUGIN(TestSink, (weir::PluginInfo{.name = "test_sink", .version = TEST_SINK_VERSION,
                                        .description = "test: slow/failing/async sink writing seq values",
                                        .kind = WEIR_SINK, .inputs = kInputs, .params = kParams}))
