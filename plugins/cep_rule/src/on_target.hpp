// What an on-trigger statement (`on S select/delete/merge/update ...`) reads
// and changes: a named window's events (NamedWindow) or a table's rows
// (Table). Its events are numbered by position (valid until it changes).
#pragma once

#include "compile.hpp"
#include "value.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace weir::cep {

class OnTarget {
 public:
  virtual const EventType& type() const = 0;
  const std::string& name() const { return type().name; }
  // "window" or "table", for messages.
  virtual const char* what() const = 0;

  // Every event, in order.
  virtual std::vector<size_t> events() = 0;
  // An index by one field for `where t.f = <trigger expression>`: its id, or
  // -1 when there is none for that field. lookup: the events whose field
  // equals key, in order (valid until the target changes).
  virtual int index_on(int field) = 0;
  virtual const std::vector<size_t>& lookup(int index, const Value& key) = 0;
  // Event i's fields by field index, into out (type().fields.size() values).
  virtual void fields(size_t i, Value* out) = 0;

  // Why a merge or an update may not set the field (empty: it may).
  virtual std::string unwritable(int field, bool update) const = 0;
  virtual void remove(const std::vector<size_t>& events) = 0;
  // false: the event was not added (a table's key that exists: Esper's
  // unique index violation, which leaves the row as it is).
  virtual bool insert(const Value* fields, int64_t now) = 0;
  // Events `events` become `rows` (a window: they leave and the rows enter as
  // new events; a table: its rows change in place).
  virtual void replace(const std::vector<size_t>& events, const std::vector<std::vector<Value>>& rows, int64_t now) = 0;
  // An on-merge's changes are one change of the target.
  virtual void begin_change() {}
  virtual void end_change() {}

 protected:
  ~OnTarget() = default;
};

}  // namespace weir::cep
