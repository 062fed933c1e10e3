#include "time_format.hpp"

#include <weir/civil_time.hpp>

#include <charconv>
#include <limits>
#include <stdexcept>

namespace weir::csv {

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

TimeFormat TimeFormat::compile(std::string_view format) {
  TimeFormat f;
  f.text_ = std::string(format);
  if (format.empty()) throw std::invalid_argument("empty timestamp format");
  if (format == "epoch_s") f.epoch_unit_ns_ = 1'000'000'000;
  else if (format == "epoch_ms") f.epoch_unit_ns_ = 1'000'000;
  else if (format == "epoch_us") f.epoch_unit_ns_ = 1'000;
  else if (format == "epoch_ns") f.epoch_unit_ns_ = 1;
  if (f.epoch_unit_ns_) return f;

  bool seen[6] = {};
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      f.steps_.push_back({Op::Literal, format[i]});
      continue;
    }
    if (++i == format.size()) throw std::invalid_argument("timestamp format \"" + f.text_ + "\" ends with a lone '%'");
    Op op;
    switch (format[i]) {
      case 'Y': op = Op::Year; break;
      case 'm': op = Op::Month; break;
      case 'd': op = Op::Day; break;
      case 'H': op = Op::Hour; break;
      case 'M': op = Op::Minute; break;
      case 'S': op = Op::Second; break;
      case 'f': op = Op::Fraction; break;
      case '%': f.steps_.push_back({Op::Literal, '%'}); continue;
      default:
        throw std::invalid_argument("timestamp format \"" + f.text_ + "\": unsupported directive '%" +
                                    std::string(1, format[i]) + "' (use %Y %m %d %H %M %S %f %% or epoch_s/ms/us/ns)");
    }
    f.steps_.push_back({op, 0});
    if (op != Op::Fraction) seen[static_cast<int>(op)] = true;
  }
  if (!seen[0] || !seen[1] || !seen[2])
    throw std::invalid_argument("timestamp format \"" + f.text_ + "\" needs at least %Y, %m and %d");
  return f;
}

// Exactly n ASCII digits at text[pos..).
static bool digits(std::string_view text, size_t& pos, int n, unsigned& out) {
  if (text.size() - pos < static_cast<size_t>(n)) return false;
  unsigned v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool TimeFormat::parse(std::string_view text, int64_t& ns) const {
  if (epoch_unit_ns_) {
    int64_t v = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || p != end) return false;
    if (v > std::numeric_limits<int64_t>::max() / epoch_unit_ns_ || v < std::numeric_limits<int64_t>::min() / epoch_unit_ns_)
      return false;
    ns = v * epoch_unit_ns_;
    return true;
  }
  unsigned year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t fraction_ns = 0;
  size_t pos = 0;
  for (const Step& s : steps_) {
    switch (s.op) {
      case Op::Literal:
        if (pos >= text.size() || text[pos] != s.literal) return false;
        ++pos;
        break;
      case Op::Year: if (!digits(text, pos, 4, year)) return false; break;
      case Op::Month: if (!digits(text, pos, 2, month)) return false; break;
      case Op::Day: if (!digits(text, pos, 2, day)) return false; break;
      case Op::Hour: if (!digits(text, pos, 2, hour)) return false; break;
      case Op::Minute: if (!digits(text, pos, 2, minute)) return false; break;
      case Op::Second: if (!digits(text, pos, 2, second)) return false; break;
      case Op::Fraction: {
        int n = 0;
        int64_t v = 0;
        while (pos < text.size() && n < 9 && text[pos] >= '0' && text[pos] <= '9') {
          v = v * 10 + (text[pos++] - '0');
          ++n;
        }
        if (n == 0) return false;
        for (int i = n; i < 9; ++i) v *= 10;
        fraction_ns = v;
        break;
      }
    }
  }
  if (pos != text.size()) return false;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  // int64 nanoseconds reach from 1677-09-21 to 2262-04-11.
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds) return false;
  ns = seconds * 1'000'000'000 + fraction_ns;
  return true;
}

}  // namespace weir::csv
