// Fuzzes csv_decode's decoder: any bytes as a line, against three schemas
// (the smart-car one, one of every type, one with options). The first byte
// picks the schema. Checks: no crash/UB, string values stay inside the line,
// a rejected line always has a reason, decoded values have the declared types.
#include "decoder.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using weir::csv::Schema;
using weir::csv::SchemaSpec;

namespace {

std::vector<Schema> make_schemas() {
  std::vector<Schema> out;
  SchemaSpec smartcar;
  smartcar.fields = {"date:string",        "car_number:string",  "speed_pedal:int64", "break_pedal:int64",
                     "steer_angle:string", "direct_light:string", "speed:int64",       "area_number:string"};
  smartcar.skip_prefixes = {"Driver Status"};
  smartcar.event_time_field = "date";
  smartcar.event_time_format = "%Y%m%d%H%M%S";
  out.push_back(Schema::build(smartcar));

  SchemaSpec all;
  all.fields = {"s:string", "i:int64", "d:double", "b:bool", "t:timestamp:%Y-%m-%dT%H:%M:%S.%fZ", "e:timestamp:epoch_us", "x:skip"};
  all.optional = {"s", "i", "d", "b", "t", "e"};
  out.push_back(Schema::build(all));

  SchemaSpec opts;
  opts.fields = {"a:int64", "b:string", "c:timestamp:%d/%m/%Y %H%%%M"};
  opts.delimiter = ";";
  opts.trim = true;
  opts.skip_empty = false;
  opts.event_time_field = "c";
  out.push_back(Schema::build(opts));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Schema> schemas = make_schemas();
  if (size == 0) return 0;
  const Schema& schema = schemas[data[0] % schemas.size()];
  // A heap copy of exactly the line, so ASan sees any read past its end.
  std::string line(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<weir_value> out(schema.output_count());
  int64_t t = 0;
  std::string reason;
  switch (schema.decode(line, out.data(), t, reason)) {
    case Schema::Outcome::Rejected:
      if (reason.empty()) std::abort();
      break;
    case Schema::Outcome::Skipped: break;
    case Schema::Outcome::Decoded:
      for (size_t i = 0; i < out.size(); ++i) {
        const weir_value& v = out[i];
        if (v.type == WEIR_STRING && v.as.str.size > 0) {
          if (v.as.str.data < line.data() || v.as.str.data + v.as.str.size > line.data() + line.size()) std::abort();
        }
        if (v.type != WEIR_NULL && v.type != WEIR_STRING) {
          auto want = schema.output_column(i).type;
          bool ok = (want == weir::csv::Type::Int64 && v.type == WEIR_INT64) ||
                    (want == weir::csv::Type::Double && v.type == WEIR_DOUBLE) ||
                    (want == weir::csv::Type::Bool && v.type == WEIR_BOOL) ||
                    (want == weir::csv::Type::Timestamp && v.type == WEIR_TIMESTAMP);
          if (!ok) std::abort();
        }
      }
      break;
  }
  return 0;
}
