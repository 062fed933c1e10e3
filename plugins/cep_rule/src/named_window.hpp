// Named windows, as Esper has them:
//
//   create window W#unique(car) as select car, speed from Ev;   a window with a type
//   insert into W select car, speed from Ev(speed > 100);       fills it
//   on Ev(kind = 'Q') as e select w.car from W as w where ...;  reads it per triggering event
//   on Ev as e delete from W as w where w.car = e.car;          removes its events
//   on Ev as e merge W as w where w.car = e.car
//     when matched then update set speed = e.speed
//     when not matched then insert select e.car as car, e.speed as speed;
//   select car from W where speed > 100                         an on-demand query (Engine::query)
//   select count(*) from W(speed > 100)                         a statement reading W as a stream
//
// The window's events live in a Window (window.hpp), so its views keep and
// expire them as they do on a stream. An on-trigger statement evaluates its
// clauses over a joined row: the window's fields, then the triggering
// event's (named "\x01" + name, so that `e.car` and `w.car` are two slots).
#pragma once

#include "compile.hpp"
#include "key_lists.hpp"
#include "on_target.hpp"
#include "rows.hpp"
#include "serialize.hpp"
#include "window.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::cep {

// A plan evaluated row by row outside a Statement (no window, no aggregates):
// its slots are filled from an input row by the plan's layout.
class PlanRow {
 public:
  PlanRow(const Plan& plan, const Variables& vars) : plan_(&plan), vars_(&vars), slots_(plan.layout.size()) {}
  // input: a row of the plan's input type, by field index.
  void load(const Value* input);
  bool filter() const;  // the stream filter (true without one)
  bool where() const;   // the where clause (true without one)
  void select(RowSet& out) const;
  Value value(size_t column) const;
  Value evaluate(const Expr& e) const;  // an expression of the plan, over the loaded slots

 private:
  EvalEnv env() const;
  const Plan* plan_;
  const Variables* vars_;
  std::vector<Value> slots_;
};

class NamedWindow final : public OnTarget, private PostSink {
 public:
  // plan: `select * from W#views` compiled over the window's type. numbered:
  // statements read W as a stream, or on-trigger statements look its events
  // up by key (index_on), so each event gets a sequence number (a last column
  // of its row) by which they find it.
  NamedWindow(EventType type, Plan plan, const Variables& vars, int64_t start_ms, std::string identity, bool numbered);

  const EventType& type() const override { return type_; }
  const char* what() const override { return "window"; }
  const std::string& identity() const { return identity_; }
  const WindowSpec& view() const { return plan_.window; }

  // An event of the window's type (by field index), as its views take it.
  bool insert(const Value* fields, int64_t now) override;
  int64_t next_timer() const { return window_.next_timer(); }
  void on_timer(int64_t now);
  int64_t oldest_time() { return window_.oldest_time(); }

  // The events held, in the window's order: store indexes, valid until the
  // window changes.
  std::vector<size_t> events() override;
  // Event i's fields by field index, into out (type().fields.size() values).
  void fields(size_t i, Value* out) override;
  void remove(const std::vector<size_t>& events) override;
  // The events leave, the rows enter as new events (Esper's update of a
  // named window's event: a #length window's newest, a #time window's from now).
  void replace(const std::vector<size_t>& events, const std::vector<std::vector<Value>>& rows, int64_t now) override;
  std::string unwritable(int, bool) const override { return ""; }

  // An index of the events by one of W's fields (a long, string or boolean:
  // `=` is then Value equality), for an on-trigger statement's `where w.f =
  // e.x`; the same field shares one index. -1: not a numbered window.
  int index_on(int field) override;
  // The events whose indexed field equals key (none for null), in the
  // window's order: store indexes, valid until the window changes.
  const std::vector<size_t>& lookup(int index, const Value& key) override;

  void save(Writer& w);
  void load(Reader& r);
  void adopt(NamedWindow& old);

