// Command templates: what parses (and into which argv), what is refused with
// which message, and how record values are rendered (the SDK's template
// language per argument; the old {f:start:len} and _time_* spellings still work).
#include "command_template.hpp"

#include <gtest/gtest.h>

#include <fake_host.hpp>

namespace weir::redis {
namespace {

using Vars = std::map<std::string, std::string>;
using Strings = std::vector<std::string>;

// A record with the given fields (strings kept alive by the test).
struct OneRecord {
  std::deque<std::string> keep;
  std::vector<weir_field> fields;
  weir_record rec{};
  explicit OneRecord(const std::vector<std::pair<std::string, weir_value>>& f, std::string key = "",
                     std::string payload = "") {
    for (auto [name, v] : f) {
      keep.push_back(name);
      weir_str n{keep.back().data(), static_cast<uint32_t>(keep.back().size())};
      if (v.type == WEIR_STRING) {
        keep.emplace_back(v.as.str.data, v.as.str.size);
        v.as.str = {keep.back().data(), static_cast<uint32_t>(keep.back().size())};
      }
      fields.push_back({n, v});
    }
    keep.push_back(key);
    rec.key = {keep.back().data(), static_cast<uint32_t>(keep.back().size())};
    keep.push_back(payload);
    rec.payload = {keep.back().data(), static_cast<uint32_t>(keep.back().size())};
    rec.fields = fields.data();
    rec.field_count = static_cast<uint32_t>(fields.size());
  }
  Record record() const { return Record(&rec); }
};

weir_value s(const char* v) { return weir::testing::FakeHost::str(v); }

Strings render(const std::string& tmpl, const OneRecord& r, const Vars& vars = {}) {
  Argv argv;
  std::string why;
  auto t = CommandTemplate::parse(tmpl, vars);
  EXPECT_TRUE(t.render(r.record(), argv, why)) << why;
  return argv.strings();
}

std::string parse_error(const std::string& tmpl, const Vars& vars = {}) {
  try {
    CommandTemplate::parse(tmpl, vars);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(parsed)";
}

std::string render_error(const std::string& tmpl, const OneRecord& r) {
  Argv argv;
  argv.bytes = "keep";
  argv.ends = {4};
  std::string why;
  auto t = CommandTemplate::parse(tmpl, {});
  EXPECT_FALSE(t.render(r.record(), argv, why));
  EXPECT_EQ(argv.strings(), Strings{"keep"}) << "a failed render leaves the argv as it was";
  return why;
}

const OneRecord kCar({{"date", s("20160103061000")}, {"car_number", s("Z0001")}, {"speed", int_value(85)}});

TEST(CommandTemplate, SmartCarCommands) {
  EXPECT_EQ(render("SADD {date[0:8]} {car_number}-{date}", kCar), (Strings{"SADD", "20160103", "Z0001-20160103061000"}));
  EXPECT_EQ(render("SADD {date:0:8} {car_number}-{date}", kCar), (Strings{"SADD", "20160103", "Z0001-20160103061000"}));
  EXPECT_EQ(render("EXPIRE {date:0:8} {ttl_s}", kCar, {{"ttl_s", "604800"}}),
            (Strings{"EXPIRE", "20160103", "604800"}));
}

TEST(CommandTemplate, ArgumentsAndQuotes) {
  auto t = CommandTemplate::parse("  SET   a  b ", {});
  EXPECT_EQ(t.argc(), 3u);
  EXPECT_EQ(t.name(), "SET");
  EXPECT_EQ(render("SET k \"two words\" x\"y z\"w", kCar), (Strings{"SET", "k", "two words", "xy zw"}));
  EXPECT_EQ(render("SET k \"\"", kCar), (Strings{"SET", "k", ""}));
  EXPECT_EQ(render(R"(SET k "a\"b\\c\n")", kCar), (Strings{"SET", "k", "a\"b\\c\n"}));
  EXPECT_EQ(render("SET {{x}} }}", kCar), (Strings{"SET", "{x}", "}"}));
  EXPECT_EQ(render("SET \"{car_number} at {speed}\" v", kCar), (Strings{"SET", "Z0001 at 85", "v"}));
  EXPECT_EQ(render("SET back\\slash v", kCar), (Strings{"SET", "back\\slash", "v"}))
      << "backslash is literal outside quotes";
}

TEST(CommandTemplate, ValuesWithSpacesStayOneArgument) {
  OneRecord r({{"name", s("a b  c")}, {"empty", s("")}});
  EXPECT_EQ(render("HSET h:{name} name {name} e {empty}", r), (Strings{"HSET", "h:a b  c", "name", "a b  c", "e", ""}));
}

TEST(CommandTemplate, ValueFormatting) {
  OneRecord r({{"i", int_value(-42)},
               {"d", double_value(0.1)},
               {"big", double_value(1e21)},
               {"inf", double_value(1.0 / 0.0)},
               {"t", bool_value(true)},
               {"f", bool_value(false)},
               {"ts", timestamp_value(1650953400000000000)}});
  EXPECT_EQ(render("X {i} {d} {big} {inf} {t} {f} {ts}", r),
            (Strings{"X", "-42", "0.1", "1e+21", "inf", "true", "false", "1650953400000000000"}))
      << "one value-to-text rule for every plugin: booleans are true/false (redis_sink wrote 1/0 before)";
}

TEST(CommandTemplate, Substrings) {
  EXPECT_EQ(render("X {date:8} {date:0:4} {date:4:2} {speed:1}", kCar), (Strings{"X", "061000", "2016", "01", "5"}));
  EXPECT_EQ(render("X {date:14}", kCar), (Strings{"X", ""})) << "start at the end gives an empty string";
}

TEST(CommandTemplate, Metadata) {
  OneRecord r({{"a", int_value(1)}}, "car-7", "raw line");
  r.rec.event_time_ns = 1650953400123456789;
  r.rec.position = {3, 99};
  EXPECT_EQ(
      render("X {_key} {_payload} {_time_ns} {_time_ms} {_time_s} {_partition} {_offset} {_key:0:3}", r),
      (Strings{"X", "car-7", "raw line", "1650953400123456789", "1650953400123", "1650953400", "3", "99", "car"}));
  EXPECT_EQ(render("X {_time} {_time|epoch_ms} {_time|epoch_s} {_key[0:3]}", r),
            (Strings{"X", "1650953400123456789", "1650953400123", "1650953400", "car"}));
  EXPECT_EQ(render("SET \"{_time|date('%Y-%m-%d %H')}\" {car|default(no car)}", r),
            (Strings{"SET", "2022-04-26 06", "no car"}))
      << "a placeholder is one piece: spaces in its arguments do not split the command";
  EXPECT_EQ(render("PUBLISH ch {_json}", r),
            (Strings{"PUBLISH", "ch", R"({"_key":"car-7","_payload":"raw line","a":1})"}));
}

TEST(CommandTemplate, VarsAreConstants) {
  auto t = CommandTemplate::parse("SET {prefix}:{id} {prefix:0:2}", {{"prefix", "weirtest"}});
  EXPECT_TRUE(t.fields() == Strings{"id"});
  EXPECT_EQ(render("SET {prefix}:{id} {prefix:0:2}", OneRecord({{"id", int_value(5)}}), {{"prefix", "weirtest"}}),
            (Strings{"SET", "weirtest:5", "we"}));
  EXPECT_EQ(render("SET {id} 1", OneRecord({{"id", int_value(5)}}), {{"id", "var wins"}}),
            (Strings{"SET", "var wins", "1"}))
      << "a var shadows a field of the same name (documented)";
}

TEST(CommandTemplate, SyntaxErrors) {
  EXPECT_EQ(parse_error(""), "empty command");
  EXPECT_EQ(parse_error("   "), "empty command");
  EXPECT_EQ(parse_error("SADD {date"), "'{' is never closed (write '{{' for a literal brace) at column 6");
  EXPECT_EQ(parse_error("SADD {da{te}"), "'{' inside a placeholder (quote it in an argument: default('{')) at column 9");
  EXPECT_EQ(parse_error("SADD date} x"), "unmatched '}' (write '}}' for a literal brace) at column 10");
  EXPECT_EQ(parse_error("SADD {} x"), "empty name in '{}' at column 7");
  EXPECT_EQ(parse_error("SADD {:0:8} x"), "empty name in '{:0:8}' at column 7");
  EXPECT_EQ(parse_error("SADD {date:x:8} x"), "'{date:x:8}': expected {name[start:end]} at column 7");
  EXPECT_EQ(parse_error("SADD {date:-1:8} x"), "'{date:-1:8}': expected {name[start:end]} at column 7");
  EXPECT_EQ(parse_error("SADD {date:0:0} x"), "'{date:0:0}': expected {name[start:end]} at column 7");
  EXPECT_EQ(parse_error("SADD {date:0:} x"), "'{date:0:}': expected {name[start:end]} at column 7");
  EXPECT_EQ(parse_error("SADD {date:0:8:1} x"), "'{date:0:8:1}': expected {name[start:end]} at column 7");
  EXPECT_EQ(parse_error("SADD {date[x:8]} x"), "slice start 'x' is not an integer (at most 9 digits) at column 7");
  EXPECT_EQ(parse_error("SADD {date|revers} x"), "unknown filter 'revers'; did you mean 'reverse'? at column 12");
  EXPECT_EQ(parse_error("SADD \"{da te}\" x"), "'da te' is not a name at column 8");
  EXPECT_EQ(parse_error("SADD \"key x"), "unclosed '\"' at column 6");
  EXPECT_EQ(parse_error("SADD \"k\\q\" x"),
            "unknown escape '\\q' at column 8 (inside quotes: \\\", \\\\, \\n, \\r, \\t)");
  EXPECT_EQ(parse_error("SADD {_kye} x"), "unknown name '_kye'; did you mean '_key'? at column 7");
  EXPECT_EQ(parse_error("SADD {_whatever} x"),
            "unknown name '_whatever' (names starting with '_' are reserved: _key, _payload, _json, _time, _partition, "
            "_offset) at column 7");
  EXPECT_EQ(parse_error("EXPIRE k {ttl:0:9}", {{"ttl", "604800"}}), "ttl is \"604800\" (6 bytes); {ttl:0:9} needs 9 at column 10");
  EXPECT_EQ(parse_error("EXPIRE \"k\\n\" {ttl[0:9]}", {{"ttl", "604800"}}),
            "ttl is \"604800\" (6 bytes); {ttl[0:9]} needs 9 at column 14")
      << "columns count in the command as written, escapes included";
}

TEST(CommandTemplate, MissingOrShortValuesAreTheRecordsProblem) {
  EXPECT_EQ(render_error("SADD {date:0:8} {car}", kCar), "field 'car' is missing ({car})");
  EXPECT_EQ(render_error("SADD {day:0:8} x", kCar), "field 'day' is missing ({day:0:8})");
  OneRecord shortdate({{"date", s("2016")}, {"n", null_value()}});
  EXPECT_EQ(render_error("SADD {date:0:8} x", shortdate), "field 'date' is \"2016\" (4 bytes); {date:0:8} needs 8");
  EXPECT_EQ(render_error("SADD {date:5} x", shortdate), "field 'date' is \"2016\" (4 bytes); {date:5} needs 5");
  EXPECT_EQ(render_error("SADD k {n}", shortdate), "field 'n' is null ({n})");
  EXPECT_EQ(render_error("SADD {date[0:8]} x", shortdate), "field 'date' is \"2016\" (4 bytes); {date[0:8]} needs 8");
  EXPECT_EQ(render_error("SADD {_key} x", shortdate), "_key is missing ({_key})");
  EXPECT_EQ(render_error("SADD k {_payload}", shortdate), "_payload is missing ({_payload})");
  EXPECT_EQ(render_error("ZADD z {_time_ms} x", shortdate), "_time_ms is missing ({_time_ms})");
  OneRecord key({}, "ab");
  EXPECT_EQ(render_error("SADD {_key:1:5} x", key), "_key is \"ab\" (2 bytes); {_key:1:5} needs 6");
}

TEST(CommandTemplate, RenderAppendsToAnArgvInProgress) {
  Argv argv;
  std::string why;
  auto a = CommandTemplate::parse("SADD {date:0:8} {car_number}", {});
  ASSERT_TRUE(a.render(kCar.record(), argv, why));
  ASSERT_TRUE(a.render(kCar.record(), argv, why));
  EXPECT_EQ(argv.strings(), (Strings{"SADD", "20160103", "Z0001", "SADD", "20160103", "Z0001"}));
}

}  // namespace
}  // namespace weir::redis
