// One edge of the graph: a bounded single-producer/single-consumer lock-free
// queue of batch pointers (Boost.Lockfree spsc_queue; see bench/queue_bench
// for why not another). Full queue = backpressure: the producer sleeps on its
// own signal until the consumer makes room.
#pragma once

#include "batch.hpp"
#include "signal.hpp"

#include <boost/lockfree/spsc_queue.hpp>

#include <atomic>
#include <cstdint>

namespace weir {

class EdgeQueue {
 public:
  EdgeQueue(size_t capacity, Signal* producer, Signal* consumer)
      : queue_(capacity), producer_(producer), consumer_(consumer) {}

  // Producer thread. False if the queue stayed full until ABORT became true.
  template <class Abort>
  bool push(HostBatch* b, Abort&& abort) {
    while (!queue_.push(b)) {
      uint32_t key = producer_->prepare();
      if (queue_.write_available() > 0 || abort()) {
        producer_->cancel();
        if (abort()) return false;
        continue;
      }
      producer_->wait(key, 100'000'000);  // re-check periodically: abort has no signal of its own
    }
    pushed_.fetch_add(1, std::memory_order_relaxed);
    consumer_->notify();
    return true;
  }

  // Consumer thread.
  HostBatch* pop() {
    HostBatch* b = nullptr;
    if (!queue_.pop(b)) return nullptr;
    popped_.fetch_add(1, std::memory_order_relaxed);
    producer_->notify();
    return b;
  }
  bool empty_for_consumer() const { return queue_.read_available() == 0; }

  // Producer is done: no more pushes.
  void close() {
    closed_.store(true, std::memory_order_release);
    consumer_->notify();
  }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // Safe from any thread (approximate while running).
  uint64_t depth() const { return pushed_.load(std::memory_order_relaxed) - popped_.load(std::memory_order_relaxed); }
  size_t capacity() const { return queue_.write_available() + queue_.read_available(); }

 private:
  boost::lockfree::spsc_queue<HostBatch*> queue_;
  Signal* producer_;
  Signal* consumer_;
  std::atomic<uint64_t> pushed_{0}, popped_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace weir
