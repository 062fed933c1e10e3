// Fuzzes the SDK's template compiler and renderer: any bytes as a template
// (with one constant, ttl_s), rendered against a record with a string, an
// int64, a double, a bool, a null and a timestamp field, a key and a payload.
// Checks: no crash/UB; a compile error has a column inside the text (+1 for
// "never closed" at the end); a failed render leaves the buffer as it was and
// says why; every deprecation's new spelling compiles with no deprecation.
#include <weir/template.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

weir_str s(const char* text) { return {text, static_cast<uint32_t>(std::strlen(text))}; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  weir::Template t;
  try {
    t = weir::Template::compile(text, {{"ttl_s", "604800"}});
  } catch (const weir::TemplateError& e) {
    if (e.column() == 0 || e.column() > size + 1) std::abort();
    return 0;
  }
  for (const auto& d : t.deprecations()) {
    if (d.column == 0 || d.column > size) std::abort();
    try {
      if (!weir::Template::compile(d.new_spelling, {{"ttl_s", "604800"}}).deprecations().empty()) std::abort();
    } catch (const weir::TemplateError&) {
      std::abort();  // the advice must be valid
    }
  }
  weir_field fields[] = {
      {s("date"), weir::string_value(s("20220426061000"))}, {s("speed"), weir::int_value(85)},
      {s("d"), weir::double_value(-0.5)},                    {s("b"), weir::bool_value(true)},
      {s("n"), weir::null_value()},                          {s("ts"), weir::timestamp_value(-1'650'953'400'123'456'789)},
  };
  weir_record rec{};
  rec.fields = fields;
  rec.field_count = sizeof fields / sizeof fields[0];
  rec.key = s("O0010");
  rec.payload = s("20220426061000,O0010,2,0,F,N,85,F06");
  rec.event_time_ns = 1'650'953'400'000'000'000;
  std::string out = "prefix", error;
  if (!t.render(weir::Record(&rec), out, error) && (out != "prefix" || error.empty())) std::abort();
  return 0;
}
