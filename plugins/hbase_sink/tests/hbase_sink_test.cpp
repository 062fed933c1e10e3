// hbase_sink unit tests: its templates (the SDK's language), record -> TPut mapping, cell
// timestamps, hex-string split keys, and the sink against the fake host
// (rejects, retry without a reachable HBase), plus parameter checks and the
// shipped example.toml through `weir validate`. No HBase needed.
#include "hex_split.hpp"
#include "row_mapper.hpp"
#include "scan_query.hpp"

#include <fake_host.hpp>
#include <weir_test.hpp>

#include <weir/template.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <map>
#include <thread>

extern "C" const weir_plugin* weir_plugin_entry();

using weir::testing::FakeHost;
using namespace weir::hbase;

namespace {

using Fields = FakeHost::Fields;

// The SMARTCAR.md example line, decoded as csv_decode does it (numbers as int64).
Fields smart_car(const char* date = "20220426061000", const char* car = "O0010") {
  return {{"date", FakeHost::str(date)},         {"car_number", FakeHost::str(car)},
          {"speed_pedal", weir::int_value(2)},    {"break_pedal", weir::int_value(0)},
          {"steer_angle", FakeHost::str("F")},    {"direct_light", FakeHost::str("N")},
          {"speed", weir::int_value(85)},         {"area_number", FakeHost::str("F06")}};
}

const std::vector<std::string> kSmartCarColumns = {"date",  "car_number", "speed_pedal", "break_pedal",
                                                   "steer_angle", "direct_light", "speed", "area_number"};

// Records need a host to live in: a FakeHost's input batches.
struct Records {
  FakeHost host{weir_plugin_entry()};
  const weir_batch* batch(const std::vector<Fields>& rows) { return host.make_batch(rows); }
};

std::string render(const std::string& tmpl, const Fields& fields, std::string* error = nullptr, int64_t time_ns = 0) {
  Records rs;
  const weir_batch* b = rs.batch({fields});
  const_cast<weir_record&>(b->records[0]).event_time_ns = time_ns;
  std::string out, err;
  bool ok = weir::Template::compile(tmpl).render(weir::Record(&b->records[0]), out, err);
  if (error) *error = err;
  return ok ? out : "<failed>";
}

std::string cells(const t2::TPut& p) {
  std::string out;
  for (const auto& c : p.columnValues) out += c.family + ":" + c.qualifier + "=" + c.value + ";";
  return out;
}

// ------------------------------------------------------------ templates
// hbase_sink's spellings from before the SDK's language (tests/runtime/template_test.cpp
// tests the language itself): they render as they did (time(...) is now date(...), still accepted).

TEST(RowTemplate, SmartCarRowKeyIsReversedTimestampDashCar) {
  EXPECT_EQ(render("{date|reverse}-{car_number}", smart_car()), "00016062402202-O0010");
}

TEST(RowTemplate, ValueTypesAndPseudoFields) {
  Fields f = {{"d", weir::double_value(0.1)}, {"b", weir::bool_value(true)}, {"t", weir::timestamp_value(1650953400123000000)}};
  EXPECT_EQ(render("{d}|{b}|{t}", f), "0.1|true|1650953400123000000");
  EXPECT_EQ(render("{t|time(%Y%m%d%H%M%S)}", f), "20220426061000");
  EXPECT_EQ(render("{_time|time(%Y-%m-%d %H:%M:%S)}", f, nullptr, 1650953400LL * 1'000'000'000), "2022-04-26 06:10:00");
}

TEST(RowTemplate, MissingOrNullFieldFailsWithItsName) {
  std::string err;
  EXPECT_EQ(render("{date|reverse}-{car_number}", {{"date", FakeHost::str("1")}}, &err), "<failed>");
  EXPECT_EQ(err, "field 'car_number' is missing ({car_number})");
  EXPECT_EQ(render("{x}", {{"x", weir::null_value()}}, &err), "<failed>");
  EXPECT_EQ(err, "field 'x' is null ({x})");
  EXPECT_EQ(render("{_time}", {{"x", weir::int_value(1)}}, &err), "<failed>");  // event time 0 = unknown
  EXPECT_EQ(render("{x|time(%Y)}", {{"x", weir::int_value(1)}}, &err), "<failed>");
  EXPECT_EQ(err, "field 'x' is an int64, date() needs a timestamp ({x|time(%Y)})");
}

// ------------------------------------------------------------ mapping

MappingSpec smart_car_spec() {
  MappingSpec s;
  s.row_key = "{date|reverse}-{car_number}";
  s.family = "cf1";
  s.columns = kSmartCarColumns;
  s.timestamp_field = "date";
  s.timestamp_format = "%Y%m%d%H%M%S";
  return s;
}

TEST(RowMapper, SmartCarRecordBecomesEightStringCellsAtEventTime) {
  Records rs;
  const weir_batch* b = rs.batch({smart_car()});
  RowMapper m(smart_car_spec());
  t2::TPut put;
  std::string reason;
  ASSERT_TRUE(m.map(weir::Record(&b->records[0]), put, reason)) << reason;
  EXPECT_EQ(put.row, "00016062402202-O0010");
  EXPECT_EQ(cells(put),
            "cf1:date=20220426061000;cf1:car_number=O0010;cf1:speed_pedal=2;cf1:break_pedal=0;cf1:steer_angle=F;"
            "cf1:direct_light=N;cf1:speed=85;cf1:area_number=F06;");
  ASSERT_TRUE(put.__isset.timestamp);
  EXPECT_EQ(put.timestamp, 1650953400000);  // 2022-04-26 06:10:00 UTC, in ms
}

TEST(RowMapper, ColumnsRenameTemplateAndOverrideFamily) {
  Records rs;
  const weir_batch* b = rs.batch({smart_car()});
  MappingSpec s = smart_car_spec();
  s.columns = {"speed", "car=car_number", "car2={car_number}", "where={area_number|lower}@{date|substr(0,8)}",
               "meta:src=loggen"};
  RowMapper m(s);
  t2::TPut put;
  std::string reason;
  ASSERT_TRUE(m.map(weir::Record(&b->records[0]), put, reason)) << reason;
  // "car=car_number" is a template without braces: the literal text.
  EXPECT_EQ(cells(put), "cf1:speed=85;cf1:car=car_number;cf1:car2=O0010;cf1:where=f06@20220426;meta:src=loggen;");
}

TEST(RowMapper, EmptyColumnsMeansEveryNonNullField) {
  Records rs;
  const weir_batch* b = rs.batch({{{"a", FakeHost::str("x")}, {"n", weir::null_value()}, {"i", weir::int_value(7)}}});
  MappingSpec s;
  s.row_key = "{a}";
  s.family = "f";
  s.timestamp_field = "i";
  RowMapper m(s);
  t2::TPut put;
  std::string reason;
  ASSERT_TRUE(m.map(weir::Record(&b->records[0]), put, reason)) << reason;
  EXPECT_EQ(cells(put), "f:a=x;f:i=7;");
  EXPECT_EQ(put.timestamp, 7);  // int64 = epoch ms by default
}

TEST(RowMapper, MissingCellsAreSkippedOrRejected) {
  Records rs;
  Fields partial = {{"date", FakeHost::str("20220426061000")}, {"car_number", FakeHost::str("A0001")}};
  const weir_batch* b = rs.batch({partial});
  t2::TPut put;
  std::string reason;
  MappingSpec s = smart_car_spec();
  ASSERT_TRUE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason)) << reason;
  EXPECT_EQ(cells(put), "cf1:date=20220426061000;cf1:car_number=A0001;");
  s.reject_missing_columns = true;
  EXPECT_FALSE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason));
  EXPECT_EQ(reason, "column cf1:speed_pedal: field 'speed_pedal' is missing ({speed_pedal})");
  s.reject_missing_columns = false;
  s.columns = {"speed"};
  EXPECT_FALSE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason));
  EXPECT_EQ(reason, "no cell to write (every mapped field is missing or null)");
}

