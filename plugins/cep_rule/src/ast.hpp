// The syntax tree of an EPL module. The compiler (compile.cpp) annotates the
// expression nodes in place (slot indexes and static types), so one tree is
// both what was parsed and what is evaluated.
#pragma once

#include "error.hpp"
#include "value.hpp"

#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace weir::cep {

enum class ExprKind : uint8_t {
  Literal,  // literal
  Ident,    // name (or qualifier.name) before binding; becomes Prop or Var
  Prop,     // a property of the statement's event: index = slot in the event row
  Var,      // a variable: index = variable slot
  KeyRef,   // a group-by expression, read from the group key: index = key column
  CtxProp,  // a context partition's property (context.name/id/label/keyN): index = CtxSlot
  Agg,      // aggregate function: index = aggregate slot of the statement
  Neg,      // -a
  Not,      // not a
  Binary,   // a op b
  IsNull,   // a is [not] null
  Case,     // case [a] when args[0] then args[1] ... [else b] end
  In,       // a [not] in (args...)
  Between,  // a [not] between args[0] and args[1]
  Like,     // a [not] like b [escape args[0]]
  Regexp,   // a [not] regexp b
  Call,     // a single-row function (func) of args; a = the receiver of a string method
  Cast,     // cast(a, type): type and narrow of the node
  Prev,     // prev(n, a): a of the n-th previous event in the data window; index = its hidden slot
  Prior,    // prior(n, a): a of the n-th previous event of the stream; index = its hidden slot
  TableAccess,  // T[k1, ...].col (qualifier = T, name = col, args = the keys): index = the column, table = T
};

// Single-row functions: Esper's built-ins, java.lang.Math and String methods.
enum class Func : uint8_t {
  Coalesce, Max, Min,                                       // coalesce(...), max(a, b, ...), min(a, b, ...)
  MathMax, MathMin,                                         // Math.max(a, b), Math.min(a, b): NaN wins
  Abs, Round, Floor, Ceil, Sqrt, Pow, Exp, Log, Log10, Signum,  // Math.*
  Upper, Lower, Length, Substring, Trim, StartsWith, EndsWith, Contains, IndexOf,  // s.method(...)
};

// Java's narrower numeric types, which Esper's arithmetic keeps: an int
// literal (`5`, not `5L`) or variable is a 32-bit int and int op int wraps at
// 32 bits; a float literal (`1.5f`) or variable is a float and float op float
// rounds to float. At run time the values are longs and doubles (a float's
// value is the float widened); the static Type stays Long/Double and this tag
// says where results are narrowed. Mixed operands widen as Esper's
// getArithmaticCoercionType does: float with a non-float is double, int with
// long is long; division is always double.
enum class Narrow : uint8_t { None, Int, Float };

enum class BinOp : uint8_t { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Concat };
enum class AggFn : uint8_t { Count, Sum, Avg, Min, Max };

struct Expr;
class Table;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Literal;
  Pos pos;
  BinOp op = BinOp::Add;
  AggFn fn = AggFn::Count;
  bool star = false;     // count(*)
  bool distinct = false; // count(distinct x) and the like
  bool negated = false;  // is not null, not in, not between, not like, not regexp
  Func func = Func::Coalesce;
  Narrow narrow = Narrow::None;  // literals: set by the parser; the rest: by the compiler
  Value literal;
  std::string qualifier;  // Ident: `e` in `e.price`
  std::string name;       // Ident/Prop/Var: the name
  ExprPtr a, b;
  std::vector<ExprPtr> args;  // Case, In, Between, Like, Call
  std::shared_ptr<const std::regex> regex;  // Regexp with a constant pattern, compiled once
  std::shared_ptr<const Table> table;       // TableAccess: the table read (set by the compiler)

  // Nodes on the longest path down from here (1 for a leaf): set by the
  // parser, which refuses expressions taller than the recursive compiler and
  // evaluator may safely walk.
  uint32_t height = 1;

  // Set by the compiler.
  int index = -1;
  Type type = Type::Null;

  ExprPtr clone() const;
};

// Calls f(ExprPtr&) on every child of e (a, b, then args).
template <class F>
void for_each_child(Expr& e, F&& f) {
  if (e.a) f(e.a);
  if (e.b) f(e.b);
  for (ExprPtr& x : e.args) f(x);
}
template <class F>
void for_each_child(const Expr& e, F&& f) {
  if (e.a) f(*e.a);
  if (e.b) f(*e.b);
  for (const ExprPtr& x : e.args) f(*x);
}

// Two expressions the compiler has bound compute the same value: same
// structure, properties and variables by slot (so `c.car` and `car` with `c`
// the stream's alias are the same), literals by value.
bool same_bound(const Expr& a, const Expr& b);

