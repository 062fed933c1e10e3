// The over-speed rule (rules/overspeed.epl) over generated smart-car events:
// CARS cars, one event per car per second, SECONDS seconds, event time.
// Prints events/s and peak RSS. EsperBench.java generates exactly the same
// events (same formulas, same pseudo-random sequence) for Esper.
//
//   cep_bench RULE_FILE [SECONDS=300] [CARS=10000] [PROFILE=overspeed]
//
// PROFILE braking: the same events, but one in 50 is a hard braking (a speed
// below 30), for the hard-braking pattern (hard_braking.epl).
#include "engine.hpp"
#include "parser.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace weir::cep;

namespace {

// 2022-04-26T06:10:00Z, the textbook's example date.
constexpr int64_t kStartEpochS = 1650953400;

struct Rng {  // xorshift64: identical in EsperBench.java
  uint64_t x = 42;
  uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
};

std::string date_of(int64_t epoch_s) {
  time_t t = static_cast<time_t>(epoch_s);
  tm g{};
  gmtime_r(&t, &g);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &g);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: cep_bench RULE_FILE [SECONDS=300] [CARS=10000] [PROFILE=overspeed|braking]\n");
    return 2;
  }
  int64_t seconds = argc > 2 ? std::stoll(argv[2]) : 300;
  int64_t cars = argc > 3 ? std::stoll(argv[3]) : 10000;
  bool braking = argc > 4 && std::string(argv[4]) == "braking";
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();

  EventType type{"DriverCarInfoBean",
                 {{"date", Type::String},
                  {"car_number", Type::String},
                  {"speed_pedal", Type::Long},
                  {"break_pedal", Type::Long},
                  {"steer_angle", Type::String},
                  {"direct_light", Type::String},
                  {"speed", Type::Long},
                  {"area_number", Type::String}}};
  Module module = parse_module(text.str(), argv[1]);
  bool batched = !module.contexts.empty();  // see below
  Engine engine(module, {type}, EngineOptions{kStartEpochS * 1000, {}});
  int stream = engine.stream("DriverCarInfoBean");
  int64_t rows = 0;
  engine.set_listener([&](const Delivery& d) { rows += static_cast<int64_t>(d.inew.size()); });

  // Per-car constants, as in the smart-car generator: a letter and a number,
  // a fixed area, 10% of the cars driving wild.
  std::vector<Value> numbers, areas;
  std::vector<int64_t> base;
  for (int64_t c = 0; c < cars; ++c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%c%04lld", static_cast<char>('A' + (c * 7) % 26), static_cast<long long>(c + 1));
    numbers.push_back(Value::of_string(buf));
    std::snprintf(buf, sizeof buf, "%c%02lld", static_cast<char>('A' + c % 6), static_cast<long long>(1 + c % 10));
    areas.push_back(Value::of_string(buf));
    base.push_back(c % 10 == 0 ? 160 : 60 + c % 30);
  }
  const Value steers[] = {Value::of_string("F"),  Value::of_string("L1"), Value::of_string("L2"), Value::of_string("L3"),
                          Value::of_string("R1"), Value::of_string("R2"), Value::of_string("R3")};
  const Value lights[] = {Value::of_string("N"), Value::of_string("L"), Value::of_string("R")};

  // A rule with a context gets the events kBatch at a time, in one
  // Engine::send_batch each (as the plugin gets the records of an input
  // batch), so that the engine can fetch the instances of the next events
  // while it processes one; any other rule gets one send_at per event, made
  // just before it: batching gains it nothing, and generating between events
  // hides some of the latency of its row writes (rules/overspeed.epl measured
  // ~10% more CPU time when batched). Either way the same events, in the same
  // order, at the same times. (128 events: 16 KB, in the L1 cache; a whole
  // second of 10 000 would hold 1.3 MB more, and was slower.)
  constexpr size_t kBatch = 128;
  Rng rng;
  size_t width = type.fields.size();
  std::vector<Value> batch(kBatch * width);
  std::vector<int64_t> times(kBatch);
  size_t held = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < seconds; ++s) {
    int64_t epoch_s = kStartEpochS + s;
    Value date = Value::of_string(date_of(epoch_s));
    for (int64_t c = 0; c < cars; ++c) {
      auto v = static_cast<int64_t>(rng.next() >> 33);
      int64_t pedal = (v >> 6) % 6;
      Value* row = batch.data() + held * width;
      row[0] = date;
      row[1] = numbers[static_cast<size_t>(c)];
      row[2] = Value::of_long(pedal);
      row[3] = Value::of_long(pedal == 0 ? (v >> 9) % 4 : 0);
      row[4] = steers[(v >> 12) % 7];
      row[5] = lights[(v >> 15) % 3];
      int64_t speed = base[static_cast<size_t>(c)] + v % 41 - 20;
      if (braking && (v >> 20) % 50 == 0) speed = (v >> 24) % 30;
      row[6] = Value::of_long(speed);
      row[7] = areas[static_cast<size_t>(c)];
      if (!batched) {
        engine.send_at(stream, row, epoch_s * 1000);
        continue;
      }
      times[held] = epoch_s * 1000;
      if (++held == kBatch) {
        engine.send_batch(stream, batch.data(), times.data(), held);
        held = 0;
      }
    }
  }
  engine.send_batch(stream, batch.data(), times.data(), held);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  int64_t events = seconds * cars;
  std::printf("impl=weir events=%lld elapsed_s=%.3f events_per_s=%.0f flagged_rows=%lld peak_rss_mb=%.1f\n",
              static_cast<long long>(events), elapsed, static_cast<double>(events) / elapsed, static_cast<long long>(rows),
              static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}