TEST(RowMapper, TimestampSourcesAndErrors) {
  weir_value v;
  int64_t ms = 0;
  std::string reason;
  EXPECT_TRUE(parse_timestamp_ms(FakeHost::str("20220426061000"), "%Y%m%d%H%M%S", ms, reason));
  EXPECT_EQ(ms, 1650953400000);
  EXPECT_TRUE(parse_timestamp_ms(FakeHost::str("1650953400"), "epoch_s", ms, reason));
  EXPECT_EQ(ms, 1650953400000);
  EXPECT_TRUE(parse_timestamp_ms(weir::int_value(1650953400123456), "epoch_us", ms, reason));
  EXPECT_EQ(ms, 1650953400123);
  EXPECT_TRUE(parse_timestamp_ms(weir::timestamp_value(1650953400123456789), "", ms, reason));
  EXPECT_EQ(ms, 1650953400123);
  EXPECT_FALSE(parse_timestamp_ms(FakeHost::str("2022-04-26"), "%Y%m%d%H%M%S", ms, reason));
  EXPECT_EQ(reason, "\"2022-04-26\" does not match timestamp_format \"%Y%m%d%H%M%S\"");
  EXPECT_FALSE(parse_timestamp_ms(FakeHost::str("x"), "", ms, reason));
  v = weir::double_value(1.5);
  EXPECT_FALSE(parse_timestamp_ms(v, "", ms, reason));

  // Event time (the default): a record without one cannot be written idempotently.
  Records rs;
  const weir_batch* b = rs.batch({smart_car()});
  MappingSpec s = smart_car_spec();
  s.timestamp_field = "_time";
  t2::TPut put;
  EXPECT_FALSE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason));
  EXPECT_EQ(reason, "record has no event time (cell timestamp = event time; set timestamp_field)");
  const_cast<weir_record&>(b->records[0]).event_time_ns = 1650953400999999999;
  ASSERT_TRUE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason)) << reason;
  EXPECT_EQ(put.timestamp, 1650953400999);
  s.timestamp_field = "";  // HBase's clock: no timestamp sent
  ASSERT_TRUE(RowMapper(s).map(weir::Record(&b->records[0]), put, reason)) << reason;
  EXPECT_FALSE(put.__isset.timestamp);
}

