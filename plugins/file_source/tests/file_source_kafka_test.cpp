// file_source -> kafka_sink through the real binary against a real broker
// (label kafka; skipped without KAFKA_BOOTSTRAP):
//  * lines written at 10 000 lines/s while the file is rotated by rename, and
//    by copytruncate: every line in Kafka exactly once, each car's lines in
//    file order in one partition, the header lines filtered out;
//  * the collector SIGKILLed mid-stream and restarted: every line in Kafka,
//    duplicates only after the last saved position (counted).
#include "position_file.hpp"

#include <kafka_broker.hpp>
#include <kafka_e2e.hpp>

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace e2e = weir::testing::e2e;
using weir::testing::bootstrap;
using weir::testing::read_file;
using weir::testing::TempDir;

namespace {

constexpr int kCars = 10;

// "20220426000000,C0003,<seq, 7 digits>": 29 bytes with its newline; key = the car.
std::string numbered(int seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "20220426000000,C%04d,%07d", seq % kCars, seq);
  return buf;
}
constexpr int kLineBytes = 29;

std::string collector(const TempDir& dir, const std::string& glob, const std::string& topic, const std::string& extra) {
  return "[nodes.logs]\nplugin = \"file_source\"\npaths = [\"" + dir.file(glob) + "\"]\npositions_file = \"" +
         dir.file("positions") + "\"\nline_regex = \"^[0-9]{14}\"\nkey_csv_column = 1\nrotate_wait_ms = 500\n" + extra +
         "\n[nodes.kafka]\nplugin = \"kafka_sink\"\ninputs = [\"logs\"]\nendpoints = \"" + bootstrap() + "\"\ntopic = \"" + topic + "\"\n";
}

// Every file GLOB finds has its size as saved offset (the sinks have every line), and nothing else is saved.
bool all_saved(const TempDir& dir, const std::string& glob) {
  std::string error;
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  if (!saved) return false;
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    std::string name = e.path().filename().string();
    if (::fnmatch(glob.c_str(), name.c_str(), 0) != 0) continue;
    ++files;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) return false;
    bool found = false;
    for (const auto& s : *saved) found |= s.ino == static_cast<uint64_t>(st.st_ino) && s.offset == st.st_size;
    if (!found) return false;
  }
  return files > 0 && saved->size() == files;
}

// The topic's lines, read back with kafka_source -> file_sink.
std::vector<e2e::SinkLine> consume(const std::string& topic, TempDir& dir) {
  std::string out = dir.file("consumed.json");
  std::string file = dir.write("consume.toml", e2e::consumer_pipeline(bootstrap(), topic, e2e::unique_name("g-fs"), out, true));
  weir::testing::RunResult r = weir::testing::run_weir("run " + file + " --no-progress");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return e2e::read_sink(out);
}

// Each of N lines once; a car's lines in one partition, in file (sequence) order.
void expect_each_once_in_file_order(const std::vector<e2e::SinkLine>& lines, int n) {
  std::vector<int> count(static_cast<size_t>(n), 0);
  std::map<std::string, int> last_seq;
  std::map<std::string, int32_t> partition_of;
  for (const e2e::SinkLine& l : lines) {
    ASSERT_EQ(l.payload.size(), static_cast<size_t>(kLineBytes - 1)) << "a header or a cut line reached Kafka: " << l.payload;
    int seq = std::stoi(l.payload.substr(21));
    ASSERT_LT(seq, n);
    ++count[static_cast<size_t>(seq)];
    EXPECT_EQ(l.key, l.payload.substr(15, 5));
    auto [it, fresh] = partition_of.emplace(l.key, l.partition);
    EXPECT_EQ(it->second, l.partition) << "car " << l.key << " in two partitions";
    auto last = last_seq.find(l.key);
    if (last != last_seq.end()) EXPECT_GT(seq, last->second) << "car " << l.key << " out of file order";
    last_seq[l.key] = seq;
  }
  int missing = 0, doubled = 0;
  for (int c : count) missing += c == 0, doubled += c > 1;
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(doubled, 0);
}

enum class Rotation { kRename, kCopytruncate };

// Writes N lines at RATE lines/s into DIR/x.log, starting each file with a
// header line, rotating every EVERY lines.
void write_rotating(const TempDir& dir, int n, int rate, int every, Rotation how) {
  std::string log = dir.file("x.log");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto put = [&](const std::string& s) { ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); };
  put("Driver Status Infomation,C0001\n");
  auto start = std::chrono::steady_clock::now();
  int rotated = 0;
  std::string chunk;
  for (int i = 0; i < n; ++i) {
    chunk += numbered(i) + "\n";
    if ((i + 1) % 10 == 0 || i + 1 == n) {  // 10 lines per write(2), paced
      put(chunk);
      chunk.clear();
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(i + 1) * 1'000'000 / rate));
    }
    if ((i + 1) % every != 0 || i + 1 == n) continue;
    std::string next = log + "." + std::to_string(++rotated);
    if (how == Rotation::kRename) {
      std::filesystem::rename(log, next);
      ::close(fd);
      fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    } else {
      std::filesystem::copy_file(log, next);
      ASSERT_EQ(::ftruncate(fd, 0), 0);
    }
    put("Driver Status Infomation,C0001\n");
  }
  ::close(fd);
}

