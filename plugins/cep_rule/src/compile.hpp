// From a parsed statement to an executable plan: names are bound to event
// slots and variables, types are checked (Esper's rules), aggregates are
// collected, and the statement gets Esper's result-set "shape", which decides
// what rows an update produces.
#pragma once

#include "aggregate.hpp"
#include "ast.hpp"
#include "value.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cep {

struct PatternPlan;
struct MatchPlan;

struct Field {
  std::string name;
  Type type = Type::Null;
};

// An event type: a stream's properties, in order.
struct EventType {
  std::string name;
  std::vector<Field> fields;
  int find(std::string_view n) const {
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i].name == n) return static_cast<int>(i);
    return -1;
  }
};

struct Variables {
  std::vector<std::string> names;
  std::vector<Type> types;
  std::vector<Narrow> narrows;  // declared int / float
  std::vector<Value> values;
  int find(std::string_view n) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == n) return static_cast<int>(i);
    return -1;
  }
};

// Esper's result-set processors (ResultSetProcessor*):
enum class Shape : uint8_t {
  Simple,              // no aggregation: one row per event
  RowForAll,           // only aggregates, no group by: one row per update
  RowPerEvent,         // aggregates next to plain properties: one row per event
  RowPerGroup,         // group by, only aggregates and group keys: one row per touched group
  RowPerGroupedEvent,  // group by with other plain properties: one row per event
};
const char* shape_name(Shape s);

// What a statement in a context (`context NAME select ...`) may read of its
// partition: context.name, context.id, context.label (categories), and
// context.key1.. (keyed: the partition properties of the statement's stream,
// which a select item or having reads as the partition's constant key, as
// Esper does: `select car, count(*)` in a context partitioned by car is one
// row per partition, not per event).
struct ContextShape {
  std::string name;
  ContextKind kind = ContextKind::Keyed;
  std::vector<Type> key_types;  // keyed
  std::vector<int> key_fields;  // keyed: input field of each key
  std::string text;             // ContextDecl::text
};

// prev()/prior(): evaluated when an event arrives into a slot of its row
// beyond the input properties (layout -1), so windows keep the value and
// every later use (where, select, aggregates, expiry) reads it.
struct HiddenSlot {
  bool prior = false;    // prior: the stream's n-th previous event; prev: the window's
  int64_t n = 0;
  const Expr* arg = nullptr;  // owned by the plan
  int slot = -1;
};

struct Column {
  std::string name;
  Type type = Type::Null;
  ExprPtr expr;
};

struct Plan {
  std::string name;         // @name, or empty
  std::string insert_into;  // or empty
  std::string from;
  std::string context;  // the context it runs in, or empty
  Pos pos, from_pos;
  StreamSelector selector = StreamSelector::IStream;
  std::vector<int> layout;  // event slot -> field index of the input type (-1: a hidden slot)
  std::vector<HiddenSlot> hidden;
  // Without a data window Esper moves the where clause into the stream's
  // filter, so prior() counts only the events that pass it (random comparison).
  bool where_before_prior = false;
  std::vector<Column> columns;
  ExprPtr stream_filter, where, having;
  std::vector<ExprPtr> group_by;
  std::vector<AggSpec> aggs;  // args point into the expressions above
  Shape shape = Shape::Simple;
  WindowSpec window;
  // Keyed windows' keys, #ext_timed's timestamp: each read from the event
  // row's slot view_slots[i]; an expression that is not a property is
  // evaluated into its (hidden) slot when the event arrives.
  std::vector<ExprPtr> view_exprs;
  std::vector<int> view_slots;
  OutputSpec output;
  bool keep_last_batch = false;
  // The having clause reads only aggregates, group keys and variables: its
  // value is the same for every event of a group in one update.
  bool having_per_group = false;
  // Two statements whose windows have the same identity hold the same events
  // (stream, stream filter, window kind and size): a reload keeps them.
  std::string window_identity;
  // `from pattern [...]`: the pattern, whose matches are the statement's
  // events (the layout indexes the match row), or null.
  std::shared_ptr<const PatternPlan> pattern;
  // `from S match_recognize (...)`: its matches (rows of the measures) are
  // the statement's events, or null.
  std::shared_ptr<const MatchPlan> match_recognize;

  bool irstream() const { return selector != StreamSelector::IStream; }
  bool grouped() const { return shape == Shape::RowPerGroup || shape == Shape::RowPerGroupedEvent; }
  bool aggregating() const { return shape != Shape::Simple; }
};

// Throws EplError on a semantic error (unknown name, type mismatch, misplaced
// aggregate...).
// tables: those `T[key].col` may read (table.hpp).
using Tables = std::vector<std::shared_ptr<Table>>;
Plan compile_statement(const StatementAst& st, const EventType& input, const Variables& vars, const std::string& file,
                       const ContextShape* context = nullptr, const Tables* tables = nullptr);

}  // namespace weir::cep
