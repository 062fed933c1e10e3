// Checkpoints of a stateful operator (`checkpoint = "FILE"` on its node): a
// restart — after SIGKILL or after a clean stop — resumes the saved state
// exactly, and input already in that state is not given to the node again.
//
// The operator is test_counter: it re-emits every record with n = how many
// records it has seen. From one partition with seq 0, 1, 2, ... every output
// must say n == seq + 1, whatever happened to the process in between. Without
// checkpoints the count restarts at 0 and the replayed records say otherwise.
#include <gtest/gtest.h>

#include "counter_output.hpp"

#include <filesystem>
#include <regex>

namespace weir::testing {
namespace {

const std::string& kEnv = kTestPluginEnv;

std::string pipeline(const TempDir& dir, int64_t count, int64_t rate, bool checkpoint) {
  return "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(count) + "\nrate = " + std::to_string(rate) +
         "\nresume = true\ncommit_log = \"" + dir.file("commits") +
         "\"\n"
         "[nodes.count]\nplugin = \"test_counter\"\ninputs = [\"src\"]\n" +
         (checkpoint ? "checkpoint = \"" + dir.file("state/count.ckpt") + "\"\ncheckpoint_interval_ms = 100\n" : "") +
         "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"count.out\"]\npath = \"" + dir.file("out.jsonl") + "\"\n";
}


TEST(Checkpoint, SigkillAndRestartResumeTheOperatorsStateExactly) {
  TempDir dir;
  const int64_t total = 20000;
  std::string file = dir.write("p.toml", pipeline(dir, total, 40, true));  // 40 batches of 100 per second
  run_and_kill(dir, file, 2000);
  CounterOutput killed = read_counter_output(dir.file("out.jsonl"));
  ASSERT_GT(killed.lines, 0u) << read_file(dir.file("err"));
  ASSERT_LT(*killed.seqs.rbegin(), total - 1) << "weir finished before the kill (the test proves nothing)";
  ASSERT_FALSE(read_file(dir.file("commits")).empty()) << "nothing committed before the kill: " << read_file(dir.file("err"));
  ASSERT_FALSE(read_file(dir.file("state/count.ckpt")).empty()) << "the checkpoint's directory is created";

  // Unthrottled to the end: the restart must pick up the count where the checkpoint left it.
  dir.write("p.toml", pipeline(dir, total, 0, true));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from checkpoint"), std::string::npos) << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"));
  EXPECT_EQ(all.seqs.size(), static_cast<size_t>(total)) << "records missing after the restart";
  EXPECT_EQ(*all.seqs.rbegin(), total - 1);
  EXPECT_TRUE(all.wrong.empty()) << "state not resumed exactly, e.g.: " << all.wrong.front();
}

TEST(Checkpoint, WithoutACheckpointTheRestartedStateIsWrong) {
  // The control for the test above: same kill and restart, no checkpoint.
  TempDir dir;
  const int64_t total = 20000;
  std::string file = dir.write("p.toml", pipeline(dir, total, 40, false));
  run_and_kill(dir, file, 2000);
  ASSERT_FALSE(read_file(dir.file("commits")).empty()) << read_file(dir.file("err"));
  dir.write("p.toml", pipeline(dir, total, 0, false));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"));
  EXPECT_EQ(all.seqs.size(), static_cast<size_t>(total)) << "at-least-once holds either way";
  EXPECT_FALSE(all.wrong.empty()) << "the counter restarted at 0, so some n != seq + 1";
}

TEST(Checkpoint, ACleanStopSavesTheStateForTheNextRun) {
  TempDir dir;
  std::string file = dir.write("p.toml", pipeline(dir, 5000, 0, true));
  auto first = run_weir("run --no-progress --status-out " + dir.file("status.json") + " " + file, kEnv);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("no checkpoint at"), std::string::npos) << first.err;
  std::smatch written;
  std::string status = read_file(dir.file("status.json"));
  ASSERT_TRUE(std::regex_search(status, written, std::regex(R"("checkpoints":(\d+))"))) << status;
  EXPECT_GE(std::stoi(written[1]), 1) << "at least the last checkpoint at the clean stop";
  dir.write("p.toml", pipeline(dir, 12000, 0, true));
  auto second = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"));
  EXPECT_EQ(all.lines, 12000u) << "a clean stop commits everything: nothing is read twice";
  EXPECT_EQ(all.seqs.size(), 12000u);
  EXPECT_TRUE(all.wrong.empty()) << all.wrong.front();
}

