// One running EPL statement: its window, aggregation state and output rate
// limiter, and the rows each window post produces (by the plan's shape).
#pragma once

#include "aggregate.hpp"
#include "compile.hpp"
#include "match_recognize.hpp"
#include "output_limit.hpp"
#include "pattern.hpp"
#include "rows.hpp"
#include "serialize.hpp"
#include "table.hpp"
#include "window.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::cep {

class Statement final : private PostSink, private OutputTarget {
 public:
  // Called with each non-empty delivery: insert-stream and remove-stream rows.
  // A large delivery (many per-event rows) comes in chunks: every chunk but
  // the last has `partial` set, so a batch of 300k events never needs all its
  // rows in memory at once.
  using DeliverFn =
      std::function<void(Statement&, int64_t time_ms, const RowSet& inew, const RowSet& iold, bool partial)>;
  static constexpr size_t kChunkRows = 4096;
  // An instance in a context keeps buffers for this many rows between
  // deliveries (per-event windows reuse them; batches free theirs).
  static constexpr size_t kInstanceRows = 4;

  // start_ms: the engine's clock when the statement starts. The plan may be
  // shared by several instances (one per context partition); ctx: that
  // partition's properties (by CtxSlot), or empty.
  Statement(std::shared_ptr<const Plan> plan, size_t index, const Variables& vars, int64_t start_ms,
            std::vector<Value> ctx = {});
  Statement(Plan plan, size_t index, const Variables& vars, int64_t start_ms)
      : Statement(std::make_shared<const Plan>(std::move(plan)), index, vars, start_ms) {}

  const std::shared_ptr<const Plan>& shared_plan() const { return shared_plan_; }
  const std::vector<Value>& context_values() const { return ctx_; }

  const Plan& plan() const { return plan_; }
  size_t index() const { return index_; }
  void set_deliver(DeliverFn fn) { deliver_fn_ = std::move(fn); }

  // An event of the statement's input stream (a row of the input type).
  void on_event(const Value* input_row, int64_t now);
  // Cache hints for an instance an event is about to reach (Engine::send_batch):
  // the fields on_event reads first (this object's head and its window's
  // store, declared first), then, once those are in, the row the event will
  // be written to.
  void prefetch_state() const {
    const char* b = reinterpret_cast<const char*>(this);
    const char* e = reinterpret_cast<const char*>(&window_.store() + 1);
    for (const char* a = b; a < e; a += 64) __builtin_prefetch(a);
  }
  void prefetch_row() const { window_.store().prefetch_back(); }
  // `into table T` (table.hpp): after each update, the values of the columns
  // of every group it touched go to T's row of the group's key; columns[i] is
  // T's column of select column i.
  void set_table(std::shared_ptr<Table> table, std::vector<int> columns) {
    table_ = std::move(table);
    table_columns_ = std::move(columns);
  }
  // A statement reading a named window (WindowKind::Named): an update of the
  // window (see NamedWindow::StreamReader), posted as one.
  void on_window_update(const RowSet& entered, const std::vector<int64_t>& left, int64_t now);

  int64_t next_timer() const;
  void on_timer(int64_t now);

  // Arrival time of the oldest event whose effect is not posted yet (held in
  // the window or in an output buffer); kNever if none.
  int64_t oldest_pending();

  // Hot reload: take over `old`'s window events when both windows have the
  // same definition, rebuilding aggregates from them. Returns an empty string
  // on success, else why the window starts empty.
  std::string adopt(Statement& old);

  void save(Writer& w);
  void load(Reader& r, bool legacy_avg = false);  // legacy_avg: see Aggregator::load

  size_t window_size() { return window_.store().size(); }
  // match_recognize: partial matches refused at MatchRun::kMaxStates.
  // Patterns: instances an `every` did not start at PatternRun::kMaxStates.
  uint64_t match_states_dropped() const { return (match_ ? match_->dropped() : 0) + (pattern_ ? pattern_->dropped() : 0); }
  size_t group_count() const { return agg_ ? agg_->group_count() : 0; }

 private:
  void on_post(const Post& p) override;
  void current_rows(RowSet& inew, RowSet& iold) override;
  void end_rows(RowSet& inew, RowSet& iold) override;
  void list_group(GroupState* g);
  void deliver(const RowSet& inew, const RowSet& iold) override;

