// The admin endpoint of a real `weir run`, attacked with raw sockets while a
// generator feeds a sink: each bad request gets its 4xx (or its connection is
// closed), /metrics keeps answering, and the pipeline delivers every record it
// generated. Then `weir ctl` against it, and bad addresses refused as usage errors.
#include "raw_http.hpp"

#include <weir_test.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>
#include <vector>

namespace weir::testing {
namespace {

// `weir run` of generator -> null_sink in the background, its admin endpoint on ADDRESS.
class RunningWeir {
 public:
  explicit RunningWeir(const TempDir& dir, const std::string& address = "127.0.0.1:0", const std::string& generator = "rate = 20000\n",
                       const std::string& args = "")
      : dir_(dir) {
    std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\npayload_bytes = 16\n" + generator +
                                               "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
    std::string cmd = std::string(WEIR_BINARY) + " run " + file + " --no-progress --metrics '" + address +
                      "' --status-out " + dir.file("status.json") + " " + args + " >" +
                      dir.file("out") + " 2>" + dir.file("err") + " & echo $! >" + dir.file("pid");
    if (std::system(cmd.c_str()) != 0) return;
    pid_ = std::stoi(read_file(dir.file("pid")));
    const std::string marker = "weir: metrics on http://";
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      usleep(25'000);
      std::string e = err();
      size_t at = e.find(marker);
      if (at == std::string::npos) continue;
      std::string authority = e.substr(at + marker.size(), e.find('/', at + marker.size()) - at - marker.size());
      size_t colon = authority.rfind(':');
      host_ = authority.substr(0, colon);
      if (host_.size() > 1 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
      port_ = std::atoi(authority.c_str() + colon + 1);
    }
  }
  ~RunningWeir() {
    if (pid_ > 0 && kill(pid_, 0) == 0) kill(pid_, SIGKILL);
  }
  bool started() const { return port_ > 0; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string admin() const { return (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_); }
  std::string err() const { return read_file(dir_.file("err")); }
  std::string status_out() const { return read_file(dir_.file("status.json")); }
  RawConn connect() const { return RawConn(host_, port_); }
  // GET /metrics on a fresh connection: the status, 0 if no answer.
  int metrics() const {
    RawConn c = connect();
    if (!c.ok() || !c.send(get("/metrics", false))) return 0;
    return status_of(c.response());
  }
  // The same once clients that just closed have been noticed (503 until then).
  int metrics_after_closes() const {
    int status = metrics();
    for (int i = 0; i < 50 && status == 503; ++i) {
      usleep(100'000);
      status = metrics();
    }
    return status;
  }
  // Waits for the process to end by itself; false after SECONDS.
  bool wait(int seconds) const {
    for (int i = 0; i < seconds * 20; ++i) {
      if (kill(pid_, 0) != 0) return true;
      usleep(50'000);
    }
    return false;
  }
  // Whether the generator has emitted records yet (a loaded machine may take a while to start it).
  bool records_flowed() const {
    RawConn c = connect();
    if (!c.ok() || !c.send(get("/metrics", false))) return false;
    std::smatch m;
    std::string body = c.response();
    return std::regex_search(body, m, std::regex(R"re(weir_records_out_total\{node="gen"[^}]*\} ([0-9]+))re")) &&
           std::stoll(m[1]) > 0;
  }
  // Stops it as Ctrl-C would (SIGTERM: a background shell job ignores SIGINT) and returns its stderr.
  // First lets records flow, so that "every record delivered" is about some records.
  std::string stop() const {
    for (int i = 0; i < 200 && !records_flowed(); ++i) usleep(50'000);
    kill(pid_, SIGTERM);
    EXPECT_TRUE(wait(60)) << "weir did not stop";
    return err();
  }

 private:
  const TempDir& dir_;
  pid_t pid_ = -1;
  std::string host_;
  int port_ = 0;
};

// The summary line says done, and the sink got every record the source generated.
void expect_every_record_delivered(const std::string& err) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(weir: done after [0-9.]+s: gen=(\d+) out=(\d+) errors=0)"))) << err;
  EXPECT_GT(std::stoll(m[1]), 0) << err;
  EXPECT_EQ(m[1], m[2]) << err;
}

// Sends REQUEST (from a second thread, so a server that stops reading cannot
// block the test) and returns the answer, "" if the connection closed without one.
std::string attack(const RunningWeir& weir, const std::string& request) {
  RawConn c = weir.connect();
  EXPECT_TRUE(c.ok());
  std::thread sender([&] { c.send(request); });
  std::string r = c.response(10'000);
  sender.join();
  return r;
}

void expect_answer_and_run_goes_on(const std::string& request, int status) {
  TempDir dir;
  RunningWeir weir(dir);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::string r = attack(weir, request);
  EXPECT_EQ(status_of(r), status) << r.substr(0, 300);
  EXPECT_EQ(weir.metrics(), 200) << weir.err();
  std::string err = weir.stop();
  expect_every_record_delivered(err);
  EXPECT_NE(err.find("WARN http: 127.0.0.1:"), std::string::npos) << "the bad request is logged: " << err;
}

TEST(HttpPipeline, ContentLengthThatIsNotANumberGets400) {
  expect_answer_and_run_goes_on("POST /ctl/pause HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nnode=out\n", 400);
}

TEST(HttpPipeline, HugeContentLengthGets413) {
  expect_answer_and_run_goes_on("POST /ctl/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\nnode=out\n", 413);
}

TEST(HttpPipeline, ContentLengthBeyondSixtyFourBitsGets400) {
  expect_answer_and_run_goes_on("POST /ctl/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
}

TEST(HttpPipeline, LinesWithoutCarriageReturnGet400) {
  expect_answer_and_run_goes_on("GET /metrics HTTP/1.1\nHost: x\n\n", 400);
}

TEST(HttpPipeline, OneMegabyteHeaderGets431) {
  expect_answer_and_run_goes_on("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n", 431);
}

TEST(HttpPipeline, BinaryGarbageGets400) {
  std::string garbage;
  uint32_t x = 2463534242u;  // xorshift: the same bytes every run
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    garbage += static_cast<char>(x);
  }
  expect_answer_and_run_goes_on(garbage, 400);
}

TEST(HttpPipeline, SlowClientIsClosedAndOthersAreServed) {
  TempDir dir;
  RunningWeir weir(dir, "127.0.0.1:0", "rate = 20000\n", "--http-idle-timeout-ms 1500");
  ASSERT_TRUE(weir.started()) << weir.err();
  RawConn slow = weir.connect();
  std::atomic<bool> closed{false};
  std::thread trickle([&] {
    const std::string request = get("/metrics");
    for (size_t i = 0; i < 10; ++i) {  // one byte a second, for at most 10 s
      if (!slow.send(request.substr(i, 1)) || slow.closed_by_peer(1000)) {
        closed = true;
        return;
      }
    }
  });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(weir.metrics(), 200) << "request " << i << " while a client trickles";
  trickle.join();
  EXPECT_TRUE(closed) << "a client sending one byte a second keeps its connection";
  expect_every_record_delivered(weir.stop());
}

TEST(HttpPipeline, TwoHundredConcurrentConnectionsAreAnsweredOrRefused) {
  TempDir dir;
  RunningWeir weir(dir);
  ASSERT_TRUE(weir.started()) << weir.err();
  std::vector<RawConn> conns;
  for (int i = 0; i < 200; ++i) conns.emplace_back(weir.host(), weir.port());
  for (auto& c : conns) c.send(get("/metrics", false));
  int ok = 0, refused = 0, closed = 0;
  // One deadline for all of them: a server taking them one at a time fails, it does not hang the test.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (auto& c : conns) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    std::string r = c.response(static_cast<int>(std::max<int64_t>(left, 1)));
    int status = status_of(r);
    ok += status == 200;
    refused += status == 503;
    closed += r.empty();
  }
  EXPECT_GE(ok, 1);
  EXPECT_EQ(ok + refused + closed, 200) << ok << " answered, " << refused << " refused, " << closed << " closed";
  conns.clear();
  EXPECT_EQ(weir.metrics_after_closes(), 200);
  expect_every_record_delivered(weir.stop());
}

TEST(HttpPipeline, KeepAliveServesTwoRequestsOnOneConnection) {
  TempDir dir;
  RunningWeir weir(dir);
  ASSERT_TRUE(weir.started()) << weir.err();
  RawConn c = weir.connect();
  ASSERT_TRUE(c.send(get("/metrics")));
  std::string first = c.response();
  EXPECT_EQ(status_of(first), 200) << first;
  EXPECT_NE(first.find("weir_records_in_total{node=\"out\""), std::string::npos) << first;
  ASSERT_TRUE(c.send(get("/status")));
  std::string second = c.response();
  EXPECT_EQ(status_of(second), 200) << "second request on the same connection: " << second;
  EXPECT_TRUE(nlohmann::json::parse(body_of(second), nullptr, false).is_object()) << second;
  expect_every_record_delivered(weir.stop());
}

TEST(HttpPipeline, LimitOptionsReachTheServer) {
  TempDir dir;
  RunningWeir weir(dir, "127.0.0.1:0", "rate = 20000\n", "--http-max-header-bytes 2048 --http-max-body-bytes 1024");
  ASSERT_TRUE(weir.started()) << weir.err();
  EXPECT_EQ(status_of(attack(weir, "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(3000, 'a') + "\r\n\r\n")), 431);
  EXPECT_EQ(status_of(attack(weir, "POST /ctl/pause HTTP/1.1\r\nContent-Length: 2000\r\n\r\n")), 413);
  EXPECT_EQ(weir.metrics(), 200);
  expect_every_record_delivered(weir.stop());
}

// A known number of records, every kind of bad request sent over and over
// while they flow: exactly that number arrives.
TEST(HttpPipeline, CountsExactlyWhileAttacked) {
  TempDir dir;
  constexpr int kCount = 40'000;
  RunningWeir weir(dir, "127.0.0.1:0", "count = " + std::to_string(kCount) + "\nrate = 10000\n");
  ASSERT_TRUE(weir.started()) << weir.err();
  const std::vector<std::string> bad = {
      "POST /ctl/pause HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /ctl/pause HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n",
      "GET /metrics HTTP/1.1\nHost: x\n\n",
      "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(100'000, 'a') + "\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\xff", 13),
  };
  std::atomic<bool> done{false};
  int rounds = 0, answered = 0;
  std::thread attacker([&] {
    while (!done) {
      ++rounds;
      for (const auto& request : bad) {
        RawConn c = weir.connect();
        if (!c.ok()) return;  // the run is over
        c.send(request);
        answered += status_of(c.response(5000)) / 100 == 4;
      }
      std::vector<RawConn> many;
      for (int i = 0; i < 20; ++i) many.emplace_back(weir.host(), weir.port());
    }
  });
  bool ended = weir.wait(60);
  done = true;
  attacker.join();
  ASSERT_TRUE(ended) << weir.err();
  EXPECT_GT(rounds, 1);
  EXPECT_GE(answered, 5) << "every bad request of the first round got its 4xx";
  expect_every_record_delivered(weir.err());
  auto status = nlohmann::json::parse(weir.status_out(), nullptr, false);
  ASSERT_TRUE(status.is_object()) << weir.status_out();
  EXPECT_EQ(status["nodes"][0]["records_out"], kCount) << weir.status_out();
  EXPECT_EQ(status["nodes"][1]["records_in"], kCount) << weir.status_out();
}

TEST(HttpPipeline, CtlTalksToTheServer) {
  TempDir dir;
  RunningWeir weir(dir);
  ASSERT_TRUE(weir.started()) << weir.err();
  RunResult status = run_weir("ctl --admin " + weir.admin() + " status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  // The shape scripts and tests read: keys in this order.
  EXPECT_NE(status.out.find("{\"uptime_s\":"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"name\":\"out\",\"plugin\":\"null_sink\",\"version\":\"1.0.0\",\"swaps\":0,\"paused\":false,"
                            "\"kind\":\"sink\",\"records_in\":"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("\"edges\":[{\"from\":\"gen.out\",\"to\":\"out\",\"depth\":"), std::string::npos) << status.out;
  auto doc = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << status.out;
  EXPECT_EQ(doc["nodes"][0]["name"], "gen");
  EXPECT_TRUE(doc["nodes"][0]["batch_p99_us"].is_number());
  EXPECT_EQ(doc["nodes"][0]["outputs"][0]["port"], "out");

  RunResult paused = run_weir("ctl --admin " + weir.admin() + " pause out");
  EXPECT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_NE(paused.out.find("node 'out' paused"), std::string::npos) << paused.out;
  RunResult resumed = run_weir("ctl --admin " + weir.admin() + " resume out");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  RunResult missing = run_weir("ctl --admin " + weir.admin() + " pause nope");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no node named 'nope'"), std::string::npos) << missing.err;

  // The control API answers in JSON.
  RawConn c = weir.connect();
  ASSERT_TRUE(c.send("POST /ctl/resume HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nnode=out\n"));
  std::string r = c.response();
  EXPECT_EQ(status_of(r), 200) << r;
  auto answer = nlohmann::json::parse(body_of(r), nullptr, false);
  ASSERT_TRUE(answer.is_object()) << r;
  EXPECT_EQ(answer["ok"], true) << r;
  EXPECT_EQ(answer["message"], "node 'out' resumed") << r;
  ASSERT_TRUE(c.send(get("/ctl/pause")));
  r = c.response();
  EXPECT_EQ(status_of(r), 405) << r;
  auto refused = nlohmann::json::parse(body_of(r), nullptr, false);
  ASSERT_TRUE(refused.is_object()) << r;
  EXPECT_EQ(refused["ok"], false) << r;
  expect_every_record_delivered(weir.stop());
}

TEST(HttpPipeline, ServesIpv6Loopback) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  TempDir dir;
  RunningWeir weir(dir, "[::1]:0");
  ASSERT_TRUE(weir.started()) << weir.err();
  EXPECT_EQ(weir.host(), "::1");
  EXPECT_EQ(weir.metrics(), 200);
  RunResult status = run_weir("ctl --admin '" + weir.admin() + "' status");
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"name\":\"gen\""), std::string::npos) << status.out;
  RunResult paused = run_weir("ctl --admin '" + weir.admin() + "' pause out");
  EXPECT_EQ(paused.exit_code, 0) << "::1 is loopback: control allowed without a token; " << paused.err;
  run_weir("ctl --admin '" + weir.admin() + "' resume out");
  expect_every_record_delivered(weir.stop());
}

TEST(HttpPipeline, BadAddressesAreUsageErrors) {
  TempDir dir;
  std::string file = dir.write("p.toml", "[nodes.gen]\nplugin = \"generator\"\ncount = 10\n"
                                         "[nodes.out]\nplugin = \"null_sink\"\ninputs = [\"gen.out\"]\n");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"run " + file + " --duration 1 --metrics 127.0.0.1:99999", "port '99999' is not a number from 0 to 65535"},
           {"run " + file + " --metrics :99999", "no host"},
           {"run " + file + " --metrics 127.0.0.1:abc", "port 'abc' is not a number"},
           {"run " + file + " --metrics 127.0.0.1:0 --http-max-connections 0", "--http-max-connections must be from 1"},
           {"run " + file + " --metrics 127.0.0.1:0 --http-idle-timeout-ms abc", "--http-idle-timeout-ms"},
           {"ctl --admin host:abc status", "port 'abc' is not a number from 1 to 65535"},
           {"ctl --admin 127.0.0.1:99999 status", "port '99999' is not a number from 1 to 65535"},
           {"ctl --admin 127.0.0.1 status", "must be host:port"},
       }) {
    RunResult r = run_weir(c.args);
    EXPECT_EQ(r.exit_code, 64) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("stoi"), std::string::npos) << c.args << ": " << r.err;
  }
  RunResult away = run_weir("ctl --admin 127.0.0.1:1 status");
  EXPECT_EQ(away.exit_code, 1);
  EXPECT_NE(away.err.find("cannot reach a weir admin endpoint at 127.0.0.1:1"), std::string::npos) << away.err;
}

}  // namespace
}  // namespace weir::testing
