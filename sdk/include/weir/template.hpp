// weir's one template language: text with {field} placeholders, used by every
// plugin that builds text from a record (hbase_sink row keys and cells,
// redis_sink commands, kafka_sink keys). The language is documented with
// examples in docs/templates.md; in short:
//
//   template    := ( text | "{{" | "}}" | placeholder )*
//   placeholder := "{" name [ "[" slice "]" ] ( "|" filter )* "}"
//   slice       := [start] ":" [end]          bytes, Python-style; negative counts from the end
//   filter      := word [ "(" arg ( "," arg )* ")" ]     an arg may be 'single quoted'
//
// Names: a record field, a constant given to compile() (e.g. redis_sink's
// ttl_s), or a pseudo-field: _key, _payload, _json (the record as JSON),
// _time (the event time, a timestamp), _partition, _offset. Other names
// starting with '_' are reserved (an error).
//
// Filters: value filters read the typed value and come first (date(FORMAT):
// strftime in UTC; epoch_s / epoch_ms / epoch_us / epoch_ns: the timestamp as
// an integer); text filters then work on the bytes, left to right: reverse,
// upper, lower, substr(start[,len]) (clamped), lpad(width[,char]); and
// default(TEXT): a missing or null value renders TEXT, untouched by the others.
//
// The value-to-text rule (the same in every plugin): a string as it is, int64
// in decimal, a double in its shortest round-trip form (nan, inf, -inf), a
// bool as true/false, a timestamp as integer nanoseconds since the epoch; a
// missing field or a null makes render() fail (the record goes to the error
// port) unless the placeholder has default(TEXT). A slice beyond the value's
// length fails too: a short value is usually a malformed one.
//
// Old spellings (hbase_sink's time(FORMAT), redis_sink's {f:start:len} and
// _time_ns/_ms/_s) still compile for one release; deprecations() lists each
// with its new spelling, which the host reports as a WARN at file:line:col
// for parameters declared with unit "template" (kTemplateUnit).
//
// compile() runs once, at create(); render() appends to the caller's buffer
// and allocates nothing but that buffer's growth (except {_json}).
#pragma once

#include <weir/sdk.hpp>
#include <weir/json.hpp>
#include <weir/suggest.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir {

// weir_param_spec::unit of a parameter whose value (or each list item) is a
// template: the host then reports its deprecated spellings with their position.
inline constexpr const char* kTemplateUnit = "template";

// The value-to-text rule above. False (nothing appended) for a null.
inline bool append_value_text(std::string& out, const weir_value& v) {
  char buf[32];
  switch (v.type) {
    case WEIR_STRING: out.append(v.as.str.data, v.as.str.size); return true;
    case WEIR_INT64:
    case WEIR_TIMESTAMP: out.append(buf, std::to_chars(buf, buf + sizeof buf, v.as.i64).ptr); return true;
    case WEIR_DOUBLE:
      if (std::isnan(v.as.f64)) out += "nan";  // what Redis' ZADD reads back
      else if (std::isinf(v.as.f64)) out += v.as.f64 > 0 ? "inf" : "-inf";
      else out.append(buf, std::to_chars(buf, buf + sizeof buf, v.as.f64).ptr);  // shortest round-trip form
      return true;
    case WEIR_BOOL: out += v.as.b ? "true" : "false"; return true;
    default: return false;
  }
}

// A syntax error of the user's, at a 1-based column of the template text.
class TemplateError : public std::invalid_argument {
 public:
  TemplateError(size_t column, const std::string& what)
      : std::invalid_argument("column " + std::to_string(column) + ": " + what), column_(column), detail_(what) {}
  size_t column() const { return column_; }
  // The message without its column.
  const std::string& detail() const { return detail_; }

 private:
  size_t column_;
  std::string detail_;
};

// An old spelling that still works, and what to write instead.
struct TemplateDeprecation {
  size_t column;  // 1-based, of the placeholder
  std::string old_spelling, new_spelling;
};

// Names replaced by fixed text at compile time (name, value).
using TemplateConstants = std::vector<std::pair<std::string, std::string>>;

class Template {
 public:
  Template() = default;

  // Throws TemplateError.
  static Template compile(std::string_view text, const TemplateConstants& constants = {}) {
    Template t;
    t.text_ = std::string(text);
    size_t i = 0;
    while (i < text.size()) {
      char c = text[i];
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {  // {{ and }}
        t.literal(std::string_view(&text[i], 1));
        i += 2;
      } else if (c == '}') {
        throw TemplateError(i + 1, "unmatched '}' (write '}}' for a literal brace)");
      } else if (c == '{') {
        size_t close = placeholder_end(text, i);
        t.parse_placeholder(text.substr(i, close + 1 - i), i, constants);
        i = close + 1;
      } else {
        size_t next = text.find_first_of("{}", i);
        if (next == std::string_view::npos) next = text.size();
        t.literal(text.substr(i, next - i));
        i = next;
      }
    }
    return t;
  }

