#include "file_watcher.hpp"

#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace weir::file_source {

namespace {

bool has_wildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

FileWatcher::FileWatcher(std::vector<std::string> paths, std::vector<std::string> excludes)
    : paths_(std::move(paths)), excludes_(std::move(excludes)) {}

FileWatcher::~FileWatcher() {
  if (inotify_ >= 0) ::close(inotify_);
}

bool FileWatcher::start_inotify() {
  inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ < 0) return false;
  for (const std::string& p : paths_) {
    size_t slash = p.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
    if (has_wildcard(dir)) continue;  // polled
    int wd = ::inotify_add_watch(inotify_, dir.c_str(),
                                 IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
                                     IN_MOVE_SELF);
    if (wd >= 0) dirs_[wd] = dir;
  }
  return true;
}

bool FileWatcher::excluded(const std::string& path) const {
  std::string name = path.substr(path.rfind('/') + 1);
  for (const std::string& e : excludes_) {
    bool whole = e.find('/') != std::string::npos;
    if (::fnmatch(e.c_str(), whole ? path.c_str() : name.c_str(), whole ? FNM_PATHNAME : 0) == 0) return true;
  }
  return false;
}

std::vector<std::string> FileWatcher::list() const {
  std::set<std::string> out;
  for (const std::string& p : paths_) {
    glob_t g{};
    if (::glob(p.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        std::string path = g.gl_pathv[i];
        struct stat st{};
        if (excluded(path) || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.insert(path);
      }
    }
    ::globfree(&g);
  }
  return {out.begin(), out.end()};
}

void FileWatcher::read_events() {
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(inotify_, buf, sizeof buf);
    if (n <= 0) return;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        rescan_ = true;
        continue;
      }
      auto dir = dirs_.find(ev->wd);
      if (dir == dirs_.end() || ev->len == 0) {
        rescan_ = true;
        continue;
      }
      std::string path = dir->second == "." ? std::string(ev->name) : (dir->second == "/" ? "" : dir->second) + "/" + ev->name;
      if (ev->mask & IN_MODIFY) modified_.insert(path);
      else rescan_ = true;
    }
  }
}

void FileWatcher::drain() {
  if (inotify_ >= 0) read_events();
}

void FileWatcher::wait(std::chrono::milliseconds timeout) {
  if (inotify_ < 0) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  struct pollfd pfd{inotify_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0) read_events();
}

}  // namespace weir::file_source
