// The engine alone: parse and compile errors (`file:line:col: message`),
// column naming, value formatting, hot-reload adoption and saved state; and
// RuleSet's rules given as text (the rule store's versions).
#include "compile_error.hpp"
#include "engine.hpp"
#include "eval.hpp"
#include "flat_index.hpp"
#include "parser.hpp"
#include "rule_set.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace weir::cep;

namespace {

// eval_true answers a comparison of two long properties or literals itself:
// the same as eval's comparison, for every operator, null and a double
// operand (which take eval's way).
TEST(CepEval, TheLongComparisonShortcutAnswersAsEval) {
  auto leaf = [](ExprKind k, int index, Value v) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->index = index;
    e->literal = std::move(v);
    return e;
  };
  const Value values[] = {Value::of_long(-5), Value::of_long(0), Value::of_long(7), Value::of_long(INT64_MIN),
                          Value::of_long(INT64_MAX), Value(), Value::of_double(7.0)};
  size_t checked = 0;
  for (BinOp op : {BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge})
    for (const Value& l : values)
      for (const Value& r : values) {
        Expr e;
        e.kind = ExprKind::Binary;
        e.op = op;
        e.a = leaf(ExprKind::Prop, 1, Value());
        e.b = leaf(ExprKind::Literal, 0, r);
        std::vector<Value> row{Value::of_long(99), l};
        EvalEnv env{row.data(), nullptr};
        Value v = eval(e, env);
        EXPECT_EQ(eval_true(e, env), v.type() == Type::Bool && v.as_bool())
            << format_value(l) << " op " << static_cast<int>(op) << " " << format_value(r);
        ++checked;
      }
  EXPECT_EQ(checked, 6u * 7 * 7);
}

std::string parse_error(const std::string& text) {
  try {
    parse_module(text, "r.epl");
  } catch (const EplError& e) {
    return e.what();
  }
  return "";
}

const EventType kEv{"Ev", {{"ts", Type::Long}, {"sym", Type::String}, {"price", Type::Double}, {"qty", Type::Long}, {"ok", Type::Bool}}};

std::string compile_error(const std::string& text) { return compile_error(text, kEv); }

TEST(CepParser, SyntaxErrorsArePositioned) {
  EXPECT_EQ(parse_error("select from Ev"), "r.epl:1:8: expected an expression, found the keyword 'from'");
  EXPECT_EQ(parse_error("select a\nfrom Ev\nwhere a >"), "r.epl:3:10: expected an expression, found the end of the input");
  EXPECT_EQ(parse_error("select 'abc from Ev"), "r.epl:1:8: unterminated string literal");
  EXPECT_EQ(parse_error("select a from Ev#time(30 parsecs)"), "r.epl:1:26: expected a time unit (msec, sec, min, hour), found 'parsecs'");
  EXPECT_EQ(parse_error("select a from Ev#sorted(3)"), "r.epl:1:17: unsupported view 'sorted' (supported: time, time_batch, length, length_batch, time_length_batch, "
            "ext_timed, keepall, unique, firstevent, lastevent, groupwin)");
  EXPECT_EQ(parse_error("select a from Ev#length_batch(0)"), "r.epl:1:31: #length_batch needs a positive integer number of events");
  EXPECT_EQ(parse_error("select mediun(a) from Ev"), "r.epl:1:8: unknown function 'mediun' (supported: count, sum, avg, min, max)");
  EXPECT_EQ(parse_error("select a from Ev output every 3 apples"), "r.epl:1:33: expected a time unit (msec, sec, min, hour), found 'apples'");
  EXPECT_EQ(parse_error("select a from Ev\n  where a ~ 2"), "r.epl:2:11: unexpected character '~'");
  EXPECT_EQ(parse_error("select a from Ev; select b frm Ev"), "r.epl:1:28: expected 'from', found 'frm'");
  EXPECT_EQ(parse_error("create variable decimal128 x = 1"), "r.epl:1:17: unknown variable type 'decimal128' (use long, int, double, float, string or boolean)");
  EXPECT_EQ(parse_error("select a from Ev#time(1 sec)#length(2)"), "r.epl:1:29: cep_rule does not support more than one data window per stream (Esper intersects them); only "
            "#groupwin(...) may come before the data window");
  EXPECT_EQ(parse_error("/* never closed\nselect a from Ev"), "r.epl:1:1: unterminated /* comment");
  EXPECT_EQ(parse_error("select " + std::string(500, '(') + "1" + std::string(500, ')') + " from Ev"),
            "r.epl:1:208: expression nested too deeply");
}

// Esper constructs the engine does not implement are named as unsupported,
// with the position of the construct, not reported as a generic syntax error
// (`order by` right after `from` used to be read as a stream alias: "found 'by'").
TEST(CepParser, UnsupportedConstructsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"select * from Ev order by sym", "1:18: cep_rule does not support 'order by'"},
      {"select * from Ev#length(3) limit 5", "1:28: cep_rule does not support 'limit'"},
      {"select * from Ev as e order by sym", "1:23: cep_rule does not support 'order by'"},
      {"select a.sym from pattern [every-distinct(a.sym) a=Ev]", "1:28: cep_rule does not support 'every-distinct'"},
      {"select * from Ev match_recognize (measures A.sym as s all matches pattern (A) define A as true)",
       "1:55: cep_rule does not support 'all matches' in match_recognize"},
      {"create context C initiated by Ev as e terminated after 5 sec",
       "1:18: cep_rule does not support overlapping and non-overlapping contexts ('initiated by', 'start ... end')"},
      {"create table T (a string)", "1:1: cep_rule does not support a table without a primary key"},
      {"create table T (k string primary key, a avg(distinct double))", "1:45: cep_rule does not support 'distinct' in a table column"},
      {"create table T (n count(*))", "1:1: cep_rule does not support a table without a primary key"},
      {"create table T (k string primary key, n count(double))", "1:41: cep_rule does not support 'count(type)' as a table column (use count(*))"},
      {"create table T (k string primary key, m median(double))", "1:41: cep_rule does not support the table aggregation 'median' "
                                                                  "(supported: count, sum, avg, min, max)"},
      {"create schema S (a string)", "1:1: cep_rule does not support 'create schema'"},
      {"create context ByCar partition by sym, qty + 1 from Ev", "1:44: a 'partition by' key must be a property of the stream"},
      {"insert into X on Ev delete from W", "1:15: cep_rule does not support 'on ...' statements with 'context' or 'insert into'"},
      {"on Ev select and delete a from W", "1:14: cep_rule does not support 'on ... select and delete'"},
      {"select distinct sym from Ev", "1:8: cep_rule does not support 'select distinct'"},
      {"select prevtail(qty) from Ev#length(2)", "1:8: cep_rule does not support the function 'prevtail'"},
      {"select prev(qty) from Ev#length(2)", "1:13: cep_rule does not support prev() without a constant index (write prev(1, expr))"},
      {"select * from Ev where qty in [1:3]", "1:31: cep_rule does not support ranges in 'in [a:b]'"},
      {"select Math.random() from Ev", "1:8: cep_rule does not support Math.random()"},
      {"select sym.replace('a', 'b') from Ev", "1:8: cep_rule does not support the method 'replace()'"},
      {"select cast(sym, date) from Ev", "1:18: cep_rule does not support cast to 'date' (cast to long, int, double, float, string or boolean)"},
      {"select count(all sym) from Ev", "1:14: cep_rule does not support 'all' in an aggregate"},
      {"select * from Ev, Ev2", "1:17: cep_rule does not support joins (more than one stream in 'from')"},
      {"select * from Ev e inner join Ev2 f on e.sym = f.sym", "1:20: cep_rule does not support joins (more than one stream in 'from')"},
      {"select * from Ev where qty > (select max(qty) from Ev2)", "1:30: cep_rule does not support subqueries"},
      {"select * from Ev output when qty > 3", "1:25: cep_rule does not support 'output when'"},
      {"select 0x10 from Ev", "1:8: hexadecimal literals (0x...) are not supported: write the number in decimal"},
      {"create variable short s = 1", "1:17: variable type 'short' is not supported (use long, int, double, float, string or boolean)"},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(parse_error(text), "r.epl:" + want) << text;
}

