#include "sink_driver.hpp"

#include "param_values.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <random>

namespace weir {

int64_t RetryPolicy::delay_ns(int64_t failures, double u) const {
  double d = static_cast<double>(initial_ns);
  for (int64_t i = 1; i < failures && d < static_cast<double>(max_ns); ++i) d *= multiplier;
  d = std::min(d, static_cast<double>(max_ns));
  d *= 1.0 + jitter * (2.0 * u - 1.0);
  return std::clamp<int64_t>(static_cast<int64_t>(d), 0, max_ns);
}

namespace {

const weir_param_value* find(const ParamValues& params, const char* name) {
  for (uint32_t i = 0; i < params.size(); ++i)
    if (std::strcmp(params.data()[i].name, name) == 0) return &params.data()[i];
  return nullptr;
}

int64_t integer(const ParamValues& params, const char* name, int64_t otherwise) {
  const weir_param_value* v = find(params, name);
  return v && v->type == WEIR_PARAM_INT ? v->as.i64 : otherwise;
}

double number(const ParamValues& params, const char* name, double otherwise) {
  const weir_param_value* v = find(params, name);
  if (v && v->type == WEIR_PARAM_DOUBLE) return v->as.f64;
  return v && v->type == WEIR_PARAM_INT ? static_cast<double>(v->as.i64) : otherwise;
}

// Record data, roughly as a sink sends it: keys, payloads, string fields.
uint64_t bytes_of(const HostBatch& b) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < b.count; ++i) {
    const weir_record& r = b.records[i];
    n += r.key.size + r.payload.size + 8ull * r.field_count;
    for (uint32_t f = 0; f < r.field_count; ++f)
      if (r.fields[f].value.type == WEIR_STRING) n += r.fields[f].value.as.str.size;
  }
  return n;
}

}  // namespace

DeliveryPolicy DeliveryPolicy::of(const ParamValues& params) {
  DeliveryPolicy p;
  p.max_records = static_cast<uint32_t>(integer(params, "batch_max_records", 0));
  p.max_bytes = static_cast<uint64_t>(integer(params, "batch_max_bytes", 0));
  p.linger_ns = integer(params, "batch_linger_ms", 0) * 1'000'000;
  p.max_in_flight = static_cast<uint32_t>(integer(params, "max_in_flight", p.max_in_flight));
  RetryPolicy& r = p.retry;
  r.initial_ns = integer(params, "retry_initial_ms", r.initial_ns / 1'000'000) * 1'000'000;
  r.max_ns = integer(params, "retry_max_ms", r.max_ns / 1'000'000) * 1'000'000;
  r.multiplier = number(params, "retry_multiplier", r.multiplier);
  r.jitter = number(params, "retry_jitter", r.jitter);
  r.max_attempts = integer(params, "retry_max_attempts", 0);
  return p;
}

std::vector<std::pair<std::string, std::string>> DeliveryPolicy::check(const ParamValues& params) {
  std::vector<std::pair<std::string, std::string>> problems;
  auto in_range = [&](const char* name, double lo, double hi, const std::string& why) {
    const weir_param_value* v = find(params, name);
    if (!v || (v->type != WEIR_PARAM_INT && v->type != WEIR_PARAM_DOUBLE)) return;
    double x = v->type == WEIR_PARAM_INT ? static_cast<double>(v->as.i64) : v->as.f64;
    if (!(x >= lo && x <= hi)) problems.emplace_back(name, std::string(name) + " " + why);
  };
  in_range("batch_max_records", 0, UINT32_MAX, "must be 0..4294967295 (0: every input batch goes alone)");
  in_range("batch_max_bytes", 0, 9.0e18, "must be 0 or more (0: no byte limit)");
  in_range("batch_linger_ms", 0, 86'400'000, "must be 0..86400000 ms (0: send at once)");
  in_range("max_in_flight", 1, 1024, "must be 1..1024 requests");
  in_range("retry_initial_ms", 1, 86'400'000, "must be 1..86400000 ms");
  in_range("retry_max_ms", 1, 86'400'000, "must be 1..86400000 ms");
  in_range("retry_multiplier", 1.0, 1000.0, "must be 1.0..1000.0 (1.0: the same wait every time)");
  in_range("retry_jitter", 0.0, 1.0, "must be 0.0..1.0 (a fraction of the wait)");
  in_range("retry_max_attempts", 0, 1e18, "must be 0 or more (0: never give up)");
  DeliveryPolicy p = of(params);
  if (problems.empty() && p.retry.max_ns < p.retry.initial_ns)
    problems.emplace_back("retry_max_ms", "retry_max_ms (" + std::to_string(p.retry.max_ns / 1'000'000) +
                                              ") must not be less than retry_initial_ms (" +
                                              std::to_string(p.retry.initial_ns / 1'000'000) + ")");
  return problems;
}

