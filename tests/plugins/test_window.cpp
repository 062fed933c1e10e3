// test_window — holds every input batch and, every `size` batches, emits one
// summary record (seq = the last seq it covers) and releases the holds: the
// shape of a tumbling window, for checking that a window's inputs stay
// uncommitted until its result is written downstream.
#include <weir/sdk.hpp>

#include <vector>

namespace {

const weir_port_spec kInputs[] = {{"in", "records with field seq"}};
const weir_port_spec kOutputs[] = {{"out", "one summary record per window"}};
const weir_param_spec kParams[] = {
    {"size", WEIR_PARAM_INT, "10", 0, "batches", "input batches per window"},
};

class TestWindow : public weir::Plugin {
 public:
  TestWindow(weir::Context ctx, const weir::Params& p) : ctx_(ctx), size_(p.integer("size")), out_(ctx.port("out")) {}
  weir_status process(uint32_t, weir::Batch in) override {
    holds_.push_back(ctx_.hold());
    if (!in.empty()) last_ = in[in.size() - 1].field("seq")->as.i64;
    if (static_cast<int64_t>(holds_.size()) < size_) return WEIR_OK;
    auto b = ctx_.batch(1);
    b.add().fields(1)[0] = {ctx_.name("seq"), weir::int_value(last_)};
    weir_status st = ctx_.emit(out_, b);
    for (uint64_t token : holds_) ctx_.release(token);  // released after the emit, as cep_rule does
    holds_.clear();
    return st;
  }

 private:
  weir::Context ctx_;
  int64_t size_;
  int32_t out_;
  int64_t last_ = -1;
  std::vector<uint64_t> holds_;
};

}  // namespace

WEIR_PLUGIN(TestWindow, (weir::PluginInfo{.name = "test_window", .version = "1.0.0",
                                          .description = "test: holds inputs, emits one summary per window",
                                          .kind = WEIR_OPERATOR, .inputs = kInputs, .outputs = kOutputs, .params = kParams}))
