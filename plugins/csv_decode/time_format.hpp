// Timestamp text -> nanoseconds since the Unix epoch (UTC), for a small,
// strict strftime-like format language. Compiled once, parsed without
// allocating.
//
//   %Y  4-digit year        %m %d %H %M %S  2 digits each (exactly)
//   %f  1-9 fraction digits (what follows the seconds' '.')
//   %%  a literal '%'       any other character must match itself
//   epoch_s | epoch_ms | epoch_us | epoch_ns   an integer count since the epoch
//
// There is no time zone: every timestamp is read as UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::csv {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).


class TimeFormat {
 public:
  TimeFormat() = default;
  // Throws std::invalid_argument naming what is wrong with the format.
  static TimeFormat compile(std::string_view format);

  // False (and `ns` untouched) when `text` does not match the format exactly.
  bool parse(std::string_view text, int64_t& ns) const;
  const std::string& text() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  enum class Op : uint8_t { Year, Month, Day, Hour, Minute, Second, Fraction, Literal };
  struct Step {
    Op op;
    char literal;
  };
  std::string text_;
  std::vector<Step> steps_;
  int64_t epoch_unit_ns_ = 0;  // non-zero: an epoch_* format
};

}  // namespace weir::csv