  EvalEnv env(const Value* row, const GroupState* g) const {
    return EvalEnv{row, vars_->values.data(), g, agg_.get(), ctx_.empty() ? nullptr : ctx_.data()};
  }
  GroupState* group_of(const Value* row);
  bool having_ok(const Value* row, GroupState* g) {
    if (!plan_.having) return true;
    if (!plan_.having_per_group || !g) return eval_true(*plan_.having, env(row, g));
    // Once per group and update (e.g. avg(speed) > threshold for 300k events
    // of 10k cars; or the 30 events of a car's batch in a keyed context).
    if (g->having_mark != having_epoch_) {
      g->having_mark = having_epoch_;
      g->having_value = eval_true(*plan_.having, env(row, g));
    }
    return g->having_value;
  }
  void select_row(const Value* row, const GroupState* g, RowSet& out) const;
  void add_row(const Value* row, GroupState* g, RowSet& out, std::vector<std::string>& keys,
               OutputLimiter::RowCounts counts = {});
  void touch(GroupState* g);
  void apply(const Post& p);
  bool one_pass_batch(const Post& p) const;
  void enter_batch(const Post& p);
  // Aggregation on arrival (Aggregator::pend), for a batch window whose
  // aggregates and group keys read only the event's properties and which has
  // no where clause: a batch of 300 000 events outgrows the cache, so reading
  // every event again when it is posted is a read from memory.
  bool arrival_possible() const;
  void pend(Value* row);
  void pend_collected();
  void absorb_pending();
  std::string key_string(const GroupState& g) const;
  bool where_ok(const Value* row) const { return !plan_.where || eval_true(*plan_.where, env(row, nullptr)); }

  // What each event reads first, then the window (its hot part first):
  // few cache lines for the cold instances of a statement in a context.
  const Plan& plan_;
  int64_t now_ = 0;
  std::unique_ptr<Aggregator> agg_;
  bool arrival_ = false;
  GroupState* arrival_single_ = nullptr;  // arrival_ without group by: agg_'s one group
  int arrival_key_slot_ = -1;             // arrival_ by one property: its slot (the key, in the row)
  std::unique_ptr<OutputLimiter> limiter_;
  std::unique_ptr<PatternRun> pattern_;  // `from pattern [...]` (see enter)
  std::unique_ptr<MatchRun> match_;      // `match_recognize`: its matches enter as events, one delivery per event
  Window window_;
  std::shared_ptr<const Plan> shared_plan_;
  std::vector<Value> ctx_;
  size_t index_;
  const Variables* vars_;
  DeliverFn deliver_fn_;
  uint64_t epoch_ = 0;
  uint64_t having_epoch_ = 1;  // changes whenever aggregates may have changed
  size_t leaving_ = 0;         // during a sliding window's post: its first rows are leaving
  bool chunking_ = false;      // may deliver rows_new_ in chunks (no output limiter, istream)
  bool sent_partial_ = false;  // a chunk of the current delivery went out
  // Per-update scratch, reused.
  RowSet rows_new_, rows_old_;
  std::vector<std::string> keys_new_, keys_old_;
  std::vector<OutputLimiter::RowCounts> counts_;
  std::vector<std::string> dropped_;  // grouped `last`: groups whose row failed having
  // `output all` on grouped statements: every group ever seen (never freed).
  bool all_groups_mode_ = false;
  std::vector<GroupState*> all_groups_;
  uint64_t interval_ = 1;
  std::vector<GroupState*> touched_, was_active_;
  std::vector<GroupState*> pending_groups_;  // arrival_: groups of the batch being collected, first come first
  std::vector<Value> key_;
  // prior(n, x): the last n values of x on the stream, per hidden slot (oldest first).
  std::vector<std::deque<Value>> prior_;
  void fill_hidden(Value* row);
  // `from pattern [...]`: the running pattern, whose matches enter as events.
  // The rows of all matches of one event (or one instant of timers) are one
  // delivery, as Esper dispatches them.
  void enter(const Value* row, int64_t now);
  Value* stage(const Value* row, int64_t now);  // the row staged, or null
  void pattern_step(int64_t now, bool timer);
  void deliver_merged();
  bool merging_ = false;
  std::shared_ptr<Table> table_;
  std::vector<int> table_columns_;
  void write_table();
  RowSet merged_new_, merged_old_;
};

}  // namespace weir::cep