// Esper's rendering of an expression (its name as an unaliased select column),
// e.g. `price*2`, `(sum(qty))/(count(*))`, `-1*price`, `not ok`.
std::string render(const Expr& e);
// The EPL name of an aggregate function ("avg").
const char* aggregate_name(AggFn f);

// Appended only: the values are saved in window identities (snapshots).
enum class WindowKind : uint8_t {
  None, Length, LengthBatch, Time, TimeBatch,
  KeepAll,          // #keepall: every event stays
  FirstEvent,       // #firstevent: the first event stays, later ones are ignored
  ExtTimed,         // #ext_timed(ts, T): sliding by the events' own timestamps
  TimeLengthBatch,  // #time_length_batch(T, N): a batch at T or at N events, whichever comes first
  Named,            // `from W`, W a named window: the events W holds, entering and leaving as W posts them
};

// Windows whose contents are what is aggregated (not batch windows, which
// aggregate a batch only when it is posted).
inline bool sliding_window(WindowKind k) {
  return k == WindowKind::Length || k == WindowKind::Time || k == WindowKind::KeepAll || k == WindowKind::FirstEvent ||
         k == WindowKind::ExtTimed || k == WindowKind::Named;
}
inline bool batch_window(WindowKind k) {
  return k == WindowKind::TimeBatch || k == WindowKind::LengthBatch || k == WindowKind::TimeLengthBatch;
}

struct WindowSpec {
  WindowKind kind = WindowKind::None;
  int64_t size = 0;  // events, or milliseconds for time windows
  Pos pos;
  // Keyed windows (`#unique(k...)`, `#groupwin(k...)#length(N)`, `#lastevent`
  // per group, `#firstevent` per group): Length or FirstEvent applied to each
  // key's events separately; the keys are StatementAst::view_exprs. #unique
  // is a keyed #length(1), #lastevent an unkeyed one.
  bool keyed = false;
  std::string view_text;  // the views as written, canonical (`#groupwin(car)#length(3)`): messages and identity
  int64_t count = 0;      // #time_length_batch: the number of events
  // #time_batch(T, reference, 'flags'). The reference point (milliseconds
  // since the epoch) puts batch ends at reference + k*T; without one they are
  // aligned to the first event. The compiler folds StatementAst's
  // window_reference into these two.
  bool has_reference = false;
  int64_t reference = 0;
  bool force_update = false;  // 'FORCE_UPDATE': post every interval, even an empty one
  bool start_eager = false;   // 'START_EAGER': the first batch starts at deployment (implies FORCE_UPDATE)
};

enum class StreamSelector : uint8_t { IStream, IRStream, RStream };

// Default: `output every` (no keyword); All: `output all every` (differs for
// grouped statements).
enum class OutputMode : uint8_t { None, Default, All, First, Last, Snapshot };

struct OutputSpec {
  OutputMode mode = OutputMode::None;
  bool by_events = false;
  int64_t every = 0;  // events, or milliseconds
  Pos pos;
};

struct SelectItem {
  ExprPtr expr;
  std::string alias;  // empty: named by render(expr) or the property name
  bool star = false;  // `*`: expanded by the compiler into the stream's properties
  Pos pos;

  SelectItem clone() const {
    SelectItem c;
    c.expr = expr ? expr->clone() : nullptr;
    c.alias = alias;
    c.star = star;
    c.pos = pos;
    return c;
  }
};

// Named windows (named_window.hpp): `create window`, and the on-trigger
// statements that read or change one.
enum class StatementKind : uint8_t {
  Select,        // select ... from S (the default)
  CreateWindow,  // create window W#view as select ... from S: window_name, window, select, from
  OnSelect,      // on S [as s] select ... from W [as w] [where ...]
  OnDelete,      // on S [as s] delete from W [as w] [where ...]
  OnMerge,       // on S [as s] merge W [as w] [where ...] when [not] matched ...
  OnUpdate,      // on S [as s] update T [as t] set p = expr, ... [where ...] (merge: its one clause)
};

// One `when [not] matched [and cond] then ...` of on-merge.
struct MergeClause {
  Pos pos;
  bool matched = true;
  ExprPtr cond;  // or null
  enum class Action : uint8_t { Update, Delete, Insert } action = Action::Update;
  std::vector<std::pair<std::string, ExprPtr>> sets;  // update set name = expr, ...
  std::vector<Pos> set_pos;
  std::vector<SelectItem> insert;                     // insert select ...
};

// `from pattern [...]`: Esper's pattern operators (pattern.hpp runs them).
enum class PatternKind : uint8_t {
  Filter,      // [tag=] Stream[(expr)]
  Interval,    // timer:interval(period): true once, `ms` after it starts
  Every,       // every p: restarts p each time it ends (true or false)
  Not,         // not p: true at once, false when p turns true
  Within,      // p where timer:within(period): p, or false after `ms`
  FollowedBy,  // p1 -> p2 -> ...: each match of p(i) starts p(i+1)
  And,         // p1 and p2 ...: true when every one has been true
  Or,          // p1 or p2 ...: true when one is
  Repeat,      // [n] p [until q]: n matches of p (tags in p become arrays), q ends it early
};

