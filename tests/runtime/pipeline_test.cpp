// Pipelines through the real binary: exact output, fan-out, slow and failing
// sinks, commits never ahead of what every sink wrote, and a clean drain on SIGINT.
#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <csignal>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace weir::testing {
namespace {

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

// Last committed offset per partition from a test_source commit log.
std::map<int, int64_t> last_commits(const std::string& log) {
  std::map<int, int64_t> out;
  std::istringstream in(log);
  for (int p; in >> p;) {
    int64_t o;
    in >> o;
    out[p] = o;
  }
  return out;
}

TEST(Pipeline, GeneratorToStdoutIsExact) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 3\npayload_bytes = 0\nkeys = 2\n"
                               "[nodes.out]\nplugin = \"stdout_sink\"\ninputs = [\"gen.out\"]\n");
  auto r = run_weir("run " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"_key\":\"k0\",\"seq\":0,\"key\":\"k0\"}\n"
            "{\"_key\":\"k1\",\"seq\":1,\"key\":\"k1\"}\n"
            "{\"_key\":\"k0\",\"seq\":2,\"key\":\"k0\"}\n");
  EXPECT_NE(r.err.find("gen=3 out=3 errors=0"), std::string::npos) << r.err;
}

TEST(Pipeline, FanOutDeliversEveryRecordToBothSinksAndCommitsAll) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 50000\npartitions = 3\ncommit_log = \"" +
                                   dir.file("commits") +
                                   "\"\n"
                                   "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"src\"]\n"
                                   "[nodes.a]\nplugin = \"test_sink\"\npath = \"" + dir.file("a") + "\"\ninputs = [\"pass.out\"]\n"
                                   "[nodes.b]\nplugin = \"test_sink\"\npath = \"" + dir.file("b") + "\"\ndelay_us = 200\ninputs = [\"pass.out\"]\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* sink : {"a", "b"}) {
    auto seqs = numbers(read_file(dir.file(sink)));
    ASSERT_EQ(seqs.size(), 50000u) << sink;
    for (int64_t i = 0; i < 50000; ++i) ASSERT_EQ(seqs[i], i) << sink << " out of order";
  }
  auto commits = last_commits(read_file(dir.file("commits")));
  ASSERT_EQ(commits.size(), 3u);
  // seq = offset * 3 + partition, 0..49999
  EXPECT_EQ(commits[0], 16666);
  EXPECT_EQ(commits[1], 16666);
  EXPECT_EQ(commits[2], 16665);
}

TEST(Pipeline, FailingSinkIsRetriedUntilEverythingIsWritten) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 5000\ncommit_log = \"" + dir.file("commits") +
                                   "\"\n[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\nfail_every = 3\ninputs = [\"src\"]\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto seqs = numbers(read_file(dir.file("s")));
  ASSERT_EQ(seqs.size(), 5000u);
  for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(seqs[i], i);
  EXPECT_NE(r.err.find("write failed; retrying in"), std::string::npos) << r.err;
  EXPECT_EQ(last_commits(read_file(dir.file("commits")))[0], 4999);
}

// A plugin's library writing to a socket its peer closed (hiredis, without
// MSG_NOSIGNAL) gets EPIPE, an error it can retry; SIGPIPE used to kill weir (141).
TEST(Pipeline, AWriteToAClosedSocketIsAnErrorNotADeathBySignal) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 100\n"
                               "[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\nwrite_closed_socket = true\ninputs = [\"src\"]\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << "141 = killed by SIGPIPE\n" << r.err;
  EXPECT_NE(r.err.find("write to a closed socket: Broken pipe"), std::string::npos) << r.err;
  EXPECT_EQ(numbers(read_file(dir.file("s"))).size(), 100u);
}

// `weir run ... | head`: once the reader is gone, stdout_sink cannot go on and
// says so (exit 1), instead of weir dying by SIGPIPE or retrying for ever.
TEST(Pipeline, StdoutClosedByItsReaderStopsThePipelineWithAnError) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\n"
                               "[nodes.out]\nplugin = \"stdout_sink\"\ninputs = [\"gen.out\"]\n");
  std::string cmd = "(timeout 30 " + std::string(WEIR_BINARY) + " run " + file + " 2>" + dir.file("err") + "; echo $? >" +
                    dir.file("rc") + ") | head -c 1000 >/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string err = read_file(dir.file("err"));
  EXPECT_EQ(read_file(dir.file("rc")), "1\n") << "141 = killed by SIGPIPE, 124 = still running after 30 s\n" << err;
  EXPECT_NE(err.find("stdout is closed"), std::string::npos) << err;
}

