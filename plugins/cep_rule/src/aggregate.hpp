// Incremental aggregation state, per group.
//
// count/sum/avg keep running totals (avg: a double sum and a count, like
// Esper's, so values that leave a window are subtracted). min/max keep a
// monotonic deque: every window here expires events in arrival order, so the
// deque front is always the current extreme and each value is pushed and
// popped at most once (amortized O(1), memory bounded by the window).
// Without a data window nothing ever leaves and min/max keep one value.
#pragma once

#include "ast.hpp"
#include "eval.hpp"
#include "flat_index.hpp"
#include "ring.hpp"
#include "serialize.hpp"
#include "value.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weir::cep {

struct AggSpec {
  AggFn fn = AggFn::Count;
  bool star = false;            // count(*)
  bool distinct = false;        // count(distinct x), sum(distinct x), ...
  const Expr* arg = nullptr;    // owned by the statement's plan
  Type arg_type = Type::Null;
  Narrow arg_narrow = Narrow::None;  // sum/avg of ints wrap at 32 bits, of floats round to float
  Type type = Type::Long;       // result type
  std::string text;             // rendered, for de-duplication
};

struct MinMaxState {
  Ring<std::pair<Value, int64_t>> q;  // (value, arrival index among non-null values)
  int64_t entered = 0, left = 0;
};

struct ValueHash {
  size_t operator()(const Value& v) const { return static_cast<size_t>(v.hash()); }
};

// What count, sum and avg keep.
struct SumCell {
  int64_t n = 0;     // values aggregated (count(*): events)
  int64_t isum = 0;  // sum of longs (sum and avg, as Esper: an avg of longs keeps a long sum)
  double dsum = 0;   // sum of doubles (sum and avg)
};

struct AggCell : SumCell {
  std::unique_ptr<MinMaxState> mm;
  // count/sum/avg(distinct x): how many events hold each value; a value counts
  // while at least one does.
  std::unique_ptr<std::unordered_map<Value, int64_t, ValueHash>> seen;
};

// A group's key, one value per group-by expression: one inline (the common
// `group by car_number`, read with the rest of the group's first cache line
// on each lookup), more on the heap.
class GroupKey {
 public:
  void assign(const Value* first, const Value* last) {
    n_ = static_cast<uint32_t>(last - first);
    heap_.reset(n_ > 1 ? new Value[n_] : nullptr);
    std::copy(first, last, n_ > 1 ? heap_.get() : &one_);
  }
  size_t size() const { return n_; }
  const Value* begin() const { return n_ > 1 ? heap_.get() : &one_; }
  const Value* end() const { return begin() + n_; }
  const Value& operator[](size_t i) const { return begin()[i]; }
  const Value& first() const { return n_ > 1 ? heap_[0] : one_; }
  std::vector<Value> to_vector() const { return {begin(), end()}; }

 private:
  Value one_;
  std::unique_ptr<Value[]> heap_;
  uint32_t n_ = 0;
};

// What a lookup and an arriving event touch come first, in one cache line.
struct alignas(64) GroupState {
  GroupKey key;
  // Aggregated on arrival (Aggregator::pend): the batch being collected,
  // kept apart from the posted one below until it is posted (absorb).
  static constexpr size_t kPendingCells = 2;
  int64_t pending_rows = 0;
  SumCell pending[kPendingCells];
  uint64_t hash = 0;
  int64_t rows = 0;        // events currently aggregated into this group
  uint64_t mark = 0;       // per-update de-duplication (Statement's epoch)
  int64_t entered = 0, left = 0;  // events of this group in the current update
  uint64_t having_mark = 0;       // the update whose having value is cached below
  bool having_value = false;
  bool active = false;     // listed in Aggregator::active_ (batch windows)
  std::vector<AggCell> cells;
  // `output all` on grouped statements (Statement): every group ever seen.
  bool listed = false;             // in Statement::all_groups_
  uint64_t interval = 0;           // the output interval that last touched the group
  std::vector<Value> rep;          // its latest event (per-event rows of leaving events)
};

