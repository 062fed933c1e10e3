// A list of items per key value, found through a FlatIndex: a named window's
// events by the field an on-trigger statement compares (`where w.car =
// e.car`), so that a trigger reads the events of its key instead of them all,
// and a pattern's active filters by the key they wait for (`car = a.car`).
// A list that empties is unindexed and kept, with its capacity, for the next
// key, so a key coming and going does not allocate.
#pragma once

#include "flat_index.hpp"
#include "value.hpp"

#include <cstdint>
#include <vector>

namespace weir::cep {

template <class T>
class KeyLists {
 public:
  bool empty() const { return slots_.size() == 0; }

  // The key's list, or null when it has none.
  const std::vector<T>* find(const Value& key) const {
    uint32_t i = slots_.find(key.hash(), [&](uint32_t l) { return lists_[l].key == key; });
    return i == kNone ? nullptr : &lists_[i].items;
  }
  std::vector<T>* find(const Value& key) {
    return const_cast<std::vector<T>*>(static_cast<const KeyLists&>(*this).find(key));
  }

  // The key's list, created empty when missing.
  std::vector<T>& get(const Value& key) {
    uint32_t i = slots_.find_or_add(
        key.hash(), [&](uint32_t l) { return lists_[l].key == key; },
        [&] {
          if (unused_.empty()) {
            lists_.emplace_back();
            unused_.push_back(static_cast<uint32_t>(lists_.size() - 1));
          }
          uint32_t l = unused_.back();
          unused_.pop_back();
          lists_[l].key = key;
          return l;
        });
    return lists_[i].items;
  }

  // Unindexes the key (its list is empty).
  void erase(const Value& key) {
    uint64_t h = key.hash();
    uint32_t i = slots_.find(h, [&](uint32_t l) { return lists_[l].key == key; });
    if (i == kNone) return;
    slots_.erase(h, i);
    lists_[i].key = Value();
    unused_.push_back(i);
  }

  void clear() {
    slots_.clear();
    lists_.clear();
    unused_.clear();
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct List {
    Value key;
    std::vector<T> items;
  };
  FlatIndex<uint32_t, kNone> slots_;  // key -> lists_ index
  std::vector<List> lists_;
  std::vector<uint32_t> unused_;  // lists not in use
};

}  // namespace weir::cep
