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

// Runs generator -> SINK (a node table's body) with $NOTIFY_SOCKET set; the messages it got.
std::string notifications(const std::string& sink, int expected_exit) {
  TempDir dir;
  NotifySocket sock(dir.file("notify"));
  EXPECT_TRUE(sock.bound()) << std::strerror(errno);
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = 100\n[nodes.out]\ninputs = [\"gen\"]\n" + sink);
  auto r = run_weir("run " + file + " --no-progress", kEnv + " NOTIFY_SOCKET=" + dir.file("notify"));
  EXPECT_EQ(r.exit_code, expected_exit) << r.err;
  return sock.messages();
}

TEST(Systemd, RunTellsTheServiceManagerItIsReady) {
  EXPECT_EQ(notifications("plugin = \"null_sink\"\n", 0), "READY=1\n");
}

TEST(Systemd, NoReadyWhenANodeCannotOpen) {
  TempDir dir;  // test_sink cannot open a file in a directory that does not exist
  EXPECT_EQ(notifications("plugin = \"test_sink\"\npath = \"" + dir.file("missing/dir/out") + "\"\n", 1), "");
}

}  // namespace
}  // namespace weir::testing
