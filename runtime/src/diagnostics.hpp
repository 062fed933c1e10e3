// Errors in a user's input, reported as `file:line:col: message` and collected
// so that one run of `weir validate` shows all of them.
#pragma once

#include <weir/suggest.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

struct SourcePos {
  std::string file;
  uint32_t line = 0;  // 1-based; 0 = unknown
  uint32_t column = 0;
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string str() const;
};

class Diagnostics {
 public:
  void add(SourcePos pos, std::string message) { items_.push_back({std::move(pos), std::move(message)}); }
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  void print(std::ostream& out) const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace weir
