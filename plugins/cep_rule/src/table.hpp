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
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "serialize.hpp"
#include "value.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace weir::cep {

class Table {
 public:
  explicit Table(const TableDecl& decl);

  const std::string& name() const { return decl_.name; }
  const TableDecl& decl() const { return decl_; }
  // The columns as an event type (on-demand queries read the rows as events).
  const EventType& type() const { return type_; }
  const std::vector<int>& key_columns() const { return keys_; }
  // The declaration as text: a reload or a restore keeps rows only of the same table.
  const std::string& identity() const { return identity_; }

  // The row of a key (its key columns' values, in order), or null.
  const Value* find(const std::vector<Value>& key) const;
  // Sets columns of the row of `key` (created when missing).
  void write(const std::vector<Value>& key, const std::vector<int>& columns, const std::vector<Value>& values);

  size_t size() const { return rows_.size(); }
  const Value* row(size_t i) const { return rows_[i].data(); }  // rows in creation order

  void save(Writer& w) const;
  void load(Reader& r);

 private:
  TableDecl decl_;
  EventType type_;
  std::vector<int> keys_;
  std::string identity_;
  std::vector<std::vector<Value>> rows_;
  std::unordered_map<std::vector<Value>, size_t, ValuesHash> index_;
};

// `into table T select ...` checked against T (throws EplError): T's column
// of each select column.
std::vector<int> into_table_columns(const Table& t, const StatementAst& st, const Plan& plan, const std::string& file);

}  // namespace weir::cep
