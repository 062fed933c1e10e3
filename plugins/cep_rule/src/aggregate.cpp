#include "aggregate.hpp"

namespace weir::cep {

int compare_values(const Value& a, const Value& b) {
  if (a.type() == Type::Long && b.type() == Type::Long) {
    int64_t x = a.as_long(), y = b.as_long();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type() == Type::String && b.type() == Type::String) return utf16_compare(a.as_string(), b.as_string());
  if (a.type() == Type::Bool && b.type() == Type::Bool) return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
  return java_double_compare(a.as_double(), b.as_double());
}

namespace {

int32_t wrap_int(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }
double to_float(double v) { return static_cast<double>(static_cast<float>(v)); }

// A non-null value into a sum or avg.
void add_to_sum(const AggSpec& s, SumCell& c, const Value& v) {
  if (s.arg_type == Type::Long) c.isum = static_cast<int64_t>(static_cast<uint64_t>(c.isum) + static_cast<uint64_t>(v.as_long()));
  else if (s.arg_narrow == Narrow::Float) c.dsum = to_float(c.dsum + v.as_double());
  else c.dsum += v.as_double();
}

}  // namespace

Aggregator::Aggregator(std::vector<AggSpec> specs, size_t key_width, bool unbound, bool track_active)
    : specs_(std::move(specs)), key_width_(key_width), unbound_(unbound), track_active_(track_active) {
  if (key_width_ == 0) single_ = make_group();
}

Aggregator::~Aggregator() { delete_groups(); }

void Aggregator::delete_groups() {
  groups_.for_each([](GroupState* g) { delete g; });
  groups_.clear();
}

std::unique_ptr<GroupState> Aggregator::make_group() const {
  auto g = std::make_unique<GroupState>();
  g->cells.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].fn == AggFn::Min || specs_[i].fn == AggFn::Max) g->cells[i].mm = std::make_unique<MinMaxState>();
    else if (specs_[i].distinct) g->cells[i].seen = std::make_unique<std::unordered_map<Value, int64_t, ValueHash>>();
  return g;
}

GroupState* Aggregator::find(const Value* key) const {
  if (key_width_ == 0) return single_.get();
  return groups_.find(hash_key(key), [&](const GroupState* g) { return same_key(*g, key); });
}

GroupState* Aggregator::group(const Value* key) {
  if (key_width_ == 0) return single_.get();
  uint64_t h = hash_key(key);
  return groups_.find_or_add(
      h, [&](const GroupState* g) { return same_key(*g, key); },
      [&] {
        std::unique_ptr<GroupState> g = make_group();
        g->key.assign(key, key + key_width_);
        g->hash = h;
        return g.release();
      });
}

void Aggregator::drop_if_empty(GroupState* g) {
  if (key_width_ == 0 || g->rows != 0 || g->active || g->pending_rows != 0) return;
  if (groups_.erase(g->hash, g)) delete g;  // not found would be a bug, but harmless
}

bool Aggregator::arrival_ok(const std::vector<AggSpec>& specs) {
  if (specs.size() > GroupState::kPendingCells) return false;
  for (const AggSpec& s : specs) {
    if (s.star) continue;
    bool sum_like = s.fn == AggFn::Count || s.fn == AggFn::Sum || s.fn == AggFn::Avg;
    if (!sum_like || s.distinct || !s.arg || s.arg->kind != ExprKind::Prop) return false;
  }
  return true;
}

void Aggregator::pend(GroupState& g, const Value* row) const {
  ++g.pending_rows;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const AggSpec& s = specs_[i];
    SumCell& c = g.pending[i];
    if (s.star) {
      ++c.n;
      continue;
    }
    const Value& v = row[s.arg->index];  // a property (arrival_ok)
    if (v.is_null()) continue;
    ++c.n;
    if (s.fn != AggFn::Count) add_to_sum(s, c, v);
  }
}

void Aggregator::add_rows(GroupState& g, int64_t n) {
  if (g.rows == 0 && track_active_ && !g.active) {  // its first event: listed for reset()
    g.active = true;
    active_.push_back(&g);
  }
  g.rows += n;
  total_rows_ += n;
}

