// Timers of owners that arm and cancel them (a pattern's `timer:within` and
// `timer:interval` states): a binary min-heap by (due, start order) in one
// array, each owner knowing its entry's place (Owner::heap_at), so that a
// cancel is O(log n) with no allocation and no stale entry. It pops in the
// order a std::map keyed by (due, start order) iterates, without the map's
// node allocation and tree rebalancing per timer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weir::cep {

template <class Owner>
class TimerHeap {
 public:
  struct Entry {
    int64_t due;
    uint64_t seq;  // unique: (due, seq) orders every pair of entries
    Owner* owner;
  };

  bool empty() const { return heap_.empty(); }
  const Entry& top() const { return heap_.front(); }
  void clear() { heap_.clear(); }

  void push(int64_t due, uint64_t seq, Owner* o) {
    heap_.push_back({due, seq, o});
    up(heap_.size() - 1);
  }
  void pop() { remove_at(0); }
  // o's entry (o is in the heap: armed and not popped).
  void remove(const Owner* o) { remove_at(o->heap_at); }

 private:
  static bool before(const Entry& x, const Entry& y) { return x.due != y.due ? x.due < y.due : x.seq < y.seq; }
  void place(size_t i, const Entry& e) {
    heap_[i] = e;
    e.owner->heap_at = i;
  }
  void remove_at(size_t i) {
    Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    if (i > 0 && before(last, heap_[(i - 1) / 2])) up(i);
    else down(i);
  }
  void up(size_t i) {
    Entry e = heap_[i];
    while (i > 0 && before(e, heap_[(i - 1) / 2])) {
      place(i, heap_[(i - 1) / 2]);
      i = (i - 1) / 2;
    }
    place(i, e);
  }
  void down(size_t i) {
    Entry e = heap_[i];
    for (;;) {
      size_t k = 2 * i + 1;
      if (k >= heap_.size()) break;
      if (k + 1 < heap_.size() && before(heap_[k + 1], heap_[k])) ++k;
      if (!before(heap_[k], e)) break;
      place(i, heap_[k]);
      i = k;
    }
    place(i, e);
  }

  std::vector<Entry> heap_;
};

}  // namespace weir::cep
