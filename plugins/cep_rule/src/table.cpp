#include "table.hpp"

#include "error.hpp"

#include <algorithm>
#include <stdexcept>

namespace weir::cep {

Table::Table(const TableDecl& decl) : decl_(decl), type_{decl.name, {}} {
  identity_ = "table " + decl.name + "(";
  for (size_t c = 0; c < decl.columns.size(); ++c) {
    const TableColumn& col = decl.columns[c];
    type_.fields.push_back({col.name, col.type});
    if (col.key) keys_.push_back(static_cast<int>(c));
    identity_ += col.name + ":" + (col.agg ? std::string(aggregate_name(col.fn)) + "/" : "") + type_name(col.type) +
                 (col.key ? " key," : ",");
  }
  identity_ += ")";
}

const Value* Table::find(const std::vector<Value>& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : rows_[it->second].data();
}

void Table::write(const std::vector<Value>& key, const std::vector<int>& columns, const std::vector<Value>& values) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    std::vector<Value> row(type_.fields.size());
    for (size_t k = 0; k < keys_.size(); ++k) row[static_cast<size_t>(keys_[k])] = key[k];
    rows_.push_back(std::move(row));
    it = index_.emplace(key, rows_.size() - 1).first;
  }
  std::vector<Value>& row = rows_[it->second];
  for (size_t c = 0; c < columns.size(); ++c) row[static_cast<size_t>(columns[c])] = values[c];
}

std::vector<size_t> Table::events() {
  std::vector<size_t> out(rows_.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = i;
  return out;
}

int Table::index_on(int field) { return keys_.size() == 1 && keys_[0] == field ? 0 : -1; }

const std::vector<size_t>& Table::lookup(int, const Value& key) {
  found_.clear();
  key_.assign(1, key);
  auto it = index_.find(key_);
  if (it != index_.end()) found_.push_back(it->second);
  return found_;
}

void Table::fields(size_t i, Value* out) { std::copy(rows_[i].begin(), rows_[i].end(), out); }

std::string Table::unwritable(int field, bool update) const {
  const TableColumn& c = decl_.columns[static_cast<size_t>(field)];
  if (c.agg) return "it is an aggregation column (written by 'into table')";
  if (c.key && update) return "it is a primary key column";
  return "";
}

void Table::remove(const std::vector<size_t>& rows) {
  if (rows.empty()) return;
  std::vector<bool> gone(rows_.size());
  for (size_t i : rows) gone[i] = true;
  size_t kept = 0;
  for (size_t i = 0; i < rows_.size(); ++i) {
    if (gone[i]) continue;
    if (kept != i) rows_[kept] = std::move(rows_[i]);  // not onto itself: a vector moved onto itself empties
    ++kept;
  }
  rows_.resize(kept);
  index_.clear();
  for (size_t i = 0; i < rows_.size(); ++i) {
    key_.clear();
    for (int k : keys_) key_.push_back(rows_[i][static_cast<size_t>(k)]);
    index_.emplace(key_, i);
  }
}

bool Table::insert(const Value* fields, int64_t) {
  std::vector<Value> key;
  for (int k : keys_) key.push_back(fields[k]);
  if (index_.count(key)) return false;  // Esper: "Unique index violation"; the row stays
  index_.emplace(std::move(key), rows_.size());
  rows_.emplace_back(fields, fields + type_.fields.size());
  return true;
}

// The key columns are not set (unwritable), so each row keeps its key and place.
void Table::replace(const std::vector<size_t>& rows, const std::vector<std::vector<Value>>& values, int64_t) {
  for (size_t r = 0; r < rows.size(); ++r) rows_[rows[r]] = values[r];
}

void Table::insert_columns(const std::vector<int>& columns, const Value* values) {
  std::vector<Value> row(type_.fields.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    Value v = values[c];
    if (type_.fields[static_cast<size_t>(columns[c])].type == Type::Double && v.type() == Type::Long)
      v = Value::of_double(static_cast<double>(v.as_long()));
    row[static_cast<size_t>(columns[c])] = std::move(v);
  }
  insert(row.data(), 0);
}

bool Table::aggregated() const {
  return std::any_of(decl_.columns.begin(), decl_.columns.end(), [](const TableColumn& c) { return c.agg; });
}

void Table::adopt(const Table& old) {
  rows_ = old.rows_;
  index_ = old.index_;
}

void Table::save(Writer& w) const {
  w.u64(rows_.size());
  for (const std::vector<Value>& row : rows_)
    for (const Value& v : row) w.value(v);
}

void Table::load(Reader& r) {
  rows_.clear();
  index_.clear();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::vector<Value> row(type_.fields.size());
    for (Value& v : row) v = r.value();
    std::vector<Value> key;
    for (int k : keys_) key.push_back(row[static_cast<size_t>(k)]);
    if (!index_.emplace(key, rows_.size()).second) throw std::runtime_error("cep_rule state: table '" + name() + "' has a key twice");
    rows_.push_back(std::move(row));
  }
}

