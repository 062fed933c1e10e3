// A hash index from keys the caller keeps to small handles (a pointer, a
// number): open addressing with linear probing in one array, at most half
// full, power-of-two size, backward-shift deletion (no tombstones).
//
// Each slot holds the key's 64-bit hash beside its handle, so a lookup over
// 10 000 keys reads one slot (one cache miss) and compares the caller's key
// only on a full hash match, where std::unordered_map walks a bucket list of
// separately allocated nodes. Used for the aggregator's groups and a
// context's partitions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weir::cep {

// H: the handle type; kNone: the handle no key ever has (marks a free slot).
template <class H, H kNone>
class FlatIndex {
 public:
  size_t size() const { return count_; }

  // The handle of the key with hash h for which same(handle) holds, or kNone.
  template <class Same>
  H find(uint64_t h, Same&& same) const {
    if (slots_.empty()) return kNone;
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.handle == kNone) return kNone;
      if (s.hash == h && same(s.handle)) return s.handle;
    }
  }

  // Cache hints (a caller that knows which keys come next): fetch the slot a
  // lookup of hash h starts at; the first handle indexed under h, its key not
  // compared (another key may share the hash), or kNone.
  void prefetch(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
  }
  H first_with(uint64_t h) const {
    return find(h, [](H) { return true; });
  }

  // The same lookup; a missing key gets the handle make() returns (never kNone).
  template <class Same, class Make>
  H find_or_add(uint64_t h, Same&& same, Make&& make) {
    if ((count_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
    size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.handle == kNone) break;
      if (s.hash == h && same(s.handle)) return s.handle;
    }
    H handle = make();
    slots_[i] = Slot{h, handle};
    ++count_;
    return handle;
  }

  // Removes `handle`, indexed under hash h; false when it is not there.
  bool erase(uint64_t h, H handle) {
    if (slots_.empty()) return false;
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      if (slots_[i].handle == kNone) return false;
      if (slots_[i].handle == handle) {
        erase_slot(i);
        --count_;
        return true;
      }
    }
  }

  void clear() {
    slots_.clear();
    count_ = 0;
  }

  // Every handle, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.handle != kNone) f(s.handle);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    H handle = kNone;
  };

  void rehash(size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    size_t mask = cap - 1;
    for (const Slot& s : old) {
      if (s.handle == kNone) continue;
      size_t i = s.hash & mask;
      while (slots_[i].handle != kNone) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  // Moves later entries of the probe chain back into the hole at i when
  // their home slot is not in (i, j], so every chain stays unbroken.
  void erase_slot(size_t i) {
    size_t mask = slots_.size() - 1;
    slots_[i] = Slot{};
    for (size_t j = (i + 1) & mask; slots_[j].handle != kNone; j = (j + 1) & mask) {
      size_t home = slots_[j].hash & mask;
      bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!between) {
        slots_[i] = slots_[j];
        slots_[j] = Slot{};
        i = j;
      }
    }
  }

  std::vector<Slot> slots_;
  size_t count_ = 0;
};

}  // namespace weir::cep
