// weir records <-> engine rows: the only code that sees both the SDK and the
// engine's values.
#pragma once

#include "compile.hpp"
#include "rows.hpp"
#include "value.hpp"

#include <weir/sdk.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::cep {

// The input event type from a record: every field, typed by its value
// (int64 -> long, double, string, bool, timestamp -> long milliseconds;
// a null value leaves the property untyped: any type is accepted later).
EventType infer_type(Record r, const std::string& stream);

// Where the input field `slot` was found in the previous record: its index and
// its name's interned text (records of one decoder share a field order and
// names). A rule set's input type, so each slot's name, never changes.
struct FieldHint {
  int slot = -1;
  uint32_t index = 0;
  weir_str name{nullptr, 0};
};

// Fills row (one slot per input field; only `needed` are set) from a record.
// Returns "" or why the record cannot be used (missing field, wrong type).
std::string to_row(Record r, const EventType& type, const std::vector<int>& needed, std::vector<Value>& row,
                   std::vector<FieldHint>& hint);

// Event time in milliseconds from the time field: "_time" = the record's
// event time; an int64 field = epoch milliseconds; a timestamp field; a string
// field of 14 digits = yyyyMMddHHmmss in UTC. Returns "" or the reason.
std::string event_time_ms(Record r, const std::string& time_field, int64_t& ms);

// Milliseconds since the epoch for a UTC yyyyMMddHHmmss string, or false.
bool parse_yyyymmddhhmmss(std::string_view s, int64_t& ms);

// An engine value as a record field value (strings copied into the batch).
weir_value to_weir(const Value& v, RecordBuilder& rb);

// A query's rows as JSON Lines, appended to out: {"column":value,...}\n per
// row (NaN and infinities as null, as in weir's other JSON).
void append_json_rows(const std::vector<std::string>& columns, const RowSet& rows, std::string& out);

}  // namespace weir::cep
