#include "engine.hpp"

#include "error.hpp"
#include "eval.hpp"
#include "parser.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>

namespace weir::cep {

namespace {

// A value converted to a variable's declared type (false when impossible);
// int variables hold 32-bit values, float variables floats.
bool coerce(Value& v, Type t, Narrow n = Narrow::None) {
  if (!v.is_null() && n == Narrow::Int) {
    if (!coerce(v, t)) return false;
    return v.as_long() >= INT32_MIN && v.as_long() <= INT32_MAX;
  }
  if (!v.is_null() && n == Narrow::Float) {
    if (!coerce(v, t)) return false;
    v = Value::of_double(static_cast<double>(static_cast<float>(v.as_double())));
    return true;
  }
  if (v.is_null() || v.type() == t) return true;
  if (t == Type::Double && v.type() == Type::Long) {
    v = Value::of_double(static_cast<double>(v.as_long()));
    return true;
  }
  if (t == Type::Long && v.type() == Type::Double) {
    double d = v.as_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      v = Value::of_long(static_cast<int64_t>(d));
      return true;
    }
  }
  return false;
}

bool parse_long(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return false;
  out = v;
  return true;
}

}  // namespace

Value parse_variable_value(const std::string& text, Type declared) {
  int64_t i;
  double d;
  switch (declared) {
    case Type::Long:
      if (parse_long(text, i)) return Value::of_long(i);
      throw std::invalid_argument("'" + text + "' is not a whole number");
    case Type::Double:
      if (parse_double(text, d)) return Value::of_double(d);
      throw std::invalid_argument("'" + text + "' is not a number");
    case Type::Bool:
      if (text == "true") return Value::of_bool(true);
      if (text == "false") return Value::of_bool(false);
      throw std::invalid_argument("'" + text + "' is not true or false");
    case Type::String: return Value::of_string(text);
    case Type::Null: break;
  }
  if (parse_long(text, i)) return Value::of_long(i);
  if (parse_double(text, d)) return Value::of_double(d);
  if (text == "true" || text == "false") return Value::of_bool(text == "true");
  return Value::of_string(text);
}

