// file_source against the fake host: parameters, line framing, filters and
// keys, rotation by rename and by copytruncate, deletion, restart from the
// positions file, many files. Files live in a temporary directory.
#include "line_reader.hpp"
#include "position_file.hpp"

#include <fake_host.hpp>
#include <weir_test.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <regex>

extern "C" const weir_plugin* weir_plugin_entry();

namespace {

using weir::testing::FakeHost;
using weir::testing::TempDir;

void append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

std::string lines(int from, int to, const std::string& prefix = "line") {
  std::string s;
  for (int i = from; i <= to; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The string value of NAME in a JSON object (no regex: payloads may be 10 MB).
std::string json_string(const std::string& json, const std::string& name) {
  std::string marker = "\"" + name + "\":\"";
  size_t at = json.find(marker);
  if (at == std::string::npos) return "";
  std::string raw;
  for (size_t i = at + marker.size(); i < json.size() && json[i] != '"'; ++i) {
    raw += json[i];
    if (json[i] == '\\' && i + 1 < json.size()) raw += json[++i];
  }
  return unescape(raw);
}

// A file_source on a fake host over files in DIR.
struct Source {
  explicit Source(const TempDir& dir, const std::string& glob = "*.log") : host(weir_plugin_entry()), dir_(dir) {
    host.param("paths", std::vector<std::string>{dir.file(glob)});
    host.param("positions_file", dir.file("positions"));
    host.param("rotate_wait_ms", int64_t{0});
    host.param("poll_interval_ms", int64_t{20});
  }
  ~Source() {
    if (opened) host.vt().close(host.instance());
    if (::testing::Test::HasFailure())
      for (const auto& l : host.logs) std::fprintf(stderr, "  log: %s\n", l.c_str());
  }
  void start() {
    ASSERT_EQ(host.create(), "");
    ASSERT_EQ(host.vt().open(host.instance()), WEIR_OK);
    opened = true;
  }
  int poll() { return host.vt().poll(host.instance()); }
  // Polls until N lines came out (or a generous number of polls passed).
  std::vector<std::string> read(size_t n) {
    for (int i = 0; i < 400 && out().size() < n; ++i) poll();
    for (int i = 0; i < 3; ++i) poll();  // and nothing more
    return out();
  }
  std::vector<std::string> out() const {
    std::vector<std::string> v;
    for (const auto& e : host.emitted)
      if (e.port == "out") v.push_back(json_string(e.json, "_payload"));
    return v;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> v;
    for (const auto& e : host.emitted) v.push_back(json_string(e.json, "_key"));
    return v;
  }
  void commit(int32_t partition, int64_t offset) {
    weir_position p{partition, offset};
    host.vt().commit(host.instance(), &p, 1);
  }
  void stop() {
    host.vt().close(host.instance());
    opened = false;
  }

  FakeHost host;
  const TempDir& dir_;
  bool opened = false;
};

std::vector<std::string> seq(int from, int to, const std::string& prefix = "line") {
  std::vector<std::string> v;
  for (int i = from; i <= to; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

// ---------------------------------------------------------------- parameters

TEST(FileSourceParams, Errors) {
  struct Case {
    std::function<void(FakeHost&)> set;
    std::string want;
  };
  std::vector<Case> cases = {
      {[](FakeHost& h) { h.param("paths", std::vector<std::string>{}); }, "paths must list at least one glob"},
      {[](FakeHost& h) { h.param("positions_file", std::string("")); }, "positions_file must name a file"},
      {[](FakeHost& h) { h.param("start", std::string("middle")); }, "start must be \"beginning\" or \"end\""},
      {[](FakeHost& h) { h.param("line_regex", std::string("([0-9")); }, "line_regex \"([0-9\" is not a valid regular expression"},
      {[](FakeHost& h) { h.param("key_regex", std::string("x")).param("key_csv_column", int64_t{1}); }, "exclusive"},
      {[](FakeHost& h) { h.param("key_regex", std::string("(a)")).param("key_group", int64_t{2}); }, "key_group 2 is not a group"},
      {[](FakeHost& h) { h.param("csv_delimiter", std::string(",;")); }, "csv_delimiter must be one character"},
      {[](FakeHost& h) { h.param("max_line_bytes", int64_t{0}); }, "max_line_bytes must be"},
      {[](FakeHost& h) { h.param("include_prefixes", std::vector<std::string>{""}); }, "empty prefix"},
  };
  for (const Case& c : cases) {
    FakeHost h(weir_plugin_entry());
    h.param("paths", std::vector<std::string>{"/tmp/x/*.log"}).param("positions_file", std::string("/tmp/x/pos"));
    c.set(h);
    std::string err = h.create();
    EXPECT_NE(err.find(c.want), std::string::npos) << "got: " << err;
  }
  FakeHost ok(weir_plugin_entry());
  ok.param("paths", std::vector<std::string>{"/tmp/x/*.log"}).param("positions_file", std::string("/tmp/x/pos"));
  EXPECT_EQ(ok.create(), "");
}

// ---------------------------------------------------------------- framing

TEST(LineReader, PartialLinesWaitOverlongLinesAreReportedWhole) {
  TempDir dir;
  std::string path = dir.file("f");
  append(path, "ab\ncd");
  int fd = ::open(path.c_str(), O_RDONLY);
  weir::file_source::LineReader r(4, 4096);
  r.reset(0);
  weir::file_source::Line l;
  ASSERT_GT(r.fill(fd), 0);
  ASSERT_TRUE(r.next(l));
  EXPECT_EQ(l.text, "ab");
  EXPECT_EQ(l.start, 0);
  EXPECT_EQ(l.end, 3);
  EXPECT_FALSE(r.next(l)) << "cd has no newline yet";
  EXPECT_EQ(r.consumed(), 3);
  append(path, "efgh\nij\n");  // "cdefgh": 6 bytes > 4
  ASSERT_GT(r.fill(fd), 0);
  ASSERT_TRUE(r.next(l));
  EXPECT_EQ(l.kind, weir::file_source::Line::kOverlong);
  EXPECT_EQ(l.length, 6u);
  EXPECT_EQ(l.text, "cdefgh");
  EXPECT_EQ(l.start, 3);
  EXPECT_EQ(l.end, 10);
  ASSERT_TRUE(r.next(l));
  EXPECT_EQ(l.text, "ij");
  EXPECT_EQ(r.consumed(), 13);
  ::close(fd);
}

TEST(FileSource, PartialLastLineWaitsForItsNewline) {
  TempDir dir;
  append(dir.file("a.log"), "one\ntwo\nthr");
  Source s(dir);
  s.start();
  EXPECT_EQ(s.read(2), (std::vector<std::string>{"one", "two"}));
  append(dir.file("a.log"), "ee\nfour\n");
  EXPECT_EQ(s.read(4), (std::vector<std::string>{"one", "two", "three", "four"}));
}

TEST(FileSource, HeaderLinesFilteredKeyFromCsvColumn) {
  TempDir dir;
  append(dir.file("cars.log"),
         "Driver Status Infomation,A0001\nDriver Status Infomation,B0002\n"
         "20220426061000,A0001,2,0,F,N,85,F06\n20220426061000,B0002,0,1,L1,L,40,A02\n20220426061001,A0001,1,0,F,N,86,F06\n");
  Source s(dir);
  s.host.param("line_regex", std::string("^[0-9]{14}")).param("key_csv_column", int64_t{1});
  s.start();
  std::vector<std::string> got = s.read(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "20220426061000,A0001,2,0,F,N,85,F06");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"A0001", "B0002", "A0001"}));
  EXPECT_TRUE(s.host.rejected.empty());
  s.host.vt().on_timer(s.host.instance(), 0);
  EXPECT_EQ(s.host.gauge_now("file_source_lines_filtered{}"), 2);
}

TEST(FileSource, PrefixFiltersAndKeyRegexLinesWithoutKeyToError) {
  TempDir dir;
  append(dir.file("a.log"), "#comment\nid=7 x\nid=8 y\nno id here\nid=9 z\n");
  Source s(dir);
  s.host.param("exclude_prefixes", std::vector<std::string>{"#"}).param("key_regex", std::string("id=([0-9]+)"));
  s.start();
  EXPECT_EQ(s.read(3), (std::vector<std::string>{"id=7 x", "id=8 y", "id=9 z"}));
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"7", "8", "9"}));
  ASSERT_EQ(s.host.rejected.size(), 1u);
  EXPECT_NE(s.host.rejected[0].find("no key in the line"), std::string::npos) << s.host.rejected[0];
  EXPECT_NE(s.host.rejected[0].find("at offset 23 of"), std::string::npos) << s.host.rejected[0];
  EXPECT_NE(s.host.rejected[0].find("\"_payload\":\"no id here\""), std::string::npos) << s.host.rejected[0];
}

