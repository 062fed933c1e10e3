#include "hex_split.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace weir::hbase {

std::vector<std::string> hex_split_keys(long long regions) {
  constexpr uint64_t kRange = uint64_t{0xFFFFFFFF} + 1;  // the last row is inclusive
  if (regions < 1 || static_cast<uint64_t>(regions) > kRange)
    throw std::invalid_argument("regions must be 1..4294967296, not " + std::to_string(regions));
  const uint64_t step = kRange / static_cast<uint64_t>(regions);
  std::vector<std::string> keys;
  for (uint64_t i = 1; i < static_cast<uint64_t>(regions); ++i) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(step * i));
    keys.emplace_back(buf);
  }
  return keys;
}

}  // namespace weir::hbase