TEST(CepCompiler, ExpressionTypeErrors) {
  EXPECT_EQ(compile_error("select case when qty > 1 then 'a' else 2 end from Ev"),
            "r.epl:1:8: cannot mix string and long in the results of a case expression");
  EXPECT_EQ(compile_error("select case when qty then 1 end from Ev"), "r.epl:1:18: a 'when' condition must be a boolean expression, not long");
  EXPECT_EQ(compile_error("select qty like 'a%' from Ev"), "r.epl:1:8: 'like' needs a string, not long");
  EXPECT_EQ(compile_error("select sym regexp '(' from Ev"), "r.epl:1:19: invalid regular expression: " +
                                                                 std::string(std::regex_error(std::regex_constants::error_paren).what()));
  EXPECT_EQ(compile_error("select qty || 'x' from Ev"),
            "r.epl:1:8: implicit conversion from datatype 'Long' to string is not allowed ('||')");
  EXPECT_EQ(compile_error("select sym in (1, 2) from Ev"), "r.epl:1:16: cannot compare string with long");
  EXPECT_EQ(compile_error("select Math.round(qty) from Ev"),
            "r.epl:1:8: Math.round of a whole number is not supported (Java would round it as a float)");
  EXPECT_EQ(compile_error("select cast(ok, long) from Ev"), "r.epl:1:8: cannot cast boolean to long");
  EXPECT_EQ(compile_error("select prev(1, qty) from Ev#time_batch(1 sec)"),
            "r.epl:1:8: prev() is only supported on a #length or #time window (Esper evaluates it over a batch at its end)");
  EXPECT_EQ(compile_error("select irstream prev(1, qty) from Ev#length(2)"),
            "r.epl:1:17: prev() with select irstream/rstream is not supported (Esper evaluates it again when the event leaves)");
  EXPECT_EQ(compile_error("select prev(1, prior(1, qty)) from Ev#length(3)"), "r.epl:1:8: prev() cannot be nested");
  EXPECT_EQ(compile_error("select prior(1, sum(qty)) from Ev"), "r.epl:1:17: aggregate functions are not allowed in the prior() argument");
  EXPECT_EQ(compile_error("select prior(1, qty * 2) from Ev"), "r.epl:1:21: prior() needs a property of the stream (as Esper), e.g. prior(1, price)");
  // Esper posts a row per group when prev()/prior() read only group keys (random comparison).
  const std::string over_keys =
      "() of a group-by property, in a statement whose other columns are aggregates or group keys, is not supported "
      "(Esper then posts a row per group, not per event); add a property outside the group by or put prev()/prior() in "
      "an aggregate";
  EXPECT_EQ(compile_error("select prior(2, sym) as ps, count(*) as n from Ev#length(4) group by sym"), "r.epl:1:8: prior" + over_keys);
  EXPECT_EQ(compile_error("select sym, count(*) as n from Ev#length(4) group by sym having prev(1, sym) = 'A'"),
            "r.epl:1:65: prev" + over_keys);
  EXPECT_EQ(compile_error("select prior(2, sym) as ps, qty, count(*) as n from Ev#length(4) group by sym"), "");
  EXPECT_EQ(compile_error("select prior(1, qty) as pq, count(*) as n from Ev#length(4) group by sym"), "");
  // Esper 8.9's prior() under output all differs without a window or over a batch window (random comparison).
  const std::string output_all =
      "prior() with output rate limiting is only supported on a #length or #time window (Esper 8.9 evaluates it "
      "differently without a window or over a batch window)";
  EXPECT_EQ(compile_error("select prior(1, qty) as pq from Ev output all every 3 events"), "r.epl:1:8: " + output_all);
  EXPECT_EQ(compile_error("select prior(1, qty) as pq from Ev#time_batch(1 sec) output every 4 events"),
            "r.epl:1:8: " + output_all);
  EXPECT_EQ(compile_error("select prior(1, qty) as pq, sum(qty) as s from Ev output every 5 seconds"), "r.epl:1:8: " + output_all);
  EXPECT_EQ(compile_error("select prior(1, qty) as pq from Ev#length(2) output all every 3 events"), "");
  EXPECT_EQ(compile_error("select sym like 'a' escape 'ab' from Ev"), "r.epl:1:28: the escape of 'like' must be a one-character string literal");
}

TEST(CepCompiler, ContextErrorsArePositioned) {
  EXPECT_EQ(compile_error("context ByCar select count(*) from Ev"), "r.epl:1:9: unknown context 'ByCar' (declare it with 'create context')");
  EXPECT_EQ(compile_error("create context ByCar partition by sym from Ev; context ByCar select context.key2 from Ev"),
            "r.epl:1:69: context 'ByCar' has no property 'key2' (it has: name, id, key1)");
  EXPECT_EQ(compile_error("select context.id from Ev"),
            "r.epl:1:8: 'context.id' outside a context: the statement needs 'context NAME' before 'select'");
  EXPECT_EQ(compile_error("create context ByCar partition by nope from Ev; context ByCar select count(*) from Ev"),
            "r.epl:1:35: unknown property or variable 'nope' (stream 'Ev' has: ts, sym, price, qty, ok)");
  EXPECT_EQ(compile_error("create context H coalesce by consistent_hash_crc32(qty) from Ev granularity 4; "
                          "context H select count(*) from Ev"),
            "r.epl:1:52: consistent_hash_crc32 needs a string, not long (use hash_code)");
  EXPECT_EQ(compile_error("create context C group by qty as big from Ev; context C select count(*) from Ev"),
            "r.epl:1:27: a context category needs a boolean condition, not long");
  EXPECT_EQ(compile_error("create context ByCar partition by sym from Ev; insert into S select sym from Ev; "
                          "context ByCar select count(*) from S"),
            "r.epl:1:117: context 'ByCar' does not partition stream 'S': add it to the 'create context' or read one of its streams");
}

// A flat chain of binary operators is parsed by a loop but makes a tree as
// tall as the chain, which the compiler walks recursively: some 30 000 terms
// overflowed the stack in Compiler::bind. Refused at parse time, with a
// position, like any bad rule; a long but reasonable chain still runs.
std::string chain(const std::string& term, const std::string& op, int n) {
  std::string s = term;
  for (int i = 1; i < n; ++i) s += op + term;
  return s;
}

TEST(CepParser, AVeryLongOperatorChainIsRefusedNotAStackOverflow) {
  const std::string refused = "expression too long: more than 1000 operators in a chain or nested";
  for (const auto& [term, op] : std::vector<std::pair<std::string, std::string>>{
           {"ok", " and "}, {"ok", " or "}, {"qty", "+"}, {"qty", "*"}, {"price", " - "}, {"qty", " % "}}) {
    std::string err = compile_error("select * from Ev where " + chain(term, op, 30000) + " is not null");
    EXPECT_NE(err.find(refused), std::string::npos) << op << ": " << err;
    EXPECT_EQ(err.rfind("r.epl:1:", 0), 0u) << err;
  }
  // Unary operators and aggregates count too.
  EXPECT_NE(parse_error("select " + chain("-1*qty", "*", 20000) + " from Ev").find(refused), std::string::npos);
  EXPECT_NE(parse_error("select " + chain("sum(qty)", "+", 30000) + " from Ev").find(refused), std::string::npos);

  // 900 terms compile and evaluate.
  Engine e(parse_module("select " + chain("qty", "+", 900) + " as s from Ev where " + chain("ok", " and ", 900) + ";", "r.epl"),
           {kEv}, {});
  std::vector<std::string> got;
  e.set_listener([&](const Delivery& d) { got.push_back(format_value(d.inew.row(0)[0])); });
  std::vector<Value> row{Value::of_long(0), Value::of_string("A"), Value::of_double(1), Value::of_long(2), Value::of_bool(true)};
  e.send_at(0, row.data(), 0);
  EXPECT_EQ(got, (std::vector<std::string>{"1800"}));
}

