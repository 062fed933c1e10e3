#include "row_mapper.hpp"

#include <charconv>
#include <cstring>
#include <ctime>
#include <set>
#include <stdexcept>

namespace weir::hbase {

namespace {

constexpr size_t kMaxRowKey = 32767;  // HBase's limit (Short.MAX_VALUE)

bool is_epoch_format(const std::string& f) {
  return f == "epoch_s" || f == "epoch_ms" || f == "epoch_us" || f == "epoch_ns";
}

int64_t epoch_to_ms(int64_t v, const std::string& f) {
  if (f == "epoch_s") return v * 1000;
  if (f == "epoch_us") return v / 1000;
  if (f == "epoch_ns") return v / 1'000'000;
  return v;  // epoch_ms or ""
}

}  // namespace

bool parse_timestamp_ms(const weir_value& v, const std::string& format, int64_t& ms, std::string& reason) {
  switch (v.type) {
    case WEIR_TIMESTAMP: ms = v.as.i64 / 1'000'000; break;
    case WEIR_INT64:
      if (!format.empty() && !is_epoch_format(format)) {
        reason = "is an int64, timestamp_format must be epoch_s/ms/us/ns";
        return false;
      }
      ms = epoch_to_ms(v.as.i64, format);
      break;
    case WEIR_STRING: {
      std::string text(v.as.str.data, v.as.str.size);
      if (format.empty()) {
        reason = "is a string; set timestamp_format (e.g. \"%Y%m%d%H%M%S\" or \"epoch_ms\")";
        return false;
      }
      if (is_epoch_format(format)) {
        int64_t n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
          reason = "\"" + text + "\" is not an integer (" + format + ")";
          return false;
        }
        ms = epoch_to_ms(n, format);
        break;
      }
      std::tm tm{};
      const char* end = strptime(text.c_str(), format.c_str(), &tm);
      if (!end || *end) {
        reason = "\"" + text + "\" does not match timestamp_format \"" + format + "\"";
        return false;
      }
      ms = static_cast<int64_t>(timegm(&tm)) * 1000;
      break;
    }
    default:
      reason = std::string("is a ") + type_name(v.type) + ", not a timestamp, int64 or string";
      return false;
  }
  if (ms < 0) {
    reason = "is before 1970 (HBase cell timestamps are >= 0)";
    return false;
  }
  return true;
}

RowMapper::RowMapper(const MappingSpec& spec) : spec_(spec) {
  if (spec.row_key.empty()) throw std::invalid_argument("row_key must not be empty");
  try {
    row_key_ = Template::compile(spec.row_key);
  } catch (const TemplateError& e) {
    throw std::invalid_argument("row_key: template \"" + spec.row_key + "\", " + e.what());
  }
  if (row_key_.fields().empty())
    throw std::invalid_argument("row_key \"" + spec.row_key + "\" uses no field: every record would write the same row");
  if (spec.family.empty()) throw std::invalid_argument("column_family must not be empty");
  if (!spec.timestamp_format.empty() && !is_epoch_format(spec.timestamp_format) &&
      spec.timestamp_format.find('%') == std::string::npos)
    throw std::invalid_argument("timestamp_format must be epoch_s, epoch_ms, epoch_us, epoch_ns or a strptime format with %, not \"" +
                                spec.timestamp_format + "\"");
  std::set<std::pair<std::string, std::string>> seen;
  for (const std::string& entry : spec.columns) {
    Column c;
    size_t eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    size_t colon = name.find(':');
    if (colon != std::string::npos) {
      c.family = name.substr(0, colon);
      c.qualifier = name.substr(colon + 1);
    } else {
      c.family = spec.family;
      c.qualifier = name;
    }
    if (c.family.empty() || c.qualifier.empty())
      throw std::invalid_argument("columns: \"" + entry + "\" needs a qualifier (\"qualifier={field}\" or \"field\")");
    std::string value = eq == std::string::npos ? "{" + c.qualifier + "}" : entry.substr(eq + 1);
    try {
      c.value = Template::compile(value);
    } catch (const TemplateError& e) {
      throw std::invalid_argument("columns: \"" + entry + "\": template \"" + value + "\", " + e.what());
    }
    if (!seen.insert({c.family, c.qualifier}).second)
      throw std::invalid_argument("columns: " + c.family + ":" + c.qualifier + " is mapped twice");
    columns_.push_back(std::move(c));
  }
}

bool RowMapper::map(Record r, t2::TPut& put, std::string& reason) const {
  put.row.clear();
  if (!row_key_.render(r, put.row, reason)) {
    reason = "row key " + spec_.row_key + ": " + reason;
    return false;
  }
  if (put.row.empty()) {
    reason = "row key " + spec_.row_key + " is empty";
    return false;
  }
  if (put.row.size() > kMaxRowKey) {
    reason = "row key is " + std::to_string(put.row.size()) + " bytes, HBase allows at most 32767";
    return false;
  }
  put.__isset.timestamp = false;
  if (!spec_.timestamp_field.empty()) {
    weir_value event_time = timestamp_value(r.event_time_ns());
    const weir_value* v = spec_.timestamp_field != "_time" ? r.field(spec_.timestamp_field)
                          : r.event_time_ns() != 0        ? &event_time
                                                          : nullptr;
    if (!v || v->type == WEIR_NULL) {
      reason = spec_.timestamp_field == "_time"
                   ? "record has no event time (cell timestamp = event time; set timestamp_field)"
                   : "timestamp field '" + spec_.timestamp_field + "' is " + (v ? "null" : "missing");
      return false;
    }
    int64_t ms = 0;
    if (!parse_timestamp_ms(*v, spec_.timestamp_format, ms, reason)) {
      reason = "timestamp field '" + spec_.timestamp_field + "' " + reason;
      return false;
    }
    put.__set_timestamp(ms);
  }
  put.columnValues.clear();
  if (columns_.empty()) {
    for (const weir_field& f : r.fields()) {
      if (f.value.type == WEIR_NULL) continue;
      t2::TColumnValue& cv = put.columnValues.emplace_back();
      cv.family = spec_.family;
      cv.qualifier.assign(f.name.data, f.name.size);
      append_value_text(cv.value, f.value);
    }
  } else {
    std::string why;
    for (const Column& c : columns_) {
      t2::TColumnValue& cv = put.columnValues.emplace_back();
      if (!c.value.render(r, cv.value, why)) {
        put.columnValues.pop_back();
        if (spec_.reject_missing_columns) {
          reason = "column " + c.family + ":" + c.qualifier + ": " + why;
          return false;
        }
        continue;
      }
      cv.family = c.family;
      cv.qualifier = c.qualifier;
    }
  }
  if (put.columnValues.empty()) {
    reason = "no cell to write (every mapped field is missing or null)";
    return false;
  }
  return true;
}

}  // namespace weir::hbase