struct PatternAst {
  PatternKind kind = PatternKind::Filter;
  Pos pos;
  std::string tag;     // Filter: the tag, or empty
  std::string stream;  // Filter
  ExprPtr filter;      // Filter: or null
  int64_t ms = 0;      // Interval, Within
  int64_t count = 0;   // Repeat: n, or 0 for `p until q` without a bound
  std::vector<std::unique_ptr<PatternAst>> kids;  // Repeat: kids[0] = p, kids[1] = q if `until`
  std::string text;    // a canonical rendering (the statement's identity in snapshots)
};

struct MatchRecognizeAst;  // match_recognize_ast.hpp

struct StatementAst {
  StatementKind kind = StatementKind::Select;
  std::string window_name;   // CreateWindow / On*: the named window
  std::string window_alias;  // On*: `from W as w`
  Pos window_pos;
  std::vector<MergeClause> merge;  // OnMerge
  Pos pos;
  std::string context;  // `context NAME ...`: runs once per partition of that context, or empty
  Pos context_pos;
  std::string name;  // @name('...') annotation, or empty
  std::string insert_into;
  std::string into_table;  // `into table T select ...`: the statement's aggregates are T's columns
  Pos into_table_pos;
  StreamSelector selector = StreamSelector::IStream;
  std::vector<SelectItem> select;
  std::string from;        // stream name
  std::string from_alias;  // `from Ev as e` / `from Ev e`
  Pos from_pos;
  ExprPtr stream_filter;   // Ev(expr): applies before the window
  std::unique_ptr<PatternAst> pattern;  // `from pattern [...]`: then `from` is the stream its filters read
  std::shared_ptr<const MatchRecognizeAst> match_recognize;  // `from S match_recognize (...)`, or null
  WindowSpec window;
  ExprPtr window_reference;  // #time_batch's reference point as written (a constant expression), or null
  std::vector<ExprPtr> view_exprs;  // keyed windows: the keys; #ext_timed: the timestamp
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  ExprPtr having;
  OutputSpec output;
};

struct VariableDecl {
  Pos pos;
  Type type = Type::Null;
  Narrow narrow = Narrow::None;  // `int`, `float`
  std::string name;
  ExprPtr init;  // a literal (possibly negated), or null
};

// `create context`: a statement that names the context runs as one instance
// (window, aggregates, timers) per context partition.
enum class ContextKind : uint8_t {
  Keyed,     // partition by p1[, p2...] from S1, ... : one partition per distinct key
  Hash,      // coalesce by consistent_hash_crc32(e) | hash_code(e) from S granularity N [preallocate]
  Category,  // group by cond as label, ... from S: one partition per label, an event in each that matches
};
enum class HashFn : uint8_t { Crc32, HashCode };

struct ContextItem {     // one `... from Stream(filter)` of a keyed or hash context
  Pos pos;
  std::string stream;
  ExprPtr filter;              // or null
  std::vector<ExprPtr> keys;   // keyed: the properties; hash: the one hashed expression
  HashFn fn = HashFn::Crc32;
};

struct ContextCategory {
  std::string label;
  ExprPtr cond;
};

struct ContextDecl {
  Pos pos;
  std::string name;
  ContextKind kind = ContextKind::Keyed;
  std::vector<ContextItem> items;  // Category: exactly one (its stream and filter)
  std::vector<ContextCategory> categories;
  int64_t granularity = 512;  // Hash
  bool preallocate = false;   // Hash
  std::string text;           // a canonical rendering: contexts with the same text partition alike (reload)
};

// Slots of ExprKind::CtxProp.
enum CtxSlot : int { kCtxName = 0, kCtxId = 1, kCtxLabel = 2, kCtxKey0 = 3 };

// create table T (k string primary key, a avg(double), n count(*), ...)
struct TableColumn {
  std::string name;
  Pos pos;
  bool key = false;  // primary key
  bool agg = false;  // an aggregation column: fn of a value of `arg` (count(*): star)
  AggFn fn = AggFn::Count;
  bool star = false;
  Type arg = Type::Null;
  Type type = Type::Null;  // the value's type: a plain column's, or the aggregate's result
};
struct TableDecl {
  std::string name;
  Pos pos;
  std::vector<TableColumn> columns;
};

struct Module {
  std::string file;
  std::vector<VariableDecl> variables;
  std::vector<ContextDecl> contexts;
  std::vector<TableDecl> tables;
  std::vector<StatementAst> statements;
};

}  // namespace weir::cep