// A sink that fails for good while its queue is full, behind an operator and a
// fast source that keep pushing: weir exits 1, and nothing is committed that
// both sinks did not write. It used to hang: upstream stayed blocked in push
// (only a hard stop aborted it), `stopping: true` for ever, SIGTERM ignored.
TEST(Pipeline, ASinkFailingWhileItsQueueIsFullEndsTheProcessWithExit1) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\ncommit_log = \"" + dir.file("commits") +
                                   "\"\n[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"src\"]\n"
                                   "[nodes.a]\nplugin = \"test_sink\"\npath = \"" + dir.file("a") + "\"\ninputs = [\"pass.out\"]\n"
                                   "[nodes.b]\nplugin = \"test_sink\"\npath = \"" + dir.file("b") +
                                   "\"\ndelay_us = 2000\nfail_after = 200\ninputs = [\"pass.out\"]\n");
  // The hang guard: a generous bound, not a timing assertion.
  std::string cmd = kEnv + " timeout -s KILL 120 " + std::string(WEIR_BINARY) + " run --no-progress " + file + " 2>" +
                    dir.file("err") + "; echo $? >" + dir.file("rc");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string err = read_file(dir.file("err"));
  ASSERT_EQ(read_file(dir.file("rc")), "1\n") << "137 = still running after 120 s\n" << err;
  EXPECT_NE(err.find("pipeline failed: node 'b' write failed"), std::string::npos) << err;
  EXPECT_EQ(err.find("has not stopped"), std::string::npos) << "the nodes stop by themselves, not by the last resort\n" << err;
  // One partition: offset = seq. Every committed seq was written by both sinks.
  auto commits = last_commits(read_file(dir.file("commits")));
  int64_t committed = commits.count(0) ? commits[0] : -1;
  for (const char* sink : {"a", "b"}) {
    std::set<int64_t> written;
    for (int64_t seq : numbers(read_file(dir.file(sink)))) written.insert(seq);
    for (int64_t seq = 0; seq <= committed; ++seq) ASSERT_TRUE(written.count(seq)) << sink << " lacks committed seq " << seq;
  }
  EXPECT_LE(committed, 200 * 100 - 1) << "b wrote 200 batches of 100 before failing";
}

TEST(Pipeline, AsyncSinkWithFailedAcksRedeliversAndNeverCommitsAhead) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 20000\npartitions = 2\ncommit_log = \"" +
                                   dir.file("commits") + "\"\n[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\nasync = true\nasync_fail_every = 4\ninputs = [\"src\"]\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto seqs = numbers(read_file(dir.file("s")));
  std::set<int64_t> unique(seqs.begin(), seqs.end());
  EXPECT_EQ(unique.size(), 20000u) << "every record written at least once";
  EXPECT_EQ(seqs.size(), 20000u) << "failed acks wrote nothing, so retries add no duplicates here";
  auto commits = last_commits(read_file(dir.file("commits")));
  EXPECT_EQ(commits[0], 9999);
  EXPECT_EQ(commits[1], 9999);
}

TEST(Pipeline, CommitsNeverRunAheadOfTheSlowestSink) {
  // A slow sink and a fast one: each commit must be covered by BOTH files at
  // the moment it is logged. We check the weaker, race-free property at the
  // end of a SIGKILL'ed run: the last logged commit is <= what each sink wrote.
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 200\ncommit_log = \"" +
                                   dir.file("commits") + "\"\n"
                                   "[nodes.fast]\nplugin = \"test_sink\"\npath = \"" + dir.file("fast") + "\"\ninputs = [\"src\"]\n"
                                   "[nodes.slow]\nplugin = \"test_sink\"\npath = \"" + dir.file("slow") +
                                   "\"\ndelay_us = 20000\ninputs = [\"src\"]\n");
  std::string cmd = kEnv + " " + WEIR_BINARY + " run " + file + " 2>" + dir.file("err") + " & echo $! >" + dir.file("pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  pid_t pid = std::stoi(read_file(dir.file("pid")));
  kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto commits = last_commits(read_file(dir.file("commits")));
  auto fast = numbers(read_file(dir.file("fast")));
  auto slow = numbers(read_file(dir.file("slow")));
  ASSERT_FALSE(commits.empty()) << read_file(dir.file("err"));
  ASSERT_FALSE(slow.empty());
  EXPECT_LE(commits[0], slow.back()) << "committed past what the slow sink wrote";
  EXPECT_LE(commits[0], fast.back());
  EXPECT_LT(slow.size(), fast.size()) << "the slow sink should lag (else the test proves nothing)";
}

