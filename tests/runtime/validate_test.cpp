// Every validation error the host reports, through the real binary: exact
// `file:line:col: message` text and exit code 2.
#include <gtest/gtest.h>

#include <weir/abi.h>
#include <weir_test.hpp>

namespace weir::testing {
namespace {

const std::string kEnv = std::string("WEIR_PLUGIN_PATH=") + WEIR_TEST_PLUGIN_DIR;

struct Validated {
  RunResult run;
  std::string file;
};

Validated validate(TempDir& dir, const std::string& toml, const std::string& extra = "") {
  std::string file = dir.write("p.toml", toml);
  return {run_weir("validate " + file + " " + extra, kEnv), file};
}

TEST(Validate, GoodPipelineIsOk) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\ncount = 3\n[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  EXPECT_EQ(v.run.exit_code, 0) << v.run.err;
  EXPECT_EQ(v.run.out, v.file + ": ok (2 nodes, 1 edges)\n");
}

TEST(Validate, TomlSyntaxError) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\ncount = = 3\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:9: "), std::string::npos) << v.run.err;
}

TEST(Validate, UnknownPluginSuggestsTheClosest) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generatr\"\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":2:10: node 'gen': unknown plugin 'generatr'; did you mean 'generator'?"), std::string::npos)
      << v.run.err;
}

TEST(Validate, UnknownParameterSuggestsTheClosest) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\ncont = 3\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:8: generator \"gen\": unknown parameter 'cont'; did you mean 'count'?"),
            std::string::npos)
      << v.run.err;
}

TEST(Validate, MissingRequiredParameter) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.f]\nplugin = \"file_sink\"\ninputs = [\"gen\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:1: file_sink \"f\": missing required parameter 'path'"), std::string::npos) << v.run.err;
}

TEST(Validate, WrongParameterType) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\nrate = \"fast\"\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:8: generator \"gen\": parameter 'rate' must be an integer, not string"),
            std::string::npos)
      << v.run.err;
}

TEST(Validate, WrongTypeFromCommandLineOverride) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n", "--set gen.rate=fast");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find("--set: generator \"gen\": parameter 'rate' must be an integer, not string"), std::string::npos)
      << v.run.err;
}

TEST(Validate, AnIntegerTooLargeFromTheCommandLineIsOutOfRange) {
  TempDir dir;
  for (std::string n : {"99999999999999999999", "-99999999999999999999", "0x1_0000_0000_0000_0000"}) {
    auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n", "--set gen.count=" + n);
    EXPECT_EQ(v.run.exit_code, 2);
    EXPECT_EQ(v.run.err, "--set: generator \"gen\": parameter 'count' must be an integer: " + n +
                             " is out of range (-9223372036854775808 to 9223372036854775807)\nweir: " + v.file + ": 1 error\n");
  }
  // Where text is expected, the digits are text.
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.f]\nplugin = \"file_sink\"\ninputs = [\"gen\"]\npath = \"x\"\n",
                    "--set f.path=99999999999999999999");
  EXPECT_EQ(v.run.exit_code, 0) << v.run.err;
}

// "v = 5\nrate = 10" is valid TOML: the second line used to vanish silently.
TEST(Validate, AMultiLineOverrideThatIsMoreThanOneValueIsRefused) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n", "--set 'gen.count=5\nrate = 10'");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_EQ(v.run.err,
            "--set: gen.count: the value is more than one TOML value (it goes on to set 'rate'); give one value per "
            "--set, or quote text that spans lines as a TOML string ('''...''')\nweir: " + v.file + ": 1 error\n");
}

// Text that is not TOML stays whole, newlines and all; so does a multi-line TOML string.
TEST(Validate, AMultiLineOverrideIsKeptWhole) {
  TempDir dir;
  std::string file = dir.write("p.toml",
                               "[nodes.gen]\nplugin = \"generator\"\ncount = 1\npayload_bytes = 0\n"
                               "[nodes.f]\nplugin = \"file_sink\"\ninputs = [\"gen\"]\npath = \"x\"\n");
  for (std::string value : {dir.file("a\nb c"), "'''" + dir.file("d\ne") + "'''"}) {
    auto r = run_weir("run " + file + " --set \"f.path=" + value + "\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(count_lines(read_file(dir.file("a\nb c"))), 1u);
  EXPECT_EQ(count_lines(read_file(dir.file("d\ne"))), 1u);
}

TEST(Validate, DanglingInput) {
  TempDir dir;
  auto v = validate(dir, "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:11: node 'out': input 'gen' names no node"), std::string::npos) << v.run.err;
}

TEST(Validate, UnknownPort) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.outt\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":5:11: node 'gen' (generator) has no output port 'outt'; did you mean 'out'?"),
            std::string::npos)
      << v.run.err;
}