TEST(FileSource, TenMegabyteLineGoesWholeToErrorOrWholeToOut) {
  TempDir dir;
  std::string big(10 << 20, 'x');
  append(dir.file("a.log"), "before\n" + big + "\nafter\n");
  {
    Source s(dir);  // max_line_bytes 1 MiB (default)
    s.start();
    EXPECT_EQ(s.read(2), (std::vector<std::string>{"before", "after"})) << "never split into pieces";
    ASSERT_EQ(s.host.rejected.size(), 1u);
    const std::string& r = s.host.rejected[0];
    EXPECT_NE(r.find("line of 10485760 bytes at offset 7 of"), std::string::npos) << r.substr(0, 300);
    EXPECT_NE(r.find("longer than max_line_bytes (1048576)"), std::string::npos) << r.substr(0, 300);
    EXPECT_NE(r.find("\"_payload\":\"" + std::string(1024, 'x') + "\""), std::string::npos) << "its first 1024 bytes";
  }
  std::filesystem::remove(dir.file("positions"));
  Source s(dir);
  s.host.param("max_line_bytes", int64_t{16 << 20});
  s.start();
  std::vector<std::string> got = s.read(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].size(), big.size());
  EXPECT_TRUE(got[1] == big);
  EXPECT_TRUE(s.host.rejected.empty());
}