TEST(Pipeline, AWindowsInputsStayUncommittedUntilItsResultIsWritten) {
  // Windows of 10 batches of 100 records; each result goes to a sink that takes
  // 300 ms per write. Killed mid-stream, the commits must not cover records whose
  // window result the sink has not written yet.
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 200\ncommit_log = \"" +
                                   dir.file("commits") + "\"\n[nodes.win]\nplugin = \"test_window\"\ninputs = [\"src\"]\n"
                                   "[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\ndelay_us = 300000\ninputs = [\"win.out\"]\n");
  std::string cmd = kEnv + " " + WEIR_BINARY + " run " + file + " 2>" + dir.file("err") + " & echo $! >" + dir.file("pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  pid_t pid = std::stoi(read_file(dir.file("pid")));
  kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto written = numbers(read_file(dir.file("s")));
  auto commits = last_commits(read_file(dir.file("commits")));
  ASSERT_FALSE(written.empty()) << read_file(dir.file("err"));
  ASSERT_FALSE(commits.empty()) << "nothing was committed (the test proves nothing)";
  EXPECT_LE(commits[0], written.back()) << "committed records whose window result was never written";
}

TEST(Pipeline, SigintDrainsEverythingAndExitsZero) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 500\ncommit_log = \"" +
                                   dir.file("commits") + "\"\n[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\ndelay_us = 2000\ninputs = [\"src\"]\n");
  std::string cmd = kEnv + " " + WEIR_BINARY + " run " + file + " 2>" + dir.file("err") + " & echo $! >" + dir.file("pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  pid_t pid = std::stoi(read_file(dir.file("pid")));
  kill(pid, SIGINT);
  int waited = 0;
  while (kill(pid, 0) == 0 && waited++ < 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(kill(pid, 0), 0) << "weir did not exit after SIGINT";
  std::string err = read_file(dir.file("err"));
  EXPECT_NE(err.find("weir: done after"), std::string::npos) << err;
  auto seqs = numbers(read_file(dir.file("s")));
  ASSERT_FALSE(seqs.empty());
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i));
  // Everything emitted was written and committed before exit.
  EXPECT_EQ(last_commits(read_file(dir.file("commits")))[0], seqs.back());
  EXPECT_NE(err.find("src=" + std::to_string(seqs.size()) + " s=" + std::to_string(seqs.size())), std::string::npos) << err;
}

TEST(Pipeline, SecondSigintExitsAtOnce) {
  TempDir dir;
  // A sink so slow that draining would take minutes.
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nbatch_size = 10\n"
                               "[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\ndelay_us = 500000\ninputs = [\"src\"]\n");
  std::string cmd = kEnv + " " + WEIR_BINARY + " run " + file + " 2>" + dir.file("err") + " & echo $! >" + dir.file("pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  pid_t pid = std::stoi(read_file(dir.file("pid")));
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(pid, 0), 0) << "still draining after the first signal";
  kill(pid, SIGINT);
  int waited = 0;
  while (kill(pid, 0) == 0 && waited++ < 100) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(kill(pid, 0), 0) << "weir did not exit after the second SIGINT";
  EXPECT_NE(read_file(dir.file("err")).find("exiting now; unacknowledged records will be read again on restart"),
            std::string::npos);
}

TEST(Pipeline, ProgressLineReportsRatesPerNode) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\nrate = 1000\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  auto r = run_weir("run " + file + " --progress --progress-interval 0.3 --duration 1.2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("weir: gen "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/s  out "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("| errors 0"), std::string::npos) << r.err;
}

