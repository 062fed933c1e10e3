// file_sink — appends records to a file, as JSON lines or raw payload lines.
// A request (the records the host gathered, <weir/delivery.hpp>) is encoded
// into its lines once, and acknowledged after they are written and (optionally)
// fsync'ed; the host retries a failed write with its backoff.
// The path may be a template (<weir/template.hpp>): each record goes to the
// file its path renders to, e.g. one file per day.
// With rotate_bytes / rotate_seconds a file is renamed to PATH.<n> between two
// lines (rotation.hpp) and a new one opened.
#include "append_file.hpp"

#include <weir/delivery.hpp>
#include <weir/json.hpp>
#include <weir/sdk.hpp>
#include <weir/template.hpp>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to write"}};
const weir_param_spec kOwnParams[] = {
    {"path", WEIR_PARAM_STRING, nullptr, 1, weir::kTemplateUnit,
     "file to append to (created if missing), or a template giving one per record: \"logs/{_time|date('%Y%m%d')}.log\""},
    {"format", WEIR_PARAM_STRING, "\"json\"", 0, nullptr, "json (one object per line) or payload (raw payload + newline)"},
    {"metadata", WEIR_PARAM_BOOL, "false", 0, nullptr, "json: add _time, _partition and _offset"},
    {"fsync", WEIR_PARAM_BOOL, "false", 0, nullptr, "fsync after every batch before acknowledging it"},
    {"rotate_bytes", WEIR_PARAM_INT, "0", 0, "bytes",
     "before a line that would take the file past this size, rename it to <path>.<n> and start a new one; 0 = never"},
    {"rotate_seconds", WEIR_PARAM_INT, "0", 0, "s", "the same once the file is this old (since it was opened); 0 = never"},
    {"keep", WEIR_PARAM_INT, "0", 0, "files", "rotated files kept (the oldest beyond are deleted); 0 = all"},
    {"open_files", WEIR_PARAM_INT, "64", 0, "files", "a templated path: files kept open at once (the least recently written is closed)"},
};
constexpr auto kParams = weir::with_delivery_params(kOwnParams);

// The lines of a request for one file, and how far they are written: a send
// after a failure goes on from there (within this process, nothing is written twice).
struct Part {
  std::string path;
  std::string bytes;
  std::vector<size_t> ends;  // where each record's line ends in bytes
  size_t written = 0;
};

// A request: its lines, by the file they go to.
struct Lines : weir::SinkRequest {
  std::vector<Part> parts;
};

class FileSink : public weir::Sink {
 public:
  FileSink(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), format_(p.str("format")), metadata_(p.boolean("metadata")), fsync_(p.boolean("fsync")) {
    if (format_ != "json" && format_ != "payload") throw weir::ConfigError("format must be \"json\" or \"payload\", not \"" + format_ + "\"");
    std::string path = p.str("path");
    if (path.empty()) throw weir::ConfigError("path must not be empty");
    try {
      path_ = weir::Template::compile(path);
    } catch (const weir::TemplateError& e) {
      throw weir::ConfigError("path: template \"" + path + "\", " + e.what());
    }
    rotation_ = {p.integer("rotate_bytes"), p.integer("rotate_seconds"), p.integer("keep")};
    if (rotation_.bytes < 0 || rotation_.seconds < 0 || rotation_.keep < 0)
      throw weir::ConfigError("rotate_bytes, rotate_seconds and keep must be >= 0");
    open_files_ = static_cast<size_t>(p.integer("open_files"));
    if (open_files_ < 1) throw weir::ConfigError("open_files must be >= 1");
  }

  // A fixed path is opened now, so a wrong one fails the start.
  weir_status open() override {
    if (!path_->constant()) return WEIR_OK;
    std::string error;
    if (!file(path_->constant_text()).ensure_open(error)) {
      ctx_.error_log(error);
      return WEIR_FAILED;
    }
    return WEIR_OK;
  }

  std::unique_ptr<weir::SinkRequest> encode(weir::Batch in) override {
    auto lines = std::make_unique<Lines>();
    std::map<std::string, size_t, std::less<>> part_of;  // path -> index in lines->parts
    std::string path, why;
    for (weir::Record r : in) {
      path.clear();
      if (!path_->render(r, path, why)) {
        ctx_.reject(r, "path " + path_->text() + ": " + why);
        continue;
      }
      auto it = part_of.find(path);
      if (it == part_of.end()) {
        it = part_of.emplace(path, lines->parts.size()).first;
        lines->parts.push_back({path, {}, {}, 0});
      }
      Part& part = lines->parts[it->second];
      if (format_ == "json") part.bytes += weir::to_json(r, metadata_);
      else part.bytes += r.payload();
      part.bytes += '\n';
      part.ends.push_back(part.bytes.size());
    }
    if (lines->parts.empty()) return nullptr;
    return lines;
  }

  weir_status send(weir::SinkRequest& request, std::string& reason) override {
    for (Part& part : static_cast<Lines&>(request).parts) {
      weir::files::AppendFile& f = file(part.path);
      if (!f.ensure_open(reason) || !f.rotate_if_old(reason)) return WEIR_RETRY;
      while (part.written < part.bytes.size()) {
        size_t end = f.fitting(part.ends, part.written);
        if (end == part.written) {  // the next line would take the file past rotate_bytes
          if (!f.rotate(reason)) return WEIR_RETRY;
          continue;
        }
        size_t done = part.written;
        bool ok = f.append(part.bytes.data(), end, done, reason);
        part.written = done;
        if (!ok) return WEIR_RETRY;
      }
      if (fsync_ && !f.sync(reason)) return WEIR_RETRY;
    }
    return WEIR_OK;
  }

 private:
  // The file of PATH, most recently used first; beyond open_files the least
  // recently used is closed (it reopens, appending, when written again).
  weir::files::AppendFile& file(const std::string& path) {
    for (auto it = files_.begin(); it != files_.end(); ++it)
      if (it->path() == path) {
        files_.splice(files_.begin(), files_, it);
        return files_.front();
      }
    files_.emplace_front(path, rotation_);
    if (files_.size() > open_files_) files_.pop_back();
    return files_.front();
  }

  weir::Context ctx_;
  std::optional<weir::Template> path_;
  std::string format_;
  bool metadata_, fsync_;
  weir::files::RotationPolicy rotation_;
  size_t open_files_ = 64;
  std::list<weir::files::AppendFile> files_;
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