TEST(Checkpoint, RecordsWithoutPositionsAreNeverSkipped) {
  // A source that sets no positions: every record says 0:0. The checkpoint must
  // not claim to hold "everything up to 0:0", or a restart would skip them all.
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\ncount = 300\npositions = false\n"
                               "[nodes.count]\nplugin = \"test_counter\"\ninputs = [\"src\"]\ncheckpoint = \"" +
                                   dir.file("count.ckpt") +
                                   "\"\n"
                                   "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"count.out\"]\npath = \"" +
                                   dir.file("out.jsonl") + "\"\n");
  ASSERT_EQ(run_weir("run --no-progress " + file, kEnv).exit_code, 0);
  auto second = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("input up to nothing is in it"), std::string::npos) << second.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"));
  EXPECT_EQ(all.lines, 600u) << "the second run's records were skipped";
}

TEST(Checkpoint, AStatelessNodeCannotHaveOne) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 1\n"
                               "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"gen\"]\ncheckpoint = \"x.ckpt\"\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"pass\"]\n");
  auto r = run_weir("validate " + file, kEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":7:14: node 'pass': checkpoint needs a stateful operator; passthrough (operator) has no state"),
            std::string::npos)
      << r.err;
}

TEST(Checkpoint, ACorruptFileStopsTheStartWithItsName) {
  TempDir dir;
  std::string file = dir.write("p.toml", pipeline(dir, 10, 0, true));
  std::filesystem::create_directories(dir.file("state"));
  dir.write("state/count.ckpt", "something else\n");
  auto r = run_weir("run --no-progress " + file, kEnv);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(dir.file("state/count.ckpt") + ": not a usable checkpoint (first line is not 'weir-checkpoint 1'); move it away"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(read_file(dir.file("out.jsonl")).empty()) << "nothing may run on state that could not be restored";
}

TEST(Checkpoint, AByteFlippedAnywhereIsRefused) {
  // Issue 13: checkpoints carried no checksum, and 20 of 20 byte-flipped files
  // were accepted. A damaged file must stop the start, never be used.
  TempDir dir;
  std::string file = dir.write("p.toml", pipeline(dir, 3000, 0, true));
  auto first = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string path = dir.file("state/count.ckpt");
  const std::string good = read_file(path);
  ASSERT_GT(good.size(), 40u);
  for (int i = 0; i < 20; ++i) {
    std::string damaged = good;
    size_t at = (i * 7919u) % damaged.size();  // spread over header, checksum and state
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    dir.write("state/count.ckpt", damaged);
    auto r = run_weir("run --no-progress " + file, kEnv);
    EXPECT_EQ(r.exit_code, 2) << "byte " << at << " flipped was accepted: " << r.err;
    EXPECT_TRUE(r.err.find("not a usable checkpoint") != std::string::npos ||
                r.err.find("holds the state of plugin") != std::string::npos)
        << "byte " << at << ": " << r.err;
  }
}

TEST(Checkpoint, AReadOnlyDirectoryIsReportedAsSuch) {
  // Issue 13: a read-only checkpoint directory was reported as "no such file".
  TempDir dir;
  std::string ro = dir.file("ro");
  std::filesystem::create_directories(ro);
  if (std::system(("mount -t tmpfs -o ro,size=1m tmpfs " + ro + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a read-only tmpfs here (needs root)";
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = 2000\n"
                                         "[nodes.count]\nplugin = \"test_counter\"\ninputs = [\"src\"]\ncheckpoint = \"" +
                                             ro + "/state/count.ckpt\"\n"
                                             "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"count.out\"]\n");
  auto r = run_weir("run --no-progress " + file, kEnv);
  std::system(("umount " + ro).c_str());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(ro + "/state: cannot create the directory: Read-only file system"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weir::testing