class Aggregator {
 public:
  // key_width 0: one group for everything. unbound: nothing ever leaves
  // (no data window). track_active: keep the list reset() needs (batch windows).
  Aggregator(std::vector<AggSpec> specs, size_t key_width, bool unbound, bool track_active);
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  const std::vector<AggSpec>& specs() const { return specs_; }
  size_t key_width() const { return key_width_; }

  // The group for a key (key_width values), created empty when missing.
  GroupState* group(const Value* key);
  GroupState* find(const Value* key) const;
  GroupState* single() { return single_.get(); }

  // Adds / removes one event (env.row) to / from a group.
  void enter(GroupState& g, const EvalEnv& env);
  void leave(GroupState& g, const EvalEnv& env);

  // Aggregation on arrival, for a batch window: an event enters the batch
  // being collected (pend) as it arrives, while its row is in the cache, and
  // the whole batch becomes the group's state when it is posted (absorb, on a
  // group that reset() emptied), with the same sums in the same order as
  // entering each event then. Only for count, sum and avg of a property
  // (arrival_ok): their value does not depend on when they are computed.
  static bool arrival_ok(const std::vector<AggSpec>& specs);
  void pend(GroupState& g, const Value* row) const;
  void absorb(GroupState& g);

  // Batch windows: the new batch replaces the whole previous one, so instead
  // of leaving each old event the state is cleared. Groups that held events
  // are appended to `was_active` (in the order they first got one).
  void reset(std::vector<GroupState*>& was_active);

  // Frees a group that holds no event any more (never the single group).
  void drop_if_empty(GroupState* g);

  Value value(const GroupState& g, int index) const;
  // Groups holding events, in the order they got their first (batch windows).
  const std::vector<GroupState*>& active() const { return active_; }

  // State for snapshot()/restore(): groups are numbered in save order.
  void save(Writer& w, std::unordered_map<const GroupState*, int64_t>& ids) const;
  // legacy_avg: state saved before avg of longs kept a long sum (in dsum).
  std::vector<GroupState*> load(Reader& r, bool legacy_avg = false);
  int64_t total_rows() const { return total_rows_; }
  size_t group_count() const { return key_width_ == 0 ? 1 : groups_.size(); }

  template <class F>
  void for_each_group(F&& f) const {
    if (key_width_ == 0) {
      f(*single_);
      return;
    }
    groups_.for_each([&](GroupState* g) { f(*g); });
  }

 private:
  // (Inline, with the one-value key spelled out: every event looks its group up.)
  void add_rows(GroupState& g, int64_t n);  // n more events in g
  uint64_t hash_key(const Value* key) const {
    constexpr uint64_t kBasis = 0x84222325cbf29ce4ULL, kPrime = 0x100000001b3ULL;
    if (key_width_ == 1) return (kBasis ^ key[0].hash()) * kPrime;
    uint64_t h = kBasis;
    for (size_t i = 0; i < key_width_; ++i) h = (h ^ key[i].hash()) * kPrime + i;
    return h;
  }
  bool same_key(const GroupState& g, const Value* key) const {
    if (key_width_ == 1) return g.key.first() == key[0];
    for (size_t i = 0; i < key_width_; ++i)
      if (g.key[i] != key[i]) return false;
    return true;
  }
  std::unique_ptr<GroupState> make_group() const;
  void delete_groups();

  std::vector<AggSpec> specs_;
  size_t key_width_;
  bool unbound_;
  bool track_active_;
  std::unique_ptr<GroupState> single_;
  FlatIndex<GroupState*, nullptr> groups_;  // by key; owns the groups
  int64_t total_rows_ = 0;
  std::vector<GroupState*> active_;
};

// Orders two non-null values of the same static type as Java's compareTo:
// numbers numerically with Double.compare (-0.0 below 0.0, NaN above
// everything), strings by UTF-16 code units.
int compare_values(const Value& a, const Value& b);

}  // namespace weir::cep