struct SinkDriver::Request {
  HostBatch* batch = nullptr;  // what is sent: one input, or the records of several (keeping them)
  void* handle = nullptr;
  bool encoded = false;
  enum State { kReady, kPending, kBackoff, kDone } state = kReady;
  int64_t attempts = 0;
  int64_t due_ns = 0;
};

SinkDriver::SinkDriver(SinkTarget& target, DeliveryPolicy policy, std::function<double()> random)
    : target_(target), policy_(policy), random_(std::move(random)) {
  if (!random_) {
    auto rng = std::make_shared<std::minstd_rand>(std::random_device{}());
    random_ = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
  }
}

// The plugin is gone by now (engine: abandon_all() follows close()): nothing is freed through it.
SinkDriver::~SinkDriver() {
  for (auto& r : requests_) {
    if (r->state == Request::kDone) continue;
    abandon(r->batch);
  }
  for (HostBatch* in : open_) abandon(in);
}

void SinkDriver::add(HostBatch* input, int64_t now_ns) {
  if (input->count == 0) {
    release(input);
    return;
  }
  uint64_t bytes = policy_.max_bytes ? bytes_of(*input) : 0;
  bool over = policy_.max_records == 0 || open_records_ + input->count > policy_.max_records ||
              (policy_.max_bytes && open_bytes_ + bytes > policy_.max_bytes);
  if (!open_.empty() && over) seal();
  if (open_.empty()) open_since_ns_ = now_ns;
  open_.push_back(input);
  open_records_ += input->count;
  open_bytes_ += bytes;
  if (policy_.max_records == 0 || open_records_ >= policy_.max_records ||
      (policy_.max_bytes && open_bytes_ >= policy_.max_bytes))
    seal();
}

void SinkDriver::seal() {
  if (open_.empty()) return;
  auto r = std::make_unique<Request>();
  if (open_.size() == 1) {
    r->batch = open_.front();
  } else {
    // One batch of every gathered record, keeping the inputs alive (their
    // bytes, and their groups pending: error records derived from it keep
    // them too). Their groups are not copied: the upstream node may still
    // be attaching some (a window's holds, in its end_callback).
    HostBatch* all = new_batch(static_cast<uint32_t>(open_records_));
    for (HostBatch* in : open_) all->storage.insert(all->storage.end(), in->records, in->records + in->count);
    all->kept = open_;  // their references, taken over
    all->seal();
    r->batch = all;
  }
  open_.clear();
  open_records_ = open_bytes_ = 0;
  requests_.push_back(std::move(r));
}

bool SinkDriver::step(int64_t now_ns, bool may_send) {
  take_outcomes(now_ns);
  if (!open_.empty() && (ending_ || now_ns - open_since_ns_ >= policy_.linger_ns)) seal();
  if (!may_send) return true;
  auto outstanding = [&] {
    return std::count_if(requests_.begin(), requests_.end(),
                         [](const auto& r) { return r->state == Request::kPending || r->state == Request::kBackoff; });
  };
  bool ok = true;
  for (size_t i = 0; ok && i < requests_.size(); ++i) {
    Request& r = *requests_[i];
    if (r.state == Request::kReady) {
      // A new request waits for room, and so does every one after it: order is kept.
      if (outstanding() >= static_cast<long>(policy_.max_in_flight)) break;
      ok = send_one(r, now_ns);
    } else if (r.state == Request::kBackoff) {
      // Nothing newer goes before a failed request: the order is kept (and a
      // server that failed one would likely fail the next).
      if (now_ns < r.due_ns) break;
      waiting_.fetch_sub(1, std::memory_order_relaxed);
      ok = send_one(r, now_ns);
    }
    if (r.state == Request::kBackoff) break;  // it just failed: the same
  }
  std::erase_if(requests_, [](const auto& r) { return r->state == Request::kDone; });
  return ok;
}

bool SinkDriver::send_one(Request& r, int64_t now_ns) {
  if (!r.encoded) {
    void* handle = nullptr;
    if (!target_.encode(r.batch, handle)) return false;
    r.handle = handle;
    r.encoded = true;
    if (!handle) {  // every record rejected: nothing to send
      done(r, now_ns);
      return true;
    }
  }
  ++r.attempts;
  std::string reason;
  r.state = Request::kPending;
  // Counted before the call: sent() may come from another thread before send() returns.
  pending_.fetch_add(1, std::memory_order_acq_rel);
  int st = target_.send(r.batch, r.handle, reason);
  if (st == WEIR_PENDING) return true;
  pending_.fetch_sub(1, std::memory_order_acq_rel);
  if (st == WEIR_OK) done(r, now_ns);
  else if (st == WEIR_RETRY) failed(r, reason.empty() ? "send failed" : reason, now_ns);
  else return false;
  return true;
}