Engine::Engine(const Module& module, const std::vector<EventType>& inputs, const EngineOptions& options)
    : now_(options.start_ms) {
  // Variables: declarations first, then the configuration's values.
  for (const VariableDecl& d : module.variables) {
    if (vars_.find(d.name) >= 0) throw EplError(module.file, d.pos, "variable '" + d.name + "' is declared twice");
    Value v = d.init ? d.init->literal : Value();
    const char* declared = d.narrow == Narrow::Int ? "int" : d.narrow == Narrow::Float ? "float" : type_name(d.type);
    if (!coerce(v, d.type, d.narrow))
      throw EplError(module.file, d.pos, "variable '" + d.name + "' is declared " + declared + " but initialized with " +
                                             (v.type() == Type::Long ? "the long " + format_value(v) : "a " + std::string(type_name(v.type()))));
    auto it = options.variables.find(d.name);
    if (it != options.variables.end()) {
      Value o = it->second;
      if (!coerce(o, d.type, d.narrow))
        throw EplError(module.file, d.pos, "variable '" + d.name + "' is declared " + declared + " but the configured value is " +
                                               (o.type() == Type::Long ? "the long " + format_value(o) : "a " + std::string(type_name(o.type()))));
      v = std::move(o);
    }
    vars_.names.push_back(d.name);
    vars_.types.push_back(d.type);
    vars_.narrows.push_back(d.narrow);
    vars_.values.push_back(std::move(v));
  }
  for (const auto& [name, value] : options.variables) {
    if (vars_.find(name) >= 0) continue;
    vars_.names.push_back(name);
    vars_.types.push_back(value.type());
    vars_.narrows.push_back(Narrow::None);
    vars_.values.push_back(value);
  }

  for (const EventType& t : inputs) streams_.push_back(Stream{t.name, t, {}});
  for (const TableDecl& d : module.tables) {
    if (find_table(d.name) || stream(d.name) >= 0) throw EplError(module.file, d.pos, "'" + d.name + "' is declared twice");
    tables_.push_back(std::make_shared<Table>(d));
  }

  for (size_t i = 0; i < module.statements.size(); ++i) {
    const StatementAst& st = module.statements[i];
    int in = stream(st.from);
    if (in < 0 && find_table(st.from))
      throw EplError(module.file, st.from_pos, "cep_rule does not support reading table '" + st.from +
                                                   "' as a stream (read " + st.from + "[key].column, or query it)");
    if (in < 0) {
      std::string known;
      for (const Stream& s : streams_) known += (known.empty() ? "" : ", ") + s.name;
      throw EplError(module.file, st.from_pos, "unknown stream '" + st.from + "'" + (known.empty() ? "" : " (known: " + known + ")"));
    }
    if (st.kind != StatementKind::Select) {
      auto s = st.kind == StatementKind::CreateWindow ? create_window(module, i, in) : on_statement(module, i, in);
      if (st.kind != StatementKind::CreateWindow) streams_[static_cast<size_t>(in)].readers.push_back(s.get());
      statements_.push_back(std::move(s));
      insert_stream_.push_back(-1);
      insert_table_.emplace_back();
      contextual_.push_back(nullptr);
      continue;
    }
    NamedWindow* read = streams_[static_cast<size_t>(in)].window;  // `from W`: W's insert and remove streams
    std::optional<Plan> read_plan;
    if (read) read_plan = reader_plan(module, st, *read);
    std::unique_ptr<Contextual> contextual;
    ContextShape shape;
    if (!st.context.empty()) {
      contextual = std::make_unique<Contextual>();
      contextual->context = context_of(module, st);
      shape = contexts_[contextual->context]->shape_for(st.from, st.from_pos);
    }
    Plan plan = read ? std::move(*read_plan)
                     : compile_statement(st, streams_[static_cast<size_t>(in)].type, vars_, module.file, contextual ? &shape : nullptr,
                                         &tables_);
    // insert into T: the rows become T's rows (table.cpp checks the columns).
    std::shared_ptr<Table> insert_table = find_table(plan.insert_into);
    std::vector<int> insert_columns;
    if (insert_table) insert_columns = insert_into_table_columns(*insert_table, plan, module.file);
    if (contextual) {
      contextual->inew.set_width(plan.columns.size());
      contextual->iold.set_width(plan.columns.size());
    }
    int out = -1;
    if (!plan.insert_into.empty() && !insert_table) {
      EventType produced{plan.insert_into, {}};
      for (const Column& c : plan.columns) produced.fields.push_back({c.name, c.type});
      out = stream(plan.insert_into);
      if (out < 0) {
        streams_.push_back(Stream{plan.insert_into, produced, {}});
        out = static_cast<int>(streams_.size() - 1);
      } else {
        const EventType& have = streams_[static_cast<size_t>(out)].type;
        bool same = have.fields.size() == produced.fields.size();
        for (size_t f = 0; same && f < have.fields.size(); ++f)
          same = have.fields[f].name == produced.fields[f].name &&
                 (have.fields[f].type == produced.fields[f].type || produced.fields[f].type == Type::Null);
        if (!same) throw EplError(module.file, st.pos, "stream '" + plan.insert_into + "' already exists with other columns");
      }
    }
    std::vector<int> table_columns;
    std::shared_ptr<Table> into = st.into_table.empty() ? nullptr : into_table(module, st, plan, table_columns);
    auto s = std::make_unique<Statement>(std::move(plan), i, vars_, now_);
    s->set_deliver([this](Statement& stmt, int64_t t, const RowSet& a, const RowSet& b, bool partial) {
      on_delivery(stmt, t, a, b, partial);
    });
    if (into) s->set_table(std::move(into), std::move(table_columns));
    if (read)
      read->add_reader([this, r = s.get()](const RowSet& entered, const std::vector<int64_t>& left) {
        r->on_window_update(entered, left, now_);
      });
    else
      streams_[static_cast<size_t>(in)].readers.push_back(s.get());
    statements_.push_back(std::move(s));
    insert_stream_.push_back(out);
    insert_table_.emplace_back(std::move(insert_table), std::move(insert_columns));
    contextual_.push_back(std::move(contextual));
    on_.push_back(nullptr);
  }
  if (!tables_.empty()) esper_filter_order(module);
  // Partitions that exist from the start (categories, preallocated buckets),
  // then those the events create: every statement of the context gets an
  // instance of each.
  for (size_t c = 0; c < contexts_.size(); ++c) {
    contexts_[c]->set_on_create([this, c](size_t partition) {
      for (size_t i = 0; i < statements_.size(); ++i)
        if (contextual_[i] && contextual_[i]->context == c) create_instance(i, partition);
    });
    contexts_[c]->create_initial();
  }
}

