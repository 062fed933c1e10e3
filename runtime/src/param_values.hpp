// Parameter values in the C form handed to a plugin's create(), with the
// storage their strings point into.
#pragma once

#include "diagnostics.hpp"

#include <weir/abi.h>

#include <toml++/toml.h>

#include <deque>
#include <string>
#include <vector>

namespace weir {

class ParamValues {
 public:
  ParamValues() = default;
  ParamValues(const ParamValues&) = delete;
  ParamValues& operator=(const ParamValues&) = delete;
  ParamValues(ParamValues&&) = default;
  ParamValues& operator=(ParamValues&&) = default;

  // Converts VALUE to SPEC's type; returns an error message or "".
  std::string add(const weir_param_spec& spec, const toml::node& value);
  const weir_param_value* data() const { return values_.data(); }
  uint32_t size() const { return static_cast<uint32_t>(values_.size()); }
  // The value as TOML-ish text, for `weir plugins` and /status.
  std::string text(size_t i) const;

 private:
  weir_str keep(std::string s);
  std::vector<weir_param_value> values_;
  std::deque<std::string> strings_;  // deque: growing never moves existing strings
  std::deque<std::vector<weir_str>> lists_;
  std::deque<std::vector<weir_kv>> tables_;
};

const char* param_type_name(uint32_t type);

// Parses a descriptor's default literal ("100", "\"x\"", "[]").
toml::table parse_default(const char* literal);

}  // namespace weir
