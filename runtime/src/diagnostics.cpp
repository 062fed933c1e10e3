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

}  // namespace weir
