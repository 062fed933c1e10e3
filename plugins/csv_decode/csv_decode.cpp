// csv_decode — one delimited text line per record -> typed fields, by a schema
// declared in the pipeline. Bad lines go to the error port with a reason that
// names the column; header/blank lines matching the declared filters are
// skipped and counted (gauge csv_skipped_lines). Nothing is dropped silently.
#include "decoder.hpp"

#include <weir/sdk.hpp>

#include <stdexcept>

namespace {

const weir_port_spec kInputs[] = {{"in", "records whose payload (or input_field) is one text line"}};
const weir_port_spec kOutputs[] = {{"out", "records with one typed field per schema column (key, time, position kept)"}};
const weir_param_spec kParams[] = {
    {"fields", WEIR_PARAM_STRING_LIST, nullptr, 1, nullptr,
     "columns in order: \"name:type\", type = string|int64|double|bool|skip or timestamp:FORMAT (%Y%m%d%H%M%S, epoch_ms..)"},
    {"optional", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "fields that may be empty (string -> \"\", other types -> null); any other empty field rejects the line"},
    {"delimiter", WEIR_PARAM_STRING, "\",\"", 0, nullptr, "one-character column separator (no quoting: fields cannot contain it)"},
    {"trim", WEIR_PARAM_BOOL, "false", 0, nullptr, "strip spaces and tabs around each column"},
    {"skip_prefixes", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "lines starting with one of these are headers: skipped and counted, not errors"},
    {"skip_empty", WEIR_PARAM_BOOL, "true", 0, nullptr, "skip (and count) empty lines instead of rejecting them"},
    {"event_time_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "field whose value sets the record's event time (UTC)"},
    {"event_time_format", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "format of event_time_field when it is a string/int64 field, e.g. \"%Y%m%d%H%M%S\" or \"epoch_ms\""},
    {"keep_payload", WEIR_PARAM_BOOL, "false", 0, nullptr, "keep the raw line as the output payload"},
    {"input_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "decode this string field instead of the payload"},
};

class CsvDecode : public weir::Plugin {
 public:
  CsvDecode(weir::Context ctx, const weir::Params& p) : ctx_(ctx) {
    weir::csv::SchemaSpec spec;
    spec.fields = p.list("fields");
    spec.optional = p.list("optional");
    spec.delimiter = p.str("delimiter");
    spec.trim = p.boolean("trim");
    spec.skip_prefixes = p.list("skip_prefixes");
    spec.skip_empty = p.boolean("skip_empty");
    spec.event_time_field = p.str("event_time_field");
    spec.event_time_format = p.str("event_time_format");
    try {
      schema_ = weir::csv::Schema::build(spec);
    } catch (const std::invalid_argument& e) {
      throw weir::ConfigError(e.what());
    }
    keep_payload_ = p.boolean("keep_payload");
    input_field_ = p.str("input_field");
    out_ = ctx_.port("out");
    for (size_t i = 0; i < schema_.output_count(); ++i) {
      names_.push_back(ctx_.name(schema_.output_column(i).name));
      has_strings_ |= schema_.output_column(i).type == weir::csv::Type::String;
    }
    values_.resize(schema_.output_count());
  }

  weir_status process(uint32_t, weir::Batch in) override {
    weir::BatchBuilder b = ctx_.batch(in.size());
    const uint64_t skipped_before = skipped_;
    const uint32_t n = static_cast<uint32_t>(values_.size());
    for (weir::Record r : in) {
      std::string_view line = r.payload();
      if (!input_field_.empty()) {
        const weir_value* v = r.field(input_field_);
        if (!v || v->type != WEIR_STRING) {
          ctx_.reject(r, "input_field '" + input_field_ + "' is " + (v ? std::string("a ") + weir::type_name(v->type) : "missing") +
                             ", not a string");
          continue;
        }
        line = weir::view(v->as.str);
      }
      int64_t event_time = r.event_time_ns();
      switch (schema_.decode(line, values_.data(), event_time, reason_)) {
        case weir::csv::Schema::Outcome::Skipped: ++skipped_; continue;
        case weir::csv::Schema::Outcome::Rejected: ctx_.reject(r, reason_); continue;
        case weir::csv::Schema::Outcome::Decoded: break;
      }
      weir::RecordBuilder o = b.add();
      o.key(r.key()).event_time_ns(event_time);
      o.raw()->position = r.position();
      // One arena copy of the line; string fields point into it.
      weir_str copy{nullptr, 0};
      if (has_strings_) copy = o.copy(line);
      if (keep_payload_) o.raw()->payload = input_field_.empty() && has_strings_ ? copy : o.copy(r.payload());
      auto fields = o.fields(n);
      for (uint32_t i = 0; i < n; ++i) {
        // Copied into the field, then its string moved to the copy, there: a
        // value patched on the stack and then copied whole is read back before
        // the patch has left the store buffer, and the CPU waits for it (perf:
        // three quarters of this function's time).
        weir_field& f = fields[i];
        f.name = names_[i];
        f.value = values_[i];
        if (f.value.type == WEIR_STRING)
          f.value.as.str.data = f.value.as.str.size == 0 ? nullptr : copy.data + (f.value.as.str.data - line.data());
      }
    }
    if (skipped_ != skipped_before) ctx_.gauge("csv_skipped_lines", "", static_cast<double>(skipped_));
    return ctx_.emit(out_, b) == WEIR_STOPPING ? WEIR_STOPPING : WEIR_OK;
  }

 private:
  weir::Context ctx_;
  weir::csv::Schema schema_;
  bool keep_payload_ = false, has_strings_ = false;
  std::string input_field_;
  int32_t out_ = -1;
  std::vector<weir_str> names_;
  std::vector<weir_value> values_;
  std::string reason_;
  uint64_t skipped_ = 0;
};

}  // namespace

WEIR_PLUGIN(CsvDecode, (weir::PluginInfo{
                           .name = "csv_decode",
                           .version = "1.1.0",
                           .description = "decodes delimited text lines into typed fields by a declared schema",
                           .kind = WEIR_OPERATOR,
                           .flags = WEIR_FLAG_SETS_EVENT_TIME,  // from event_time_field: not its input's time
                           .inputs = kInputs,
                           .outputs = kOutputs,
                           .params = kParams,
                       }))
