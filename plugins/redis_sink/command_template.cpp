#include "command_template.hpp"

#include <weir/suggest.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <weir/json.hpp>

namespace weir::redis {

namespace {

struct Builtin {
  const char* name;
  Source source;
};
const Builtin kBuiltins[] = {
    {"_key", Source::Key},
    {"_payload", Source::Payload},
    {"_json", Source::Json},
    {"_time_ns", Source::TimeNs},
    {"_time_ms", Source::TimeMs},
    {"_time_s", Source::TimeS},
    {"_partition", Source::Partition},
    {"_offset", Source::Offset},
};

bool parse_number(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string col(size_t i) { return "column " + std::to_string(i + 1); }

// Cuts out[from..] down to its substring; false (out untouched beyond from) if too short.
bool cut(std::string& out, size_t from, const Piece& p, std::string& reason, std::string_view what) {
  size_t have = out.size() - from;
  size_t need = p.start + (p.length < 0 ? 0 : static_cast<size_t>(p.length));
  if (have < need || have < p.start) {
    reason = std::string(what) + " is \"" + out.substr(from) + "\" (" + std::to_string(have) + " bytes); " + p.spelled +
             " needs " + std::to_string(need);
    out.resize(from);
    return false;
  }
  out.erase(from, p.start);
  if (p.length >= 0) out.resize(from + static_cast<size_t>(p.length));
  return true;
}

}  // namespace

const std::vector<std::string>& builtin_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Builtin& b : kBuiltins) v.emplace_back(b.name);
    return v;
  }();
  return names;
}

bool format_value(const weir_value& v, std::string& out) {
  char buf[32];
  switch (v.type) {
    case WEIR_STRING:
      out.append(v.as.str.data, v.as.str.size);
      return true;
    case WEIR_INT64:
    case WEIR_TIMESTAMP: {
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v.as.i64);
      out.append(buf, p);
      return true;
    }
    case WEIR_DOUBLE: {
      if (std::isnan(v.as.f64)) {
        out += "nan";
        return true;
      }
      if (std::isinf(v.as.f64)) {
        out += v.as.f64 > 0 ? "inf" : "-inf";
        return true;
      }                                                               // what ZADD accepts
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v.as.f64);  // shortest round-trip form
      out.append(buf, p);
      return true;
    }
    case WEIR_BOOL:
      out += v.as.b ? '1' : '0';
      return true;
    default:
      return false;
  }
}

