// The host's side of delivery for a sink (abi.h, "a sink in two steps"): it
// gathers input batches into requests (records, bytes, linger), keeps at most
// max_in_flight of them out, and retries failed ones with one backoff policy,
// without ever blocking the node's thread: run_sink calls step() between its
// other work (control commands, timers), and sleeps until next_due().
//
// The driver knows nothing of threads or plugins: it talks to a SinkTarget
// (the engine's plugin, a fake in tests) and takes the time as an argument,
// so its timing is tested with a fake clock.
#pragma once

#include "batch.hpp"

#include <weir/abi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weir {

class ParamValues;

struct RetryPolicy {
  int64_t initial_ns = 10'000'000;
  int64_t max_ns = 1'000'000'000;
  double multiplier = 2.0;
  double jitter = 0.0;        // each wait moves by up to this fraction, at random
  int64_t max_attempts = 0;   // give up after this many attempts; 0 = never
  // The wait after the FAILURES-th failure in a row (1 = the first), with U in
  // [0, 1) the random draw for the jitter (0.5 = none).
  int64_t delay_ns(int64_t failures, double u) const;
};

struct DeliveryPolicy {
  uint32_t max_records = 0;   // 0: every input batch is a request of its own
  uint64_t max_bytes = 0;     // 0: no byte limit
  int64_t linger_ns = 0;
  uint32_t max_in_flight = 32;
  RetryPolicy retry;
  // The policy a sink's parameters give (the names of <weir/delivery.hpp>);
  // what it does not declare keeps the defaults above (a sink without them
  // is delivered as before ABI 1.3: batch by batch, 10 ms..1 s backoff).
  // PARAMS as checked by check() (out-of-range values are refused, not clamped).
  static DeliveryPolicy of(const ParamValues& params);
  // What is wrong with PARAMS' delivery values, as (parameter, message) pairs:
  // convert_params reports each at the parameter's file:line:col.
  static std::vector<std::pair<std::string, std::string>> check(const ParamValues& params);
};

// A record the server refused: its index in the request's batch, and why.
struct SentReject {
  uint32_t index;
  std::string reason;
};

class SinkTarget {
 public:
  virtual ~SinkTarget() = default;
  // Encodes BATCH into REQUEST (nullptr: nothing to send). False: the node failed.
  virtual bool encode(HostBatch* batch, void*& request) = 0;
  // WEIR_OK, WEIR_PENDING, WEIR_RETRY (REASON says why) or WEIR_FAILED.
  virtual int send(HostBatch* batch, void* request, std::string& reason) = 0;
  virtual void free_request(void* request) = 0;
  // BATCH is stored but for REJECTS (to the error port); the driver releases it next.
  virtual void stored(HostBatch* batch, const std::vector<SentReject>& rejects) = 0;
  // Given up after the policy's attempts: BATCH's records go to the error port with REASON.
  virtual void gave_up(HostBatch* batch, const std::string& reason) = 0;
  virtual void log(int level, const std::string& message) = 0;
};

class SinkDriver {
 public:
  // RANDOM draws the jitter in [0, 1).
  SinkDriver(SinkTarget& target, DeliveryPolicy policy, std::function<double()> random = {});
  ~SinkDriver();
  SinkDriver(const SinkDriver&) = delete;
  SinkDriver& operator=(const SinkDriver&) = delete;

  void set_policy(DeliveryPolicy policy) { policy_ = policy; }
  const DeliveryPolicy& policy() const { return policy_; }

  // Takes INPUT (its reference) into the request being gathered.
  void add(HostBatch* input, int64_t now_ns);
  // Takes the outcomes sent() reported, seals the gathered request when it is
  // full or has lingered long enough, and (if MAY_SEND) sends what may go now,
  // in order: failed requests whose backoff is over, and new ones while fewer
  // than max_in_flight are out. Nothing goes past a request still in its
  // backoff. False: the node failed (target said WEIR_FAILED).
  bool step(int64_t now_ns, bool may_send = true);
  // The input ended: what is gathered goes without waiting for the linger.
  void end_input() { ending_ = true; }
  // When step() has timed work next (INT64_MAX: none).
  int64_t next_due() const;
  // Take no more input now (backpressure): the gathered request is full and
  // max_in_flight requests are already out or waiting.
  bool full() const;
  // Nothing gathered, waiting, in flight or unanswered.
  bool idle() const { return open_.empty() && requests_.empty(); }
  // Nothing is left to send (what is out may still be answered).
  bool all_sent() const;

  // Any thread: the outcome of a send() that returned WEIR_PENDING.
  void on_sent(void* request, int status, const char* reason);
  // Any thread: record INDEX of REQUEST's batch was refused.
  void on_reject(void* request, uint32_t index, std::string reason);
  // Whether an outcome came that step() has not taken yet (any thread).
  bool reported() {
    std::lock_guard lock(mu_);
    return !outcomes_.empty();
  }
  // Requests sent with WEIR_PENDING whose outcome has not come (any thread).
  int32_t pending() const { return pending_.load(std::memory_order_acquire); }
  // Requests failed and waiting for their backoff (for /status).
  size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  // Attempts that failed since the last one that succeeded, any request (for /metrics).
  int64_t failures_in_a_row() const { return failures_in_a_row_.load(std::memory_order_relaxed); }

  // A hot swap is about to destroy the instance that encoded the requests:
  // frees their encodings (none may be pending), so the new instance encodes
  // them anew. Their backoff stays.
  void forget_encodings();
  // Nothing more will be delivered: every batch is abandoned (its source does
  // not commit it), encodings freed.
  void abandon_all();

 private:
  struct Request;
  void seal();
  bool send_one(Request& r, int64_t now_ns);
  void done(Request& r, int64_t now_ns);
  void failed(Request& r, const std::string& reason, int64_t now_ns);
  void take_outcomes(int64_t now_ns);
  void finish(Request& r, bool stored);

  SinkTarget& target_;
  DeliveryPolicy policy_;
  std::function<double()> random_;
  bool ending_ = false;

  // The request being gathered.
  std::vector<HostBatch*> open_;
  uint64_t open_records_ = 0, open_bytes_ = 0;
  int64_t open_since_ns_ = 0;

  std::deque<std::unique_ptr<Request>> requests_;  // sealed, in input order
  std::atomic<int64_t> failures_in_a_row_{0};      // across requests: the sink's health
  int64_t failing_since_ns_ = 0;

  // Written by other threads (sent, reject_sent), taken on the node's thread.
  std::mutex mu_;
  std::vector<std::tuple<void*, int, std::string>> outcomes_;
  std::unordered_map<void*, std::vector<SentReject>> rejects_;
  std::atomic<int32_t> pending_{0};
  std::atomic<size_t> waiting_{0};
};

}  // namespace weir
