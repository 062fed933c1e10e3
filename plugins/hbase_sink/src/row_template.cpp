#include "row_template.hpp"

#include <weir/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <stdexcept>

namespace weir::hbase {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

[[noreturn]] void bad(std::string_view text, size_t pos, const std::string& what) {
  throw std::invalid_argument("template \"" + std::string(text) + "\", column " + std::to_string(pos + 1) + ": " + what);
}

long long to_int(std::string_view text, std::string_view arg, size_t pos, const char* what) {
  long long v = 0;
  arg = trim(arg);
  auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), v);
  if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size())
    bad(text, pos, std::string(what) + " must be an integer, not \"" + std::string(arg) + "\"");
  return v;
}

}  // namespace

const weir_value* lookup_field(Record r, std::string_view name, weir_value& scratch) {
  if (!name.empty() && name.front() == '_') {
    if (name == "_key") {
      if (r.key().empty()) return nullptr;
      scratch = string_value(r.raw()->key);
      return &scratch;
    }
    if (name == "_time") {
      if (r.event_time_ns() == 0) return nullptr;
      scratch = timestamp_value(r.event_time_ns());
      return &scratch;
    }
    if (name == "_partition") return &(scratch = int_value(r.position().partition));
    if (name == "_offset") return &(scratch = int_value(r.position().offset));
  }
  return r.field(name);
}

void append_value_text(std::string& out, const weir_value& v) {
  switch (v.type) {
    case WEIR_STRING: out.append(v.as.str.data, v.as.str.size); break;
    case WEIR_INT64:
    case WEIR_TIMESTAMP: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, v.as.i64);
      out.append(buf, res.ptr);
      break;
    }
    case WEIR_BOOL: out += v.as.b ? "true" : "false"; break;
    case WEIR_DOUBLE: append_json_value(out, v); break;  // shortest text that reads back the same
    default: break;
  }
}

Template Template::parse(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    t.segments_.push_back({false, std::move(literal), {}});
    literal.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        i += 2;
        continue;
      }
      bad(text, i, "unmatched '}' (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      i += 2;
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) bad(text, i, "'{' is never closed");
    flush_literal();
    Segment seg;
    seg.is_field = true;
    std::string_view body = text.substr(i + 1, close - i - 1);
    size_t body_pos = i + 1;
    // Split on '|' outside parentheses.
    std::vector<std::pair<std::string_view, size_t>> parts;
    size_t start = 0;
    int depth = 0;
    for (size_t k = 0; k <= body.size(); ++k) {
      if (k < body.size() && body[k] == '(') ++depth;
      if (k < body.size() && body[k] == ')') --depth;
      if (k == body.size() || (body[k] == '|' && depth == 0)) {
        parts.emplace_back(body.substr(start, k - start), body_pos + start);
        start = k + 1;
      }
    }
    seg.text = std::string(trim(parts[0].first));
    if (seg.text.empty()) bad(text, i, "empty field name in {}");
    for (size_t p = 1; p < parts.size(); ++p) {
      auto [spec, pos] = parts[p];
      spec = trim(spec);
      std::string_view name = spec;
      std::vector<std::string_view> args;
      size_t open = spec.find('(');
      if (open != std::string_view::npos) {
        if (spec.back() != ')') bad(text, pos, "filter '" + std::string(spec) + "' must end with ')'");
        name = trim(spec.substr(0, open));
        std::string_view inner = spec.substr(open + 1, spec.size() - open - 2);
        size_t s = 0;
        for (size_t k = 0; k <= inner.size(); ++k)
          if (k == inner.size() || inner[k] == ',') {
            args.push_back(inner.substr(s, k - s));
            s = k + 1;
          }
      }
      Filter f{};
      auto arity = [&](size_t lo, size_t hi) {
        if (args.size() < lo || args.size() > hi)
          bad(text, pos, "filter '" + std::string(name) + "' takes " +
                             (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                             " argument(s), not " + std::to_string(args.size()));
      };
      if (name == "reverse") {
        arity(0, 0);
        f.kind = Filter::Reverse;
      } else if (name == "upper" || name == "lower") {
        arity(0, 0);
        f.kind = name == "upper" ? Filter::Upper : Filter::Lower;
      } else if (name == "substr") {
        arity(1, 2);
        f.kind = Filter::Substr;
        f.a = to_int(text, args[0], pos, "substr start");
        if (args.size() == 2) {
          f.b = to_int(text, args[1], pos, "substr length");
          if (f.b < 0) bad(text, pos, "substr length must be >= 0");
        }
      } else if (name == "lpad") {
        arity(1, 2);
        f.kind = Filter::Lpad;
        f.a = to_int(text, args[0], pos, "lpad width");
        if (f.a < 0 || f.a > 4096) bad(text, pos, "lpad width must be 0..4096");
        if (args.size() == 2) {
          std::string_view ch = trim(args[1]);
          if (ch.size() != 1) bad(text, pos, "lpad's pad must be one character");
          f.pad = ch[0];
        }
      } else if (name == "time") {
        arity(1, 1);
        if (p != 1) bad(text, pos, "time(...) must be the first filter (it reads the timestamp value)");
        f.kind = Filter::Time;
        f.format = std::string(args[0]);
        if (f.format.empty()) bad(text, pos, "time() needs a strftime format, e.g. time(%Y%m%d%H%M%S)");
      } else {
        bad(text, pos, "unknown filter '" + std::string(name) + "' (known: reverse, substr, upper, lower, lpad, time)");
      }
      seg.filters.push_back(std::move(f));
    }
    t.segments_.push_back(std::move(seg));
    i = close + 1;
  }
  flush_literal();
  return t;
}

