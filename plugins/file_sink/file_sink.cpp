// file_sink — appends records to a file, as JSON lines or raw payload lines.
// A request (the records the host gathered, <weir/delivery.hpp>) is encoded
// into its lines once, and acknowledged after they are written and (optionally)
// fsync'ed; the host retries a failed write with its backoff.
// With rotate_bytes / rotate_seconds the file is renamed to PATH.<n> between two
// lines (rotation.hpp) and a new one opened.
#include "rotation.hpp"

#include <weir/delivery.hpp>
#include <weir/json.hpp>
#include <weir/sdk.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to write"}};
const weir_param_spec kOwnParams[] = {
    {"path", WEIR_PARAM_STRING, nullptr, 1, nullptr, "file to append to (created if missing)"},
    {"format", WEIR_PARAM_STRING, "\"json\"", 0, nullptr, "json (one object per line) or payload (raw payload + newline)"},
    {"metadata", WEIR_PARAM_BOOL, "false", 0, nullptr, "json: add _time, _partition and _offset"},
    {"fsync", WEIR_PARAM_BOOL, "false", 0, nullptr, "fsync after every batch before acknowledging it"},
    {"rotate_bytes", WEIR_PARAM_INT, "0", 0, "bytes",
     "before a line that would take the file past this size, rename it to <path>.<n> and start a new one; 0 = never"},
    {"rotate_seconds", WEIR_PARAM_INT, "0", 0, "s", "the same once the file is this old (since it was opened); 0 = never"},
    {"keep", WEIR_PARAM_INT, "0", 0, "files", "rotated files kept (the oldest beyond are deleted); 0 = all"},
};
constexpr auto kParams = weir::with_delivery_params(kOwnParams);

// The lines of a request, and how far they are written: a send after a
// failure goes on from there (within this process, nothing is written twice).
struct Lines : weir::SinkRequest {
  std::string bytes;
  std::vector<size_t> ends;  // where each record's line ends in bytes
  size_t written = 0;
};

class FileSink : public weir::Sink {
 public:
  FileSink(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), path_(p.str("path")), format_(p.str("format")), metadata_(p.boolean("metadata")), fsync_(p.boolean("fsync")) {
    if (format_ != "json" && format_ != "payload") throw weir::ConfigError("format must be \"json\" or \"payload\", not \"" + format_ + "\"");
    if (path_.empty()) throw weir::ConfigError("path must not be empty");
    rotate_bytes_ = p.integer("rotate_bytes");
    rotate_seconds_ = p.integer("rotate_seconds");
    keep_ = p.integer("keep");
    if (rotate_bytes_ < 0 || rotate_seconds_ < 0 || keep_ < 0) throw weir::ConfigError("rotate_bytes, rotate_seconds and keep must be >= 0");
  }
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  weir_status open() override {
    if (!open_file()) {
      ctx_.error_log("cannot open " + path_ + ": " + std::strerror(errno));
      return WEIR_FAILED;
    }
    next_index_ = weir::files::next_rotation_index(path_);
    return WEIR_OK;
  }

  std::unique_ptr<weir::SinkRequest> encode(weir::Batch in) override {
    auto lines = std::make_unique<Lines>();
    for (weir::Record r : in) {
      if (format_ == "json") lines->bytes += weir::to_json(r, metadata_);
      else lines->bytes += r.payload();
      lines->bytes += '\n';
      lines->ends.push_back(lines->bytes.size());
    }
    return lines;
  }

  weir_status send(weir::SinkRequest& request, std::string& reason) override {
    auto& lines = static_cast<Lines&>(request);
    if (fd_ < 0 && !open_file()) {  // a rotation could not open the new file
      reason = "cannot open " + path_ + ": " + std::strerror(errno);
      return WEIR_RETRY;
    }
    if (old() && !rotate(reason)) return WEIR_RETRY;
    while (lines.written < lines.bytes.size()) {
      size_t end = fitting(lines);
      if (end == lines.written) {  // the next line would take the file past rotate_bytes
        if (!rotate(reason)) return WEIR_RETRY;
        continue;
      }
      if (!write_out(lines, end, reason)) return WEIR_RETRY;
    }
    if (fsync_ && ::fsync(fd_) != 0) {
      reason = "fsync of " + path_ + " failed: " + std::strerror(errno);
      return WEIR_RETRY;
    }
    return WEIR_OK;
  }

 private:
  bool open_file() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st {};
    bytes_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? st.st_size : 0;
    opened_ = std::chrono::steady_clock::now();
    return fd_ >= 0;
  }
  bool old() const {
    return bytes_ > 0 && rotate_seconds_ > 0 && std::chrono::steady_clock::now() - opened_ >= std::chrono::seconds(rotate_seconds_);
  }
  // Where the lines from lines.written that fit in the current file end
  // (rotate_bytes): whole lines only, and at least one in an empty file.
  size_t fitting(const Lines& lines) const {
    if (rotate_bytes_ == 0) return lines.bytes.size();
    auto first = std::upper_bound(lines.ends.begin(), lines.ends.end(), lines.written);
    size_t end = lines.written;
    for (auto it = first; it != lines.ends.end() && bytes_ + static_cast<int64_t>(*it - lines.written) <= rotate_bytes_; ++it)
      end = *it;
    if (end == lines.written && bytes_ == 0 && first != lines.ends.end()) end = *first;  // a line longer than the limit
    return end;
  }
  // Bytes [lines.written, END) to the file; a short write goes on, a failed one is reported.
  bool write_out(Lines& lines, size_t end, std::string& reason) {
    while (lines.written < end) {
      ssize_t w = ::write(fd_, lines.bytes.data() + lines.written, end - lines.written);
      if (w < 0) {
        if (errno == EINTR) continue;
        reason = "write to " + path_ + " failed: " + std::strerror(errno);
        return false;
      }
      lines.written += static_cast<size_t>(w);
      bytes_ += w;
    }
    return true;
  }
  // The rest goes to a new file; a failure is retried with the request.
  bool rotate(std::string& reason) {
    if (!weir::files::rotate_file(path_, next_index_, keep_, reason)) return false;
    ++next_index_;
    ::close(fd_);
    if (!open_file()) {
      reason = "cannot open " + path_ + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }

  weir::Context ctx_;
  std::string path_, format_;
  bool metadata_, fsync_;
  int fd_ = -1;
  int64_t rotate_bytes_ = 0, rotate_seconds_ = 0, keep_ = 0, bytes_ = 0, next_index_ = 1;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace

WEIR_PLUGIN(FileSink, (weir::PluginInfo{
                          .name = "file_sink",
                          .version = "1.1.0",
                          .description = "appends records to a file as JSON lines or raw payloads",
                          .kind = WEIR_SINK,
                          .inputs = kInputs,
                          .params = kParams,
                      }))
