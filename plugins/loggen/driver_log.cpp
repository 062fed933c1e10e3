#include "driver_log.hpp"

#include <weir/civil_time.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace weir::loggen {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

unsigned num(std::string_view s) {
  unsigned v = 0;
  for (char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Writes v (>= 0) in decimal, returns the new end.
char* put_int(char* p, int v) {
  char tmp[12];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

// Picks an index by integer weights summing to `total`.
template <size_t N>
int pick(Rng& rng, const uint16_t (&weights)[N], uint32_t total) {
  uint32_t r = rng.below(total);
  for (size_t i = 0; i < N; ++i) {
    if (r < weights[i]) return static_cast<int>(i);
    r -= weights[i];
  }
  return static_cast<int>(N - 1);
}

// Areas where traffic crawls: speed drops to 30%.
bool congested(char letter, int number) {
  switch (letter) {
    case 'A': return number == 10;
    case 'B': return number == 2;
    case 'C': return number == 4;
    case 'D': return number == 5;
    case 'E': return number == 10;
    case 'F': return number == 6;
  }
  return false;
}

const char* const kWheel[] = {"F", "L1", "L2", "L3", "R1", "R2", "R3"};
const uint16_t kWheelWeights[] = {76, 5, 4, 3, 5, 4, 3};

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

int64_t parse_date(std::string_view s) {
  if (s.size() != 8 || !all_digits(s)) throw std::invalid_argument("date must be yyyyMMdd, e.g. 20220426, not \"" + std::string(s) + "\"");
  unsigned y = num(s.substr(0, 4)), m = num(s.substr(4, 2)), d = num(s.substr(6, 2));
  if (y < 1970 || m < 1 || m > 12 || d < 1) throw std::invalid_argument("date \"" + std::string(s) + "\" is not a valid date (1970 or later)");
  int64_t days = days_from_civil(y, m, d);
  int64_t yy;
  unsigned mm, dd;
  civil_from_days(days, yy, mm, dd);
  if (mm != m || dd != d) throw std::invalid_argument("date \"" + std::string(s) + "\" does not exist");
  return days;
}

int32_t parse_time_of_day(std::string_view s) {
  if (s.size() != 6 || !all_digits(s)) throw std::invalid_argument("start_time must be HHmmss (e.g. 061000) or now, not \"" + std::string(s) + "\"");
  unsigned h = num(s.substr(0, 2)), m = num(s.substr(2, 2)), sec = num(s.substr(4, 2));
  if (h > 23 || m > 59 || sec > 59) throw std::invalid_argument("start_time \"" + std::string(s) + "\" is not a time of day");
  return static_cast<int32_t>(h * 3600 + m * 60 + sec);
}

int32_t parse_start_time(std::string_view s) {
  if (s != "now") return parse_time_of_day(s);
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<int32_t>(std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count() % 86400);
}

void check(const Options& o) {
  if (o.cars < 1 || o.cars > 9999) throw std::invalid_argument("cars must be 1..9999 (CarNum has 4 digits), not " + std::to_string(o.cars));
  if (!(o.speeding_share >= 0 && o.speeding_share <= 1)) throw std::invalid_argument("speeding_share must be within 0..1");
  if (o.start_seconds < 0 || o.start_seconds >= 86400) throw std::invalid_argument("start time must be within the day");
  if (o.date_days < 0) throw std::invalid_argument("date must be 1970-01-01 or later");
}

DriverLog::DriverLog(const Options& options) : o_(options) {
  check(o_);
  cars_.resize(static_cast<size_t>(o_.cars));
  // Exactly round(share * N) wild cars, chosen by a seeded shuffle.
  std::vector<int32_t> order(cars_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  Rng pick_rng(o_.seed ^ 0xC0FFEE5EEDULL);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[pick_rng.below(static_cast<uint32_t>(i))]);
  size_t wild = static_cast<size_t>(o_.speeding_share * static_cast<double>(cars_.size()) + 0.5);
  for (size_t i = 0; i < cars_.size(); ++i) {
    Car& c = cars_[i];
    uint64_t s = o_.seed;
    splitmix64(s);
    c.rng = Rng(s ^ (0xD1B54A32D192ED03ULL * (i + 1)));
    c.number[0] = static_cast<char>('A' + c.rng.below(26));
    unsigned n = static_cast<unsigned>(i + 1);
    c.number[1] = static_cast<char>('0' + n / 1000);
    c.number[2] = static_cast<char>('0' + n / 100 % 10);
    c.number[3] = static_cast<char>('0' + n / 10 % 10);
    c.number[4] = static_cast<char>('0' + n % 10);
    c.number[5] = 0;
    c.area_letter = static_cast<char>('A' + c.rng.below(6));
    c.area_number = 1 + static_cast<int32_t>(c.rng.below(10));
    c.area_hold = 1 + static_cast<int32_t>(c.rng.below(300));
    c.wild = false;
    c.hurry = 0;
  }
  for (size_t i = 0; i < wild; ++i) cars_[static_cast<size_t>(order[i])].wild = true;
  for (Car& c : cars_) {
    c.cruise_dk = c.wild ? 1450 + static_cast<int32_t>(c.rng.below(201)) : 550 + static_cast<int32_t>(c.rng.below(201));
    c.speed_dk = c.cruise_dk - 100 + static_cast<int32_t>(c.rng.below(201));
    if (congested(c.area_letter, c.area_number)) c.speed_dk = c.speed_dk * 3 / 10;
  }
  headers_pending_ = o_.headers;
  format_time();
}

int32_t DriverLog::wild_cars() const {
  return static_cast<int32_t>(std::count_if(cars_.begin(), cars_.end(), [](const Car& c) { return c.wild; }));
}

void DriverLog::format_time() {
  int64_t secs = o_.date_days * 86400 + o_.start_seconds + static_cast<int64_t>(tick_);
  int64_t days = secs / 86400;
  unsigned sod = static_cast<unsigned>(secs % 86400);
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  put2(stamp_, static_cast<unsigned>(y / 100 % 100));
  put2(stamp_ + 2, static_cast<unsigned>(y % 100));
  put2(stamp_ + 4, m);
  put2(stamp_ + 6, d);
  put2(stamp_ + 8, sod / 3600);
  put2(stamp_ + 10, sod / 60 % 60);
  put2(stamp_ + 12, sod % 60);
  stamp_ns_ = secs * 1'000'000'000;
}

// One second of driving: pedals from how far the car is from the speed it
// wants, speed from the pedals.
void DriverLog::step(Car& c, int& acc, int& brk) {
  Rng& r = c.rng;
  if (--c.area_hold <= 0) {
    // Drive on to a neighbouring area of the car's region.
    bool was = congested(c.area_letter, c.area_number);
    c.area_number = r.below(2) ? c.area_number % 10 + 1 : (c.area_number + 8) % 10 + 1;
    bool now = congested(c.area_letter, c.area_number);
    // Jams are passed in under a minute; other areas take one to five minutes.
    c.area_hold = now ? 20 + static_cast<int32_t>(r.below(41)) : 60 + static_cast<int32_t>(r.below(241));
    if (!was && now) c.speed_dk = c.speed_dk * 3 / 10;
  }
  int32_t target = c.cruise_dk;
  if (!c.wild) {
    // Now and then (every ~40 minutes) a normal car is in a hurry for a minute or two.
    if (c.hurry > 0) {
      --c.hurry;
      target = 950 + (c.cruise_dk - 550) / 2;
    } else if (r.below(2400) == 0) {
      c.hurry = 40 + static_cast<int32_t>(r.below(61));
    }
  }
  if (congested(c.area_letter, c.area_number)) target = target * 3 / 10;
  int32_t diff = target - c.speed_dk;
  // Wild drivers lean on the accelerator.
  int a = diff / 80 + static_cast<int>(r.below(5)) - 2 + (c.wild ? 1 : 0);
  acc = std::clamp(a, 0, 5);
  brk = 0;
  if (acc == 0) brk = std::clamp(-diff / 100 + static_cast<int>(r.below(3)) - 1, 0, 3);
  c.speed_dk += acc * 25 - brk * 60 - 10 + static_cast<int32_t>(r.below(11)) - 5;
  c.speed_dk = std::clamp(c.speed_dk, 0, 2500);
}

const Line& DriverLog::next() {
  ++lines_;
  Car& c = cars_[car_];
  char* p = buf_;
  if (headers_pending_) {
    static const char kHeader[] = "Driver Status Infomation,";
    std::memcpy(p, kHeader, sizeof kHeader - 1);
    p += sizeof kHeader - 1;
    std::memcpy(p, c.number, 5);
    p += 5;
    line_ = {std::string_view(buf_, static_cast<size_t>(p - buf_)), std::string_view(c.number, 5), stamp_ns_, true};
    if (++car_ == cars_.size()) {
      car_ = 0;
      headers_pending_ = false;
    }
    return line_;
  }
  int acc = 0, brk = 0;
  step(c, acc, brk);
  int wheel = pick(c.rng, kWheelWeights, 100);
  char light = 'N';
  uint32_t l = c.rng.below(100);
  if (wheel >= 1 && wheel <= 3) light = l < 60 ? 'L' : 'N';
  else if (wheel >= 4) light = l < 60 ? 'R' : 'N';
  else light = l < 2 ? 'L' : l < 4 ? 'R' : 'N';

  std::memcpy(p, stamp_, 14);
  p += 14;
  *p++ = ',';
  std::memcpy(p, c.number, 5);
  p += 5;
  *p++ = ',';
  *p++ = static_cast<char>('0' + acc);
  *p++ = ',';
  *p++ = static_cast<char>('0' + brk);
  *p++ = ',';
  for (const char* w = kWheel[wheel]; *w;) *p++ = *w++;
  *p++ = ',';
  *p++ = light;
  *p++ = ',';
  p = put_int(p, (c.speed_dk + 5) / 10);
  *p++ = ',';
  *p++ = c.area_letter;
  put2(p, static_cast<unsigned>(c.area_number));
  p += 2;
  line_ = {std::string_view(buf_, static_cast<size_t>(p - buf_)), std::string_view(c.number, 5), stamp_ns_, false};
  if (++car_ == cars_.size()) {
    car_ = 0;
    ++tick_;
    format_time();
  }
  return line_;
}

}  // namespace weir::loggen
