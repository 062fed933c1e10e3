// Fuzzes the EPL front end: any input must either parse and compile or fail
// with an EplError (a located message) — no crash, no hang, no sanitizer
// report. What compiles also runs over a few events, so the evaluator,
// windows and output limiters see the fuzzed statements too.
#include "engine.hpp"
#include "parser.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace weir::cep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Rule files are small, but a long flat chain of operators (`a and a and
  // ...`, thousands of terms) once overflowed the compiler's stack: inputs up
  // to 256 KiB reach such chains (the smoke test passes -max_len to match).
  if (size > 256 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  static const EventType ev{"Ev", {{"ts", Type::Long}, {"sym", Type::String}, {"price", Type::Double}, {"qty", Type::Long},
                                  {"ok", Type::Bool}}};
  try {
    Module m = parse_module(text, "fuzz.epl");
    Engine engine(m, {ev}, {});
    size_t rows = 0;
    engine.set_listener([&](const Delivery& d) { rows += d.inew.size() + d.iold.size(); });
    int s = engine.stream("Ev");
    if (s < 0) return 0;
    static const char* syms[] = {"IBM", "MSFT", "a string longer than fourteen bytes", ""};
    for (int64_t i = 0; i < 16; ++i) {
      std::vector<Value> row{Value::of_long(i * 1700), Value::of_string(syms[i % 4]),
                             i % 5 == 0 ? Value() : Value::of_double(static_cast<double>(i) * 1.5 - 7),
                             Value::of_long(i - 3), Value::of_bool(i % 3 == 0)};
      engine.send_at(s, row.data(), row[0].as_long());
    }
    engine.advance_to(60'000);
    std::string state = engine.snapshot();
    engine.restore(state);
  } catch (const EplError&) {
    // A rejected rule: the expected outcome for most inputs.
  }
  return 0;
}
