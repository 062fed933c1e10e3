// Hot swap under load (issue 8): a pass-through swapped 20 times while a
// source runs at full speed, a sink swapped, a stateful operator keeping its
// state, and bad libraries refused with the pipeline unaffected. Every record
// is counted: each seq exactly once, in order, and every position committed.
#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <sys/stat.h>

namespace weir::testing {
namespace {

const std::string kPlugins = WEIR_TEST_PLUGIN_DIR;
const std::string kEnv = "WEIR_PLUGIN_PATH=" + kPlugins;

// Each seq 0..n-1 exactly once and in order.
void expect_exactly_once(const std::vector<int64_t>& seqs, int64_t n) {
  ASSERT_EQ(static_cast<int64_t>(seqs.size()), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seqs[i], i) << "at index " << i;
}

// Copies a test plugin to a distinct file, as an operator would deploy a new build.
std::string deploy(const TempDir& dir, const std::string& plugin, const std::string& as) {
  std::filesystem::copy_file(kPlugins + "/weir_" + plugin + ".so", dir.file(as), std::filesystem::copy_options::overwrite_existing);
  return dir.file(as);
}

// `weir run` options for swapping from loopback without a token, libraries deployed in DIR.
std::string swappable(const TempDir& dir) { return " --allow-swap-without-token --plugin-dir " + dir.path().string(); }

std::string pipeline(const TempDir& dir, int64_t count, const std::string& middle, int64_t rate = 0) {
  return dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(count) +
                                 "\nrate = " + std::to_string(rate) + "\nbatch_size = 100\ncommit_log = \"" +
                                 dir.file("commits") + "\"\n[nodes.mid]\nplugin = \"" + middle +
                                 "\"\ninputs = [\"src\"]\n[nodes.sink]\nplugin = \"test_sink\"\npath = \"" + dir.file("out") +
                                 "\"\ninputs = [\"mid.out\"]\n");
}

int64_t last_commit(const std::string& log) {
  auto v = numbers(log);
  return v.empty() ? -1 : v.back();
}

TEST(HotSwap, PassThroughSwappedTwentyTimesUnderLoadLosesNothing) {
  TempDir dir;
  constexpr int64_t kCount = 3'000'000;
  // 500 k records/s: the swaps happen while records flow, also on a loaded machine (ASan, CI).
  BackgroundWeir weir(dir, pipeline(dir, kCount, "test_pass", /*rate batches/s*/ 5000) + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string a = deploy(dir, "test_pass_v2", "a.so"), b = deploy(dir, "test_pass", "b.so");
  int swapped = 0;
  for (int i = 0; i < 20; ++i) {
    RunResult r = weir.ctl("swap mid " + (i % 2 ? b : a));
    // The source was faster than the swaps: the node has finished, or the whole
    // process has (its admin endpoint closes with it).
    if (r.err.find("has finished") != std::string::npos || r.err.find("cannot reach") != std::string::npos) break;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("now runs test_pass"), std::string::npos) << r.out;
    ++swapped;
  }
  ASSERT_TRUE(weir.wait(120)) << "pipeline did not finish";
  EXPECT_GE(swapped, 10) << "too few swaps happened while records flowed";
  expect_exactly_once(numbers(read_file(dir.file("out"))), kCount);
  EXPECT_EQ(last_commit(read_file(dir.file("commits"))), kCount - 1);
  EXPECT_NE(weir.err().find("control: swap mid"), std::string::npos) << "control actions are logged";
}

TEST(HotSwap, BadLibrariesAreRefusedAndThePipelineCarriesOn) {
  TempDir dir;
  constexpr int64_t kCount = 200'000;
  BackgroundWeir weir(dir, pipeline(dir, kCount, "test_pass", /*rate batches/s*/ 200) + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  struct Case {
    std::string plugin, expected;
  } cases[] = {
      {"test_bad_abi", "but this host speaks ABI"},
      {"test_pass_open_fails", "open failed: open: this variant refuses to open"},  // the plugin's own reason
      {"test_pass_other_ports", "output ports differ: [out] vs [other]"},
      {"test_sink", "kind differs"},
  };
  for (const auto& c : cases) {
    RunResult r = weir.ctl("swap mid " + deploy(dir, c.plugin, c.plugin + ".so"));
    EXPECT_EQ(r.exit_code, 1) << c.plugin;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.plugin << ": " << r.err;
  }
  RunResult missing = weir.ctl("swap nope " + deploy(dir, "test_pass_v2", "v2.so"));
  EXPECT_NE(missing.err.find("no node named 'nope'"), std::string::npos) << missing.err;
  RunResult same = weir.ctl("swap mid " + kPlugins + "/weir_test_pass.so");
  EXPECT_NE(same.err.find("already running"), std::string::npos) << same.err;
  RunResult status = weir.ctl("status");
  EXPECT_NE(status.out.find("\"name\":\"mid\",\"plugin\":\"test_pass\",\"version\":\"1.0.0\",\"swaps\":0"), std::string::npos)
      << status.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  auto seqs = numbers(read_file(dir.file("out")));
  ASSERT_FALSE(seqs.empty());
  expect_exactly_once(seqs, static_cast<int64_t>(seqs.size()));
  EXPECT_EQ(last_commit(read_file(dir.file("commits"))), static_cast<int64_t>(seqs.size()) - 1);
}

TEST(HotSwap, SinkSwapLosesNothing) {
  TempDir dir;
  constexpr int64_t kCount = 1'000'000;
  BackgroundWeir weir(dir, pipeline(dir, kCount, "test_pass") + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string copy = deploy(dir, "test_sink", "sink2.so");
  RunResult r = weir.ctl("swap sink " + copy);
  EXPECT_TRUE(r.exit_code == 0 || r.err.find("has finished") != std::string::npos) << r.err;
  ASSERT_TRUE(weir.wait(120));
  expect_exactly_once(numbers(read_file(dir.file("out"))), kCount);
}

// A swap checks the node's parameters against the new plugin's table the way
// the pipeline's plan does (one function): every problem, at its position.
TEST(HotSwap, ASwapToAPluginWithoutANodesParameterIsRefusedAtItsPosition) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 100\n"
                                         "[nodes.sink]\nplugin = \"test_sink\"\npath = \"" + dir.file("out") +
                                             "\"\ndelay_us = 1\ninputs = [\"src\"]\n");
  BackgroundWeir weir(dir, file + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::filesystem::copy_file(kPlugins + "/../plugins/weir_file_sink.so", dir.file("file_sink.so"));
  RunResult r = weir.ctl("swap sink " + dir.file("file_sink.so"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file + ":8:12: file_sink \"sink\": unknown parameter 'delay_us'"), std::string::npos) << r.err;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
}

TEST(HotSwap, ASinkWhoseWritesFailIsPausedAndSwappedForAMendedBuild) {
  // Every write of this sink fails: the host retries it with a backoff. An
  // operator pauses it, resumes it, and swaps in the mended build, which
  // writes: control is served between the attempts, and the attempts after
  // the swap are the new library's.
  TempDir dir;
  constexpr int64_t kCount = 1000;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(kCount) +
                                             "\n[nodes.sink]\nplugin = \"test_sink\"\nfail_every = 1\npath = \"" +
                                             dir.file("out") + "\"\ninputs = [\"src\"]\n");
  BackgroundWeir weir(dir, file + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  for (int i = 0; i < 200 && weir.err().find("write failed") == std::string::npos; ++i) usleep(25'000);
  ASSERT_NE(weir.err().find("write failed"), std::string::npos) << "the sink should be failing: " << weir.err();
  RunResult paused = weir.ctl("pause sink");
  EXPECT_EQ(paused.exit_code, 0) << paused.out << paused.err;
  RunResult resumed = weir.ctl("resume sink");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  RunResult swapped = weir.ctl("swap sink " + deploy(dir, "test_sink_mended", "mended.so"));
  EXPECT_EQ(swapped.exit_code, 0) << swapped.out << swapped.err;
  ASSERT_TRUE(weir.wait(60)) << weir.err();
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
  expect_exactly_once(numbers(read_file(dir.file("out"))), kCount);
}

// The same with a sink the host drives (ABI 1.3, encode/send): its failing
// requests wait in the driver's backoff; the mended build encodes them anew.
TEST(HotSwap, ADrivenSinkWhoseSendsFailIsPausedAndSwappedForAMendedBuild) {
  TempDir dir;
  constexpr int64_t kCount = 1000;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(kCount) +
                                             "\n[nodes.sink]\nplugin = \"test_driven_sink\"\nfail_every = 1\n"
                                             "retry_initial_ms = 20\nretry_max_ms = 200\npath = \"" +
                                             dir.file("out") + "\"\ninputs = [\"src\"]\n");
  BackgroundWeir weir(dir, file + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  for (int i = 0; i < 200 && weir.err().find("told to fail") == std::string::npos; ++i) usleep(25'000);
  ASSERT_NE(weir.err().find("told to fail"), std::string::npos) << "the sink should be failing: " << weir.err();
  RunResult paused = weir.ctl("pause sink");
  EXPECT_EQ(paused.exit_code, 0) << paused.out << paused.err;
  RunResult resumed = weir.ctl("resume sink");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  RunResult swapped = weir.ctl("swap sink " + deploy(dir, "test_driven_sink_mended", "mended.so"));
  EXPECT_EQ(swapped.exit_code, 0) << swapped.out << swapped.err;
  ASSERT_TRUE(weir.wait(60)) << weir.err();
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
  expect_exactly_once(numbers(read_file(dir.file("out"))), kCount);
  EXPECT_NE(weir.err().find("sent again after"), std::string::npos) << weir.err();
}

TEST(HotSwap, StatefulOperatorKeepsItsStateAcrossSwaps) {
  TempDir dir;
  constexpr int64_t kCount = 100'000;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(kCount) +
                                             "\nrate = 100\nbatch_size = 100\n[nodes.mid]\nplugin = \"test_counter\"\ninputs = [\"src\"]\n"
                                             "[nodes.sink]\nplugin = \"file_sink\"\npath = \"" + dir.file("out") +
                                             "\"\ninputs = [\"mid.out\"]\n");
  BackgroundWeir weir(dir, file + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string a = deploy(dir, "test_counter_v2", "c2.so"), b = deploy(dir, "test_counter", "c1.so");
  for (int i = 0; i < 4; ++i) {
    usleep(150'000);
    RunResult r = weir.ctl("swap mid " + (i % 2 ? b : a));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  // Each output line carries seq and n; n must be seq + 1 on every line: the
  // count went on from the snapshot instead of restarting at 1.
  std::istringstream lines(read_file(dir.file("out")));
  int64_t checked = 0;
  for (std::string line; std::getline(lines, line); ++checked) {
    auto seq_at = line.find("\"seq\":"), n_at = line.find("\"n\":");
    ASSERT_NE(n_at, std::string::npos) << line;
    int64_t seq = std::stoll(line.substr(seq_at + 6)), n = std::stoll(line.substr(n_at + 4));
    ASSERT_EQ(n, seq + 1) << line;
  }
  EXPECT_GT(checked, 300) << "too few records to have crossed the swaps";
  EXPECT_NE(weir.err().find("now runs test_pass 2.0.0"), std::string::npos) << weir.err();
}

// cep_rule swapped mid-window must post exactly what an unswapped run posts:
// its windows, aggregates and timers travel through snapshot/restore.
TEST(HotSwap, RuleEngineSwappedMidWindowGivesTheSameOutput) {
  TempDir dir;
  auto pipeline = [&](const std::string& out) {
    return dir.write(out + ".toml",
                     "[nodes.gen]\nplugin = \"loggen\"\ndate = \"20220426\"\nstart_time = \"000000\"\ncars = 20\nseconds = 300\nrate = 2000\nseed = 10\n"
                     "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen\"]\nfields = [\"date:string\", \"car_number:string\", "
                     "\"speed_pedal:int64\", \"break_pedal:int64\", \"steer_angle:string\", \"direct_light:string\", "
                     "\"speed:int64\", \"area_number:string\"]\n"
                     "[nodes.rule]\nplugin = \"cep_rule\"\ninputs = [\"decode\"]\nrules = [\"" +
                         std::string(WEIR_SOURCE_DIR) + "/rules/overspeed.epl\"]\ntime_field = \"date\"\nevaluate_on_flush = true\n"
                         "[nodes.out]\nplugin = \"file_sink\"\npath = \"" + dir.file(out) + "\"\ninputs = [\"rule.overspeed\"]\n");
  };
  RunResult plain = run_weir("run " + pipeline("plain"));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;

  BackgroundWeir weir(dir, pipeline("swapped") + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string a = dir.file("cep_a.so"), b = dir.file("cep_b.so");
  std::filesystem::copy_file(std::string(WEIR_PLUGIN_DIR) + "/weir_cep_rule.so", a);
  std::filesystem::copy_file(std::string(WEIR_PLUGIN_DIR) + "/weir_cep_rule.so", b);
  int swaps = 0;
  for (int i = 0; i < 5; ++i) {
    usleep(400'000);  // 20 cars at 2000 lines/s: a 30 s batch window every 0.3 s
    RunResult r = weir.ctl("swap rule " + (i % 2 ? b : a));
    // The run (3 s of records) may end between two swaps: a swap then finds it
    // finished, or no endpoint at all once the process has exited (a slow
    // machine: the swaps take longer, the run does not).
    if (r.err.find("has finished") != std::string::npos) break;
    if (r.exit_code != 0 && weir.wait(10) && weir.exit_code() == 0) break;
    ASSERT_EQ(r.exit_code, 0) << r.err << weir.err();
    ++swaps;
  }
  ASSERT_TRUE(weir.wait(60));
  EXPECT_GE(swaps, 3) << "the run ended before the swaps";
  auto sorted_lines = [](const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  auto expected = sorted_lines(read_file(dir.file("plain")));
  ASSERT_GT(expected.size(), 100u) << "the rule flagged too little to compare";
  EXPECT_EQ(sorted_lines(read_file(dir.file("swapped"))), expected);
}

// A node blocked on a full queue (its downstream paused) cannot take a swap:
// the request times out and says it was cancelled. It must then never run:
// it used to stay queued, holding references into the finished request, and
// run on resume (SIGSEGV, or a swap reported refused that happened anyway).
TEST(HotSwap, SwapOfANodeBlockedOnAFullQueueIsCancelledAndNeverRuns) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass") + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  ASSERT_EQ(weir.ctl("pause sink").exit_code, 0);
  usleep(500'000);  // the queues fill; mid blocks emitting into the sink's
  RunResult r = weir.ctl("swap mid " + deploy(dir, "test_pass_v2", "v2.so"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("cancelled, nothing was changed"), std::string::npos) << r.err;
  RunResult resumed = weir.ctl("resume sink");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  usleep(500'000);  // mid runs again: a leftover command would run now
  RunResult status = weir.ctl("status");
  EXPECT_NE(status.out.find("\"name\":\"mid\",\"plugin\":\"test_pass\",\"version\":\"1.0.0\",\"swaps\":0"), std::string::npos)
      << status.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << "139 = SIGSEGV\n" << weir.err();
  EXPECT_EQ(weir.err().find("now runs"), std::string::npos) << weir.err();
  auto seqs = numbers(read_file(dir.file("out")));
  ASSERT_FALSE(seqs.empty());
  expect_exactly_once(seqs, static_cast<int64_t>(seqs.size()));
}

// A swap the node starts in time but whose new instance opens slower than the
// control timeout (11 s against 10 s): the answer waits for the outcome. It
// used to say "did not respond" while the swap went ahead.
TEST(HotSwap, SwapSlowerThanTheTimeoutAnswersItsOutcome) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass", 200) + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult r = weir.ctl("swap mid " + deploy(dir, "test_pass_slow_open", "slow.so"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("now runs test_pass 2.0.0"), std::string::npos) << r.out << r.err;
  RunResult status = weir.ctl("status");
  EXPECT_NE(status.out.find("\"name\":\"mid\",\"plugin\":\"test_pass\",\"version\":\"2.0.0\",\"swaps\":1"), std::string::npos)
      << status.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
}

// A swap loads a library and runs its code in the host: without a token, only
// when weir run opted in; with the token, anyone holding it.
TEST(HotSwap, SwapNeedsTheTokenOrTheOptIn) {
  TempDir dir;
  std::string v2 = deploy(dir, "test_pass_v2", "v2.so");
  {
    BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass", 100) + " --plugin-dir " + dir.path().string(), kEnv);
    ASSERT_TRUE(weir.started()) << weir.err();
    RunResult r = weir.ctl("swap mid " + v2);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("swap refused: it loads a library into the running host"), std::string::npos) << r.err;
    weir.signal(SIGINT);
    ASSERT_TRUE(weir.wait(60));
    EXPECT_EQ(weir.err().find("now runs"), std::string::npos) << weir.err();
  }
  BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass", 100) + " --plugin-dir " + dir.path().string() + " --admin-token s3cret",
                      kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult r = weir.ctl("--token s3cret swap mid " + v2);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
}

// What a swap may load is checked before dlopen (which runs the library's
// constructors): a regular file, in a plugin directory, symlinks resolved. A
// FIFO used to block the admin thread in dlopen; any path was loaded.
TEST(HotSwap, SwapLoadsOnlyRegularFilesInPluginDirectories) {
  TempDir dir, elsewhere;
  BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass", 100) + swappable(dir), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string outside = deploy(elsewhere, "test_pass_v2", "v2.so");
  RunResult r = weir.ctl("swap mid " + outside);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(outside + ": not in a plugin directory"), std::string::npos) << r.err;
  std::filesystem::create_symlink(outside, dir.file("link.so"));
  r = weir.ctl("swap mid " + dir.file("link.so"));
  EXPECT_NE(r.err.find("not in a plugin directory"), std::string::npos) << "a symlink out is outside\n" << r.err;
  ASSERT_EQ(mkfifo(dir.file("fifo.so").c_str(), 0600), 0);
  r = weir.ctl("swap mid " + dir.file("fifo.so"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fifo.so: not a regular file"), std::string::npos) << r.err;
  r = weir.ctl("swap mid " + dir.path().string());
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  // The pipeline never noticed, and a library in the directory still swaps in.
  r = weir.ctl("swap mid " + deploy(dir, "test_pass_v2", "v2.so"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
}

TEST(HotSwap, PauseHoldsRecordsAndResumeDeliversThem) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir, 0, "test_pass", 100), kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  ASSERT_EQ(weir.ctl("pause mid").exit_code, 0);
  usleep(300'000);
  size_t during = numbers(read_file(dir.file("out"))).size();
  usleep(300'000);
  EXPECT_EQ(numbers(read_file(dir.file("out"))).size(), during) << "a paused node passes nothing on";
  ASSERT_EQ(weir.ctl("resume mid").exit_code, 0);
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  auto seqs = numbers(read_file(dir.file("out")));
  EXPECT_GT(seqs.size(), during);
  expect_exactly_once(seqs, static_cast<int64_t>(seqs.size()));
}

TEST(HotSwap, ApplyChangesParametersAndRefusesStructuralChanges) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 100\n[nodes.sink]\nplugin = \"file_sink\"\npath = \"" +
                                             dir.file("a") + "\"\ninputs = [\"gen\"]\n");
  BackgroundWeir weir(dir, file, kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string changed = dir.write("q.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 100\n[nodes.sink]\nplugin = \"file_sink\"\npath = \"" +
                                                dir.file("b") + "\"\ninputs = [\"gen\"]\n");
  RunResult r = weir.ctl("apply " + changed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("node 'sink' updated"), std::string::npos) << r.out;
  usleep(300'000);
  std::string added = dir.write("r.toml", "[nodes.gen]\nplugin = \"generator\"\n[nodes.sink]\nplugin = \"null_sink\"\ninputs = [\"gen\"]\n"
                                          "[nodes.extra]\nplugin = \"null_sink\"\ninputs = [\"gen\"]\n");
  RunResult refused = weir.ctl("apply " + added);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("node 'extra' is new"), std::string::npos) << refused.err;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_GT(count_lines(read_file(dir.file("b"))), 0u) << "records go to the new path after apply";
}

// `weir run` warns of old template spellings at their position; `ctl apply`
// said nothing of those in the file it applied.
TEST(HotSwap, ApplyWarnsOfOldTemplateSpellingsAtTheirPosition) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 100\n[nodes.sink]\nplugin = \"file_sink\"\npath = \"" +
                                             dir.file("a") + "\"\ninputs = [\"gen\"]\n");
  BackgroundWeir weir(dir, file, kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string changed = dir.write("q.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 100\n[nodes.sink]\nplugin = \"file_sink\"\n"
                                            "inputs = [\"gen\"]\npath = \"" + dir.file("b") + "-{key:0:1}\"\n");
  RunResult r = weir.ctl("apply " + changed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t column = 9 + dir.file("b").size() + 1;  // `path = "` is 8 characters, then the directory and '-'
  std::string warning = changed + ":7:" + std::to_string(column) +
                        ": file_sink \"sink\": path: '{key:0:1}' is an old spelling (it works for one more release); write "
                        "'{key[0:1]}'";
  EXPECT_NE(r.out.find("node 'sink' updated\n  warning: " + warning), std::string::npos) << r.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_NE(weir.err().find(warning), std::string::npos) << weir.err();
}

TEST(HotSwap, ApplyIsAllOrNothing) {
  // Two nodes change; the second's new plugin cannot open. The first, already
  // swapped, goes back to what it ran, and the answer says "not applied".
  TempDir dir;
  auto text = [&](const std::string& a, const std::string& b) {
    return "[nodes.src]\nplugin = \"test_source\"\ncount = 0\nrate = 100\n[nodes.a]\nplugin = \"" + a +
           "\"\ninputs = [\"src\"]\n[nodes.b]\nplugin = \"" + b + "\"\ninputs = [\"a\"]\n"
           "[nodes.sink]\nplugin = \"test_sink\"\npath = \"" + dir.file("out") + "\"\ninputs = [\"b\"]\n";
  };
  std::string file = dir.write("p.toml", text("test_pass", "test_pass"));
  BackgroundWeir weir(dir, file + " --allow-swap-without-token --plugin-dir " + kPlugins, kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult r = weir.ctl("apply " + dir.write("q.toml", text("test_pass_v2", "test_pass_open_fails")));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not applied: node 'b' refused the change"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("node 'a' back to what it ran"), std::string::npos) << r.err;
  RunResult status = weir.ctl("status");
  EXPECT_NE(status.out.find("\"name\":\"a\",\"plugin\":\"test_pass\",\"version\":\"1.0.0\""), std::string::npos)
      << "node a still runs the new version: " << status.out;
  weir.signal(SIGINT);
  ASSERT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
  auto seqs = numbers(read_file(dir.file("out")));
  expect_exactly_once(seqs, static_cast<int64_t>(seqs.size()));
}

TEST(HotSwap, ControlNeedsTheTokenWhenOneIsSet) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 10\n[nodes.sink]\nplugin = \"null_sink\"\ninputs = [\"gen\"]\n");
  BackgroundWeir weir(dir, file + " --admin-token s3cret", kEnv);
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult denied = weir.ctl("pause sink");
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("forbidden"), std::string::npos) << denied.err;
  RunResult allowed = weir.ctl("--token s3cret pause sink");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  // `weir ctl status` is control too: it used to answer anyone.
  RunResult status_denied = weir.ctl("status");
  EXPECT_EQ(status_denied.exit_code, 1) << status_denied.out;
  EXPECT_NE(status_denied.err.find("forbidden"), std::string::npos) << status_denied.err;
  RunResult status = weir.ctl("--token s3cret status");
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"name\":\"sink\""), std::string::npos) << status.out;
  // Resumed, so the stop drains at once (a paused sink holds it for the 30 s drain timeout).
  EXPECT_EQ(weir.ctl("--token s3cret resume sink").exit_code, 0);
  weir.signal(SIGTERM);
  ASSERT_TRUE(weir.wait(30));
}

}  // namespace
}  // namespace weir::testing