void SinkDriver::done(Request& r, int64_t now_ns) {
  std::vector<SentReject> rejects;
  {
    std::lock_guard lock(mu_);
    if (auto it = rejects_.find(r.handle); it != rejects_.end()) {
      rejects = std::move(it->second);
      rejects_.erase(it);
    }
  }
  if (failures_in_a_row_ > 0) {
    target_.log(WEIR_LOG_INFO, "sent again after " + std::to_string(failures_in_a_row_.load()) + " failed attempt(s) over " +
                                   std::to_string((now_ns - failing_since_ns_) / 1'000'000) + " ms");
    failures_in_a_row_ = 0;
  }
  target_.stored(r.batch, rejects);
  finish(r, true);
}

void SinkDriver::failed(Request& r, const std::string& reason, int64_t now_ns) {
  {
    std::lock_guard lock(mu_);  // what this attempt rejected comes again with the next one
    rejects_.erase(r.handle);
  }
  if (failures_in_a_row_++ == 0) failing_since_ns_ = now_ns;
  const RetryPolicy& p = policy_.retry;
  if (p.max_attempts > 0 && r.attempts >= p.max_attempts) {
    std::string why = "gave up after " + std::to_string(r.attempts) + " attempt(s): " + reason;
    target_.log(WEIR_LOG_ERROR, why + "; its " + std::to_string(r.batch->count) + " record(s) go to the error port");
    target_.gave_up(r.batch, why);
    finish(r, true);
    return;
  }
  int64_t delay = p.delay_ns(r.attempts, random_());
  r.due_ns = now_ns + delay;
  r.state = Request::kBackoff;
  waiting_.fetch_add(1, std::memory_order_relaxed);
  // One throttle for every sink: the first few failures, then every tenth.
  if (failures_in_a_row_ <= 3 || failures_in_a_row_ % 10 == 0)
    target_.log(WEIR_LOG_WARN, reason + "; retrying in " + std::to_string(delay / 1'000'000) + " ms (attempt " +
                                   std::to_string(r.attempts) + "; records wait, nothing is dropped)");
}

void SinkDriver::finish(Request& r, bool stored) {
  if (r.encoded && r.handle) target_.free_request(r.handle);
  r.handle = nullptr;
  r.encoded = false;
  if (stored) release(r.batch);  // and the inputs it keeps
  else abandon(r.batch);          // kept for good, and so are they: their sources do not commit them
  r.state = Request::kDone;
}

void SinkDriver::take_outcomes(int64_t now_ns) {
  std::vector<std::tuple<void*, int, std::string>> outcomes;
  {
    std::lock_guard lock(mu_);
    outcomes.swap(outcomes_);
  }
  for (auto& [handle, status, reason] : outcomes) {
    auto it = std::find_if(requests_.begin(), requests_.end(),
                           [&](const auto& r) { return r->handle == handle && r->state == Request::kPending; });
    if (it == requests_.end()) continue;  // not ours (a plugin bug): nothing to do
    if (status == WEIR_OK) done(**it, now_ns);
    else failed(**it, reason.empty() ? "send failed" : reason, now_ns);
  }
  std::erase_if(requests_, [](const auto& r) { return r->state == Request::kDone; });
}

void SinkDriver::on_sent(void* request, int status, const char* reason) {
  std::lock_guard lock(mu_);
  outcomes_.emplace_back(request, status, reason ? reason : "");
  pending_.fetch_sub(1, std::memory_order_acq_rel);
}

void SinkDriver::on_reject(void* request, uint32_t index, std::string reason) {
  std::lock_guard lock(mu_);
  rejects_[request].push_back({index, std::move(reason)});
}

int64_t SinkDriver::next_due() const {
  int64_t due = INT64_MAX;
  if (!open_.empty()) due = ending_ ? 0 : open_since_ns_ + policy_.linger_ns;
  long out = std::count_if(requests_.begin(), requests_.end(),
                           [](const auto& r) { return r->state == Request::kPending || r->state == Request::kBackoff; });
  // The first request not yet out decides: nothing after it goes before it.
  for (const auto& r : requests_) {
    if (r->state == Request::kPending) continue;
    if (r->state == Request::kBackoff) due = std::min(due, r->due_ns);
    else if (out < static_cast<long>(policy_.max_in_flight)) due = 0;
    break;
  }
  return due;
}

bool SinkDriver::full() const { return requests_.size() > policy_.max_in_flight; }

bool SinkDriver::all_sent() const {
  return open_.empty() && std::all_of(requests_.begin(), requests_.end(),
                                      [](const auto& r) { return r->state == Request::kPending; });
}

void SinkDriver::forget_encodings() {
  for (auto& r : requests_) {
    if (r->state == Request::kPending || !r->encoded) continue;
    if (r->handle) target_.free_request(r->handle);
    r->handle = nullptr;
    r->encoded = false;
  }
}

void SinkDriver::abandon_all() {
  for (auto& r : requests_)
    if (r->state != Request::kDone) finish(*r, false);
  requests_.clear();
  for (HostBatch* in : open_) abandon(in);
  open_.clear();
  open_records_ = open_bytes_ = 0;
}

}  // namespace weir
