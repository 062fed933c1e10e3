// The SDK's template language (<weir/template.hpp>, docs/templates.md): fields,
// slices, filters, the value-to-text rule, pseudo-fields, constants, errors
// with their column, and the old hbase_sink/redis_sink spellings that still
// render the same while listed as deprecations.
#include <weir/template.hpp>

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace {

// A field value; strings are given as text and kept by the record.
struct V {
  V(weir_value v) : value(v) {}
  V(const char* s) : text(s), is_text(true) {}
  weir_value value{};
  std::string text;
  bool is_text = false;
};
using Fields = std::vector<std::pair<std::string, V>>;

// One record with FIELDS, owning its strings (not copyable: records point into it).
struct OneRecord {
  std::deque<std::string> text;  // a deque never moves what it holds
  std::vector<weir_field> fields;
  weir_record rec{};

  explicit OneRecord(const Fields& fs, int64_t time_ns = 0, const std::string& key = "", const std::string& payload = "") {
    for (const auto& [name, v] : fs) fields.push_back({keep(name), v.is_text ? weir::string_value(keep(v.text)) : v.value});
    rec.fields = fields.data();
    rec.field_count = static_cast<uint32_t>(fields.size());
    rec.event_time_ns = time_ns;
    rec.key = keep(key);
    rec.payload = keep(payload);
    rec.position = {3, 42};
  }
  OneRecord(const OneRecord&) = delete;
  weir_str keep(const std::string& s) {
    text.push_back(s);
    return {text.back().data(), static_cast<uint32_t>(text.back().size())};
  }
  weir::Record record() const { return weir::Record(&rec); }
};

// The smart-car fields (SMARTCAR.md's example line, decoded by csv_decode).
OneRecord smart_car(const char* date = "20220426061000") {
  return OneRecord({{"date", date}, {"car_number", "O0010"}, {"speed", weir::int_value(85)}, {"area_number", "F06"}},
                   1650953400LL * 1'000'000'000);
}

std::string render(const std::string& tmpl, const OneRecord& r, std::string* error = nullptr,
                   const weir::TemplateConstants& constants = {}) {
  std::string out, err;
  bool ok = weir::Template::compile(tmpl, constants).render(r.record(), out, err);
  if (error) *error = err;
  return ok ? out : "<failed>";
}

std::string compile_error(const std::string& tmpl) {
  try {
    weir::Template::compile(tmpl);
  } catch (const weir::TemplateError& e) {
    return e.what();
  }
  return "";
}

TEST(Template, SmartCarRowKeyAndRedisKey) {
  OneRecord car = smart_car();
  EXPECT_EQ(render("{date|reverse}-{car_number}", car), "00016062402202-O0010");
  EXPECT_EQ(render("{date[0:8]}", car), "20220426");
  EXPECT_EQ(render("{car_number}-{date}", car), "O0010-20220426061000");
}

TEST(Template, SlicesArePythonStyleAndStrict) {
  OneRecord car = smart_car();
  EXPECT_EQ(render("{date[8:]}", car), "061000");
  EXPECT_EQ(render("{date[:4]}", car), "2022");
  EXPECT_EQ(render("{date[-6:-4]}", car), "06");
  EXPECT_EQ(render("{date[14:]}", car), "");
  std::string err;
  OneRecord short_date = smart_car("2016");
  EXPECT_EQ(render("{date[0:8]}", short_date, &err), "<failed>");
  EXPECT_EQ(err, "field 'date' is \"2016\" (4 bytes); {date[0:8]} needs 8");
  EXPECT_EQ(render("{date[-6:]}", short_date, &err), "<failed>");
}

TEST(Template, TextFiltersChainLeftToRight) {
  OneRecord g({{"s", "20220426061000"}, {"n", weir::int_value(42)}, {"c", "o0010"}});
  EXPECT_EQ(render("{s|substr(0,8)}", g), "20220426");
  EXPECT_EQ(render("{s|substr(-6,2)}", g), "06");
  EXPECT_EQ(render("{s|substr(100)}", g), "");  // substr clamps, a slice would not
  EXPECT_EQ(render("{s|reverse|substr(0,4)}", g), "0001");
  EXPECT_EQ(render("{n|lpad(6)}", g), "000042");
  EXPECT_EQ(render("{n|lpad(4, x)}", g), "xx42");
  EXPECT_EQ(render("{c|upper}/{c|upper|lower}", g), "O0010/o0010");
  EXPECT_EQ(render("{s[0:8]|reverse}", g), "62402202");
  EXPECT_EQ(render("{{literal}} {n}", g), "{literal} 42");
}

TEST(Template, OneValueToTextRule) {
  OneRecord r({{"d", weir::double_value(0.1)},
               {"big", weir::double_value(1e21)},
               {"inf", weir::double_value(-1.0 / 0.0)},
               {"i", weir::int_value(-7)},
               {"t", weir::bool_value(true)},
               {"f", weir::bool_value(false)},
               {"ts", weir::timestamp_value(1650953400123000000)}});
  EXPECT_EQ(render("{d} {big} {inf} {i} {t} {f} {ts}", r), "0.1 1e+21 -inf -7 true false 1650953400123000000");
  std::string out;
  weir::append_value_text(out, weir::double_value(0.0 / 0.0));
  EXPECT_EQ(out, "nan");
  EXPECT_FALSE(weir::append_value_text(out, weir::null_value()));
}

TEST(Template, DatesAndEpochsOfTimestamps) {
  OneRecord r({{"ts", weir::timestamp_value(1650953400123456789)}}, 1650953400LL * 1'000'000'000);
  EXPECT_EQ(render("{ts|date(%Y%m%d%H%M%S)}", r), "20220426061000");
  EXPECT_EQ(render("{_time|date('%Y-%m-%d, %H:%M')}", r), "2022-04-26, 06:10");
  EXPECT_EQ(render("{ts|epoch_s} {ts|epoch_ms} {ts|epoch_us} {ts|epoch_ns}", r),
            "1650953400 1650953400123 1650953400123456 1650953400123456789");
  EXPECT_EQ(render("{_time|date(%Y%m%d)|reverse}", r), "62402202");
  OneRecord before_1970({{"ts", weir::timestamp_value(-1)}});
  EXPECT_EQ(render("{ts|date(%Y%m%d%H%M%S)} {ts|epoch_s}", before_1970), "19691231235959 -1");
  std::string err;
  OneRecord i({{"x", weir::int_value(1)}});
  EXPECT_EQ(render("{x|date(%Y)}", i, &err), "<failed>");
  EXPECT_EQ(err, "field 'x' is an int64, date() needs a timestamp ({x|date(%Y)})");
}

TEST(Template, MissingOrNullFailsUnlessDefault) {
  OneRecord r({{"x", weir::null_value()}, {"n", weir::int_value(5)}});
  std::string err;
  EXPECT_EQ(render("{y}", r, &err), "<failed>");
  EXPECT_EQ(err, "field 'y' is missing ({y})");
  EXPECT_EQ(render("{x}", r, &err), "<failed>");
  EXPECT_EQ(err, "field 'x' is null ({x})");
  EXPECT_EQ(render("{x|upper|default(n/a)}", r), "n/a");
  EXPECT_EQ(render("{y|default('')}-{n|default(0)}", r), "-5");
  EXPECT_EQ(render("{_time|default(none)}", r), "none");  // event time 0 = unknown
  // A failed render leaves the buffer as it was; a good one appends.
  std::string out = "kept:", why;
  auto t = weir::Template::compile("{n}-{y}");
  EXPECT_FALSE(t.render(r.record(), out, why));
  EXPECT_EQ(out, "kept:");
  EXPECT_TRUE(weir::Template::compile("{n}").render(r.record(), out, why));
  EXPECT_EQ(out, "kept:5");
}

TEST(Template, PseudoFieldsAndConstants) {
  OneRecord r({{"a", weir::int_value(1)}}, 2'000'000'000, "car-1", "raw line");
  EXPECT_EQ(render("{_key}|{_payload}|{_partition}|{_offset}|{_time}", r), "car-1|raw line|3|42|2000000000");
  EXPECT_EQ(render("{_json}", r), "{\"_key\":\"car-1\",\"_payload\":\"raw line\",\"a\":1}");
  std::string err;
  OneRecord bare({{"a", weir::int_value(1)}});
  EXPECT_EQ(render("{_key}", bare, &err), "<failed>");
  EXPECT_EQ(err, "_key is missing ({_key})");
  EXPECT_EQ(render("EXPIRE {a} {ttl_s} {ttl_s[0:3]}", r, nullptr, {{"ttl_s", "604800"}}), "EXPIRE 1 604800 604");
  auto t = weir::Template::compile("{a}-{ttl_s}-{_key}-{a}", {{"ttl_s", "1"}});
  EXPECT_EQ(t.fields(), std::vector<std::string>{"a"});
  EXPECT_FALSE(t.constant());
  EXPECT_TRUE(weir::Template::compile("SADD {ttl_s}", {{"ttl_s", "1"}}).constant());
}

TEST(Template, CompileErrorsSayWhereAndWhat) {
  EXPECT_EQ(compile_error("{date|revers}"), "column 7: unknown filter 'revers'; did you mean 'reverse'?");
  EXPECT_EQ(compile_error("ab{date"), "column 3: '{' is never closed (write '{{' for a literal brace)");
  EXPECT_EQ(compile_error("a}b"), "column 2: unmatched '}' (write '}}' for a literal brace)");
  EXPECT_EQ(compile_error("{_kye}"), "column 2: unknown name '_kye'; did you mean '_key'?");
  EXPECT_NE(compile_error("{}").find("empty name"), std::string::npos);
  EXPECT_NE(compile_error("{x y}").find("'x y' is not a name"), std::string::npos);
  EXPECT_NE(compile_error("{x[1]}").find("needs a ':'"), std::string::npos);
  EXPECT_NE(compile_error("{x[a:]}").find("slice start 'a' is not an integer"), std::string::npos);
  EXPECT_NE(compile_error("{x|substr(a)}").find("substr start must be an integer"), std::string::npos);
  EXPECT_NE(compile_error("{x|reverse(1)}").find("takes 0 argument(s), not 1"), std::string::npos);
  EXPECT_NE(compile_error("{x|reverse|date(%Y)}").find("is the first filter"), std::string::npos);
  EXPECT_NE(compile_error("{x|{y}}").find("'{' inside a placeholder"), std::string::npos);
  EXPECT_NE(compile_error("{x|lpad(5000)}").find("lpad width must be 0..4096"), std::string::npos);
  EXPECT_NE(compile_error("{x|default(a,b)}").find("default takes 1 argument"), std::string::npos);
  EXPECT_EQ(compile_error("{x|default('}')}"), "");  // a quoted argument may hold a brace
}

// Old spellings render what their new spelling renders, and say what to write.
TEST(Template, OldSpellingsRenderTheSameAndAreDeprecated) {
  OneRecord car = smart_car();
  OneRecord t({{"ts", weir::timestamp_value(1650953400123456789)}}, 1650953400123456789);
  struct Case {
    const char* old_spelling;
    const char* new_spelling;
    const OneRecord* rec;
  } cases[] = {
      {"{date:0:8}", "{date[0:8]}", &car},
      {"{date:8}", "{date[8:]}", &car},
      {"{_time_ns}", "{_time}", &t},
      {"{_time_ms}", "{_time|epoch_ms}", &t},
      {"{_time_s}", "{_time|epoch_s}", &t},
      {"{ts|time(%Y%m%d)}", "{ts|date(%Y%m%d)}", &t},
      {"{_time|time(%H)|reverse}", "{_time|date(%H)|reverse}", &t},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.old_spelling);
    auto old_t = weir::Template::compile(std::string("k:") + c.old_spelling);
    ASSERT_EQ(old_t.deprecations().size(), 1u);
    EXPECT_EQ(old_t.deprecations()[0].column, 3u);
    EXPECT_EQ(old_t.deprecations()[0].old_spelling, c.old_spelling);
    EXPECT_EQ(old_t.deprecations()[0].new_spelling, c.new_spelling);
    auto new_t = weir::Template::compile(std::string("k:") + c.new_spelling);
    EXPECT_TRUE(new_t.deprecations().empty());
    std::string a, b, err;
    ASSERT_TRUE(old_t.render(c.rec->record(), a, err)) << err;
    ASSERT_TRUE(new_t.render(c.rec->record(), b, err)) << err;
    EXPECT_EQ(a, b);
  }
  // The old substring keeps failing on a value too short for it, as redis_sink's did.
  std::string err;
  OneRecord short_date = smart_car("2016");
  EXPECT_EQ(render("{date:0:8}", short_date, &err), "<failed>");
  EXPECT_EQ(err, "field 'date' is \"2016\" (4 bytes); {date:0:8} needs 8");
  EXPECT_EQ(render("{_time_ms}", short_date), "1650953400000");
}

}  // namespace
