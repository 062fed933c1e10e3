// Which lines pass, and each line's key (file_source).
//
// A line passes when it starts with one of include_prefixes (if any), matches
// line_regex (if set), and neither starts with one of exclude_prefixes nor
// matches exclude_regex. The original collector passed only lines starting
// with 14 digits: line_regex = "^[0-9]{14}" (or include_prefixes of the day).
// The key is a regex group or a CSV column of the line (the car number).
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace weir::file_source {

struct LineRulesConfig {
  std::vector<std::string> include_prefixes, exclude_prefixes;
  std::string line_regex, exclude_regex;
  std::string key_regex;
  int key_group = 1;
  int key_csv_column = -1;  // 0-based; -1 = not from a column
  char csv_delimiter = ',';
};

class LineRules {
 public:
  // Throws std::invalid_argument naming the parameter that is wrong.
  explicit LineRules(const LineRulesConfig& c);

  bool pass(std::string_view line) const;
  bool keyed() const { return key_regex_.has_value() || column_ >= 0; }
  // The line's key; false when a key is configured and the line has none.
  bool key(std::string_view line, std::string_view& out) const;

 private:
  std::vector<std::string> include_, exclude_;
  std::optional<std::regex> line_regex_, exclude_regex_, key_regex_;
  int group_ = 1;
  int column_ = -1;
  char delimiter_ = ',';
};

}  // namespace weir::file_source
