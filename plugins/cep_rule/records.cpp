#include "records.hpp"

#include <weir/json.hpp>

#include <weir/civil_time.hpp>

namespace weir::cep {

namespace {

Type weir_to_type(uint32_t t) {
  switch (t) {
    case WEIR_INT64:
    case WEIR_TIMESTAMP: return Type::Long;
    case WEIR_DOUBLE: return Type::Double;
    case WEIR_STRING: return Type::String;
    case WEIR_BOOL: return Type::Bool;
    default: return Type::Null;
  }
}

const char* article(Type t) { return t == Type::Long ? "a long" : t == Type::Double ? "a double" : t == Type::String ? "a string" : "a boolean"; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
}  // namespace

EventType infer_type(Record r, const std::string& stream) {
  EventType t{stream, {}};
  for (const weir_field& f : r.fields()) t.fields.push_back({std::string(view(f.name)), weir_to_type(f.value.type)});
  return t;
}

std::string to_row(Record r, const EventType& type, const std::vector<int>& needed, std::vector<Value>& row,
                   std::vector<FieldHint>& hint) {
  row.resize(type.fields.size());
  hint.resize(needed.size());
  auto fields = r.fields();
  for (size_t k = 0; k < needed.size(); ++k) {
    const Field& want = type.fields[static_cast<size_t>(needed[k])];
    // Try last time's position first. Field names are interned by the host
    // (abi.h): the same text at the same address is the same name, no bytes
    // to compare; any other name is compared by its bytes.
    const weir_value* v = nullptr;
    FieldHint& h = hint[k];
    if (h.slot == needed[k] && h.index < fields.size() && fields[h.index].name.data == h.name.data &&
        fields[h.index].name.size == h.name.size) {
      v = &fields[h.index].value;
    } else {
      for (uint32_t i = 0; i < fields.size(); ++i)
        if (view(fields[i].name) == want.name) {
          v = &fields[i].value;
          h = {needed[k], i, fields[i].name};
          break;
        }
    }
    if (!v) return "missing field '" + want.name + "' (the rules read it)";
    // Written in place (Value::set_*): see there why not `out = Value::of_...`.
    Value& out = row[static_cast<size_t>(needed[k])];
    switch (v->type) {
      case WEIR_NULL: out.reset(); continue;
      case WEIR_INT64:
        if (want.type == Type::Double) out.set_double(static_cast<double>(v->as.i64));
        else if (want.type == Type::Long || want.type == Type::Null) out.set_long(v->as.i64);
        else break;
        continue;
      case WEIR_TIMESTAMP:
        if (want.type != Type::Long && want.type != Type::Null) break;
        out.set_long(v->as.i64 / 1'000'000);
        continue;
      case WEIR_DOUBLE:
        if (want.type != Type::Double && want.type != Type::Null) break;
        out.set_double(v->as.f64);
        continue;
      case WEIR_STRING:
        if (want.type != Type::String && want.type != Type::Null) break;
        out.set_string(view(v->as.str));
        continue;
      case WEIR_BOOL:
        if (want.type != Type::Bool && want.type != Type::Null) break;
        out.set_bool(v->as.b != 0);
        continue;
      default: break;
    }
    return "field '" + want.name + "' is " + weir::type_name(v->type) + ", the rules read it as " + article(want.type) +
           " (its type in the first record)";
  }
  return "";
}

bool parse_yyyymmddhhmmss(std::string_view s, int64_t& ms) {
  if (s.size() != 14) return false;
  int64_t n[14];
  for (size_t i = 0; i < 14; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    n[i] = s[i] - '0';
  }
  int64_t y = n[0] * 1000 + n[1] * 100 + n[2] * 10 + n[3];
  unsigned mo = static_cast<unsigned>(n[4] * 10 + n[5]), d = static_cast<unsigned>(n[6] * 10 + n[7]);
  int64_t h = n[8] * 10 + n[9], mi = n[10] * 10 + n[11], se = n[12] * 10 + n[13];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60'000 + se * 1000;
  return true;
}

std::string event_time_ms(Record r, const std::string& time_field, int64_t& ms) {
  if (time_field == "_time") {
    if (r.event_time_ns() == 0) return "the record has no event time (time_field = \"_time\")";
    ms = r.event_time_ns() / 1'000'000;
    return "";
  }
  const weir_value* v = r.field(time_field);
  if (!v) return "missing time field '" + time_field + "'";
  switch (v->type) {
    case WEIR_INT64: ms = v->as.i64; return "";
    case WEIR_TIMESTAMP: ms = v->as.i64 / 1'000'000; return "";
    case WEIR_DOUBLE: ms = static_cast<int64_t>(v->as.f64); return "";
    case WEIR_STRING:
      if (parse_yyyymmddhhmmss(view(v->as.str), ms)) return "";
      return "time field '" + time_field + "' is not a yyyyMMddHHmmss date: '" + std::string(view(v->as.str)) + "'";
    default: return "time field '" + time_field + "' is " + weir::type_name(v->type) + ", not a time";
  }
}

weir_value to_weir(const Value& v, RecordBuilder& rb) {
  switch (v.type()) {
    case Type::Null: return null_value();
    case Type::Bool: return bool_value(v.as_bool());
    case Type::Long: return int_value(v.as_long());
    case Type::Double: return double_value(v.as_double());
    case Type::String: return string_value(rb.copy(v.as_string()));
  }
  return null_value();
}

void append_json_rows(const std::vector<std::string>& columns, const RowSet& rows, std::string& out) {
  for (size_t i = 0; i < rows.size(); ++i) {
    out += '{';
    for (size_t c = 0; c < rows.width(); ++c) {
      if (c) out += ',';
      append_json_string(out, columns[c]);
      out += ':';
      const Value& v = rows.row(i)[c];
      switch (v.type()) {
        case Type::String: append_json_string(out, v.as_string()); break;
        case Type::Null: out += "null"; break;
        case Type::Bool: append_json_value(out, bool_value(v.as_bool())); break;
        case Type::Long: append_json_value(out, int_value(v.as_long())); break;
        case Type::Double: append_json_value(out, double_value(v.as_double())); break;
      }
    }
    out += "}\n";
  }
}

}  // namespace weir::cep
