// One delimited text line -> typed values, by a schema. The logic behind the
// csv_decode plugin, kept free of the host so the fuzz target and the tests
// can drive it directly.
//
// Errors: Schema::build throws std::invalid_argument for a bad schema (the
// user's input); decode() never throws and never allocates on the success
// path — it reports a bad line as Outcome::Rejected with a reason naming the
// column (1-based) and the field.
#pragma once

#include "time_format.hpp"

#include <weir/abi.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::csv {

enum class Type : uint8_t { String, Int64, Double, Bool, Timestamp, Skip };

const char* type_text(Type t);

// The schema as the user wrote it (the plugin's parameters).
struct SchemaSpec {
  std::vector<std::string> fields;    // "name:type" or "name:timestamp:FORMAT"
  std::vector<std::string> optional;  // field names allowed to be empty
  std::string delimiter = ",";
  bool trim = false;
  std::vector<std::string> skip_prefixes;
  bool skip_empty = true;
  std::string event_time_field;
  std::string event_time_format;
};

struct Column {
  std::string name;
  Type type = Type::String;
  TimeFormat time;  // Type::Timestamp
  bool optional = false;
  int output = -1;  // index among the output values; -1 for Type::Skip
};

class Schema {
 public:
  static Schema build(const SchemaSpec& spec);  // throws std::invalid_argument

  const std::vector<Column>& columns() const { return columns_; }
  // Output values per decoded line (the columns that are not skipped).
  size_t output_count() const { return output_count_; }
  const Column& output_column(size_t i) const { return columns_[output_to_column_[i]]; }

  enum class Outcome { Decoded, Skipped, Rejected };

  // Decodes `line` (a trailing "\n" / "\r\n" is ignored) into out[0..output_count()).
  // String values point into `line`. event_time_ns is set only when the schema
  // has an event-time field. On Rejected, `reason` says why.
  Outcome decode(std::string_view line, weir_value* out, int64_t& event_time_ns, std::string& reason) const;

 private:
  std::vector<Column> columns_;
  std::vector<size_t> output_to_column_;
  size_t output_count_ = 0;
  char delimiter_ = ',';
  bool trim_ = false;
  bool skip_empty_ = true;
  std::vector<std::string> skip_prefixes_;
  int event_time_column_ = -1;
  TimeFormat event_time_;  // used when the event-time column is not a timestamp
};

}  // namespace weir::csv
