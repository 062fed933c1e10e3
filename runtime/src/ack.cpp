#include "ack.hpp"

namespace weir {

void AckGroup::release() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Once done_ is set the source thread may delete this group at any time:
    // read everything needed before.
    AckTracker* tracker = tracker_;
    done_.store(true, std::memory_order_release);
    tracker->completed();
  }
}

AckTracker::~AckTracker() {
  for (AckGroup* g : groups_) delete g;
}

AckGroup* AckTracker::open_group(std::vector<weir_position> positions) {
  auto* g = new AckGroup(this, std::move(positions));
  g->retain();
  std::lock_guard lock(mu_);
  groups_.push_back(g);
  return g;
}

void AckTracker::completed() { wake_->notify(); }

std::vector<weir_position> AckTracker::collect() {
  std::map<int32_t, int64_t> highest;
  {
    std::lock_guard lock(mu_);
    while (!groups_.empty() && groups_.front()->done()) {
      AckGroup* g = groups_.front();
      groups_.pop_front();
      for (const auto& p : g->positions()) {
        auto [it, inserted] = highest.emplace(p.partition, p.offset);
        if (!inserted && p.offset > it->second) it->second = p.offset;
      }
      delete g;
    }
  }
  std::vector<weir_position> out;
  for (auto [partition, offset] : highest) out.push_back({partition, offset});
  return out;
}

bool AckTracker::front_done() const {
  std::lock_guard lock(mu_);
  return !groups_.empty() && groups_.front()->done();
}

size_t AckTracker::outstanding() const {
  std::lock_guard lock(mu_);
  return groups_.size();
}

}  // namespace weir
