// Output rows of fixed width, stored flat (one vector for all values) so a
// delivery of many rows costs no allocation once the buffer has grown.
#pragma once

#include "value.hpp"

#include <cstddef>
#include <vector>

namespace weir::cep {

class RowSet {
 public:
  explicit RowSet(size_t width = 0) : width_(width) {}
  void set_width(size_t w) {
    vals_.clear();
    width_ = w;
  }
  size_t width() const { return width_; }
  size_t size() const { return width_ ? vals_.size() / width_ : rows_without_columns_; }
  bool empty() const { return width_ ? vals_.empty() : rows_without_columns_ == 0; }  // no division (per event)
  const Value* row(size_t i) const { return vals_.data() + i * width_; }
  Value* row(size_t i) { return vals_.data() + i * width_; }

  // Appends a row of nulls and returns it (valid until the next add).
  Value* add() {
    if (width_ == 0) {
      ++rows_without_columns_;
      return nullptr;
    }
    vals_.resize(vals_.size() + width_);
    return vals_.data() + vals_.size() - width_;
  }
  // Building a row value by value (copy-constructed in place): push exactly
  // width() values per row.
  void push(const Value& v) { vals_.push_back(v); }
  void add_copy(const Value* r) {
    Value* out = add();
    for (size_t i = 0; i < width_; ++i) out[i] = r[i];
  }
  void append(const RowSet& o) {
    for (size_t i = 0; i < o.size(); ++i) add_copy(o.row(i));
  }
  void clear() {
    vals_.clear();
    rows_without_columns_ = 0;
  }
  // Empties the set and frees its buffer if it has room for more than `rows`
  // rows (a statement instance per context partition must not keep its
  // largest delivery's buffer: 10 000 of them would hold 10 000 batches).
  void clear_and_shrink(size_t rows) {
    clear();
    if (vals_.capacity() > rows * width_) std::vector<Value>().swap(vals_);
  }

 private:
  size_t width_;
  std::vector<Value> vals_;
  size_t rows_without_columns_ = 0;  // only for a degenerate zero-column select
};

}  // namespace weir::cep