// The order in which the statements reading a stream see an event is Esper's
// filter order: statements with a filter first, grouped by the first
// statement with the same filter (they share a node of Esper's filter index),
// then those without one, in file order (cases 476-479, 490-492). Esper's
// filter of a statement without a data window includes its where clause,
// unless that reads a table. Only tables make the order visible (a statement
// reading T[key] after or before the one writing it for the same event), so
// the other rules keep file order.
namespace {
bool reads_table(const Expr& e) {
  if (e.kind == ExprKind::TableAccess) return true;
  bool found = false;
  for_each_child(e, [&](const Expr& c) { found = found || reads_table(c); });
  return found;
}
}  // namespace

void Engine::esper_filter_order(const Module& module) {
  auto filter_text = [&](const StatementAst& st) {
    std::string f = st.stream_filter ? render(*st.stream_filter) : "";
    if (st.kind == StatementKind::Select && st.where && st.window.kind == WindowKind::None && !reads_table(*st.where))
      f += (f.empty() ? "" : " and ") + render(*st.where);
    return f;
  };
  std::map<std::string, size_t> first;  // filter text -> the first statement with it
  for (size_t i = 0; i < module.statements.size(); ++i)
    if (std::string f = filter_text(module.statements[i]); !f.empty()) first.emplace(f, i);
  auto rank = [&](const Statement* s) -> std::pair<int, size_t> {
    std::string f = filter_text(module.statements[s->index()]);
    return f.empty() ? std::pair<int, size_t>{1, s->index()} : std::pair<int, size_t>{0, first.at(f)};
  };
  for (Stream& in : streams_)
    std::stable_sort(in.readers.begin(), in.readers.end(), [&](const Statement* a, const Statement* b) { return rank(a) < rank(b); });
}

// create window W#views as select ... from S: the window's type is the
// select list's columns; its views are compiled over that type.
std::unique_ptr<Statement> Engine::create_window(const Module& module, size_t i, int in) {
  const StatementAst& st = module.statements[i];
  if (stream(st.window_name) >= 0)
    throw EplError(module.file, st.window_pos, "'" + st.window_name + "' is already a stream or a window");
  if (batch_window(st.window.kind) || st.window.kind == WindowKind::None)
    throw EplError(module.file, st.window.pos, "cep_rule does not support a batch window as a named window's view");
  StatementAst shape;  // select ... from S, to type the columns
  shape.pos = st.pos;
  shape.name = st.name;
  shape.from = st.from;
  for (const SelectItem& in_item : st.select) {
    if (in_item.expr && in_item.expr->kind != ExprKind::Ident)
      throw EplError(module.file, in_item.pos, "a named window's select list takes properties of '" + st.from +
                                                   "' (as Esper: no expressions; 'insert into' may compute them)");
    shape.select.push_back(in_item.clone());
  }
  Plan typed = compile_statement(shape, streams_[static_cast<size_t>(in)].type, vars_, module.file);
  if (typed.aggregating()) throw EplError(module.file, st.pos, "a named window's select list cannot aggregate");
  EventType wt{st.window_name, {}};
  for (const Column& c : typed.columns) wt.fields.push_back({c.name, c.type});

  StatementAst views;  // select * from W#views, over the window's type
  views.pos = st.pos;
  views.from = st.window_name;
  views.window = st.window;
  for (const ExprPtr& e : st.view_exprs) views.view_exprs.push_back(e->clone());
  if (st.window_reference) views.window_reference = st.window_reference->clone();
  SelectItem all;
  all.star = true;
  views.select.push_back(std::move(all));
  Plan vp = compile_statement(views, wt, vars_, module.file);
  std::string identity = "window " + st.window_name + "(";
  for (const Field& f : wt.fields) identity += f.name + ":" + type_name(f.type) + ",";
  identity += ")" + vp.window_identity;
  // Read as a stream by a statement, or looked up by on-trigger statements
  // (an index by key): its events carry a sequence number (another row layout).
  bool numbered = std::any_of(module.statements.begin(), module.statements.end(), [&](const StatementAst& o) {
    return (o.kind == StatementKind::Select && o.from == st.window_name) ||
           (o.kind != StatementKind::Select && o.kind != StatementKind::CreateWindow && o.window_name == st.window_name);
  });
  if (numbered) identity += ",read";
  windows_.push_back(std::make_unique<NamedWindow>(wt, std::move(vp), vars_, now_, identity, numbered));
  streams_.push_back(Stream{st.window_name, wt, {}, windows_.back().get()});
  typed.window_identity = identity;  // the statement's saved state is the window's
  // The statement posts W's changes, what enters and what leaves, as Esper's
  // `create window` does (cases 520-...): its remove stream is posted too.
  typed.selector = StreamSelector::IRStream;
  on_.push_back(nullptr);
  auto s = std::make_unique<Statement>(std::move(typed), i, vars_, now_);
  windows_.back()->set_changes([this, s = s.get()](const RowSet& entered, const RowSet& left) {
    emit(*s, now_, entered, left, false);
  });
  return s;
}