// ---------------------------------------------------------------- start, new files

TEST(FileSource, StartAtEndSkipsOldLinesButReadsLateFilesWhole) {
  TempDir dir;
  append(dir.file("old.log"), "old1\nold2\nhalf");
  Source s(dir);
  s.host.param("start", std::string("end"));
  s.start();
  EXPECT_TRUE(s.read(0).empty());
  append(dir.file("old.log"), "-line\nnew1\n");
  append(dir.file("late.log"), "late1\nlate2\n");  // appears after the start: read from its start
  std::vector<std::string> got = s.read(3);
  EXPECT_EQ(got, (std::vector<std::string>{"new1", "late1", "late2"})) << "the cut line before the start is dropped";
}

TEST(FileSource, BacklogOfRotatedFilesIsReadOldestFirst) {
  TempDir dir;
  append(dir.file("x.log"), lines(7, 9));
  append(dir.file("x.log.1"), lines(1, 3));
  append(dir.file("x.log.2"), lines(4, 6));
  auto age = [&](const std::string& name, int seconds_ago) {
    struct timespec t[2];
    ::clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= seconds_ago;
    t[1] = t[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, dir.file(name).c_str(), t, 0), 0);
  };
  age("x.log.1", 30);
  age("x.log.2", 20);
  Source s(dir, "x.log*");
  s.start();
  EXPECT_EQ(s.read(9), seq(1, 9));
}

TEST(FileSource, ExcludedFilesAreNotFollowed) {
  TempDir dir;
  append(dir.file("x.log"), "a\n");
  append(dir.file("x.log.1.gz"), "compressed\n");
  append(dir.file("skip.log"), "skipped\n");
  Source s(dir, "*.log*");
  s.host.param("exclude", std::vector<std::string>{"*.gz", dir.file("skip.*")});
  s.start();
  EXPECT_EQ(s.read(1), (std::vector<std::string>{"a"}));
}

