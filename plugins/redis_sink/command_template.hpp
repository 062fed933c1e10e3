// Redis command templates: "SADD {date[0:8]} {car_number}-{date}" -> argv per record.
//
// Parsed once at create() (syntax errors are the user's: std::invalid_argument
// with a message), rendered per record (a missing field is the record's
// problem: render() returns the reason and the record goes to the error port).
//
// A command is split into arguments here; each argument is a template of the
// SDK's language (<weir/template.hpp>, docs/templates.md):
//   - arguments are separated by spaces/tabs; "double quoted" text is one
//     argument and may contain spaces (\" \\ \n \r \t escape inside quotes);
//   - a placeholder is never split, nor is its value: "x y" stays one argument;
//   - names from `vars` (and ttl_s) are constants, filled in at parse time.
#pragma once

#include <weir/sdk.hpp>
#include <weir/template.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weir::redis {

// The argv of one command, rendered into one buffer (no allocation per argument
// once warmed up). Argument i is bytes[begin(i), ends[i]).
struct Argv {
  std::string bytes;
  std::vector<size_t> ends;

  void clear() {
    bytes.clear();
    ends.clear();
  }
  size_t size() const { return ends.size(); }
  size_t begin(size_t i) const { return i == 0 ? 0 : ends[i - 1]; }
  std::string_view arg(size_t i) const { return std::string_view(bytes).substr(begin(i), ends[i] - begin(i)); }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < size(); ++i) out.emplace_back(arg(i));
    return out;
  }
};

class CommandTemplate {
 public:
  // Throws std::invalid_argument with a message that does not name the template
  // (the caller prefixes "commands[i]: ").
  static CommandTemplate parse(std::string_view text, const std::map<std::string, std::string>& vars);

  // Appends nothing and returns false with `reason` set when the record lacks
  // a field (or a value is too short for its slice).
  bool render(Record r, Argv& out, std::string& reason) const;

  const std::string& text() const { return text_; }
  size_t argc() const { return args_.size(); }
  // The command name when it is literal ("SADD"), else the first argument as written.
  const std::string& name() const { return name_; }
  // False when the command name comes from a record field (then it cannot be checked up front).
  bool literal_name() const { return literal_name_; }

  // The record fields the arguments read, in order of first use.
  std::vector<std::string> fields() const;

 private:
  std::string text_, name_;
  bool literal_name_ = false;
  std::vector<Template> args_;
};

}  // namespace weir::redis