TEST(Validate, Cycle) {
  TempDir dir;
  auto v = validate(dir,
                    "[nodes.gen]\nplugin = \"generator\"\n"
                    "[nodes.a]\nplugin = \"passthrough\"\ninputs = [\"gen\", \"b.out\"]\n"
                    "[nodes.b]\nplugin = \"passthrough\"\ninputs = [\"a.out\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":5:18: cycle: a -> b -> a"), std::string::npos) << v.run.err;
}

TEST(Validate, SourceWithInputsAndSinkWithout) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\ninputs = [\"x\"]\n[nodes.out]\nplugin = \"null_sink\"\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:11: node 'gen' is a source (generator) and takes no inputs"), std::string::npos)
      << v.run.err;
  EXPECT_NE(v.run.err.find(v.file + ":4:1: node 'out' is a sink (null_sink) and needs inputs"), std::string::npos) << v.run.err;
}

TEST(Validate, AllErrorsAreReportedAtOnceInFileOrder) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\ncont = 1\nrate = true\n");
  EXPECT_EQ(v.run.exit_code, 2);
  size_t first = v.run.err.find(":3:8:"), second = v.run.err.find(":4:8:");
  ASSERT_NE(first, std::string::npos) << v.run.err;
  ASSERT_NE(second, std::string::npos) << v.run.err;
  EXPECT_LT(first, second);
  EXPECT_NE(v.run.err.find("2 errors"), std::string::npos);
}

TEST(Validate, PluginRejectsItsOwnParameter) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.f]\nplugin = \"file_sink\"\npath = \"x\"\nformat = \"xml\"\ninputs = [\"gen\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":3:1: file_sink \"f\": format must be \"json\" or \"payload\", not \"xml\""), std::string::npos)
      << v.run.err;
}

// The host's delivery parameters were clamped without a word (max_in_flight = 0
// ran as 1, a jitter of 5 as 1): a value out of range is refused where it is written.
TEST(Validate, DeliveryParametersOutOfRangeAreRefusedWhereTheyAreWritten) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.f]\nplugin = \"file_sink\"\npath = \"x\"\n"
                         "inputs = [\"gen\"]\nmax_in_flight = 0\nretry_jitter = 5.0\nretry_initial_ms = 0\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":7:17: file_sink \"f\": max_in_flight must be 1..1024 requests"), std::string::npos)
      << v.run.err;
  EXPECT_NE(v.run.err.find(v.file + ":8:16: file_sink \"f\": retry_jitter must be 0.0..1.0"), std::string::npos) << v.run.err;
  EXPECT_NE(v.run.err.find(v.file + ":9:20: file_sink \"f\": retry_initial_ms must be 1..86400000 ms"), std::string::npos)
      << v.run.err;
  v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.f]\nplugin = \"file_sink\"\npath = \"x\"\n"
                    "inputs = [\"gen\"]\nretry_initial_ms = 500\nretry_max_ms = 100\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find(v.file + ":8:16: file_sink \"f\": retry_max_ms (100) must not be less than retry_initial_ms (500)"),
            std::string::npos)
      << v.run.err;
}

TEST(Validate, AbiMismatchIsRefusedNamingBothVersions) {
  TempDir dir;
  auto v = validate(dir, "[nodes.gen]\nplugin = \"generator\"\n[nodes.out]\nplugin = \"test_bad_abi\"\ninputs = [\"gen\"]\n");
  EXPECT_EQ(v.run.exit_code, 2);
  std::string expected = "plugin built for weir ABI " + std::to_string(WEIR_ABI_MAJOR + 1) + ".7, but this host speaks ABI " +
                         std::to_string(WEIR_ABI_MAJOR) + "." + std::to_string(WEIR_ABI_MINOR);
  EXPECT_NE(v.run.err.find(expected), std::string::npos) << v.run.err;
  EXPECT_NE(v.run.err.find(v.file + ":4:10: "), std::string::npos) << v.run.err;
}

// A minor version only appends: a plugin whose vtable ends where ABI 1.0's did
// (struct_size says so) loads in this host, the later entries taken as NULL.
TEST(Validate, APluginBuiltAgainstAbi10LoadsAndRuns) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = 500\n"
                                         "[nodes.out]\nplugin = \"test_abi_1_0\"\ninputs = [\"gen\"]\n");
  auto r = run_weir("run --no-progress --status-out " + dir.file("status.json") + " " + file, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string status = read_file(dir.file("status.json"));
  EXPECT_NE(status.find("\"name\":\"out\",\"plugin\":\"test_abi_1_0\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"records_in\":500,\"records_out\":500"), std::string::npos) << status;
}

// ------------------------------------------------------------------ nesting

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

const std::string kGen = "[nodes.gen]\nplugin = \"generator\"\n";

