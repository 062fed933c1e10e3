// Record -> TPut: the row key and cells from templates (<weir/template.hpp>),
// the cell timestamp from the event time or a field, so that writing the same
// record twice writes the same cells (idempotent puts).
#pragma once

#include "client.hpp"

#include <weir/sdk.hpp>
#include <weir/template.hpp>

#include <string>
#include <vector>

namespace weir::hbase {

struct MappingSpec {
  std::string row_key;               // template, e.g. "{date|reverse}-{car_number}"
  std::string family;                // default column family
  // "qualifier=TEMPLATE", "family:qualifier=TEMPLATE", or "field" / "family:field"
  // (qualifier = field name, value = the field). Empty: every non-null field.
  std::vector<std::string> columns;
  bool reject_missing_columns = false;  // else a cell whose field is missing/null is left out
  // "_time" = the record's event time; another name = that field; "" = the
  // region server's clock (not idempotent: a redelivered record adds a version).
  std::string timestamp_field = "_time";
  // For timestamp_field: "" (timestamp fields as they are, int64 as epoch ms),
  // "epoch_s", "epoch_ms", "epoch_us", "epoch_ns", or a strptime format such as
  // "%Y%m%d%H%M%S" for string fields (read as UTC).
  std::string timestamp_format;
};

// Milliseconds since the epoch from a field value; false + reason on failure.
bool parse_timestamp_ms(const weir_value& v, const std::string& format, int64_t& ms, std::string& reason);

class RowMapper {
 public:
  // std::invalid_argument naming the bad setting.
  explicit RowMapper(const MappingSpec& spec);

  // Fills put (row, cells, timestamp). Returns false with a reason when the
  // record cannot become a row: it then belongs on the error port.
  bool map(Record r, t2::TPut& put, std::string& reason) const;

 private:
  struct Column {
    std::string family, qualifier;
    Template value;
  };
  MappingSpec spec_;
  Template row_key_;
  std::vector<Column> columns_;
};

}  // namespace weir::hbase
