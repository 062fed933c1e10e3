// file_sink — appends records to a file, as JSON lines or raw payload lines.
// A batch is acknowledged after it is written and (optionally) fsync'ed.
#include <weir/json.hpp>
#include <weir/sdk.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to write"}};
const weir_param_spec kParams[] = {
    {"path", WEIR_PARAM_STRING, nullptr, 1, nullptr, "file to append to (created if missing)"},
    {"format", WEIR_PARAM_STRING, "\"json\"", 0, nullptr, "json (one object per line) or payload (raw payload + newline)"},
    {"metadata", WEIR_PARAM_BOOL, "false", 0, nullptr, "json: add _time, _partition and _offset"},
    {"fsync", WEIR_PARAM_BOOL, "false", 0, nullptr, "fsync after every batch before acknowledging it"},
};

class FileSink : public weir::Plugin {
 public:
  FileSink(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), path_(p.str("path")), format_(p.str("format")), metadata_(p.boolean("metadata")), fsync_(p.boolean("fsync")) {
    if (format_ != "json" && format_ != "payload") throw weir::ConfigError("format must be \"json\" or \"payload\", not \"" + format_ + "\"");
    if (path_.empty()) throw weir::ConfigError("path must not be empty");
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  weir_status open() override {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      ctx_.error_log("cannot open " + path_ + ": " + std::strerror(errno));
      return WEIR_FAILED;
    }
    return WEIR_OK;
  }

  weir_status write(weir::Batch in) override {
    std::string out;
    for (weir::Record r : in) {
      if (format_ == "json") out += weir::to_json(r, metadata_);
      else out += r.payload();
      out += '\n';
    }
    // A short or failed write is retried as a whole by the host: at-least-once.
    size_t done = 0;
    while (done < out.size()) {
      ssize_t w = ::write(fd_, out.data() + done, out.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        ctx_.warn("write to " + path_ + " failed: " + std::strerror(errno));
        return WEIR_RETRY;
      }
      done += static_cast<size_t>(w);
    }
    if (fsync_ && ::fsync(fd_) != 0) return WEIR_RETRY;
    return WEIR_OK;
  }

 private:
  weir::Context ctx_;
  std::string path_, format_;
  bool metadata_, fsync_;
  int fd_ = -1;
};

}  // namespace

WEIR_PLUGIN(FileSink, (weir::PluginInfo{
                          .name = "file_sink",
                          .version = "1.0.0",
                          .description = "appends records to a file as JSON lines or raw payloads",
                          .kind = WEIR_SINK,
                          .inputs = kInputs,
                          .params = kParams,
                      }))
