// State per partition (ABI 1.1) through the real binary: a node whose plugin
// keeps its state per source partition (test_partition_counter: every output
// has n = how many records of its partition the node has seen, so n must be
// offset + 1) keeps each partition's state apart, checkpoints it per
// partition, drops it when the source gives the partition up and restores it
// when the partition comes back; event time per partition sends late records
// to `late` and far-future ones to `error`.
#include <gtest/gtest.h>

#include "counter_output.hpp"

#include <filesystem>
#include <map>
#include <numeric>
#include <regex>

namespace weir::testing {
namespace {

const std::string& kEnv = kTestPluginEnv;

using Shape = CountingShape;
std::string pipeline(const TempDir& dir, const Shape& s) { return counting_pipeline(dir, s); }

TEST(PerPartition, EachPartitionKeepsItsOwnStateAcrossAKillAndARestart) {
  TempDir dir;
  Shape s;
  s.rate = 40;  // batches of 100 per second
  std::string file = dir.write("p.toml", pipeline(dir, s));
  run_and_kill(dir, file, 3000, s.partitions);
  CounterOutput killed = read_counter_output(dir.file("out.jsonl"), s.partitions);
  ASSERT_GT(killed.lines, 0u) << read_file(dir.file("err"));
  ASSERT_LT(*killed.seqs.rbegin(), s.count - 1) << "weir finished before the kill (the test proves nothing)";
  for (int p = 0; p < 3; ++p)
    ASSERT_FALSE(read_file(dir.file("state/partition-" + std::to_string(p) + ".ckpt")).empty()) << "one file per partition";

  s.rate = 0;
  dir.write("p.toml", pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int p = 0; p < 3; ++p)
    EXPECT_NE(r.err.find("partition " + std::to_string(p) + ": resumed from checkpoint"), std::string::npos) << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), static_cast<size_t>(s.count)) << "records missing after the restart";
  EXPECT_TRUE(all.wrong.empty()) << "a partition's count is not its own, e.g.: " << all.wrong.front();
}

TEST(PerPartition, WithOneStateForAllTheCountsMix) {
  // The control for the test above: the same plugin with state = "global" counts
  // every partition's records together, so n != offset + 1.
  TempDir dir;
  Shape s;
  s.count = 3000;
  s.state = "global";
  s.checkpoint = false;
  std::string file = dir.write("p.toml", pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.lines, 3000u);
  EXPECT_FALSE(all.wrong.empty());
}

TEST(PerPartition, ARevokedPartitionIsCheckpointedDroppedAndRestoredWhenItComesBack) {
  TempDir dir;
  Shape s;
  s.count = 6000;
  s.partitions = 2;
  s.revoke_at = 2000;  // partition 0 leaves for 5 batches, then comes back
  std::string file = dir.write("p.toml", pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("partitions 0 left this process: their state was checkpointed and dropped"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("partition 0: resumed from checkpoint"), std::string::npos) << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), 6000u);
  EXPECT_TRUE(all.wrong.empty()) << "partition 0's count did not come back with it, e.g.: " << all.wrong.front();
}

TEST(PerPartition, WithoutACheckpointARevokedPartitionComesBackEmpty) {
  // The control: the state of a partition that left is gone, so its count restarts.
  TempDir dir;
  Shape s;
  s.count = 6000;
  s.partitions = 2;
  s.revoke_at = 2000;
  s.checkpoint = false;
  std::string file = dir.write("p.toml", pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("partitions 0 left this process: their state was dropped (no checkpoint)"), std::string::npos)
      << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), 6000u);
  EXPECT_FALSE(all.wrong.empty());
}

TEST(PerPartition, RebalancesThatComeWhileARestoreIsUnderWayKeepTheStateRight) {
  // A first run leaves checkpoints; the second starts with three assign/revoke
  // rounds back to back before any record (the announcements travel in band, so
  // each restore and drop completes before the next one starts), then continues.
  TempDir dir;
  Shape s;
  s.count = 3000;
  s.partitions = 2;
  std::string file = dir.write("p.toml", pipeline(dir, s));
  ASSERT_EQ(run_weir("run --no-progress " + file, kEnv).exit_code, 0);
  s.count = 6000;
  std::string text = pipeline(dir, s);
  text.replace(text.find("resume = true"), 13, "resume = true\nflaps = 3");
  dir.write("p.toml", text);
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t restores = 0;
  for (size_t at = 0; (at = r.err.find("partition 1: resumed from checkpoint", at)) != std::string::npos; ++at) ++restores;
  EXPECT_EQ(restores, 4u) << "restored at each of the four assignments: " << r.err;
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), 6000u);
  EXPECT_TRUE(all.wrong.empty()) << all.wrong.front();
}

