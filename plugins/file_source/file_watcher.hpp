// Which files to follow, and when to look again (file_source).
//
// list() expands the globs (glob(3)), drops what an exclude pattern matches
// (fnmatch(3) on the whole path when the pattern has a '/', else on the file
// name) and keeps regular files, each once. inotify on the globs' directories
// (those without wildcards) only says *when* to look: a change to a file name
// (IN_MODIFY), or a file created, moved or deleted (a rescan). The source
// also looks every poll_interval_ms, so a file system without inotify (NFS),
// a wildcard directory or a lost event costs latency, never lines.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weir::file_source {

class FileWatcher {
 public:
  FileWatcher(std::vector<std::string> paths, std::vector<std::string> excludes);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Starts inotify (false: not available; polling only).
  bool start_inotify();
  // Every path the globs match now, sorted, excluded ones dropped.
  std::vector<std::string> list() const;

  // Waits up to TIMEOUT for an event (no inotify: just sleeps), then drains them.
  void wait(std::chrono::milliseconds timeout);
  // Drains pending events without waiting.
  void drain();
  // What the events said since the last take: paths modified; whether a rescan is due.
  std::set<std::string> take_modified() { return std::exchange(modified_, {}); }
  bool take_rescan() { return std::exchange(rescan_, false); }

 private:
  bool excluded(const std::string& path) const;
  void read_events();

  std::vector<std::string> paths_, excludes_;
  int inotify_ = -1;
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> directory
  std::set<std::string> modified_;
  bool rescan_ = false;
};

}  // namespace weir::file_source
