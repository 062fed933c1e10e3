// Writes tests/state/pattern-2e35fe8.snapshot: the hard-braking pattern with
// pending partial matches, saved by the engine of commit 2e35fe8 (whole match
// rows, before narrow_pattern). Built by hand against that commit's sources:
//   g++ -std=c++20 -Iplugins/cep_rule/src plugins/cep_rule/src/*.cpp make_pattern_snapshot.cpp
#include "engine.hpp"
#include "parser.hpp"
#include <cstdio>
#include <fstream>
using namespace weir::cep;
int main(int argc, char** argv) {
  const char* rule =
      "select a.car as car, a.speed as fast, b.speed as slow from pattern [every a=Ev(speed > 100) -> "
      "b=Ev(car = a.car, speed < 30) where timer:within(10 sec)];";
  EventType ev{"Ev", {{"ts", Type::Long}, {"car", Type::String}, {"speed", Type::Long}}};
  Engine e(parse_module(rule, "r.epl"), {ev}, EngineOptions{0, {}});
  const char* cars[] = {"C1", "C2", "C3"};
  const int64_t speeds[] = {120, 110, 50, 130, 20, 105};
  for (int i = 0; i < 6; ++i) {
    std::vector<Value> row{Value::of_long(i * 1000), Value::of_string(cars[i % 3]), Value::of_long(speeds[i])};
    e.send_at(0, row.data(), i * 1000);
  }
  std::ofstream(argv[1], std::ios::binary) << e.snapshot();
  return 0;
}
