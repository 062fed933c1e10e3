// The driving log as files, as the original DriverLogMain wrote it
// (.../driver-realtime-log/SmartCarDriverInfo.log), for `weir-loggen --output DIR`.
//
// Rotation by rename, like log4j: once the file reaches rotate_bytes (or is
// rotate_seconds old), SmartCarDriverInfo.log becomes SmartCarDriverInfo.log.<n>
// (n counting up: no renames of older files) and a new SmartCarDriverInfo.log
// is opened. keep > 0 deletes the oldest rotated files beyond that many.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace weir::loggen {

struct LogFilesOptions {
  std::string dir;
  std::string name = "SmartCarDriverInfo.log";
  int64_t rotate_bytes = 0;    // 0 = no size limit
  int64_t rotate_seconds = 0;  // 0 = no age limit (wall-clock seconds)
  int64_t keep = 0;            // rotated files kept; 0 = all
};

class LogFiles {
 public:
  explicit LogFiles(LogFilesOptions o);  // throws std::runtime_error (cannot create the directory or file)
  ~LogFiles();
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;

  // One line (a newline is added). False on a write error.
  bool write(std::string_view line);
  bool flush();
  std::string path() const { return o_.dir + "/" + o_.name; }
  int64_t rotations() const { return rotations_; }

 private:
  void open_current();
  bool rotate();

  LogFilesOptions o_;
  std::FILE* f_ = nullptr;
  int64_t bytes_ = 0;
  std::chrono::steady_clock::time_point opened_;
  int64_t next_index_ = 1;  // of the next rotated file
  int64_t rotations_ = 0;
};

}  // namespace weir::loggen
