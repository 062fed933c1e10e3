// `weir tap` against a real `weir run`: the records it prints are exactly the
// records the port carries, compared line by line with a file_sink on the same
// port (the same JSON text), on an output port and on an error port; a rate
// limit gives an ordered sample; a tap closes when its count is reached. Then
// the tap routes' refusals (unknown node or port, bad numbers, cross-site POST).
// And `weir top --once` on the same pipeline.
#include "http_client.hpp"

#include <weir_test.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <vector>

namespace weir::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// Where TAPPED sits in ALL as one unbroken run: its first index, or -1.
long contiguous_in(const std::vector<std::string>& tapped, const std::vector<std::string>& all) {
  if (tapped.empty()) return -1;
  auto it = std::search(all.begin(), all.end(), tapped.begin(), tapped.end());
  return it == all.end() ? -1 : it - all.begin();
}

// Whether TAPPED is ALL with some lines left out, in order.
bool ordered_subset(const std::vector<std::string>& tapped, const std::vector<std::string>& all) {
  auto at = all.begin();
  for (const auto& line : tapped) {
    at = std::find(at, all.end(), line);
    if (at == all.end()) return false;
    ++at;
  }
  return true;
}

HttpAnswer post(const std::string& admin, const std::string& path, const std::string& body,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  return http_call(parse_endpoint(admin), "POST", path, body, headers, std::chrono::seconds(10));
}

nlohmann::json status(const BackgroundWeir& weir) {
  HttpAnswer a = http_call(parse_endpoint(weir.admin()), "GET", "/status", "", {}, std::chrono::seconds(10));
  return nlohmann::json::parse(a.body, nullptr, false);
}

nlohmann::json node_of(const nlohmann::json& status, const std::string& name) {
  for (const auto& n : status["nodes"])
    if (n["name"] == name) return n;
  return nullptr;
}

// A generator feeding a file_sink, and a csv_decode whose every record fails
// (the generator's payload is not an integer) feeding another.
std::string pipeline(const TempDir& dir) {
  return dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\nrate = 5000\npayload_bytes = 8\n"
                             "[nodes.out]\nplugin = \"file_sink\"\ninputs = [\"gen.out\"]\npath = \"" + dir.file("out.jsonl") + "\"\n"
                             "[nodes.decode]\nplugin = \"csv_decode\"\ninputs = [\"gen.out\"]\nfields = [\"n:int64\"]\n"
                             "[nodes.rejects]\nplugin = \"file_sink\"\ninputs = [\"decode.error\"]\npath = \"" +
                                 dir.file("rejects.jsonl") + "\"\n"
                             "[nodes.decoded]\nplugin = \"null_sink\"\ninputs = [\"decode.out\"]\n");
}

// Stops WEIR (it drains: every record reaches its file) and returns FILE's lines.
std::vector<std::string> drained(BackgroundWeir& weir, const TempDir& dir, const std::string& file) {
  weir.signal(SIGINT);
  EXPECT_TRUE(weir.wait(60));
  EXPECT_EQ(weir.exit_code(), 0) << weir.err();
  return lines_of(read_file(dir.file(file)));
}

TEST(Tap, PrintsExactlyTheRecordsAnOutputPortCarries) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir));
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult tap = run_weir("tap --admin " + weir.admin() + " --count 2000 gen.out");
  ASSERT_EQ(tap.exit_code, 0) << tap.err;
  std::vector<std::string> tapped = lines_of(tap.out);
  ASSERT_EQ(tapped.size(), 2000u);
  // The tap is closed once its count is taken: nothing is left attached.
  EXPECT_EQ(node_of(status(weir), "gen")["taps"], 0);
  std::vector<std::string> written = drained(weir, dir, "out.jsonl");
  EXPECT_GE(contiguous_in(tapped, written), 0) << "the tapped records are not one unbroken run of the file_sink's";
}

