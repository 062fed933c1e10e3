// passthrough — forwards every batch unchanged (shared, not copied). Useful to
// measure per-hop cost and as the smallest operator to hot-swap.
#include <weir/sdk.hpp>

namespace {

const weir_port_spec kInputs[] = {{"in", "any records"}};
const weir_port_spec kOutputs[] = {{"out", "the same records"}};

class Passthrough : public weir::Plugin {
 public:
  Passthrough(weir::Context ctx, const weir::Params&) : ctx_(ctx), out_(ctx.port("out")) {}
  weir_status process(uint32_t, weir::Batch in) override { return ctx_.forward(out_, in); }

 private:
  weir::Context ctx_;
  int32_t out_;
};

}  // namespace

WEIR_PLUGIN(Passthrough, (weir::PluginInfo{
                             .name = "passthrough",
                             .version = "1.0.0",
                             .description = "forwards records unchanged",
                             .kind = WEIR_OPERATOR,
                             .inputs = kInputs,
                             .outputs = kOutputs,
                         }))
