// What the HTTP thread reads of a node while the node's own thread changes it:
// a node that gains output ports (a reload that names new ones) and swaps of
// its plugin, while /metrics and /status are read without pause. Run under
// ThreadSanitizer (scripts/test.sh), any unsynchronised access makes weir exit
// with TSan's code instead of 0.
#include "raw_http.hpp"

#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace weir::testing {
namespace {

const std::string kPlugins = WEIR_TEST_PLUGIN_DIR;

TEST(PublishedState, MetricsAndStatusReadWhileANodeGainsPortsAndIsSwapped) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 200\n"
                               "[nodes.mid]\nplugin = \"test_new_ports\"\ninputs = [\"src\"]\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"mid.out\"]\n");
  std::filesystem::copy_file(kPlugins + "/weir_test_new_ports.so", dir.file("other.so"));
  BackgroundWeir weir(dir, file + " --allow-swap-without-token --plugin-dir " + dir.path().string(),
                      "WEIR_PLUGIN_PATH=" + kPlugins);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::thread reader([&] {
    while (!done) {
      for (const char* path : {"/metrics", "/status"}) {
        RawConn c("127.0.0.1", weir.admin_port());
        if (c.ok() && c.send(get(path, false)) && c.response().find("200 OK") != std::string::npos) ++answered;
      }
    }
  });
  std::string library = kPlugins + "/weir_test_new_ports.so";
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(weir.ctl("reload mid").exit_code, 0);
    usleep(20'000);  // a batch or more: the new port is asked for
    if (i % 5 == 4) {
      library = library == dir.file("other.so") ? kPlugins + "/weir_test_new_ports.so" : dir.file("other.so");
      RunResult r = weir.ctl("swap mid " + library);
      EXPECT_TRUE(r.exit_code == 0 || r.err.find("is the library already running") != std::string::npos) << r.err;
    }
  }
  done = true;
  reader.join();
  EXPECT_GT(answered.load(), 0);
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
}

// /status names the running pipeline file, which `weir ctl apply` replaces on
// the control thread (with the whole running configuration) while the HTTP
// thread answers /status. The same graph in two files: every apply is "no
// changes" but adopts the other file.
TEST(PublishedState, StatusReadWhileApplyReplacesTheRunningPipeline) {
  TempDir dir;
  const std::string text = "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 200\n"
                           "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"src\"]\n";
  std::string p = dir.write("p.toml", text), q = dir.write("q.toml", text);
  BackgroundWeir weir(dir, p, "WEIR_PLUGIN_PATH=" + kPlugins);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::thread reader([&] {
    while (!done) {
      RawConn c("127.0.0.1", weir.admin_port());
      if (c.ok() && c.send(get("/status", false)) && c.response().find("200 OK") != std::string::npos) ++answered;
    }
  });
  for (int i = 0; i < 40; ++i) {
    RunResult r = weir.ctl("apply " + (i % 2 ? p : q));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  done = true;
  reader.join();
  EXPECT_GT(answered.load(), 0);
  RunResult status = weir.ctl("status");
  EXPECT_NE(status.out.find("\"pipeline\":\"" + p + "\""), std::string::npos) << "the file applied last: " << status.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
}

}  // namespace
}  // namespace weir::testing
