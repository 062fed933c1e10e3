#include "value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace weir::cep {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Long: return "long";
    case Type::Double: return "double";
    case Type::String: return "string";
  }
  return "?";
}

void Value::set_string(std::string_view s) {
  if (s.data() >= raw_ && s.data() < raw_ + sizeof raw_) {  // our own inline text: clearing would erase it
    *this = of_string(s);
    return;
  }
  if (s.size() <= kInline) {
    clear_as(Tag::SmallString);
    raw_[1] = static_cast<char>(s.size());
    if (!s.empty()) std::memcpy(raw_ + 2, s.data(), s.size());
  } else {
    auto* h = static_cast<Heap*>(::operator new(sizeof(Heap) + s.size()));
    h->refs = 1;
    h->size = static_cast<uint32_t>(s.size());
    std::memcpy(h->data, s.data(), s.size());
    clear_as(Tag::HeapString);  // after the copy: s may be this value's own heap string
    put(h);
  }
}

std::string_view Value::as_string() const {
  if (tag() == Tag::SmallString) return {raw_ + 2, static_cast<size_t>(static_cast<uint8_t>(raw_[1]))};
  if (tag() == Tag::HeapString) {
    Heap* h = get<Heap*>();
    return {h->data, h->size};
  }
  return {};
}

bool Value::equals_slow(const Value& o) const {
  Type a = type(), b = o.type();
  if (a != b) return false;
  switch (a) {
    case Type::Null: return true;
    case Type::Bool: return as_bool() == o.as_bool();
    case Type::Long: return as_long() == o.as_long();
    case Type::Double: return java_double_equals(as_double(), o.as_double());
    case Type::String: return as_string() == o.as_string();
  }
  return false;
}

namespace {

int64_t java_bits(double d) {  // Double.doubleToLongBits: one NaN
  if (std::isnan(d)) return 0x7ff8000000000000LL;
  int64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

}  // namespace

bool java_double_equals(double a, double b) { return java_bits(a) == java_bits(b); }

int java_double_compare(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  int64_t x = java_bits(a), y = java_bits(b);
  return x == y ? 0 : x < y ? -1 : 1;
}

int utf16_compare(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    // The first difference is at the same character in both (equal prefix):
    // a lead byte decides. 0xEE/0xEF start U+E000..U+FFFF, one UTF-16 unit
    // above the surrogates 0xD800.. that encode 0xF0..0xF4's characters.
    auto key = [](unsigned char c) { return c == 0xEE || c == 0xEF ? c + 0x10 : static_cast<int>(c); };
    return key(x) < key(y) ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

uint64_t Value::hash_slow() const {
  auto mix = [](uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  };
  switch (type()) {
    case Type::Null: return 0x9e3779b97f4a7c15ULL;
    case Type::Bool: return mix(as_bool() ? 1 : 2);
    case Type::Long: return mix(static_cast<uint64_t>(as_long()));
    case Type::Double: return mix(static_cast<uint64_t>(java_bits(as_double())) ^ 0x5555);
    case Type::String: {
      uint64_t h = 1469598103934665603ULL;  // FNV-1a
      for (unsigned char c : as_string()) h = (h ^ c) * 1099511628211ULL;
      return mix(h);
    }
  }
  return 0;
}

std::string format_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0.0) return "0.0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.8e", d);  // [-]D.DDDDDDDDe±XX, exact value rounded half-even
  std::string s(buf);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  int exp10 = std::atoi(s.c_str() + e + 1);
  std::string digits = s.substr(0, 1) + s.substr(2, e - 2);  // the 9 significant digits
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string intpart, frac;
  int point = exp10 + 1;  // digits before the decimal point
  if (point <= 0) {
    intpart = "0";
    frac = std::string(static_cast<size_t>(-point), '0') + digits;
  } else if (point >= static_cast<int>(digits.size())) {
    intpart = digits + std::string(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    intpart = digits.substr(0, static_cast<size_t>(point));
    frac = digits.substr(static_cast<size_t>(point));
  }
  if (frac.empty()) frac = "0";
  return (neg ? "-" : "") + intpart + "." + frac;
}

namespace {

// Java's Double.toString / Float.toString: the shortest digits that read back
// as the same double (float).
std::string java_decimal_string(double d, bool as_float) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[40];
  for (int prec = 0; prec <= 16; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec, d);
    if (as_float ? std::strtof(buf, nullptr) == static_cast<float>(d) : std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);  // [-]D[.DDD]e±XX
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  int exp10 = std::atoi(s.c_str() + e + 1);
  std::string digits = s.substr(0, 1) + (e > 2 ? s.substr(2, e - 2) : "");
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  double a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    int point = exp10 + 1;
    if (point <= 0) {
      out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    } else if (point >= static_cast<int>(digits.size())) {
      out += digits + std::string(static_cast<size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
    }
  } else {
    out += digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0") + "E" + std::to_string(exp10);
  }
  return out;
}

}  // namespace

std::string java_double_string(double d) { return java_decimal_string(d, false); }
std::string java_float_string(float f) { return java_decimal_string(static_cast<double>(f), true); }

std::string format_value(const Value& v) {
  switch (v.type()) {
    case Type::Null: return "null";
    case Type::Bool: return v.as_bool() ? "true" : "false";
    case Type::Long: return std::to_string(v.as_long());
    case Type::Double: return format_double(v.as_double());
    case Type::String: return std::string(v.as_string());
  }
  return "?";
}

}  // namespace weir::cep
