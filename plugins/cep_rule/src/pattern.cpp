// Running a pattern (pattern.hpp): the state tree of Esper's pattern
// operators over the events and timers of one statement instance.
#include "pattern.hpp"

#include "eval.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>

namespace weir::cep {

using Row = std::vector<Value>;

// A node of the state tree. A node reports to its parent as the last thing it
// does; a node that ends is stopped (its filters and timers leave the run)
// and kept in the graveyard until the current event or timer is done, so a
// call that is still on the stack never runs on a freed node.
struct PatternRun::State {
  PatternRun& run;
  State* parent;
  int node;
  bool stopped = false;
  size_t at = SIZE_MAX;  // its place in a FollowedByState parent's instance list

  State(PatternRun& r, State* p, int n) : run(r), parent(p), node(n) {}
  virtual ~State() = default;
  const PatternPlan::Node& plan() const { return run.plan_.nodes[static_cast<size_t>(node)]; }
  int kid_node(size_t k) const { return plan().kids[k]; }

  // begin: the match so far, by value (moved along where the caller is done with it).
  virtual void start(Row begin) = 0;
  virtual void stop() { stopped = true; }
  virtual void child_true(State*, Row, bool) {}
  virtual void child_false(State*) {}
  virtual void on_timer() {}
  virtual void save(Writer& w) const = 0;
  virtual void load(Reader& r) = 0;

  // A child, started after it is stored (its start may already report).
  State* spawn(StatePtr& slot, int kid, Row begin) {
    slot = run.make(kid, this);
    State* s = slot.get();
    s->start(std::move(begin));
    return s;
  }
  void drop(StatePtr& slot) {
    if (!slot) return;
    slot->stop();
    run.retire(std::move(slot));
  }
  static void stop_kid(const StatePtr& k) {
    if (k) k->stop();
  }
  void save_kid(Writer& w, const StatePtr& k) const {
    w.u8(k != nullptr);
    if (k) k->save(w);
  }
  void load_kid(Reader& r, StatePtr& k, int kid) {
    k.reset();
    if (!r.u8()) return;
    k = run.make(kid, this);
    k->load(r);
  }
  void copy_tags(Row& to, const Row& from, const std::vector<int>& tags) const {
    for (int t : tags)
      for (size_t s : run.plan_.tags[static_cast<size_t>(t)].slots) to[s] = from[s];
  }
};

namespace {

void save_row(Writer& w, const Row& r) {
  w.u64(r.size());
  for (const Value& v : r) w.value(v);
}
// A match row as saved: of the plan's width, or a whole row from before
// match rows were narrowed (PatternPlan::kept), narrowed as it loads.
Row load_row(Reader& r, const PatternPlan& plan) {
  uint64_t saved = r.u64();
  Row out;
  out.reserve(plan.width);
  if (saved == plan.width) {
    for (size_t i = 0; i < plan.width; ++i) out.push_back(r.value());
    return out;
  }
  if (saved != plan.type.fields.size() || plan.kept.size() != plan.width)
    throw std::runtime_error("cep_rule state: pattern row width changed");
  std::vector<Value> whole;
  whole.reserve(saved);
  for (uint64_t i = 0; i < saved; ++i) whole.push_back(r.value());
  for (size_t i : plan.kept) out.push_back(std::move(whole[i]));
  return out;
}

}  // namespace

// tag=Stream(filter): true (and done) at the first event that passes.
struct PatternRun::FilterState final : State {
  using State::State;
  Row begin;
  Value key;  // indexed filters: the key value the event must have
  uint64_t id = 0;

