// Timers of owners that arm and cancel them (a pattern's `timer:within` and
// `timer:interval` states): a binary min-heap by (due, start order) in one
// array, popping in the order a std::map keyed by (due, start order) would
// iterate, without the map's node allocation and tree rebalancing per timer.
//
// A timer is a slot (its owner and its start order, in two dense arrays); a
// cancel frees the slot and leaves the heap entry, which is dropped when it
// reaches the top (its slot no longer holds its start order). So neither a
// cancel nor a pop writes to the owners, whose memory is cold by the time
// their timer fires (an indexed heap writing each moved entry's position
// into its owner spent most of its time on those cache misses).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace weir::cep {

template <class Owner>
class TimerHeap {
 public:
  struct Entry {
    int64_t due;
    uint64_t seq;  // unique among armed timers: (due, seq) orders every pair of entries
    uint32_t slot;
  };

  bool empty() const { return heap_.empty(); }
  // The first timer to fire (never a cancelled one).
  int64_t next_due() const { return heap_.front().due; }
  Owner* next_owner() const { return owner_[heap_.front().slot]; }

  // A new timer; its slot is what cancel takes.
  uint32_t push(int64_t due, uint64_t seq, Owner* o) {
    uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<uint32_t>(owner_.size());
      owner_.push_back(o);
      seq_.push_back(seq);
    } else {
      slot = free_.back();
      free_.pop_back();
      owner_[slot] = o;
      seq_[slot] = seq;
    }
    heap_.push_back({due, seq, slot});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return slot;
  }
  // The next timer leaves (its owner fires it).
  void pop() {
    release(heap_.front().slot);
    drop_top();
  }
  void cancel(uint32_t slot) {
    release(slot);
    drop_stale();
  }
  void clear() {
    heap_.clear();
    owner_.clear();
    seq_.clear();
    free_.clear();
  }

 private:
  // A type, not a function: std::push_heap inlines it (a function pointer it calls).
  struct Later {
    bool operator()(const Entry& x, const Entry& y) const { return x.due != y.due ? x.due > y.due : x.seq > y.seq; }
  };
  void release(uint32_t slot) {
    seq_[slot] = 0;  // start orders begin at 1
    owner_[slot] = nullptr;
    free_.push_back(slot);
  }
  void drop_top() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
    drop_stale();
  }
  void drop_stale() {
    while (!heap_.empty() && seq_[heap_.front().slot] != heap_.front().seq) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      heap_.pop_back();
    }
  }

  std::vector<Entry> heap_;
  std::vector<Owner*> owner_;  // by slot
  std::vector<uint64_t> seq_;  // by slot: the start order of its armed timer, 0 when free
  std::vector<uint32_t> free_;
};

}  // namespace weir::cep
