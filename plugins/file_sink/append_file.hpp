// One file file_sink appends to: its descriptor, size and age, and its rotation
// (rotation.hpp). Opened on first use; the directories above it are created.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::files {

struct RotationPolicy {
  int64_t bytes = 0;    // 0 = never
  int64_t seconds = 0;  // 0 = never
  int64_t keep = 0;     // rotated files kept; 0 = all
};

class AppendFile {
 public:
  AppendFile(std::string path, RotationPolicy policy) : path_(std::move(path)), policy_(policy) {}
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  const std::string& path() const { return path_; }
  // Opens (creating the file and its directories) unless open. False with ERROR.
  bool ensure_open(std::string& error);
  // Rotates first if the file is older than policy.seconds. False with ERROR.
  bool rotate_if_old(std::string& error);
  // Lines end at ENDS (ascending offsets in one buffer) and the buffer is
  // written up to WRITTEN: where the lines that fit before rotate_bytes end
  // (whole lines, at least one in an empty file; WRITTEN when none fits).
  size_t fitting(const std::vector<size_t>& ends, size_t written) const;
  // The file goes to PATH.<n> and a new one is opened. False with ERROR.
  bool rotate(std::string& error);
  // Appends [DATA, DATA + SIZE); WRITTEN counts what reached the file, also on failure.
  bool append(const char* data, size_t size, size_t& written, std::string& error);
  bool sync(std::string& error);
  void close();

 private:
  std::string path_;
  RotationPolicy policy_;
  int fd_ = -1;
  int64_t bytes_ = 0;
  int64_t next_index_ = 0;  // 0: not looked up yet
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace weir::files