  // A statement reading W as a stream: `entered` holds the events that entered
  // (W's fields by index, then the sequence number), `left` the sequence
  // numbers of those that left, one call per update of W (an insert, an
  // expiry, an on-delete, a whole on-merge).
  using StreamReader = std::function<void(const RowSet& entered, const std::vector<int64_t>& left)>;
  void add_reader(StreamReader fn) { readers_.push_back(std::move(fn)); }
  // An on-merge changes W several times: its changes reach the readers as one
  // update at end_update().
  void begin_update() { ++updating_; }
  void end_update();

  // The `create window` statement posts W's changes, as Esper's does: the
  // events that entered (new rows) and left (old rows), W's fields by index,
  // one call per change (an insert, an instant's expiry, an on-delete, a whole
  // on-merge), where the readers get one update per event or instant.
  using ChangeFn = std::function<void(const RowSet& entered, const RowSet& left)>;
  void set_changes(ChangeFn fn) { changes_ = std::move(fn); }
  // One change: W's readers' update includes it (begin_update()).
  void begin_change() override {
    begin_update();
    ++changing_;
  }
  void end_change() override;

 private:
  void on_post(const Post& p) override;
  void fill_view_slots(Value* row);
  void restart_sequence();
  void index_post(const Post& p);
  void rebuild_indexes();

  EventType type_;
  Plan plan_;
  const Variables* vars_;
  std::string identity_;
  std::vector<int> field_slot_;  // field index -> column of the window's rows
  int seq_slot_ = -1;            // the sequence number's column (read: the last), else -1
  int64_t next_seq_ = 0;
  Window window_;
  std::vector<StreamReader> readers_;
  int updating_ = 0;
  RowSet entered_;  // the update in progress, for the readers
  std::vector<int64_t> left_;
  ChangeFn changes_;
  int changing_ = 0;
  RowSet change_new_, change_old_;  // the change in progress, for changes_
  struct Index {
    int field;
    KeyLists<int64_t> events;  // by the field's value: sequence numbers, oldest first
  };
  std::vector<Index> indexes_;
  std::vector<size_t> found_;  // lookup()'s answer
};

// An on-trigger statement, compiled against its triggering stream and window.
struct OnPlan {
  StatementKind kind = StatementKind::OnSelect;
  std::string trigger;  // the triggering stream's name
  OnTarget* target = nullptr;  // a named window or a table
  size_t trigger_width = 0;
  // Over the joined row: the trigger's filter (stream_filter), the where
  // clause, and on-select's columns (on-delete: the window's fields).
  std::shared_ptr<const Plan> main;
  // `where w.f = <expression of the trigger> [and ...]`: the trigger reads
  // the events of its key from W's index (index) instead of all of W; the
  // where clause still decides which of them match.
  int index = -1;
  const Expr* index_key = nullptr;  // the trigger's side, in main's where clause
  struct Merge {
    bool matched = true;
    MergeClause::Action action = MergeClause::Action::Update;
    Plan plan;                // where: the clause's condition; columns: set values / inserted row
    std::vector<int> fields;  // update: the window field each column sets; insert: each column's field
  };
  std::vector<Merge> merges;
};

// Throws EplError. Names are resolved as Esper does: `alias.prop` by the
// alias (or stream/window name), a bare name by the one stream that has it
// (both: ambiguous).
OnPlan compile_on(const StatementAst& st, const EventType& trigger, OnTarget& target, const Variables& vars,
                  const std::string& file);

// Runs an on-trigger statement for one triggering event: on-select's rows,
// on-delete's deleted events, on-merge's and on-update's inserted and updated
// events (rows of the target's type) go to `out`; the events an on-merge or
// on-update deletes or replaces to `removed`.
void run_on(const OnPlan& on, const Variables& vars, const Value* trigger, int64_t now, RowSet& out, RowSet& removed);

// An on-demand query `select ... from W [where ...]`, compiled over W's type.
struct QueryResult {
  std::vector<std::string> columns;
  RowSet rows;
};
QueryResult run_query(const StatementAst& st, NamedWindow& window, const Variables& vars, const std::string& file);
// The same over any rows of `type` (a table's): `rows` calls its argument with each row.
using QueryRows = std::function<void(const Value*)>;
QueryResult run_query(const StatementAst& st, const EventType& type, const std::function<void(const QueryRows&)>& rows,
                      const Variables& vars, const std::string& file);

}  // namespace weir::cep