// #time_batch(period [, reference point] [, 'flags']), as Esper 8.9 reads it.
TEST(CepParser, TimeBatchReferencePointAndFlags) {
  Module m = parse_module(
      "select a from Ev#time_batch(30 sec, 0L); select a from Ev.win:time_batch(10 sec, 'force_update');"
      "select a from Ev#time_batch(10 sec, 1000*2, 'FORCE_UPDATE'); select a from Ev#time_batch(1 min, \"START_EAGER, \")",
      "r.epl");
  ASSERT_EQ(m.statements.size(), 4u);
  EXPECT_EQ(m.statements[0].window.size, 30'000);
  ASSERT_TRUE(m.statements[0].window_reference);
  EXPECT_FALSE(m.statements[0].window.force_update);
  EXPECT_FALSE(m.statements[1].window_reference);
  EXPECT_TRUE(m.statements[1].window.force_update);
  EXPECT_FALSE(m.statements[1].window.start_eager);
  EXPECT_TRUE(m.statements[2].window_reference);
  EXPECT_TRUE(m.statements[2].window.force_update);
  EXPECT_TRUE(m.statements[3].window.start_eager);
  EXPECT_TRUE(m.statements[3].window.force_update);  // START_EAGER implies FORCE_UPDATE (Esper's TimeBatchFlags)

  EXPECT_EQ(parse_error("select a from Ev#time_batch(10 sec, 0L, 'FORCE_UPDATE, NOW')"),
            "r.epl:1:41: unknown #time_batch flag 'now' (valid: FORCE_UPDATE, START_EAGER)");
  EXPECT_EQ(parse_error("select a from Ev#time_batch(10 sec, 0L, 5)"),
            "r.epl:1:41: expected the #time_batch flags as a string such as 'FORCE_UPDATE, START_EAGER', found the number 5");
  EXPECT_EQ(parse_error("select a from Ev#time_batch(10 sec, 'FORCE_UPDATE', 0L)"),
            "r.epl:1:37: the #time_batch flags come last, after the reference point, e.g. #time_batch(30 sec, 0L, 'FORCE_UPDATE')");
}

TEST(CepParser, BothViewSpellingsAndUnits) {
  Module m = parse_module(
      "select a from Ev.win:time(1 minute 30 seconds); select a from Ev#time_batch(1500 msec);"
      "select a from Ev.win:length_batch(4); select a from Ev#length(2); select a from Ev#time(2);",
      "r.epl");
  ASSERT_EQ(m.statements.size(), 5u);
  EXPECT_EQ(m.statements[0].window.kind, WindowKind::Time);
  EXPECT_EQ(m.statements[0].window.size, 90'000);
  EXPECT_EQ(m.statements[1].window.kind, WindowKind::TimeBatch);
  EXPECT_EQ(m.statements[1].window.size, 1'500);
  EXPECT_EQ(m.statements[2].window.kind, WindowKind::LengthBatch);
  EXPECT_EQ(m.statements[2].window.size, 4);
  EXPECT_EQ(m.statements[3].window.kind, WindowKind::Length);
  EXPECT_EQ(m.statements[4].window.size, 2'000);  // a bare number is seconds
}

TEST(CepParser, ViewErrorsArePositioned) {
  EXPECT_EQ(parse_error("select a from Ev#groupwin(a) where a > 1"),
            "r.epl:1:17: #groupwin(...) needs a data window after it, e.g. #groupwin(car)#length(3)");
  EXPECT_EQ(parse_error("select a from Ev#groupwin(a)#time(3 sec)"),
            "r.epl:1:29: cep_rule does not support #groupwin(...)#time (supported after #groupwin: #length, #unique, "
            "#firstevent, #lastevent and #keepall)");
  EXPECT_EQ(parse_error("select a from Ev#unique(a)#length(3)"),
            "r.epl:1:27: cep_rule does not support more than one data window per stream (Esper intersects them); only "
            "#groupwin(...) may come before the data window");
  EXPECT_EQ(parse_error("select a from Ev#time_length_batch(10 sec, 0)"),
            "r.epl:1:44: #time_length_batch needs a positive integer number of events");
  EXPECT_EQ(parse_error("select a from Ev#time_length_batch(10 sec, 3, 'FAST')"),
            "r.epl:1:47: unknown #time_length_batch flag 'fast' (valid: FORCE_UPDATE, START_EAGER)");
  EXPECT_EQ(parse_error("select a from Ev#ext_timed(ts)"), "r.epl:1:30: expected ',', found ')'");
}

TEST(CepCompiler, ViewParameterErrors) {
  EXPECT_EQ(compile_error("select max(price) as m from Ev#unique(sym)"),
            "r.epl:1:31: max() over #unique(sym) is not supported (events leave it out of arrival order)");
  EXPECT_EQ(compile_error("select min(price) as m from Ev#groupwin(sym)#length(2)"),
            "r.epl:1:45: min() over #groupwin(sym)#length(2) is not supported (events leave it out of arrival order)");
  EXPECT_EQ(compile_error("select sym from Ev#ext_timed(sym, 10 sec)"),
            "r.epl:1:30: the #ext_timed timestamp must be a long (milliseconds), not string");
  EXPECT_EQ(compile_error("select sym from Ev#unique(nosuch)"),
            "r.epl:1:27: unknown property or variable 'nosuch' (stream 'Ev' has: ts, sym, price, qty, ok)");
  EXPECT_EQ(compile_error("select prev(1, sym) as p from Ev#groupwin(sym)#length(2)"),
            "r.epl:1:8: prev() over #groupwin(sym)#length(2) is not supported (Esper counts the previous events per key)");
  EXPECT_EQ(compile_error("select max(price) as m from Ev#ext_timed(ts, 10 sec)"), "");
  EXPECT_EQ(compile_error("select prior(1, qty) as p from Ev#groupwin(sym)#firstevent()"),
            "r.epl:1:8: prior() over #groupwin(sym)#firstevent() is not supported (Esper counts the prior events per group)");
  EXPECT_EQ(compile_error("select prior(1, qty) as p from Ev#unique(sym)"), "");
}

TEST(CepCompiler, SemanticErrorsArePositioned) {
  EXPECT_EQ(compile_error("select avg(sym) from Ev"),
            "r.epl:1:12: implicit conversion from datatype 'String' to numeric is not allowed for aggregation function 'avg'");
  EXPECT_EQ(compile_error("select sym from Ev\nwhere nope > 1"),
            "r.epl:2:7: unknown property or variable 'nope' (stream 'Ev' has: ts, sym, price, qty, ok)");
  EXPECT_EQ(compile_error("select sym from Ev where sum(qty) > 1"), "r.epl:1:26: aggregate functions are not allowed in the where clause");
  EXPECT_EQ(compile_error("select sum(avg(qty)) from Ev"), "r.epl:1:12: aggregate functions cannot be nested");
  EXPECT_EQ(compile_error("select sym from Ev where price"), "r.epl:1:26: the where clause must be a boolean expression, not double");
  EXPECT_EQ(compile_error("select sym + 1 from Ev"), "r.epl:1:8: implicit conversion from datatype 'String' to numeric is not allowed");
  EXPECT_EQ(compile_error("select sym = 1 as x from Ev"), "r.epl:1:12: cannot compare string with long");
  EXPECT_EQ(compile_error("select sym from Nope"), "r.epl:1:17: unknown stream 'Nope' (known: Ev)");
  EXPECT_EQ(compile_error("select sym, qty as sym from Ev"), "r.epl:1:13: column name 'sym' appears more than once in the select clause (use 'as')");
  EXPECT_EQ(compile_error("select e.sym from Ev as x"), "r.epl:1:8: unknown stream or alias 'e' (the statement reads 'Ev' as 'x')");
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(0 sec)"), "r.epl:1:19: #time_batch needs a positive time period");
}

TEST(CepCompiler, TimeBatchReferencePointIsALongConstant) {
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(10 sec, 0.5)"),
            "r.epl:1:39: the #time_batch reference point must be a long (milliseconds since the epoch, e.g. 0L), not double");
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(10 sec, 60000/2)"),  // long/long is a double in EPL
            "r.epl:1:44: the #time_batch reference point must be a long (milliseconds since the epoch, e.g. 0L), not double");
  EXPECT_EQ(compile_error("create variable long r = 0; select sym from Ev#time_batch(10 sec, r)"),
            "r.epl:1:67: the #time_batch reference point must be a constant: milliseconds since the epoch, e.g. 0L");
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(10 sec, 'x' = 'x')"),
            "r.epl:1:43: the #time_batch reference point must be a long (milliseconds since the epoch, e.g. 0L), not boolean");
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(10 sec, 1 % 0)"),
            "r.epl:1:41: the #time_batch reference point must be a long (milliseconds since the epoch, e.g. 0L), not null");
  // Esper 8.9 would silently align a START_EAGER window to the statement's start instead.
  EXPECT_EQ(compile_error("select sym from Ev#time_batch(10 sec, 0L, 'START_EAGER')"),
            "r.epl:1:39: #time_batch with START_EAGER ignores the reference point in Esper 8.9 (its batches align to the "
            "statement's start): drop the reference point or START_EAGER");
  Engine e(parse_module("select sym from Ev#time_batch(10 sec, -2*1000)", "r.epl"), {kEv}, {});
  EXPECT_TRUE(e.statement(0).plan().window.has_reference);
  EXPECT_EQ(e.statement(0).plan().window.reference, -2000);
}

// Combinations whose Esper results are not pinned down, or hit an Esper bug,
// are refused instead of answered differently.
TEST(CepCompiler, RefusesWhatWouldNotMatchEsper) {
  EXPECT_EQ(compile_error("select irstream sym from Ev#length(2) output last every 2 events"),
            "r.epl:1:39: select irstream/rstream with output rate limiting is only supported as plain 'output every' "
            "without a having clause");
  EXPECT_EQ(compile_error("select irstream sym from Ev#length(2) having qty > 1 output every 2 events"),
            "r.epl:1:54: select irstream/rstream with output rate limiting is only supported as plain 'output every' "
            "without a having clause");
  EXPECT_EQ(compile_error("select sym, price from Ev#length(2) group by sym having count(*) > 1 output last every 2 events"),
            "r.epl:1:70: output last with group by, having and properties outside the group by is not supported "
            "(Esper 8.9 answers it inconsistently); select only group-by properties and aggregates");
  EXPECT_EQ(compile_error("select irstream sym from Ev#length(2) output every 2 events"), "");
  EXPECT_EQ(compile_error("select sym, count(*) as c from Ev#length(2) group by sym having count(*) > 1 output last every 2 events"), "");
}

