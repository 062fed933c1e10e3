// csv_decode: logic tests against the fake host, parameter tests, and the
// shipped example / smart-car schema through the real binary.
#include "decoder.hpp"

#include <fake_host.hpp>
#include <weir_test.hpp>

#include <gtest/gtest.h>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::testing::FakeHost;

namespace {

const std::vector<std::string> kSmartCar = {"date:string",        "car_number:string", "speed_pedal:int64",
                                            "break_pedal:int64",  "steer_angle:string", "direct_light:string",
                                            "speed:int64",        "area_number:string"};

struct Decoder {
  FakeHost host{weir_plugin_entry()};
  explicit Decoder(const std::vector<std::string>& fields = kSmartCar) { host.param("fields", fields); }
  std::string create() { return host.create(); }
  void run(const std::vector<std::string>& lines) {
    ASSERT_EQ(host.process(host.make_batch({}, lines)), WEIR_OK);
  }
};

TEST(CsvDecode, DecodesTheSmartCarLine) {
  Decoder d;
  d.host.param("event_time_field", std::string("date")).param("event_time_format", std::string("%Y%m%d%H%M%S"));
  ASSERT_EQ(d.create(), "");
  d.run({"20220426061000,O0010,2,0,F,N,85,F06\n"});
  ASSERT_EQ(d.host.emitted.size(), 1u);
  EXPECT_EQ(d.host.emitted[0].port, "out");
  EXPECT_EQ(d.host.emitted[0].json,
            "{\"date\":\"20220426061000\",\"car_number\":\"O0010\",\"speed_pedal\":2,\"break_pedal\":0,"
            "\"steer_angle\":\"F\",\"direct_light\":\"N\",\"speed\":85,\"area_number\":\"F06\"}");
  EXPECT_TRUE(d.host.rejected.empty());
}

TEST(CsvDecode, EventTimeIsUtc) {
  weir::csv::SchemaSpec spec;
  spec.fields = kSmartCar;
  spec.event_time_field = "date";
  spec.event_time_format = "%Y%m%d%H%M%S";
  auto schema = weir::csv::Schema::build(spec);
  std::vector<weir_value> out(schema.output_count());
  int64_t t = 0;
  std::string reason;
  ASSERT_EQ(schema.decode("20220426061000,O0010,2,0,F,N,85,F06", out.data(), t, reason), weir::csv::Schema::Outcome::Decoded);
  EXPECT_EQ(t, 1650953400LL * 1'000'000'000);  // date -u -d '2022-04-26 06:10:00' +%s
}

TEST(CsvDecode, KeyPositionAndPayloadOption) {
  Decoder d({"a:string", "b:int64"});
  d.host.param("keep_payload", true);
  ASSERT_EQ(d.create(), "");
  d.run({"x,1\r\n"});
  ASSERT_EQ(d.host.emitted.size(), 1u);
  EXPECT_EQ(d.host.emitted[0].json, "{\"_payload\":\"x,1\\r\\n\",\"a\":\"x\",\"b\":1}");
}

TEST(CsvDecode, CrLfAndTrim) {
  Decoder d({"a:string", "b:int64", "c:string"});
  d.host.param("trim", true);
  ASSERT_EQ(d.create(), "");
  d.run({" x , 42 ,\tz\r\n"});
  ASSERT_EQ(d.host.emitted.size(), 1u);
  EXPECT_EQ(d.host.emitted[0].json, "{\"a\":\"x\",\"b\":42,\"c\":\"z\"}");
}

TEST(CsvDecode, HeaderLinesAreSkippedAndCounted) {
  Decoder d;
  d.host.param("skip_prefixes", std::vector<std::string>{"Driver Status"});
  ASSERT_EQ(d.create(), "");
  d.run({"Driver Status Infomation,O0010", "20220426061000,O0010,2,0,F,N,85,F06", "", "Driver Status Infomation,A0002"});
  EXPECT_EQ(d.host.emitted.size(), 1u);
  EXPECT_TRUE(d.host.rejected.empty());
  EXPECT_EQ(d.host.gauges["csv_skipped_lines{}"], 3.0);  // two headers, one empty line
}

TEST(CsvDecode, EmptyLineIsAnErrorWhenNotSkipped) {
  Decoder d({"a:string"});
  d.host.param("skip_empty", false);
  ASSERT_EQ(d.create(), "");
  d.run({""});
  ASSERT_EQ(d.host.rejected.size(), 1u);
  EXPECT_NE(d.host.rejected[0].find("column 1 'a' is empty but required"), std::string::npos) << d.host.rejected[0];
}

// Every kind of bad line goes to the error port with a reason naming the column.
TEST(CsvDecode, BadLinesAreRejectedWithTheColumn) {
  Decoder d;
  d.host.param("event_time_field", std::string("date")).param("event_time_format", std::string("%Y%m%d%H%M%S"));
  ASSERT_EQ(d.create(), "");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"20220426061000,O0010,2,0,F,N,85", "expected 8 columns, found 7: column 8 'area_number' is missing"},
      {"20220426061000,O0010,2,0,F,N,85,F06,x", "expected 8 columns, found 9: column 9 is extra"},
      {"20220426061000,O0010,2,0,F,N,8x,F06", "column 7 'speed': \"8x\" is not an int64"},
      {"20220426061000,O0010,2,0,F,N,99999999999999999999,F06", "column 7 'speed': \"99999999999999999999\" is out of range for int64"},
      {"20220426061000,,2,0,F,N,85,F06", "column 2 'car_number' is empty but required"},
      {"20220426061000,O0010,,0,F,N,85,F06", "column 3 'speed_pedal' is empty but required"},
      {"20221326061000,O0010,2,0,F,N,85,F06", "column 1 'date': \"20221326061000\" does not match event_time_format"},
      {"garbage", "expected 8 columns, found 1: column 2 'car_number' is missing"},
  };
  std::vector<std::string> lines;
  for (auto& c : cases) lines.push_back(c.first);
  d.run(lines);
  EXPECT_TRUE(d.host.emitted.empty());
  ASSERT_EQ(d.host.rejected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_NE(d.host.rejected[i].find(cases[i].second), std::string::npos) << d.host.rejected[i];
    // The error record carries the line itself.
    EXPECT_NE(d.host.rejected[i].find("\"_payload\":"), std::string::npos) << d.host.rejected[i];
  }
}

