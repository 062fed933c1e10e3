// weir-overspeed's output, apart from Redis: parse members, fill key templates,
// print a table or JSON lines. Pure functions, tested without a server.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::overspeed {

// One member of the day's set, "CAR-yyyyMMddHHmmss" split when it has that shape.
struct Flagged {
  std::string member;
  std::optional<std::string> car_number;       // "Z0001"
  std::optional<std::string> time;             // "2016-01-03 06:10:00"
  std::map<std::string, std::string> details;  // from --details (HGETALL), if any
};

Flagged split_member(std::string_view member);

// True for exactly 8 digits forming a plausible date (month 01-12, day 01-31).
bool valid_date(std::string_view date);

// Replaces {date}, {member}, {car_number} and {time14} in a key template.
// Throws std::invalid_argument for another placeholder or an unbalanced brace.
std::string expand(std::string_view tmpl, const std::map<std::string, std::string>& values);

struct Report {
  std::string key;
  int64_t ttl_s = -2;         // Redis TTL: -2 no such key, -1 no expiry
  std::vector<Flagged> cars;  // sorted by member
};

std::string table(const Report& r);
std::string json_lines(const Report& r);

}  // namespace weir::overspeed
