// At-least-once bookkeeping. Every batch a source emits gets an AckGroup
// holding the positions it covers. Each batch (and each operator hold) that
// descends from it keeps the group pending; when the last one is released —
// which for a sink means "written" — the group is done. The source's tracker
// then commits, per partition and in emission order, what is done.
#pragma once

#include "signal.hpp"

#include <weir/abi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace weir {

class AckTracker;

class AckGroup {
 public:
  AckGroup(AckTracker* tracker, std::vector<weir_position> positions)
      : tracker_(tracker), positions_(std::move(positions)) {}
  void retain(int32_t n = 1) { pending_.fetch_add(n, std::memory_order_relaxed); }
  void release();
  const std::vector<weir_position>& positions() const { return positions_; }
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  friend class AckTracker;
  AckTracker* tracker_;
  std::vector<weir_position> positions_;  // highest offset per partition in the batch
  std::atomic<int32_t> pending_{0};
  std::atomic<bool> done_{false};
};

// One per source node. Groups complete on any thread; the source thread
// collects the committable positions.
class AckTracker {
 public:
  explicit AckTracker(Signal* wake) : wake_(wake) {}
  ~AckTracker();

  // A new group for a batch being emitted, pending once (for that batch).
  AckGroup* open_group(std::vector<weir_position> positions);
  // Positions now safe to commit: for each partition, the highest offset
  // such that every group emitted before it is done. Empty if none moved.
  std::vector<weir_position> collect();
  size_t outstanding() const;
  // Whether the oldest group is done (collect() would move).
  bool front_done() const;

 private:
  friend class AckGroup;
  void completed();
  Signal* wake_;
  mutable std::mutex mu_;
  std::deque<AckGroup*> groups_;  // in emission order
};

}  // namespace weir
