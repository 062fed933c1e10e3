#include "param_values.hpp"

#include <cctype>
#include <functional>
#include <limits>
#include <sstream>

namespace weir {

const char* param_type_name(uint32_t type) {
  switch (type) {
    case WEIR_PARAM_STRING: return "string";
    case WEIR_PARAM_INT: return "integer";
    case WEIR_PARAM_DOUBLE: return "number";
    case WEIR_PARAM_BOOL: return "boolean";
    case WEIR_PARAM_STRING_LIST: return "array of strings";
    case WEIR_PARAM_TABLE: return "table";
  }
  return "unknown";
}

static const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "number";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::array: return "array";
    case toml::node_type::table: return "table";
    default: return "date/time";
  }
}

toml::table parse_default(const char* literal) {
  const std::string doc = std::string("v = ") + literal;
  return toml::parse(std::string_view(doc));
}

weir_str ParamValues::keep(std::string s) {
  strings_.push_back(std::move(s));
  return {strings_.back().data(), static_cast<uint32_t>(strings_.back().size())};
}

static std::string scalar_text(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  std::ostringstream out;
  n.visit([&](auto&& v) { out << v; });
  return out.str();
}

// A --set value that is not a TOML literal arrives as a string without a
// position in the file (pipeline_config.cpp). Written like a TOML integer, it
// failed to parse only because it does not fit in 64 bits.
static bool overflowed_integer(const toml::node& value) {
  auto text = value.value<std::string>();
  if (!text || value.source().begin.line != 0) return false;
  std::string_view t = *text;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) t.remove_prefix(1);
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
    base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
    t.remove_prefix(2);
  }
  if (t.empty() || t.front() == '_' || t.back() == '_') return false;
  for (char c : t) {
    int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : std::isxdigit(static_cast<unsigned char>(c)) ? 10 + (std::tolower(c) - 'a')
                                                               : -1;
    if (c != '_' && (digit < 0 || digit >= base)) return false;
  }
  return true;
}

std::string ParamValues::add(const weir_param_spec& spec, const toml::node& value) {
  weir_param_value v{};
  v.name = spec.name;
  v.type = spec.type;
  auto wrong = [&] {
    return std::string("parameter '") + spec.name + "' must be " + (spec.type == WEIR_PARAM_INT ? "an " : "a ") +
           param_type_name(spec.type) + ", not " + toml_type_name(value);
  };
  switch (spec.type) {
    case WEIR_PARAM_STRING:
      if (!value.is_string()) return wrong();
      v.as.str = keep(*value.value<std::string>());
      break;
    case WEIR_PARAM_INT:
      if (overflowed_integer(value))
        return std::string("parameter '") + spec.name + "' must be an integer: " + *value.value<std::string>() +
               " is out of range (" + std::to_string(std::numeric_limits<int64_t>::min()) + " to " +
               std::to_string(std::numeric_limits<int64_t>::max()) + ")";
      if (!value.is_integer()) return wrong();
      v.as.i64 = *value.value<int64_t>();
      break;
    case WEIR_PARAM_DOUBLE:
      if (!value.is_number()) return wrong();
      v.as.f64 = *value.value<double>();
      break;
    case WEIR_PARAM_BOOL:
      if (!value.is_boolean()) return wrong();
      v.as.b = *value.value<bool>() ? 1 : 0;
      break;
    case WEIR_PARAM_STRING_LIST: {
      auto* arr = value.as_array();
      if (!arr) return wrong();
      std::vector<weir_str> items;
      for (auto& item : *arr) {
        if (!item.is_string()) return std::string("parameter '") + spec.name + "' must be an array of strings";
        items.push_back(keep(*item.value<std::string>()));
      }
      lists_.push_back(std::move(items));
      v.as.list = {lists_.back().data(), static_cast<uint32_t>(lists_.back().size())};
      break;
    }
    case WEIR_PARAM_TABLE: {
      auto* t = value.as_table();
      if (!t) return wrong();
      std::vector<weir_kv> items;
      // Nested tables flatten to dotted keys, so `fetch.wait.max.ms = "100"`
      // (which TOML reads as nested tables) means what it says.
      std::string err;
      std::function<void(const toml::table&, const std::string&)> flatten = [&](const toml::table& table,
                                                                                const std::string& prefix) {
        for (auto&& [k, item] : table) {
          std::string key = prefix + std::string(k.str());
          if (auto* sub = item.as_table()) flatten(*sub, key + ".");
          else if (item.is_array()) err = std::string("parameter '") + spec.name + "." + key + "' must be a plain value";
          else items.push_back({keep(key), keep(scalar_text(item))});
        }
      };
      flatten(*t, "");
      if (!err.empty()) return err;
      tables_.push_back(std::move(items));
      v.as.table = {tables_.back().data(), static_cast<uint32_t>(tables_.back().size())};
      break;
    }
    default:
      return std::string("parameter '") + spec.name + "' has an unknown type in the plugin descriptor";
  }
  values_.push_back(v);
  return "";
}

std::string ParamValues::text(size_t i) const {
  const weir_param_value& v = values_[i];
  auto str = [](weir_str s) { return std::string(s.data, s.size); };
  switch (v.type) {
    case WEIR_PARAM_STRING: return "\"" + str(v.as.str) + "\"";
    case WEIR_PARAM_INT: return std::to_string(v.as.i64);
    case WEIR_PARAM_DOUBLE: { std::ostringstream o; o << v.as.f64; return o.str(); }
    case WEIR_PARAM_BOOL: return v.as.b ? "true" : "false";
    case WEIR_PARAM_STRING_LIST: {
      std::string out = "[";
      for (uint32_t j = 0; j < v.as.list.count; ++j) out += (j ? ", \"" : "\"") + str(v.as.list.items[j]) + "\"";
      return out + "]";
    }
    case WEIR_PARAM_TABLE: {
      std::string out = "{";
      for (uint32_t j = 0; j < v.as.table.count; ++j)
        out += (j ? ", " : " ") + str(v.as.table.items[j].key) + " = \"" + str(v.as.table.items[j].value) + "\"";
      return out + " }";
    }
  }
  return "?";
}

}  // namespace weir