bool Template::render(Record r, std::string& out, std::string& error) const {
  std::string value;
  for (const Segment& seg : segments_) {
    if (!seg.is_field) {
      out += seg.text;
      continue;
    }
    weir_value scratch;
    const weir_value* v = lookup_field(r, seg.text, scratch);
    if (!v || v->type == WEIR_NULL) {
      error = "field '" + seg.text + "' is " + (v ? "null" : "missing");
      return false;
    }
    if (seg.filters.empty()) {
      append_value_text(out, *v);
      continue;
    }
    value.clear();
    size_t first = 0;
    if (seg.filters[0].kind == Filter::Time) {
      if (v->type != WEIR_TIMESTAMP) {
        error = "field '" + seg.text + "' is a " + type_name(v->type) + ", time() needs a timestamp";
        return false;
      }
      int64_t ns = v->as.i64;
      time_t secs = static_cast<time_t>(ns >= 0 ? ns / 1'000'000'000 : -((-ns + 999'999'999) / 1'000'000'000));
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[256];
      size_t n = std::strftime(buf, sizeof buf, seg.filters[0].format.c_str(), &tm);
      value.assign(buf, n);
      first = 1;
    } else {
      append_value_text(value, *v);
    }
    for (size_t k = first; k < seg.filters.size(); ++k) {
      const Filter& f = seg.filters[k];
      switch (f.kind) {
        case Filter::Reverse: std::reverse(value.begin(), value.end()); break;
        case Filter::Upper:
          for (char& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          break;
        case Filter::Lower:
          for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          break;
        case Filter::Substr: {
          long long size = static_cast<long long>(value.size());
          long long start = f.a < 0 ? std::max(0LL, size + f.a) : std::min(f.a, size);
          long long len = f.b < 0 ? size - start : std::min(f.b, size - start);
          value = value.substr(static_cast<size_t>(start), static_cast<size_t>(len));
          break;
        }
        case Filter::Lpad:
          if (static_cast<long long>(value.size()) < f.a) value.insert(0, static_cast<size_t>(f.a) - value.size(), f.pad);
          break;
        case Filter::Time: break;  // only first, handled above
      }
    }
    out += value;
  }
  return true;
}

std::vector<std::string> Template::fields() const {
  std::vector<std::string> out;
  for (const Segment& s : segments_)
    if (s.is_field) out.push_back(s.text);
  return out;
}

}  // namespace weir::hbase
