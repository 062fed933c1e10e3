#include "command_template.hpp"

#include <algorithm>
#include <stdexcept>

namespace weir::redis {

namespace {

std::string col(size_t i) { return "column " + std::to_string(i + 1); }

// One argument as the template text it holds, with the command's column of each byte.
struct ArgText {
  std::string text;
  std::vector<size_t> cols;
  void add(std::string_view s, size_t at) {
    text += s;
    for (size_t k = 0; k < s.size(); ++k) cols.push_back(at + k);
  }
};

}  // namespace

CommandTemplate CommandTemplate::parse(std::string_view text, const std::map<std::string, std::string>& vars) {
  CommandTemplate t;
  t.text_ = std::string(text);
  const TemplateConstants constants(vars.begin(), vars.end());
  std::vector<ArgText> args;
  bool in_arg = false, quoted = false;
  size_t quote_at = 0;
  auto arg = [&]() -> ArgText& {
    if (!in_arg) args.emplace_back();
    in_arg = true;
    return args.back();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted && c == '\\') {
      if (i + 1 == text.size()) throw std::invalid_argument("'\\' at the end of the template");
      char e = text[++i];
      const char* unescaped = e == '"' ? "\"" : e == '\\' ? "\\" : e == 'n' ? "\n" : e == 'r' ? "\r" : e == 't' ? "\t" : nullptr;
      if (!unescaped)
        throw std::invalid_argument(std::string("unknown escape '\\") + e + "' at " + col(i - 1) +
                                    " (inside quotes: \\\", \\\\, \\n, \\r, \\t)");
      arg().add(unescaped, i - 1);
    } else if (c == '"') {
      quoted = !quoted;
      quote_at = i;
      arg();
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      in_arg = false;
    } else if (c == '{' && !(i + 1 < text.size() && text[i + 1] == '{')) {
      size_t close = 0;
      try {
        close = Template::placeholder_end(text, i);  // a placeholder is one piece, spaces and all
      } catch (const TemplateError& e) {
        throw std::invalid_argument(e.detail() + " at " + col(e.column() - 1));
      }
      arg().add(text.substr(i, close + 1 - i), i);
      i = close;
    } else {
      size_t n = (c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c ? 2 : 1;  // {{ and }} stay whole
      arg().add(text.substr(i, n), i);
      i += n - 1;
    }
  }
  if (quoted) throw std::invalid_argument("unclosed '\"' at " + col(quote_at));
  if (args.empty()) throw std::invalid_argument("empty command");
  for (const ArgText& a : args) {
    try {
      t.args_.push_back(Template::compile(a.text, constants));
    } catch (const TemplateError& e) {
      size_t k = e.column() - 1;  // in the argument; the command's column where the argument has the byte
      size_t at = a.cols.empty() ? 0 : k < a.cols.size() ? a.cols[k] : a.cols.back() + 1;
      throw std::invalid_argument(e.detail() + " at " + col(at));
    }
  }
  // The name for messages: the literal first argument, else as written.
  t.literal_name_ = t.args_[0].constant();
  t.name_ = t.literal_name_ ? t.args_[0].constant_text() : std::string(text.substr(0, text.find_first_of(" \t")));
  return t;
}

std::vector<std::string> CommandTemplate::fields() const {
  std::vector<std::string> out;
  for (const Template& a : args_)
    for (const std::string& f : a.fields())
      if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  return out;
}

bool CommandTemplate::render(Record r, Argv& out, std::string& reason) const {
  const size_t args0 = out.ends.size(), bytes0 = out.bytes.size();
  for (const Template& a : args_) {
    if (!a.render(r, out.bytes, reason)) {
      out.bytes.resize(bytes0);
      out.ends.resize(args0);
      return false;
    }
    out.ends.push_back(out.bytes.size());
  }
  return true;
}

}  // namespace weir::redis
