// The row-key/cell template language of hbase_sink:
//
//   template := ( text | "{" field ( "|" filter )* "}" )*
//   filter   := name [ "(" arg ( "," arg )* ")" ]
//
// `{{` and `}}` are literal braces. A field is a record field by name, or one
// of the pseudo-fields `_key` (record key), `_time` (event time, a timestamp),
// `_partition`, `_offset`. Values become text as weir prints them: strings as
// they are, integers in decimal, doubles shortest round-trip, bools
// true/false, timestamps as integer ns (use `time(...)` to format them).
//
// Filters, applied left to right:
//   reverse             reverse the bytes        {date|reverse}  20220426061000 -> 00016062402202
//   substr(start[,len]) bytes from start (negative: from the end), at most len
//   upper, lower        ASCII case
//   lpad(width[,char])  left-pad to width with char (default '0')
//   time(FORMAT)        first filter only: format a timestamp (UTC, strftime)
//
// A missing or null field makes rendering fail with a reason (the record then
// goes to the error port); templates are checked when the plugin is created.
#pragma once

#include <weir/sdk.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace weir::hbase {

// Looks a field up by name, including the pseudo-fields; nullptr if absent.
// `scratch` holds the value of a pseudo-field.
const weir_value* lookup_field(Record r, std::string_view name, weir_value& scratch);

// Appends a value's text (see above) to out.
void append_value_text(std::string& out, const weir_value& v);

class Template {
 public:
  // std::invalid_argument with the column (1-based) of the problem.
  static Template parse(std::string_view text);

  // Appends the rendering to out. On failure returns false and sets error
  // (out may then hold a partial rendering).
  bool render(Record r, std::string& out, std::string& error) const;

  // Field names the template reads, in order of appearance.
  std::vector<std::string> fields() const;
  // True when the template is exactly one field with no filter (fast path).
  bool is_plain_field() const { return segments_.size() == 1 && segments_[0].is_field && segments_[0].filters.empty(); }
  const std::string& text() const { return text_; }

 private:
  struct Filter {
    enum Kind { Reverse, Substr, Upper, Lower, Lpad, Time } kind;
    long long a = 0, b = -1;
    char pad = '0';
    std::string format;
  };
  struct Segment {
    bool is_field = false;
    std::string text;  // literal text, or the field name
    std::vector<Filter> filters;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace weir::hbase
