#include "named_window.hpp"

#include "error.hpp"
#include "eval.hpp"

#include <algorithm>
#include <stdexcept>

namespace weir::cep {

// ---------------------------------------------------------------- PlanRow

void PlanRow::load(const Value* input) {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (plan_->layout[i] >= 0) slots_[i] = input[plan_->layout[i]];
}

EvalEnv PlanRow::env() const { return EvalEnv{slots_.data(), vars_->values.data(), nullptr, nullptr, nullptr}; }

bool PlanRow::filter() const { return !plan_->stream_filter || eval_true(*plan_->stream_filter, env()); }
bool PlanRow::where() const { return !plan_->where || eval_true(*plan_->where, env()); }
Value PlanRow::value(size_t column) const { return eval(*plan_->columns[column].expr, env()); }
Value PlanRow::evaluate(const Expr& e) const { return eval(e, env()); }

void PlanRow::select(RowSet& out) const {
  for (size_t c = 0; c < plan_->columns.size(); ++c) out.push(value(c));
  if (plan_->columns.empty()) out.add();
}

// ---------------------------------------------------------------- NamedWindow

NamedWindow::NamedWindow(EventType type, Plan plan, const Variables& vars, int64_t start_ms, std::string identity,
                         bool numbered)
    : type_(std::move(type)),
      plan_(std::move(plan)),
      vars_(&vars),
      identity_(std::move(identity)),
      seq_slot_(numbered ? static_cast<int>(plan_.layout.size()) : -1),
      window_(plan_.window, plan_.layout.size() + (numbered ? 1 : 0), false, start_ms, plan_.view_slots),
      entered_(type_.fields.size() + 1),
      change_new_(type_.fields.size()),
      change_old_(type_.fields.size()) {
  field_slot_.assign(type_.fields.size(), -1);
  for (size_t i = 0; i < plan_.layout.size(); ++i)
    if (plan_.layout[i] >= 0) field_slot_[static_cast<size_t>(plan_.layout[i])] = static_cast<int>(i);
}

// What the views post goes to the statements reading W, as rows of W's type
// with each event's sequence number, and to the `create window` statement.
void NamedWindow::on_post(const Post& p) {
  if (changes_) {
    for (size_t i = p.new_begin; i < p.new_end; ++i) fields(i, change_new_.add());
    p.each_old([&](size_t i) { fields(i, change_old_.add()); });
  }
  if (seq_slot_ < 0) return;
  index_post(p);
  if (readers_.empty()) return;
  std::vector<Value> row(type_.fields.size() + 1);
  for (size_t i = p.new_begin; i < p.new_end; ++i) {
    fields(i, row.data());
    row.back() = window_.store().row(i)[seq_slot_];
    for (const Value& v : row) entered_.push(v);
  }
  p.each_old([&](size_t i) { left_.push_back(window_.store().row(i)[seq_slot_].as_long()); });
}

int NamedWindow::index_on(int field) {
  if (seq_slot_ < 0 || field_slot_[static_cast<size_t>(field)] < 0) return -1;
  for (size_t i = 0; i < indexes_.size(); ++i)
    if (indexes_[i].field == field) return static_cast<int>(i);
  indexes_.push_back(Index{field, {}});
  rebuild_indexes();
  return static_cast<int>(indexes_.size() - 1);
}

const std::vector<size_t>& NamedWindow::lookup(int index, const Value& key) {
  found_.clear();
  if (key.is_null()) return found_;
  const std::vector<int64_t>* seqs = indexes_[static_cast<size_t>(index)].events.find(key);
  if (!seqs) return found_;
  for (int64_t seq : *seqs) {
    size_t i = window_.find_ascending(seq_slot_, seq);
    if (i == window_.store().size()) throw std::logic_error("cep_rule: an indexed event is not in the named window");
    found_.push_back(i);
  }
  return found_;
}

// The indexes follow what the views post: an event is indexed while W holds it.
void NamedWindow::index_post(const Post& p) {
  EventStore& s = window_.store();
  for (Index& x : indexes_) {
    int slot = field_slot_[static_cast<size_t>(x.field)];
    for (size_t i = p.new_begin; i < p.new_end; ++i)
      if (const Value& k = s.row(i)[slot]; !k.is_null()) x.events.get(k).push_back(s.row(i)[seq_slot_].as_long());
    p.each_old([&](size_t i) {
      const Value& k = s.row(i)[slot];
      std::vector<int64_t>* seqs = k.is_null() ? nullptr : x.events.find(k);
      if (!seqs) return;
      seqs->erase(std::find(seqs->begin(), seqs->end(), s.row(i)[seq_slot_].as_long()));
      if (seqs->empty()) x.events.erase(k);
    });
  }
}

void NamedWindow::rebuild_indexes() {
  EventStore& s = window_.store();
  for (Index& x : indexes_) {
    x.events.clear();
    int slot = field_slot_[static_cast<size_t>(x.field)];
    for (size_t i : events())
      if (const Value& k = s.row(i)[slot]; !k.is_null()) x.events.get(k).push_back(s.row(i)[seq_slot_].as_long());
  }
}

void NamedWindow::end_change() {
  if (--changing_ == 0 && (!change_new_.empty() || !change_old_.empty())) {
    changes_(change_new_, change_old_);
    change_new_.clear();
    change_old_.clear();
  }
  end_update();
}

void NamedWindow::end_update() {
  if (--updating_ > 0 || (entered_.empty() && left_.empty())) return;
  for (const StreamReader& r : readers_) r(entered_, left_);
  entered_.clear();
  left_.clear();
}

// After a load or an adopt: numbers continue past the newest event's.
void NamedWindow::restart_sequence() {
  next_seq_ = 0;
  EventStore& s = window_.store();
  if (seq_slot_ >= 0 && s.size() > 0) next_seq_ = s.row(s.size() - 1)[seq_slot_].as_long() + 1;
}

// Keys and timestamps that are expressions (not fields) of the window's views.
void NamedWindow::fill_view_slots(Value* row) {
  EvalEnv env{row, vars_->values.data(), nullptr, nullptr, nullptr};
  for (size_t k = 0; k < plan_.view_exprs.size(); ++k) {
    if (plan_.view_exprs[k]->kind == ExprKind::Prop) continue;
    Value& v = row[plan_.view_slots[k]];
    v = eval(*plan_.view_exprs[k], env);
    if (v.on_heap()) window_.store().note_heap();
  }
}

bool NamedWindow::insert(const Value* fields, int64_t now) {
  Value* row = window_.begin_insert(now);
  bool heap = false;
  for (size_t i = 0; i < plan_.layout.size(); ++i) {
    if (plan_.layout[i] < 0) continue;
    row[i] = fields[plan_.layout[i]];
    heap |= row[i].on_heap();
  }
  if (heap) window_.store().note_heap();
  fill_view_slots(row);
  if (seq_slot_ >= 0) row[seq_slot_] = Value::of_long(next_seq_++);
  begin_change();
  window_.commit_insert(now, *this);
  end_change();
  return true;
}

void NamedWindow::on_timer(int64_t now) {
  begin_change();
  window_.on_timer(now, *this);
  end_change();
}

std::vector<size_t> NamedWindow::events() {
  std::vector<size_t> out;
  EventStore& s = window_.store();
  for (size_t i = window_.contents_begin(); i < window_.contents_end(); ++i)
    if (!s.meta(i).dead) out.push_back(i);
  return out;
}

void NamedWindow::fields(size_t i, Value* out) {
  const Value* row = window_.store().row(i);
  for (size_t f = 0; f < field_slot_.size(); ++f) out[f] = field_slot_[f] >= 0 ? row[field_slot_[f]] : Value();
}

void NamedWindow::remove(const std::vector<size_t>& events) {
  begin_change();
  window_.remove(events, *this);
  end_change();
}

void NamedWindow::replace(const std::vector<size_t>& events, const std::vector<std::vector<Value>>& rows, int64_t now) {
  begin_change();
  remove(events);
  for (const std::vector<Value>& row : rows) insert(row.data(), now);
  end_change();
}

void NamedWindow::save(Writer& w) {
  window_.save(w, [](const GroupState*) { return int64_t{-1}; });
}

void NamedWindow::load(Reader& r) {
  window_.load(r, {});
  restart_sequence();
  rebuild_indexes();
}

void NamedWindow::adopt(NamedWindow& old) {
  std::vector<int> map(window_.store().width());
  for (size_t i = 0; i < map.size(); ++i) map[i] = static_cast<int>(i);  // same identity: same layout
  window_.adopt(old.window_, map);
  restart_sequence();
  rebuild_indexes();
}

// ---------------------------------------------------------------- on-trigger statements

namespace {

constexpr char kTriggerMark = '\x01';  // prefixes the trigger's fields in the joined row

struct Names {
  const StatementAst& st;
  const EventType& trigger;
  const EventType& window;
  const std::string& file;