TEST(RowMapper, BadSpecsAreRefused) {
  auto error = [](MappingSpec s) -> std::string {
    try {
      RowMapper m(s);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  MappingSpec s = smart_car_spec();
  s.row_key = "constant";
  EXPECT_NE(error(s).find("uses no field"), std::string::npos);
  s = smart_car_spec();
  s.columns = {"speed", "speed={speed}"};
  EXPECT_EQ(error(s), "columns: cf1:speed is mapped twice");
  s = smart_car_spec();
  s.columns = {"=x"};
  EXPECT_NE(error(s).find("needs a qualifier"), std::string::npos);
  s = smart_car_spec();
  s.timestamp_format = "yyyyMMdd";
  EXPECT_NE(error(s).find("timestamp_format must be"), std::string::npos);
}

// ------------------------------------------------------------ splits

TEST(HexSplit, MatchesHBaseRegionSplitterHexStringSplit) {
  // Expected values printed by HBase 2.6.1's RegionSplitter.HexStringSplit().split(n).
  EXPECT_EQ(hex_split_keys(1), std::vector<std::string>{});
  EXPECT_EQ(hex_split_keys(2), std::vector<std::string>{"80000000"});
  EXPECT_EQ(hex_split_keys(3), (std::vector<std::string>{"55555555", "aaaaaaaa"}));
  EXPECT_EQ(hex_split_keys(4), (std::vector<std::string>{"40000000", "80000000", "c0000000"}));
  EXPECT_EQ(hex_split_keys(5), (std::vector<std::string>{"33333333", "66666666", "99999999", "cccccccc"}));
  auto sixteen = hex_split_keys(16);
  ASSERT_EQ(sixteen.size(), 15u);
  EXPECT_EQ(sixteen.front(), "10000000");
  EXPECT_EQ(sixteen.back(), "f0000000");
  EXPECT_THROW(hex_split_keys(0), std::invalid_argument);
  // Smart-car keys start with a reversed timestamp (digits): with 2 regions,
  // keys starting 0-7 land in the first region, 8 and 9 in the second.
  EXPECT_LT(std::string("79999999999999-A0001"), "80000000");
  EXPECT_GT(std::string("80000000000000-A0001"), "80000000");
}

TEST(Endpoint, ParsesHostPortAndRefusesJunk) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:9090").str(), "127.0.0.1:9090");
  EXPECT_EQ(parse_endpoint("[::1]:9090").host, "::1");
  EXPECT_THROW(parse_endpoint("localhost"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("h:0"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("h:99999"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint(":9090"), std::invalid_argument);
  EXPECT_EQ(table_name("ns:t").ns, "ns");
  EXPECT_EQ(table_name("t").qualifier, "t");
}

// ------------------------------------------------------------ weir-hbase conditions

TEST(ScanQuery, ConditionsBecomeServerFiltersAndClientChecks) {
  using weir::hbase::cli::Condition;
  namespace cli = weir::hbase::cli;
  std::vector<Condition> c = {cli::parse_condition("area_number=F06", "cf1"), cli::parse_condition("cf2:car!=O'1", "cf1"),
                              cli::parse_condition("speed>80", "cf1"), cli::parse_condition("speed<=200", "cf1")};
  EXPECT_EQ(c[1].column(), "cf2:car");
  EXPECT_TRUE(c[2].numeric());
  // = and != run in HBase (quotes doubled); > and <= are left to the client.
  EXPECT_EQ(cli::filter_string(c, "6062402202"),
            "RowFilter(=, 'substring:6062402202') AND "
            "SingleColumnValueFilter('cf1', 'area_number', =, 'binary:F06', true, true) AND "
            "SingleColumnValueFilter('cf2', 'car', !=, 'binary:O''1', true, true)");
  auto row = [](const std::string& area, const std::string& speed) {
    t2::TResult r;
    for (auto [q, v] : {std::pair{"area_number", area}, std::pair{"speed", speed}}) {
      t2::TColumnValue cv;
      cv.family = "cf1", cv.qualifier = q, cv.value = v;
      r.columnValues.push_back(cv);
    }
    return r;
  };
  std::vector<Condition> numeric = {c[0], c[2], c[3]};
  EXPECT_TRUE(cli::matches(row("F06", "100"), numeric)) << "100 > 80 as numbers, not as bytes";
  EXPECT_FALSE(cli::matches(row("F06", "80"), numeric));
  EXPECT_FALSE(cli::matches(row("F06", "fast"), numeric));
  EXPECT_FALSE(cli::matches(row("F07", "100"), numeric));
  EXPECT_THROW(cli::parse_condition("speed>fast", "cf1"), std::invalid_argument);
  EXPECT_THROW(cli::parse_condition("speed", "cf1"), std::invalid_argument);
  EXPECT_EQ(cli::prefix_end("000160"), "000161");
  EXPECT_EQ(cli::prefix_end(std::string("a\xff")), "b");
  EXPECT_EQ(cli::parse_time_ms("20220426061000"), 1650953400000);
  EXPECT_EQ(cli::parse_time_ms("1650953400000"), 1650953400000);
  EXPECT_THROW(cli::parse_time_ms("2022-04-26"), std::invalid_argument);
}

// ------------------------------------------------------------ the sink, fake host

// An endpoint where nothing listens: connection refused at once.
const std::string kNowhere = "127.0.0.1:1";

struct Sink {
  FakeHost host{weir_plugin_entry()};
  // Defaults for a smart-car sink; strings/ints given here replace them.
  explicit Sink(const std::map<std::string, std::string>& strings = {}, const std::map<std::string, int64_t>& ints = {}) {
    std::map<std::string, std::string> s = {{"endpoint", kNowhere},
                                            {"table", "DriverCarInfo"},
                                            {"row_key", "{date|reverse}-{car_number}"},
                                            {"column_family", "cf1"},
                                            {"timestamp_field", "date"},
                                            {"timestamp_format", "%Y%m%d%H%M%S"}};
    std::map<std::string, int64_t> i = {{"connect_timeout_ms", 200}};
    for (auto& [k, v] : strings) s[k] = v;
    for (auto& [k, v] : ints) i[k] = v;
    for (auto& [k, v] : s) host.param(keep(k), v);
    for (auto& [k, v] : i) host.param(keep(k), v);
    host.param("columns", kSmartCarColumns);
  }
  // Parameter names must outlive the host.
  const char* keep(const std::string& k) { return names_.emplace_back(k).c_str(); }
  std::deque<std::string> names_;
  int write(const weir_batch* b) { return host.write(b); }  // one attempt, as the host makes it
};

TEST(HBaseSinkFake, RecordMissingARowKeyFieldGoesToTheErrorPort) {
  Sink s;
  ASSERT_EQ(s.host.create(), "");
  ASSERT_EQ(s.host.vt().open(s.host.instance()), WEIR_OK);  // HBase unreachable: warn, keep going
  Fields no_car = smart_car();
  no_car.erase(no_car.begin() + 1);
  // Only bad records: nothing to put, so no HBase needed and the batch is done.
  EXPECT_EQ(s.write(s.host.make_batch({no_car})), WEIR_OK);
  ASSERT_EQ(s.host.rejected.size(), 1u);
  EXPECT_EQ(s.host.rejected[0].substr(0, s.host.rejected[0].find(" | ")),
            "row key {date|reverse}-{car_number}: field 'car_number' is missing ({car_number})");
  EXPECT_NE(s.host.rejected[0].find("\"date\":\"20220426061000\""), std::string::npos);
}

TEST(HBaseSinkFake, UnreachableHBaseMeansRetryAndRejectsAreNotRepeated) {
  Sink s;
  ASSERT_EQ(s.host.create(), "");
  ASSERT_EQ(s.host.vt().open(s.host.instance()), WEIR_OK);
  Fields bad = smart_car();
  bad.erase(bad.begin());  // no date
  const weir_batch* b = s.host.make_batch({smart_car(), bad, smart_car("20220426061002", "A0002")});
  EXPECT_EQ(s.write(b), WEIR_RETRY);
  EXPECT_EQ(s.host.last_reason.find("cannot connect to HBase Thrift2 gateway at 127.0.0.1:1"), 0u) << s.host.last_reason;
  EXPECT_EQ(s.write(b), WEIR_RETRY);  // the host sends the same request again
  EXPECT_EQ(s.host.rejected.size(), 1u) << "a retried batch must not reject its bad records again";
  EXPECT_EQ(s.host.vt().close(s.host.instance()), WEIR_OK);
}

std::string create_error(const std::map<std::string, std::string>& strings,
                         const std::map<std::string, int64_t>& ints = {}) {
  Sink s(strings, ints);
  return s.host.create();
}

TEST(HBaseSinkFake, ParametersAreChecked) {
  EXPECT_EQ(create_error({}), "");
  EXPECT_EQ(create_error({{"endpoint", "nohost"}}), "endpoint 'nohost' must be host:port");
  EXPECT_EQ(create_error({{"transport", "http"}}), "transport must be \"buffered\" or \"framed\", not \"http\"");
  EXPECT_EQ(create_error({{"protocol", "json"}}), "protocol must be \"binary\" or \"compact\", not \"json\"");
  EXPECT_NE(create_error({{"row_key", "{date|rev}"}}).find("row_key: template \"{date|rev}\", column 7: unknown filter 'rev'"),
            std::string::npos);
  EXPECT_EQ(create_error({{"missing_columns", "drop"}}), "missing_columns must be \"skip\" or \"reject\", not \"drop\"");
  EXPECT_EQ(create_error({}, {{"connections", 0}}), "connections must be 1..64");
  EXPECT_EQ(create_error({}, {{"batch_size", 0}}), "batch_size must be >= 1");
  EXPECT_EQ(create_error({}, {{"regions", 2}}), "regions only applies with create_table = true");
}

TEST(HBaseSinkFake, ExampleTomlValidates) {
  auto r = weir::testing::run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/plugins/hbase_sink/example.toml");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// hbase_sink's old time(FORMAT) still validates; the host warns at its file:line:col.
TEST(HBaseSinkFake, OldTimeFilterWarnsWithItsPosition) {
  weir::testing::TempDir dir;
  std::string file = dir.write("old.toml",
                               "[nodes.gen]\nplugin = \"generator\"\n\n"
                               "[nodes.h]\nplugin = \"hbase_sink\"\ninputs = [\"gen\"]\n"
                               "endpoint = \"127.0.0.1:1\"\ntable = \"t\"\ncolumn_family = \"cf\"\n"
                               "row_key = \"{key}-{_time|time(%Y%m%d)}\"\n"
                               "columns = [\"seq\", \"day={_time|date(%d)}\"]\n");
  auto r = weir::testing::run_weir("validate " + file);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(file + ":10:18: hbase_sink \"h\": row_key: '{_time|time(%Y%m%d)}' is an old spelling (it works for "
                       "one more release); write '{_time|date(%Y%m%d)}'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("columns"), std::string::npos) << "date(...) is the new spelling: " << r.err;
}

}  // namespace
