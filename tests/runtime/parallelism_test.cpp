// `parallelism = N` through the real binary: a node runs as N tasks, each
// source partition in one of them (partition % N), so a stateful operator with
// state per partition counts exactly as with one task (test_partition_counter:
// n must be offset + 1), through a kill and restart and a rebalance, and a
// stateless one keeps each partition's order.
#include <gtest/gtest.h>

#include "counter_output.hpp"

#include <map>

namespace weir::testing {
namespace {

const std::string& kEnv = kTestPluginEnv;

// Four partitions over three tasks: task 0 holds two of them.
struct Shape : CountingShape {
  Shape() {
    partitions = 4;
    tasks = 3;
  }
};

std::string counting_pipeline(const TempDir& dir, const Shape& s) { return weir::testing::counting_pipeline(dir, s); }

// The task that logged LINE about PARTITION must be the one owning it.
void expect_logged_by_owner(const std::string& err, const std::string& line, int partition, int tasks) {
  std::string owner = "[count#" + std::to_string(partition % tasks) + "] " + line;
  EXPECT_NE(err.find(owner), std::string::npos) << "expected '" << owner << "' in:\n" << err;
}

TEST(Parallelism, TasksCountEachPartitionLikeOneTaskAcrossAKillAndARestart) {
  TempDir dir;
  Shape s;
  s.rate = 40;  // batches of 100 per second
  std::string file = dir.write("p.toml", counting_pipeline(dir, s));
  run_and_kill(dir, file, 3000, s.partitions);
  CounterOutput killed = read_counter_output(dir.file("out.jsonl"), s.partitions);
  ASSERT_GT(killed.lines, 0u) << read_file(dir.file("err"));
  ASSERT_LT(*killed.seqs.rbegin(), s.count - 1) << "weir finished before the kill (the test proves nothing)";
  EXPECT_TRUE(killed.wrong.empty()) << killed.wrong.front();

  s.rate = 0;
  dir.write("p.toml", counting_pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int p = 0; p < s.partitions; ++p)
    expect_logged_by_owner(r.err, "partition " + std::to_string(p) + ": resumed from checkpoint", p, s.tasks);
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), static_cast<size_t>(s.count)) << "records missing after the restart";
  EXPECT_TRUE(all.wrong.empty()) << "a task counted a partition it does not own, e.g.: " << all.wrong.front();
}

TEST(Parallelism, ARevokedPartitionLeavesAndComesBackInItsOwnTask) {
  TempDir dir;
  Shape s;
  s.count = 8000;
  s.revoke_at = 2000;  // partition 0 leaves for 5 batches, then comes back
  std::string file = dir.write("p.toml", counting_pipeline(dir, s));
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_logged_by_owner(r.err, "partitions 0 left this process: their state was checkpointed and dropped", 0, s.tasks);
  EXPECT_EQ(r.err.find("partitions 0 left"), r.err.rfind("partitions 0 left")) << "only its owner held it: " << r.err;
  expect_logged_by_owner(r.err, "partition 0: resumed from checkpoint", 0, s.tasks);
  CounterOutput all = read_counter_output(dir.file("out.jsonl"), s.partitions);
  EXPECT_EQ(all.seqs.size(), 8000u);
  EXPECT_TRUE(all.wrong.empty()) << all.wrong.front();
}

TEST(Parallelism, StatelessNodesKeepEveryPartitionInOrderAndLoseNothing) {
  // Three tasks feeding two (every pair of tasks has its own queue), batches
  // of 64 records spanning all five partitions (split between the tasks).
  TempDir dir;
  const int64_t count = 50000, partitions = 5;
  std::string file = dir.write(
      "p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(count) +
                    "\npartitions = " + std::to_string(partitions) +
                    "\nbatch_size = 64\n"
                    "[nodes.a]\nplugin = \"passthrough\"\ninputs = [\"src\"]\nparallelism = 3\n"
                    "[nodes.b]\nplugin = \"passthrough\"\ninputs = [\"a\"]\nparallelism = 2\n"
                    "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"b\"]\npath = \"" +
                    dir.file("out.jsonl") + "\"\n");
  auto r = run_weir("run --no-progress " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int64_t, int64_t> next;  // partition -> the seq it must bring next
  for (int64_t p = 0; p < partitions; ++p) next[p] = p;
  std::istringstream in(read_file(dir.file("out.jsonl")));
  size_t total = 0;
  for (std::string line; std::getline(in, line); ++total) {
    size_t at = line.find("\"seq\":");
    ASSERT_NE(at, std::string::npos) << line;
    int64_t seq = std::stoll(line.substr(at + 6));
    ASSERT_EQ(seq, next[seq % partitions]) << "partition " << seq % partitions << " out of order or with a gap";
    next[seq % partitions] += partitions;
  }
  EXPECT_EQ(total, static_cast<size_t>(count));
  EXPECT_NE(r.err.find("a=50000 b=50000 out=50000"), std::string::npos) << "one figure per node, its tasks summed: " << r.err;
}

TEST(Parallelism, IsRefusedWhereOneTaskMustHoldEverything) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.src]\nplugin = \"test_source\"\nparallelism = 2\n"
                               "[nodes.count]\nplugin = \"test_partition_counter\"\ninputs = [\"src\"]\n"
                               "state = \"global\"\nparallelism = 2\n"
                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"count\"]\nparallelism = 0\n");
  auto r = run_weir("validate " + file, kEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":3:15: node 'src': parallelism applies to operators and sinks"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":8:15: node 'count': parallelism needs state per partition"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(file + ":12:15: node 'out': parallelism must be a number of tasks from 1 to 256"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace weir::testing
