#include "statement.hpp"

#include <algorithm>
#include <cstdint>

namespace weir::cep {

Statement::Statement(std::shared_ptr<const Plan> plan, size_t index, const Variables& vars, int64_t start_ms,
                     std::vector<Value> ctx)
    : plan_(*plan),
      window_(plan_.window, plan_.layout.size(), plan_.keep_last_batch, start_ms, plan_.view_slots, !ctx.empty()),
      shared_plan_(std::move(plan)),
      ctx_(std::move(ctx)),
      index_(index),
      vars_(&vars),
      rows_new_(plan_.columns.size()),
      rows_old_(plan_.columns.size()),
      key_(plan_.group_by.size()) {
  if (plan_.aggregating()) {
    agg_ = std::make_unique<Aggregator>(plan_.aggs, plan_.group_by.size(), plan_.window.kind == WindowKind::None,
                                        batch_window(plan_.window.kind));
  }
  if (plan_.output.mode != OutputMode::None) {
    limiter_ = std::make_unique<OutputLimiter>(plan_.output, plan_.shape, plan_.irstream(), plan_.columns.size());
    all_groups_mode_ = limiter_->grouped_all();
  }
  arrival_ = arrival_possible();
  if (arrival_ && !plan_.grouped()) arrival_single_ = agg_->single();
  if (arrival_ && plan_.group_by.size() == 1) arrival_key_slot_ = plan_.group_by[0]->index;
  if (plan_.pattern) {
    merged_new_.set_width(plan_.columns.size());
    merged_old_.set_width(plan_.columns.size());
    pattern_ = std::make_unique<PatternRun>(*plan_.pattern, vars, start_ms, [this](const Value* match) { enter(match, now_); });
  }
  if (plan_.match_recognize) {
    merged_new_.set_width(plan_.columns.size());
    merged_old_.set_width(plan_.columns.size());
    match_ = std::make_unique<MatchRun>(*plan_.match_recognize, vars, [this](const Value* match) { enter(match, now_); });
  }
}

// ---------------------------------------------------------------- events and timers

void Statement::on_event(const Value* input_row, int64_t now) {
  if (pattern_) {
    now_ = now;
    merging_ = true;
    pattern_->on_event(input_row, now);
    pattern_step(now, false);
    return;
  }
  if (match_) {
    now_ = now;
    merging_ = true;
    match_->on_event(input_row);
    deliver_merged();
    return;
  }
  enter(input_row, now);
}

// The matches of one event or instant, delivered together.
void Statement::pattern_step(int64_t now, bool timer) {
  if (timer) {
    merging_ = true;
    pattern_->on_timer(now);
  }
  deliver_merged();
}

void Statement::deliver_merged() {
  merging_ = false;
  if (!merged_new_.empty() || !merged_old_.empty()) deliver(merged_new_, merged_old_);
  merged_new_.clear();
  merged_old_.clear();
}

void Statement::enter(const Value* input_row, int64_t now) {
  now_ = now;
  Value* row = stage(input_row, now);
  if (!row) return;
  if (arrival_) pend(row);  // before a length batch may post it
  window_.commit_insert(now, *this);
}

bool Statement::arrival_possible() const {
  if (!agg_ || plan_.where || all_groups_mode_ || pattern_ || match_) return false;
  // An instance of a context holds a few events per batch, read again at
  // once when posted; its group, written on each arrival instead, is one
  // more cold line per event (15% more CPU time on the keyed-context rule).
  if (!plan_.context.empty()) return false;
  if (plan_.window.kind != WindowKind::TimeBatch && plan_.window.kind != WindowKind::LengthBatch) return false;
  if (plan_.shape != Shape::RowPerGroupedEvent && plan_.shape != Shape::RowPerEvent && plan_.shape != Shape::RowForAll)
    return false;
  for (const ExprPtr& k : plan_.group_by)
    if (k->kind != ExprKind::Prop) return false;
  return Aggregator::arrival_ok(plan_.aggs);
}

// A row of the window's store enters the batch being collected (no where
// clause: it passes).
void Statement::pend(Value* row) {
  EventMeta& m = EventStore::meta_of(row);
  GroupState* g = m.group;  // (known after a restore)
  if (!g) g = arrival_single_ ? arrival_single_ : arrival_key_slot_ >= 0 ? agg_->group(row + arrival_key_slot_) : group_of(row);
  m.passed = true;
  m.group = g;
  if (g->pending_rows == 0) pending_groups_.push_back(g);
  agg_->pend(*g, row);
}

// After a restore or a reload: the events of the batch being collected
// enter it again (their sums are not saved; their groups may be).
void Statement::pend_collected() {
  pending_groups_.clear();  // (after a restore: of groups that are gone)
  if (arrival_single_) {    // the one group outlives a restore
    arrival_single_->pending_rows = 0;
    for (SumCell& c : arrival_single_->pending) c = SumCell{};
  }
  EventStore& s = window_.store();
  for (size_t i = window_.contents_begin(); i < s.size(); ++i) pend(s.row(i));
}

// The posted batch is the collected one: its groups get its sums (after
// reset() emptied them), in the order they got their first event.
void Statement::absorb_pending() {
  for (GroupState* g : pending_groups_) agg_->absorb(*g);
  pending_groups_.clear();
}

void Statement::on_window_update(const RowSet& entered, const std::vector<int64_t>& left, int64_t now) {
  now_ = now;
  size_t first = window_.store().size();
  for (size_t r = 0; r < entered.size(); ++r) stage(entered.row(r), now);
  window_.update_named(first, left, *this);
}

// The event's row at the back of the window's store (its slots, hidden values
// and view keys), null when the stream filter rejects it.
Value* Statement::stage(const Value* input_row, int64_t now) {
  Value* row = window_.begin_insert(now);
  // A new row's stale values hold no heap string (push_back): overwritten.
  bool heap = Value::gather(row, input_row, plan_.layout.data(), plan_.layout.size());
  if (heap) window_.store().note_heap();
  if (plan_.stream_filter && !eval_true(*plan_.stream_filter, env(row, nullptr))) {
    window_.cancel_insert();
    return nullptr;
  }
  if (!plan_.hidden.empty()) {
    fill_hidden(row);
    for (const HiddenSlot& h : plan_.hidden)
      if (row[h.slot].on_heap()) window_.store().note_heap();
  }
  for (size_t k = 0; k < plan_.view_exprs.size(); ++k) {
    const Expr& e = *plan_.view_exprs[k];
    if (e.kind == ExprKind::Prop) continue;  // read from its slot as it is
    Value& v = row[plan_.view_slots[k]];
    v = eval(e, env(row, nullptr));
    if (v.on_heap()) window_.store().note_heap();
  }
  return row;
}

// prev()/prior() as Esper evaluates them when the event arrives: prior over
// the stream (after its filter), prev over the window's events, newest first
// (a #length(N) window holds the N-1 before this one; expired events of a
// #time window are gone already, as their timers fire first).
void Statement::fill_hidden(Value* row) {
  if (prior_.size() != plan_.hidden.size()) prior_.resize(plan_.hidden.size());
  EventStore& s = window_.store();
  size_t current = s.size() - 1;  // this event, not committed yet
  for (size_t k = 0; k < plan_.hidden.size(); ++k) {
    const HiddenSlot& h = plan_.hidden[k];
    Value now_value = eval(*h.arg, env(row, nullptr));
    Value v;
    if (h.prior) {
      std::deque<Value>& q = prior_[k];
      if (h.n == 0) v = now_value;
      else if (q.size() >= static_cast<size_t>(h.n)) v = q[q.size() - static_cast<size_t>(h.n)];
      if (h.n > 0 && (!plan_.where_before_prior || where_ok(row))) {
        q.push_back(now_value);
        if (q.size() > static_cast<size_t>(h.n)) q.pop_front();
      }
    } else {
      size_t n = static_cast<size_t>(h.n);
      size_t held = plan_.window.kind == WindowKind::Length ? static_cast<size_t>(plan_.window.size) : SIZE_MAX;
      if (n == 0) v = now_value;
      else if (n < held && n <= current) v = eval(*h.arg, env(s.row(current - n), nullptr));
    }
    row[h.slot] = std::move(v);
  }
}

int64_t Statement::next_timer() const {
  int64_t t = window_.next_timer();
  if (limiter_) t = std::min(t, limiter_->next_timer());
  if (pattern_) t = std::min(t, pattern_->next_timer());
  return t;
}

void Statement::on_timer(int64_t now) {
  now_ = now;
  // Window expiry before the output tick at the same instant (case 053).
  if (window_.next_timer() <= now) window_.on_timer(now, *this);
  if (pattern_ && pattern_->next_timer() <= now) pattern_step(now, true);
  if (limiter_ && limiter_->next_timer() <= now) limiter_->on_timer(now, *this);
}

int64_t Statement::oldest_pending() {
  int64_t t = window_.oldest_time();
  if (limiter_) t = std::min(t, limiter_->oldest_pending());
  return t;
}

// ---------------------------------------------------------------- rows

GroupState* Statement::group_of(const Value* row) {
  EvalEnv e = env(row, nullptr);
  Value tmp;
  for (size_t k = 0; k < key_.size(); ++k) key_[k] = operand(*plan_.group_by[k], e, tmp);
  return agg_->group(key_.data());
}

void Statement::select_row(const Value* row, const GroupState* g, RowSet& out) const {
  if (plan_.columns.empty()) {
    out.add();
    return;
  }
  EvalEnv e = env(row, g);
  Value tmp;
  for (const Column& c : plan_.columns) out.push(operand(*c.expr, e, tmp));
}

std::string Statement::key_string(const GroupState& g) const {
  std::string s;
  for (const Value& v : g.key) {
    s += static_cast<char>('0' + static_cast<int>(v.type()));
    s += format_value(v);
    s += '\x1f';
  }
  return s;
}

// A row for an event and/or group, when having lets it through.
void Statement::add_row(const Value* row, GroupState* g, RowSet& out, std::vector<std::string>& keys,
                        OutputLimiter::RowCounts counts) {
  if (!having_ok(row, g)) {
    if (limiter_ && limiter_->grouped_last() && g && &out == &rows_new_) dropped_.push_back(key_string(*g));
    return;
  }
  select_row(row, g, out);
  if (limiter_ && limiter_->needs_keys()) keys.push_back(g ? key_string(*g) : std::string());
  if (limiter_ && limiter_->grouped_first() && &out == &rows_new_) counts_.push_back(counts);
  if (chunking_ && &out == &rows_new_ && out.size() >= kChunkRows) {
    deliver_fn_(*this, now_, rows_new_, rows_old_, true);
    sent_partial_ = true;
    rows_new_.clear();
  }
}

void Statement::touch(GroupState* g) {
  if (g->mark == epoch_) return;
  g->mark = epoch_;
  g->entered = g->left = 0;
  touched_.push_back(g);
  if (all_groups_mode_) list_group(g);
}

void Statement::list_group(GroupState* g) {
  if (!g->listed) {
    g->listed = true;
    all_groups_.push_back(g);
  }
}

// Applies a post to the aggregation state: Esper enters the new events first,
// then removes the old ones. A batch replaces the previous batch entirely.
void Statement::apply(const Post& p) {
  ++having_epoch_;  // aggregates change: cached having values are stale
  EventStore& s = window_.store();
  if (p.batch) {
    was_active_.clear();
    agg_->reset(was_active_);
  }
  bool grouped = plan_.grouped();
  if (arrival_) {
    absorb_pending();  // a batch window: nothing leaves one by one
    return;
  }
  for (size_t i = p.new_begin; i < p.new_end; ++i) {
    EventMeta& m = s.meta(i);
    if (!m.passed) continue;
    if (!grouped) m.group = agg_->single();
    agg_->enter(*m.group, env(s.row(i), nullptr));
  }
  if (!p.batch)
    p.each_old([&](size_t i) {
      EventMeta& m = s.meta(i);
      if (m.passed && m.group) agg_->leave(*m.group, env(s.row(i), nullptr));
    });
}

// A batch of a grouped statement with a row per event and no where clause
// (the smart-car rule: 300 000 events of 10 000 cars every 30 s). Such a batch
// outgrows the cache, so each pass over it is a read from memory: here one
// pass marks the events, finds their groups and aggregates them, where the
// general path takes three (where, groups, apply). The rows follow in one more.
bool Statement::one_pass_batch(const Post& p) const {
  return p.batch && plan_.shape == Shape::RowPerGroupedEvent && !plan_.where && !all_groups_mode_;
}

void Statement::enter_batch(const Post& p) {
  EventStore& s = window_.store();
  // The previous batch's groups leave first (apply's reset forgets them).
  for (GroupState* g : agg_->active())
    if (g->rows > 0) {
      touch(g);
      g->left += g->rows;
    }
  ++having_epoch_;
  was_active_.clear();
  agg_->reset(was_active_);
  if (arrival_) {
    for (GroupState* g : pending_groups_) {
      touch(g);
      g->entered += g->pending_rows;
    }
    absorb_pending();
    return;
  }
  for (size_t i = p.new_begin; i < p.new_end; ++i) {
    EventMeta& m = s.meta(i);
    const Value* row = s.row(i);
    m.passed = true;
    m.group = group_of(row);
    touch(m.group);
    ++m.group->entered;
    agg_->enter(*m.group, env(row, nullptr));
  }
}

void Statement::on_post(const Post& p) {
  EventStore& s = window_.store();
  bool one_pass = one_pass_batch(p);
  // The where clause applies to what the window posts (case 072).
  int64_t n_new = 0, n_old = 0;
  if (one_pass || arrival_) {
    n_new = static_cast<int64_t>(p.new_end - p.new_begin);  // no where clause: all pass (marked in enter_batch or pend)
  } else {
    for (size_t i = p.new_begin; i < p.new_end; ++i) {
      EventMeta& m = s.meta(i);
      m.passed = where_ok(s.row(i));
      m.group = nullptr;
      n_new += m.passed;
    }
  }
  p.each_old([&](size_t i) { n_old += s.meta(i).passed; });
  // A batch whose previous batch was not kept: it had events iff something is aggregated.
  bool old_present = n_old > 0 || (p.batch && p.old_nonempty && agg_ && agg_->total_rows() > 0);
  // Esper's filter view (the where clause) posts nothing then. Without a
  // where clause, a FORCE_UPDATE interval with no events reaches the result
  // set as an empty update (a fully aggregated statement posts its row).
  bool forced = p.forced && !plan_.where;
  if (n_new == 0 && !old_present && !forced) return;

  ++epoch_;
  ++having_epoch_;
  rows_new_.clear();
  rows_old_.clear();
  keys_new_.clear();
  keys_old_.clear();
  touched_.clear();
  counts_.clear();
  dropped_.clear();
  chunking_ = !limiter_ && plan_.selector == StreamSelector::IStream && deliver_fn_ != nullptr;
  sent_partial_ = false;
  bool rstream = plan_.irstream();
  bool grouped_first = limiter_ && limiter_->grouped_first();

  switch (plan_.shape) {
    case Shape::Simple:
      for (size_t i = p.new_begin; i < p.new_end; ++i)
        if (s.meta(i).passed) add_row(s.row(i), nullptr, rows_new_, keys_new_);
      if (rstream)
        p.each_old([&](size_t i) {
          if (s.meta(i).passed) add_row(s.row(i), nullptr, rows_old_, keys_old_);
        });
      break;

    case Shape::RowForAll: {
      GroupState* g = agg_->single();
      if (rstream) add_row(nullptr, g, rows_old_, keys_old_);  // the values before this update
      apply(p);
      add_row(nullptr, g, rows_new_, keys_new_);
      break;
    }

    case Shape::RowPerEvent: {
      apply(p);
      GroupState* g = agg_->single();
      for (size_t i = p.new_begin; i < p.new_end; ++i)
        if (s.meta(i).passed) add_row(s.row(i), g, rows_new_, keys_new_);
      if (rstream)
        p.each_old([&](size_t i) {
          if (s.meta(i).passed) add_row(s.row(i), g, rows_old_, keys_old_);
        });
      break;
    }

    case Shape::RowPerGroup:
    case Shape::RowPerGroupedEvent: {
      // Groups touched by this update: those of the new events, then those of
      // the old ones (for a batch: every group of the previous batch).
      if (one_pass) {
        enter_batch(p);  // and apply(p)
      } else {
        for (size_t i = p.new_begin; i < p.new_end; ++i) {
          EventMeta& m = s.meta(i);
          if (!m.passed) continue;
          m.group = group_of(s.row(i));
          touch(m.group);
          ++m.group->entered;
        }
        if (p.batch) {
          for (GroupState* g : agg_->active())
            if (g->rows > 0) {
              touch(g);
              g->left += g->rows;
            }
        } else {
          p.each_old([&](size_t i) {
            if (s.meta(i).passed && s.meta(i).group) {
              touch(s.meta(i).group);
              ++s.meta(i).group->left;
            }
          });
        }
      }
      if (plan_.shape == Shape::RowPerGroup && all_groups_mode_) {
        // `output all`: the rows are made at the interval's end (end_rows).
        // (The compiler refuses irstream here, so there is no remove stream.)
        for (GroupState* g : touched_) g->interval = interval_;
        apply(p);
      } else if (plan_.shape == Shape::RowPerGroup) {
        size_t n = touched_.size();
        if (rstream && !grouped_first)
          for (size_t k = 0; k < n; ++k) add_row(nullptr, touched_[k], rows_old_, keys_old_);
        apply(p);
        for (size_t k = 0; k < n; ++k)
          add_row(nullptr, touched_[k], rows_new_, keys_new_, {touched_[k]->entered, touched_[k]->left});
      } else if (all_groups_mode_) {
        // `output all`, per-event rows: new events as usual; a leaving event's
        // row shows its group's latest event (Esper's output-all helper).
        apply(p);
        for (size_t i = p.new_begin; i < p.new_end; ++i) {
          EventMeta& m = s.meta(i);
          if (!m.passed) continue;
          m.group->rep.assign(s.row(i), s.row(i) + s.width());
          m.group->interval = interval_;
          add_row(s.row(i), m.group, rows_new_, keys_new_);
        }
        // One row per group that events left (not per leaving event).
        for (GroupState* g : touched_) {
          if (g->left == 0 || g->rep.empty()) continue;
          g->interval = interval_;
          add_row(g->rep.data(), g, rows_new_, keys_new_);
        }
      } else {
        if (!one_pass) apply(p);
        for (size_t i = p.new_begin; i < p.new_end; ++i)
          if (s.meta(i).passed) add_row(s.row(i), s.meta(i).group, rows_new_, keys_new_, {1, 0});
        // Grouped `output first` also considers the rows of leaving events,
        // as insert-stream rows (Esper's AggregateGrouped first helper).
        if (rstream || grouped_first)
          p.each_old([&](size_t i) {
            if (s.meta(i).passed && s.meta(i).group)
              add_row(s.row(i), s.meta(i).group, grouped_first ? rows_new_ : rows_old_, grouped_first ? keys_new_ : keys_old_,
                      {0, 1});
          });
      }
      break;
    }
  }

  if (table_) write_table();  // before the rows go out: statements after this one read it
  if (plan_.selector == StreamSelector::RStream) {
    // `select rstream`: only the remove stream, posted as the statement's rows.
    std::swap(rows_new_, rows_old_);
    std::swap(keys_new_, keys_old_);
    rows_old_.clear();
    keys_old_.clear();
  }
  chunking_ = false;
  // The window posts leaving events before it drops them; Esper's window has
  // already dropped them when a snapshot is taken.
  leaving_ = p.batch ? 0 : p.old_end;
  if (limiter_) {
    limiter_->on_update(rows_new_, rows_old_, keys_new_, keys_old_, counts_, dropped_, n_new, n_old, now_, *this);
  } else if (sent_partial_) {
    deliver_fn_(*this, now_, rows_new_, rows_old_, false);  // the last chunk, possibly empty
  } else {
    deliver(rows_new_, rows_old_);
  }

  leaving_ = 0;
  // An instance in a context (one per partition) gives back the buffers of a
  // large delivery: the engine has copied the rows (or the limiter has).
  if (!ctx_.empty()) {
    rows_new_.clear_and_shrink(kInstanceRows);
    rows_old_.clear_and_shrink(kInstanceRows);
  }
  // Groups left without events are freed (not the events' window: memory
  // follows what the window holds).
  if (plan_.grouped() && !all_groups_mode_)
    for (GroupState* g : touched_) agg_->drop_if_empty(g);
}

void Statement::write_table() {
  std::vector<Value> values(plan_.columns.size());
  for (GroupState* g : touched_) {
    for (size_t c = 0; c < values.size(); ++c) values[c] = eval(*plan_.columns[c].expr, env(nullptr, g));
    table_->write(g->key.to_vector(), table_columns_, values);
  }
}

void Statement::deliver(const RowSet& inew, const RowSet& iold) {
  if (merging_) {
    merged_new_.append(inew);
    merged_old_.append(iold);
    return;
  }
  if (inew.empty() && iold.empty()) return;
  if (deliver_fn_) deliver_fn_(*this, now_, inew, iold, false);
}

// Rows describing the current state: `output snapshot`, and the idle tick of a
// fully aggregated statement.
void Statement::current_rows(RowSet& inew, RowSet& iold) {
  std::vector<std::string> unused;
  if (plan_.window.kind == WindowKind::None) {
    // No data window holds events: a snapshot is the aggregation state only.
    if (plan_.shape == Shape::RowForAll) {
      add_row(nullptr, agg_->single(), inew, unused);
      if (plan_.irstream()) add_row(nullptr, agg_->single(), iold, unused);
    } else if (plan_.shape == Shape::RowPerGroup) {
      std::vector<GroupState*> groups;
      agg_->for_each_group([&](GroupState& g) { groups.push_back(&g); });
      for (GroupState* g : groups) add_row(nullptr, g, inew, unused);
    }
    return;
  }
  EventStore& s = window_.store();
  size_t b = std::max(window_.contents_begin(), leaving_), e = window_.contents_end();
  ++epoch_;
  ++having_epoch_;
  switch (plan_.shape) {
    case Shape::Simple:
      for (size_t i = b; i < e; ++i)
        if (!s.meta(i).dead && where_ok(s.row(i))) add_row(s.row(i), nullptr, inew, unused);
      break;
    case Shape::RowForAll:
      add_row(nullptr, agg_->single(), inew, unused);
      if (plan_.irstream()) add_row(nullptr, agg_->single(), iold, unused);
      break;
    case Shape::RowPerEvent:
      for (size_t i = b; i < e; ++i)
        if (!s.meta(i).dead && where_ok(s.row(i))) add_row(s.row(i), agg_->single(), inew, unused);
      break;
    case Shape::RowPerGroup:
    case Shape::RowPerGroupedEvent:
      for (size_t i = b; i < e; ++i) {
        if (s.meta(i).dead || !where_ok(s.row(i))) continue;
        EvalEnv en = env(s.row(i), nullptr);
        for (size_t k = 0; k < key_.size(); ++k) key_[k] = eval(*plan_.group_by[k], en);
        // A batch window's pending events may belong to a group with no
        // aggregation state yet: it shows as an empty group (count 0).
        GroupState* g = agg_->group(key_.data());
        if (plan_.shape == Shape::RowPerGroup) {
          if (g->mark == epoch_) continue;
          g->mark = epoch_;
          add_row(nullptr, g, inew, unused);
        } else {
          add_row(s.row(i), g, inew, unused);
        }
      }
      break;
  }
}

// `output all` on a grouped statement, at an interval's end: a row per group
// ever seen — fully aggregated: the current row; per-event: the groups the
// interval did not touch, with their latest event.
void Statement::end_rows(RowSet& inew, RowSet&) {
  if (!all_groups_mode_) return;
  ++having_epoch_;
  std::vector<std::string> unused;
  for (GroupState* g : all_groups_) {
    if (plan_.shape == Shape::RowPerGroup) add_row(nullptr, g, inew, unused);
    else if (g->interval != interval_ && !g->rep.empty()) add_row(g->rep.data(), g, inew, unused);
  }
  ++interval_;
}

// ---------------------------------------------------------------- reload and state

std::string Statement::adopt(Statement& old) {
  if (old.plan_.window_identity != plan_.window_identity) return "the window definition changed";
  if (!plan_.hidden.empty() || !old.plan_.hidden.empty()) return "the rule uses prev() or prior()";
  for (const ExprPtr& e : plan_.view_exprs)
    if (e->kind != ExprKind::Prop) return "a view parameter is an expression, not a property";
  if (match_) {  // the same match_recognize (identity): its partial matches carry over, through its snapshot
    std::string state;
    Writer w(state);
    old.match_->save(w);
    Reader r(state);
    match_->load(r);
  }
  if (plan_.window.kind == WindowKind::None) return "";
  std::vector<int> map;
  for (int field : plan_.layout) {
    auto it = std::find(old.plan_.layout.begin(), old.plan_.layout.end(), field);
    if (it == old.plan_.layout.end()) return "the rule now reads a property the old window did not keep";
    map.push_back(static_cast<int>(it - old.plan_.layout.begin()));
  }
  window_.adopt(old.window_, map);
  if (arrival_) pend_collected();
  // Sliding windows: what they hold is what is aggregated. Batch windows
  // aggregate their events only when the batch is posted.
  if (sliding_window(plan_.window.kind)) {
    EventStore& s = window_.store();
    for (size_t i = 0; i < s.size(); ++i) {
      EventMeta& m = s.meta(i);
      m.passed = where_ok(s.row(i));
      if (!m.passed || !agg_) continue;
      m.group = plan_.grouped() ? group_of(s.row(i)) : agg_->single();
      agg_->enter(*m.group, env(s.row(i), nullptr));
    }
  }
  return "";
}

void Statement::save(Writer& w) {
  std::unordered_map<const GroupState*, int64_t> ids;
  w.u64(interval_);
  w.u8(agg_ != nullptr);
  if (agg_) agg_->save(w, ids);
  window_.save(w, [&](const GroupState* g) {
    auto it = ids.find(g);
    return it == ids.end() ? int64_t{-1} : it->second;
  });
  w.u8(limiter_ != nullptr);
  if (limiter_) limiter_->save(w);
  if (pattern_) pattern_->save(w);  // (absent without a pattern)
  if (match_) match_->save(w);      // (absent without match_recognize)
  if (!plan_.hidden.empty()) {  // prior()'s memory of the stream (absent without prev/prior)
    prior_.resize(plan_.hidden.size());
    for (const std::deque<Value>& q : prior_) {
      w.u64(q.size());
      for (const Value& v : q) w.value(v);
    }
  }
}

void Statement::load(Reader& r, bool legacy_avg) {
  std::vector<GroupState*> groups;
  interval_ = r.u64();
  if ((r.u8() != 0) != (agg_ != nullptr)) throw std::runtime_error("cep_rule state: statement mismatch");
  if (agg_) groups = agg_->load(r, legacy_avg);
  if (all_groups_mode_) {
    // `output all` posts every group the statement has seen: all of the saved ones.
    all_groups_.clear();
    for (GroupState* g : groups) {
      g->listed = false;
      list_group(g);
    }
  }
  window_.load(r, groups);
  if (arrival_) pend_collected();
  if ((r.u8() != 0) != (limiter_ != nullptr)) throw std::runtime_error("cep_rule state: statement mismatch");
  if (limiter_) limiter_->load(r);
  if (pattern_) pattern_->load(r);
  if (match_) match_->load(r);
  prior_.assign(plan_.hidden.size(), {});
  for (size_t k = 0; k < plan_.hidden.size(); ++k) {
    uint64_t n = r.u64();
    if (n > static_cast<uint64_t>(plan_.hidden[k].n)) throw std::runtime_error("cep_rule state: bad prior()");
    for (uint64_t i = 0; i < n; ++i) prior_[k].push_back(r.value());
  }
}

}  // namespace weir::cep