// Unaliased columns are named the way Esper renders them (probed with Esper 8.9).
TEST(CepCompiler, ColumnNamesFollowEsper) {
  Engine e(parse_module("select price*2, qty+1, price > 10, not ok, -price, qty/2, 'a', ok and qty > 1, (price+1)*2, count(*), "
                        "avg(price*qty), sum(qty)/count(*), max(price) - min(price), qty is null, 1.5, 2, x.sym from Ev#length(2) x",
                        "r.epl"),
           {kEv}, {});
  std::vector<std::string> names;
  for (const Column& c : e.statement(0).plan().columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"price*2", "qty+1", "price>10", "not ok", "-1*price", "qty/2", "\"a\"",
                                             "ok and qty>1", "(price+1)*2", "count(*)", "avg(price*qty)",
                                             "(sum(qty))/(count(*))", "(max(price))-(min(price))", "qty is null", "1.5", "2",
                                             "x.sym"}));
}

TEST(CepValues, DoublesAreFormattedLikeTheReference) {
  EXPECT_EQ(format_double(0.1 + 0.2), "0.3");
  EXPECT_EQ(format_double(1e-7), "0.0000001");
  EXPECT_EQ(format_double(123456789012.5), "123456789000.0");
  EXPECT_EQ(format_double(-5.0 / 14), "-0.357142857");
  EXPECT_EQ(format_double(-0.0), "0.0");
  EXPECT_EQ(format_double(85), "85.0");
  EXPECT_EQ(format_value(Value::of_string("a long string that is not inline")), "a long string that is not inline");
  Value a = Value::of_string("a long string that is not inline"), b = a;
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_NE(Value::of_long(1), Value::of_double(1));
}

// to_row rewrites one row slot per field in place (Value::set_*): whatever the
// slot held before, it must end up equal to, and hash like, a fresh value
// (inline strings compare by all 16 bytes, so no byte of the old one may stay).
TEST(CepValues, SettingInPlaceGivesTheSameValueAsMakingOne) {
  const std::string heap = "a long string that is not inline";
  std::vector<Value> olds{Value(), Value::of_bool(true), Value::of_long(-1), Value::of_double(2.5),
                          Value::of_string("O0010-xyz"), Value::of_string(heap)};
  for (const Value& old : olds) {
    Value v = old;
    v.set_string("A01");
    EXPECT_EQ(v, Value::of_string("A01"));
    EXPECT_EQ(v.hash(), Value::of_string("A01").hash());
    v = old;
    v.set_string(heap);
    EXPECT_EQ(v, Value::of_string(heap));
    EXPECT_EQ(v.hash(), Value::of_string(heap).hash());
    v = old;
    v.set_long(85);
    EXPECT_EQ(v, Value::of_long(85));
    EXPECT_EQ(v.hash(), Value::of_long(85).hash());
    v = old;
    v.set_double(0.5);
    EXPECT_EQ(v, Value::of_double(0.5));
    v = old;
    v.set_bool(false);
    EXPECT_EQ(v, Value::of_bool(false));
    v = old;
    v.reset();
    EXPECT_TRUE(v.is_null());
  }
  // Its own text, inline or on the heap (shared with a copy).
  Value small = Value::of_string("F06"), big = Value::of_string(heap), shared = big;
  small.set_string(small.as_string());
  big.set_string(big.as_string());
  EXPECT_EQ(small, Value::of_string("F06"));
  EXPECT_EQ(big, Value::of_string(heap));
  EXPECT_EQ(shared, Value::of_string(heap));
}

// ---------------------------------------------------------------- engine behaviour

struct Rules {
  Engine engine;
  std::vector<std::string> rows;
  explicit Rules(const std::string& epl, EngineOptions opt = {}) : engine(parse_module(epl, "r.epl"), {kEv}, opt) {
    engine.set_listener([this](const Delivery& d) {
      if (d.statement.index() + 1 != engine.statement_count()) return;
      for (size_t i = 0; i < d.inew.size(); ++i) {
        std::string r = std::to_string(d.time_ms) + ":";
        for (size_t c = 0; c < d.inew.width(); ++c) r += (c ? "," : "") + format_value(d.inew.row(i)[c]);
        rows.push_back(r);
      }
    });
  }
  void send(int64_t ts, const char* sym, double price, int64_t qty) {
    std::vector<Value> row{Value::of_long(ts), Value::of_string(sym), Value::of_double(price), Value::of_long(qty), Value::of_bool(true)};
    engine.send_at(0, row.data(), ts);
  }
};

TEST(CepEngine, VariablesFromOptionsReplaceDeclaredDefaults) {
  EngineOptions opt;
  opt.variables["limit"] = Value::of_long(5);  // a long for a double variable is widened
  Rules r("create variable double limit = 100; select sym from Ev where price > limit", opt);
  r.send(0, "A", 6, 1);
  r.send(1, "B", 4, 1);
  EXPECT_EQ(r.rows, (std::vector<std::string>{"0:A"}));
  EXPECT_EQ(r.engine.variables().values[0].type(), Type::Double);
}

TEST(CepEngine, AdoptKeepsSlidingWindowAndRebuildsAggregates) {
  Rules old("select count(*) as n, sum(qty) as s from Ev#time(10 sec)");
  old.send(0, "A", 1, 2);
  old.send(1000, "B", 1, 3);
  // The new rule reads one more property (price) that the old window kept too? No:
  // it only keeps qty, so the new rule sticks to qty and adds a where clause.
  Rules fresh("select count(*) as n, sum(qty) as s from Ev#time(10 sec) where qty > 2");
  EXPECT_TRUE(fresh.engine.adopt(old.engine).empty());
  fresh.send(2000, "C", 1, 4);
  EXPECT_EQ(fresh.rows.back(), "2000:2,7");  // B (3) and C (4); A fails the new where clause
  fresh.engine.advance_to(11'000);
  EXPECT_EQ(fresh.rows.back(), "11000:1,4");  // B expired at 11000
}

TEST(CepEngine, AdoptRefusesAWindowMissingAProperty) {
  Rules old("select count(*) as n from Ev#length(3)");
  old.send(0, "A", 1, 2);
  Rules fresh("select sum(qty) as s from Ev#length(3)");
  auto notes = fresh.engine.adopt(old.engine);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "statement 1 starts with an empty window: the rule now reads a property the old window did not keep");
}

