// match_recognize: what cep_rule refuses, by name and at its position
// (`file:line:col`), and its state through a snapshot, per partition. The
// answers themselves are the Esper reference cases tests/esper_cases/5xx-match-recognize-*.
#include "compile_error.hpp"
#include "engine.hpp"
#include "parser.hpp"
#include "rule_set.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace weir::cep;

namespace {

const EventType kEv{"Ev", {{"ts", Type::Long}, {"car", Type::String}, {"speed", Type::Long}}};

std::string error_of(const std::string& text) { return compile_error(text, kEv); }

std::string mr(const std::string& inside) { return "select * from Ev match_recognize (" + inside + ")"; }

TEST(CepMatchRecognize, RefusedConstructsAreNamedWithTheirPosition) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {mr("measures A.car as c all matches pattern (A) define A as A.speed > 1"),
       "1:55: cep_rule does not support 'all matches' in match_recognize"},
      {mr("measures A.car as c after match skip to last row pattern (A) define A as A.speed > 1"),
       "1:75: expected 'next row' or 'current row' after 'skip to', found 'last'"},
      {mr("measures A.car as c pattern (A) define A as prev(A.speed, A.speed) > 1"),
       "1:93: prev()'s index must be a whole number"},
      {mr("measures A.car as c pattern (^ A) define A as A.speed > 1"),
       "1:64: cep_rule does not support the anchor '^' in a match_recognize pattern"},
      {mr("measures A.car as c pattern (A $) define A as A.speed > 1"),
       "1:66: cep_rule does not support the anchor '$' in a match_recognize pattern"},
      {mr("measures A.car as c pattern (A{}) define A as A.speed > 1"),
       "1:65: expected a number in the repetition '{n,m}'"},
      {mr("measures A.car as c pattern (A{0}) define A as A.speed > 1"),
       "1:66: a repetition count must be at least 1"},
      {mr("measures A.car as c pattern (A{,-1}) define A as A.speed > 1"),
       "1:67: a repetition count must be at least 1"},
      {mr("measures A.car as c pattern (A{5,3}) define A as A.speed > 1"),
       "1:65: the repetition's minimum 5 is above its maximum 3"},
      {mr("measures A.car as c pattern (A{x}) define A as A.speed > 1"),
       "1:66: expected a number or '}' in the repetition '{n,m}'"},
      {mr("measures A.car as c pattern (A{99999}) define A as A.speed > 1"),
       "1:66: a repetition count above 1000 (cep_rule's limit)"},
      {mr("measures A.car as c pattern (((A B){30}){30}) define A as A.speed > 1"),
       "1:75: the repetition writes out 30 copies of its pattern, more than cep_rule's 1000 pattern elements"},
      {mr("measures A.car as c pattern (match_recognize_permute(A, B, C, D, E, F, G)) define A as A.speed > 1"),
       "1:64: match_recognize_permute of 7 items writes out more than cep_rule's 1000 pattern elements"},
      {mr("measures A.car as c pattern (match_recognize_permute(A{2}, B)) define A as A.speed > 1"),
       "1:89: cep_rule does not support a repetition '{n,m}' inside match_recognize_permute (Esper 8.9 ignores it) in a "
       "match_recognize pattern"},
      {mr("measures A.car as c pattern (match_recognize_permute(A, B) define A as A.speed > 1"),
       "1:94: expected ')' to end the match_recognize pattern before 'define'"},
      {mr("measures A.car as c pattern (A B) interval 5 seconds define A as A.speed > 1"),
       "1:69: cep_rule does not support 'interval' in match_recognize"},
      {mr("measures A.car as c pattern (A) subset S = (A) define A as A.speed > 1"),
       "1:67: cep_rule does not support 'subset' in match_recognize"},
      {"select * from Ev#length(3) match_recognize (measures A.car as c pattern (A) define A as A.speed > 1)",
       "1:17: cep_rule does not support a data window with match_recognize"},
      {mr("measures A.car as c pattern (A) define A as A.speed > 1") + " where c = 'x'",
       "1:100: cep_rule does not support 'where' with match_recognize"},  // at the condition's operator
      {mr("measures B.speed as s pattern (A B+) define A as A.speed > 1"),
       "1:44: cep_rule does not support reading the repeated variable 'B' in the measures other than in an aggregate "
       "(count, sum, avg, min, max, first, last)"},
      {mr("measures count(A.speed) as n pattern (A B+) define A as A.speed > 1"),
       "1:44: cep_rule does not support an aggregate over 'A', which matches a single row"},
      {mr("measures A.car as c pattern (A B) define C as C.speed > 1"),
       "1:76: the define names 'C', which is not a variable of the pattern"},
      {mr("measures A.car as c pattern (A B) define A as speed > 1"),
       "1:81: the property 'speed' is ambiguous in match_recognize: name its variable (e.g. A.speed)"},
      {mr("measures A.car as c pattern (A B) define A as A.speed > 1, B as sum(B.speed) > 1"),
       "1:99: cep_rule does not support aggregates in a define"},
      {mr("measures A.car as c pattern (A B) define A as A.nope > 1"),
       "1:81: the variable 'A' has no property 'nope' (stream 'Ev' has: ts, car, speed)"},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(error_of(text), "r.epl:" + want) << text;
}

