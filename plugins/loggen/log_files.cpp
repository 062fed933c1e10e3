#include "log_files.hpp"

#include <rotation.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace weir::loggen {

namespace fs = std::filesystem;

LogFiles::LogFiles(LogFilesOptions o) : o_(std::move(o)) {
  std::error_code ec;
  fs::create_directories(o_.dir, ec);
  if (ec) throw std::runtime_error("cannot create " + o_.dir + ": " + ec.message());
  next_index_ = weir::files::next_rotation_index(path());  // after the rotated files a previous run left
  open_current();
}

LogFiles::~LogFiles() {
  if (f_) std::fclose(f_);
}

void LogFiles::open_current() {
  f_ = std::fopen(path().c_str(), "ae");
  if (!f_) throw std::runtime_error("cannot open " + path() + ": " + std::strerror(errno));
  static thread_local char buf[1 << 16];
  std::setvbuf(f_, buf, _IOFBF, sizeof buf);
  struct stat st {};
  bytes_ = ::stat(path().c_str(), &st) == 0 ? st.st_size : 0;
  opened_ = std::chrono::steady_clock::now();
}

bool LogFiles::rotate() {
  if (std::fclose(f_) != 0) return false;
  f_ = nullptr;
  std::string error;
  if (!weir::files::rotate_file(path(), next_index_++, o_.keep, error)) return false;
  ++rotations_;
  open_current();
  return true;
}

bool LogFiles::write(std::string_view line) {
  bool full = o_.rotate_bytes > 0 && bytes_ > 0 && bytes_ + static_cast<int64_t>(line.size()) + 1 > o_.rotate_bytes;
  bool old = o_.rotate_seconds > 0 && bytes_ > 0 &&
             std::chrono::steady_clock::now() - opened_ >= std::chrono::seconds(o_.rotate_seconds);
  if ((full || old) && !rotate()) return false;
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fputc('\n', f_) == EOF) return false;
  bytes_ += static_cast<int64_t>(line.size()) + 1;
  return true;
}

bool LogFiles::flush() { return std::fflush(f_) == 0; }

}  // namespace weir::loggen
