#include "node_watch.hpp"

#include "engine.hpp"

#include <weir/json.hpp>

namespace weir {

static int64_t wall_ms() { return realtime_ns() / 1'000'000; }

void NodeWatch::log(int level, const std::string& message) {
  if (level < WEIR_LOG_INFO) return;
  Line line{wall_ms(), level, message};
  std::lock_guard lock(mu_);
  if (level >= WEIR_LOG_WARN) last_problem_ = line;
  lines_.push_back(std::move(line));
  if (lines_.size() > kLines) lines_.pop_front();
}

bool NodeWatch::error_sample_due(int64_t now_ns) {
  std::lock_guard lock(mu_);
  if (now_ns - sample_window_ns_ >= 1'000'000'000) {
    sample_window_ns_ = now_ns;
    samples_in_window_ = 0;
  }
  return samples_in_window_ < kErrorSamplesPerS;
}

void NodeWatch::sample_error(const weir_record& record) {
  Line line{wall_ms(), WEIR_LOG_WARN, to_json(Record(&record))};
  std::lock_guard lock(mu_);
  ++samples_in_window_;
  errors_.push_back(std::move(line));
  if (errors_.size() > kErrors) errors_.pop_front();
}

void NodeWatch::committed(const weir_position* positions, uint32_t count) {
  std::lock_guard lock(mu_);
  for (uint32_t i = 0; i < count; ++i) committed_[positions[i].partition] = positions[i].offset;
  committed_ms_ = wall_ms();
}

NodeWatch::View NodeWatch::view() const {
  std::lock_guard lock(mu_);
  return {{lines_.begin(), lines_.end()}, {errors_.begin(), errors_.end()}, last_problem_, committed_, committed_ms_};
}

}  // namespace weir
