#include "rotation.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace weir::files {

namespace fs = std::filesystem;

int64_t next_rotation_index(const std::string& path) {
  fs::path p(path);
  std::string prefix = p.filename().string() + ".";
  int64_t next = 1;
  std::error_code ec;
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() <= prefix.size() || n.compare(0, prefix.size(), prefix) != 0) continue;
    std::string idx = n.substr(prefix.size());
    if (idx.size() < 18 && std::all_of(idx.begin(), idx.end(), [](unsigned char c) { return std::isdigit(c); }))
      next = std::max<int64_t>(next, std::stoll(idx) + 1);
  }
  return next;
}

bool rotate_file(const std::string& path, int64_t index, int64_t keep, std::string& error) {
  std::error_code ec;
  fs::rename(path, path + "." + std::to_string(index), ec);
  if (ec) {
    error = "cannot rename " + path + ": " + ec.message();
    return false;
  }
  if (keep > 0 && index - keep >= 1) fs::remove(path + "." + std::to_string(index - keep), ec);
  return true;
}

}  // namespace weir::files
