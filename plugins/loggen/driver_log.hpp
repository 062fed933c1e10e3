// The smart-car driving-log simulator behind the loggen plugin and the
// weir-loggen command (the equivalent of the original `DriverLogMain <date> <cars>`).
//
// Every simulated second each car 1..N, in order, produces one line
//   yyyyMMddHHmmss,CarNum,AccStep,BrkStep,WheelStep,DirLightStep,Speed,AreaNum
// (../../../shared/SMARTCAR.md). Timestamps are UTC.
//
// Deterministic: the output depends only on the options. Randomness comes from
// our own xoshiro256** generators (one per car, seeded by splitmix64 from the
// seed and the car index) and the simulation is integer arithmetic, so the
// same seed gives the same lines with any compiler or standard library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::loggen {

struct Options {
  int64_t date_days = 0;      // the start date, as days since 1970-01-01
  int32_t start_seconds = 0;  // time of day of the first tick, 0..86399
  int32_t cars = 100;         // 1..9999 (CarNum keeps its 4 digits)
  uint64_t seed = 1;
  double speeding_share = 0.1;  // share of "wild" cars (averaging ~160 km/h), 0..1
  bool headers = false;         // first one "Driver Status Infomation,<CarNum>" line per car, like the original
};

// "yyyyMMdd" -> days since the epoch; "HHmmss" -> seconds of the day. Throw std::invalid_argument.
int64_t parse_date(std::string_view yyyymmdd);
int32_t parse_time_of_day(std::string_view hhmmss);
// A start time as given: "HHmmss", or "now" = the current time of day (UTC, like the lines),
// so that a live run's lines carry the real time. Throws std::invalid_argument.
int32_t parse_start_time(std::string_view hhmmss_or_now);
// Validates every option; throws std::invalid_argument naming the bad one.
void check(const Options& o);

// splitmix64 seeding + xoshiro256**: small, fast and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next();
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for our n).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }

 private:
  uint64_t s_[4];
};

struct Line {
  std::string_view text;  // without a newline
  std::string_view car;   // the CarNum, e.g. "O0010"
  int64_t event_time_ns = 0;
  bool header = false;
};

class DriverLog {
 public:
  explicit DriverLog(const Options& options);  // throws std::invalid_argument (see check)

  // The next line; the views stay valid until the following call.
  const Line& next();
  // Simulated seconds completed so far (a second is complete when all cars wrote its line).
  uint64_t seconds_done() const { return tick_; }
  // True when the next line starts a new simulated second (or is a header line).
  bool at_second_boundary() const { return car_ == 0; }
  uint64_t lines() const { return lines_; }
  int32_t cars() const { return static_cast<int32_t>(cars_.size()); }
  int32_t wild_cars() const;

 private:
  struct Car {
    char number[8];
    char area_letter;
    int32_t area_number;  // 1..10
    int32_t area_hold;    // ticks until the car may change area
    bool wild;
    int32_t cruise_dk;    // preferred speed, in 0.1 km/h
    int32_t speed_dk;     // current speed, in 0.1 km/h
    int32_t hurry;        // ticks left of a hurry episode (normal cars)
    Rng rng;
  };
  void step(Car& c, int& acc, int& brk);
  void format_time();

  Options o_;
  std::vector<Car> cars_;
  uint64_t tick_ = 0;
  size_t car_ = 0;
  bool headers_pending_ = false;
  uint64_t lines_ = 0;
  char stamp_[15] = {};  // yyyyMMddHHmmss of the current tick
  int64_t stamp_ns_ = 0;
  char buf_[96];
  Line line_;
};

}  // namespace weir::loggen
