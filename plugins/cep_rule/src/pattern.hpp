// EPL patterns (`select ... from pattern [every a=Ev(speed > 100) -> b=Ev(car = a.car)
// where timer:within(10 sec)]`), following Esper's pattern state tree: every
// operator is a state node that its parent starts with the events matched so
// far, and that reports to its parent "true" (a match, and whether it is done)
// or "false" (it can never match). A match of the whole pattern is one row of
// the tags' properties that the statement or a later filter reads, `a.car`,
// `b.speed`, ... (a tag inside `[n]` is an array: `a[0].car` .. `a[n-1].car`);
// the statement then selects from those rows as from a stream without a window.
//
// Esper's rules kept here: an event reaches only the filters active before it
// arrived (a filter started by this event does not see it); all filters an
// event matches are found first, then their matches run in the order the
// filters were started; timers are event time and fire at their due instant,
// before the events of that instant.
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "flat_index.hpp"
#include "key_lists.hpp"
#include "serialize.hpp"
#include "timer_heap.hpp"
#include "value.hpp"
#include "window.hpp"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace weir::cep {

struct PatternPlan {
  struct Node {
    PatternKind kind = PatternKind::Filter;
    std::vector<int> kids;  // node indexes
    std::vector<int> tags;  // the tags bound inside this node (And merges them, Repeat collects them)
    int tag = -1;           // Filter: its tag, or -1
    bool under_every = false;  // Filter: the child of an `every`, which it never leaves (Esper's filter stays active)
    std::shared_ptr<const Plan> filter;  // Filter with an expression: over the event and the match so far
    // Filter with an expression: its plan's layout with the match row's
    // slots where they are kept (narrow_pattern): event fields, then
    // `fields` + match row slot.
    std::vector<int> slots;
    // Filter: the equality conjunct `prop = <matched events>` the active
    // filters are indexed by (Esper's filter index), or index_field = -1.
    int index_field = -1;
    const Expr* index_key = nullptr;  // inside filter, reads only matched events
    bool key_decides = false;  // the rest of the filter reads only the event: the same answer for one key
    // key_decides: those other conjuncts, over the event's own fields (see on_event).
    std::vector<ExprPtr> rest;
    // Filter reading only the event (`a=Ev(speed > 100)`): its expression
    // over the event's own fields, evaluated on the event as it is, without
    // filling the filter's slots (each event checks it); else null.
    ExprPtr on_event;
    int64_t ms = 0;     // Interval, Within
    int64_t count = 0;  // Repeat
  };
  struct Tag {
    std::string name;
    size_t offset = 0;      // its properties in `type` (an array tag: the one being matched)
    int64_t count = 0;      // inside `[n]`: an array of n events at array_offset
    size_t array_offset = 0;
    // Its slots in the match row, which holds only the properties something
    // reads (narrow_pattern): the tagged event's field -> its slot; inside
    // `[n]`, per element, (the tag's slot, the element's slot); all of them.
    std::vector<std::pair<size_t, size_t>> keep;
    std::vector<std::vector<std::pair<size_t, size_t>>> elements;
    std::vector<size_t> slots;
  };
  std::vector<Node> nodes;  // nodes[0] is the pattern's top node
  std::vector<Tag> tags;
  size_t fields = 0;  // properties of the input stream (one tag's region)
  size_t width = 0;   // a match row (after narrow_pattern: the slots kept)
  // narrow_pattern: the whole row's index of each slot kept, in slot order.
  // A checkpoint taken before match rows were narrowed holds whole rows of
  // `type.fields.size()` values; they load through this.
  std::vector<size_t> kept;
  std::vector<int> reads;  // the input properties the filters read (after narrow_pattern: or the match row keeps)
  EventType type;     // every tag's properties, as the statement names them (before narrow_pattern: the match row)
  std::string text;
};

// Checks and compiles a pattern over the input stream's type. Throws EplError.
std::shared_ptr<PatternPlan> compile_pattern(const PatternAst& p, const EventType& input, const Variables& vars,
                                             const std::string& file);
// Then, once the statement over `type` is compiled (layout: its slots'
// indexes in `type`): the match row keeps only the properties that the
// statement or a filter reads (the hard-braking rule reads 4 of its 2 x 8),
// and layout is rewritten to index that row. A match row is copied per
// pending event (every `a` waiting for its `b`): its width is their cost.
void narrow_pattern(PatternPlan& p, std::vector<int>& layout);

