// Records as JSON lines — shared by the stock sinks, the dead-letter file and
// any plugin that wants a readable dump. Header-only, no dependencies.
//
// Layout: {"_key":"..","_payload":"..",<field>:<value>,...}; `_key` and
// `_payload` are left out when empty; with metadata, `_time` (ns),
// `_partition` and `_offset` follow. Timestamps are integers (ns).
//
// Every line is valid UTF-8 JSON whatever the bytes: strings are written whole
// (a NUL is \u0000), valid UTF-8 as is, and each byte that is not part of a
// valid UTF-8 sequence (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF) as \u00XX of its value, i.e. read as Latin-1. A reader
// cannot tell such a byte from the character U+00XX, so when the payload is
// not valid UTF-8, `_payload_b64` (standard base64) follows `_payload` with
// its exact bytes.
#pragma once

#include <weir/sdk.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace weir {

// The length (2-4) of the valid UTF-8 sequence of a non-ASCII character at
// s[i], or 0 when the bytes there are not one.
inline size_t utf8_sequence_at(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = byte(0), lo = 0x80, hi = 0xBF;  // bounds of the second byte
  size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // a continuation byte, an overlong lead (C0, C1) or F5..FF
  }
  if (i + n > s.size() || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return n;
}

inline bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) { ++i; continue; }
    size_t n = utf8_sequence_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

inline void append_base64(std::string& out, std::string_view s) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[k])); };
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kDigits[(v >> shift) & 63];
  }
  if (size_t rest = s.size() - i; rest > 0) {
    uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += rest == 2 ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
}

// Bytes that need no escape are copied in runs, not one by one (file_sink
// writes every flagged row through here).
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t plain = 0;  // where the run of bytes copied as they are starts
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = utf8_sequence_at(s, i); n > 0) {  // valid UTF-8 passes as it is
        i += n;
        continue;
      }
    }
    out.append(s.data() + plain, i - plain);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {  // a control character, or a byte that is not UTF-8
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
    plain = ++i;
  }
  out.append(s.data() + plain, s.size() - plain);
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
  if (!r.payload().empty()) {
    sep();
    out += "\"_payload\":";
    append_json_string(out, r.payload());
    if (!valid_utf8(r.payload())) {
      out += ",\"_payload_b64\":\"";
      append_base64(out, r.payload());
      out += '"';
    }
  }
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
  out += '}';
  return out;  // not `out + "}"`: that would copy the whole line once more
}

}  // namespace weir