// Arrays and inline tables: toml++ stops them at 256 levels; weir at 64, at the
// first value too deep. x is level 3 (nodes.gen.x), its 63rd bracket level 65.
TEST(Validate, NestedArraysDeeperThan64LevelsAreRefused) {
  TempDir dir;
  auto v = validate(dir, kGen + "x = " + repeat("[", 100) + repeat("]", 100) + "\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_EQ(v.run.err, v.file + ":3:67: nesting deeper than 64 levels\nweir: " + v.file + ": 1 error\n");
}

TEST(Validate, NestedInlineTablesDeeperThan64LevelsAreRefused) {
  TempDir dir;
  auto v = validate(dir, kGen + "x = " + repeat("{a = ", 100) + "1" + repeat("}", 100) + "\n");
  EXPECT_EQ(v.run.exit_code, 2);
  // The 63rd `{`, at column 5 + 62 * 5.
  EXPECT_EQ(v.run.err, v.file + ":3:315: nesting deeper than 64 levels\nweir: " + v.file + ": 1 error\n");
}

// Levels from a table header and a dotted key add up: 64 is fine, 65 is not.
TEST(Validate, NestingIsCountedAcrossHeadersAndDottedKeys) {
  TempDir dir;
  // nodes.gen.x is level 3, then 61 parts `a.` (4..64) and b at 65: its value, column 1 + 2 * 61 + 4.
  auto v = validate(dir, kGen + "[nodes.gen.x]\n" + repeat("a.", 61) + "b = 1\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_EQ(v.run.err, v.file + ":4:127: nesting deeper than 64 levels\nweir: " + v.file + ": 1 error\n");
  v = validate(dir, kGen + "[nodes.gen.x]\n" + repeat("a.", 60) + "b = 1\n");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_EQ(v.run.err, v.file + ":3:1: generator \"gen\": unknown parameter 'x'\nweir: " + v.file + ": 1 error\n");
}

// 40 KB of dotted key parts (20,000 levels) crashed every command (SIGSEGV, 139):
// the checks recurse per level, and toml++ does too while parsing, so a key of
// more than 64 parts is refused before it is parsed, at its 65th part.
TEST(Validate, ADottedKeyOf20000PartsIsRefusedNotACrash) {
  TempDir dir;
  // Header: nodes, gen and 62 b's, the 63rd b at column 12 + 2 * 62; key: the 65th b.
  for (const auto& [line, col] : std::vector<std::pair<std::string, int>>{
           {"[nodes.gen." + repeat("b.", 20000) + "c]\n", 136},
           {repeat("b.", 20000) + "c = 1\n", 1 + 2 * 64},
           {"x = {" + repeat("b.", 20000) + "c = 1}\n", 6 + 2 * 64}}) {
    std::string file = dir.write("p.toml", kGen + line);
    std::string want = file + ":3:" + std::to_string(col) + ": nesting deeper than 64 levels\n";
    for (const char* cmd : {"validate ", "graph ", "run "}) {
      auto r = run_weir(cmd + file, kEnv);
      EXPECT_EQ(r.exit_code, 2) << cmd << line.substr(0, 20) << "\n" << r.err.substr(0, 300);
      EXPECT_EQ(r.err.substr(0, want.size()), want) << cmd << line.substr(0, 20);
    }
  }
}

TEST(Validate, DeepOverrideIsRefused) {
  TempDir dir;
  auto v = validate(dir, kGen, "--set 'gen.x={" + repeat("a.", 70) + "b = 1}'");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find("--set: gen.x: nesting deeper than 64 levels"), std::string::npos) << v.run.err;
}

TEST(Cli, UnknownCommandSuggests) {
  auto r = run_weir("valdate x.toml");
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("unknown command 'valdate'; did you mean 'validate'?"), std::string::npos) << r.err;
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"run", "validate", "graph", "plugins", "ctl", "tap", "top"}) {
    auto r = run_weir(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: weir " + std::string(cmd)), std::string::npos) << cmd << ": " << r.out;
  }
}

// One parser for every command: an unknown option is refused the same way, with the usage.
TEST(Cli, EveryCommandRefusesAnUnknownOptionWithItsUsage) {
  for (const char* cmd : {"run", "validate", "graph", "plugins", "ctl", "tap", "top"}) {
    auto r = run_weir(std::string(cmd) + " --no-such-option");
    EXPECT_EQ(r.exit_code, 64) << cmd;
    EXPECT_NE(r.err.find("unrecognised option '--no-such-option'"), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("usage: weir " + std::string(cmd)), std::string::npos) << cmd << ": " << r.err;
  }
}

TEST(Cli, GraphPrintsDot) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\n[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  auto r = run_weir("graph " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("digraph pipeline {"), std::string::npos);
  EXPECT_NE(r.out.find("\"gen\" -> \"out\" [label=\"out\"];"), std::string::npos) << r.out;
  // One backslash: DOT's line break, not an escaped backslash.
  EXPECT_NE(r.out.find("\"gen\" [shape=invhouse, label=\"gen\\n(generator)\"];"), std::string::npos) << r.out;
}

TEST(Cli, PluginsListsPortsAndParameters) {
  auto r = run_weir("plugins file_sink");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("file_sink 1.1.0 (sink)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("input  in: records to write"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("param  path (string, template) required"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weir::testing
