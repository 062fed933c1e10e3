// The output of the test counters (test_counter, test_partition_counter)
// through a file_sink: every line has seq and n, the count of records the
// counter had seen, of all (PARTITIONS = 1) or of the record's partition
// (seq % PARTITIONS). Counting right means n == seq / PARTITIONS + 1.
#pragma once

#include <weir_test.hpp>

#include <csignal>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::testing {

inline const std::string kTestPluginEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

struct CounterOutput {
  std::set<int64_t> seqs;
  size_t lines = 0;
  std::vector<std::string> wrong;  // up to 5 lines where n is not the count it should be
};

inline CounterOutput read_counter_output(const std::string& path, int64_t partitions = 1) {
  CounterOutput out;
  std::istringstream in(read_file(path));
  static const std::regex fields(R"re("seq":(\d+),"n":(\d+))re");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, fields)) {
      out.wrong.push_back(line);
      continue;
    }
    ++out.lines;
    int64_t seq = std::stoll(m[1]), n = std::stoll(m[2]);
    out.seqs.insert(seq);
    if (n != seq / partitions + 1 && out.wrong.size() < 5) out.wrong.push_back(line);
  }
  return out;
}

// Runs FILE (output in DIR/out.jsonl) in the background and SIGKILLs it once
// the sink has written LINES lines (or after 10 s).
// test_source -> test_partition_counter -> file_sink (out.jsonl), shaped by S.
struct CountingShape {
  int64_t count = 30000, rate = 0, partitions = 3, revoke_at = 0;
  std::string state;  // "" = the plugin's default (per partition)
  bool checkpoint = true;
  int tasks = 1;  // the counter's parallelism
};

inline std::string counting_pipeline(const TempDir& dir, const CountingShape& s) {
  return "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(s.count) +
         "\nrate = " + std::to_string(s.rate) + "\npartitions = " + std::to_string(s.partitions) +
         "\nrevoke_at = " + std::to_string(s.revoke_at) + "\nresume = true\ncommit_log = \"" + dir.file("commits") +
         "\"\n[nodes.count]\nplugin = \"test_partition_counter\"\ninputs = [\"src\"]\n" +
         (s.state.empty() ? "" : "state = \"" + s.state + "\"\n") +
         (s.tasks == 1 ? "" : "parallelism = " + std::to_string(s.tasks) + "\n") +
         (s.checkpoint ? "checkpoint = \"" + dir.file("state") + "\"\ncheckpoint_interval_ms = 100\n" : "") +
         "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"count.out\"]\npath = \"" + dir.file("out.jsonl") + "\"\n";
}

inline void run_and_kill(const TempDir& dir, const std::string& file, size_t lines, int64_t partitions = 1) {
  std::string cmd = kTestPluginEnv + " " + WEIR_BINARY + " run --no-progress " + file + " 2>>" + dir.file("err") +
                    " & echo $! >" + dir.file("pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  pid_t pid = std::stoi(read_file(dir.file("pid")));
  for (int i = 0; i < 400 && read_counter_output(dir.file("out.jsonl"), partitions).lines < lines; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace weir::testing
