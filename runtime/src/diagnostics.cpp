#include "diagnostics.hpp"

#include <algorithm>
#include <ostream>
#include <tuple>

namespace weir {

std::string Diagnostic::str() const {
  std::string out = pos.file;
  if (pos.line) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  return out + ": " + message;
}

void Diagnostics::print(std::ostream& out) const {
  // In file order, which is how people read and fix them.
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.file, a.pos.line, a.pos.column) < std::tie(b.pos.file, b.pos.line, b.pos.column);
  });
  for (const auto& d : sorted) out << d.str() << "\n";
}

static size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = &c;
  }
  return best ? "; did you mean '" + *best + "'?" : "";
}

}  // namespace weir
