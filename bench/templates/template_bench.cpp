// Per-record cost of rendering the smart-car templates: hbase_sink's row key
// and 8 cells, redis_sink's two commands. Built twice by run.sh, against the
// SDK's template language and against the two languages it replaced (the
// sources of an older commit, -DOLD_TEMPLATES), so the two can be compared
// in one run. Prints ns per record (the median of ROUNDS).
#include "command_template.hpp"
#ifdef OLD_TEMPLATES
#include "row_template.hpp"
#else
#include <weir/template.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

weir_str s(const char* t) { return {t, static_cast<uint32_t>(std::char_traits<char>::length(t))}; }

#ifdef OLD_TEMPLATES
using RowTemplate = weir::hbase::Template;
RowTemplate compile(const std::string& t) { return RowTemplate::parse(t); }
#else
using RowTemplate = weir::Template;
RowTemplate compile(const std::string& t) { return RowTemplate::compile(t); }
#endif

}  // namespace

int main(int argc, char** argv) {
  const long records = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  // The smart-car record (SMARTCAR.md's example line, as csv_decode makes it).
  weir_field fields[] = {
      {s("date"), weir::string_value(s("20220426061000"))}, {s("car_number"), weir::string_value(s("O0010"))},
      {s("speed_pedal"), weir::int_value(2)},               {s("break_pedal"), weir::int_value(0)},
      {s("steer_angle"), weir::string_value(s("F"))},       {s("direct_light"), weir::string_value(s("N"))},
      {s("speed"), weir::int_value(85)},                    {s("area_number"), weir::string_value(s("F06"))},
  };
  weir_record rec{};
  rec.fields = fields;
  rec.field_count = 8;
  rec.event_time_ns = 1650953400LL * 1'000'000'000;
  weir::Record r(&rec);

  RowTemplate row_key = compile("{date|reverse}-{car_number}");
  std::vector<RowTemplate> cells;
  for (const char* f : {"date", "car_number", "speed_pedal", "break_pedal", "steer_angle", "direct_light", "speed", "area_number"})
    cells.push_back(compile(std::string("{") + f + "}"));
  // The old spelling: both languages read it (the new one warns, at load time only).
  std::vector<weir::redis::CommandTemplate> commands;
  for (const char* c : {"SADD {date:0:8} {car_number}-{date}", "EXPIRE {date:0:8} {ttl_s}"})
    commands.push_back(weir::redis::CommandTemplate::parse(c, {{"ttl_s", "604800"}}));

  std::string key, why;
  std::vector<std::string> values(cells.size());
  weir::redis::Argv argv_out;
  size_t bytes = 0;
  std::vector<double> ns;
  for (int round = 0; round < rounds; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < records; ++i) {
      key.clear();
      bool ok = row_key.render(r, key, why);
      for (size_t c = 0; c < cells.size(); ++c) {
        values[c].clear();
        ok &= cells[c].render(r, values[c], why);
      }
      argv_out.clear();
      for (const auto& cmd : commands) ok &= cmd.render(r, argv_out, why);
      if (!ok) {
        std::fprintf(stderr, "render failed: %s\n", why.c_str());
        return 1;
      }
      bytes += key.size() + argv_out.bytes.size();
    }
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / records);
  }
  std::sort(ns.begin(), ns.end());
  std::printf("%.1f ns/record (median of %d rounds of %ld; row key + 8 cells + 2 commands, %zu bytes of key and argv)\n",
              ns[ns.size() / 2], rounds, records, bytes / static_cast<size_t>(records * rounds));
  return 0;
}
