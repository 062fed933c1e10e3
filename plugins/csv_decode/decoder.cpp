#include "decoder.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace weir::csv {

const char* type_text(Type t) {
  switch (t) {
    case Type::String: return "string";
    case Type::Int64: return "int64";
    case Type::Double: return "double";
    case Type::Bool: return "bool";
    case Type::Timestamp: return "timestamp";
    case Type::Skip: return "skip";
  }
  return "?";
}

static bool type_from_text(std::string_view s, Type& t) {
  static const std::pair<const char*, Type> kTypes[] = {{"string", Type::String}, {"int64", Type::Int64},
                                                        {"double", Type::Double}, {"bool", Type::Bool},
                                                        {"timestamp", Type::Timestamp}, {"skip", Type::Skip}};
  for (auto& [name, type] : kTypes)
    if (s == name) {
      t = type;
      return true;
    }
  return false;
}

Schema Schema::build(const SchemaSpec& spec) {
  Schema s;
  if (spec.fields.empty()) throw std::invalid_argument("fields must list at least one column, e.g. [\"name:string\"]");
  if (spec.delimiter.size() != 1) throw std::invalid_argument("delimiter must be exactly one character, not \"" + spec.delimiter + "\"");
  s.delimiter_ = spec.delimiter[0];
  if (s.delimiter_ == '\n' || s.delimiter_ == '\r') throw std::invalid_argument("delimiter must not be a line break");
  s.trim_ = spec.trim;
  if (s.trim_ && (s.delimiter_ == ' ' || s.delimiter_ == '\t'))
    throw std::invalid_argument("trim = true cannot be combined with a space or tab delimiter");
  s.skip_empty_ = spec.skip_empty;
  for (const auto& p : spec.skip_prefixes) {
    if (p.empty()) throw std::invalid_argument("skip_prefixes must not contain an empty string (it would skip every line)");
    s.skip_prefixes_.push_back(p);
  }

  for (size_t i = 0; i < spec.fields.size(); ++i) {
    const std::string& f = spec.fields[i];
    std::string where = "fields[" + std::to_string(i) + "] \"" + f + "\"";
    size_t colon = f.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument(where + ": expected \"name:type\" (types: string, int64, double, bool, timestamp:FORMAT, skip)");
    Column c;
    c.name = f.substr(0, colon);
    std::string rest = f.substr(colon + 1);
    std::string format;
    if (size_t colon2 = rest.find(':'); colon2 != std::string::npos) {
      format = rest.substr(colon2 + 1);
      rest.resize(colon2);
    }
    if (c.name.empty()) throw std::invalid_argument(where + ": the field name is empty");
    if (!type_from_text(rest, c.type))
      throw std::invalid_argument(where + ": unknown type '" + rest + "' (string, int64, double, bool, timestamp:FORMAT, skip)");
    if (c.type == Type::Timestamp) {
      if (format.empty())
        throw std::invalid_argument(where + ": a timestamp needs a format, e.g. \"" + c.name + ":timestamp:%Y%m%d%H%M%S\"");
      c.time = TimeFormat::compile(format);
    } else if (!format.empty()) {
      throw std::invalid_argument(where + ": only timestamp fields take a format");
    }
    if (c.type != Type::Skip) {
      for (const Column& other : s.columns_)
        if (other.name == c.name && other.type != Type::Skip)
          throw std::invalid_argument(where + ": field '" + c.name + "' is declared twice");
      c.output = static_cast<int>(s.output_count_++);
      s.output_to_column_.push_back(s.columns_.size());
    }
    s.columns_.push_back(std::move(c));
  }
  if (s.output_count_ == 0) throw std::invalid_argument("every field is of type skip: nothing to output");

  for (const auto& name : spec.optional) {
    bool found = false;
    for (Column& c : s.columns_)
      if (c.name == name && c.type != Type::Skip) c.optional = found = true;
    if (!found) throw std::invalid_argument("optional names '" + name + "', which is not a field");
  }

  if (!spec.event_time_field.empty()) {
    for (size_t i = 0; i < s.columns_.size(); ++i)
      if (s.columns_[i].name == spec.event_time_field && s.columns_[i].type != Type::Skip) s.event_time_column_ = static_cast<int>(i);
    if (s.event_time_column_ < 0) throw std::invalid_argument("event_time_field names '" + spec.event_time_field + "', which is not a field");
    const Column& c = s.columns_[s.event_time_column_];
    if (c.optional) throw std::invalid_argument("event_time_field '" + c.name + "' must not be optional");
    if (c.type == Type::Timestamp) {
      if (!spec.event_time_format.empty() && spec.event_time_format != c.time.text())
        throw std::invalid_argument("event_time_format differs from the format of timestamp field '" + c.name + "'; drop one");
    } else if (c.type == Type::String || c.type == Type::Int64) {
      if (spec.event_time_format.empty())
        throw std::invalid_argument("event_time_field '" + c.name + "' is a " + type_text(c.type) +
                                    ": set event_time_format (e.g. \"%Y%m%d%H%M%S\" or \"epoch_ms\")");
      s.event_time_ = TimeFormat::compile(spec.event_time_format);
    } else {
      throw std::invalid_argument("event_time_field '" + c.name + "' must be a timestamp, string or int64 field");
    }
  } else if (!spec.event_time_format.empty()) {
    throw std::invalid_argument("event_time_format is set but event_time_field is not");
  }
  return s;
}