  void start(Row b) override {
    begin = std::move(b);
    register_as(0);
  }
  void register_as(uint64_t want) {
    if (plan().index_field >= 0) key = eval_with(nullptr, *plan().index_key);
    id = run.add_filter(this, plan().index_field >= 0 ? &key : nullptr, want);
  }
  void stop() override {
    if (id) run.remove_filter(id, node, plan().index_field >= 0 ? &key : nullptr);
    id = 0;
    State::stop();
  }
  // The filter's slots from the event (null: none) and the events matched so far.
  Value eval_with(const Value* ev, const Expr& e) {
    run.fill_slots(plan().slots, ev, begin.data());
    return eval(e, EvalEnv{run.scratch_.data(), run.vars_.values.data()});
  }
  bool matches(const Value* ev) {
    const PatternPlan::Node& n = plan();
    if (!n.filter) return true;
    if (n.on_event) return eval_true(*n.on_event, EvalEnv{ev, run.vars_.values.data()});
    Value v = eval_with(ev, *n.filter->stream_filter);
    return v.type() == Type::Bool && v.as_bool();
  }
  void fire(const Value* ev) {
    // A filter that stays keeps its row; one that ends hands it on.
    Row m = plan().under_every ? begin : std::move(begin);
    if (plan().tag >= 0)
      for (auto [field, slot] : run.plan_.tags[static_cast<size_t>(plan().tag)].keep) m[slot] = ev[field];
    if (plan().under_every) {  // stays: every match of it is a match of the every
      parent->child_true(this, std::move(m), false);
      return;
    }
    stop();
    parent->child_true(this, std::move(m), true);
  }
  void save(Writer& w) const override {
    w.u64(id);
    save_row(w, begin);
  }
  void load(Reader& r) override {
    uint64_t want = r.u64();
    begin = load_row(r, run.plan_);
    register_as(want);
  }
};

// The top: a match of its child is a match of the pattern; once the child is
// done (no `every` left), the pattern is over.
struct PatternRun::Root final : State {
  using State::State;
  StatePtr kid;
  void start(Row b) override { spawn(kid, 0, std::move(b)); }
  void stop() override {
    stop_kid(kid);
    State::stop();
  }
  void child_true(State*, Row m, bool quitted) override {
    if (quitted) drop(kid);
    run.on_match_(m.data());
  }
  void child_false(State*) override { drop(kid); }
  void save(Writer& w) const override { save_kid(w, kid); }
  void load(Reader& r) override { load_kid(r, kid, 0); }
};

// A node with one armed timer at most (interval, within).
struct PatternRun::TimedState : State {
  using State::State;
  bool armed = false;
  TimerKey key{};
  uint32_t slot = 0;  // its timer in the run's timers, while armed
  void arm(int64_t due);
  void disarm();
  void save_timer(Writer& w) const {
    w.u8(armed);
    w.i64(key.first);
    w.u64(key.second);
  }
  void load_timer(Reader& r);
};

void PatternRun::TimedState::arm(int64_t due) {
  key = run.add_timer(due, this);
  armed = true;
}
void PatternRun::TimedState::disarm() {
  if (armed) run.timers_.cancel(slot);
  armed = false;
}
void PatternRun::TimedState::load_timer(Reader& r) {
  armed = r.u8() != 0;
  key.first = r.i64();
  key.second = r.u64();
  if (armed) key = run.add_timer(key.first, this, key.second);
}

// timer:interval(T): true (and done) T after it starts.
struct PatternRun::IntervalState final : TimedState {
  using TimedState::TimedState;
  Row begin;
  void start(Row b) override {
    begin = std::move(b);
    arm(run.now_ + plan().ms);
  }
  void stop() override {
    disarm();
    State::stop();
  }
  void on_timer() override {
    armed = false;
    stop();
    parent->child_true(this, std::move(begin), true);
  }
  void save(Writer& w) const override {
    save_timer(w);
    save_row(w, begin);
  }
  void load(Reader& r) override {
    load_timer(r);
    begin = load_row(r, run.plan_);
  }
};

// p where timer:within(T): p's matches until T has passed, then false.
struct PatternRun::WithinState final : TimedState {
  using TimedState::TimedState;
  StatePtr kid;
  void start(Row b) override {
    arm(run.now_ + plan().ms);
    spawn(kid, kid_node(0), std::move(b));
  }
  void stop() override {
    disarm();
    stop_kid(kid);
    State::stop();
  }
  void child_true(State*, Row m, bool quitted) override {
    if (quitted) {
      disarm();
      drop(kid);
    }
    parent->child_true(this, std::move(m), quitted);
  }
  void child_false(State*) override {
    disarm();
    drop(kid);
    parent->child_false(this);
  }
  void on_timer() override {
    armed = false;
    drop(kid);
    parent->child_false(this);
  }
  void save(Writer& w) const override {
    save_timer(w);
    save_kid(w, kid);
  }
  void load(Reader& r) override {
    load_timer(r);
    load_kid(r, kid, kid_node(0));
  }
};

// Nodes with a list of children (every: its running instances; and/or: one per operand).
struct PatternRun::ListState : State {
  using State::State;
  std::vector<StatePtr> kids;
  size_t index_of(const State* s) const {
    for (size_t i = 0; i < kids.size(); ++i)
      if (kids[i].get() == s) return i;
    return SIZE_MAX;
  }
  void stop() override {
    for (auto& k : kids) stop_kid(k);
    State::stop();
  }
  bool none_left() const {
    return std::all_of(kids.begin(), kids.end(), [](const auto& k) { return k == nullptr; });
  }
  void save_kids(Writer& w) const {
    w.u64(kids.size());
    for (const auto& k : kids) save_kid(w, k);
  }
};

// every p, as Esper's: a filter below it stays active and each of its
// matches passes up; any other p is started again (a new instance, the old
// ones kept while they live) at each of its matches and when an instance
// ends false. A new instance that turns true as it starts (a `not`) is
// dropped again, its match discarded, so that it cannot restart forever.
struct PatternRun::EveryState final : ListState {
  using ListState::ListState;
  Row begin;
  State* spawning = nullptr;  // the instance being started again
  bool caught = false;        // it turned true or false while starting
  void start(Row b) override {
    begin = std::move(b);
    kids.emplace_back();
    spawn(kids.back(), kid_node(0), begin);
  }
  void respawn() {
    if (stopped) return;
    if (run.live_ >= kMaxStates) {
      ++run.dropped_;
      return;
    }
    kids.emplace_back(run.make(kid_node(0), this));
    State* s = kids.back().get();
    spawning = s;
    caught = false;
    s->start(begin);
    spawning = nullptr;
    if (caught) remove(s);
  }
  void remove(State* from) {
    size_t i = index_of(from);
    if (i == SIZE_MAX) return;
    drop(kids[i]);
    kids.erase(kids.begin() + static_cast<std::ptrdiff_t>(i));
  }
  void child_true(State* from, Row m, bool quitted) override {
    if (from == spawning) {
      caught = true;
      return;
    }
    if (quitted) remove(from);
    if (run.plan_.nodes[static_cast<size_t>(kid_node(0))].kind != PatternKind::Filter) respawn();
    parent->child_true(this, std::move(m), false);
  }
  void child_false(State* from) override {
    if (from == spawning) {
      caught = true;
      return;
    }
    remove(from);
    respawn();
  }
  void save(Writer& w) const override {
    save_row(w, begin);
    save_kids(w);
  }
  void load(Reader& r) override {
    begin = load_row(r, run.plan_);
    kids.resize(r.u64());
    for (auto& k : kids) load_kid(r, k, kid_node(0));
  }
};

// p1 -> p2 -> ...: each match of p(i) starts an instance of p(i+1) with it; a
// match of the last is a match; false once no instance is left.
struct PatternRun::FollowedByState final : State {
  using State::State;
  // The instances (operand index, state), unordered: an `every a -> b` has
  // one per pending a, each knowing its place (State::at).
  std::vector<std::pair<size_t, StatePtr>> kids;
  void start(Row b) override { next(0, std::move(b)); }
  void next(size_t i, Row b) {
    kids.emplace_back(i, run.make(kid_node(i), this));
    State* s = kids.back().second.get();
    s->at = kids.size() - 1;
    s->start(std::move(b));
  }
  void stop() override {
    for (auto& k : kids) stop_kid(k.second);
    State::stop();
  }
  // An instance already removed (still alive in the graveyard) is not found.
  size_t find(const State* s) const { return s->at < kids.size() && kids[s->at].second.get() == s ? s->at : SIZE_MAX; }
  void remove(size_t at) {
    drop(kids[at].second);
    if (at + 1 != kids.size()) {
      kids[at] = std::move(kids.back());
      kids[at].second->at = at;
    }
    kids.pop_back();
  }
  void child_true(State* from, Row m, bool quitted) override {
    size_t at = find(from);
    if (at == SIZE_MAX) return;
    size_t i = kids[at].first;
    if (quitted) remove(at);
    if (i + 1 < plan().kids.size()) {
      next(i + 1, std::move(m));
      return;
    }
    parent->child_true(this, std::move(m), kids.empty());
  }
  void child_false(State* from) override {
    size_t at = find(from);
    if (at == SIZE_MAX) return;
    remove(at);
    if (kids.empty()) parent->child_false(this);
  }
  void save(Writer& w) const override {
    w.u64(kids.size());
    for (const auto& [i, k] : kids) {
      w.u64(i);
      save_kid(w, k);
    }
  }
  void load(Reader& r) override {
    kids.resize(r.u64());
    for (size_t at = 0; at < kids.size(); ++at) {
      auto& [i, k] = kids[at];
      i = r.u64();
      if (i >= plan().kids.size()) throw std::runtime_error("cep_rule state: bad pattern");
      load_kid(r, k, kid_node(i));
      if (!k) throw std::runtime_error("cep_rule state: bad pattern");
      k->at = at;
    }
  }
};

// p1 and p2 ...: each operand's matches are kept; a match of one with a
// match of every other is a match (all combinations); done when all but the
// `not`s are.
struct PatternRun::AndState final : ListState {
  using ListState::ListState;
  std::vector<std::vector<Row>> events;
  void start(Row b) override {
    size_t n = plan().kids.size();
    kids.resize(n);
    events.assign(n, {});
    for (size_t i = 0; i < n && !stopped; ++i) spawn(kids[i], kid_node(i), b);
  }
  void combine(size_t j, size_t from, Row& r, std::vector<Row>& out) const {
    if (j == events.size()) {
      out.push_back(r);
      return;
    }
    if (j == from) return combine(j + 1, from, r, out);
    const std::vector<int>& tags = run.plan_.nodes[static_cast<size_t>(kid_node(j))].tags;
    Row keep = r;
    for (const Row& e : events[j]) {
      copy_tags(r, e, tags);
      combine(j + 1, from, r, out);
      r = keep;
    }
  }
  void child_true(State* from, Row m, bool quitted) override {
    size_t i = index_of(from);
    if (i == SIZE_MAX) return;
    if (quitted) drop(kids[i]);
    events[i].push_back(m);
    for (size_t j = 0; j < events.size(); ++j)
      if (j != i && events[j].empty()) return;
    std::vector<Row> out;
    combine(0, i, m, out);
    // Done once every operand but the `not`s is (Esper's and-node ignores its
    // not-operands there: `a and not b` ends with a's match).
    bool done = true;
    for (size_t j = 0; j < kids.size(); ++j)
      if (kids[j] && run.plan_.nodes[static_cast<size_t>(kid_node(j))].kind != PatternKind::Not) done = false;
    if (done) stop();
    for (Row& r : out) parent->child_true(this, std::move(r), done);
  }
  void child_false(State*) override {
    stop();
    parent->child_false(this);
  }
  void save(Writer& w) const override {
    save_kids(w);
    for (const auto& list : events) {
      w.u64(list.size());
      for (const Row& e : list) save_row(w, e);
    }
  }
  void load(Reader& r) override {
    size_t n = plan().kids.size();
    if (r.u64() != n) throw std::runtime_error("cep_rule state: bad pattern");
    kids.resize(n);
    for (size_t i = 0; i < n; ++i) load_kid(r, kids[i], kid_node(i));
    events.assign(n, {});
    for (auto& list : events) {
      list.resize(r.u64());
      for (Row& e : list) e = load_row(r, run.plan_);
    }
  }
};

// p1 or p2 ...: the matches of any; done (the others stop) when one is done.
struct PatternRun::OrState final : ListState {
  using ListState::ListState;
  void start(Row b) override {
    size_t n = plan().kids.size();
    kids.resize(n);
    for (size_t i = 0; i < n && !stopped; ++i) spawn(kids[i], kid_node(i), b);
  }
  void child_true(State*, Row m, bool quitted) override {
    if (quitted) {
      for (auto& k : kids) drop(k);
      stop();
    }
    parent->child_true(this, std::move(m), quitted);
  }
  void child_false(State* from) override {
    size_t i = index_of(from);
    if (i == SIZE_MAX) return;
    drop(kids[i]);
    if (none_left()) parent->child_false(this);
  }
  void save(Writer& w) const override { save_kids(w); }
  void load(Reader& r) override {
    size_t n = plan().kids.size();
    if (r.u64() != n) throw std::runtime_error("cep_rule state: bad pattern");
    kids.resize(n);
    for (size_t i = 0; i < n; ++i) load_kid(r, kids[i], kid_node(i));
  }
};

// not p: true at once (not done); false when p turns true.
struct PatternRun::NotState final : State {
  using State::State;
  StatePtr kid;
  void start(Row b) override {
    spawn(kid, kid_node(0), b);
    if (!stopped && kid) parent->child_true(this, b, false);
  }
  void stop() override {
    stop_kid(kid);
    State::stop();
  }
  void child_true(State*, Row, bool) override {
    drop(kid);
    stop();
    parent->child_false(this);
  }
  void child_false(State*) override { drop(kid); }
  void save(Writer& w) const override { save_kid(w, kid); }
  void load(Reader& r) override { load_kid(r, kid, kid_node(0)); }
};

// [n] p [until q]: p restarted until it matched n times (its tags collected
// into arrays); q, if given, ends it: true with what was collected (at least
// n), else false.
struct PatternRun::RepeatState final : State {
  using State::State;
  Row begin, acc;
  int64_t count = 0;
  StatePtr match, until;
  void start(Row b) override {
    begin = acc = b;
    spawn(match, kid_node(0), b);
    if (!stopped && plan().kids.size() > 1) spawn(until, kid_node(1), b);
  }
  void stop() override {
    stop_kid(match);
    stop_kid(until);
    State::stop();
  }
  void child_true(State* from, Row m, bool quitted) override {
    int64_t n = plan().count;
    if (from == until.get()) {
      if (count < n) {
        stop();
        parent->child_false(this);
        return;
      }
      copy_tags(acc, m, run.plan_.nodes[static_cast<size_t>(kid_node(1))].tags);
      stop();
      parent->child_true(this, acc, true);
      return;
    }
    if (from != match.get()) return;
    for (int t : run.plan_.nodes[static_cast<size_t>(kid_node(0))].tags)
      for (auto [from_slot, to_slot] : run.plan_.tags[static_cast<size_t>(t)].elements[static_cast<size_t>(count)])
        acc[to_slot] = m[from_slot];
    ++count;
    if (quitted) drop(match);
    if (n && count >= n) {
      stop();
      parent->child_true(this, acc, true);
      return;
    }
    if (quitted) spawn(match, kid_node(0), begin);
  }
  void child_false(State* from) override {
    if (from == until.get()) {
      drop(until);
      return;
    }
    stop();
    parent->child_false(this);
  }
  void save(Writer& w) const override {
    save_row(w, begin);
    save_row(w, acc);
    w.i64(count);
    save_kid(w, match);
    save_kid(w, until);
  }
  void load(Reader& r) override {
    begin = load_row(r, run.plan_);
    acc = load_row(r, run.plan_);
    count = r.i64();
    load_kid(r, match, kid_node(0));
    if (plan().kids.size() > 1) load_kid(r, until, kid_node(1));
    else if (r.u8()) throw std::runtime_error("cep_rule state: bad pattern");
  }
};

// ---------------------------------------------------------------- the run

PatternRun::PatternRun(const PatternPlan& plan, const Variables& vars, int64_t start_ms, MatchFn on_match)
    : plan_(plan),
      vars_(vars),
      on_match_(std::move(on_match)),
      now_(start_ms),
      node_active_(plan.nodes.size()),
      node_rank_(plan.nodes.size()),
      index_(plan.nodes.size()),
      spare_(plan.nodes.size()) {
  handout_order_ = [this](const Active& x, const Active& y) {
    bool xc = x.second->plan().filter != nullptr, yc = y.second->plan().filter != nullptr;
    if (xc != yc) return xc;
    uint64_t xr = node_rank_[static_cast<size_t>(x.second->node)], yr = node_rank_[static_cast<size_t>(y.second->node)];
    return xr != yr ? xr < yr : x.first < y.first;
  };
  root_ = std::make_unique<Root>(*this, nullptr, -1);
  root_->start(Row(plan_.width));
  cleanup();
}

PatternRun::~PatternRun() {
  root_.reset();  // its nodes' memory goes to spare_
  graveyard_.clear();
  for (auto& list : spare_)
    for (void* mem : list) ::operator delete(mem);
}

template <class S>
PatternRun::StatePtr PatternRun::make_as(int node, State* parent) {
  std::vector<void*>& spare = spare_[static_cast<size_t>(node)];
  void* mem;
  if (spare.empty()) {
    mem = ::operator new(sizeof(S));
  } else {
    mem = spare.back();
    spare.pop_back();
  }
  ++live_;
  return StatePtr(new (mem) S(*this, parent, node));
}

void PatternRun::Recycle::operator()(State* s) const {
  PatternRun& run = s->run;
  auto node = static_cast<size_t>(s->node);
  void* mem = dynamic_cast<void*>(s);  // the whole node's memory
  s->~State();
  run.spare_[node].push_back(mem);
  --run.live_;
}

PatternRun::StatePtr PatternRun::make(int node, State* parent) {
  switch (plan_.nodes[static_cast<size_t>(node)].kind) {
    case PatternKind::Filter: return make_as<FilterState>(node, parent);
    case PatternKind::Interval: return make_as<IntervalState>(node, parent);
    case PatternKind::Every: return make_as<EveryState>(node, parent);
    case PatternKind::Not: return make_as<NotState>(node, parent);
    case PatternKind::Within: return make_as<WithinState>(node, parent);
    case PatternKind::FollowedBy: return make_as<FollowedByState>(node, parent);
    case PatternKind::And: return make_as<AndState>(node, parent);
    case PatternKind::Or: return make_as<OrState>(node, parent);
    case PatternKind::Repeat: return make_as<RepeatState>(node, parent);
  }
  throw std::logic_error("cep_rule: unknown pattern node");
}

void PatternRun::fill_slots(const std::vector<int>& slots, const Value* ev, const Value* begin) {
  scratch_.resize(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    auto src = static_cast<size_t>(slots[i]);
    if (src < plan_.fields) scratch_[i] = ev ? ev[src] : Value();
    else scratch_[i] = begin ? begin[src - plan_.fields] : Value();
  }
}

bool PatternRun::passes_rest(const PatternPlan::Node& n, const Value* ev) {
  EvalEnv env{ev, vars_.values.data()};
  return std::all_of(n.rest.begin(), n.rest.end(), [&](const ExprPtr& e) { return eval_true(*e, env); });
}

namespace {
// An active filter (start order, filter) before the start order id.
template <class A>
bool started_before(const A& a, uint64_t id) {
  return a.first < id;
}
}  // namespace

uint64_t PatternRun::add_filter(FilterState* f, const Value* key, uint64_t id) {
  if (!id) id = ++seq_;
  seq_ = std::max(seq_, id);
  ++active_;
  auto n = static_cast<size_t>(f->node);
  if (node_active_[n]++ == 0) node_rank_[n] = id;
  if (!key) {
    // By start order: a new filter goes last, a restored one where its start order puts it.
    auto at = scanned_.empty() || scanned_.back().first < id
                  ? scanned_.end()
                  : std::lower_bound(scanned_.begin(), scanned_.end(), id, started_before<Active>);
    scanned_.insert(at, Active{id, f});
  }
  else if (!key->is_null()) {  // a null key matches nothing
    auto& idx = index_[static_cast<size_t>(f->node)];
    if (idx.empty()) live_index_.insert(std::lower_bound(live_index_.begin(), live_index_.end(), f->node), f->node);
    idx.get(*key).emplace_back(id, f);
  }
  return id;
}

void PatternRun::remove_filter(uint64_t id, int node, const Value* key) {
  --active_;
  --node_active_[static_cast<size_t>(node)];
  if (!key) {
    auto at = std::lower_bound(scanned_.begin(), scanned_.end(), id, started_before<Active>);
    if (at != scanned_.end() && at->first == id) scanned_.erase(at);
    return;
  }
  if (key->is_null()) return;
  auto& idx = index_[static_cast<size_t>(node)];
  std::vector<Active>* ids = idx.find(*key);
  if (!ids) return;
  ids->erase(std::find_if(ids->begin(), ids->end(), [id](const Active& a) { return a.first == id; }));
  if (ids->empty()) idx.erase(*key);
  if (idx.empty()) {
    auto at = std::find(live_index_.begin(), live_index_.end(), node);
    if (at != live_index_.end()) live_index_.erase(at);
  }
}

PatternRun::TimerKey PatternRun::add_timer(int64_t due, TimedState* s, uint64_t seq) {
  if (!seq) seq = ++seq_;
  seq_ = std::max(seq_, seq);
  s->slot = timers_.push(due, seq, s);
  return {due, seq};
}

void PatternRun::retire(StatePtr s) { graveyard_.push_back(std::move(s)); }
void PatternRun::cleanup() { graveyard_.clear(); }

void PatternRun::on_event(const Value* row, int64_t now) {
  now_ = now;
  // The filters active now, in start order; those the event passes, then their matches.
  candidates_.clear();
  candidates_.assign(scanned_.begin(), scanned_.end());
  known_.clear();
  for (int n : live_index_) {
    auto& idx = index_[static_cast<size_t>(n)];
    const PatternPlan::Node& node = plan_.nodes[static_cast<size_t>(n)];
    const std::vector<Active>* ids = idx.find(row[node.index_field]);
    if (!ids) continue;
    if (!node.key_decides) {
      candidates_.insert(candidates_.end(), ids->begin(), ids->end());
      continue;
    }
    // The rest of the filter reads only the event: one answer for all the
    // filters with this key (as Esper's shared index entry).
    if (passes_rest(node, row)) known_.insert(known_.end(), ids->begin(), ids->end());
  }
  // In the order Esper's filter index hands them out: filters with
  // conditions before those without (`Ev()`), the filters of one pattern
  // node together (they share an index entry), nodes in the order their
  // entry was made (when the node's first filter started), then start order.
  // A lambda holding a reference: no copy of the std::function per sort (and
  // clang cannot sort with std::cref of a std::function: refwrap.h's noexcept check recurses).
  auto order = [this](const Active& x, const Active& y) { return handout_order_(x, y); };
  if (candidates_.size() > 1) std::sort(candidates_.begin(), candidates_.end(), order);
  matched_.clear();
  for (const Active& a : candidates_)
    if (a.second->matches(row)) matched_.push_back(a);
  if (!known_.empty()) {
    matched_.insert(matched_.end(), known_.begin(), known_.end());
    if (matched_.size() > 1) std::sort(matched_.begin(), matched_.end(), order);
  }
  // A filter stopped by an earlier match of this event is skipped (it stays
  // allocated, in the graveyard, until the event is done).
  for (const Active& a : matched_)
    if (a.second->id == a.first) a.second->fire(row);
  cleanup();
}

void PatternRun::on_timer(int64_t now) {
  now_ = now;
  while (!timers_.empty() && timers_.next_due() <= now) {
    TimedState* s = timers_.next_owner();
    timers_.pop();
    s->on_timer();
  }
  cleanup();
}

// seq_, then the state tree (each filter and timer with its start order).
void PatternRun::save(Writer& w) const {
  w.str(plan_.text);
  w.u64(seq_);
  root_->save(w);
}

void PatternRun::load(Reader& r) {
  if (r.str() != plan_.text) throw std::runtime_error("cep_rule state: the pattern changed");
  root_->stop();
  root_ = std::make_unique<Root>(*this, nullptr, -1);
  active_ = 0;
  std::fill(node_active_.begin(), node_active_.end(), 0);
  scanned_.clear();
  for (auto& idx : index_) idx.clear();
  live_index_.clear();
  timers_.clear();
  seq_ = r.u64();
  root_->load(r);
}

}  // namespace weir::cep
