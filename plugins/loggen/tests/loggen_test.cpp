// loggen: the simulator's determinism and line format, the plugin against the
// fake host, and the weir-loggen command / a real pipeline printing the same lines.
#include "driver_log.hpp"

#include <fake_host.hpp>
#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::loggen::DriverLog;
using weir::loggen::Options;

namespace {

Options opts(int cars, uint64_t seed = 1) {
  Options o;
  o.date_days = weir::loggen::parse_date("20220426");
  o.cars = cars;
  o.seed = seed;
  return o;
}

std::vector<std::string> lines(const Options& o, size_t n) {
  DriverLog log(o);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(log.next().text);
  return out;
}

uint64_t fnv1a(const std::vector<std::string>& v) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& s : v)
    for (unsigned char c : s + "\n") h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::vector<std::string> split(const std::string& s, char d) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == d) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

TEST(DriverLog, SameSeedSameLines) {
  EXPECT_EQ(lines(opts(50, 7), 20000), lines(opts(50, 7), 20000));
  EXPECT_NE(lines(opts(50, 7), 2000), lines(opts(50, 8), 2000));
}

// Pinned output: the simulation must not drift between compilers, standard
// libraries or refactorings (a change here changes every recorded dataset).
TEST(DriverLog, GoldenOutput) {
  auto v = lines(opts(100, 1), 100 * 60);
  EXPECT_EQ(v[0], "20220426000000,V0001,1,0,F,N,79,B09");
  EXPECT_EQ(fnv1a(v), 16118333689651371391ULL);
}

