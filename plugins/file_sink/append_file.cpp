#include "append_file.hpp"

#include "rotation.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace weir::files {

AppendFile::~AppendFile() { close(); }

bool AppendFile::ensure_open(std::string& error) {
  if (fd_ >= 0) return true;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0 && errno == ENOENT) {  // a directory of a templated path, e.g. logs/20220426/
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  if (fd_ < 0) {
    error = "cannot open " + path_ + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  bytes_ = ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  opened_ = std::chrono::steady_clock::now();
  if (next_index_ == 0) next_index_ = next_rotation_index(path_);
  return true;
}

bool AppendFile::rotate_if_old(std::string& error) {
  bool old = bytes_ > 0 && policy_.seconds > 0 &&
             std::chrono::steady_clock::now() - opened_ >= std::chrono::seconds(policy_.seconds);
  return !old || rotate(error);
}

size_t AppendFile::fitting(const std::vector<size_t>& ends, size_t written) const {
  auto first = std::upper_bound(ends.begin(), ends.end(), written);
  if (first == ends.end()) return written;
  if (policy_.bytes == 0) return ends.back();
  size_t end = written;
  for (auto it = first; it != ends.end() && bytes_ + static_cast<int64_t>(*it - written) <= policy_.bytes; ++it) end = *it;
  if (end == written && bytes_ == 0) end = *first;  // a line longer than the limit goes alone
  return end;
}

bool AppendFile::rotate(std::string& error) {
  if (!rotate_file(path_, next_index_, policy_.keep, error)) return false;
  ++next_index_;
  close();
  return ensure_open(error);
}

bool AppendFile::append(const char* data, size_t size, size_t& written, std::string& error) {
  while (written < size) {
    ssize_t w = ::write(fd_, data + written, size - written);
    if (w < 0) {
      if (errno == EINTR) continue;
      error = "write to " + path_ + " failed: " + std::strerror(errno);
      return false;
    }
    written += static_cast<size_t>(w);
    bytes_ += w;
  }
  return true;
}

bool AppendFile::sync(std::string& error) {
  if (fd_ < 0 || ::fsync(fd_) == 0) return true;
  error = "fsync of " + path_ + " failed: " + std::strerror(errno);
  return false;
}

void AppendFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace weir::files
