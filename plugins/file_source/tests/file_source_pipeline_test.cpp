// file_source through the real binary and loader: the shipped example, a
// binary file with header lines into file_sink byte for byte, and a SIGKILL
// mid-stream with a restart (every line present, duplicates only after the
// last saved position, counted).
#include "position_file.hpp"

#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace {

using weir::testing::read_file;
using weir::testing::run_weir;
using weir::testing::TempDir;

std::string pipeline(const TempDir& dir, const std::string& source_extra, const std::string& sink) {
  return "[nodes.logs]\nplugin = \"file_source\"\npaths = [\"" + dir.file("*.log") + "\"]\npositions_file = \"" +
         dir.file("positions") + "\"\n" + source_extra + "\n[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"logs\"]\n" + sink;
}

TEST(FileSourcePipeline, ExampleValidates) {
  auto r = run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/plugins/file_source/example.toml");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto c = run_weir("validate " + std::string(WEIR_SOURCE_DIR) + "/pipelines/smartcar-collect.toml");
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
}

TEST(FileSourcePipeline, BinaryFileWithHeadersReachesTheSinkByteForByte) {
  TempDir dir;
  std::string in, want;
  in += "Driver Status Infomation,A0001\n";
  for (int i = 0; i < 300; ++i) {
    std::string line = "20220426" + std::to_string(100000 + i);
    for (int b = 0; b < 256; ++b)
      if (b != '\n') line += static_cast<char>((b + i) % 256 == '\n' ? 0 : (b + i) % 256);
    in += line + "\n";
    want += line + "\n";
  }
  std::ofstream(dir.file("bin.log"), std::ios::binary) << in;
  std::string file = dir.write("p.toml", pipeline(dir, "end_at_eof = true\nline_regex = \"^[0-9]{14}\"",
                                                  "path = \"" + dir.file("out.txt") + "\"\nformat = \"payload\"\n"));
  auto r = run_weir("run " + file + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string got = read_file(dir.file("out.txt"));
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the same bytes, header dropped";
  // A clean end saves every acknowledged line: a restart would read nothing again.
  std::string error;
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  ASSERT_TRUE(saved && saved->size() == 1u) << error;
  EXPECT_EQ((*saved)[0].offset, static_cast<int64_t>(in.size()));
}

// Line i is "20220426000000,<i padded to 7>": fixed length, so its end offset is (i + 1) * 23.
constexpr int kLineBytes = 23;
std::string numbered(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "20220426000000,%07d", i);
  return buf;
}

TEST(FileSourcePipeline, SigkillAndRestartLosesNothingDuplicatesOnlyAfterTheLastSavedPosition) {
  TempDir dir;
  const int n = 400000;
  {
    std::ofstream f(dir.file("big.log"));
    for (int i = 0; i < n; ++i) f << numbered(i) << '\n';
  }
  // Run 1: small batches and requests, an fsync per request and frequent position writes: killed mid-stream.
  std::string out1 = dir.file("run1.txt");
  std::string p1 = dir.write("run1.toml", pipeline(dir, "batch_size = 100\ncommit_interval_ms = 50",
                                                   "path = \"" + out1 + "\"\nformat = \"payload\"\nfsync = true\n"
                                                   "batch_max_records = 100\n"));
  weir::testing::BackgroundWeir weir1(dir, p1 + " --no-progress");
  ASSERT_TRUE(weir1.started()) << weir1.err();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  // Mid-stream, and after a first positions file (on a quiet machine 20 000
  // lines are through before the first commit interval ends).
  auto positions_written = [&] {
    std::string ignored;
    return weir::file_source::read_positions(dir.file("positions"), ignored).has_value();
  };
  while (std::chrono::steady_clock::now() < deadline &&
         (weir::testing::count_lines(read_file(out1)) < 20000 || !positions_written()))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  weir1.signal(SIGKILL);
  ASSERT_TRUE(weir1.wait(30));
  ASSERT_EQ(weir1.exit_code(), 128 + SIGKILL) << weir1.err();
  std::string error;
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  ASSERT_TRUE(saved) << "no positions written before the kill: " << error << weir1.err();
  ASSERT_EQ(saved->size(), 1u);
  const int64_t committed = (*saved)[0].offset;
  ASSERT_EQ(committed % kLineBytes, 0) << "a line boundary";
  const int64_t committed_lines = committed / kLineBytes;
  std::string text1 = read_file(out1);
  text1.resize(text1.rfind('\n') + 1);  // a line cut by the kill does not count
  size_t run1 = weir::testing::count_lines(text1);
  ASSERT_LT(run1, static_cast<size_t>(n)) << "killed too late to be mid-stream";
  ASSERT_GE(run1, static_cast<size_t>(committed_lines)) << "saved past what the sink had";

  // Run 2: to the end.
  std::string out2 = dir.file("run2.txt");
  std::string p2 = dir.write("run2.toml", pipeline(dir, "end_at_eof = true", "path = \"" + out2 + "\"\nformat = \"payload\"\n"));
  auto r = run_weir("run " + p2 + " --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text2 = read_file(out2);
  ASSERT_EQ(text2.substr(0, kLineBytes), numbered(static_cast<int>(committed_lines)) + "\n") << "run 2 starts at the saved position";
  std::map<int, int> seen;
  for (const std::string* t : {&text1, &text2})
    for (size_t at = 0; at + kLineBytes <= t->size(); at += kLineBytes) ++seen[std::stoi(t->substr(at + 15, 7))];
  size_t duplicates = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_GE(seen[i], 1) << "lost line " << i;
    ASSERT_LE(seen[i], 2) << "line " << i;
    if (seen[i] == 2) {
      ++duplicates;
      ASSERT_GE(i, committed_lines) << "a duplicate before the last saved position";
    }
  }
  EXPECT_EQ(duplicates, run1 - static_cast<size_t>(committed_lines));
  std::fprintf(stderr, "  crash test: %d lines; run 1 wrote %zu before SIGKILL (%lld saved); run 2 wrote %zu; %zu duplicates, all after it\n",
               n, run1, static_cast<long long>(committed_lines), weir::testing::count_lines(text2), duplicates);
}

}  // namespace
