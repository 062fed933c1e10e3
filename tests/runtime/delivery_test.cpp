// The host's delivery (sink_driver) through the real binary, with a sink
// driven by it (test_driven_sink): what the sink's delivery parameters do.
// The timing of retries is tested with a fake clock in sink_driver_test.cpp.
#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <algorithm>
#include <csignal>
#include <numeric>
#include <sstream>

namespace weir::testing {
namespace {

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

std::vector<int64_t> zero_to(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string source(int64_t count, const std::string& extra = "") {
  return "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(count) + "\n" + extra;
}

TEST(Delivery, RequestsGatherInputBatchesUpToTheRecordLimit) {
  TempDir dir;
  // Ten input batches of 100; the linger is longer than the run, so only the
  // record limit (and the end of the input) seal a request.
  std::string file = dir.write("p.toml", source(1000, "batch_size = 100\n") +
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"src\"]\npath = \"" +
                                             dir.file("out") + "\"\nsizes_path = \"" + dir.file("sizes") +
                                             "\"\nbatch_max_records = 300\nbatch_linger_ms = 600000\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(numbers(read_file(dir.file("sizes"))), (std::vector<int64_t>{300, 300, 300, 100}));
  EXPECT_EQ(numbers(read_file(dir.file("out"))), zero_to(1000));
}

TEST(Delivery, ARequestGivenUpGoesToTheErrorPortWithItsReason) {
  TempDir dir;
  std::string file = dir.write("p.toml", source(200, "batch_size = 50\n") +
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"src\"]\npath = \"" +
                                             dir.file("out") +
                                             "\"\nfail_every = 1\nretry_max_attempts = 3\nretry_initial_ms = 1\nretry_max_ms = 2\n"
                                             "[nodes.errors]\nplugin = \"file_sink\"\ninputs = [\"sink.error\"]\npath = \"" +
                                             dir.file("errors") + "\"\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(read_file(dir.file("errors")));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n)
    ASSERT_NE(line.find("\"error_reason\":\"gave up after 3 attempt(s): told to fail (fail_every = 1)\""), std::string::npos)
        << line;
  EXPECT_EQ(n, 200);
  EXPECT_TRUE(read_file(dir.file("out")).empty());
  EXPECT_NE(r.err.find("gave up after 3 attempt(s)"), std::string::npos) << r.err;
}

TEST(Delivery, AnAsyncSinkFailingEveryThirdSendStoresEveryRecordOnce) {
  TempDir dir;
  std::string file = dir.write("p.toml", source(20000, "partitions = 3\n") +
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"src\"]\npath = \"" +
                                             dir.file("out") +
                                             "\"\nasync = true\nfail_every = 3\nmax_in_flight = 4\nretry_initial_ms = 1\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> seqs = numbers(read_file(dir.file("out")));
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(seqs, zero_to(20000));
  EXPECT_NE(r.err.find("told to fail"), std::string::npos) << r.err;
}

// A record the server refused is counted once as an error, not as written,
// whatever the plugin reports: the same index twice, or one past the request.
TEST(Delivery, ARecordRefusedAfterTheSendIsCountedOnce) {
  TempDir dir;
  std::string file = dir.write("p.toml", source(100) +
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"src\"]\npath = \"" +
                                             dir.file("out") + "\"\nrefuse_seq = 7\n"
                                             "[nodes.errors]\nplugin = \"file_sink\"\ninputs = [\"sink.error\"]\npath = \"" +
                                             dir.file("errors") + "\"\n");
  auto r = run_weir("run --no-progress --status-out " + dir.file("status.json") + " " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> expected = zero_to(100);
  expected.erase(expected.begin() + 7);
  EXPECT_EQ(numbers(read_file(dir.file("out"))), expected);
  std::string errors = read_file(dir.file("errors"));
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
  EXPECT_NE(errors.find("\"seq\":7"), std::string::npos) << errors;
  std::string status = read_file(dir.file("status.json"));
  EXPECT_NE(status.find("\"records_in\":100,\"records_out\":99,\"records_error\":1"), std::string::npos) << status;
}

// A stop while a sink's server refuses everything: the sink retries, the
// operator before it blocks on the full queue between them, and without a
// bound on the drain weir would never exit. The drain timeout ends it, with
// nothing acknowledged that was not delivered.
TEST(Delivery, AStopThatCannotDrainEndsAtTheDrainTimeout) {
  TempDir dir;
  std::string file = dir.write("p.toml", source(0, "batch_size = 10\ncommit_log = \"" + dir.file("commits") + "\"\n") +
                                             "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"src\"]\n"
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"pass\"]\npath = \"" +
                                             dir.file("out") + "\"\nfail_every = 1\nretry_initial_ms = 1\nretry_max_ms = 5\n");
  BackgroundWeir weir(dir, file + " --drain-timeout 1", kEnv);
  ASSERT_TRUE(weir.started()) << read_file(dir.file("bg.err"));
  usleep(500'000);  // the queues fill up behind the failing sink
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60)) << "weir did not exit after SIGINT: " << read_file(dir.file("bg.err"));
  std::string err = read_file(dir.file("bg.err"));
  EXPECT_EQ(weir.exit_code(), 3) << err;  // stopped with records undelivered
  EXPECT_NE(err.find("the drain did not end within 1000 ms: giving up"), std::string::npos) << err;
  EXPECT_TRUE(read_file(dir.file("out")).empty());
  EXPECT_TRUE(read_file(dir.file("commits")).empty()) << "nothing was delivered, so nothing may be committed";
}

// The same at the end of a bounded input, with no stop: the source's input
// ends (100 records fit in the small queues and the sink's two requests), the
// operator blocks on the full queue before the failing sink, and weir waited
// for ever. The drain timeout starts when every input has ended.
TEST(Delivery, AnInputThatEndsBeforeASinkThatCannotDeliverEndsAtTheDrainTimeout) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[pipeline]\nqueue_batches = 4\n" + source(100, "batch_size = 10\ncommit_log = \"" + dir.file("commits") + "\"\n") +
                                             "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"src\"]\n"
                                             "[nodes.sink]\nplugin = \"test_driven_sink\"\ninputs = [\"pass\"]\npath = \"" +
                                             dir.file("out") + "\"\nfail_every = 1\nretry_initial_ms = 1\nretry_max_ms = 5\nbatch_max_records = 10\n");
  BackgroundWeir weir(dir, file + " --drain-timeout 1", kEnv);
  ASSERT_TRUE(weir.started()) << read_file(dir.file("bg.err"));
  ASSERT_TRUE(weir.wait(60)) << "weir did not exit after its input ended: " << read_file(dir.file("bg.err"));
  std::string err = read_file(dir.file("bg.err"));
  EXPECT_EQ(weir.exit_code(), 3) << err;
  EXPECT_NE(err.find("the drain did not end within 1000 ms: giving up"), std::string::npos) << err;
  EXPECT_TRUE(read_file(dir.file("out")).empty());
  EXPECT_TRUE(read_file(dir.file("commits")).empty()) << "nothing was delivered, so nothing may be committed";
}

}  // namespace
}  // namespace weir::testing