TEST(FileSource, AThousandFilesAtOnce) {
  TempDir dir;
  for (int f = 0; f < 1000; ++f) append(dir.file("f" + std::to_string(f) + ".log"), lines(1, 3, "f" + std::to_string(f) + "-"));
  Source s(dir);
  s.host.param("batch_size", int64_t{500});
  s.start();
  std::vector<std::string> got = s.read(3000);
  ASSERT_EQ(got.size(), 3000u);
  std::map<std::string, int> last;
  for (const std::string& l : got) {
    std::string file = l.substr(0, l.find('-'));
    int n = std::stoi(l.substr(l.find('-') + 1));
    EXPECT_EQ(n, last[file] + 1) << "in file order: " << l;
    last[file] = n;
  }
  EXPECT_EQ(last.size(), 1000u);
  s.host.vt().on_timer(s.host.instance(), 0);
  EXPECT_EQ(s.host.gauge_now("file_source_files{}"), 1000);
}

// ---------------------------------------------------------------- rotation

TEST(FileSource, RenameRotationFinishesTheOldFileFirst) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 3));
  Source s(dir);  // *.log: the rotated x.log.1 is out of the globs
  s.start();
  ASSERT_EQ(s.read(3).size(), 3u);
  append(log, lines(4, 5));  // not read yet
  std::filesystem::rename(log, dir.file("x.log.1"));
  append(log, lines(6, 7));
  EXPECT_EQ(s.read(7), seq(1, 7));
  // The rotated file is closed once read (rotate_wait_ms = 0).
  s.host.vt().on_timer(s.host.instance(), 0);
  EXPECT_EQ(s.host.gauge_now("file_source_files{}"), 1);
}

TEST(FileSource, RenameRotationInsideTheGlobsKeepsFollowingTheInode) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 2));
  Source s(dir, "x.log*");
  s.start();
  ASSERT_EQ(s.read(2).size(), 2u);
  std::filesystem::rename(log, dir.file("x.log.1"));
  append(dir.file("x.log.1"), lines(3, 3));  // the writer's last line into the old file
  append(log, lines(4, 5));
  EXPECT_EQ(s.read(5), seq(1, 5));
}

TEST(FileSource, CopytruncateReadsTheCopysRestThenTheTruncatedFileOnce) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 3));
  Source s(dir, "x.log*");
  s.start();
  ASSERT_EQ(s.read(3).size(), 3u);
  append(log, lines(4, 5));  // written before the rotation, not read yet
  std::filesystem::copy_file(log, dir.file("x.log.1"));
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);
  append(log, lines(6, 7));
  EXPECT_EQ(s.read(7), seq(1, 7)) << "each line once, in file order";
}

TEST(FileSource, CopySeenBeforeTheTruncationIsNotReadAgain) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 3));
  Source s(dir, "x.log*");
  s.start();
  ASSERT_EQ(s.read(3).size(), 3u);
  append(log, lines(4, 5));
  std::filesystem::copy_file(log, dir.file("x.log.1"));
  EXPECT_EQ(s.read(5), seq(1, 5)) << "the copy is not read while its original is followed";
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);
  append(log, lines(6, 7));
  EXPECT_EQ(s.read(7), seq(1, 7));
}

// cp creates the copy empty and fills it: while it is a prefix of x.log it is not read as a new file.
TEST(FileSource, CopyBeingWrittenIsNotReadAsANewFile) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 60));  // more than fingerprint_bytes
  Source s(dir, "x.log*");
  s.start();
  ASSERT_EQ(s.read(60).size(), 60u);
  append(log, lines(61, 62));
  std::string all = weir::testing::read_file(log);
  append(dir.file("x.log.1"), "");
  EXPECT_EQ(s.read(62).size(), 62u);
  append(dir.file("x.log.1"), all.substr(0, 100));
  EXPECT_EQ(s.read(62).size(), 62u);
  append(dir.file("x.log.1"), all.substr(100));
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);
  append(log, lines(63, 64));
  EXPECT_EQ(s.read(64), seq(1, 64));
}