TEST(CsvDecode, OptionalFieldsMayBeEmpty) {
  Decoder d({"s:string", "i:int64", "x:double"});
  d.host.param("optional", std::vector<std::string>{"s", "i", "x"});
  ASSERT_EQ(d.create(), "");
  d.run({",,"});
  ASSERT_EQ(d.host.emitted.size(), 1u);
  EXPECT_EQ(d.host.emitted[0].json, "{\"s\":\"\",\"i\":null,\"x\":null}");
}

TEST(CsvDecode, AllTypes) {
  Decoder d({"s:string", "i:int64", "x:double", "b:bool", "t:timestamp:%Y-%m-%dT%H:%M:%S.%fZ", "e:timestamp:epoch_ms", "ignored:skip"});
  d.host.param("delimiter", std::string(";"));
  ASSERT_EQ(d.create(), "");
  d.run({"a b;-7;2.5e3;TRUE;1970-01-01T00:00:01.5Z;1650953400123;whatever", "a;+7;-0.25;0;2000-02-29T23:59:59.000000001Z;0;"});
  ASSERT_EQ(d.host.emitted.size(), 2u) << (d.host.rejected.empty() ? "" : d.host.rejected[0]);
  EXPECT_EQ(d.host.emitted[0].json,
            "{\"s\":\"a b\",\"i\":-7,\"x\":2.5e+03,\"b\":true,\"t\":1500000000,\"e\":1650953400123000000}");
  EXPECT_EQ(d.host.emitted[1].json,
            "{\"s\":\"a\",\"i\":7,\"x\":-0.25,\"b\":false,\"t\":951868799000000001,\"e\":0}");
}

TEST(CsvDecode, BadValuesOfEachType) {
  Decoder d({"x:double", "b:bool", "t:timestamp:%Y%m%d"});
  ASSERT_EQ(d.create(), "");
  d.run({"nan,1,20200101", "1.5,yes,20200101", "1,0,20200230", "1e999,1,20200101", "+-1,1,20200101", "1,1,30220101"});
  ASSERT_EQ(d.host.rejected.size(), 6u);
  EXPECT_NE(d.host.rejected[0].find("column 1 'x': \"nan\" is not a finite double"), std::string::npos);
  EXPECT_NE(d.host.rejected[1].find("column 2 'b': \"yes\" is not a bool"), std::string::npos);
  EXPECT_NE(d.host.rejected[2].find("column 3 't': \"20200230\" does not match timestamp format \"%Y%m%d\""), std::string::npos);
  EXPECT_NE(d.host.rejected[3].find("column 1 'x'"), std::string::npos);
  EXPECT_NE(d.host.rejected[4].find("column 1 'x'"), std::string::npos);
  // Beyond int64 nanoseconds (2262): found by the fuzzer as a signed overflow.
  EXPECT_NE(d.host.rejected[5].find("column 3 't': \"30220101\" does not match"), std::string::npos);
}

