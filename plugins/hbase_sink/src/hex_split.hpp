// Region split keys like HBase's RegionSplitter.HexStringSplit: the range
// "00000000".."FFFFFFFF" (inclusive, so 2^32 values) cut into n equal parts,
// the n-1 cut points written as 8 lowercase hex digits. Checked against
// HBase 2.6.1's own class: n = 2 gives {"80000000"}, n = 4 gives
// {"40000000", "80000000", "c0000000"}.
#pragma once

#include <string>
#include <vector>

namespace weir::hbase {

// n >= 1 (1: no split). std::invalid_argument for n < 1 or n > 2^32.
std::vector<std::string> hex_split_keys(long long regions);

}  // namespace weir::hbase