TEST(CepEngine, SnapshotRestoreRoundTrip) {
  const char* epl = "select sym, count(*) as n, min(price) as lo, max(price) as hi from Ev#time(10 sec) group by sym output last every 3 sec";
  Rules a(epl), b(epl);
  a.send(0, "A", 5, 1);
  a.send(500, "A", 3, 1);
  a.send(1500, "B", 7, 1);
  std::string state = a.engine.snapshot();
  b.engine.restore(state);
  for (Rules* r : {&a, &b}) {
    r->send(4000, "A", 9, 1);
    r->engine.advance_to(20'000);
  }
  EXPECT_EQ(a.rows, (std::vector<std::string>{"3000:A,2,3.0,5.0", "3000:B,1,7.0,7.0", "6000:A,3,3.0,9.0", "12000:A,1,9.0,9.0",
                                              "12000:B,0,null,null", "15000:A,0,null,null"}));
  EXPECT_EQ(b.rows, a.rows);  // the buffered `last` rows were part of the state
  EXPECT_THROW(b.engine.restore("garbage"), std::runtime_error);
}

// 2022-04-26 06:10:07 UTC, 7 s into a 30 s slot of the epoch.
constexpr int64_t kT0 = 1'650'953'407'000;
constexpr int64_t kSlot = 1'650'953'400'000;  // 06:10:00

TEST(CepEngine, TimeBatchReferencePointAlignsBatchesToTheEpoch) {
  Rules aligned("select count(*) as n, sum(qty) as s from Ev#time_batch(30 sec, 0L)");
  Rules first("select count(*) as n, sum(qty) as s from Ev#time_batch(30 sec)");
  for (Rules* r : {&aligned, &first}) {
    r->send(kT0, "A", 1, 1);
    r->send(kT0 + 20'000, "A", 1, 2);  // 06:10:27
    r->send(kT0 + 23'000, "A", 1, 4);  // 06:10:30 exactly: starts the next aligned batch
    r->send(kT0 + 95'000, "A", 1, 8);  // 06:11:42, after two batch ends without events
    r->engine.advance_to(kT0 + 200'000);
  }
  auto at = [](int64_t t, const char* v) { return std::to_string(t) + ":" + v; };
  EXPECT_EQ(aligned.rows, (std::vector<std::string>{at(kSlot + 30'000, "2,3"), at(kSlot + 60'000, "1,4"),
                                                    at(kSlot + 90'000, "0,null"), at(kSlot + 120'000, "1,8"),
                                                    at(kSlot + 150'000, "0,null")}));
  // Without a reference point the batches start at the first event.
  EXPECT_EQ(first.rows, (std::vector<std::string>{at(kT0 + 30'000, "3,7"), at(kT0 + 60'000, "0,null"),
                                                  at(kT0 + 120'000, "1,8"), at(kT0 + 150'000, "0,null")}));
}

TEST(CepEngine, TimeBatchReferenceInTheFutureOrNotAMultiple) {
  Rules r("select count(*) as n from Ev#time_batch(10 sec, 1000400L)");
  r.send(3'500, "A", 1, 1);
  r.send(10'400, "A", 1, 1);  // on the grid: the next batch
  r.engine.advance_to(40'000);
  EXPECT_EQ(r.rows, (std::vector<std::string>{"10400:1", "20400:1", "30400:0"}));
}

// A checkpoint taken in the middle of a batch: the restored engine (started
// at another time, as after a restart) ends the batch on the same grid and
// posts exactly what the uninterrupted one does.
TEST(CepEngine, SnapshotMidBatchKeepsTheAlignment) {
  for (const char* epl : {"select sym, count(*) as n, sum(qty) as s from Ev#time_batch(30 sec, 0L) group by sym",
                          "select sym, count(*) as n, sum(qty) as s from Ev#time_batch(30 sec) group by sym",
                          "select count(*) as n from Ev#time_batch(30 sec, 0L, 'FORCE_UPDATE')"}) {
    SCOPED_TRACE(epl);
    Rules a(epl);
    a.send(kT0, "A", 1, 1);
    a.send(kT0 + 5'000, "B", 1, 2);
    std::string state = a.engine.snapshot();
    EngineOptions later;
    later.start_ms = kT0 + 9'000;
    Rules b(epl, later);
    b.engine.restore(state);
    EXPECT_EQ(b.engine.next_timer(), a.engine.next_timer());
    for (Rules* r : {&a, &b}) {
      r->send(kT0 + 10'000, "A", 1, 4);
      r->send(kT0 + 40'000, "B", 1, 8);
      r->engine.advance_to(kT0 + 120'000);
    }
    EXPECT_FALSE(a.rows.empty());
    EXPECT_EQ(b.rows, a.rows);
  }
  Rules a("select count(*) as n from Ev#time_batch(30 sec, 0L)");
  a.send(kT0, "A", 1, 1);
  EXPECT_EQ(a.engine.next_timer(), kSlot + 30'000);
  Rules b("select count(*) as n from Ev#time_batch(30 sec, 0L)");
  b.engine.restore(a.engine.snapshot());
  b.engine.advance_to(kT0 + 60'000);
  EXPECT_EQ(b.rows,
            (std::vector<std::string>{std::to_string(kSlot + 30'000) + ":1", std::to_string(kSlot + 60'000) + ":0"}));
}

// The state of a window cut differently (first-event batches before the rule
// got its reference point) is refused rather than continued on the old grid;
// a reload starts that window empty, for the same reason.
TEST(CepEngine, AChangedReferencePointStartsTheWindowEmpty) {
  Rules old("select count(*) as n from Ev#time_batch(30 sec)");
  old.send(kT0, "A", 1, 1);
  Rules fresh("select count(*) as n from Ev#time_batch(30 sec, 0L)");
  try {
    fresh.engine.restore(old.engine.snapshot());
    ADD_FAILURE() << "restored";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "cep_rule state: the window of statement 1 changed (saved Ev()#4:30000, now Ev()#4:30000,reference=0)");
  }
  auto notes = fresh.engine.adopt(old.engine);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "statement 1 starts with an empty window: no statement of the previous rule had the same window (stream, "
                      "filter, kind, size, reference point and flags)");
  // The same definition is adopted with its grid.
  Rules same("select count(*) as n, sum(qty) as s from Ev#time_batch(30 sec, 0L)");
  same.send(kT0, "A", 1, 3);
  Rules next("select count(*) as n, sum(qty) as s from Ev#time_batch(30 sec, 0L) where qty > 1");
  EXPECT_TRUE(next.engine.adopt(same.engine).empty());
  next.engine.advance_to(kT0 + 30'000);
  EXPECT_EQ(next.rows, (std::vector<std::string>{std::to_string(kSlot + 30'000) + ":1,3"}));
}

TEST(CepEngine, StartEagerBeginsAtTheStart) {
  EngineOptions opt;
  opt.start_ms = 1'000;
  Rules r("select count(*) as n from Ev#time_batch(10 sec, 'START_EAGER')", opt);
  r.engine.advance_to(25'000);
  EXPECT_EQ(r.rows, (std::vector<std::string>{"11000:0", "21000:0"}));
}

TEST(CepEngine, MinMaxWithRemovalAndGroupsAreFreed) {
  Rules r("select sym, min(price) as lo, max(price) as hi from Ev#length(3) group by sym");
  r.send(0, "A", 5, 1);
  r.send(1, "A", 1, 1);
  r.send(2, "A", 9, 1);
  r.send(3, "B", 4, 1);  // A's 5 leaves
  r.send(4, "B", 4, 1);  // A's 1 leaves
  EXPECT_EQ(r.rows, (std::vector<std::string>{"0:A,5.0,5.0", "1:A,1.0,5.0", "2:A,1.0,9.0", "3:B,4.0,4.0", "3:A,1.0,9.0",
                                              "4:B,4.0,4.0", "4:A,9.0,9.0"}));
  r.send(5, "B", 2, 1);  // A's 9 leaves: group A is empty and freed
  EXPECT_EQ(r.engine.statement(0).group_count(), 1u);
}

// A grouped batch with a row per event and no where clause is posted in one
// pass (Statement::enter_batch): the previous batch's groups that got no event
// must still be freed, and their rows follow the new batch's aggregates.
TEST(CepEngine, AOnePassBatchFreesTheGroupsOfThePreviousBatch) {
  Rules r("select sym, qty from Ev#time_batch(10 sec, 0L) group by sym having sum(qty) > 2");
  r.send(kSlot + 1'000, "A", 1, 2);
  r.send(kSlot + 2'000, "B", 1, 3);
  r.send(kSlot + 3'000, "A", 1, 1);
  r.engine.advance_to(kSlot + 10'000);
  EXPECT_EQ(r.engine.statement(0).group_count(), 2u);
  r.send(kSlot + 11'000, "A", 1, 1);  // B has no event in the second batch
  r.engine.advance_to(kSlot + 20'000);
  EXPECT_EQ(r.rows, (std::vector<std::string>{std::to_string(kSlot + 10'000) + ":A,2", std::to_string(kSlot + 10'000) + ":B,3",
                                              std::to_string(kSlot + 10'000) + ":A,1"}));
  EXPECT_EQ(r.engine.statement(0).group_count(), 1u);  // B freed
}

TEST(CepEngine, WindowMemoryFollowsTheWindow) {
  Rules r("select count(*) as n from Ev#time(1 sec)");
  for (int64_t t = 0; t < 100'000; t += 10) r.send(t, "A", 1, 1);
  EXPECT_EQ(r.engine.statement(0).window_size(), 100u);  // 1 s of events, not all of them
  EXPECT_EQ(r.rows.back(), "99990:100");
}

// The flat index (aggregator groups, context partitions, pattern keys) against
// a std::map model, under random adds and erases of keys with few distinct
// hashes (long probe chains that wrap around the table, where backward-shift
// deletion must keep every chain reachable).
TEST(CepFlatIndex, MatchesAMapUnderAddsAndErases) {
  FlatIndex<uint32_t, UINT32_MAX> index;
  std::map<uint32_t, bool> model;  // key -> present (the handle is the key)
  auto hash = [](uint32_t k) { return (uint64_t{k} % 37) * 0x9e3779b97f4a7c15ULL; };
  std::mt19937 rng(7);
  for (int step = 0; step < 200'000; ++step) {
    uint32_t k = rng() % 500;
    auto same = [k](uint32_t h) { return h == k; };
    if (rng() % 3 == 0) {
      ASSERT_EQ(index.erase(hash(k), k), model[k]) << "step " << step;
      model[k] = false;
    } else {
      bool made = false;
      ASSERT_EQ(index.find_or_add(hash(k), same, [&] { made = true; return k; }), k);
      ASSERT_EQ(made, !model[k]) << "step " << step;
      model[k] = true;
    }
    uint32_t probe = rng() % 500;
    ASSERT_EQ(index.find(hash(probe), [probe](uint32_t h) { return h == probe; }), model[probe] ? probe : UINT32_MAX)
        << "step " << step;
  }
  size_t present = 0, listed = 0;
  for (const auto& [k, in] : model) present += in;
  index.for_each([&](uint32_t) { ++listed; });
  EXPECT_EQ(index.size(), present);
  EXPECT_EQ(listed, present);
}

// A keyed window removes events from the middle of its store: memory must
// follow the live events even when the oldest one never leaves (dead rows
// behind it are compacted away), and the answers must stay those of a plain
// model of "the last N events of each key", also across a snapshot.
TEST(CepEngine, KeyedWindowMemoryFollowsItsLiveEvents) {
  Rules r("select count(*) as n, sum(qty) as s from Ev#unique(sym)");
  r.send(0, "stuck", 1, 1000);  // never replaced: stays at the front of the store
  const char* syms[] = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"};
  for (int64_t t = 1; t <= 100'000; ++t) r.send(t, syms[t % 10], 1, t % 10);
  EXPECT_LE(r.engine.statement(0).window_size(), 200u);  // 11 live events, not 100 001 rows
  EXPECT_EQ(r.rows.back(), "100000:11,1045");             // 1000 + 0 + 1 + ... + 9
}

TEST(CepEngine, GroupwinLengthMatchesAModelAcrossASnapshot) {
  const char* epl = "select irstream sym, qty, count(*) as n, sum(qty) as s from Ev#groupwin(sym)#length(3)";
  Rules a(epl);
  std::unique_ptr<Rules> b;
  std::map<std::string, std::deque<int64_t>> model;  // each key's last 3 quantities
  int64_t total = 0, count = 0;
  std::vector<std::string> expected;
  uint64_t seed = 42;
  for (int64_t t = 0; t < 20'000; ++t) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string sym = "k" + std::to_string((seed >> 33) % 37);
    int64_t qty = static_cast<int64_t>((seed >> 13) % 1000);
    std::deque<int64_t>& q = model[sym];
    q.push_back(qty);
    total += qty;
    ++count;
    if (q.size() > 3) {
      total -= q.front();
      --count;
      q.pop_front();
    }
    expected.push_back(std::to_string(t) + ":" + sym + "," + std::to_string(qty) + "," + std::to_string(count) + "," +
                       std::to_string(total));
    a.send(t, sym.c_str(), 1, qty);
    if (b) b->send(t, sym.c_str(), 1, qty);
    if (t == 10'000) {
      b = std::make_unique<Rules>(epl);
      b->engine.restore(a.engine.snapshot());
    }
  }
  EXPECT_EQ(a.rows, expected);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rows, std::vector<std::string>(expected.begin() + 10'001, expected.end()));
}

// A reload keeps a keyed window with the same keys (and the keys' order of
// events: the next event of a key replaces the right one).
TEST(CepEngine, AdoptKeepsAKeyedWindow) {
  Rules old("select count(*) as n, sum(qty) as s from Ev#unique(sym)");
  old.send(0, "A", 1, 2);
  old.send(1, "B", 1, 3);
  old.send(2, "A", 1, 5);
  Rules fresh("select count(*) as n, sum(qty) as s from Ev#unique(sym) where qty > 2");
  EXPECT_TRUE(fresh.engine.adopt(old.engine).empty());
  fresh.send(3, "B", 1, 7);  // replaces B's 3
  EXPECT_EQ(fresh.rows.back(), "3:2,12");
  Rules other("select count(*) as n from Ev#unique(qty)");
  ASSERT_EQ(other.engine.adopt(old.engine).size(), 1u);  // other keys: another window
}

// ---------------------------------------------------------------- named windows

const char* kSpeeding =
    "create window Speeding#unique(sym) as select sym, price from Ev;\n"
    "insert into Speeding select sym, price from Ev(price > 100);\n"
    "on Ev(price <= 100) as e delete from Speeding as s where s.sym = e.sym;\n"
    "select sym, qty from Ev where qty < 0";

std::string query_rows(Engine& e, const std::string& q) {
  QueryResult r = e.query(q);
  std::string out;
  for (const std::string& c : r.columns) out += c + ";";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    out += "|";
    for (size_t c = 0; c < r.rows.width(); ++c) out += (c ? "," : "") + format_value(r.rows.row(i)[c]);
  }
  return out;
}

std::string query_error(Engine& e, const std::string& q) {
  try {
    e.query(q);
  } catch (const EplError& x) {
    return x.what();
  }
  return "";
}

TEST(CepNamedWindow, AQueryReadsWhatTheWindowHoldsNow) {
  Rules r(kSpeeding);
  r.send(0, "A", 120, 1);
  r.send(1, "B", 130, 1);
  r.send(2, "A", 140, 1);  // replaces A's 120 (#unique)
  r.send(3, "C", 90, 1);
  EXPECT_EQ(query_rows(r.engine, "select sym, price from Speeding"), "sym;price;|B,130.0|A,140.0");
  r.send(4, "B", 80, 1);  // B slows down: deleted
  EXPECT_EQ(query_rows(r.engine, "select sym as car, price * 2 as p2 from Speeding where price > 100"), "car;p2;|A,280.0");
  EXPECT_EQ(query_rows(r.engine, "select * from Speeding s where s.sym = 'B'"), "sym;price;");
  EXPECT_EQ(query_error(r.engine, "select sym from Nowhere"), "query:1:17: unknown named window or table 'Nowhere' (known: Speeding)");
  EXPECT_EQ(query_error(r.engine, "select sym from Speeding where nosuch > 1"),
            "query:1:32: unknown property or variable 'nosuch' (stream 'Speeding' has: sym, price)");
  EXPECT_EQ(query_error(r.engine, "select count(*) from Speeding"), "query:1:1: cep_rule does not support aggregates in a query");
  EXPECT_EQ(query_error(r.engine, "select sym from Speeding group by sym"),
            "query:1:1: a query is 'select ... from WINDOW [where ...]' (no view, filter, group by, having, output, insert "
            "into or context)");
  EXPECT_EQ(query_error(r.engine, "select sym frm Speeding"), "query:1:12: expected 'from', found 'frm'");
}

TEST(CepNamedWindow, SurvivesASnapshotAndAReload) {
  Rules a(kSpeeding);
  a.send(0, "A", 120, 1);
  a.send(1, "B", 130, 1);
  Rules b(kSpeeding);
  b.engine.restore(a.engine.snapshot());
  EXPECT_EQ(query_rows(b.engine, "select sym from Speeding"), "sym;|A|B");
  b.send(2, "A", 50, 1);  // the restored window deletes as the original would
  EXPECT_EQ(query_rows(b.engine, "select sym from Speeding"), "sym;|B");
  // A reload with the same window (a changed threshold) keeps its events.
  std::string changed = kSpeeding;
  changed.replace(changed.find("price > 100"), 11, "price > 125");
  Rules c(changed);
  EXPECT_TRUE(c.engine.adopt(b.engine).empty());
  EXPECT_EQ(query_rows(c.engine, "select sym from Speeding"), "sym;|B");
  c.send(3, "D", 120, 1);  // under the new threshold: not inserted
  EXPECT_EQ(query_rows(c.engine, "select sym from Speeding"), "sym;|B");
}

TEST(CepNamedWindow, ErrorsArePositioned) {
  EXPECT_EQ(compile_error("on Ev as e delete from W where e.sym = 'A'"),
            "r.epl:1:24: unknown named window or table 'W' (create it with 'create window' or 'create table')");
  EXPECT_EQ(compile_error("create window W#keepall as select sym, price from Ev;\non Ev as e update W as w set price = 1"),
            "r.epl:2:19: cep_rule does not support 'on ... update' over named window 'W' (use 'on ... merge ... when "
            "matched then update set')");
  EXPECT_EQ(compile_error("create window W#keepall as select sym, price from Ev;\n"
                          "on Ev as e select sym from W as w"),
            "r.epl:2:19: property 'sym' is ambiguous: both 'Ev' and window 'W' have it (qualify it)");
  EXPECT_EQ(compile_error("create window W#keepall as select sym from Ev;\non Ev select * from W"),
            "r.epl:2:14: cep_rule does not support 'select *' in an 'on ...' statement (Esper posts the two streams as "
            "nested events): name the properties");
  EXPECT_EQ(compile_error("create window W#time_batch(10 sec) as select sym from Ev"),
            "r.epl:1:16: cep_rule does not support a batch window as a named window's view");
  EXPECT_EQ(compile_error("create window W#keepall as select price * 2 as p from Ev"),
            "r.epl:1:35: a named window's select list takes properties of 'Ev' (as Esper: no expressions; 'insert into' "
            "may compute them)");
  EXPECT_EQ(compile_error("create window W#keepall as select sym, price from Ev;\n"
                          "on Ev as e merge W as w where w.sym = e.sym when matched then update set nosuch = 1"),
            "r.epl:2:74: window 'W' has no property 'nosuch'");
  EXPECT_EQ(compile_error("create window W#keepall as select sym, price from Ev;\n"
                          "on Ev as e merge W as w where w.sym = e.sym when matched then update set price = 'x'"),
            "r.epl:2:82: 'price' of window 'W' is double, not string");
  EXPECT_EQ(parse_error("create window W as select sym from Ev"),
            "r.epl:1:17: expected the named window's view, e.g. #keepall() or #unique(car), found 'as'");
  EXPECT_EQ(parse_error("on Ev as e merge W where 1 = 1"), "r.epl:1:31: expected 'when matched' or 'when not matched', found the end of the input");
}

// A statement reading a named window as a stream: what enters W is its
// insert stream, what leaves W (replaced, expired, deleted) its remove stream.
constexpr const char* kReader =
    "create window W#unique(sym) as select sym, price, qty from Ev;\n"
    "insert into W select sym, price, qty from Ev(qty > 0);\n"
    "on Ev(qty = 0) as e delete from W as w where w.sym = e.sym;\n"
    "select count(*) as n, sum(price) as s from W(price > 10)";

TEST(CepNamedWindow, AStatementReadsItAsAStream) {
  Rules r(kReader);
  r.send(0, "A", 20, 1);
  r.send(1, "B", 5, 1);   // in W, not past the reader's filter
  r.send(2, "C", 30, 1);
  r.send(3, "A", 40, 1);  // replaces A (20): one update, 40 in and 20 out
  r.send(4, "C", 0, 0);   // deletes C
  r.send(5, "B", 50, 1);  // replaces B (5, never seen by the reader)
  EXPECT_EQ(r.rows, (std::vector<std::string>{"0:1,20.0", "2:2,50.0", "3:2,70.0", "4:1,40.0", "5:2,90.0"}));
  // The window's events hold no input batch (they may stay for good).
  EXPECT_EQ(r.engine.oldest_pending(), kNever);
}

TEST(CepNamedWindow, AReaderSurvivesASnapshotAndAReload) {
  Rules a(kReader);
  a.send(0, "A", 20, 1);
  a.send(1, "B", 30, 1);
  std::string saved = a.engine.snapshot();
  Rules b(kReader);
  b.engine.restore(saved);
  Rules c(kReader);
  EXPECT_TRUE(c.engine.adopt(a.engine).empty());
  for (Rules* r : {&b, &c}) {
    r->send(2, "A", 25, 1);  // replaces an event from before the snapshot (found by its number)
    r->send(3, "B", 0, 0);   // deletes one
    r->send(4, "D", 11, 1);
    EXPECT_EQ(r->rows, (std::vector<std::string>{"2:2,55.0", "3:1,25.0", "4:2,36.0"}));
  }
}

TEST(CepNamedWindow, ReadersRefuseWhatTheyDoNotSupport) {
  const std::string w = "create window W#time(10 sec) as select sym, price from Ev;\n";
  const std::string in = " in a statement reading named window 'W'";
  EXPECT_EQ(compile_error(w + "select max(price) from W"),
            "r.epl:2:24: cep_rule does not support max()" + in + " (its events may leave out of arrival order)");
  EXPECT_EQ(compile_error(w + "select prior(1, price) from W"), "r.epl:2:29: cep_rule does not support prev() or prior()" + in);
  EXPECT_EQ(compile_error(w + "create context C partition by sym from Ev;\ncontext C select sym from W"),
            "r.epl:3:9: cep_rule does not support a context" + in);
  EXPECT_EQ(compile_error(w + "insert into W select sym, price from W"),
            "r.epl:2:1: cep_rule does not support 'insert into W'" + in);
  EXPECT_EQ(compile_error(w + "select count(*) from W output every 5 sec"),
            "r.epl:2:24: cep_rule does not support a time-based output clause" + in +
                " (a #time window: Esper 8.9 leaves out the row of an expiry at an output tick); use 'output every N events'");
  EXPECT_EQ(compile_error(w + "select a.sym from pattern [every a=W]"), "r.epl:2:19: cep_rule does not support a pattern" + in);
  EXPECT_EQ(compile_error(w + "select sym from W#length(2)"),
            "r.epl:2:18: cep_rule does not support a view (#length(2))" + in + " (the window's own views apply)");
}

// Tables: `into table` writes a grouped statement's aggregates per key,
// `T[key].col` reads them, a query lists the rows.
constexpr const char* kTable =
    "create table T (sym string primary key, avg_price avg(double), n count(*));\n"
    "into table T select avg(price) as avg_price, count(*) as n from Ev#length(3) group by sym;\n"
    "select sym, price, T[sym].avg_price as a, T[sym].n as n from Ev where price > T[sym].avg_price";

TEST(CepTable, IntoTableWritesAndOtherStatementsRead) {
  Rules r(kTable);
  r.send(0, "A", 10, 1);
  r.send(1, "A", 20, 1);   // avg 15: above
  r.send(2, "B", 5, 1);    // avg 5: not above
  r.send(3, "A", 30, 1);   // #length(3) holds A 20, B 5, A 30: A's avg 25
  r.send(4, "B", 9, 1);    // A 30, B 5, B 9: B's avg 7, A's 30 (n 1)
  EXPECT_EQ(r.rows, (std::vector<std::string>{"1:A,20.0,15.0,2", "3:A,30.0,25.0,2", "4:B,9.0,7.0,2"}));
  EXPECT_EQ(query_rows(r.engine, "select * from T"), "sym;avg_price;n;|A,30.0,1|B,7.0,2");
  EXPECT_EQ(query_rows(r.engine, "select sym from T where n > 1"), "sym;|B");
  r.send(5, "C", 1, 1);
  r.send(6, "C", 1, 1);
  r.send(7, "C", 1, 1);  // A's events have all left: its row stays, count 0
  EXPECT_EQ(query_rows(r.engine, "select sym, n from T where sym = 'A'"), "sym;n;|A,0");
}

TEST(CepTable, SurvivesASnapshotAndStartsEmptyOnAReload) {
  Rules a(kTable);
  a.send(0, "A", 10, 1);
  a.send(1, "B", 20, 1);
  Rules b(kTable);
  b.engine.restore(a.engine.snapshot());
  EXPECT_EQ(query_rows(b.engine, "select sym, n from T"), "sym;n;|A,1|B,1");
  b.send(2, "A", 30, 1);
  EXPECT_EQ(b.rows, (std::vector<std::string>{"2:A,30.0,20.0,2"}));
  // A reload: the writer's #length window is adopted (its aggregates rebuilt),
  // the table starts empty and gets each key's row back at its next event.
  Rules c(kTable);
  c.engine.adopt(a.engine);
  EXPECT_EQ(query_rows(c.engine, "select sym from T"), "sym;");
  c.send(2, "A", 30, 1);
  EXPECT_EQ(c.rows, (std::vector<std::string>{"2:A,30.0,20.0,2"}));
}

// The keyed state: a table of plain columns upserted by on-merge, read by
// T[key].col and queries, kept across a snapshot and, unchanged, a reload.
constexpr const char* kUpsert =
    "create table Last (sym string primary key, price double, qty long);\n"
    "on Ev as e merge Last as l where l.sym = e.sym\n"
    "  when matched then update set price = e.price, qty = l.qty + e.qty\n"
    "  when not matched then insert select e.sym as sym, e.price as price, e.qty as qty;\n"
    "select sym, price, Last[sym].price as before from Ev(price > Last[sym].price)";

TEST(CepTable, AnUpsertKeepsItsRowsAcrossASnapshotAndAReload) {
  Rules a(kUpsert);
  a.send(0, "A", 10, 1);
  a.send(1, "B", 20, 2);
  a.send(2, "A", 15, 3);  // above A's 10
  EXPECT_EQ(a.rows, (std::vector<std::string>{"2:A,15.0,10.0"}));
  EXPECT_EQ(query_rows(a.engine, "select * from Last"), "sym;price;qty;|A,15.0,4|B,20.0,2");
  Rules b(kUpsert);
  b.engine.restore(a.engine.snapshot());
  EXPECT_EQ(query_rows(b.engine, "select sym, qty from Last where price > 16"), "sym;qty;|B,2");
  Rules c(kUpsert);
  EXPECT_TRUE(c.engine.adopt(a.engine).empty());
  c.send(3, "B", 25, 1);  // above B's 20, kept by the reload
  EXPECT_EQ(c.rows, (std::vector<std::string>{"3:B,25.0,20.0"}));
  EXPECT_EQ(query_rows(c.engine, "select * from Last"), "sym;price;qty;|A,15.0,4|B,25.0,3");
}

TEST(CepTable, ErrorsArePositioned) {
  const std::string t = "create table T (sym string primary key, a avg(double), n count(*));\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"select T[sym].nosuch from Ev",
       "r.epl:2:8: table 'T' has no column 'nosuch' (it has: sym, a, n)"},
      {"select T[qty].n from Ev",
       "r.epl:2:10: key 'sym' of table 'T' is string, not long"},
      {"select U[sym].n from Ev",
       "r.epl:2:8: unknown table 'U' (known: T)"},
      {"select max(T[sym].n) from Ev",
       "r.epl:2:12: cep_rule does not support a table column inside an aggregate ('T[sym].n')"},
      {"create table M (sym string primary key, hi max(double));\ninto table M select max(price) as hi from Ev group by sym",
       "r.epl:3:21: column 'hi' of table 'M' is max(), which needs a data window in the 'into table' statement (as in Esper)"},
      {"select T[sym, qty].n from Ev",
       "r.epl:2:8: table 'T' has 1 primary key column(s), not 2"},
      {"into table T select avg(price) as a from Ev",
       "r.epl:2:1: 'into table T' needs 'group by' its 1 primary key column(s)"},
      {"into table T select avg(price) as a from Ev group by qty",
       "r.epl:2:54: the group by of 'into table T' gives long for key 'sym', which is string"},
      {"into table T select sum(price) as a from Ev group by sym",
       "r.epl:2:21: column 'a' of table 'T' is avg(double), not 'sum(price)'"},
      {"into table T select avg(qty) as a from Ev group by sym",
       "r.epl:2:21: column 'a' of table 'T' is avg(double), not 'avg(qty)'"},
      {"into table T select count(*) as c from Ev group by sym",
       "r.epl:2:21: 'c' is not an aggregation column of table 'T' (name each aggregate after one with 'as')"},
      {"into table T select count(*) as n from Ev group by sym;\n" "into table T select count(*) as n from Ev(qty > 1) group by sym",
       "r.epl:3:21: column 'n' of table 'T' is written by another statement (cep_rule: one writer per column)"},
      {"into table T select count(*) as n from Ev#time_batch(1 sec) group by sym",
       "r.epl:2:42: cep_rule does not support a batch window in an 'into table' statement"},
      {"into table U select count(*) as n from Ev group by sym",
       "r.epl:2:12: unknown table 'U' (known: T)"},
      {"select sym from T",
       "r.epl:2:17: cep_rule does not support reading table 'T' as a stream (read T[key].column, or query it)"},
      {"insert into T select sym, price as a from Ev",
       "r.epl:2:27: cep_rule cannot insert 'a' into table 'T': it is an aggregation column (written by 'into table')"},
      {"insert into T select price as sym from Ev",
       "r.epl:2:22: column 'sym' of table 'T' is string, not double"},
      {"insert into T select sym as nosuch from Ev",
       "r.epl:2:22: table 'T' has no column 'nosuch' (name each inserted column after one of its columns with 'as')"},
      {"on Ev as e merge T as t where t.sym = e.sym when matched then update set a = 1.0",
       "r.epl:2:74: cep_rule cannot set 'a' of table 'T': it is an aggregation column (written by 'into table')"},
      {"on Ev as e update T as t set sym = 'x'",
       "r.epl:2:30: cep_rule cannot set 'sym' of table 'T': it is a primary key column"},
      {"on Ev as e merge T as t where t.sym = e.sym when not matched then insert select e.sym as sym, 1 as n",
       "r.epl:2:95: cep_rule cannot insert 'n' into table 'T': it is an aggregation column (written by 'into table')"},
      {"on Ev as e update T as t set nosuch = 1",
       "r.epl:2:30: table 'T' has no property 'nosuch'"},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(compile_error(t + text), want) << text;
  EXPECT_EQ(parse_error("select T[sym] from Ev"), "r.epl:1:8: cep_rule does not support a whole table row ('T[...]'): name a column, T[...].column");
}

// ---------------------------------------------------------------- rules given as text

struct TextRules {
  std::unique_ptr<RuleSet> set;
  std::vector<std::string> rows;
  static RuleText text(const std::string& version, const std::string& epl) { return {"r", "r@" + version, "r", epl, version}; }
  explicit TextRules(const std::string& epl, const std::string& version = "1") {
    RuleSetOptions o;
    o.texts = {text(version, epl)};
    set = std::make_unique<RuleSet>(std::move(o));
    set->set_listener([this](RuleFile&, const Delivery& d) {
      for (size_t i = 0; i < d.inew.size(); ++i) rows.push_back(std::to_string(d.time_ms) + ":" + format_value(d.inew.row(i)[0]));
    });
  }
  void send(int64_t t, int64_t x) {
    if (!set->typed()) set->set_input_type(EventType{"", {{"x", Type::Long}}}, t);
    set->send({Value::of_long(x)}, t);
  }
};

// Before the first record the rule is checked against a type whose
// properties have no type yet: a table's key and argument types wait for it.
TEST(CepRuleSet, ATableRuleIsCheckedBeforeTheFirstRecord) {
  TextRules r("create table T (k long primary key, s sum(long));\n"
              "into table T select sum(x) as s from Ev group by x;\n"
              "select T[x].s from Ev;");
  r.send(0, 2);
  r.send(1, 2);
  // The rows of the into-table statement, then the reader's.
  EXPECT_EQ(r.rows, (std::vector<std::string>{"0:2", "0:2", "1:4", "1:4"}));
}

TEST(CepRuleSet, ATextRuleIsReplacedKeepingItsWindow) {
  TextRules r("select sum(x) as s from Ev#time_batch(10 sec, 0L);");
  EXPECT_EQ(r.set->file(0).path, "r@1");
  EXPECT_EQ(r.set->file(0).stem, "r");
  r.send(1000, 1);
  r.send(2000, 2);
  RuleSet::ReloadReport report;
  ASSERT_TRUE(r.set->replace(0, TextRules::text("2", "select sum(x) * 10 as s from Ev#time_batch(10 sec, 0L);"), 3000, report));
  EXPECT_EQ(report.reloaded, (std::vector<std::string>{"r@2"}));
  EXPECT_EQ(r.set->file(0).version, "2");
  r.send(10000, 5);  // ends [0, 10 s) with the new text over the adopted events
  EXPECT_EQ(r.rows, (std::vector<std::string>{"10000:30"}));
  // A text that does not compile changes nothing.
  EXPECT_FALSE(r.set->replace(0, TextRules::text("3", "select sum(x) as s from Ev#time_batch(10 sec, 0L) havin 1;"), 11000, report));
  EXPECT_EQ(report.errors, (std::vector<std::string>{"r@3:1:57: expected ';' or the end of the file, found the number 1"}));
  EXPECT_EQ(r.set->file(0).version, "2");
  // Nor does one that would have overflowed the compiler's stack.
  std::string tall = "select * from Ev where x";
  for (int i = 0; i < 30000; ++i) tall += " + x";
  EXPECT_FALSE(r.set->replace(0, TextRules::text("4", tall + " > 0;"), 11000, report));
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_NE(report.errors[1].find("r@4:1:"), std::string::npos) << report.errors[1];
  EXPECT_NE(report.errors[1].find("expression too long"), std::string::npos) << report.errors[1];
  EXPECT_EQ(r.set->file(0).version, "2");
  // reload_all leaves rules given as text alone.
  EXPECT_TRUE(r.set->reload_all(12000).reloaded.empty());
}

TEST(CepRuleSet, ASnapshotOfATextRuleRestoresItsVersion) {
  TextRules a("select sum(x) as s from Ev#time_batch(10 sec, 0L);", "1");
  a.send(1000, 1);
  a.send(2000, 2);
  std::string state = a.set->snapshot();
  EXPECT_EQ(state.substr(8, 16), "weir-cep-rules-2");

  // Another instance, already on a later version: the saved one comes back with its window.
  TextRules b("select sum(x) * 10 as s from Ev#time_batch(10 sec, 0L);", "2");
  EXPECT_TRUE(b.set->restore(state, 3000).empty());
  EXPECT_EQ(b.set->file(0).version, "1");
  EXPECT_EQ(b.set->file(0).text, "select sum(x) as s from Ev#time_batch(10 sec, 0L);");
  b.send(10000, 5);
  EXPECT_EQ(b.rows, (std::vector<std::string>{"10000:3"}));
}

// Context partitions are part of the saved state: a snapshot taken mid-batch
// and restored elsewhere ends every partition's batch as the running engine.
TEST(CepRuleSet, ContextPartitionsSurviveSnapshotAndReload) {
  const std::string rule =
      "create context ByX partition by x from Ev;\n"
      "context ByX select count(*) * 100 + x as v from Ev#time_batch(10 sec, 0L);";
  auto feed_first = [](TextRules& r) {
    r.send(1000, 1);
    r.send(2000, 2);
    r.send(3000, 1);
  };
  auto feed_rest = [](TextRules& r) {
    r.send(4000, 3);
    r.send(12000, 2);
    r.send(25000, 1);
  };
  TextRules straight(rule);
  feed_first(straight);
  feed_rest(straight);
  // 10 s: x=1 twice, x=2 once, x=3 once; 20 s: x=2 once, the others empty.
  EXPECT_EQ(straight.rows, (std::vector<std::string>{"10000:201", "10000:102", "10000:103", "20000:1", "20000:102", "20000:3"}));

  TextRules a(rule);
  feed_first(a);
  std::string state = a.set->snapshot();
  TextRules b(rule, "2");
  EXPECT_TRUE(b.set->restore(state, 3500).empty());
  EXPECT_EQ(b.set->file(0).engine->partition_count(0), 2u);
  feed_rest(b);
  EXPECT_EQ(b.rows, straight.rows);

  // A reload with the same context and window keeps every partition's events.
  TextRules c(rule);
  feed_first(c);
  RuleSet::ReloadReport report;
  ASSERT_TRUE(c.set->replace(0, TextRules::text("2", "create context ByX partition by x from Ev;\n"
                                                      "context ByX select count(*) * 1000 + x as v from Ev#time_batch(10 sec, 0L);"),
                             3500, report));
  EXPECT_TRUE(report.notes.empty()) << report.notes.front();
  c.send(4000, 3);
  c.send(12000, 2);
  EXPECT_EQ(c.rows, (std::vector<std::string>{"10000:2001", "10000:1002", "10000:1003"}));

  // Another context definition: the partitions start over.
  ASSERT_TRUE(c.set->replace(0, TextRules::text("3", "create context ByX partition by x from Ev(x > 1);\n"
                                                      "context ByX select count(*) * 1000 + x as v from Ev#time_batch(10 sec, 0L);"),
                             13000, report));
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_NE(report.notes[0].find("starts with an empty window"), std::string::npos) << report.notes[0];
  EXPECT_EQ(c.set->file(0).engine->partition_count(0), 0u);
}

}  // namespace