TEST(CsvDecode, InputField) {
  Decoder d({"a:string", "b:int64"});
  d.host.param("input_field", std::string("line"));
  ASSERT_EQ(d.create(), "");
  ASSERT_EQ(d.host.process(d.host.make_batch({{{"line", FakeHost::str("q,5")}}, {{"other", FakeHost::str("q,5")}}})), WEIR_OK);
  ASSERT_EQ(d.host.emitted.size(), 1u);
  EXPECT_EQ(d.host.emitted[0].json, "{\"a\":\"q\",\"b\":5}");
  ASSERT_EQ(d.host.rejected.size(), 1u);
  EXPECT_NE(d.host.rejected[0].find("input_field 'line' is missing"), std::string::npos);
}

TEST(CsvDecode, ConfigErrors) {
  auto error_of = [](std::vector<std::string> fields, auto&&... more) {
    Decoder d(fields);
    (more(d.host), ...);
    return d.create();
  };
  auto none = [](FakeHost&) {};
  EXPECT_NE(error_of({"a"}, none).find("expected \"name:type\""), std::string::npos);
  EXPECT_NE(error_of({"a:integer"}, none).find("unknown type 'integer'"), std::string::npos);
  EXPECT_NE(error_of({"t:timestamp"}, none).find("a timestamp needs a format"), std::string::npos);
  EXPECT_NE(error_of({"t:timestamp:%Q"}, none).find("unsupported directive '%Q'"), std::string::npos);
  EXPECT_NE(error_of({"a:string", "a:int64"}, none).find("declared twice"), std::string::npos);
  EXPECT_NE(error_of({":string"}, none).find("field name is empty"), std::string::npos);
  EXPECT_NE(error_of({"a:string"}, [](FakeHost& h) { h.param("delimiter", std::string("::")); }).find("exactly one character"),
            std::string::npos);
  EXPECT_NE(error_of({"a:string"}, [](FakeHost& h) { h.param("optional", std::vector<std::string>{"b"}); }).find("not a field"),
            std::string::npos);
  EXPECT_NE(error_of({"a:string"}, [](FakeHost& h) { h.param("event_time_field", std::string("a")); }).find("set event_time_format"),
            std::string::npos);
  EXPECT_NE(error_of({"a:string"}, [](FakeHost& h) { h.param("event_time_format", std::string("%Y%m%d")); })
                .find("event_time_field is not"),
            std::string::npos);
  EXPECT_NE(error_of({"a:string"}, [](FakeHost& h) { h.param("skip_prefixes", std::vector<std::string>{""}); }).find("empty string"),
            std::string::npos);
  EXPECT_EQ(error_of({"a:string", "b:timestamp:epoch_s"}, none), "");
}

// ---- through the real binary

const std::string kEnv = "";

TEST(CsvDecodePipeline, ExampleValidates) {
  auto r = weir::testing::run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/plugins/csv_decode/example.toml");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CsvDecodePipeline, UnknownParameterIsRefused) {
  weir::testing::TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\ncars = 2\nseconds = 1\n"
                               "[nodes.dec]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfeilds = [\"a:string\"]\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"dec\"]\n");
  auto r = weir::testing::run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown parameter 'feilds'; did you mean 'fields'?"), std::string::npos) << r.err;
}

// loggen -> csv_decode (the shipped smart-car schema) -> file_sink: every line decodes,
// headers are skipped, nothing goes to the error port.
TEST(CsvDecodePipeline, SmartCarSchemaDecodesLoggenOutput) {
  weir::testing::TempDir dir;
  std::string schema = weir::testing::read_file(std::string(WEIR_SOURCE_DIR) + "/pipelines/schemas/smartcar.toml");
  ASSERT_FALSE(schema.empty());
  // The schema file is a [nodes.decode] table: append it and wire its input with --set.
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 20\nseconds = 50\nheaders = true\n"
                               "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"decode\"]\npath = \"" +
                                   dir.file("out.json") + "\"\nmetadata = true\n" + schema);
  auto r = weir::testing::run_weir("run " + file + " --set 'decode.inputs=[\"gen\"]' --dead-letter " + dir.file("dead.json") +
                                   " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string out = weir::testing::read_file(dir.file("out.json"));
  EXPECT_EQ(weir::testing::count_lines(out), 1000u);
  EXPECT_TRUE(weir::testing::read_file(dir.file("dead.json")).empty());
  EXPECT_NE(out.find("\"speed\":"), std::string::npos);
  EXPECT_NE(out.find("\"_time\":1650931200000000000"), std::string::npos);  // 2022-04-26T00:00:00Z
}

}  // namespace
