// file_sink through the real binary: a rejects file (and the dead-letter file)
// is valid UTF-8 JSON lines whatever bytes the records and reasons hold.
#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

namespace weir::testing {
namespace {

using namespace std::string_literals;

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

// The lines of FILE as canonical ASCII JSON (sorted keys, \uXXXX), or the
// strict reader's complaint.
RunResult strict_json_lines(const TempDir& dir, const std::string& file) {
  std::string cmd = std::string(WEIR_PYTHON) + " " + STRICT_JSON_LINES + " " + file + " >" + dir.file("canon") + " 2>" +
                    dir.file("canon.err");
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir.file("canon")), read_file(dir.file("canon.err"))};
}

// Binary CSV lines "name,n": column n is never an int64, so csv_decode rejects
// every line but the first, quoting n in the reason.
const std::string kLines =
    "ok,1\n"
    "bad\xff,1\0002\n"                        // an invalid byte; a NUL in the payload and in the reason
    "\xe2\x82,\xed\xa0\x80\n"                 // a cut 3-byte sequence; an encoded surrogate
    "caf\xc3\xa9,\xc3\xbc\n"                  // valid UTF-8: as is
    "\xc0\xaf\xf4\x90\x80\x80,\xf8\n"s;       // overlong, above U+10FFFF, F8

// Invalid bytes read as Latin-1 (\u00XX); `_payload_b64` only for a payload
// that is not valid UTF-8; the reason whole, past its NUL.
std::vector<std::string> expected(bool metadata) {
  auto line = [&](int seq, const std::string& payload, const std::string& b64, const std::string& n) {
    std::string meta = metadata ? "\"_offset\":" + std::to_string(seq) + ",\"_partition\":0," : "";
    return "{" + meta + "\"_payload\":\"" + payload + "\"," + (b64.empty() ? "" : "\"_payload_b64\":\"" + b64 + "\",") +
           (metadata ? "\"_time\":0," : "") + "\"error_node\":\"dec\",\"error_reason\":\"column 2 'n': \\\"" + n +
           "\\\" is not an int64\",\"seq\":" + std::to_string(seq) + "}";
  };
  return {
      line(1, R"(bad\u00ff,1\u00002)", "YmFk/ywxADI=", R"(1\u00002)"),
      line(2, R"(\u00e2\u0082,\u00ed\u00a0\u0080)", "4oIs7aCA", R"(\u00ed\u00a0\u0080)"),
      line(3, R"(caf\u00e9,\u00fc)", "", R"(\u00fc)"),
      line(4, R"(\u00c0\u00af\u00f4\u0090\u0080\u0080,\u00f8)", "wK/0kICALPg=", R"(\u00f8)"),
  };
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string pipeline(const TempDir& dir, bool rejects_node) {
  return "[nodes.src]\nplugin = \"test_source\"\npayload_file = \"" + dir.file("input") +
         "\"\n"
         "[nodes.dec]\nplugin = \"csv_decode\"\ninputs = [\"src\"]\nfields = [\"name:string\", \"n:int64\"]\n"
         "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"dec\"]\n" +
         (rejects_node ? "[nodes.rejects]\nplugin = \"file_sink\"\ninputs = [\"dec.error\"]\npath = \"" +
                             dir.file("rejects.jsonl") + "\"\n"
                       : "");
}

TEST(FileSinkPipeline, RejectsOfBinaryInputAreValidJsonLinesWithTheWholeReason) {
  TempDir dir;
  dir.write("input", kLines);
  auto r = run_weir("run " + dir.write("p.toml", pipeline(dir, true)), kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("src=5 dec=5 out=1 rejects=4 errors=4"), std::string::npos) << r.err;
  auto canon = strict_json_lines(dir, dir.file("rejects.jsonl"));
  ASSERT_EQ(canon.exit_code, 0) << canon.err;
  EXPECT_EQ(lines_of(canon.out), expected(false));
}

TEST(FileSinkPipeline, TheDeadLetterFileIsValidJsonLinesToo) {
  TempDir dir;
  dir.write("input", kLines);
  auto r = run_weir("run " + dir.write("p.toml", pipeline(dir, false)) + " --dead-letter " + dir.file("dead.jsonl"), kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto canon = strict_json_lines(dir, dir.file("dead.jsonl"));
  ASSERT_EQ(canon.exit_code, 0) << canon.err;
  EXPECT_EQ(lines_of(canon.out), expected(true));
}

// A templated path: each record in the file of its partition (directories
// made as needed), each file rotated on its own, nothing lost or doubled.
TEST(FileSinkPipeline, ATemplatedPathWritesEachRecordToItsFileAndRotatesEachAlone) {
  TempDir dir;
  constexpr int kCount = 3000;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = " + std::to_string(kCount) +
                                             "\npartitions = 3\n[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"src\"]\n"
                                             "path = \"" + dir.file("p{_partition}") + "/out.jsonl\"\nrotate_bytes = 4000\n"
                                             "open_files = 2\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int total = 0;
  for (int p = 0; p < 3; ++p) {
    std::string base = dir.file("p" + std::to_string(p)) + "/out.jsonl";
    std::vector<std::string> parts = {base};
    for (int n = 1; std::filesystem::exists(base + "." + std::to_string(n)); ++n) parts.push_back(base + "." + std::to_string(n));
    EXPECT_GE(parts.size(), 3u) << "partition " << p << " should have rotated";
    std::vector<int64_t> seqs;
    for (const std::string& f : parts) {
      std::string text = read_file(f);
      EXPECT_LE(text.size(), 4000u) << f;
      for (const std::string& line : lines_of(text)) {
        auto at = line.find("\"seq\":");
        ASSERT_NE(at, std::string::npos) << line;
        seqs.push_back(std::stoll(line.substr(at + 6)));
      }
    }
    std::sort(seqs.begin(), seqs.end());
    std::vector<int64_t> want;
    for (int64_t s = p; s < kCount; s += 3) want.push_back(s);
    EXPECT_EQ(seqs, want) << "partition " << p;
    total += static_cast<int>(seqs.size());
  }
  EXPECT_EQ(total, kCount);
}

TEST(FileSinkPipeline, ARecordWhosePathCannotBeRenderedGoesToTheErrorPort) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.src]\nplugin = \"test_source\"\ncount = 10\n"
                                             "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"src\"]\npath = \"" +
                                             dir.file("{car}.log") + "\"\n[nodes.errors]\nplugin = \"file_sink\"\n"
                                             "inputs = [\"out.error\"]\npath = \"" + dir.file("errors") + "\"\n");
  auto r = run_weir("run " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> errors = lines_of(read_file(dir.file("errors")));
  ASSERT_EQ(errors.size(), 10u);
  EXPECT_NE(errors[0].find("\"error_reason\":\"path " + dir.file("{car}.log") + ": "), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace weir::testing
