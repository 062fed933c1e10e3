// What the rule-store tests share: the rule (a threshold over 30 s batches on
// the epoch grid), cars X (91 km/h) and Y (111 km/h), and a cep_rule node
// reading a rule store through the FakeHost.
#pragma once

#include "records.hpp"
#include "rule_store.hpp"

#include <fake_host.hpp>

#include <gtest/gtest.h>

extern "C" const weir_plugin* weir_plugin_entry();

namespace weir::testing::rules {

inline int64_t ms(const char* yyyymmddhhmmss) {
  int64_t t = 0;
  EXPECT_TRUE(weir::cep::parse_yyyymmddhhmmss(yyyymmddhhmmss, t)) << yyyymmddhhmmss;
  return t;
}

inline std::string rule(int threshold) {
  return "create variable double threshold = " + std::to_string(threshold) +
         ";\n"
         "select car_number, avg(speed) as avg_speed from Car#time_batch(30 sec, 0L)\n"
         "  group by car_number having avg(speed) > threshold;\n";
}

// The batch rows of X and Y when flagged.
inline const std::string kX = "{\"car_number\":\"X\",\"avg_speed\":91}";
inline const std::string kY = "{\"car_number\":\"Y\",\"avg_speed\":111}";

inline FakeHost::Fields car(const char* date, const char* number, int64_t speed) {
  return {{"date", FakeHost::str(date)}, {"car_number", FakeHost::str(number)}, {"speed", weir::int_value(speed)}};
}

struct Node {
  FakeHost host{weir_plugin_entry()};
  Node(const std::string& endpoints, const std::string& topic, const std::vector<std::string>& names = {"overspeed"},
       int64_t timeout_ms = 200) {
    host.param("rules_topic", topic)
        .param("rules_endpoints", endpoints)
        .param("rules_names", names)
        .param("time_field", std::string("date"))
        .param("rules_timeout_ms", timeout_ms);
  }
  void start() {
    ASSERT_EQ(host.create(), "");
    ASSERT_EQ(host.vt().open(host.instance()), WEIR_OK) << logs();
  }
  void send(const std::vector<FakeHost::Fields>& rows) { ASSERT_EQ(host.process(host.make_batch(rows)), WEIR_OK) << logs(); }
  // One record of X and one of Y every 5 s in [from, to].
  void drive(const char* from, const char* to) {
    for (int64_t t = ms(from); t <= ms(to); t += 5000) {
      std::string d = weir::cep::store::time14(t);
      send({car(d.c_str(), "X", 91), car(d.c_str(), "Y", 111)});
    }
  }
  std::vector<std::string> rows(const std::string& port = "overspeed") const {
    std::vector<std::string> out;
    for (const auto& e : host.emitted)
      if (e.port == port) out.push_back(e.json);
    return out;
  }
  std::string logs() const {
    std::string s;
    for (const auto& l : host.logs) s += l + "\n";
    return s;
  }
  bool logged(const std::string& text) const { return logs().find(text) != std::string::npos; }
  std::string snapshot() {
    std::string state;
    weir_writer w{&state, [](void* o, const void* d, size_t n) { static_cast<std::string*>(o)->append(static_cast<const char*>(d), n); }};
    EXPECT_EQ(host.vt().snapshot(host.instance(), &w), WEIR_OK);
    return state;
  }
  void restore(const std::string& state) {
    ASSERT_EQ(host.vt().restore(host.instance(), state.data(), state.size()), WEIR_OK) << logs();
  }
};

}  // namespace weir::testing::rules
