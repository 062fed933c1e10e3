#include "position_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weir::file_source {

namespace {

constexpr const char* kHeader = "weir-file-positions 1";

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<std::vector<SavedPosition>> read_positions(const std::string& path, std::string& error) {
  error.clear();
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT) error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::string line;
  auto bad = [&](int n, const std::string& why) {
    error = path + ":" + std::to_string(n) + ": not a file_source positions file (" + why + "); move it away to start afresh";
    return std::nullopt;
  };
  if (!std::getline(in, line) || line != kHeader) return bad(1, "the first line must be \"" + std::string(kHeader) + "\"");
  std::vector<SavedPosition> out;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    SavedPosition p;
    char fp[17] = {};
    int used = 0;
    if (std::sscanf(line.c_str(), "%" SCNu64 " %" SCNu64 " %" SCNu32 " %16[0-9a-f] %" SCNd64 " %n", &p.dev, &p.ino,
                    &p.fingerprint_length, fp, &p.offset, &used) != 5 ||
        std::strlen(fp) != 16 || p.offset < 0)
      return bad(n, "expected <dev> <inode> <fingerprint length> <fingerprint> <offset> <path>");
    p.fingerprint = std::strtoull(fp, nullptr, 16);
    p.path = line.substr(static_cast<size_t>(used));
    out.push_back(std::move(p));
  }
  return out;
}

bool write_positions(const std::string& path, const std::vector<SavedPosition>& positions, std::string& error) {
  std::ostringstream text;
  text << kHeader << '\n';
  char buf[128];
  for (const SavedPosition& p : positions) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %" PRIu32 " %016" PRIx64 " %" PRId64 " ", p.dev, p.ino,
                  p.fingerprint_length, p.fingerprint, p.offset);
    text << buf << p.path << '\n';
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = write_all(fd, text.str()) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    error = path + ": " + std::strerror(saved);
    return false;
  }
  int dir = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace weir::file_source