namespace {

std::string quoted(std::string_view text) {
  constexpr size_t kMax = 48;
  std::string out = "\"";
  out.append(text.substr(0, kMax));
  out += text.size() > kMax ? "...\"" : "\"";
  return out;
}

std::string column_label(size_t index, const Column& c) {
  return "column " + std::to_string(index + 1) + " '" + c.name + "'";
}

bool parse_int(std::string_view t, int64_t& v, bool& overflow) {
  const char* b = t.data();
  const char* e = b + t.size();
  if (b != e && *b == '+') {
    ++b;
    if (b != e && *b == '-') return false;
  }
  auto [p, ec] = std::from_chars(b, e, v);
  overflow = ec == std::errc::result_out_of_range;
  return ec == std::errc() && p == e;
}

bool parse_double(std::string_view t, double& v) {
  const char* b = t.data();
  const char* e = b + t.size();
  if (b != e && *b == '+') {
    ++b;
    if (b != e && *b == '-') return false;
  }
  auto [p, ec] = std::from_chars(b, e, v, std::chars_format::general);
  return ec == std::errc() && p == e && std::isfinite(v);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != b[i]) return false;
  return true;
}

bool parse_bool(std::string_view t, bool& v) {
  if (t == "1" || iequals(t, "true")) { v = true; return true; }
  if (t == "0" || iequals(t, "false")) { v = false; return true; }
  return false;
}

std::string_view trimmed(std::string_view t) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

}  // namespace

Schema::Outcome Schema::decode(std::string_view line, weir_value* out, int64_t& event_time_ns, std::string& reason) const {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() && skip_empty_) return Outcome::Skipped;
  for (const auto& p : skip_prefixes_)
    if (line.size() >= p.size() && line.compare(0, p.size(), p) == 0) return Outcome::Skipped;

  const char* pos = line.data();
  const char* end = pos + line.size();
  const size_t ncols = columns_.size();
  // The column count first: a line cut short or run together is reported as such,
  // not as a bad value in whatever column happens to be there.
  size_t found = 1;
  for (const char* p = pos; p != end; ++p) found += (*p == delimiter_);
  if (found != ncols) {
    if (found < ncols)
      reason = "expected " + std::to_string(ncols) + " columns, found " + std::to_string(found) + ": " +
               column_label(found, columns_[found]) + " is missing";
    else
      reason = "expected " + std::to_string(ncols) + " columns, found " + std::to_string(found) + ": column " +
               std::to_string(ncols + 1) + " is extra";
    return Outcome::Rejected;
  }
  for (size_t i = 0; i < ncols; ++i) {
    const Column& c = columns_[i];
    const char* stop = pos == end ? nullptr : static_cast<const char*>(std::memchr(pos, delimiter_, static_cast<size_t>(end - pos)));
    if (!stop) stop = end;
    std::string_view text(pos, static_cast<size_t>(stop - pos));
    if (stop != end) pos = stop + 1;
    if (trim_) text = trimmed(text);
    if (c.type == Type::Skip) continue;

    weir_value& v = out[c.output];
    if (text.empty()) {
      if (!c.optional) {
        reason = column_label(i, c) + " is empty but required";
        return Outcome::Rejected;
      }
      if (c.type == Type::String) {
        v.type = WEIR_STRING;
        v.as.str = {text.data(), 0};
      } else {
        v.type = WEIR_NULL;
        v.as.i64 = 0;
      }
      continue;
    }
    switch (c.type) {
      case Type::String:
        v.type = WEIR_STRING;
        v.as.str = {text.data(), static_cast<uint32_t>(text.size())};
        break;
      case Type::Int64: {
        bool overflow = false;
        v.type = WEIR_INT64;
        if (!parse_int(text, v.as.i64, overflow)) {
          reason = column_label(i, c) + ": " + quoted(text) + (overflow ? " is out of range for int64" : " is not an int64");
          return Outcome::Rejected;
        }
        break;
      }
      case Type::Double:
        v.type = WEIR_DOUBLE;
        if (!parse_double(text, v.as.f64)) {
          reason = column_label(i, c) + ": " + quoted(text) + " is not a finite double";
          return Outcome::Rejected;
        }
        break;
      case Type::Bool: {
        bool b = false;
        if (!parse_bool(text, b)) {
          reason = column_label(i, c) + ": " + quoted(text) + " is not a bool (true/false/1/0)";
          return Outcome::Rejected;
        }
        v.type = WEIR_BOOL;
        v.as.i64 = 0;
        v.as.b = b ? 1 : 0;
        break;
      }
      case Type::Timestamp:
        v.type = WEIR_TIMESTAMP;
        if (!c.time.parse(text, v.as.i64)) {
          reason = column_label(i, c) + ": " + quoted(text) + " does not match timestamp format \"" + c.time.text() + "\"";
          return Outcome::Rejected;
        }
        break;
      case Type::Skip: break;
    }
    if (static_cast<int>(i) == event_time_column_) {
      if (c.type == Type::Timestamp) {
        event_time_ns = v.as.i64;
      } else if (!event_time_.parse(text, event_time_ns)) {
        reason = column_label(i, c) + ": " + quoted(text) + " does not match event_time_format \"" + event_time_.text() + "\"";
        return Outcome::Rejected;
      }
    }
  }
  return Outcome::Decoded;
}

}  // namespace weir::csv
