// null_sink — acknowledges and discards every record (benchmarks, tests).
#include <weir/sdk.hpp>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to discard"}};

class NullSink : public weir::Plugin {
 public:
  NullSink(weir::Context, const weir::Params&) {}
  weir_status write(weir::Batch) override { return WEIR_OK; }
};

}  // namespace

WEIR_PLUGIN(NullSink, (weir::PluginInfo{
                          .name = "null_sink",
                          .version = "1.0.0",
                          .description = "discards records (and acknowledges them)",
                          .kind = WEIR_SINK,
                          .inputs = kInputs,
                      }))