// into table T select agg as col, ... from S group by key: checked as Esper
// checks it (the group by is T's primary key, each column an aggregation
// column of T with the same function and type); T's column of each select
// column.
std::vector<int> into_table_columns(const Table& t, const StatementAst& st, const Plan& plan, const std::string& file) {
  auto refuse = [&](Pos pos, const std::string& what) {
    throw EplError(file, pos, "cep_rule does not support " + what + " in an 'into table' statement");
  };
  if (!st.context.empty()) refuse(st.context_pos, "a context");
  if (st.pattern) refuse(st.from_pos, "a pattern");
  if (batch_window(st.window.kind)) refuse(st.window.pos, "a batch window");
  std::vector<int> columns;
  const std::vector<int>& keys = t.key_columns();
  if (plan.group_by.size() != keys.size())
    throw EplError(file, st.pos, "'into table " + t.name() + "' needs 'group by' its " + std::to_string(keys.size()) +
                                     " primary key column(s)");
  for (size_t k = 0; k < keys.size(); ++k) {
    const Field& f = t.type().fields[static_cast<size_t>(keys[k])];
    if (plan.group_by[k]->type != f.type && plan.group_by[k]->type != Type::Null)  // null: not typed yet (no record)
      throw EplError(file, plan.group_by[k]->pos, "the group by of 'into table " + t.name() + "' gives " +
                                                      type_name(plan.group_by[k]->type) + " for key '" + f.name +
                                                      "', which is " + type_name(f.type));
  }
  for (size_t c = 0; c < plan.columns.size(); ++c) {
    const Column& col = plan.columns[c];
    int tc = t.type().find(col.name);
    const TableColumn* decl = tc >= 0 ? &t.decl().columns[static_cast<size_t>(tc)] : nullptr;
    if (!decl || !decl->agg)
      throw EplError(file, col.expr->pos, "'" + col.name + "' is not an aggregation column of table '" + t.name() +
                                              "' (name each aggregate after one with 'as')");
    const Expr& e = *col.expr;
    bool same = e.kind == ExprKind::Agg && e.fn == decl->fn && !e.distinct && e.star == decl->star &&
                (decl->star || (e.a && (e.a->type == decl->arg || e.a->type == Type::Null)));
    if (!same)
      throw EplError(file, e.pos, "column '" + col.name + "' of table '" + t.name() + "' is " +
                                      aggregate_name(decl->fn) + "(" + (decl->star ? "*" : type_name(decl->arg)) +
                                      "), not '" + render(e) + "'");
    if ((decl->fn == AggFn::Min || decl->fn == AggFn::Max) && st.window.kind == WindowKind::None)
      throw EplError(file, e.pos, "column '" + col.name + "' of table '" + t.name() + "' is " + aggregate_name(decl->fn) +
                                      "(), which needs a data window in the 'into table' statement (as in Esper)");
    columns.push_back(tc);
  }
  return columns;
}

// insert into T select ...: each column names a key or plain column of T,
// of its type (a long into a double widened); the key columns are all there.
std::vector<int> insert_into_table_columns(const Table& t, const Plan& plan, const std::string& file) {
  std::vector<int> columns;
  for (const Column& col : plan.columns) {
    int tc = t.type().find(col.name);
    if (tc < 0)
      throw EplError(file, col.expr->pos, "table '" + t.name() + "' has no column '" + col.name +
                                              "' (name each inserted column after one of its columns with 'as')");
    if (std::string why = t.unwritable(tc, false); !why.empty())
      throw EplError(file, col.expr->pos, "cep_rule cannot insert '" + col.name + "' into table '" + t.name() + "': " + why);
    Type want = t.type().fields[static_cast<size_t>(tc)].type;
    if (col.type != want && col.type != Type::Null && !(want == Type::Double && col.type == Type::Long))
      throw EplError(file, col.expr->pos, "column '" + col.name + "' of table '" + t.name() + "' is " + type_name(want) +
                                              ", not " + type_name(col.type));
    columns.push_back(tc);
  }
  for (int k : t.key_columns())
    if (std::find(columns.begin(), columns.end(), k) == columns.end())
      throw EplError(file, plan.columns.empty() ? Pos{} : plan.columns.front().expr->pos,
                     "'insert into " + t.name() + "' needs its primary key column '" +
                         t.type().fields[static_cast<size_t>(k)].name + "'");
  return columns;
}

}  // namespace weir::cep