// select ... from W[(filter)]: compiled over W's type; its window holds W's
// events (those past the filter) as W posts them, each with W's sequence
// number in a last slot, by which it finds the events that leave W.
Plan Engine::reader_plan(const Module& module, const StatementAst& st, const NamedWindow& w) const {
  auto refuse = [&](Pos pos, const std::string& what, const std::string& why = "") {
    throw EplError(module.file, pos, "cep_rule does not support " + what + " in a statement reading named window '" +
                                         w.name() + "'" + why);
  };
  if (st.pattern) refuse(st.from_pos, "a pattern");
  if (st.window.kind != WindowKind::None) refuse(st.window.pos, "a view (" + st.window.view_text + ")", " (the window's own views apply)");
  if (!st.context.empty()) refuse(st.context_pos, "a context");
  if (st.insert_into == w.name()) refuse(st.pos, "'insert into " + w.name() + "'");
  // Esper 8.9 leaves out the row of a #time window's expiry at the instant of
  // the reader's output tick (case 468's first version): not reproduced, so refused.
  if (st.output.mode != OutputMode::None && !st.output.by_events && w.view().kind == WindowKind::Time)
    refuse(st.output.pos, "a time-based output clause",
           " (a #time window: Esper 8.9 leaves out the row of an expiry at an output tick); use 'output every N events'");
  Plan plan = compile_statement(st, w.type(), vars_, module.file);
  for (const AggSpec& a : plan.aggs)
    if (a.fn == AggFn::Min || a.fn == AggFn::Max)  // their state assumes events leave in arrival order
      refuse(st.from_pos, std::string(aggregate_name(a.fn)) + "()", " (its events may leave out of arrival order)");
  if (!plan.hidden.empty()) refuse(st.from_pos, "prev() or prior()");
  plan.window.kind = WindowKind::Named;
  plan.view_slots = {static_cast<int>(plan.layout.size())};
  plan.layout.push_back(static_cast<int>(w.type().fields.size()));  // the sequence number
  plan.window_identity = w.identity() + " read by " + plan.window_identity;
  return plan;
}

// into table T ...: T, checked (table.cpp); each of its columns has one writer.
std::shared_ptr<Table> Engine::into_table(const Module& module, const StatementAst& st, const Plan& plan,
                                          std::vector<int>& columns) {
  std::shared_ptr<Table> t = find_table(st.into_table);
  if (!t) {
    std::string known;
    for (const auto& x : tables_) known += (known.empty() ? "" : ", ") + x->name();
    throw EplError(module.file, st.into_table_pos, "unknown table '" + st.into_table + "'" +
                                                       (known.empty() ? " (declare it with 'create table')" : " (known: " + known + ")"));
  }
  if (streams_[static_cast<size_t>(stream(st.from))].window)
    throw EplError(module.file, st.from_pos, "cep_rule does not support a named window as the stream in an 'into table' statement");
  columns = into_table_columns(*t, st, plan, module.file);
  for (size_t c = 0; c < columns.size(); ++c) {
    for (const auto& w : table_writers_)
      if (w.first == t.get() && w.second == columns[c])
        throw EplError(module.file, plan.columns[c].expr->pos, "column '" + plan.columns[c].name + "' of table '" + t->name() +
                                                                   "' is written by another statement (cep_rule: one writer per column)");
    table_writers_.emplace_back(t.get(), columns[c]);
  }
  return t;
}

