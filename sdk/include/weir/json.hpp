// Records as JSON lines — shared by the stock sinks, the dead-letter file and
// any plugin that wants a readable dump. Header-only, no dependencies.
//
// Layout: {"_key":"..","_payload":"..",<field>:<value>,...}; `_key` and
// `_payload` are left out when empty; with metadata, `_time` (ns),
// `_partition` and `_offset` follow. Timestamps are integers (ns).
#pragma once

#include <weir/sdk.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace weir {

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void append_json_value(std::string& out, const weir_value& v) {
  switch (v.type) {
    case WEIR_INT64:
    case WEIR_TIMESTAMP: out += std::to_string(v.as.i64); break;
    case WEIR_DOUBLE: {
      if (!std::isfinite(v.as.f64)) { out += "null"; break; }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.as.f64);
      // Shortest text that reads back the same double.
      for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v.as.f64);
        if (std::strtod(buf, nullptr) == v.as.f64) break;
      }
      out += buf;
      break;
    }
    case WEIR_STRING: append_json_string(out, view(v.as.str)); break;
    case WEIR_BOOL: out += v.as.b ? "true" : "false"; break;
    default: out += "null";
  }
}

inline std::string to_json(Record r, bool metadata = false) {
  std::string out = "{";
  auto sep = [&] { if (out.size() > 1) out += ','; };
  if (!r.key().empty()) { sep(); out += "\"_key\":"; append_json_string(out, r.key()); }
  if (!r.payload().empty()) { sep(); out += "\"_payload\":"; append_json_string(out, r.payload()); }
  for (const weir_field& f : r.fields()) {
    sep();
    append_json_string(out, view(f.name));
    out += ':';
    append_json_value(out, f.value);
  }
  if (metadata) {
    sep();
    out += "\"_time\":" + std::to_string(r.event_time_ns()) + ",\"_partition\":" +
           std::to_string(r.position().partition) + ",\"_offset\":" + std::to_string(r.position().offset);
  }
  return out + "}";
}

}  // namespace weir
