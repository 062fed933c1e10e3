#include "line_rules.hpp"

#include <stdexcept>

namespace weir::file_source {

namespace {

std::regex compile(const std::string& name, const std::string& text) {
  try {
    return std::regex(text, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(name + " \"" + text + "\" is not a valid regular expression: " + e.what());
  }
}

bool starts_with_any(std::string_view line, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (line.starts_with(p)) return true;
  return false;
}

bool search(const std::regex& re, std::string_view line) {
  return std::regex_search(line.data(), line.data() + line.size(), re);
}

}  // namespace

LineRules::LineRules(const LineRulesConfig& c)
    : include_(c.include_prefixes), exclude_(c.exclude_prefixes), group_(c.key_group), column_(c.key_csv_column),
      delimiter_(c.csv_delimiter) {
  if (!c.line_regex.empty()) line_regex_ = compile("line_regex", c.line_regex);
  if (!c.exclude_regex.empty()) exclude_regex_ = compile("exclude_regex", c.exclude_regex);
  if (!c.key_regex.empty()) {
    if (c.key_csv_column >= 0) throw std::invalid_argument("key_regex and key_csv_column are exclusive: set one");
    key_regex_ = compile("key_regex", c.key_regex);
    if (c.key_group < 0 || static_cast<size_t>(c.key_group) > key_regex_->mark_count())
      throw std::invalid_argument("key_group " + std::to_string(c.key_group) + " is not a group of key_regex (it has " +
                                  std::to_string(key_regex_->mark_count()) + ")");
  }
  if (c.key_csv_column < -1) throw std::invalid_argument("key_csv_column must be >= 0, or -1 for none");
  for (const auto& p : include_)
    if (p.empty()) throw std::invalid_argument("include_prefixes must not contain an empty prefix");
  for (const auto& p : exclude_)
    if (p.empty()) throw std::invalid_argument("exclude_prefixes must not contain an empty prefix");
}

bool LineRules::pass(std::string_view line) const {
  if (!include_.empty() && !starts_with_any(line, include_)) return false;
  if (starts_with_any(line, exclude_)) return false;
  if (line_regex_ && !search(*line_regex_, line)) return false;
  if (exclude_regex_ && search(*exclude_regex_, line)) return false;
  return true;
}

bool LineRules::key(std::string_view line, std::string_view& out) const {
  if (column_ >= 0) {
    size_t start = 0;
    for (int i = 0; i < column_; ++i) {
      size_t d = line.find(delimiter_, start);
      if (d == std::string_view::npos) return false;
      start = d + 1;
    }
    size_t d = line.find(delimiter_, start);
    out = line.substr(start, d == std::string_view::npos ? std::string_view::npos : d - start);
    return !out.empty();
  }
  if (key_regex_) {
    std::cmatch m;
    if (!std::regex_search(line.data(), line.data() + line.size(), m, *key_regex_) || !m[group_].matched) return false;
    out = std::string_view(m[group_].first, static_cast<size_t>(m[group_].length()));
    return !out.empty();
  }
  out = {};
  return true;
}

}  // namespace weir::file_source
