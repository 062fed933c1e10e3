#include "systemd.hpp"

#include <weir/abi.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef WEIR_HAVE_LIBSYSTEMD
#include <syslog.h>
#define SD_JOURNAL_SUPPRESS_LOCATION  // CODE_FILE/CODE_LINE would name this file, not the logging code
#include <systemd/sd-journal.h>
#endif

namespace weir::systemd {

// The notify protocol is one datagram on a unix socket, documented as stable
// (sd_notify(3)); sent here rather than through libsystemd so that the unit's
// Type=notify works in a build without libsystemd too.
void notify(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
}

#ifdef WEIR_HAVE_LIBSYSTEMD
namespace {

// systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connects to stderr;
// a redirected stderr (a file, a pipe) no longer matches it.
bool stderr_is_journal() {
  static const bool yes = [] {
    const char* stream = std::getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st{};
    return stream && std::sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           st.st_dev == dev && st.st_ino == ino;
  }();
  return yes;
}

int priority(int level) {
  switch (level) {
    case WEIR_LOG_DEBUG: return LOG_DEBUG;
    case WEIR_LOG_INFO: return LOG_INFO;
    case WEIR_LOG_WARN: return LOG_WARNING;
    default: return LOG_ERR;
  }
}

}  // namespace

bool journal(const std::string& node, int level, const std::string& message) {
  if (!stderr_is_journal()) return false;
  std::string text = node.empty() ? message : "[" + node + "] " + message;
  int rc = node.empty() ? sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", priority(level), "SYSLOG_IDENTIFIER=weir", nullptr)
                        : sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", priority(level), "SYSLOG_IDENTIFIER=weir",
                                          "WEIR_NODE=%s", node.c_str(), nullptr);
  return rc >= 0;
}
#else
bool journal(const std::string&, int, const std::string&) { return false; }
#endif

}  // namespace weir::systemd
