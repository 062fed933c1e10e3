#include "functions.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace weir::cep {

namespace {

// Java's (long) and (int) of a double: toward zero, NaN is 0, saturating.
int64_t java_d2l(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}
int32_t java_d2i(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 2147483647.0) return std::numeric_limits<int32_t>::max();
  if (d <= -2147483648.0) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(d);
}
int32_t java_l2i(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// UTF-8 <-> UTF-16, for the String methods that count code units.
std::u16string utf16(std::string_view s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n > 1) cp = c & (0x7F >> n);
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

std::string utf8(std::u16string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t cp = s[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000)
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[++i] - 0xDC00);
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// Java's toUpperCase/toLowerCase for ASCII letters; other characters are kept
// (the README lists this difference).
std::string ascii_case(std::string_view s, bool upper) {
  std::string out(s);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

size_t utf8_char_len(unsigned char c) { return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }

// Esper's single-row max/min: the first two as `a > b ? a : b` (max) or
// `a < b ? a : b` (min), then each further value replaces the result when
// strictly greater (smaller). So a NaN loses where a comparison decides.
Value extreme(bool max, const Value* args, size_t n, Type t, Narrow narrow) {
  for (size_t i = 0; i < n; ++i)
    if (args[i].is_null()) return {};
  auto beats = [&](const Value& a, const Value& b) {  // a strictly beyond b
    if (a.type() == Type::Long && b.type() == Type::Long) return max ? a.as_long() > b.as_long() : a.as_long() < b.as_long();
    return max ? a.as_double() > b.as_double() : a.as_double() < b.as_double();
  };
  Value best = widen_to(args[0], t, narrow);
  if (n > 1) {
    Value second = widen_to(args[1], t, narrow);
    if (!beats(best, second)) best = second;
  }
  for (size_t i = 2; i < n; ++i) {
    Value v = widen_to(args[i], t, narrow);
    if (beats(v, best)) best = v;
  }
  return best;
}

}  // namespace

Value widen_to(Value v, Type t, Narrow n) {
  if (t == Type::Double && v.type() == Type::Long) {
    double d = static_cast<double>(v.as_long());
    return Value::of_double(n == Narrow::Float ? static_cast<double>(static_cast<float>(d)) : d);
  }
  return v;
}

bool like_match(std::string_view s, std::string_view p, char escape) {
  // Iterative wildcard matching with backtracking to the last '%'.
  size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      size_t pl = 1;
      bool literal = false;
      if (p[pi] == escape && pi + 1 < p.size()) {
        literal = true;
        ++pi;
      }
      pl = utf8_char_len(static_cast<unsigned char>(p[pi]));
      size_t sl = utf8_char_len(static_cast<unsigned char>(s[si]));
      if (!literal && p[pi] == '_') {
        si += sl;
        pi += 1;
        continue;
      }
      if (s.substr(si, sl) == p.substr(pi, pl)) {
        si += sl;
        pi += pl;
        continue;
      }
      if (literal) --pi;  // back to the escape for a retry
    }
    if (star_p == std::string_view::npos) return false;
    star_s += utf8_char_len(static_cast<unsigned char>(s[star_s]));
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

Value call_function(const Expr& e, const Value& self, const Value* args, size_t n) {
  switch (e.func) {
    case Func::Coalesce:
      for (size_t i = 0; i < n; ++i)
        if (!args[i].is_null()) return widen_to(args[i], e.type, e.narrow);
      return {};
    case Func::Max:
    case Func::Min: return extreme(e.func == Func::Max, args, n, e.type, e.narrow);
    case Func::MathMax:
    case Func::MathMin:
      if (args[0].is_null() || args[1].is_null()) return {};
      if (e.type == Type::Double && (std::isnan(args[0].as_double()) || std::isnan(args[1].as_double())))
        return Value::of_double(std::nan(""));
      return extreme(e.func == Func::MathMax, args, n, e.type, e.narrow);
    default: break;
  }
  for (size_t i = 0; i < n; ++i)
    if (args[i].is_null()) return {};
  auto d = [&](size_t i) { return args[i].as_double(); };
  switch (e.func) {
    case Func::Abs:
      if (args[0].type() == Type::Long) {
        int64_t v = args[0].as_long();
        if (e.narrow == Narrow::Int) return Value::of_long(v < 0 ? java_l2i(-v) : v);
        return Value::of_long(v < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v)) : v);
      }
      return Value::of_double(std::fabs(d(0)));
    case Func::Round:  // Java: floor(x + 0.5), NaN is 0, saturating
      if (e.narrow == Narrow::Int) return Value::of_long(java_d2i(std::floor(static_cast<float>(d(0)) + 0.5f)));
      return Value::of_long(java_d2l(std::floor(d(0) + 0.5)));
    case Func::Floor: return Value::of_double(std::floor(d(0)));
    case Func::Ceil: return Value::of_double(std::ceil(d(0)));
    case Func::Sqrt: return Value::of_double(std::sqrt(d(0)));
    case Func::Pow: return Value::of_double(std::pow(d(0), d(1)));
    case Func::Exp: return Value::of_double(std::exp(d(0)));
    case Func::Log: return Value::of_double(std::log(d(0)));
    case Func::Log10: return Value::of_double(std::log10(d(0)));
    case Func::Signum: {
      double x = d(0);
      return Value::of_double(std::isnan(x) || x == 0 ? x : x > 0 ? 1.0 : -1.0);
    }
    default: break;
  }
  // String methods.
  if (self.type() != Type::String) return {};
  std::string_view s = self.as_string();
  switch (e.func) {
    case Func::Upper: return Value::of_string(ascii_case(s, true));
    case Func::Lower: return Value::of_string(ascii_case(s, false));
    case Func::Length: return Value::of_long(static_cast<int64_t>(utf16(s).size()));
    case Func::Trim: {  // Java's trim: characters up to U+0020 at both ends
      size_t b = 0, end = s.size();
      while (b < end && static_cast<unsigned char>(s[b]) <= 0x20) ++b;
      while (end > b && static_cast<unsigned char>(s[end - 1]) <= 0x20) --end;
      return Value::of_string(s.substr(b, end - b));
    }
    case Func::Substring: {
      std::u16string u = utf16(s);
      int64_t b = args[0].as_long(), end = n > 1 ? args[1].as_long() : static_cast<int64_t>(u.size());
      // Java throws StringIndexOutOfBoundsException (Esper drops the row): null here.
      if (b < 0 || end > static_cast<int64_t>(u.size()) || b > end) return {};
      return Value::of_string(utf8(std::u16string_view(u).substr(static_cast<size_t>(b), static_cast<size_t>(end - b))));
    }
    case Func::StartsWith: return Value::of_bool(s.substr(0, args[0].as_string().size()) == args[0].as_string());
    case Func::EndsWith: {
      std::string_view x = args[0].as_string();
      return Value::of_bool(s.size() >= x.size() && s.substr(s.size() - x.size()) == x);
    }
    case Func::Contains: return Value::of_bool(s.find(args[0].as_string()) != std::string_view::npos);
    case Func::IndexOf: {
      std::u16string u = utf16(s), x = utf16(args[0].as_string());
      size_t at = u.find(x);
      return Value::of_long(at == std::u16string::npos ? -1 : static_cast<int64_t>(at));
    }
    default: return {};
  }
}