TEST(Tap, PrintsExactlyTheRecordsAnErrorPortCarriesAndTheConsoleSamplesThem) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir));
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult tap = run_weir("tap --admin " + weir.admin() + " --count 500 decode.error");
  ASSERT_EQ(tap.exit_code, 0) << tap.err;
  std::vector<std::string> tapped = lines_of(tap.out);
  ASSERT_EQ(tapped.size(), 500u);
  EXPECT_NE(tapped.front().find("\"error_reason\""), std::string::npos) << tapped.front();
  // The node's details hold a sample of its error records, with their reasons.
  HttpAnswer details = http_call(parse_endpoint(weir.admin()), "GET", "/node/decode", "", {}, std::chrono::seconds(10));
  ASSERT_EQ(details.status, 200) << details.body;
  nlohmann::json d = nlohmann::json::parse(details.body);
  ASSERT_FALSE(d["errors"].empty());
  EXPECT_NE(d["errors"][0]["record"].get<std::string>().find("error_reason"), std::string::npos);
  EXPECT_EQ(d["params"]["fields"], nlohmann::json::array({"n:int64"}));
  EXPECT_GT(node_of(status(weir), "decode")["error_samples"], 0);
  std::vector<std::string> rejected = drained(weir, dir, "rejects.jsonl");
  EXPECT_GE(contiguous_in(tapped, rejected), 0) << "the tapped errors are not one unbroken run of the rejects file";
}

TEST(Tap, ARateLimitGivesAnOrderedSample) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir));
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult tap = run_weir("tap --admin " + weir.admin() + " --rate 20 --count 10 --metadata gen");
  ASSERT_EQ(tap.exit_code, 0) << tap.err;
  std::vector<std::string> tapped = lines_of(tap.out);
  ASSERT_EQ(tapped.size(), 10u);
  for (const auto& line : tapped) EXPECT_NE(line.find("\"_offset\""), std::string::npos) << line;
  // At 5000 records/s, 20 a second cannot be an unbroken run.
  std::vector<std::string> written = drained(weir, dir, "out.jsonl");
  std::vector<std::string> without_metadata;
  for (const auto& line : tapped) without_metadata.push_back(line.substr(0, line.find(",\"_time\"")) + "}");
  EXPECT_TRUE(ordered_subset(without_metadata, written));
  EXPECT_LT(contiguous_in(without_metadata, written), 0);
}

TEST(Tap, RefusesWhatItCannotTap) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir));
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult r = run_weir("tap --admin " + weir.admin() + " nosuch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no node 'nosuch'"), std::string::npos) << r.err;
  r = run_weir("tap --admin " + weir.admin() + " gen.nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has no port 'nope' (it has out, error)"), std::string::npos) << r.err;
  r = run_weir("tap --admin " + weir.admin() + " out");  // a sink: no output to tap but its error port
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("out.error"), std::string::npos) << r.err;
  EXPECT_EQ(run_weir("tap --admin nohost:99999 gen").exit_code, 64);
  EXPECT_EQ(post(weir.admin(), "/tap/open", "node=gen\nrate=abc\n").status, 400);
  EXPECT_EQ(post(weir.admin(), "/tap/read", "id=12345\n").status, 404);
  // A page of another site cannot make the browser open a tap (or act): its Origin gives it away.
  EXPECT_EQ(post(weir.admin(), "/tap/open", "node=gen\n", {{"Origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(post(weir.admin(), "/ctl/pause", "node=gen\n", {{"Origin", "http://evil.example"}}).status, 403);
  HttpAnswer same_site = post(weir.admin(), "/tap/open", "node=gen\ncount=1\n", {{"Origin", "http://" + weir.admin()}});
  EXPECT_EQ(same_site.status, 200) << same_site.body;
  EXPECT_FALSE(weir.err().find("cross-site") == std::string::npos);
}

TEST(Top, ShowsEveryNodeWithItsRates) {
  TempDir dir;
  BackgroundWeir weir(dir, pipeline(dir));
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult top = run_weir("top --once --interval 0.5 --admin " + weir.admin());
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("NODE"), std::string::npos) << top.out;
  for (const char* node : {"gen ", "out ", "decode ", "rejects ", "decoded "})
    EXPECT_NE(top.out.find(std::string("\n") + node), std::string::npos) << node << " missing from\n" << top.out;
  EXPECT_NE(top.out.find("/s"), std::string::npos) << top.out;  // rates over the interval
  EXPECT_EQ(run_weir("top --once --interval 0").exit_code, 64);
  EXPECT_EQ(run_weir("top --once --admin 127.0.0.1:1").exit_code, 1);
}

}  // namespace
}  // namespace weir::testing
