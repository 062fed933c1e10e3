// hello — an operator that adds a greeting field to every record.
#include <weir/sdk.hpp>

namespace {

const weir_port_spec kInputs[] = {{"in", "any records"}};
const weir_port_spec kOutputs[] = {{"out", "the records with a `greeting` field added"}};
const weir_param_spec kParams[] = {
    {"greeting", WEIR_PARAM_STRING, "\"hello\"", 0, nullptr, "text of the greeting field"},
};

class Hello : public weir::Plugin {
 public:
  Hello(weir::Context ctx, const weir::Params& p) : ctx_(ctx), text_(p.str("greeting")) {
    if (text_.empty()) throw weir::ConfigError("greeting must not be empty");
    out_ = ctx_.port("out");
    name_ = ctx_.name("greeting");
  }

  weir_status process(uint32_t, weir::Batch in) override {
    weir::BatchBuilder out = ctx_.batch(in.size());
    for (weir::Record r : in) {
      weir::RecordBuilder b = out.add();
      b.copy_meta(r);
      auto fields = b.fields(static_cast<uint32_t>(r.fields().size()) + 1);
      for (size_t i = 0; i < r.fields().size(); ++i) fields[i] = {r.fields()[i].name, b.own(r.fields()[i].value)};
      fields.back() = {name_, weir::string_value(b.copy(text_))};
    }
    return ctx_.emit(out_, out);
  }

 private:
  weir::Context ctx_;
  std::string text_;
  int32_t out_;
  weir_str name_;
};

}  // namespace

WEIR_PLUGIN(Hello, (weir::PluginInfo{
                       .name = "hello",
                       .version = "1.0.0",
                       .description = "adds a greeting field to every record",
                       .kind = WEIR_OPERATOR,
                       .inputs = kInputs,
                       .outputs = kOutputs,
                       .params = kParams,
                   }))