Value cast_value(const Expr& e, const Value& v) {
  if (v.is_null()) return {};
  switch (e.type) {
    case Type::String:
      switch (v.type()) {
        case Type::Long: return Value::of_string(std::to_string(v.as_long()));
        case Type::Double:
          return Value::of_string(e.a->narrow == Narrow::Float ? java_float_string(static_cast<float>(v.as_double()))
                                                               : java_double_string(v.as_double()));
        case Type::Bool: return Value::of_string(v.as_bool() ? "true" : "false");
        default: return v;
      }
    case Type::Bool:
      if (v.type() == Type::String) {  // Boolean.parseBoolean
        std::string_view s = v.as_string();
        return Value::of_bool(s.size() == 4 && (s[0] | 32) == 't' && (s[1] | 32) == 'r' && (s[2] | 32) == 'u' && (s[3] | 32) == 'e');
      }
      return v;
    case Type::Long: {
      int64_t x = 0;
      if (v.type() == Type::String) {  // Long.parseLong / Integer.parseInt; Esper throws on bad text: null
        std::string_view s = v.as_string();
        const char* b = s.data() + (s.size() > 1 && s[0] == '+');
        auto [end, ec] = std::from_chars(b, s.data() + s.size(), x);
        if (ec != std::errc() || end != s.data() + s.size()) return {};
        if (e.narrow == Narrow::Int && (x < INT32_MIN || x > INT32_MAX)) return {};
        return Value::of_long(x);
      }
      if (v.type() == Type::Double) return Value::of_long(e.narrow == Narrow::Int ? java_d2i(v.as_double()) : java_d2l(v.as_double()));
      x = v.as_long();
      return Value::of_long(e.narrow == Narrow::Int ? java_l2i(x) : x);
    }
    case Type::Double: {
      double x;
      if (v.type() == Type::String) {  // Double.parseDouble
        std::string s(v.as_string());
        char* end = nullptr;
        x = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') return {};
      } else {
        x = v.as_double();
      }
      return Value::of_double(e.narrow == Narrow::Float ? static_cast<double>(static_cast<float>(x)) : x);
    }
    case Type::Null: return {};
  }
  return {};
}

}  // namespace weir::cep