std::shared_ptr<Table> Engine::find_table(const std::string& name) const {
  for (const auto& t : tables_)
    if (t->name() == name) return t;
  return nullptr;
}

std::unique_ptr<Statement> Engine::on_statement(const Module& module, size_t i, int in) {
  const StatementAst& st = module.statements[i];
  std::shared_ptr<Table> t = find_table(st.window_name);
  OnTarget* target = t ? static_cast<OnTarget*>(t.get()) : find_window(st.window_name);
  if (!target)
    throw EplError(module.file, st.window_pos, "unknown named window or table '" + st.window_name +
                                                   "' (create it with 'create window' or 'create table')");
  // Esper's on-update changes a named window's event in place, which its
  // views do not see as a new event: not reproduced.
  if (st.kind == StatementKind::OnUpdate && !t)
    throw EplError(module.file, st.window_pos, "cep_rule does not support 'on ... update' over named window '" +
                                                   st.window_name + "' (use 'on ... merge ... when matched then update set')");
  auto on = std::make_unique<OnPlan>(compile_on(st, streams_[static_cast<size_t>(in)].type, *target, vars_, module.file));
  auto s = std::make_unique<Statement>(on->main, i, vars_, now_);
  on_.push_back(std::move(on));
  return s;
}

NamedWindow* Engine::find_window(const std::string& name) const {
  for (const auto& w : windows_)
    if (w->name() == name) return w.get();
  return nullptr;
}

Module Engine::parse_query(std::string_view text) {
  Module m = parse_module(text, "query");
  if (m.statements.size() != 1 || !m.variables.empty() || !m.contexts.empty())
    throw EplError("query", Pos{}, "a query is one 'select ... from WINDOW [where ...]'");
  return m;
}

QueryResult Engine::query(std::string_view text) {
  Module m = parse_query(text);
  const StatementAst& st = m.statements.front();
  NamedWindow* w = st.kind == StatementKind::Select ? find_window(st.from) : nullptr;
  std::shared_ptr<Table> t = st.kind == StatementKind::Select ? find_table(st.from) : nullptr;
  if (t) {
    return run_query(st, t->type(), [&](const QueryRows& visit) {
      for (size_t i = 0; i < t->size(); ++i) visit(t->row(i));
    }, vars_, "query");
  }
  if (!w) {
    std::string known;
    for (const auto& x : windows_) known += (known.empty() ? "" : ", ") + x->name();
    for (const auto& x : tables_) known += (known.empty() ? "" : ", ") + x->name();
    throw EplError("query", st.from_pos, "unknown named window or table '" + st.from + "'" +
                                             (known.empty() ? " (the rule has none)" : " (known: " + known + ")"));
  }
  return run_query(st, *w, vars_, "query");
}

size_t Engine::context_of(const Module& module, const StatementAst& st) {
  for (size_t c = 0; c < contexts_.size(); ++c)
    if (contexts_[c]->name() == st.context) return c;
  for (const ContextDecl& d : module.contexts)
    if (d.name == st.context) {
      std::vector<std::pair<std::string, const EventType*>> streams;
      for (const Stream& s : streams_) streams.emplace_back(s.name, &s.type);
      contexts_.push_back(std::make_unique<ContextRuntime>(d, streams, vars_, module.file));
      return contexts_.size() - 1;
    }
  std::string known;
  for (const ContextDecl& d : module.contexts) known += (known.empty() ? "" : ", ") + d.name;
  throw EplError(module.file, st.context_pos,
                 "unknown context '" + st.context + "'" + (known.empty() ? " (declare it with 'create context')" : " (known: " + known + ")"));
}

void Engine::create_instance(size_t statement, size_t partition) {
  Contextual& c = *contextual_[statement];
  if (partition != c.parts.size()) throw std::logic_error("cep_rule: context partitions out of order");
  auto inst = std::make_unique<Statement>(statements_[statement]->shared_plan(), statement, vars_, now_,
                                          contexts_[c.context]->values(partition));
  inst->set_deliver([this](Statement& stmt, int64_t t, const RowSet& a, const RowSet& b, bool partial) {
    on_delivery(stmt, t, a, b, partial);
  });
  int64_t due = inst->next_timer();
  c.parts.push_back(std::move(inst));
  c.schedule(partition, due);
}

void Engine::clear_instances(size_t context) {
  for (auto& c : contextual_)
    if (c && c->context == context) {
      c->parts.clear();
      c->reschedule_all();
    }
}