TEST(DriverLog, LineFormat) {
  const int cars = 100, seconds = 300;
  DriverLog log(opts(cars, 3));
  static const std::regex kLine(R"(^(\d{14}),([A-Z])(\d{4}),([0-5]),([0-3]),(F|L1|L2|L3|R1|R2|R3),([NLR]),(\d{1,3}),([A-F])(\d\d)$)");
  std::map<std::string, char> area_of;
  std::set<std::string> numbers;
  for (int t = 0; t < seconds; ++t) {
    for (int c = 1; c <= cars; ++c) {
      const auto& line = log.next();
      std::string text(line.text);
      std::smatch m;
      ASSERT_TRUE(std::regex_match(text, m, kLine)) << text;
      char want[16];
      std::snprintf(want, sizeof want, "%04d", c);
      EXPECT_EQ(m[3].str(), want) << "cars in order 0001..N within each second: " << text;
      EXPECT_EQ(line.car, m[2].str() + m[3].str());
      // One line per simulated second, UTC: 2022-04-26T00:00:00Z + t.
      EXPECT_EQ(line.event_time_ns, (1650931200LL + t) * 1'000'000'000);
      char stamp[16];
      std::snprintf(stamp, sizeof stamp, "20220426%02d%02d%02d", t / 3600, t / 60 % 60, t % 60);
      EXPECT_EQ(m[1].str(), stamp);
      if (m[5].str() != "0") {
        EXPECT_EQ(m[4].str(), "0") << "brake only without accelerator: " << text;
      }
      int speed = std::stoi(m[8].str());
      EXPECT_LE(speed, 250);
      int area = std::stoi(m[10].str());
      EXPECT_GE(area, 1);
      EXPECT_LE(area, 10);
      // The area letter (the car's region) never changes.
      auto [it, fresh] = area_of.emplace(line.car, m[9].str()[0]);
      EXPECT_EQ(it->second, m[9].str()[0]);
      numbers.insert(std::string(line.car));
    }
  }
  EXPECT_EQ(numbers.size(), static_cast<size_t>(cars));
  EXPECT_EQ(log.seconds_done(), static_cast<uint64_t>(seconds));
}

TEST(DriverLog, SpeedsLookLikeTheOriginal) {
  const int cars = 100, seconds = 1200;
  Options o = opts(cars, 11);
  DriverLog log(o);
  EXPECT_EQ(log.wild_cars(), 10);
  std::vector<std::vector<int>> speed(cars);
  std::vector<bool> congested_line;
  int64_t congested_sum = 0, congested_n = 0;
  for (int i = 0; i < cars * seconds; ++i) {
    auto f = split(std::string(log.next().text), ',');
    int s = std::stoi(f[6]);
    speed[i % cars].push_back(s);
    if (f[7] == "A10" || f[7] == "B02" || f[7] == "C04" || f[7] == "D05" || f[7] == "E10" || f[7] == "F06") {
      congested_sum += s;
      ++congested_n;
    }
  }
  int wild = 0, normal_over_80 = 0;
  double normal_avg = 0;
  for (auto& v : speed) {
    double avg = 0;
    for (int s : v) avg += s;
    avg /= v.size();
    if (avg > 110) {  // wild (some time in jams lowers their average)
      ++wild;
      EXPECT_GT(avg, 130);
      EXPECT_LT(avg, 180);
      continue;
    }
    normal_avg += avg;
    // A 30 s tumbling window averaging above 80 km/h, the rule's trigger.
    for (size_t w = 0; w + 30 <= v.size(); w += 30) {
      double sum = 0;
      for (size_t k = w; k < w + 30; ++k) sum += v[k];
      if (sum / 30 > 80) {
        ++normal_over_80;
        break;
      }
    }
  }
  EXPECT_EQ(wild, 10);
  normal_avg /= (cars - wild);
  EXPECT_GT(normal_avg, 55);
  EXPECT_LT(normal_avg, 68);
  EXPECT_GT(normal_over_80, 5) << "normal cars should sometimes speed over a window";
  EXPECT_LT(normal_over_80, cars - wild) << "but not all of them";
  ASSERT_GT(congested_n, 0);
  EXPECT_LT(static_cast<double>(congested_sum) / congested_n, 45) << "congested areas cut speed";
}

TEST(DriverLog, SpeedingShare) {
  for (double share : {0.0, 0.25, 1.0}) {
    Options o = opts(40);
    o.speeding_share = share;
    EXPECT_EQ(DriverLog(o).wild_cars(), static_cast<int>(share * 40 + 0.5));
  }
}

TEST(DriverLog, HeadersAndMidnight) {
  Options o = opts(2);
  o.headers = true;
  o.start_seconds = weir::loggen::parse_time_of_day("235959");
  DriverLog log(o);
  auto h = log.next();
  EXPECT_TRUE(h.header);
  EXPECT_EQ(std::string(h.text).rfind("Driver Status Infomation,", 0), 0u);
  log.next();
  EXPECT_EQ(std::string(log.next().text).substr(0, 14), "20220426235959");
  log.next();
  EXPECT_EQ(std::string(log.next().text).substr(0, 14), "20220427000000");
}

TEST(DriverLog, BadOptions) {
  EXPECT_THROW(weir::loggen::parse_date("2022-04-26"), std::invalid_argument);
  EXPECT_THROW(weir::loggen::parse_date("20220230"), std::invalid_argument);
  EXPECT_THROW(weir::loggen::parse_time_of_day("246000"), std::invalid_argument);
  Options o = opts(0);
  EXPECT_THROW(DriverLog{o}, std::invalid_argument);
  o = opts(10);
  o.speeding_share = 1.5;
  EXPECT_THROW(DriverLog{o}, std::invalid_argument);
}

// ---- the plugin

TEST(LoggenPlugin, EmitsLinesKeyedByCar) {
  weir::testing::FakeHost h(weir_plugin_entry());
  h.param("date", std::string("20220426")).param("start_time", std::string("000000")).param("cars", int64_t{3});
  h.param("seconds", int64_t{2}).param("batch_size", int64_t{4});
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  int polls = 0;
  while (h.vt().poll(h.instance()) == WEIR_OK) ++polls;
  EXPECT_EQ(polls, 2);  // 6 lines in batches of 4
  auto expected = lines(opts(3), 6);
  ASSERT_EQ(h.emitted.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    std::string car = expected[i].substr(15, 5);
    EXPECT_EQ(h.emitted[i].json, "{\"_key\":\"" + car + "\",\"_payload\":\"" + expected[i] + "\"}");
  }
}

TEST(LoggenPlugin, ParameterErrors) {
  auto error_of = [](const std::string& date, int64_t cars, double share) {
    weir::testing::FakeHost h(weir_plugin_entry());
    h.param("date", date).param("cars", cars).param("speeding_share", share);
    return h.create();
  };
  EXPECT_EQ(error_of("20220426", 100, 0.1), "");
  EXPECT_NE(error_of("2022426", 100, 0.1).find("date must be yyyyMMdd"), std::string::npos);
  EXPECT_NE(error_of("20220426", 10000, 0.1).find("cars must be 1..9999"), std::string::npos);
  EXPECT_NE(error_of("20220426", 10, -1).find("speeding_share"), std::string::npos);
}

// ---- without a start_time, the first line carries the current time of day

int32_t utc_seconds_of_day() { return weir::loggen::parse_start_time("now"); }

// The line's HHmmss lies in [before, after], which may span midnight.
void expect_stamped_between(const std::string& line, int32_t before, int32_t after) {
  int32_t t = weir::loggen::parse_time_of_day(line.substr(8, 6));
  bool inside = before <= after ? t >= before && t <= after : t >= before || t <= after;
  EXPECT_TRUE(inside) << line << " is not stamped between " << before << " and " << after << " s of the UTC day";
}

TEST(LoggenPlugin, StartsAtTheCurrentTimeOfDayByDefault) {
  int32_t before = utc_seconds_of_day();
  weir::testing::FakeHost h(weir_plugin_entry());
  h.param("date", std::string("20220426")).param("cars", int64_t{2}).param("seconds", int64_t{1});
  ASSERT_EQ(h.create(), "");
  ASSERT_EQ(h.vt().open(h.instance()), WEIR_OK);
  while (h.vt().poll(h.instance()) == WEIR_OK) {
  }
  int32_t after = utc_seconds_of_day();
  ASSERT_EQ(h.emitted.size(), 2u);
  std::string first = h.emitted[0].json.substr(h.emitted[0].json.find("\"_payload\":\"") + 12);
  EXPECT_EQ(first.substr(0, 8), "20220426");
  expect_stamped_between(first, before, after);
}

TEST(LoggenCommand, StartsAtTheCurrentTimeOfDayByDefault) {
  weir::testing::TempDir dir;
  int32_t before = utc_seconds_of_day();
  std::string cmd = std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 2 --seconds 1 > " + dir.file("out");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  int32_t after = utc_seconds_of_day();
  std::string out = weir::testing::read_file(dir.file("out"));
  ASSERT_EQ(weir::testing::count_lines(out), 2u) << out;
  expect_stamped_between(out, before, after);
}

// ---- the command and the real binary print the same lines

std::string command_output(const std::string& args) {
  weir::testing::TempDir dir;
  std::string cmd = std::string(WEIR_BUILD_DIR) + "/weir-loggen " + args + " > " + dir.file("out");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return weir::testing::read_file(dir.file("out"));
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& l : v) s += l + "\n";
  return s;
}