TEST(Pipeline, RejectedRecordsAreCountedAndRoutedToTheErrorPort) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 100\n"
                               "[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\nreject_multiple_of = 10\ninputs = [\"src\"]\n"
                                   "[nodes.dead]\nplugin = \"file_sink\"\npath = \"" + dir.file("dead") +
                                   "\"\ninputs = [\"s.error\"]\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(numbers(read_file(dir.file("s"))).size(), 90u);
  std::string dead = read_file(dir.file("dead"));
  EXPECT_EQ(count_lines(dead), 10u);
  EXPECT_NE(dead.find("{\"seq\":20,\"error_reason\":\"seq is a multiple of 10\",\"error_node\":\"s\"}"), std::string::npos) << dead;
  EXPECT_NE(r.err.find("errors=10"), std::string::npos) << r.err;
}

TEST(Pipeline, UnroutedErrorsGoToTheDeadLetterFile) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 30\n"
                               "[nodes.s]\nplugin = \"test_sink\"\npath = \"" + dir.file("s") +
                                   "\"\nreject_multiple_of = 10\ninputs = [\"src\"]\n");
  auto r = run_weir("run " + file + " --dead-letter " + dir.file("dlq"), kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(read_file(dir.file("dlq"))), 3u);
  EXPECT_NE(r.err.find("record rejected (seq is a multiple of 10)"), std::string::npos) << r.err;
}

TEST(Pipeline, MetricsEndpointServesPrometheusAndStatus) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\nrate = 1000\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  std::string cmd = std::string(WEIR_BINARY) + " run " + file + " --metrics 127.0.0.1:0 --duration 3 2>" + dir.file("err") + " &";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string port;
  for (int i = 0; i < 50 && port.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string err = read_file(dir.file("err"));
    size_t at = err.find("http://127.0.0.1:");
    if (at != std::string::npos) port = err.substr(at + 17, err.find('/', at + 17) - at - 17);
  }
  ASSERT_FALSE(port.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::string fetch = "curl -s http://127.0.0.1:" + port;
  ASSERT_EQ(std::system((fetch + "/metrics >" + dir.file("m")).c_str()), 0);
  ASSERT_EQ(std::system((fetch + "/status >" + dir.file("s")).c_str()), 0);
  std::string metrics = read_file(dir.file("m")), status = read_file(dir.file("s"));
  EXPECT_NE(metrics.find("weir_records_in_total{node=\"out\",plugin=\"null_sink\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("weir_queue_depth{from=\"gen.out\""), std::string::npos) << metrics;
  EXPECT_NE(status.find("\"name\":\"gen\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"from\":\"gen.out\",\"to\":\"out\""), std::string::npos) << status;
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
}

// Issue 20: once one input of a node ended, the node woke at once on every
// wait (an ended input counted as "ready") and spun a core until its other
// inputs ended. A node with nothing to do must sleep: its wake-ups stay in
// proportion to the batches it gets, for a sink and for an operator.
TEST(Pipeline, ANodeWhoseOneInputEndedSleepsUntilTheOtherBringsWork) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.quick]\nplugin = \"generator\"\ncount = 1\n"
                               "[nodes.slow]\nplugin = \"generator\"\ncount = 150\nrate = 100\n"
                               "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"quick.out\", \"slow.out\"]\n"
                               "[nodes.both]\nplugin = \"null_sink\"\ninputs = [\"quick.out\", \"slow.out\"]\n"
                               "[nodes.after]\nplugin = \"null_sink\"\ninputs = [\"pass.out\"]\n");
  auto r = run_weir("run " + file + " --status-out " + dir.file("status.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string status = read_file(dir.file("status.json"));
  auto field = [&](const std::string& node, const std::string& key) {
    size_t at = status.find("{\"name\":\"" + node + "\"");
    EXPECT_NE(at, std::string::npos) << status;
    size_t k = status.find("\"" + key + "\":", at);
    EXPECT_NE(k, std::string::npos) << key << " of " << node << " in " << status;
    return std::stoll(status.substr(k + key.size() + 3));
  };
  for (const char* node : {"both", "pass"}) {
    int64_t records = field(node, "records_in"), wakeups = field(node, "wakeups");
    EXPECT_EQ(records, 151) << node;
    // Each batch may take a wake-up or two; a spin takes hundreds of thousands in 1.5 s.
    EXPECT_LT(wakeups, 2 * records + 100) << node << " woke " << wakeups << " times for " << records << " records";
  }
}

}  // namespace
}  // namespace weir::testing