  // The index of the '}' closing the placeholder that opens at text[open];
  // TemplateError if it is never closed. (redis_sink splits commands with it.)
  static size_t placeholder_end(std::string_view text, size_t open) {
    bool quoted = false;
    for (size_t k = open + 1; k < text.size(); ++k) {
      if (text[k] == '\'') quoted = !quoted;
      else if (!quoted && text[k] == '}') return k;
      else if (!quoted && text[k] == '{')
        throw TemplateError(k + 1, "'{' inside a placeholder (quote it in an argument: default('{'))");
    }
    throw TemplateError(open + 1, "'{' is never closed (write '{{' for a literal brace)");
  }

  // Appends the rendering to out. On failure out is as it was, error says why.
  bool render(Record r, std::string& out, std::string& error) const {
    const size_t start = out.size();
    for (const Segment& s : segments_) {
      if (s.source == Source::Literal) {
        out += s.text;
        continue;
      }
      if (!render_placeholder(r, s, out, error)) {
        out.resize(start);
        return false;
      }
    }
    return true;
  }

  const std::string& text() const { return text_; }
  // The record fields it reads, in order of first use (pseudo-fields and constants excluded).
  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    for (const Segment& s : segments_)
      if (s.source == Source::Field && std::find(out.begin(), out.end(), s.text) == out.end()) out.push_back(s.text);
    return out;
  }
  // True when it renders the same text for every record (no field, no pseudo-field).
  bool constant() const {
    return std::all_of(segments_.begin(), segments_.end(), [](const Segment& s) { return s.source == Source::Literal; });
  }
  // What a constant() template renders.
  std::string constant_text() const {
    std::string out;
    for (const Segment& s : segments_) out += s.text;
    return out;
  }
  const std::vector<TemplateDeprecation>& deprecations() const { return deprecations_; }

 private:
  enum class Source : uint8_t { Literal, Constant, Field, Key, Payload, Json, Time, Partition, Offset };
  struct Filter {
    enum Kind : uint8_t { Date, EpochS, EpochMs, EpochUs, EpochNs, Reverse, Upper, Lower, Substr, Lpad } kind;
    int64_t a = 0, b = -1;  // substr start/len, lpad width
    char pad = '0';
    std::string format;     // date
    bool value_filter() const { return kind <= EpochNs; }
  };
  struct Slice {
    bool has_from = false, has_to = false;
    int64_t from = 0, to = 0;
  };
  struct Segment {
    Source source = Source::Literal;
    std::string text;      // literal text, field name, or constant value
    std::string spelled;   // the placeholder as written, for messages
    std::optional<Slice> slice;
    std::vector<Filter> filters;
    std::optional<std::string> fallback;  // default(TEXT)
  };

  void literal(std::string_view s) {
    if (segments_.empty() || segments_.back().source != Source::Literal) segments_.emplace_back();
    segments_.back().text += s;
  }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  }
  // An integer of at most 9 digits (offsets and widths: no overflow in sums).
  static bool to_int(std::string_view s, int64_t& v) {
    s = trim(s);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size() && v > -1'000'000'000 && v < 1'000'000'000;
  }
  // Splits on SEP outside 'quotes' and parentheses; each part with its offset.
  static std::vector<std::pair<std::string_view, size_t>> split(std::string_view s, char sep) {
    std::vector<std::pair<std::string_view, size_t>> parts;
    bool quoted = false;
    int depth = 0;
    size_t from = 0;
    for (size_t k = 0; k <= s.size(); ++k) {
      if (k < s.size() && s[k] == '\'') quoted = !quoted;
      if (quoted) continue;
      if (k < s.size() && s[k] == '(') ++depth;
      if (k < s.size() && s[k] == ')') --depth;
      if (k == s.size() || (s[k] == sep && depth == 0)) {
        parts.emplace_back(s.substr(from, k - from), from);
        from = k + 1;
      }
    }
    return parts;
  }
  static std::string unquote(std::string_view arg) {
    arg = trim(arg);
    if (arg.size() >= 2 && arg.front() == '\'' && arg.back() == '\'') arg = arg.substr(1, arg.size() - 2);
    return std::string(arg);
  }

  struct Pseudo {
    const char* name;
    Source source;
  };
  static constexpr Pseudo kPseudo[] = {{"_key", Source::Key},   {"_payload", Source::Payload},
                                       {"_json", Source::Json}, {"_time", Source::Time},
                                       {"_partition", Source::Partition}, {"_offset", Source::Offset}};

  // PH is "{...}" as written, at column AT (0-based) of the template.
  void parse_placeholder(std::string_view ph, size_t at, const TemplateConstants& constants) {
    Segment s;
    s.spelled = std::string(ph);
    std::string_view body = ph.substr(1, ph.size() - 2);
    auto parts = split(body, '|');
    std::string_view head = trim(parts[0].first);
    auto fail = [&](size_t offset, const std::string& what) { throw TemplateError(at + 1 + offset + 1, what); };
    bool deprecated = false;  // an old spelling: new_spelling is what to write instead
    std::string new_spelling;

    // name[slice], or the old name:start[:len]
    std::string_view name = head, slice_text;
    if (size_t open = head.find('['); open != std::string_view::npos) {
      if (head.back() != ']') fail(parts[0].second, "slice in '" + s.spelled + "' must end with ']'");
      name = trim(head.substr(0, open));
      slice_text = head.substr(open);
      std::string_view inner = head.substr(open + 1, head.size() - open - 2);
      size_t colon = inner.find(':');
      if (colon == std::string_view::npos) fail(parts[0].second, "slice '[" + std::string(inner) + "]' needs a ':' ([start:end])");
      Slice sl;
      std::string_view a = trim(inner.substr(0, colon)), b = trim(inner.substr(colon + 1));
      if ((sl.has_from = !a.empty()) && !to_int(a, sl.from)) fail(parts[0].second, "slice start '" + std::string(a) + "' is not an integer (at most 9 digits)");
      if ((sl.has_to = !b.empty()) && !to_int(b, sl.to)) fail(parts[0].second, "slice end '" + std::string(b) + "' is not an integer (at most 9 digits)");
      s.slice = sl;
    } else if (size_t colon = head.find(':'); colon != std::string_view::npos) {  // redis_sink's old substring
      name = head.substr(0, colon);
      std::string_view rest = head.substr(colon + 1);
      size_t colon2 = rest.find(':');
      int64_t from = 0, len = -1;
      if (!to_int(rest.substr(0, colon2), from) || from < 0 ||
          (colon2 != std::string_view::npos && (!to_int(rest.substr(colon2 + 1), len) || len <= 0)))
        fail(parts[0].second, "'" + s.spelled + "': expected {name[start:end]}");
      s.slice = Slice{true, len >= 0, from, from + len};
      deprecated = true;
      new_spelling = "[" + std::to_string(from) + ":" + (len >= 0 ? std::to_string(from + len) : "") + "]";
    }
    if (name.empty()) fail(0, "empty name in '" + s.spelled + "'");
    if (name.find_first_of(" \t\"'()[]:") != std::string_view::npos) fail(0, "'" + std::string(name) + "' is not a name");
    if (!deprecated) new_spelling = std::string(slice_text);

    if (auto c = std::find_if(constants.begin(), constants.end(), [&](const auto& kv) { return kv.first == name; });
        c != constants.end()) {
      s.source = Source::Constant;
      s.text = c->second;
    } else if (name.front() == '_') {
      if (name == "_time_ns" || name == "_time_ms" || name == "_time_s") {  // redis_sink's old event times
        deprecated = true;
        if (name != "_time_ns") {
          s.filters.push_back(make_filter(name == "_time_ms" ? "epoch_ms" : "epoch_s", {}, 0, fail));
          new_spelling += name == "_time_ms" ? "|epoch_ms" : "|epoch_s";
        }
        name = "_time";
      }
      auto p = std::find_if(std::begin(kPseudo), std::end(kPseudo), [&](const Pseudo& x) { return name == x.name; });
      if (p == std::end(kPseudo)) {
        std::vector<std::string> known;
        for (const Pseudo& x : kPseudo) known.emplace_back(x.name);
        std::string hint = did_you_mean(name, known);
        fail(0, "unknown name '" + std::string(name) + "'" +
                    (hint.empty() ? " (names starting with '_' are reserved: _key, _payload, _json, _time, _partition, _offset)" : hint));
      }
      s.source = p->source;
    } else {
      s.source = Source::Field;
      s.text = std::string(name);
    }
    new_spelling.insert(0, name);

    for (size_t k = 1; k < parts.size(); ++k) {
      auto [spec_raw, offset] = parts[k];
      std::string_view spec = trim(spec_raw);
      std::string fname(spec);
      std::vector<std::string> args;
      if (size_t open = spec.find('('); open != std::string_view::npos) {
        if (spec.back() != ')') fail(offset, "filter '" + std::string(spec) + "' must end with ')'");
        fname = std::string(trim(spec.substr(0, open)));
        for (auto [arg, _] : split(spec.substr(open + 1, spec.size() - open - 2), ',')) args.push_back(unquote(arg));
      }
      if (fname == "time") {  // hbase_sink's old name of date
        deprecated = true;
        fname = "date";
        new_spelling += "|date" + std::string(spec.substr(spec.find('(') == std::string_view::npos ? spec.size() : spec.find('(')));
      } else {
        new_spelling += "|" + std::string(spec);
      }
      if (fname == "default") {
        if (args.size() != 1) fail(offset, "default takes 1 argument (the text for a missing or null value)");
        if (s.fallback) fail(offset, "default is given twice");
        s.fallback = args[0];
        continue;
      }
      Filter f = make_filter(fname, args, offset, fail);
      if (f.value_filter()) {
        if (s.source == Source::Constant || s.source == Source::Json)
          fail(offset, fname + " reads a timestamp; '" + std::string(name) + "' is text");
        if (!s.filters.empty())
          fail(offset, fname + " reads the value, so it is the first filter (and only one of date, epoch_*)");
      }
      s.filters.push_back(std::move(f));
    }
    if (deprecated) deprecations_.push_back({at + 1, s.spelled, "{" + new_spelling + "}"});
    if (s.source == Source::Constant) {  // folded now: its errors are the user's, at load time
      std::string value, error;
      if (!render_placeholder(Record(nullptr), s, value, error)) throw TemplateError(at + 1, error);
      literal(value);
      return;
    }
    segments_.push_back(std::move(s));
  }

  template <class Fail>
  static Filter make_filter(const std::string& name, const std::vector<std::string>& args, size_t offset, Fail& fail) {
    Filter f{};
    auto arity = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi)
        fail(offset, "filter '" + name + "' takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " or " + std::to_string(hi)) +
                         " argument(s), not " + std::to_string(args.size()));
    };
    auto integer = [&](const std::string& a, const char* what) {
      int64_t v = 0;
      if (!to_int(a, v)) fail(offset, std::string(what) + " must be an integer, not '" + a + "'");
      return v;
    };
    static const std::pair<const char*, Filter::Kind> plain[] = {
        {"epoch_s", Filter::EpochS}, {"epoch_ms", Filter::EpochMs}, {"epoch_us", Filter::EpochUs},
        {"epoch_ns", Filter::EpochNs}, {"reverse", Filter::Reverse}, {"upper", Filter::Upper}, {"lower", Filter::Lower}};
    for (auto [n, kind] : plain)
      if (name == n) {
        arity(0, 0);
        f.kind = kind;
        return f;
      }
    if (name == "date") {
      arity(1, 1);
      f.kind = Filter::Date;
      f.format = args[0];
      if (f.format.empty()) fail(offset, "date() needs a strftime format, e.g. date(%Y%m%d%H%M%S)");
    } else if (name == "substr") {
      arity(1, 2);
      f.kind = Filter::Substr;
      f.a = integer(args[0], "substr start");
      if (args.size() == 2 && (f.b = integer(args[1], "substr length")) < 0) fail(offset, "substr length must be >= 0");
    } else if (name == "lpad") {
      arity(1, 2);
      f.kind = Filter::Lpad;
      f.a = integer(args[0], "lpad width");
      if (f.a < 0 || f.a > 4096) fail(offset, "lpad width must be 0..4096");
      if (args.size() == 2) {
        if (args[1].size() != 1) fail(offset, "lpad's pad must be one character");
        f.pad = args[1][0];
      }
    } else {
      std::string hint = did_you_mean(name, {"date", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns", "reverse", "upper",
                                              "lower", "substr", "lpad", "default"});
      fail(offset, "unknown filter '" + name + "'" +
                       (hint.empty() ? " (known: date, epoch_s, epoch_ms, epoch_us, epoch_ns, reverse, upper, lower, "
                                       "substr, lpad, default)"
                                     : hint));
    }
    return f;
  }

  static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

  bool render_placeholder(Record r, const Segment& s, std::string& out, std::string& error) const {
    const size_t from = out.size();
    weir_value v = null_value();
    bool present = true;
    switch (s.source) {
      case Source::Literal: break;
      case Source::Constant: out += s.text; break;
      case Source::Field:
        if (const weir_value* f = r.field(s.text)) v = *f;
        else present = false;
        break;
      case Source::Key:
        present = !r.key().empty();
        v = string_value(r.raw()->key);
        break;
      case Source::Payload:
        present = !r.payload().empty();
        v = string_value(r.raw()->payload);
        break;
      case Source::Json: out += to_json(r); break;
      case Source::Time:
        present = r.event_time_ns() != 0;
        v = timestamp_value(r.event_time_ns());
        break;
      case Source::Partition: v = int_value(r.position().partition); break;
      case Source::Offset: v = int_value(r.position().offset); break;
    }
    const bool has_text = s.source == Source::Constant || s.source == Source::Json;  // no weir_value
    if (!has_text && (!present || v.type == WEIR_NULL)) {
      if (s.fallback) {
        out += *s.fallback;
        return true;
      }
      error = describe(s) + " is " + (present ? "null" : "missing") + " (" + s.spelled + ")";
      return false;
    }
    size_t k = 0;
    if (!has_text && !s.filters.empty() && s.filters[0].value_filter()) {
      const Filter& f = s.filters[k++];
      if (v.type != WEIR_TIMESTAMP) {
        error = describe(s) + " is " + (v.type == WEIR_INT64 ? "an " : "a ") + type_name(v.type) + ", " +
                (f.kind == Filter::Date ? "date()" : "epoch_*") + " needs a timestamp (" + s.spelled + ")";
        return false;
      }
      int64_t ns = v.as.i64;
      if (f.kind == Filter::Date) {
        time_t secs = static_cast<time_t>(floor_div(ns, 1'000'000'000));
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char buf[256];
        out.append(buf, std::strftime(buf, sizeof buf, f.format.c_str(), &tm));
      } else {
        const int64_t per[] = {1'000'000'000, 1'000'000, 1'000, 1};
        append_value_text(out, int_value(floor_div(ns, per[f.kind - Filter::EpochS])));
      }
    } else if (!has_text) {
      append_value_text(out, v);
    }
    if (s.slice && !cut(out, from, *s.slice, s, error)) return false;
    for (; k < s.filters.size(); ++k) {
      const Filter& f = s.filters[k];
      auto begin = out.begin() + static_cast<std::ptrdiff_t>(from);
      switch (f.kind) {
        case Filter::Reverse: std::reverse(begin, out.end()); break;
        case Filter::Upper:
          std::transform(begin, out.end(), begin, [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
          break;
        case Filter::Lower:
          std::transform(begin, out.end(), begin, [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          break;
        case Filter::Substr: {
          int64_t size = static_cast<int64_t>(out.size() - from);
          int64_t start = f.a < 0 ? std::max<int64_t>(0, size + f.a) : std::min(f.a, size);
          int64_t len = f.b < 0 ? size - start : std::min(f.b, size - start);
          out.erase(from, static_cast<size_t>(start));
          out.resize(from + static_cast<size_t>(len));
          break;
        }
        case Filter::Lpad:
          if (static_cast<int64_t>(out.size() - from) < f.a) out.insert(from, static_cast<size_t>(f.a) - (out.size() - from), f.pad);
          break;
        default: break;  // value filters: only first, above
      }
    }
    return true;
  }

  static std::string describe(const Segment& s) {
    return s.source == Source::Field ? "field '" + s.text + "'" : s.spelled.substr(1, s.spelled.find_first_of("[|:}") - 1);
  }

  // The strict slice of out[from..]: false (out cut back to from) when the value is too short.
  static bool cut(std::string& out, size_t from, const Slice& sl, const Segment& s, std::string& error) {
    int64_t size = static_cast<int64_t>(out.size() - from);
    int64_t a = sl.has_from ? (sl.from < 0 ? size + sl.from : sl.from) : 0;
    int64_t b = sl.has_to ? (sl.to < 0 ? size + sl.to : sl.to) : size;
    if (a < 0 || b > size || a > size || b < 0) {
      int64_t need = std::max({sl.has_from ? std::abs(sl.from) : 0, sl.has_to ? std::abs(sl.to) : 0});
      error = describe(s) + " is \"" + out.substr(from) + "\" (" + std::to_string(size) + " bytes); " + s.spelled +
              " needs " + std::to_string(need);
      out.resize(from);
      return false;
    }
    if (b < a) b = a;
    out.erase(from, static_cast<size_t>(a));
    out.resize(from + static_cast<size_t>(b - a));
    return true;
  }

  std::string text_;
  std::vector<Segment> segments_;
  std::vector<TemplateDeprecation> deprecations_;
};

}  // namespace weir