TEST(PerPartition, ACheckpointOfAnotherPartitionIsRefused) {
  TempDir dir;
  Shape s;
  s.count = 10;
  s.partitions = 2;
  std::string file = dir.write("p.toml", pipeline(dir, s));
  ASSERT_EQ(run_weir("run --no-progress " + file, kEnv).exit_code, 0);
  // partition-1.ckpt now holds partition 0's state: a copy gone wrong.
  std::filesystem::copy_file(dir.file("state/partition-0.ckpt"), dir.file("state/partition-1.ckpt"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(dir.file("commits"));
  auto r = run_weir("run --no-progress " + file, kEnv);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(dir.file("state/partition-1.ckpt") + " holds a position of partition 0, not 1's"),
            std::string::npos)
      << r.err;
}

TEST(PerPartition, LateRecordsGoToTheLatePortAndFarFutureOnesToError) {
  TempDir dir;
  // Record seq is dated (seq + 1) s, in partition seq % 3; every 100th is dated
  // 60 s earlier: 57 s behind its partition's watermark (seq - 3 was dated
  // seq - 2), so late; seq 1001 is dated a year ahead.
  std::string file = dir.write(
      "p.toml",
      "[nodes.src]\nplugin = \"test_source\"\ncount = 3000\npartitions = 3\nevent_times = true\nlate_every = 100\n"
      "ahead_seq = 1001\n"
      "[nodes.count]\nplugin = \"test_partition_counter\"\ninputs = [\"src\"]\nallowed_lateness_ms = 5000\n"
      "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"count.out\"]\npath = \"" + dir.file("out.jsonl") + "\"\n"
      "[nodes.late]\nplugin = \"file_sink\"\ninputs = [\"count.late\"]\npath = \"" + dir.file("late.jsonl") + "\"\n"
      "[nodes.bad]\nplugin = \"file_sink\"\ninputs = [\"count.error\"]\npath = \"" + dir.file("error.jsonl") + "\"\n");
  auto r = run_weir("run --no-progress --status-out " + dir.file("status.json") + " " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string late = read_file(dir.file("late.jsonl")), errors = read_file(dir.file("error.jsonl"));
  // seq 100, 200, ..., 2900: 29 records.
  EXPECT_EQ(std::count(late.begin(), late.end(), '\n'), 29) << late;
  EXPECT_NE(late.find("\"late_by_ms\":57000"), std::string::npos) << late;
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
  EXPECT_NE(errors.find("ahead of partition 2's watermark (more than max_ahead_ms = 86400000)"), std::string::npos)
      << errors;
  std::string out = read_file(dir.file("out.jsonl"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3000 - 29 - 1) << "late and far-future records are not processed";
  std::string status = read_file(dir.file("status.json"));
  EXPECT_NE(status.find("\"records_late\":29"), std::string::npos) << status;
  EXPECT_NE(status.find("{\"partition\":0,\"watermark_ms\":2998000"), std::string::npos) << status;
}

TEST(PerPartition, LatenessAppliesOnlyToStatefulOperators) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 1\n"
                               "[nodes.pass]\nplugin = \"passthrough\"\ninputs = [\"gen\"]\nallowed_lateness_ms = 10\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"pass\"]\n");
  auto r = run_weir("validate " + file, kEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":7:23: node 'pass': allowed_lateness_ms applies to stateful operators"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace weir::testing

namespace weir::testing {
namespace {

// A filter before a rule with 10 s batches (one engine per partition).
// Partition 0 has seq 0, 2, ..., 198 at times 1, 3, ..., 199 s; partition 1
// has seq 1, 3, ..., 199 at 2, 4, ..., 200 s. The test_drop filter drops
// partition 1 from seq 100 on, so partition 1's batch [100 s, 110 s) holds one
// record (seq 99, at 100 s) and no later record of partition 1 reaches the
// rule to close it: only the dropped records' time, passed on as a watermark,
// does, while the stream goes on. (Without it, the batch would wait for the
// end of the input, which ends every open batch.)
TEST(Watermarks, AFilterThatDropsRecordsStillMovesTheClockDownstream) {
  TempDir dir;
  std::string rule = dir.write("count.epl", "select count(*) as n from Ticks#time_batch(10 sec, 0L)\n");
  std::string file = dir.write(
      "w.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = 200\npartitions = 2\nbatch_size = 10\n"
                "event_times = true\n"
                "[nodes.filter]\nplugin = \"test_drop\"\ninputs = [\"src\"]\n"
                "[nodes.rule]\nplugin = \"cep_rule\"\ninputs = [\"filter\"]\nrules = [\"" + rule + "\"]\n"
                "time_field = \"_time\"\nstream = \"Ticks\"\n"
                "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"rule.count\"]\npath = \"" +
                dir.file("out.jsonl") + "\"\n");
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> counts;
  std::istringstream in(read_file(dir.file("out.jsonl")));
  static const std::regex field(R"re("n":(\d+))re");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, field)) << line;
    counts.push_back(std::stoll(m[1]));
  }
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), 100 + 50) << "every record kept is counted";
  // The batch of one: closed by the watermark while partition 0 still had
  // [110 s, 120 s) to [180 s, 190 s) to close with its records, not at the end.
  auto one = std::find(counts.begin(), counts.end(), 1);
  ASSERT_NE(one, counts.end());
  EXPECT_GE(counts.end() - one - 1, 8) << "partition 1's last batch closed only at the end of the input";
}

}  // namespace
}  // namespace weir::testing
