#include "overspeed_report.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <weir/json.hpp>

namespace weir::overspeed {

namespace {

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string ttl_text(int64_t ttl) {
  if (ttl == -1) return "no expiry";
  if (ttl < 0) return "no such key";
  int64_t d = ttl / 86400, h = ttl % 86400 / 3600, m = ttl % 3600 / 60, s = ttl % 60;
  std::string out = "expires in " + std::to_string(ttl) + " s (";
  if (d) out += std::to_string(d) + "d ";
  return out + std::to_string(h) + "h " + std::to_string(m) + "m " + std::to_string(s) + "s)";
}

}  // namespace

Flagged split_member(std::string_view member) {
  Flagged f;
  f.member = std::string(member);
  size_t dash = member.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return f;
  std::string_view t = member.substr(dash + 1);
  if (t.size() != 14 || !digits(t)) return f;
  f.car_number = std::string(member.substr(0, dash));
  f.time = std::string(t.substr(0, 4)) + "-" + std::string(t.substr(4, 2)) + "-" + std::string(t.substr(6, 2)) + " " +
           std::string(t.substr(8, 2)) + ":" + std::string(t.substr(10, 2)) + ":" + std::string(t.substr(12, 2));
  return f;
}

bool valid_date(std::string_view date) {
  if (date.size() != 8 || !digits(date)) return false;
  int month = std::stoi(std::string(date.substr(4, 2))), day = std::stoi(std::string(date.substr(6, 2)));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

std::string expand(std::string_view tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '}') throw std::invalid_argument("unmatched '}' in \"" + std::string(tmpl) + "\"");
    if (tmpl[i] != '{') {
      out += tmpl[i];
      continue;
    }
    size_t close = tmpl.find('}', i);
    if (close == std::string_view::npos) throw std::invalid_argument("unclosed '{' in \"" + std::string(tmpl) + "\"");
    std::string name(tmpl.substr(i + 1, close - i - 1));
    auto it = values.find(name);
    if (it == values.end()) {
      std::string known;
      for (auto& [k, v] : values) known += " {" + k + "}";
      throw std::invalid_argument("unknown placeholder '{" + name + "}' in \"" + std::string(tmpl) +
                                  "\" (known:" + known + ")");
    }
    out += it->second;
    i = close;
  }
  return out;
}

std::string table(const Report& r) {
  std::string out;
  if (r.cars.empty()) return "no cars flagged: key " + r.key + " is " + (r.ttl_s == -2 ? "missing" : "empty") + "\n";
  std::set<std::string> detail_names;
  for (const Flagged& f : r.cars)
    for (auto& [k, v] : f.details) detail_names.insert(k);
  std::vector<std::string> header = {"CAR", "TIME", "MEMBER"};
  header.insert(header.end(), detail_names.begin(), detail_names.end());
  std::vector<std::vector<std::string>> rows;
  for (const Flagged& f : r.cars) {
    std::vector<std::string> row = {f.car_number.value_or("-"), f.time.value_or("-"), f.member};
    for (const auto& d : detail_names) {
      auto it = f.details.find(d);
      row.push_back(it == f.details.end() ? "-" : it->second);
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      l += cells[c];
      if (c + 1 < cells.size()) l += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  // Members are CAR-time pairs: one car flagged over a 30 s window gives many.
  std::set<std::string> distinct;
  for (const Flagged& f : r.cars)
    if (f.car_number) distinct.insert(*f.car_number);
  out += std::to_string(r.cars.size()) + (r.cars.size() == 1 ? " flagged record" : " flagged records") + " (" +
         std::to_string(distinct.size()) + (distinct.size() == 1 ? " car" : " cars") + ") in " + r.key + ", " +
         ttl_text(r.ttl_s) + "\n";
  return out;
}

std::string json_lines(const Report& r) {
  std::string out;
  for (const Flagged& f : r.cars) {
    out += "{\"member\":";
    append_json_string(out, f.member);
    out += ",\"car_number\":";
    if (f.car_number)
      append_json_string(out, *f.car_number);
    else
      out += "null";
    out += ",\"time\":";
    if (f.time)
      append_json_string(out, *f.time);
    else
      out += "null";
    out += ",\"key\":";
    append_json_string(out, r.key);
    out += ",\"ttl_s\":" + (r.ttl_s >= 0 ? std::to_string(r.ttl_s) : std::string("null"));
    if (!f.details.empty()) {
      out += ",\"details\":{";
      bool first = true;
      for (auto& [k, v] : f.details) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        append_json_string(out, v);
      }
      out += '}';
    }
    out += "}\n";
  }
  return out;
}

}  // namespace weir::overspeed