  bool is_trigger(const std::string& q) const { return q == st.from || (!st.from_alias.empty() && q == st.from_alias); }
  bool is_window(const std::string& q) const {
    return q == st.window_name || (!st.window_alias.empty() && q == st.window_alias);
  }

  // Qualified names and bare trigger properties to the joined row's names.
  // trigger_only: the trigger's own filter `on S(...)`, which sees only S.
  void rewrite(Expr& e, bool trigger_only = false) const {
    if (e.kind == ExprKind::Ident && e.qualifier != "context") {
      if (!e.qualifier.empty()) {
        if (is_trigger(e.qualifier) && !is_window(e.qualifier)) {
          if (trigger.find(e.name) < 0)
            throw EplError(file, e.pos, "stream '" + st.from + "' has no property '" + e.name + "'");
          e.name = kTriggerMark + e.name;
          e.qualifier.clear();
        } else if (is_window(e.qualifier)) {
          if (window.find(e.name) < 0)
            throw EplError(file, e.pos, "window '" + st.window_name + "' has no property '" + e.name + "'");
          e.qualifier.clear();
        } else {
          throw EplError(file, e.pos, "unknown stream or alias '" + e.qualifier + "' (the statement reads '" + st.from +
                                          "' and window '" + st.window_name + "')");
        }
      } else if (trigger.find(e.name) >= 0) {
        if (!trigger_only && window.find(e.name) >= 0)
          throw EplError(file, e.pos, "property '" + e.name + "' is ambiguous: both '" + st.from + "' and window '" +
                                          st.window_name + "' have it (qualify it)");
        e.name = kTriggerMark + e.name;
      }
    }
    for_each_child(e, [&](ExprPtr& c) { rewrite(*c, trigger_only); });
  }