void Aggregator::absorb(GroupState& g) {
  if (g.pending_rows == 0) return;
  add_rows(g, g.pending_rows);
  for (size_t i = 0; i < specs_.size(); ++i) {
    SumCell& c = g.cells[i];
    SumCell& p = g.pending[i];
    // reset() left c at zero (a batch replaces the previous one): the batch's
    // sums are the ones entering each event would have made.
    c.n += p.n;
    c.isum = static_cast<int64_t>(static_cast<uint64_t>(c.isum) + static_cast<uint64_t>(p.isum));
    c.dsum += p.dsum;
    p = SumCell{};
  }
  g.pending_rows = 0;
}

void Aggregator::enter(GroupState& g, const EvalEnv& env) {
  add_rows(g, 1);
  for (size_t i = 0; i < specs_.size(); ++i) {
    const AggSpec& s = specs_[i];
    AggCell& c = g.cells[i];
    if (s.star) {
      ++c.n;
      continue;
    }
    Value tmp;
    const Value& v = operand(*s.arg, env, tmp);
    if (v.is_null()) continue;
    if (c.seen && ++(*c.seen)[v] > 1) continue;  // distinct: already counted
    ++c.n;
    switch (s.fn) {
      case AggFn::Count: break;
      case AggFn::Sum:
      case AggFn::Avg: add_to_sum(s, c, v); break;
      case AggFn::Min:
      case AggFn::Max: {
        MinMaxState& m = *c.mm;
        int sign = s.fn == AggFn::Min ? 1 : -1;
        if (unbound_) {
          if (m.q.empty()) m.q.push_back({v, 0});
          else if (sign * compare_values(m.q.front().first, v) > 0) m.q.front().first = v;
          break;
        }
        // Drop values that can never be the extreme again (this one outlives them).
        while (!m.q.empty() && sign * compare_values(m.q.back().first, v) > 0) m.q.pop_back();
        m.q.push_back({v, m.entered++});
        break;
      }
    }
  }
}

void Aggregator::leave(GroupState& g, const EvalEnv& env) {
  --g.rows;
  --total_rows_;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const AggSpec& s = specs_[i];
    AggCell& c = g.cells[i];
    if (s.star) {
      --c.n;
      continue;
    }
    Value tmp;
    const Value& v = operand(*s.arg, env, tmp);
    if (v.is_null()) continue;
    if (c.seen) {
      auto it = c.seen->find(v);
      if (it == c.seen->end() || --it->second > 0) continue;  // distinct: another event still holds the value
      c.seen->erase(it);
    }
    --c.n;
    switch (s.fn) {
      case AggFn::Count: break;
      case AggFn::Sum:
      case AggFn::Avg:
        if (c.n == 0) {
          // Start again from exact zero rather than from accumulated rounding.
          c.isum = 0;
          c.dsum = 0;
        } else if (s.arg_type == Type::Long) {
          c.isum = static_cast<int64_t>(static_cast<uint64_t>(c.isum) - static_cast<uint64_t>(v.as_long()));
        } else if (s.arg_narrow == Narrow::Float) {
          c.dsum = to_float(c.dsum - v.as_double());
        } else {
          c.dsum -= v.as_double();
        }
        break;
      case AggFn::Min:
      case AggFn::Max: {
        MinMaxState& m = *c.mm;
        int64_t seq = m.left++;
        if (!m.q.empty() && m.q.front().second == seq) m.q.pop_front();
        break;
      }
    }
  }
}

void Aggregator::reset(std::vector<GroupState*>& was_active) {
  auto clear = [&](GroupState& g) {
    g.rows = 0;
    g.active = false;
    for (AggCell& c : g.cells) {
      c.n = 0;
      c.isum = 0;
      c.dsum = 0;
      if (c.mm) {
        c.mm->q.clear();
        c.mm->entered = c.mm->left = 0;
      }
      if (c.seen) c.seen->clear();
    }
  };
  if (key_width_ == 0) {
    if (single_->rows > 0) was_active.push_back(single_.get());
    clear(*single_);
  } else {
    for (GroupState* g : active_) {
      if (g->rows > 0) was_active.push_back(g);
      clear(*g);
    }
  }
  active_.clear();
  total_rows_ = 0;
}

