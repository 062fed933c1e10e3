// weir run under systemd's Type=notify: READY=1 reaches $NOTIFY_SOCKET once
// every node is open and running, and never for a pipeline that did not start.
// (The journal side is tests/runtime/journal_test.py.)
#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>

namespace weir::testing {
namespace {

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

// A datagram socket standing in for the service manager's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool bound() const { return bound_; }
  // Every message received so far, one per line.
  std::string messages() const {
    std::string out;
    char buf[256];
    for (ssize_t n; (n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0;) out += std::string(buf, static_cast<size_t>(n)) + "\n";
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(Systemd, RunTellsTheServiceManagerItIsReady) {
  TempDir dir;
  NotifySocket sock(dir.file("notify"));
  ASSERT_TRUE(sock.bound()) << std::strerror(errno);
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 100\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen\"]\n");
  auto r = run_weir("run " + file + " --no-progress", kEnv + " NOTIFY_SOCKET=" + dir.file("notify"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sock.messages(), "READY=1\n");
}

TEST(Systemd, NoReadyWhenANodeCannotOpen) {
  TempDir dir;
  NotifySocket sock(dir.file("notify"));
  ASSERT_TRUE(sock.bound()) << std::strerror(errno);
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 100\n"
                               "[nodes.out]\nplugin = \"test_sink\"\ninputs = [\"gen\"]\npath = \"" +
                                   dir.file("missing/dir/out") + "\"\n");
  auto r = run_weir("run " + file + " --no-progress", kEnv + " NOTIFY_SOCKET=" + dir.file("notify"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(sock.messages(), "");
}

}  // namespace
}  // namespace weir::testing