  ExprPtr rewritten(const Expr& e, bool trigger_only = false) const {
    ExprPtr c = e.clone();
    rewrite(*c, trigger_only);
    return c;
  }

  // A select item for the joined row, named as Esper names the original.
  SelectItem item(const SelectItem& in) const {
    if (in.star) unsupported_star(in.pos);
    SelectItem out;
    out.pos = in.pos;
    out.alias = !in.alias.empty() ? in.alias
                : in.expr->kind == ExprKind::Ident && in.expr->qualifier.empty() ? in.expr->name
                                                                                  : render(*in.expr);
    out.expr = rewritten(*in.expr);
    return out;
  }

  [[noreturn]] void unsupported_star(Pos pos) const {
    throw EplError(file, pos, "cep_rule does not support 'select *' in an 'on ...' statement (Esper posts the two "
                              "streams as nested events): name the properties");
  }
};

EventType joined_type(const EventType& window, const EventType& trigger) {
  EventType t{window.name, window.fields};
  for (const Field& f : trigger.fields) t.fields.push_back({kTriggerMark + f.name, f.type});
  return t;
}

Plan compile_joined(StatementAst& st, const EventType& joined, const Variables& vars, const std::string& file) {
  st.from = joined.name;
  st.from_alias.clear();
  Plan p = compile_statement(st, joined, vars, file);
  if (p.aggregating())
    throw EplError(file, st.pos, "cep_rule does not support aggregates in an 'on ...' statement or a query");
  return p;
}

// Reads nothing of the window: the trigger's properties (slots past the
// window's nw fields), variables and literals.
bool of_trigger(const Expr& e, const Plan& p, int nw) {
  if (e.kind == ExprKind::Prop && p.layout[static_cast<size_t>(e.index)] < nw) return false;
  if (e.kind == ExprKind::TableAccess || e.kind == ExprKind::Prev || e.kind == ExprKind::Prior) return false;
  bool only = true;
  for_each_child(e, [&](const Expr& c) { only = only && of_trigger(c, p, nw); });
  return only;
}

// The first conjunct `w.f = <expression of the trigger>` of a where clause,
// with both sides long, string or boolean (`=` is then Value equality, which
// the index's hash follows): (f, the trigger's side), or (-1, null).
std::pair<int, const Expr*> key_equality(const Expr& e, const Plan& p, int nw) {
  if (e.kind == ExprKind::Binary && e.op == BinOp::And) {
    auto left = key_equality(*e.a, p, nw);
    return left.first >= 0 ? left : key_equality(*e.b, p, nw);
  }
  if (e.kind != ExprKind::Binary || e.op != BinOp::Eq || e.a->type != e.b->type ||
      (e.a->type != Type::Long && e.a->type != Type::String && e.a->type != Type::Bool))
    return {-1, nullptr};
  for (const auto& [w, t] : {std::pair{e.a.get(), e.b.get()}, std::pair{e.b.get(), e.a.get()}}) {
    if (w->kind != ExprKind::Prop) continue;
    int f = p.layout[static_cast<size_t>(w->index)];
    if (f >= 0 && f < nw && of_trigger(*t, p, nw)) return {f, t};
  }
  return {-1, nullptr};
}

}  // namespace

OnPlan compile_on(const StatementAst& st, const EventType& trigger, OnTarget& target, const Variables& vars,
                  const std::string& file) {
  OnPlan on;
  on.kind = st.kind;
  on.trigger = st.from;
  on.target = &target;
  on.trigger_width = trigger.fields.size();
  const EventType& type = target.type();
  std::string of = std::string(target.what()) + " '" + target.name() + "'";
  Names names{st, trigger, type, file};
  EventType joined = joined_type(type, trigger);

  StatementAst main;
  main.pos = st.pos;
  main.name = st.name;
  if (st.stream_filter) main.stream_filter = names.rewritten(*st.stream_filter, true);
  if (st.where) main.where = names.rewritten(*st.where);
  if (st.kind == StatementKind::OnSelect) {
    for (const SelectItem& item : st.select) main.select.push_back(names.item(item));
  } else {
    // on-delete posts the deleted events; on-merge and on-update what they
    // insert and update (new rows) and what they delete and replace (old
    // rows), as Esper's do: rows of the target's type.
    for (const Field& f : type.fields) {
      SelectItem item;
      item.pos = st.pos;
      item.alias = f.name;
      item.expr = std::make_unique<Expr>();
      item.expr->kind = ExprKind::Ident;
      item.expr->name = f.name;
      item.expr->pos = st.pos;
      main.select.push_back(std::move(item));
    }
    if (st.kind != StatementKind::OnDelete) main.selector = StreamSelector::IRStream;
  }
  on.main = std::make_shared<const Plan>(compile_joined(main, joined, vars, file));
  if (on.main->where) {
    auto [field, key] = key_equality(*on.main->where, *on.main, static_cast<int>(type.fields.size()));
    if (field >= 0 && (on.index = target.index_on(field)) >= 0) on.index_key = key;
  }

  for (const MergeClause& c : st.merge) {
    OnPlan::Merge m;
    m.matched = c.matched;
    m.action = c.action;
    StatementAst clause;
    clause.pos = c.pos;
    if (c.cond) clause.where = names.rewritten(*c.cond);
    for (size_t k = 0; k < c.sets.size(); ++k) {
      int f = type.find(c.sets[k].first);
      if (f < 0) throw EplError(file, c.set_pos[k], of + " has no property '" + c.sets[k].first + "'");
      if (std::string why = target.unwritable(f, true); !why.empty())
        throw EplError(file, c.set_pos[k], "cep_rule cannot set '" + c.sets[k].first + "' of " + of + ": " + why);
      SelectItem item;
      item.pos = c.set_pos[k];
      item.alias = "set" + std::to_string(k);
      item.expr = names.rewritten(*c.sets[k].second);
      clause.select.push_back(std::move(item));
      m.fields.push_back(f);
    }
    for (const SelectItem& in : c.insert) {
      SelectItem item = names.item(in);
      int f = type.find(item.alias);
      if (f < 0)
        throw EplError(file, in.pos, of + " has no property '" + item.alias + "' (name the inserted columns after the " +
                                         target.what() + "'s properties with 'as')");
      if (std::string why = target.unwritable(f, false); !why.empty())
        throw EplError(file, in.pos, "cep_rule cannot insert '" + item.alias + "' into " + of + ": " + why);
      m.fields.push_back(f);
      clause.select.push_back(std::move(item));
    }
    m.plan = compile_joined(clause, joined, vars, file);
    for (size_t k = 0; k < m.fields.size(); ++k) {
      Type want = type.fields[static_cast<size_t>(m.fields[k])].type, have = m.plan.columns[k].type;
      if (have != want && have != Type::Null && want != Type::Null && !(want == Type::Double && have == Type::Long))
        throw EplError(file, m.plan.columns[k].expr->pos, "'" + type.fields[static_cast<size_t>(m.fields[k])].name + "' of " +
                                                              of + " is " + type_name(want) + ", not " + type_name(have));
    }
    on.merges.push_back(std::move(m));
  }
  return on;
}

namespace {

// A long written into a double field is widened (Esper's assignment).
Value widened(Value v, Type want) {
  if (want == Type::Double && v.type() == Type::Long) return Value::of_double(static_cast<double>(v.as_long()));
  return v;
}

}  // namespace

void run_on(const OnPlan& on, const Variables& vars, const Value* trigger, int64_t now, RowSet& out, RowSet& removed) {
  OnTarget& w = *on.target;
  const EventType& type = w.type();
  size_t nw = type.fields.size();
  std::vector<Value> joined(nw + on.trigger_width);
  std::copy(trigger, trigger + on.trigger_width, joined.begin() + static_cast<std::ptrdiff_t>(nw));
  PlanRow main(*on.main, vars);
  main.load(joined.data());
  if (!main.filter()) return;

  std::vector<size_t> all;
  if (on.index < 0) all = w.events();
  const std::vector<size_t>& candidates = on.index >= 0 ? w.lookup(on.index, main.evaluate(*on.index_key)) : all;
  std::vector<size_t> matched;
  bool posts_matched = on.kind == StatementKind::OnSelect || on.kind == StatementKind::OnDelete;
  for (size_t i : candidates) {
    w.fields(i, joined.data());
    main.load(joined.data());
    if (!main.where()) continue;
    matched.push_back(i);
    if (posts_matched) main.select(out);
  }
  if (on.kind == StatementKind::OnDelete) w.remove(matched);
  if (posts_matched) return;

  // on-merge, as Esper: each matched event takes the first `when matched`
  // clause whose condition holds; with no match, the first `when not
  // matched` clause whose condition holds inserts. on-update: its one
  // clause. The statement posts its inserts and updates as new rows, the
  // replaced and deleted events as old rows (not what the views push out).
  auto set = [&](const OnPlan::Merge& m, const PlanRow& c, std::vector<Value>& row) {
    for (size_t k = 0; k < m.fields.size(); ++k)
      row[static_cast<size_t>(m.fields[k])] = widened(c.value(k), type.fields[static_cast<size_t>(m.fields[k])].type);
  };
  std::vector<size_t> deleted, replaced;
  std::vector<std::vector<Value>> updated;
  w.begin_change();  // its changes are one change of the target (and one update of a window's readers)
  for (size_t i : matched) {
    w.fields(i, joined.data());
    for (const OnPlan::Merge& m : on.merges) {
      if (!m.matched) continue;
      PlanRow c(m.plan, vars);
      c.load(joined.data());
      if (!c.where()) continue;
      removed.add_copy(joined.data());
      if (m.action == MergeClause::Action::Update) {
        std::vector<Value> row(joined.begin(), joined.begin() + static_cast<std::ptrdiff_t>(nw));
        set(m, c, row);
        out.add_copy(row.data());
        replaced.push_back(i);
        updated.push_back(std::move(row));
      } else {
        deleted.push_back(i);
      }
      break;
    }
  }
  // Replaced first: a table's positions do not move when it changes rows in place.
  w.replace(replaced, updated, now);
  w.remove(deleted);
  if (matched.empty()) {
    std::fill(joined.begin(), joined.begin() + static_cast<std::ptrdiff_t>(nw), Value());
    for (const OnPlan::Merge& m : on.merges) {
      if (m.matched) continue;
      PlanRow c(m.plan, vars);
      c.load(joined.data());
      if (!c.where()) continue;
      std::vector<Value> row(nw);
      set(m, c, row);
      if (w.insert(row.data(), now)) out.add_copy(row.data());
      break;
    }
  }
  w.end_change();
}

QueryResult run_query(const StatementAst& st, NamedWindow& window, const Variables& vars, const std::string& file) {
  std::vector<Value> fields(window.type().fields.size());
  return run_query(st, window.type(), [&](const QueryRows& visit) {
    for (size_t i : window.events()) {
      window.fields(i, fields.data());
      visit(fields.data());
    }
  }, vars, file);
}

QueryResult run_query(const StatementAst& st, const EventType& type, const std::function<void(const QueryRows&)>& rows,
                      const Variables& vars, const std::string& file) {
  if (st.kind != StatementKind::Select || st.window.kind != WindowKind::None || st.stream_filter || !st.group_by.empty() ||
      st.having || st.output.mode != OutputMode::None || !st.insert_into.empty() || !st.context.empty() ||
      st.selector != StreamSelector::IStream || !st.into_table.empty())
    throw EplError(file, st.pos, "a query is 'select ... from WINDOW [where ...]' (no view, filter, group by, having, "
                                 "output, insert into or context)");
  StatementAst q;
  q.pos = st.pos;
  q.from = type.name;
  q.from_alias = st.from_alias;
  for (const SelectItem& in : st.select) q.select.push_back(in.clone());
  if (st.where) q.where = st.where->clone();
  Plan p = compile_statement(q, type, vars, file);
  if (p.aggregating()) throw EplError(file, st.pos, "cep_rule does not support aggregates in a query");
  QueryResult r;
  for (const Column& c : p.columns) r.columns.push_back(c.name);
  r.rows.set_width(p.columns.size());
  PlanRow row(p, vars);
  rows([&](const Value* fields) {
    row.load(fields);
    if (row.where()) row.select(r.rows);
  });
  return r;
}

}  // namespace weir::cep