Value Aggregator::value(const GroupState& g, int index) const {
  const AggSpec& s = specs_[static_cast<size_t>(index)];
  const AggCell& c = g.cells[static_cast<size_t>(index)];
  switch (s.fn) {
    case AggFn::Count: return Value::of_long(c.n);
    case AggFn::Sum:
      if (c.n == 0) return {};
      if (s.arg_type != Type::Long) return Value::of_double(c.dsum);
      // The 64-bit sum wraps like Java's long; truncated, like Java's int.
      return Value::of_long(s.arg_narrow == Narrow::Int ? wrap_int(c.isum) : c.isum);
    case AggFn::Avg: {
      if (c.n == 0) return {};
      if (s.arg_type != Type::Long) return Value::of_double(c.dsum / static_cast<double>(c.n));
      int64_t sum = s.arg_narrow == Narrow::Int ? wrap_int(c.isum) : c.isum;
      return Value::of_double(static_cast<double>(sum) / static_cast<double>(c.n));
    }
    case AggFn::Min:
    case AggFn::Max:
      if (c.n == 0 || c.mm->q.empty()) return {};
      return c.mm->q.front().first;
  }
  return {};
}

}  // namespace weir::cep

namespace weir::cep {

void Aggregator::save(Writer& w, std::unordered_map<const GroupState*, int64_t>& ids) const {
  ids.clear();
  std::vector<const GroupState*> all;
  for_each_group([&](const GroupState& g) { all.push_back(&g); });
  w.u64(all.size());
  for (const GroupState* g : all) {
    int64_t id = static_cast<int64_t>(ids.size());
    ids[g] = id;
    for (const Value& k : g->key) w.value(k);
    w.i64(g->rows);
    w.u64(g->interval);
    w.u64(g->rep.size());
    for (const Value& v : g->rep) w.value(v);
    for (const AggCell& c : g->cells) {
      w.i64(c.n);
      w.i64(c.isum);
      w.f64(c.dsum);
      if (c.mm) {
        w.i64(c.mm->entered);
        w.i64(c.mm->left);
        w.u64(c.mm->q.size());
        for (size_t i = 0; i < c.mm->q.size(); ++i) {
          w.value(c.mm->q[i].first);
          w.i64(c.mm->q[i].second);
        }
      }
      if (c.seen) {
        w.u64(c.seen->size());
        for (const auto& [v, k] : *c.seen) {
          w.value(v);
          w.i64(k);
        }
      }
    }
  }
  w.u64(active_.size());
  for (const GroupState* g : active_) w.i64(ids.at(g));
}

std::vector<GroupState*> Aggregator::load(Reader& r, bool legacy_avg) {
  delete_groups();
  active_.clear();
  total_rows_ = 0;
  std::vector<GroupState*> groups;
  uint64_t n = r.u64();
  if (key_width_ == 0 && n != 1) throw std::runtime_error("cep_rule state: bad aggregation");
  std::vector<Value> key(key_width_);
  for (uint64_t i = 0; i < n; ++i) {
    for (Value& k : key) k = r.value();
    GroupState* g = key_width_ == 0 ? single_.get() : group(key.data());
    g->rows = r.i64();
    g->active = false;
    g->interval = r.u64();
    uint64_t rep = r.u64();
    if (rep > 4096) throw std::runtime_error("cep_rule state: bad group");
    g->rep.clear();
    for (uint64_t k = 0; k < rep; ++k) g->rep.push_back(r.value());
    total_rows_ += g->rows;
    for (size_t ci = 0; ci < g->cells.size(); ++ci) {
      AggCell& c = g->cells[ci];
      c.n = r.i64();
      c.isum = r.i64();
      c.dsum = r.f64();
      // An avg of longs used to keep a double sum (exact below 2^53).
      if (legacy_avg && specs_[ci].fn == AggFn::Avg && specs_[ci].arg_type == Type::Long) c.isum = static_cast<int64_t>(c.dsum);
      if (c.mm) {
        c.mm->q.clear();
        c.mm->entered = r.i64();
        c.mm->left = r.i64();
        uint64_t q = r.u64();
        for (uint64_t j = 0; j < q; ++j) {
          Value v = r.value();
          c.mm->q.push_back({std::move(v), r.i64()});
        }
      }
      if (c.seen) {
        c.seen->clear();
        uint64_t k = r.u64();
        for (uint64_t j = 0; j < k; ++j) {
          Value v = r.value();
          (*c.seen)[std::move(v)] = r.i64();
        }
      }
    }
    groups.push_back(g);
  }
  uint64_t a = r.u64();
  for (uint64_t i = 0; i < a; ++i) {
    int64_t id = r.i64();
    if (id < 0 || id >= static_cast<int64_t>(groups.size())) throw std::runtime_error("cep_rule state: bad group");
    groups[static_cast<size_t>(id)]->active = true;
    active_.push_back(groups[static_cast<size_t>(id)]);
  }
  return groups;
}

}  // namespace weir::cep