TEST(LoggenCommand, PrintsTheSimulatorsLines) {
  EXPECT_EQ(command_output("20220426 100 --seconds 30 --start-time 000000"), joined(lines(opts(100), 3000)));
  Options o = opts(5, 42);
  o.headers = true;
  o.speeding_share = 0.4;
  o.start_seconds = weir::loggen::parse_time_of_day("061000");
  EXPECT_EQ(command_output("20220426 5 --seconds 10 --seed 42 --headers --speeding-share 0.4 --start-time 061000"),
            joined(lines(o, 55)));
}

TEST(LoggenCommand, UsageErrors) {
  EXPECT_NE(std::system((std::string(WEIR_BUILD_DIR) + "/weir-loggen 2022 3 2>/dev/null").c_str()), 0);
  EXPECT_NE(std::system((std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 2>/dev/null").c_str()), 0);
}

// --output DIR: the same lines, in files rotated by rename at a size; concatenated
// oldest first they are what stdout gets; --keep deletes the oldest.
TEST(LoggenCommand, OutputWritesRotatedFiles) {
  weir::testing::TempDir dir;
  std::string cmd = std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 20 --seconds 60 --headers --start-time 000000 --output " +
                    dir.file("logs") + " --rotate-bytes 10000";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string all, base = dir.file("logs") + "/SmartCarDriverInfo.log";
  int rotated = 0;
  for (; std::filesystem::exists(base + "." + std::to_string(rotated + 1)); ++rotated) {
    std::string part = weir::testing::read_file(base + "." + std::to_string(rotated + 1));
    EXPECT_LE(part.size(), 10000u);
    EXPECT_EQ(part.back(), '\n') << "rotated at a line boundary";
    all += part;
  }
  all += weir::testing::read_file(base);
  EXPECT_GE(rotated, 4);  // 1200 lines of ~40 bytes
  // A fixed start: two runs on today's clock differ when a second passes between them.
  EXPECT_EQ(all, command_output("20220426 20 --seconds 60 --headers --start-time 000000"));
  EXPECT_EQ(all.rfind("Driver Status Infomation,", 0), 0u) << "the header lines first, as the original";

  weir::testing::TempDir kept;
  cmd = std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 20 --seconds 60 --output " + kept.file("logs") +
        " --rotate-bytes 10000 --keep 2";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kept.file("logs"))) files += e.is_regular_file();
  EXPECT_EQ(files, 3u) << "the current file and the 2 newest rotated ones";
  EXPECT_NE(std::system((std::string(WEIR_BUILD_DIR) + "/weir-loggen 20220426 3 --keep 2 2>/dev/null").c_str()), 0)
      << "--keep needs --output";
}

// The loggen plugin into file_sink writes the same rotated log as weir-loggen --output.
TEST(LoggenPipeline, IntoFileSinkWithRotation) {
  weir::testing::TempDir dir;
  std::string base = dir.file("SmartCarDriverInfo.log");
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 20\nseconds = 60\n"
                               "headers = true\nbatch_size = 20\n[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"gen\"]\nformat = \"payload\"\n"
                               "rotate_bytes = 10000\nkeep = 0\npath = \"" + base + "\"\n");
  auto r = weir::testing::run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string all;
  int rotated = 0;
  for (; std::filesystem::exists(base + "." + std::to_string(rotated + 1)); ++rotated) {
    std::string part = weir::testing::read_file(base + "." + std::to_string(rotated + 1));
    EXPECT_LE(part.size(), 10000u);
    all += part;
  }
  all += weir::testing::read_file(base);
  EXPECT_GE(rotated, 4);
  EXPECT_EQ(all, command_output("20220426 20 --seconds 60 --headers --start-time 000000"));
}

TEST(LoggenPipeline, ExampleRunsAndMatchesTheCommand) {
  weir::testing::TempDir dir;
  auto r = weir::testing::run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/plugins/loggen/example.toml");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 100\nseconds = 30\n"
                               "batch_size = 77\n"
                               "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"gen\"]\nformat = \"payload\"\npath = \"" +
                                   dir.file("out.txt") + "\"\n");
  r = weir::testing::run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(weir::testing::read_file(dir.file("out.txt")), command_output("20220426 100 --seconds 30 --start-time 000000"));
}

}  // namespace
