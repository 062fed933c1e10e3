// Running `match_recognize` (match_recognize.hpp), step for step as Esper's
// RowRecogNFAView: states see the event in the order they were made, new
// states follow that order, start states come last.
#include "match_recognize.hpp"

#include "aggregate.hpp"  // compare_values: min/max as the aggregates order
#include "eval.hpp"

#include <algorithm>
#include <stdexcept>

namespace weir::cep {

namespace {

std::string key_text(const std::vector<Value>& key) {
  std::string out;
  Writer w(out);
  for (const Value& v : key) w.value(v);
  return out;
}

}  // namespace

MatchRun::MatchRun(const MatchPlan& plan, const Variables& vars, MatchFn on_match)
    : plan_(plan), vars_(vars), on_match_(std::move(on_match)), row_(plan.row_type.fields.size()) {}

// The columns of `plan` (over the composite row `composite`) into out[0..n).
void MatchRun::eval_into(const Plan& plan, const Value* composite, std::vector<Value>& slots, Value* out, size_t n) {
  slots.resize(plan.layout.size());
  for (size_t k = 0; k < plan.layout.size(); ++k) slots[k] = composite[plan.layout[k]];
  EvalEnv env{slots.data(), vars_.values.data(), nullptr, nullptr, nullptr};
  for (size_t c = 0; c < n; ++c) out[c] = eval(*plan.columns[c].expr, env);
}

void MatchRun::on_event(const Value* input_row) {
  const size_t f = plan_.fields;
  uint64_t seq = ++seq_;
  auto ev = std::make_shared<const std::vector<Value>>(input_row, input_row + f);
  std::string key;
  if (plan_.partition) {
    key_.resize(plan_.partition->columns.size());
    eval_into(*plan_.partition, input_row, slots_, key_.data(), key_.size());
    key = key_text(key_);
  }
  Partition& part = parts_[key];
  if (plan_.history > 0) {
    part.history.push_back(ev);
    if (part.history.size() > static_cast<size_t>(plan_.history) + 1) part.history.pop_front();
  }
  // prev() reads the partition's earlier rows: the same for every state.
  for (size_t k = 0; k < plan_.prevs.size(); ++k) {
    const MatchPlan::Prev& pv = plan_.prevs[k];
    size_t back = static_cast<size_t>(pv.n);
    Value& out = row_[plan_.prev_offset + k];
    if (part.history.size() > back)
      eval_into(*pv.arg, part.history[part.history.size() - 1 - back]->data(), slots_, &out, 1);
    else
      out = Value();
  }

  std::vector<Entry> nexts, ends;
  states_ -= part.states.size();
  for (const Entry& cur : part.states) {
    if (!matches(cur.state, cur, ev)) continue;
    for (int next : plan_.states[static_cast<size_t>(cur.state)].next) take(cur, cur.state, next, ev, seq, nexts, ends);
  }
  bool full = states_ + nexts.size() >= kMaxStates;
  if (full) {
    size_t keep = kMaxStates - std::min(kMaxStates, states_);
    if (nexts.size() > keep) {
      dropped_ += nexts.size() - keep;
      nexts.resize(keep);  // the earliest kept: they began first
    }
    ++dropped_;  // no match starts at this event
  }
  for (int start : plan_.starts) {
    if (full) break;
    Entry fresh;
    fresh.begin = seq;
    fresh.state = start;
    fresh.single.resize(plan_.vars.size());
    fresh.multi.resize(plan_.vars.size());
    fresh.greedy.assign(plan_.states.size(), 0);
    if (!matches(start, fresh, ev)) continue;
    for (int next : plan_.states[static_cast<size_t>(start)].next) take(fresh, start, next, ev, seq, nexts, ends);
  }
  part.states = std::move(nexts);
  states_ += part.states.size();
  if (ends.empty()) {
    if (part.states.empty() && plan_.history == 0) parts_.erase(key);
    return;
  }
  ends = rank(std::move(ends));
  // after match skip: drop the partial matches that began inside a match
  // (past last row) or at or before its first row (to next row); to current
  // row drops none.
  if (plan_.skip != MatchSkip::ToCurrentRow)
    for (const Entry& e : ends) {
      uint64_t limit = plan_.skip == MatchSkip::PastLastRow ? e.end : e.begin;
      states_ -= std::erase_if(part.states, [&](const Entry& s) { return s.begin <= limit; });
    }
  for (const Entry& e : ends) output(e);
  if (part.states.empty() && plan_.history == 0) parts_.erase(key);
}

// The state's variable's condition, with the event as that variable's row:
// each slot the define reads comes from the event, a matched row or a prev()
// value (the define row is never built whole: 10 000 cars' states are tried
// one by one).
bool MatchRun::matches(int state, const Entry& e, const Row& ev) {
  int own = plan_.states[static_cast<size_t>(state)].var;
  const MatchPlan::Var& v = plan_.vars[static_cast<size_t>(own)];
  if (!v.define) return true;
  const size_t f = plan_.fields;
  const Plan& p = *v.define;
  slots_.resize(p.layout.size());
  for (size_t k = 0; k < p.layout.size(); ++k) {
    size_t field = static_cast<size_t>(p.layout[k]);
    size_t region = field / f;  // 0: the event's plain names; 1 + u: variable u
    if (field >= plan_.prev_offset) {
      slots_[k] = row_[field];
    } else if (region == 0 || static_cast<int>(region - 1) == own) {
      slots_[k] = (*ev)[field % f];
    } else {
      const Row& r = e.single[region - 1];
      slots_[k] = r ? (*r)[field % f] : Value();
    }
  }
  return eval_true(*p.stream_filter, EvalEnv{slots_.data(), vars_.values.data(), nullptr, nullptr, nullptr});
}

// The entry `from`, whose state took the event, moving on to `next`.
void MatchRun::take(const Entry& from, int state, int next, const Row& ev, uint64_t seq, std::vector<Entry>& nexts,
                    std::vector<Entry>& ends) const {
  Entry e = from;
  const MatchPlan::State& st = plan_.states[static_cast<size_t>(state)];
  if (plan_.vars[static_cast<size_t>(st.var)].multiple) e.multi[static_cast<size_t>(st.var)].push_back(ev);
  else e.single[static_cast<size_t>(st.var)] = ev;
  if (st.greedy == 1) ++e.greedy[static_cast<size_t>(state)];
  if (next == MatchPlan::kEnd) {
    e.state = state;
    e.end = seq;
    ends.push_back(std::move(e));
  } else {
    e.state = next;
    nexts.push_back(std::move(e));
  }
}

// Esper's rankEndStatesWithinPartitionByStart: by start, earliest first; of
// the matches with one start the best by greedy counts; a taken match
// removes the later-starting ones it overlaps.
std::vector<MatchRun::Entry> MatchRun::rank(std::vector<Entry> ends) const {
  if (ends.size() <= 1) return ends;
  std::map<uint64_t, std::vector<const Entry*>> by_begin;
  for (const Entry& e : ends) by_begin[e.begin].push_back(&e);
  std::vector<Entry> out;
  for (auto& [begin, list] : by_begin) {
    if (list.empty()) continue;
    const Entry& taken = best_of(list);
    out.push_back(taken);
    if (plan_.skip == MatchSkip::ToCurrentRow) continue;
    uint64_t limit = plan_.skip == MatchSkip::PastLastRow ? taken.end : taken.begin;
    for (auto& [b, l] : by_begin)
      std::erase_if(l, [&](const Entry* x) { return x->begin <= limit; });
  }
  return out;
}

// Esper's rankEndStates/compare: the first of the matches, replaced by a
// later one that took more rows in some greedy state (or fewer in a
// reluctant one, whose counts Esper never raises).
const MatchRun::Entry& MatchRun::best_of(const std::vector<const Entry*>& same_begin) const {
  const Entry* best = same_begin[0];
  for (size_t i = 1; i < same_begin.size(); ++i) {
    const Entry* cur = same_begin[i];
    for (size_t s = 0; s < plan_.states.size(); ++s) {
      int g = plan_.states[s].greedy;
      if (g < 0) continue;
      if (g == 1 ? cur->greedy[s] > best->greedy[s] : cur->greedy[s] < best->greedy[s]) {
        best = cur;
        break;
      }
    }
  }
  return *best;
}

// The define row of a complete match: single variables' rows, and each
// aggregate over its variable's rows.
void MatchRun::fill_row(const Entry& e) {
  const size_t f = plan_.fields;
  std::fill(row_.begin(), row_.end(), Value());
  for (size_t u = 0; u < plan_.vars.size(); ++u)
    if (e.single[u]) std::copy(e.single[u]->begin(), e.single[u]->end(), row_.begin() + static_cast<long>(f * (1 + u)));
  for (size_t k = 0; k < plan_.aggs.size(); ++k) {
    const MatchPlan::Agg& a = plan_.aggs[k];
    const std::vector<Row>& rows = e.multi[static_cast<size_t>(a.var)];
    Value* region = &row_[f * (1 + static_cast<size_t>(a.var))];
    int64_t n = 0, isum = 0;
    double dsum = 0;
    Value result, v;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy(rows[i]->begin(), rows[i]->end(), region);
      eval_into(*a.arg, row_.data(), slots_, &v, 1);
      if (a.fn == "first" && i == 0) result = v;
      if (a.fn == "last") result = v;
      if (v.is_null()) continue;
      ++n;
      // A long sum wraps like Java's (the aggregates' rule, aggregate.cpp).
      if (v.type() == Type::Long) isum = static_cast<int64_t>(static_cast<uint64_t>(isum) + static_cast<uint64_t>(v.as_long()));
      if (v.type() == Type::Long || v.type() == Type::Double) dsum += v.as_double();
      if ((a.fn == "min" && (result.is_null() || compare_values(v, result) < 0)) ||
          (a.fn == "max" && (result.is_null() || compare_values(result, v) < 0)))
        result = v;
    }
    std::fill(region, region + f, Value());
    if (a.fn == "count") result = Value::of_long(n);
    else if (a.fn == "sum") result = n == 0 ? Value() : a.type == Type::Long ? Value::of_long(isum) : Value::of_double(dsum);
    else if (a.fn == "avg")
      result = n == 0 ? Value()
                      : Value::of_double((a.arg_type == Type::Long ? static_cast<double>(isum) : dsum) / static_cast<double>(n));
    row_[plan_.agg_offset + k] = result;
  }
}

