// stdout_sink — every record as one JSON line on standard output.
#include <weir/json.hpp>
#include <weir/sdk.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to print"}};
const weir_param_spec kParams[] = {
    {"metadata", WEIR_PARAM_BOOL, "false", 0, nullptr, "add _time, _partition and _offset to each line"},
};

class StdoutSink : public weir::Plugin {
 public:
  StdoutSink(weir::Context ctx, const weir::Params& p) : ctx_(ctx), metadata_(p.boolean("metadata")) {}
  weir_status write(weir::Batch in) override {
    std::string out;
    for (weir::Record r : in) out += weir::to_json(r, metadata_) + "\n";
    errno = 0;
    // A large write bypasses stdio's buffer: its failure shows in fwrite's count, not in fflush.
    bool written = std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
    if (std::fflush(stdout) == 0 && written) return WEIR_OK;
    int err = errno;
    std::clearerr(stdout);
    // The reader of a pipe is gone for good (`weir run ... | head`): nothing
    // written from now on can be read, so stop rather than retry for ever.
    if (err == EPIPE) {
      ctx_.error_log("stdout is closed (its reader has gone): cannot write the remaining records");
      return WEIR_FAILED;
    }
    ctx_.warn(std::string("write to stdout failed: ") + std::strerror(err));
    return WEIR_RETRY;
  }

 private:
  weir::Context ctx_;
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
