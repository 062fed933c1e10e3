// `select ... from S match_recognize (...)`: row patterns with Esper's
// semantics (its RowRecogNFAView). The pattern compiles to Esper's NFA: one
// state per variable occurrence, each knowing its next states (or the end).
// Per partition key, the running states (partial matches) see each event: a
// state whose variable's condition holds moves on to each of its next states;
// then every start state tries the event as a new match. Matches that reach
// the end at this event are ranked (the earliest start wins; among those,
// Esper's greedy counts), and `after match skip` drops the partial matches
// they overlap. Each match is one row of the measures, which the statement
// then selects from as from a stream without a window.
#pragma once

#include "compile.hpp"
#include "match_recognize_ast.hpp"
#include "serialize.hpp"
#include "value.hpp"

#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

namespace weir::cep {

struct MatchPlan {
  static constexpr int kEnd = -1;
  struct State {
    int var = 0;              // the variable it matches
    std::vector<int> next;    // next states, in Esper's order; kEnd: the match is complete
    int greedy = -1;          // -1: a single row; 1: greedy quantifier; 0: reluctant
  };
  struct Var {
    std::string name;
    bool multiple = false;  // quantified with * or + (or inside such a group, or twice): its rows are a list
    std::shared_ptr<const Plan> define;  // stream filter over the define row, or null (any row matches)
  };
  // An aggregate of a measure over a repeated variable's rows.
  struct Agg {
    std::string fn;  // count sum avg min max first last
    int var = 0;
    std::shared_ptr<const Plan> arg;  // its argument: column 0, over the define row with the variable's region
    Type type = Type::Null;      // of the result
    Type arg_type = Type::Null;  // of the argument
  };
  // prev(expr, n) in a define: expr over the partition's n-th previous row.
  struct Prev {
    int64_t n = 1;
    std::shared_ptr<const Plan> arg;  // column 0 over the input row
  };

  std::vector<State> states;
  std::vector<int> starts;
  std::vector<Var> vars;
  std::vector<Agg> aggs;
  std::vector<Prev> prevs;
  int64_t history = 0;  // rows of each partition kept for prev()
  MatchSkip skip = MatchSkip::PastLastRow;
  std::shared_ptr<const Plan> partition;  // the keys: columns over the input row, or null
  std::shared_ptr<const Plan> measures;   // columns over the define row (aggregates read from their slots)
  size_t fields = 0;  // properties of the input stream
  std::vector<int> reads;  // the input properties it reads (keys, defines, prev(), measures)
  // The define row: the current event (plain names), then one region per
  // variable (`A.speed`), then each prev() value, then each aggregate.
  EventType row_type;
  size_t prev_offset = 0, agg_offset = 0;
  EventType type;  // the measures: what the statement selects from
  std::string text;
};

// Checks and compiles the clause over the input stream's type. Throws EplError.
std::shared_ptr<const MatchPlan> compile_match_recognize(const MatchRecognizeAst& m, const EventType& input,
                                                         const Variables& vars, const std::string& file);

// One running match_recognize (one per statement instance): every partition's
// partial matches and the rows prev() reads.
class MatchRun {
 public:
  using MatchFn = std::function<void(const Value* measures_row)>;
  MatchRun(const MatchPlan& plan, const Variables& vars, MatchFn on_match);

  void on_event(const Value* input_row);

  void save(Writer& w) const;
  void load(Reader& r);

  size_t partition_count() const { return parts_.size(); }

  // At most this many partial matches (all partitions): past it no new match
  // starts and the partial matches an event would add beyond it are dropped,
  // each counted in dropped(). An ambiguous pattern (`(A | B)* C`, or one that
  // skips to the current row) can multiply its partial matches with every
  // event (Esper 8.9 runs out of heap on 40 events of some random ones); this
  // keeps a rule from taking the host's memory. Esper's maxStates, preventStart.
  static constexpr size_t kMaxStates = 100'000;
  size_t states() const { return states_; }
  uint64_t dropped() const { return dropped_; }

 private:
  using Row = std::shared_ptr<const std::vector<Value>>;
  struct Entry {  // Esper's RowRecogNFAStateEntry: one partial (or complete) match
    uint64_t begin = 0, end = 0;  // event sequence numbers
    int state = 0;
    std::vector<Row> single;             // by variable: its row (single variables), or null
    std::vector<std::vector<Row>> multi;  // by variable: its rows (multiple variables)
    std::vector<int> greedy;             // by state: rows a greedy state took
  };
  struct Partition {
    std::vector<Entry> states;
    std::deque<Row> history;  // newest last, at most plan.history rows
  };

  bool matches(int state, const Entry& e, const Row& ev);
  void take(const Entry& from, int state, int next, const Row& ev, uint64_t seq, std::vector<Entry>& nexts,
            std::vector<Entry>& ends) const;
  std::vector<Entry> rank(std::vector<Entry> ends) const;
  const Entry& best_of(const std::vector<const Entry*>& same_begin) const;
  void output(const Entry& e);
  void fill_row(const Entry& e);
  void eval_into(const Plan& plan, const Value* composite, std::vector<Value>& slots, Value* out, size_t n);
  static void save_row(Writer& w, const Row& r, size_t width);
  static Row load_row(Reader& r, size_t width);

  const MatchPlan& plan_;
  const Variables& vars_;
  MatchFn on_match_;
  uint64_t seq_ = 0;
  size_t states_ = 0;     // partial matches of every partition
  uint64_t dropped_ = 0;  // starts and partial matches refused at kMaxStates
  std::unordered_map<std::string, Partition> parts_;  // by the partition key's values, serialized
  std::vector<Value> row_, slots_, out_, key_;  // scratch
};

}  // namespace weir::cep
