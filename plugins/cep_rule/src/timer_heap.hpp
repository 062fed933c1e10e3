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
//
// Timers armed in order (event time only moves on, and a pattern's timers
// mostly have one duration: each new one is due after all the others) go to a
// FIFO queue instead, which stays sorted; the others go to the heap. The next
// timer is the earlier of the two fronts, so the order is the same and the
// common timer costs no sift through the heap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
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

  bool empty() const { return heap_.empty() && queue_.empty(); }
  // The first timer to fire (never a cancelled one).
  int64_t next_due() const { return next().due; }
  Owner* next_owner() const { return owner_[next().slot]; }

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
    Entry e{due, seq, slot};
    if (queue_.empty() || Later{}(e, queue_.back())) {
      queue_.push_back(e);
    } else {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), Later{});
    }
    return slot;
  }
  // The next timer leaves (its owner fires it).
  void pop() {
    release(next().slot);
    if (next_in_queue()) queue_.pop_front();
    else pop_heap();
    drop_stale();
  }
  void cancel(uint32_t slot) {
    release(slot);
    drop_stale();
  }
  void clear() {
    heap_.clear();
    queue_.clear();
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
  bool next_in_queue() const { return heap_.empty() || (!queue_.empty() && Later{}(heap_.front(), queue_.front())); }
  const Entry& next() const { return next_in_queue() ? queue_.front() : heap_.front(); }
  void pop_heap() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
  }
  bool stale(const Entry& e) const { return seq_[e.slot] != e.seq; }
  // Both fronts armed, so the earlier of them is the next timer.
  void drop_stale() {
    while (!queue_.empty() && stale(queue_.front())) queue_.pop_front();
    while (!heap_.empty() && stale(heap_.front())) pop_heap();
  }

  std::deque<Entry> queue_;  // sorted: each entry after the one before
  std::vector<Entry> heap_;
  std::vector<Owner*> owner_;  // by slot
  std::vector<uint64_t> seq_;  // by slot: the start order of its armed timer, 0 when free
  std::vector<uint32_t> free_;
};

}  // namespace weir::cep