TEST(FileSource, TruncatedWithoutCopyIsReadFromItsStart) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 3));
  Source s(dir);
  s.start();
  ASSERT_EQ(s.read(3).size(), 3u);
  ASSERT_EQ(::truncate(log.c_str(), 0), 0);
  append(log, "a\nb\n");
  std::vector<std::string> want = seq(1, 3);
  want.insert(want.end(), {"a", "b"});
  EXPECT_EQ(s.read(5), want);
}

TEST(FileSource, DeletedWhileOpenIsReadToItsEnd) {
  TempDir dir;
  std::string log = dir.file("x.log");
  append(log, lines(1, 2));
  Source s(dir);
  s.start();
  ASSERT_EQ(s.read(2).size(), 2u);
  append(log, lines(3, 4));
  std::filesystem::remove(log);
  EXPECT_EQ(s.read(4), seq(1, 4));
}

// ---------------------------------------------------------------- positions

TEST(FileSource, RestartResumesAfterTheLastAcknowledgedLine) {
  TempDir dir;
  append(dir.file("a.log"), "l1\nl2\nl3\nl4\n");  // line ends at 3, 6, 9, 12
  {
    Source s(dir);
    s.start();
    ASSERT_EQ(s.read(4).size(), 4u);
    s.commit(0, 6);  // the sinks have l1, l2
    s.stop();
  }
  std::string error;
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  ASSERT_TRUE(saved) << error;
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].offset, 6);
  EXPECT_EQ((*saved)[0].path, dir.file("a.log"));
  Source again(dir);
  again.start();
  EXPECT_EQ(again.read(2), (std::vector<std::string>{"l3", "l4"})) << "only what was not acknowledged";
}

TEST(FileSource, FilteredLinesAfterTheLastAcknowledgedOneAreNotReadAgain) {
  TempDir dir;
  append(dir.file("a.log"), "keep\n#x\n#y\n");
  Source s(dir);
  s.host.param("exclude_prefixes", std::vector<std::string>{"#"});
  s.start();
  ASSERT_EQ(s.read(1).size(), 1u);
  s.commit(0, 5);
  s.stop();
  std::string error;
  auto saved = weir::file_source::read_positions(dir.file("positions"), error);
  ASSERT_TRUE(saved) << error;
  EXPECT_EQ((*saved)[0].offset, 11);
}

TEST(FileSource, ReusedInodeWithOtherBytesIsANewFile) {
  TempDir dir;
  std::string log = dir.file("a.log");
  append(log, "new1\nnew2\n");
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  // A saved position for this very inode, but of a file that began with other bytes.
  std::string error;
  ASSERT_TRUE(weir::file_source::write_positions(
      dir.file("positions"), {{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), 4, 0x1234, 5, log}}, error));
  Source s(dir);
  s.start();
  EXPECT_EQ(s.read(2), (std::vector<std::string>{"new1", "new2"}));
}

TEST(FileSource, DamagedPositionsFileStopsTheStartWithItsName) {
  TempDir dir;
  append(dir.file("positions"), "something else\n");
  Source s(dir);
  ASSERT_EQ(s.host.create(), "");
  EXPECT_EQ(s.host.vt().open(s.host.instance()), WEIR_FAILED);
  bool named = false;
  for (const auto& l : s.host.logs) named |= l.find(dir.file("positions") + ":1: not a file_source positions file") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(FileSource, EndAtEofEmitsTheLastLineWithoutNewline) {
  TempDir dir;
  append(dir.file("a.log"), "a\nb");
  Source s(dir);
  s.host.param("end_at_eof", true);
  s.start();
  int st = WEIR_OK;
  for (int i = 0; i < 100 && st != WEIR_END; ++i) st = s.poll();
  EXPECT_EQ(st, WEIR_END);
  EXPECT_EQ(s.out(), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
