// weir-overspeed without a server: member parsing, key templates, the exact
// table and JSON lines, and the command line's usage errors.
#include "overspeed_report.hpp"

#include <gtest/gtest.h>

#include <weir_test.hpp>

namespace weir::overspeed {
namespace {

TEST(OverspeedReport, SplitsCarAndTime) {
  Flagged f = split_member("Z0001-20160103061000");
  EXPECT_EQ(f.car_number, "Z0001");
  EXPECT_EQ(f.time, "2016-01-03 06:10:00");
  f = split_member("car-with-dashes-20160103061000");
  EXPECT_EQ(f.car_number, "car-with-dashes");
  for (const char* odd : {"Z0001", "Z0001-2016", "-20160103061000", "Z0001-2016010306100x", ""}) {
    f = split_member(odd);
    EXPECT_EQ(f.member, odd);
    EXPECT_FALSE(f.car_number) << odd;
    EXPECT_FALSE(f.time) << odd;
  }
}

TEST(OverspeedReport, Dates) {
  EXPECT_TRUE(valid_date("20160103"));
  EXPECT_FALSE(valid_date("2016013"));
  EXPECT_FALSE(valid_date("20161303"));
  EXPECT_FALSE(valid_date("20160100"));
  EXPECT_FALSE(valid_date("2016-01-03"));
}

TEST(OverspeedReport, KeyTemplates) {
  EXPECT_EQ(expand("{date}", {{"date", "20160103"}}), "20160103");
  EXPECT_EQ(expand("speed:{date}:{member}", {{"date", "20160103"}, {"member", "Z0001-20160103061000"}}),
            "speed:20160103:Z0001-20160103061000");
  EXPECT_THROW(expand("{dat}", {{"date", "x"}}), std::invalid_argument);
  EXPECT_THROW(expand("{date", {{"date", "x"}}), std::invalid_argument);
  EXPECT_THROW(expand("date}", {{"date", "x"}}), std::invalid_argument);
}

Report sample() {
  Report r;
  r.key = "20160103";
  r.ttl_s = 604800;
  for (const char* m : {"A0002-20160103061002", "Z0001-20160103061000", "odd"}) r.cars.push_back(split_member(m));
  return r;
}

TEST(OverspeedReport, Table) {
  EXPECT_EQ(table(sample()),
            "CAR    TIME                 MEMBER\n"
            "A0002  2016-01-03 06:10:02  A0002-20160103061002\n"
            "Z0001  2016-01-03 06:10:00  Z0001-20160103061000\n"
            "-      -                    odd\n"
            "3 flagged records (2 cars) in 20160103, expires in 604800 s (7d 0h 0m 0s)\n");
  Report one = sample();
  one.cars.resize(1);
  one.ttl_s = -1;
  one.cars[0].details = {{"speed", "130"}};
  EXPECT_EQ(table(one),
            "CAR    TIME                 MEMBER                speed\n"
            "A0002  2016-01-03 06:10:02  A0002-20160103061002  130\n"
            "1 flagged record (1 car) in 20160103, no expiry\n");
  Report none;
  none.key = "20160104";
  EXPECT_EQ(table(none), "no cars flagged: key 20160104 is missing\n");
}

TEST(OverspeedReport, JsonLines) {
  Report r = sample();
  r.ttl_s = 3599;
  r.cars[0].details = {{"speed", "130"}, {"area", "F06"}};
  EXPECT_EQ(json_lines(r),
            "{\"member\":\"A0002-20160103061002\",\"car_number\":\"A0002\",\"time\":\"2016-01-03 06:10:02\","
            "\"key\":\"20160103\",\"ttl_s\":3599,\"details\":{\"area\":\"F06\",\"speed\":\"130\"}}\n"
            "{\"member\":\"Z0001-20160103061000\",\"car_number\":\"Z0001\",\"time\":\"2016-01-03 06:10:00\","
            "\"key\":\"20160103\",\"ttl_s\":3599}\n"
            "{\"member\":\"odd\",\"car_number\":null,\"time\":null,\"key\":\"20160103\",\"ttl_s\":3599}\n");
}

weir::testing::RunResult tool(const std::string& args) {
  weir::testing::TempDir tmp;
  std::string cmd = std::string(WEIR_OVERSPEED) + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, weir::testing::read_file(tmp.file("out")),
          weir::testing::read_file(tmp.file("err"))};
}

TEST(OverspeedTool, UsageErrors) {
  auto r = tool("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("weir-overspeed DATE [options]"), std::string::npos) << r.out;
  r = tool("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "weir-overspeed: DATE must be yyyyMMdd, e.g. 20160103\n");
  r = tool("2016-01-03");
  EXPECT_EQ(r.err, "weir-overspeed: DATE must be yyyyMMdd, e.g. 20160103, not '2016-01-03'\n");
  r = tool("20160103 --key-template '{dat}'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "weir-overspeed: unknown placeholder '{dat}' in \"{dat}\" (known: {date})\n");
  r = tool("20160103 --sentinels 127.0.0.1:1");
  EXPECT_EQ(r.err, "weir-overspeed: --sentinels needs --master-name\n");
  r = tool("20160103 --bogus");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(OverspeedTool, AnUnreachableServerExitsOne) {
  auto r = tool("20160103 --endpoint 127.0.0.1:1 --timeout-ms 500");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "weir-overspeed: cannot connect to 127.0.0.1:1: Connection refused\n");
}

}  // namespace
}  // namespace weir::overspeed
