// The EPL runtime for one module (one rule file): its statements, the streams
// that connect them (`insert into`), variables, and the clock.
//
// Time is external, as with Esper's external clock: advance_to(t) walks the
// clock to t one scheduled instant at a time, firing every timer (window
// expiry, batch end, output tick) at exactly its due time; all timers due at
// t fire before an event stamped t is processed. Event-time mode calls
// send(stream, row, ts); processing-time mode calls advance_to(now) then
// send(stream, row).
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "context.hpp"
#include "named_window.hpp"
#include "rows.hpp"
#include "statement.hpp"
#include "table.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

namespace weir::cep {

struct Delivery {
  const Statement& statement;
  int64_t time_ms;
  const RowSet& inew;  // insert stream
  const RowSet& iold;  // remove stream (select irstream)
  bool partial;        // more rows of this same delivery follow (see Statement::DeliverFn)
};

struct EngineOptions {
  int64_t start_ms = 0;  // the clock when the statements start
  // Variable values that replace a `create variable` default or declare a new
  // variable (type taken from the value).
  std::map<std::string, Value> variables;
};

class Engine {
 public:
  // Compiles every statement against the given input event types (streams not
  // produced by an `insert into`). Throws EplError.
  Engine(const Module& module, const std::vector<EventType>& inputs, const EngineOptions& options);

  // Stream id by name (-1 if unknown) and its type.
  int stream(const std::string& name) const;
  const EventType& stream_type(int id) const { return streams_[static_cast<size_t>(id)].type; }

  void set_listener(std::function<void(const Delivery&)> fn) { listener_ = std::move(fn); }

  // Moves the clock forward to t (never back), firing due timers on the way.
  void advance_to(int64_t t);
  // Sends an event (a row of the stream's type) at the current time.
  void send(int stream, const Value* row);
  // Event time: advance the clock to ts if it is later, then send.
  void send_at(int stream, const Value* row, int64_t ts) {
    if (ts > now_) advance_to(ts);
    send(stream, row);
  }

  // Events of one stream in time order, each sent as send_at(stream, row,
  // times[i]) sends it (the same timers fire before it, the same deliveries
  // follow), rows[i * width] the row of event i (width: the stream type's
  // field count). While an event is processed, the partitions, instances and
  // rows of the next few are fetched into the cache (engine_batch.cpp).
  void send_batch(int stream, const Value* rows, const int64_t* times, size_t n);
  // Whether send_batch fetches anything ahead for this stream (a statement in
  // a keyed or hash context reads it); otherwise it is one send_at per event,
  // and a caller gains nothing by collecting events for it.
  bool prefetches(int stream) const;

  int64_t now() const { return now_; }
  // Earliest pending timer (kNever if none).
  int64_t next_timer() const;
  // Arrival time of the oldest event whose effect is not yet posted.
  int64_t oldest_pending();
  // Partial matches refused at their bound (MatchRun::kMaxStates,
  // PatternRun::kMaxStates), in all statements and context partitions.
  uint64_t match_states_dropped() const;

  size_t statement_count() const { return statements_.size(); }
  // Statement i (for a statement in a context: its plan's prototype, which
  // receives no event; the instances are per partition).
  Statement& statement(size_t i) { return *statements_[i]; }
  // Input fields the contexts read to route events of a stream (their keys,
  // filters and conditions), as indexes into that stream's type.
  std::vector<int> context_fields(const std::string& stream) const;
  // Input fields the on-trigger statements read of their triggering stream
  // (their plans read a joined row: the window's fields, then the trigger's).
  std::vector<int> trigger_fields(const std::string& stream) const;
  // A statement's partitions (0 when it is not in a context).
  size_t partition_count(size_t statement) const {
    return contextual_[statement] ? contextual_[statement]->parts.size() : 0;
  }
  const Variables& variables() const { return vars_; }

  // Hot reload: adopt the window contents of `old`'s statements, matched by
  // position/name. Returns one message per statement that starts empty.
  std::vector<std::string> adopt(Engine& old);

  std::string snapshot();
  void restore(std::string_view state);  // throws std::runtime_error on mismatch

  // An on-demand (fire-and-forget) query of a named window, e.g.
  // `select car, speed from Speeding where speed > 100`: the rows it holds
  // now. Throws EplError (file "query") for a bad query or an unknown window.
  QueryResult query(std::string_view text);
  size_t window_count() const { return windows_.size(); }
  // A named window or a table that queries can read.
  bool queryable(const std::string& name) const { return find_window(name) != nullptr || find_table(name) != nullptr; }
  // A query parsed (throws EplError): one select statement; from = its window.
  static Module parse_query(std::string_view text);

