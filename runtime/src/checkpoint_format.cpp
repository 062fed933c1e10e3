#include "checkpoint_format.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace weir {

namespace fs = std::filesystem;

static constexpr std::string_view kMagic = "weir-checkpoint 1";

// FNV-1a, 64 bits: no table, and enough to tell a damaged file (a flipped byte,
// a cut) from a good one. Not a defence against someone forging a file.
static uint64_t fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

static std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string serialize_checkpoint(const CheckpointData& d) {
  std::string head = std::string(kMagic) + "\nplugin " + d.plugin + '\n';
  for (auto [partition, offset] : d.positions) head += "position " + std::to_string(partition) + ' ' + std::to_string(offset) + '\n';
  for (auto [partition, ns] : d.watermarks) head += "watermark " + std::to_string(partition) + ' ' + std::to_string(ns) + '\n';
  std::string out = head + "checksum " + hex(fnv1a(d.state, fnv1a(head))) + '\n';
  out += "state " + std::to_string(d.state.size()) + '\n';
  out += d.state;
  return out;
}

std::optional<CheckpointData> parse_checkpoint(std::string_view bytes, const std::string& name, std::string& error) {
  error.clear();
  auto bad = [&](const std::string& what) {
    error = name + ": not a usable checkpoint (" + what + "); move it away to start with empty state";
    return std::nullopt;
  };
  CheckpointData d;
  size_t at = 0;
  std::optional<std::string> checksum;
  size_t head_end = 0;  // bytes the checksum covers before the state
  for (bool first = true;; first = false) {
    size_t eol = bytes.find('\n', at);
    if (eol == std::string_view::npos) return bad(first ? "first line is not '" + std::string(kMagic) + "'" : "no state");
    std::string line(bytes.substr(at, eol - at));
    size_t next = eol + 1;
    if (first) {
      if (line != kMagic) return bad("first line is not '" + std::string(kMagic) + "'");
      at = next;
      continue;
    }
    std::istringstream fields(line);
    std::string word;
    fields >> word;
    if (word == "plugin") {
      fields >> d.plugin;
    } else if (word == "position" || word == "watermark") {
      int32_t partition = 0;
      int64_t value = 0;
      if (!(fields >> partition >> value)) return bad("bad " + word + " line '" + line + "'");
      (word == "position" ? d.positions : d.watermarks)[partition] = value;
    } else if (word == "checksum") {
      std::string value;
      fields >> value;
      checksum = value;
      head_end = at;
    } else if (word == "state") {
      size_t size = 0;
      if (!(fields >> size)) return bad("bad state line '" + line + "'");
      if (bytes.size() - next < size) return bad("state is cut short");
      d.state.assign(bytes.substr(next, size));
      if (bytes.size() - next > size) return bad("bytes after the state");
      if (checksum && *checksum != hex(fnv1a(d.state, fnv1a(bytes.substr(0, head_end)))))
        return bad("checksum mismatch: the checkpoint is damaged");
      return d;
    } else {
      return bad("unexpected line '" + line + "'");
    }
    at = next;
  }
}

std::optional<CheckpointData> read_checkpoint(const std::string& path, std::string& error) {
  error.clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno != ENOENT) error = path + ": cannot be read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_checkpoint(bytes, path, error);
}

static bool sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool write_checkpoint(const std::string& path, const CheckpointData& d, std::string& error) {
  fs::path target(path);
  std::string tmp = path + ".tmp";
  auto failed = [&](const std::string& what) {
    error = what + ": " + std::strerror(errno);
    std::error_code ignored;
    fs::remove(tmp, ignored);  // never leave a half-written file behind
    return false;
  };
  std::error_code dir_error;
  if (target.has_parent_path() && !fs::create_directories(target.parent_path(), dir_error) && dir_error) {
    // Say why (e.g. a read-only file system), not what follows from it ("no such file").
    error = target.parent_path().string() + ": cannot create the directory: " + dir_error.message();
    return false;
  }
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return failed(tmp + ": cannot be created");
    std::string bytes = serialize_checkpoint(d);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return failed(tmp + ": cannot be written");
  }
  // Durable before it replaces the previous one: a power cut leaves one or the other.
  if (!sync_path(tmp, O_RDONLY)) return failed(tmp + ": fsync failed");
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    errno = ec.value();
    return failed(path + ": cannot replace");
  }
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  sync_path(dir.string(), O_RDONLY | O_DIRECTORY);
  return true;
}

}  // namespace weir