// A partial match per car survives a snapshot into a fresh engine: the match
// completes there, for the car whose start was saved.
TEST(CepMatchRecognize, PartialMatchesPerPartitionSurviveASnapshot) {
  const std::string rule =
      "select * from Ev match_recognize (partition by car measures A.car as c, count(B.speed) as n, C.speed as s "
      "pattern (A B+ C) define A as A.speed > 100, B as B.speed < prev(B.speed), C as C.speed < 30)";
  auto row = [](int64_t ts, const char* car, int64_t speed) {
    return std::vector<Value>{Value::of_long(ts), Value::of_string(car), Value::of_long(speed)};
  };
  std::vector<std::string> got;
  auto listen = [&](Engine& e) {
    e.set_listener([&](const Delivery& d) {
      for (size_t i = 0; i < d.inew.size(); ++i)
        got.push_back(std::string(d.inew.row(i)[0].as_string()) + " " + std::to_string(d.inew.row(i)[1].as_long()) + " " +
                      std::to_string(d.inew.row(i)[2].as_long()));
    });
  };
  Engine first(parse_module(rule, "r.epl"), {kEv}, {});
  listen(first);
  int in = first.stream("Ev");
  first.send_at(in, row(0, "C1", 120).data(), 0);
  first.send_at(in, row(1, "C2", 130).data(), 1);
  first.send_at(in, row(2, "C1", 90).data(), 2);
  first.send_at(in, row(3, "C1", 80).data(), 3);
  std::string state = first.snapshot();
  Engine second(parse_module(rule, "r.epl"), {kEv}, {});
  second.restore(state);
  listen(second);
  second.send_at(in, row(4, "C2", 110).data(), 4);  // C2: 110 < 130 after its A
  second.send_at(in, row(5, "C1", 20).data(), 5);   // C1 ends: A=120, B=[90, 80], C=20
  second.send_at(in, row(6, "C2", 10).data(), 6);   // C2 ends: A=130, B=[110], C=10
  EXPECT_EQ(got, (std::vector<std::string>{"C1 2 20", "C2 1 10"}));
}

// A reload keeps the partial matches of a statement whose partition, pattern,
// defines and skip are unchanged (other measures are fine), and starts anew
// when a define changed.
TEST(CepMatchRecognize, ReloadKeepsPartialMatchesOfAnUnchangedPattern) {
  const std::string clause =
      " pattern (A B+ C) define A as A.speed > 100, B as B.speed < prev(B.speed), C as C.speed < 30)";
  const std::string before = "select * from Ev match_recognize (partition by car measures A.car as c" + clause;
  const std::string after =
      "select c, n from Ev match_recognize (partition by car measures A.car as c, count(B.speed) as n" + clause;
  std::string changed = after;
  changed.replace(changed.find("C.speed < 30"), 12, "C.speed < 31");
  auto row = [](int64_t ts, const char* car, int64_t speed) {
    return std::vector<Value>{Value::of_long(ts), Value::of_string(car), Value::of_long(speed)};
  };
  for (const auto& [next_rule, want] : std::vector<std::pair<std::string, size_t>>{{after, 1}, {changed, 0}}) {
    Engine old(parse_module(before, "r.epl"), {kEv}, {});
    int in = old.stream("Ev");
    old.send_at(in, row(0, "C1", 120).data(), 0);
    old.send_at(in, row(1, "C1", 90).data(), 1);
    Engine next(parse_module(next_rule, "r.epl"), {kEv}, {});
    std::vector<std::string> notes = next.adopt(old);
    size_t rows = 0;
    next.set_listener([&](const Delivery& d) {
      rows += d.inew.size();
      EXPECT_EQ(d.inew.row(0)[1].as_long(), 1);  // B = [90]
    });
    next.send_at(in, row(2, "C1", 20).data(), 2);
    EXPECT_EQ(rows, want) << next_rule;
    EXPECT_EQ(notes.size(), 1 - want) << next_rule;
  }
}

// The rule set compiles a rule before the first record against the
// properties it names (also those only in partition by, define and measures,
// and a variable used only in a define), then reads only what the
// match_recognize uses: ts, car, speed, not area.
TEST(CepMatchRecognize, TheRuleSetReadsWhatTheRowPatternUses) {
  RuleSetOptions o;
  o.texts = {{"r", "r@1", "r",
              "select t from Ev match_recognize (partition by car measures A.ts as t pattern (A B+) "
              "define A as A.speed > lim, B as B.speed < prev(B.speed));",
              "1"}};
  o.variables["lim"] = "100";
  o.check_variables_used = true;
  RuleSet set(std::move(o));
  set.set_input_type(EventType{"Ev", {{"ts", Type::Long}, {"car", Type::String}, {"speed", Type::Long}, {"area", Type::String}}}, 0);
  EXPECT_EQ(set.needed_fields(), (std::vector<int>{0, 1, 2}));
}

}  // namespace

// An ambiguous pattern doubles its partial matches with every event ((A | B)*
// with A and B matching anything: 2^n after n events). At MatchRun::kMaxStates
// no match starts and the excess is dropped and counted, so a rule cannot take
// the host's memory; the other statement keeps answering.
TEST(CepMatchRecognize, PartialMatchesStopAtTheirBound) {
  Engine engine(parse_module("select * from Ev match_recognize (measures count(A.speed) as n pattern ((A | B)* C) "
                             "define C as C.speed < 0);\n"
                             "select count(*) as n from Ev;",
                             "r.epl"),
                {kEv}, EngineOptions{});
  int64_t counted = 0;
  engine.set_listener([&](const Delivery& d) {
    if (d.statement.index() == 1) counted = d.inew.row(d.inew.size() - 1)[0].as_long();
  });
  std::vector<Value> row{Value::of_long(0), Value::of_string("C1"), Value::of_long(50)};
  for (int64_t i = 0; i < 22; ++i) {
    row[0] = Value::of_long(i);
    engine.send_at(0, row.data(), i * 1000);
  }
  EXPECT_GT(engine.match_states_dropped(), 0u);
  EXPECT_EQ(counted, 22);
}