CommandTemplate CommandTemplate::parse(std::string_view text, const std::map<std::string, std::string>& vars) {
  CommandTemplate t;
  t.text_ = std::string(text);
  std::vector<Piece> arg;
  bool in_arg = false, quoted = false;
  size_t quote_at = 0;
  auto literal = [&](std::string_view s) {
    in_arg = true;
    if (arg.empty() || arg.back().source != Source::Literal) arg.emplace_back();
    arg.back().text += s;
  };
  auto end_arg = [&] {
    if (!in_arg) return;
    if (arg.empty()) arg.emplace_back();  // "" is an empty argument
    t.args_.push_back(std::move(arg));
    arg.clear();
    in_arg = false;
  };

  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted && c == '\\') {
      if (i + 1 == text.size()) throw std::invalid_argument("'\\' at the end of the template");
      char e = text[++i];
      switch (e) {
        case '"':
          literal("\"");
          break;
        case '\\':
          literal("\\");
          break;
        case 'n':
          literal("\n");
          break;
        case 'r':
          literal("\r");
          break;
        case 't':
          literal("\t");
          break;
        default:
          throw std::invalid_argument(std::string("unknown escape '\\") + e + "' at " + col(i - 1) +
                                      " (inside quotes: \\\", \\\\, \\n, \\r, \\t)");
      }
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
      quote_at = i;
      in_arg = true;
      continue;
    }
    if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      end_arg();
      continue;
    }
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal("}");
        ++i;
        continue;
      }
      throw std::invalid_argument("unmatched '}' at " + col(i) + " (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal(std::string_view(&text[i], 1));
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal("{");
      ++i;
      continue;
    }
    // A placeholder.
    size_t close = text.find_first_of("{}", i + 1);
    if (close == std::string_view::npos || text[close] == '{')
      throw std::invalid_argument("unclosed '{' at " + col(i) + " (write '{{' for a literal brace)");
    std::string_view inner = text.substr(i + 1, close - i - 1);
    Piece p;
    p.spelled = "{" + std::string(inner) + "}";
    if (inner.empty()) throw std::invalid_argument("empty placeholder '{}' at " + col(i));
    if (inner.find_first_of(" \t\"") != std::string_view::npos)
      throw std::invalid_argument("placeholder '" + p.spelled + "' at " + col(i) + " contains a space or a quote");
    std::vector<std::string_view> parts;
    for (size_t from = 0;;) {
      size_t colon = inner.find(':', from);
      parts.push_back(inner.substr(from, colon == std::string_view::npos ? std::string_view::npos : colon - from));
      if (colon == std::string_view::npos) break;
      from = colon + 1;
    }
    if (parts[0].empty()) throw std::invalid_argument("placeholder '" + p.spelled + "' at " + col(i) + " has no name");
    if (parts.size() > 3)
      throw std::invalid_argument("placeholder '" + p.spelled + "' at " + col(i) +
                                  ": expected {name}, {name:start} or {name:start:length}");
    if (parts.size() >= 2) {
      int64_t start = 0, length = -1;
      if (!parse_number(parts[1], start) || start < 0 || start > UINT32_MAX)
        throw std::invalid_argument("placeholder '" + p.spelled + "' at " + col(i) + ": start '" +
                                    std::string(parts[1]) + "' is not a number >= 0");
      if (parts.size() == 3 && (!parse_number(parts[2], length) || length <= 0))
        throw std::invalid_argument("placeholder '" + p.spelled + "' at " + col(i) + ": length '" +
                                    std::string(parts[2]) + "' is not a number > 0");
      p.substring = true;
      p.start = static_cast<uint32_t>(start);
      p.length = length;
    }
    std::string name(parts[0]);
    if (auto var = vars.find(name); var != vars.end()) {
      std::string value = var->second, reason;
      if (p.substring && !cut(value, 0, p, reason, "'" + name + "'")) throw std::invalid_argument(reason);
      literal(value);
    } else if (name[0] == '_') {
      const Builtin* b = nullptr;
      for (const Builtin& x : kBuiltins)
        if (name == x.name) b = &x;
      if (!b) {
        std::string best;
        size_t best_d = 3;
        for (const Builtin& x : kBuiltins)
          if (size_t d = edit_distance(name, x.name); d < best_d) best_d = d, best = x.name;
        std::string msg = "unknown placeholder '" + p.spelled + "' at " + col(i);
        if (!best.empty())
          msg += "; did you mean '{" + best + "}'?";
        else {
          msg += " (names starting with '_' are reserved:";
          for (const Builtin& x : kBuiltins) msg += std::string(" {") + x.name + "}";
          msg += ")";
        }
        throw std::invalid_argument(msg);
      }
      p.source = b->source;
      in_arg = true;
      arg.push_back(std::move(p));
    } else {
      p.source = Source::Field;
      p.text = name;
      in_arg = true;
      arg.push_back(std::move(p));
    }
    i = close;
  }
  if (quoted) throw std::invalid_argument("unclosed '\"' at " + col(quote_at));
  end_arg();
  if (t.args_.empty()) throw std::invalid_argument("empty command");
  // The name for messages: the literal first argument, else as written.
  const auto& first = t.args_[0];
  t.literal_name_ = first.size() == 1 && first[0].source == Source::Literal;
  if (t.literal_name_)
    t.name_ = first[0].text;
  else
    t.name_ = std::string(text.substr(0, text.find_first_of(" \t")));
  return t;
}

std::vector<std::string> CommandTemplate::fields() const {
  std::vector<std::string> out;
  for (const auto& arg : args_)
    for (const Piece& p : arg)
      if (p.source == Source::Field && std::find(out.begin(), out.end(), p.text) == out.end()) out.push_back(p.text);
  return out;
}

bool CommandTemplate::render(Record r, Argv& out, std::string& reason) const {
  const size_t bytes0 = out.bytes.size(), args0 = out.ends.size();
  auto fail = [&](std::string why) {
    reason = std::move(why);
    out.bytes.resize(bytes0);
    out.ends.resize(args0);
    return false;
  };
  std::string& b = out.bytes;
  for (const auto& arg : args_) {
    for (const Piece& p : arg) {
      size_t from = b.size();
      switch (p.source) {
        case Source::Literal:
          b += p.text;
          continue;
        case Source::Field: {
          const weir_value* v = r.field(p.text);
          if (!v) return fail("record has no field '" + p.text + "' (" + p.spelled + ")");
          if (!format_value(*v, b)) return fail("field '" + p.text + "' is null (" + p.spelled + ")");
          break;
        }
        case Source::Key:
          if (r.key().empty()) return fail("record has no key ({_key})");
          b += r.key();
          break;
        case Source::Payload:
          if (r.payload().empty()) return fail("record has no payload ({_payload})");
          b += r.payload();
          break;
        case Source::Json:
          b += to_json(r);
          break;
        case Source::TimeNs:
        case Source::TimeMs:
        case Source::TimeS: {
          if (r.event_time_ns() == 0) return fail("record has no event time (" + p.spelled + ")");
          int64_t t = r.event_time_ns();
          if (p.source == Source::TimeMs) t /= 1'000'000;
          if (p.source == Source::TimeS) t /= 1'000'000'000;
          format_value(int_value(t), b);
          break;
        }
        case Source::Partition:
          format_value(int_value(r.position().partition), b);
          break;
        case Source::Offset:
          format_value(int_value(r.position().offset), b);
          break;
      }
      if (p.substring) {
        std::string what =
            p.source == Source::Field ? "field '" + p.text + "'" : p.spelled.substr(1, p.spelled.find(':') - 1);
        if (!cut(b, from, p, reason, what)) return fail(reason);
      }
    }
    out.ends.push_back(b.size());
  }
  return true;
}

}  // namespace weir::redis