void rotation_test(Rotation how, const std::string& glob) {
  REQUIRE_BROKER();
  const int n = 40000;
  std::string topic = e2e::unique_name(std::string("wt-17-fs-") + (how == Rotation::kRename ? "rename" : "copytruncate"));
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;  // the files, the positions and weir's log (named so no glob finds it)
  std::string p = dir.write("collect.toml", collector(dir, glob, topic, ""));
  pid_t pid = e2e::spawn_weir(p, dir.file("collect.stderr"));
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the collector is up: x.log appears after its start
  write_rotating(dir, n, 10000, 6000, how);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !all_saved(dir, glob))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGINT);
  ASSERT_EQ(e2e::wait_for(pid, std::chrono::seconds(60)), 0) << read_file(dir.file("collect.stderr"));
  std::vector<e2e::SinkLine> lines = consume(topic, dir);
  ASSERT_EQ(lines.size(), static_cast<size_t>(n)) << read_file(dir.file("collect.stderr"));
  expect_each_once_in_file_order(lines, n);
}

TEST(FileSourceKafka, RenameRotationAt10kLinesPerSecondEveryLineOnceInFileOrder) {
  rotation_test(Rotation::kRename, "x.log");  // the rotated files are out of the glob: finished through their descriptor
}

TEST(FileSourceKafka, CopytruncateAt10kLinesPerSecondEveryLineOnceInFileOrder) {
  rotation_test(Rotation::kCopytruncate, "x.log*");  // the copies are in the glob: each continues its original
}

TEST(FileSourceKafka, SigkillMidStreamAndRestartEveryLineDuplicatesOnlyAfterTheLastCommit) {
  REQUIRE_BROKER();
  const int n = 200000;
  std::string topic = e2e::unique_name("wt-17-fs-crash");
  e2e::create_topic(bootstrap(), topic, 4);
  TempDir dir;
  {
    std::ofstream f(dir.file("x.log"));
    for (int i = 0; i < n; ++i) f << numbered(i) << '\n';
  }
  // Run 1: small batches, positions saved every 50 ms; killed once some are saved.
  std::string p1 = dir.write("run1.toml", collector(dir, "x.log", topic, "batch_size = 200\ncommit_interval_ms = 50"));
  pid_t pid = e2e::spawn_weir(p1, dir.file("run1.stderr"));
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string error;
  for (;;) {
    auto saved = weir::file_source::read_positions(dir.file("positions"), error);
    if (saved && !saved->empty() && (*saved)[0].offset > 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << read_file(dir.file("run1.stderr"));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  ASSERT_TRUE(saved && saved->size() == 1u) << error;
  const int64_t committed = (*saved)[0].offset;
  ASSERT_EQ(committed % kLineBytes, 0);
  const int committed_lines = static_cast<int>(committed / kLineBytes);
  ASSERT_LT(committed_lines, n) << "killed too late to be mid-stream";

  // Run 2: to the end of the file.
  std::string p2 = dir.write("run2.toml", collector(dir, "x.log", topic, "end_at_eof = true"));
  pid = e2e::spawn_weir(p2, dir.file("run2.stderr"));
  ASSERT_EQ(e2e::wait_for(pid, std::chrono::seconds(120)), 0) << read_file(dir.file("run2.stderr"));

  std::vector<e2e::SinkLine> lines = consume(topic, dir);
  std::vector<int> count(static_cast<size_t>(n), 0);
  for (const e2e::SinkLine& l : lines) ++count[static_cast<size_t>(std::stoi(l.payload.substr(21)))];
  int duplicates = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_GE(count[static_cast<size_t>(i)], 1) << "lost line " << i;
    ASSERT_LE(count[static_cast<size_t>(i)], 2) << "line " << i;
    if (count[static_cast<size_t>(i)] == 2) {
      ++duplicates;
      ASSERT_GE(i, committed_lines) << "a duplicate of a line before the last commit";
    }
  }
  EXPECT_EQ(lines.size(), static_cast<size_t>(n + duplicates));
  std::fprintf(stderr, "  crash test: %d lines; %d committed before SIGKILL; %d duplicates in Kafka, all after the last commit\n", n,
               committed_lines, duplicates);
}

}  // namespace
