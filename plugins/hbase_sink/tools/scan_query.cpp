#include "scan_query.hpp"

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace weir::hbase::cli {

Condition parse_condition(std::string_view text, const std::string& default_family) {
  size_t at = text.find_first_of("=!<>");
  if (at == std::string_view::npos || at == 0)
    throw std::invalid_argument("--where \"" + std::string(text) + "\": expected COLUMN OP VALUE with OP one of = != > >= < <=");
  Condition c;
  std::string_view op = text.substr(at, 2);
  size_t op_len = 1;
  if (op.starts_with(">=")) c.op = Condition::Ge, op_len = 2;
  else if (op.starts_with("<=")) c.op = Condition::Le, op_len = 2;
  else if (op.starts_with("!=")) c.op = Condition::Ne, op_len = 2;
  else if (op[0] == '=') c.op = Condition::Eq;
  else if (op[0] == '>') c.op = Condition::Gt;
  else if (op[0] == '<') c.op = Condition::Lt;
  else throw std::invalid_argument("--where \"" + std::string(text) + "\": unknown operator");
  std::string column(text.substr(0, at));
  c.value = std::string(text.substr(at + op_len));
  size_t colon = column.find(':');
  c.family = colon == std::string::npos ? default_family : column.substr(0, colon);
  c.qualifier = colon == std::string::npos ? column : column.substr(colon + 1);
  if (c.family.empty() || c.qualifier.empty())
    throw std::invalid_argument("--where \"" + std::string(text) + "\": empty column name");
  if (c.numeric()) {
    char* end = nullptr;
    c.number = std::strtod(c.value.c_str(), &end);
    if (c.value.empty() || *end)
      throw std::invalid_argument("--where \"" + std::string(text) + "\": " + c.value + " is not a number (> < >= <= compare numbers)");
  }
  return c;
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  return out + "'";
}

std::string filter_string(const std::vector<Condition>& conditions, const std::string& key_contains) {
  std::vector<std::string> parts;
  if (!key_contains.empty()) parts.push_back("RowFilter(=, " + quote("substring:" + key_contains) + ")");
  for (const Condition& c : conditions) {
    if (c.numeric()) continue;
    parts.push_back("SingleColumnValueFilter(" + quote(c.family) + ", " + quote(c.qualifier) + ", " +
                    (c.op == Condition::Eq ? "=" : "!=") + ", " + quote("binary:" + c.value) + ", true, true)");
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " AND ") + p;
  return out;
}

bool matches(const t2::TResult& row, const std::vector<Condition>& conditions) {
  for (const Condition& c : conditions) {
    const t2::TColumnValue* cell = nullptr;
    for (const auto& cv : row.columnValues)
      if (cv.family == c.family && cv.qualifier == c.qualifier) cell = &cv;
    if (!cell) return false;
    if (c.op == Condition::Eq && cell->value != c.value) return false;
    if (c.op == Condition::Ne && cell->value == c.value) return false;
    if (c.numeric()) {
      char* end = nullptr;
      double v = std::strtod(cell->value.c_str(), &end);
      if (cell->value.empty() || *end) return false;
      bool ok = c.op == Condition::Gt ? v > c.number
              : c.op == Condition::Ge ? v >= c.number
              : c.op == Condition::Lt ? v < c.number
                                      : v <= c.number;
      if (!ok) return false;
    }
  }
  return true;
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return "";
}

int64_t parse_time_ms(const std::string& text) {
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && text.size() == 14) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y%m%d%H%M%S", &tm);
    if (end && !*end) return static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (!digits || ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument("time \"" + text + "\" must be epoch milliseconds or yyyyMMddHHmmss (UTC)");
  return ms;
}

}  // namespace weir::hbase::cli
