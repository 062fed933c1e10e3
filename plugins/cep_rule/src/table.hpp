// Tables, as Esper has them (a first part: keyed tables):
//
//   create table T (car string primary key, avg_speed avg(double), n count(*));
//   into table T select avg(speed) as avg_speed, count(*) as n from Ev group by car;
//   select car, speed from Ev where speed > T[car].avg_speed;
//   select * from T                                   an on-demand query (Engine::query)
//
// A table's rows are keyed by its primary key columns. An aggregation column
// holds the value of the aggregate of the one statement that writes it with
// `into table`, for the group of that key: the statement keeps the state (its
// groups, its window), and writes each touched group's values after every
// update, so `T[key].col` reads what the statement's own row would show. A
// row stays when its events have left (count 0, avg null), as in Esper.
//
// Plain columns (`speed long`) are written by on-trigger statements, the
// upsert of a keyed state:
//
//   on Ev as e merge T as t where t.car = e.car
//     when matched then update set speed = e.speed
//     when not matched then insert select e.car as car, e.speed as speed;
//   on Ev(kind = 'U') as e update T as t set speed = e.speed where t.car = e.car;
//   on Ev(kind = 'D') as e delete from T as t where t.car = e.car;
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "on_target.hpp"
#include "serialize.hpp"
#include "value.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace weir::cep {

class Table final : public OnTarget {
 public:
  explicit Table(const TableDecl& decl);

  const TableDecl& decl() const { return decl_; }
  // The columns as an event type (on-demand queries and on-trigger statements read the rows as events).
  const EventType& type() const override { return type_; }
  const char* what() const override { return "table"; }
  const std::vector<int>& key_columns() const { return keys_; }
  // The declaration as text: a reload or a restore keeps rows only of the same table.
  const std::string& identity() const { return identity_; }

  // The row of a key (its key columns' values, in order), or null.
  const Value* find(const std::vector<Value>& key) const;
  // Sets columns of the row of `key` (created when missing).
  void write(const std::vector<Value>& key, const std::vector<int>& columns, const std::vector<Value>& values);

  size_t size() const { return rows_.size(); }
  const Value* row(size_t i) const { return rows_[i].data(); }  // rows in creation order

  // On-trigger statements: the rows by position; the one index is by the
  // primary key when it is a single column.
  std::vector<size_t> events() override;
  int index_on(int field) override;
  const std::vector<size_t>& lookup(int index, const Value& key) override;
  void fields(size_t i, Value* out) override;
  std::string unwritable(int field, bool update) const override;
  void remove(const std::vector<size_t>& rows) override;
  bool insert(const Value* fields, int64_t now) override;
  void replace(const std::vector<size_t>& rows, const std::vector<std::vector<Value>>& values, int64_t now) override;
  // `insert into T`: a row whose columns[c] is values[c] (long into double
  // widened), the others null; as insert() when the key exists.
  void insert_columns(const std::vector<int>& columns, const Value* values);

  void save(Writer& w) const;
  void load(Reader& r);
  // Has aggregation columns (written by `into table`).
  bool aggregated() const;
  // Hot reload: the rows of a table with the same declaration.
  void adopt(const Table& old);

 private:
  TableDecl decl_;
  EventType type_;
  std::vector<int> keys_;
  std::string identity_;
  std::vector<std::vector<Value>> rows_;
  std::unordered_map<std::vector<Value>, size_t, ValuesHash> index_;
  std::vector<Value> key_;      // scratch: a key
  std::vector<size_t> found_;   // lookup()'s answer
};

// `into table T select ...` checked against T (throws EplError): T's column
// of each select column.
std::vector<int> into_table_columns(const Table& t, const StatementAst& st, const Plan& plan, const std::string& file);
// `insert into T select ...` checked against T (throws EplError): T's column
// of each select column (named after it: a primary key or plain column).
std::vector<int> insert_into_table_columns(const Table& t, const Plan& plan, const std::string& file);

}  // namespace weir::cep
