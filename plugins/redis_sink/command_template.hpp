// Redis command templates: "SADD {date:0:8} {car_number}-{date}" -> argv per record.
//
// Parsed once at create() (syntax errors are the user's: std::invalid_argument
// with a message), rendered per record (a missing field is the record's
// problem: render() returns the reason and the record goes to the error port).
//
// Grammar of one template:
//   - arguments are separated by spaces/tabs; "double quoted" text is one
//     argument and may contain spaces (\" and \\ escape inside quotes);
//   - {name} is a placeholder, {name:start:len} / {name:start} a substring of
//     its text (bytes, 0-based); {{ and }} are literal braces;
//   - a placeholder's value is never split: "x y" stays one argument.
// Placeholder names:
//   - a name from `vars` (or a constant such as ttl_s) is replaced at parse time;
//   - _key, _payload, _json, _time_ns, _time_ms, _time_s, _partition, _offset
//     are the record's metadata (names starting with '_' are reserved);
//   - any other name is a record field: string as is, int64/timestamp in decimal,
//     double in the shortest form that reads back the same, bool as 1/0.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>
#include <weir/sdk.hpp>

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

// Where a placeholder's text comes from.
enum class Source : uint8_t { Literal, Field, Key, Payload, Json, TimeNs, TimeMs, TimeS, Partition, Offset };

struct Piece {
  Source source = Source::Literal;
  std::string text;     // the literal bytes, or the field name
  uint32_t start = 0;   // substring: first byte
  int64_t length = -1;  // substring: byte count, -1 = to the end
  bool substring = false;
  std::string spelled;  // the placeholder as written, e.g. "{date:0:8}" (for messages)
};

class CommandTemplate {
 public:
  // Throws std::invalid_argument with a message that does not name the template
  // (the caller prefixes "commands[i]: ").
  static CommandTemplate parse(std::string_view text, const std::map<std::string, std::string>& vars);

  // Appends nothing and returns false with `reason` set when the record lacks
  // a field (or a value is too short for its substring).
  bool render(Record r, Argv& out, std::string& reason) const;

  const std::string& text() const { return text_; }
  size_t argc() const { return args_.size(); }
  // The command name when it is literal ("SADD"), else the first argument as written.
  const std::string& name() const { return name_; }
  // False when the command name comes from a record field (then it cannot be checked up front).
  bool literal_name() const { return literal_name_; }

  // The placeholder names that read record fields, in order of first use.
  std::vector<std::string> fields() const;

 private:
  std::string text_, name_;
  bool literal_name_ = false;
  std::vector<std::vector<Piece>> args_;  // one list of pieces per argument
};

// Names of the metadata placeholders, for messages and docs.
const std::vector<std::string>& builtin_names();

// Formats a field value as a Redis argument (see the grammar above). False for null.
bool format_value(const weir_value& v, std::string& out);

}  // namespace weir::redis
