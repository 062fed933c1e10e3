// weir-hbase's search conditions: `--where` column conditions, turned into an
// HBase filter string for what the region servers can decide (=, != on the
// stored bytes, row-key substrings) and checked again on the client, where
// numeric comparisons happen (cells are strings: "100" < "80" as bytes).
#pragma once

#include "client.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace weir::hbase::cli {

struct Condition {
  enum Op { Eq, Ne, Gt, Ge, Lt, Le } op = Eq;
  std::string family, qualifier, value;
  double number = 0;  // Gt..Le: value as a number
  std::string column() const { return family + ":" + qualifier; }
  bool numeric() const { return op != Eq && op != Ne; }
};

// "speed>80", "cf1:area_number=F06", "car_number!=A0001"; std::invalid_argument.
Condition parse_condition(std::string_view text, const std::string& default_family);

// 'text' in the filter language (quotes doubled).
std::string quote(std::string_view text);

// The server-side part, "" if none: SingleColumnValueFilter for = and !=
// (rows without the column are dropped), RowFilter substring for key_contains,
// joined with AND. Numeric conditions are left to matches().
std::string filter_string(const std::vector<Condition>& conditions, const std::string& key_contains);

// Every condition holds for this row (a missing cell or a non-number fails).
bool matches(const t2::TResult& row, const std::vector<Condition>& conditions);

// The smallest key greater than every key starting with prefix ("" = no end).
std::string prefix_end(std::string prefix);

// "1650953400000" (epoch ms) or "20220426061000" (yyyyMMddHHmmss, UTC) -> ms.
int64_t parse_time_ms(const std::string& text);

}  // namespace weir::hbase::cli