 private:
  struct Stream {
    std::string name;
    EventType type;
    std::vector<Statement*> readers;
    NamedWindow* window = nullptr;  // a named window's stream: `insert into` it fills the window
  };
  // A statement in a context: one instance per partition.
  struct Contextual {
    size_t context = 0;                            // index into contexts_
    std::vector<std::unique_ptr<Statement>> parts;  // by partition
    int64_t next_due = kNever;                     // earliest timer of the instances
    // The instances' timers in a heap of (due, partition), so that an instant
    // costs the partitions due then, not all of them (10 000 cars with batches
    // cut at each car's first event make 10 000 instants per batch). Entries
    // go stale when a timer moves: queued[p] is the one that counts.
    struct Due {
      int64_t t;
      size_t p;
      bool operator>(const Due& o) const { return t != o.t ? t > o.t : p > o.p; }
    };
    std::priority_queue<Due, std::vector<Due>, std::greater<Due>> timers;
    std::vector<int64_t> queued;  // per partition
    std::vector<size_t> firing;   // scratch
    void schedule(size_t p, int64_t t) {
      if (queued.size() <= p) queued.resize(p + 1, kNever);
      if (t == kNever || queued[p] == t) return;
      queued[p] = t;
      timers.push({t, p});
      next_due = std::min(next_due, t);
    }
    void refresh() {
      while (!timers.empty() && queued[timers.top().p] != timers.top().t) timers.pop();
      next_due = timers.empty() ? kNever : timers.top().t;
    }
    void reschedule_all() {
      timers = {};
      queued.assign(parts.size(), kNever);
      next_due = kNever;
      for (size_t p = 0; p < parts.size(); ++p) schedule(p, parts[p]->next_timer());
    }
    // Esper dispatches a statement once per event and per instant of timers:
    // the rows of its instances for one of them make one delivery.
    bool pending = false;
    int64_t pending_time = 0;
    RowSet inew, iold;
  };
  void dispatch(int stream, const Value* row);
  void drain_inserts();
  void publish_windows();
  void on_delivery(Statement& s, int64_t time, const RowSet& inew, const RowSet& iold, bool partial);
  void emit(const Statement& s, int64_t time, const RowSet& inew, const RowSet& iold, bool partial);
  void flush_contextual();
  size_t context_of(const Module& module, const StatementAst& st);
  void create_instance(size_t statement, size_t partition);
  // Named windows: `create window` and the on-trigger statements.
  std::unique_ptr<Statement> create_window(const Module& module, size_t i, int in);
  std::unique_ptr<Statement> on_statement(const Module& module, size_t i, int in);
  Plan reader_plan(const Module& module, const StatementAst& st, const NamedWindow& w) const;
  NamedWindow* find_window(const std::string& name) const;
  // Tables: `create table`, `into table`.
  std::shared_ptr<Table> find_table(const std::string& name) const;
  void esper_filter_order(const Module& module);
  std::shared_ptr<Table> into_table(const Module& module, const StatementAst& st, const Plan& plan, std::vector<int>& columns);
  void clear_instances(size_t context);

  Variables vars_;
  std::vector<Stream> streams_;
  std::vector<std::unique_ptr<Statement>> statements_;
  std::vector<int> insert_stream_;  // per statement: stream id it inserts into, or -1
  // per statement: the table it inserts into (null: none), and its column of each select column
  std::vector<std::pair<std::shared_ptr<Table>, std::vector<int>>> insert_table_;
  std::vector<std::unique_ptr<ContextRuntime>> contexts_;
  std::vector<std::unique_ptr<Contextual>> contextual_;  // per statement; null when not in a context
  std::vector<std::unique_ptr<NamedWindow>> windows_;    // in declaration order
  Tables tables_;                                        // in declaration order (shared with the plans reading them)
  std::vector<std::pair<const Table*, int>> table_writers_;  // (table, column) written by an `into table` statement
  std::vector<std::unique_ptr<OnPlan>> on_;              // per statement; null when not an on-trigger statement
  std::vector<size_t> routed_;                           // scratch: the partitions of an event
  std::function<void(const Delivery&)> listener_;
  int64_t now_;
  // Events produced by `insert into`, processed after the current event (as Esper does).
  std::deque<std::pair<int, std::vector<Value>>> inserts_;
  bool draining_ = false;
};

// Parses a variable value given as text in the pipeline configuration: the
// declared type when there is one, else a number, true/false, or a string.
Value parse_variable_value(const std::string& text, Type declared);

}  // namespace weir::cep