// One running pattern (one per statement instance).
class PatternRun {
 public:
  using MatchFn = std::function<void(const Value* row)>;
  PatternRun(const PatternPlan& plan, const Variables& vars, int64_t start_ms, MatchFn on_match);
  ~PatternRun();

  void on_event(const Value* row, int64_t now);
  int64_t next_timer() const { return timers_.empty() ? kNever : timers_.next_due(); }
  void on_timer(int64_t now);

  void save(Writer& w) const;
  void load(Reader& r);

  size_t active_filters() const { return active_; }

  // At most this many live state nodes: past it an `every` starts no new
  // instance, each refusal counted in dropped(). Nested repetition (`every
  // (every a=Ev)`) doubles the instances with every event: 38 events hung the
  // host before (Esper gave no answer either). The hard-braking rule over
  // 10 000 cars keeps about 30 000.
  static constexpr size_t kMaxStates = 1'000'000;
  uint64_t dropped() const { return dropped_; }

 private:
  // The state nodes (pattern.cpp).
  struct State;
  struct FilterState;
  struct Root;
  struct TimedState;
  struct ListState;
  struct IntervalState;
  struct WithinState;
  struct EveryState;
  struct FollowedByState;
  struct AndState;
  struct OrState;
  struct NotState;
  struct RepeatState;
  using TimerKey = std::pair<int64_t, uint64_t>;

  // A state node's owner: an ended node's memory goes to the run's spares
  // of its plan node, for the next state of that node.
  struct Recycle {
    void operator()(State* s) const;
  };
  using StatePtr = std::unique_ptr<State, Recycle>;
  StatePtr make(int node, State* parent);
  template <class S>
  StatePtr make_as(int node, State* parent);
  uint64_t add_filter(FilterState* f, const Value* key, uint64_t id);
  void remove_filter(uint64_t id, int node, const Value* key);
  TimerKey add_timer(int64_t due, TimedState* s, uint64_t seq = 0);
  void retire(StatePtr s);
  void cleanup();
  // key_decides: whether an event with the key passes the node's filter,
  // from the rest conjuncts alone (no filter state read).
  bool passes_rest(const PatternPlan::Node& n, const Value* ev);
  // A filter's slots (by its plan's layout): the event's properties (ev null:
  // nulls), then those of the events matched so far (begin null: nulls).
  void fill_slots(const std::vector<int>& slots, const Value* ev, const Value* begin);

  const PatternPlan& plan_;
  const Variables& vars_;
  MatchFn on_match_;
  int64_t now_;
  uint64_t seq_ = 0;  // start order of filters and timers
  size_t active_ = 0;  // active filters
  // Per node: its active filters, and the start order of the first of them
  // since it had none (the filter order of Esper's index, see on_event).
  std::vector<size_t> node_active_;
  std::vector<uint64_t> node_rank_;
  // Indexed filters by node and key value; the rest (scanned) by start order.
  using Active = std::pair<uint64_t, FilterState*>;  // start order, filter
  // One node's indexed filters by key (most events, of cars without a
  // pending filter, find nothing: one slot read).
  std::vector<KeyLists<Active>> index_;
  std::vector<int> live_index_;  // the nodes with an indexed filter active, ascending (each event reads them)
  std::vector<Active> scanned_;  // by start order (each event reads them all)
  TimerHeap<TimedState> timers_;
  // The memory of ended state nodes, by plan node (one state type, so one
  // size, per node): an `every a -> b` starts and ends two states per `a`,
  // which so cost no malloc and reuse memory that is still in cache.
  // Declared before the states, which give their memory back to it.
  std::vector<std::vector<void*>> spare_;
  size_t live_ = 0;       // state nodes made and not recycled
  uint64_t dropped_ = 0;  // instances an `every` did not start at kMaxStates
  std::unique_ptr<Root> root_;
  std::vector<StatePtr> graveyard_;  // nodes that ended during this event or timer
  std::vector<Active> candidates_, matched_, known_;  // known_: matched for their key alone
  std::function<bool(const Active&, const Active&)> handout_order_;
  std::vector<Value> scratch_;
};

}  // namespace weir::cep
