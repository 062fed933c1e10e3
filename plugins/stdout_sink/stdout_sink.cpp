// stdout_sink — every record as one JSON line on standard output.
#include <weir/json.hpp>
#include <weir/sdk.hpp>

#include <cstdio>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to print"}};
const weir_param_spec kParams[] = {
    {"metadata", WEIR_PARAM_BOOL, "false", 0, nullptr, "add _time, _partition and _offset to each line"},
};

class StdoutSink : public weir::Plugin {
 public:
  StdoutSink(weir::Context, const weir::Params& p) : metadata_(p.boolean("metadata")) {}
  weir_status write(weir::Batch in) override {
    std::string out;
    for (weir::Record r : in) out += weir::to_json(r, metadata_) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return std::fflush(stdout) == 0 ? WEIR_OK : WEIR_RETRY;
  }

 private:
  bool metadata_;
};

}  // namespace

WEIR_PLUGIN(StdoutSink, (weir::PluginInfo{
                            .name = "stdout_sink",
                            .version = "1.0.0",
                            .description = "prints records as JSON lines on stdout",
                            .kind = WEIR_SINK,
                            .inputs = kInputs,
                            .params = kParams,
                        }))