void MatchRun::output(const Entry& e) {
  fill_row(e);
  out_.resize(plan_.measures->columns.size());
  eval_into(*plan_.measures, row_.data(), slots_, out_.data(), out_.size());
  on_match_(out_.data());
}

// ---------------------------------------------------------------- snapshots

void MatchRun::save_row(Writer& w, const Row& r, size_t width) {
  w.u8(r != nullptr);
  if (r)
    for (size_t i = 0; i < width; ++i) w.value((*r)[i]);
}

MatchRun::Row MatchRun::load_row(Reader& r, size_t width) {
  if (r.u8() == 0) return nullptr;
  auto row = std::make_shared<std::vector<Value>>(width);
  for (size_t i = 0; i < width; ++i) (*row)[i] = r.value();
  return row;
}

void MatchRun::save(Writer& w) const {
  const size_t f = plan_.fields;
  w.u64(seq_);
  w.u64(parts_.size());
  std::vector<const std::string*> keys;  // in key order: the same state gives the same snapshot
  for (const auto& kv : parts_) keys.push_back(&kv.first);
  std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* k : keys) {
    const Partition& part = parts_.at(*k);
    w.str(*k);
    w.u64(part.history.size());
    for (const Row& r : part.history) save_row(w, r, f);
    w.u64(part.states.size());
    for (const Entry& e : part.states) {
      w.u64(e.begin);
      w.i64(e.state);
      for (const Row& r : e.single) save_row(w, r, f);
      for (const std::vector<Row>& rows : e.multi) {
        w.u64(rows.size());
        for (const Row& r : rows) save_row(w, r, f);
      }
      for (int g : e.greedy) w.i64(g);
    }
  }
}