std::vector<int> Engine::context_fields(const std::string& stream) const {
  std::vector<int> out;
  for (const auto& c : contexts_) {
    std::vector<int> f = c->fields(stream);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

std::vector<int> Engine::trigger_fields(const std::string& stream) const {
  std::vector<int> out;
  for (const auto& on : on_) {
    if (!on || on->trigger != stream) continue;
    int nw = static_cast<int>(on->target->type().fields.size());
    auto add = [&](const Plan& p) {
      for (int f : p.layout)
        if (f >= nw) out.push_back(f - nw);
    };
    add(*on->main);
    for (const OnPlan::Merge& m : on->merges) add(m.plan);
  }
  return out;
}

int Engine::stream(const std::string& name) const {
  for (size_t i = 0; i < streams_.size(); ++i)
    if (streams_[i].name == name) return static_cast<int>(i);
  return -1;
}

int64_t Engine::next_timer() const {
  int64_t t = kNever;
  for (const auto& w : windows_) t = std::min(t, w->next_timer());
  for (size_t i = 0; i < statements_.size(); ++i)
    t = std::min(t, contextual_[i] ? contextual_[i]->next_due : statements_[i]->next_timer());
  return t;
}

int64_t Engine::oldest_pending() {
  int64_t t = kNever;
  for (size_t i = 0; i < statements_.size(); ++i) {
    if (!contextual_[i]) t = std::min(t, statements_[i]->oldest_pending());
    else
      for (auto& inst : contextual_[i]->parts) t = std::min(t, inst->oldest_pending());
  }
  return t;
}

uint64_t Engine::match_states_dropped() const {
  uint64_t n = 0;
  for (size_t i = 0; i < statements_.size(); ++i) {
    if (!contextual_[i]) n += statements_[i]->match_states_dropped();
    else
      for (const auto& inst : contextual_[i]->parts) n += inst->match_states_dropped();
  }
  return n;
}

void Engine::advance_to(int64_t t) {
  if (t <= now_) return;
  for (;;) {
    int64_t due = next_timer();
    if (due > t) break;
    now_ = std::max(now_, due);
    for (auto& w : windows_) w->begin_update();  // an instant's changes: one update (see publish_windows)
    for (auto& w : windows_)  // named windows expire before the statements that read them
      if (w->next_timer() <= now_) w->on_timer(now_);
    // Every timer due at this instant fires (statements in declaration
    // order) before the events they insert are processed, as Esper's
    // schedule does: an `insert into` row made by a timer at T reaches a
    // downstream window after that window's own timer at T.
    for (size_t i = 0; i < statements_.size(); ++i) {
      Contextual* c = contextual_[i].get();
      if (!c) {
        if (statements_[i]->next_timer() <= now_) statements_[i]->on_timer(now_);
        continue;
      }
      if (c->next_due > now_) continue;
      c->firing.clear();  // the partitions due now, in creation order
      while (!c->timers.empty() && c->timers.top().t <= now_) {
        Contextual::Due d = c->timers.top();
        c->timers.pop();
        if (c->queued[d.p] != d.t) continue;  // stale
        c->queued[d.p] = kNever;
        c->firing.push_back(d.p);
      }
      std::sort(c->firing.begin(), c->firing.end());
      c->firing.erase(std::unique(c->firing.begin(), c->firing.end()), c->firing.end());
      for (size_t p : c->firing) {
        Statement& inst = *c->parts[p];
        if (inst.next_timer() <= now_) inst.on_timer(now_);
        c->schedule(p, inst.next_timer());
      }
      c->refresh();
    }
    flush_contextual();
    drain_inserts();
    publish_windows();
  }
  now_ = t;
}

void Engine::send(int stream, const Value* row) {
  if (windows_.empty() && contexts_.empty()) {  // nothing to publish or collect: the event, and what it inserts
    dispatch(stream, row);
    if (!inserts_.empty()) drain_inserts();
    return;
  }
  for (auto& w : windows_) w->begin_update();
  dispatch(stream, row);
  flush_contextual();
  drain_inserts();
  publish_windows();
}

// Esper dispatches a named window's changes to the statements reading it
// once the event, and every event it inserted, is processed: what an on-delete
// removed and what the same event then inserted come as one update (found by
// the random comparison). Rows those statements insert are processed after.
void Engine::publish_windows() {
  for (auto& w : windows_) {
    w->end_update();
    flush_contextual();
    drain_inserts();
  }
}

void Engine::dispatch(int stream, const Value* row) {
  Stream& in = streams_[static_cast<size_t>(stream)];
  if (in.window) in.window->insert(row, now_);
  for (Statement* s : in.readers) {
    if (const OnPlan* on = on_[s->index()].get()) {
      RowSet rows(s->plan().columns.size()), removed(s->plan().columns.size());
      run_on(*on, vars_, row, now_, rows, removed);
      if (!rows.empty() || !removed.empty()) emit(*s, now_, rows, removed, false);
      continue;
    }
    Contextual* c = contextual_[s->index()].get();
    if (!c) {
      s->on_event(row, now_);
      continue;
    }
    contexts_[c->context]->route(stream, row, routed_);
    for (size_t p : routed_) {
      Statement& inst = *c->parts[p];
      inst.on_event(row, now_);
      c->schedule(p, inst.next_timer());
    }
  }
}

void Engine::drain_inserts() {
  if (draining_) return;
  draining_ = true;
  while (!inserts_.empty()) {
    auto [stream, row] = std::move(inserts_.front());
    inserts_.pop_front();
    dispatch(stream, row.data());
    flush_contextual();
  }
  draining_ = false;
}

void Engine::on_delivery(Statement& s, int64_t time, const RowSet& inew, const RowSet& iold, bool partial) {
  if (Contextual* c = contextual_[s.index()].get()) {
    c->pending = true;
    c->pending_time = time;
    c->inew.append(inew);
    c->iold.append(iold);
    return;
  }
  emit(s, time, inew, iold, partial);
}

void Engine::flush_contextual() {
  for (size_t i = 0; i < statements_.size(); ++i) {
    Contextual* c = contextual_[i].get();
    if (!c || !c->pending) continue;
    c->pending = false;
    if (!c->inew.empty() || !c->iold.empty()) emit(*statements_[i], c->pending_time, c->inew, c->iold, false);
    c->inew.clear();
    c->iold.clear();
  }
}

void Engine::emit(const Statement& s, int64_t time, const RowSet& inew, const RowSet& iold, bool partial) {
  if (listener_) listener_(Delivery{s, time, inew, iold, partial});
  if (const auto& [t, columns] = insert_table_[s.index()]; t) {
    for (size_t i = 0; i < inew.size(); ++i) t->insert_columns(columns, inew.row(i));
    return;
  }
  int out = insert_stream_[s.index()];
  if (out < 0) return;
  for (size_t i = 0; i < inew.size(); ++i) inserts_.emplace_back(out, std::vector<Value>(inew.row(i), inew.row(i) + inew.width()));
}

std::vector<std::string> Engine::adopt(Engine& old) {
  std::vector<std::string> notes;
  now_ = std::max(now_, old.now_);
  // A context with the same definition keeps its partitions (new instances,
  // adopted below); otherwise its statements start with no partition.
  std::vector<int> old_context(contexts_.size(), -1);
  for (size_t c = 0; c < contexts_.size(); ++c)
    for (size_t o = 0; o < old.contexts_.size(); ++o)
      if (old.contexts_[o]->text() == contexts_[c]->text()) {
        clear_instances(c);
        contexts_[c]->copy_partitions(*old.contexts_[o]);
        old_context[c] = static_cast<int>(o);
      }
  for (auto& w : windows_)
    for (auto& o : old.windows_)
      if (o->identity() == w->identity()) w->adopt(*o);
  // A table of plain columns only (a keyed state that on-statements write)
  // keeps its rows when its declaration is unchanged; one with aggregation
  // columns starts empty, its writers' aggregates being rebuilt from their windows.
  for (auto& t : tables_)
    for (auto& o : old.tables_)
      if (o->identity() == t->identity() && !t->aggregated()) t->adopt(*o);
  std::vector<bool> used(old.statements_.size(), false);
  for (auto& s : statements_) {
    if (s->plan().window.kind == WindowKind::None && !s->plan().match_recognize) continue;
    Contextual* c = contextual_[s->index()].get();
    std::string why =
        "no statement of the previous rule had the same window (stream, filter, kind, size, reference point and flags)";
    for (size_t j = 0; j < old.statements_.size(); ++j) {
      if (used[j] || old.statements_[j]->plan().window_identity != s->plan().window_identity) continue;
      if (!c) {
        why = s->adopt(*old.statements_[j]);
      } else {
        const Contextual* oc = old.contextual_[j].get();
        why = !oc || old_context[c->context] != static_cast<int>(oc->context) ? "its context changed" : "";
        for (size_t p = 0; why.empty() && p < c->parts.size(); ++p) why = c->parts[p]->adopt(*oc->parts[p]);
        c->reschedule_all();
        if (!why.empty()) {  // all partitions or none: start over without them
          clear_instances(c->context);
          for (size_t p = 0; p < contexts_[c->context]->size(); ++p) create_instance(s->index(), p);
        }
      }
      if (why.empty()) {
        used[j] = true;
        break;
      }
    }
    if (!why.empty()) notes.push_back("statement " + std::to_string(s->index() + 1) + " starts with an empty window: " + why);
  }
  return notes;
}

// Format weir-cep-2: the clock, every context's partitions, then each
// statement's window identity and state (a statement in a context: each
// partition's instance). weir-cep-1 (before contexts and the long avg sum)
// still loads.
std::string Engine::snapshot() {
  std::string out;
  Writer w(out);
  w.str("weir-cep-2");
  w.i64(now_);
  w.u64(contexts_.size());
  for (auto& c : contexts_) c->save(w);
  w.u64(statements_.size());
  for (size_t i = 0; i < statements_.size(); ++i) {
    w.str(statements_[i]->plan().window_identity);
    if (Contextual* c = contextual_[i].get()) {
      w.u64(c->parts.size());
      for (auto& inst : c->parts) inst->save(w);
    } else {
      statements_[i]->save(w);
    }
  }
  if (!windows_.empty()) {  // absent without named windows (older states load unchanged)
    w.u64(windows_.size());
    for (auto& nw : windows_) {
      w.str(nw->identity());
      nw->save(w);
    }
  }
  if (!tables_.empty()) {  // absent without tables, likewise
    w.u64(tables_.size());
    for (auto& t : tables_) {
      w.str(t->identity());
      t->save(w);
    }
  }
  return out;
}

void Engine::restore(std::string_view state) {
  Reader r(state);
  // weir-cep-1: before an avg of longs kept a long sum, and before contexts.
  std::string format = r.str();
  if (format != "weir-cep-2" && format != "weir-cep-1") throw std::runtime_error("cep_rule state: unknown format");
  bool legacy = format == "weir-cep-1";
  int64_t now = r.i64();
  now_ = std::max(now_, now);
  if (!legacy) {
    if (r.u64() != contexts_.size()) throw std::runtime_error("cep_rule state: the rule has other contexts");
    for (size_t c = 0; c < contexts_.size(); ++c) {
      clear_instances(c);
      contexts_[c]->load(r);
    }
  }
  if (r.u64() != statements_.size()) throw std::runtime_error("cep_rule state: the rule has a different number of statements");
  for (size_t i = 0; i < statements_.size(); ++i) {
    std::string saved = r.str();
    if (saved != statements_[i]->plan().window_identity)
      throw std::runtime_error("cep_rule state: the window of statement " + std::to_string(i + 1) + " changed (saved " + saved +
                               ", now " + statements_[i]->plan().window_identity + ")");
    if (Contextual* c = contextual_[i].get()) {
      if (r.u64() != c->parts.size()) throw std::runtime_error("cep_rule state: statement " + std::to_string(i + 1) + " has other partitions");
      for (auto& inst : c->parts) inst->load(r, legacy);
      c->reschedule_all();
    } else {
      statements_[i]->load(r, legacy);
    }
  }
  if (!windows_.empty()) {
    if (r.u64() != windows_.size()) throw std::runtime_error("cep_rule state: the rule has other named windows");
    for (auto& nw : windows_) {
      if (r.str() != nw->identity()) throw std::runtime_error("cep_rule state: named window '" + nw->name() + "' changed");
      nw->load(r);
    }
  }
  if (!tables_.empty()) {
    if (r.u64() != tables_.size()) throw std::runtime_error("cep_rule state: the rule has other tables");
    for (auto& t : tables_) {
      if (r.str() != t->identity()) throw std::runtime_error("cep_rule state: table '" + t->name() + "' changed");
      t->load(r);
    }
  }
  now_ = now;
}

}  // namespace weir::cep
