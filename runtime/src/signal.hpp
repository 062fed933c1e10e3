// A futex-backed wake-up signal (an "eventcount"): a node sleeps on its own
// signal until a neighbour pushes data, frees queue space or acks a batch.
// Sleeping instead of spinning keeps an idle pipeline at ~0% CPU.
#pragma once

#include <atomic>
#include <cstdint>

namespace weir {

class Signal {
 public:
  // Snapshot to pass to wait(); take it before re-checking the condition.
  uint32_t prepare() {
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    return seq_.load(std::memory_order_seq_cst);
  }
  void cancel() { waiting_.fetch_sub(1, std::memory_order_seq_cst); }
  // Sleeps until notify() after prepare() or TIMEOUT_NS passes (<0: forever).
  void wait(uint32_t key, int64_t timeout_ns);
  void notify() {
    seq_.fetch_add(1, std::memory_order_seq_cst);
    if (waiting_.load(std::memory_order_seq_cst) > 0) wake();
  }

 private:
  void wake();
  std::atomic<uint32_t> seq_{0};
  std::atomic<int32_t> waiting_{0};
};

}  // namespace weir