void MatchRun::load(Reader& r) {
  const size_t f = plan_.fields;
  parts_.clear();
  states_ = 0;
  seq_ = r.u64();
  uint64_t np = r.u64();
  for (uint64_t p = 0; p < np; ++p) {
    Partition& part = parts_[r.str()];
    uint64_t nh = r.u64();
    if (nh > static_cast<uint64_t>(plan_.history) + 1) throw std::runtime_error("cep_rule state: bad match_recognize history");
    for (uint64_t i = 0; i < nh; ++i) part.history.push_back(load_row(r, f));
    uint64_t ns = r.u64();
    for (uint64_t s = 0; s < ns; ++s) {
      Entry e;
      e.begin = r.u64();
      e.state = static_cast<int>(r.i64());
      if (e.state < 0 || static_cast<size_t>(e.state) >= plan_.states.size())
        throw std::runtime_error("cep_rule state: bad match_recognize state");
      e.single.resize(plan_.vars.size());
      for (Row& x : e.single) x = load_row(r, f);
      e.multi.resize(plan_.vars.size());
      for (std::vector<Row>& rows : e.multi) {
        uint64_t n = r.u64();
        for (uint64_t i = 0; i < n; ++i) rows.push_back(load_row(r, f));
      }
      e.greedy.resize(plan_.states.size());
      for (int& g : e.greedy) g = static_cast<int>(r.i64());
      part.states.push_back(std::move(e));
    }
    states_ += part.states.size();
  }
}

}  // namespace weir::cep
