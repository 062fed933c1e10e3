// The admin endpoint's HTTP server and client (Boost.Beast) against raw
// sockets: malformed, oversized, slow and too many requests each get their
// 4xx/503 or are closed, and the server goes on answering. No test asserts on
// time; the deadlines below only keep a stalled server from hanging the test.
#include "admin.hpp"
#include "http_client.hpp"
#include "http_server.hpp"

#include "raw_http.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace weir::testing {
namespace {

// A server on a free port with test routes:
//   /metrics  a short text       /echo   "METHOD BODY"      /throw  an exception
//   /wait     blocks (on the blocking thread) until release()
//   /peer     "loopback" or "remote"   /bearer  the token   /ctl/*  a control-style JSON answer
class TestServer {
 public:
  explicit TestServer(HttpLimits limits = {}, const std::string& host = "127.0.0.1") : host_(host) {
    HttpService s;
    s.handle = [this](const HttpRequest& r) -> HttpResponse {
      if (r.path == "/metrics") return {200, "text/plain; version=0.0.4", "weir_up 1\n"};
      if (r.path == "/echo") return {200, "text/plain", r.method + " " + r.body};
      if (r.path == "/wait") {
        released_.wait();
        return {200, "text/plain", "waited\n"};
      }
      if (r.path == "/throw") throw std::runtime_error("boom");
      if (r.path == "/peer") return {200, "text/plain", r.peer_is_loopback ? "loopback" : "remote"};
      if (r.path == "/bearer") return {200, "text/plain", r.bearer};
      if (r.path == "/ctl/status") return {200, "application/json", "{\"nodes\":[]}\n"};
      if (r.path == "/ctl/pause") return {200, "application/json", "{\"ok\":true,\"message\":\"paused\",\"pause_ms\":1.5}\n"};
      if (r.path == "/ctl/swap") return {409, "application/json", "{\"ok\":false,\"message\":\"refused: " + r.body + "\"}\n"};
      return {404, "text/plain", "not found\n"};
    };
    s.blocks = [](const HttpRequest& r) { return r.path == "/wait"; };
    s.log = [this](int, const std::string& m) {
      std::lock_guard lock(mu_);
      log_ += m + "\n";
    };
    server_.start(ListenAddress{host, 0}, limits, std::move(s));
  }
  ~TestServer() {
    release();
    server_.stop();
  }
  int port() const { return server_.port(); }
  const HttpServer& server() const { return server_; }
  RawConn connect() const { return RawConn(host_, port()); }
  void release() {
    std::call_once(released_once_, [this] { release_.set_value(); });
  }
  std::string log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  // The server may log just after it closes a connection: wait a little for TEXT.
  bool logged(const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      if (log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
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
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status = metrics();
    }
    return status;
  }

 private:
  std::string host_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::once_flag released_once_;
  std::mutex mu_;
  std::string log_;
  HttpServer server_;  // last: stopped (in ~TestServer) before the rest goes
};

// Sends REQUEST on a fresh connection and returns the answer ("" if closed without one).
std::string round_trip(const TestServer& server, const std::string& request, int timeout_ms = 5000) {
  RawConn c = server.connect();
  EXPECT_TRUE(c.ok());
  c.send(request);
  return c.response(timeout_ms);
}

TEST(HttpServer, ContentLengthThatIsNotANumberGets400) {
  TestServer server;
  RawConn c = server.connect();
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"));
  std::string r = c.response();
  EXPECT_EQ(status_of(r), 400) << r;
  EXPECT_NE(body_of(r).find("Content-Length"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_peer(5000));
  EXPECT_TRUE(server.logged("400 malformed request")) << server.log();
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, HugeContentLengthGets413BeforeAnyBody) {
  TestServer server;
  // The answer comes although no body byte is ever sent.
  std::string r = round_trip(server, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n");
  EXPECT_EQ(status_of(r), 413) << r;
  std::string overflow = round_trip(server, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  EXPECT_EQ(status_of(overflow), 400) << overflow;
  EXPECT_TRUE(server.logged("--http-max-body-bytes")) << server.log();
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, ChunkedBodyOverTheLimitGets413) {
  HttpLimits limits;
  limits.max_body_bytes = 2048;
  TestServer server(limits);
  std::string chunk(1500, 'x');
  std::string r = round_trip(server, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n" + chunk +
                                       "\r\n5dc\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(r), 413) << r;
  std::string fits = round_trip(server, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(body_of(fits), "POST hello");
}

TEST(HttpServer, LinesWithoutCarriageReturnGet400) {
  TestServer server;
  std::string r = round_trip(server, "GET /metrics HTTP/1.1\nHost: x\n\n");
  EXPECT_EQ(status_of(r), 400) << r;
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, RequestThatNeverEndsIsClosedAfterTheIdleTimeout) {
  HttpLimits limits;
  limits.idle_timeout_ms = 500;
  TestServer server(limits);
  RawConn c = server.connect();
  ASSERT_TRUE(c.send("GET /metrics HTTP/1.1"));  // and then nothing
  EXPECT_TRUE(c.closed_by_peer(10'000));
  EXPECT_TRUE(server.logged("no complete request within 500 ms")) << server.log();
  RawConn silent = server.connect();  // connects and never sends: closed too, without a warning
  EXPECT_TRUE(silent.closed_by_peer(10'000));
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, OneMegabyteHeaderGets431) {
  TestServer server;
  RawConn c = server.connect();
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  // The server answers after 16 KiB; the rest is sent while it reads and drops it.
  std::thread sender([&] { c.send(request); });
  std::string r = c.response(10'000);
  sender.join();
  EXPECT_EQ(status_of(r), 431) << r.substr(0, 200);
  EXPECT_TRUE(server.logged("--http-max-header-bytes")) << server.log();
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, BinaryGarbageGets400) {
  TestServer server;
  std::mt19937 random(42);
  std::string garbage(4096, '\0');
  for (char& b : garbage) b = static_cast<char>(random());
  std::string r = round_trip(server, garbage);
  EXPECT_EQ(status_of(r), 400) << r;
  // What an https:// client sends first: a TLS ClientHello.
  std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  hello += std::string(64, '\x7f');
  r = round_trip(server, hello);
  EXPECT_EQ(status_of(r), 400) << r;
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, SlowClientIsClosedAndDoesNotHoldUpOthers) {
  HttpLimits limits;
  limits.idle_timeout_ms = 2000;
  TestServer server(limits);
  RawConn slow = server.connect();
  std::atomic<bool> closed{false};
  std::thread trickle([&] {
    const std::string request = get("/metrics");
    for (size_t i = 0; i < 10 && i < request.size(); ++i) {  // one byte a second, for at most 10 s
      if (!slow.send(request.substr(i, 1)) || slow.closed_by_peer(1000)) {
        closed = true;
        return;
      }
    }
  });
  // Meanwhile everyone else is served.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(server.metrics(), 200) << "request " << i << " while a client trickles";
  trickle.join();
  EXPECT_TRUE(closed) << "a client sending one byte a second keeps its connection";
  EXPECT_TRUE(server.logged("no complete request within 2000 ms")) << server.log();
}

TEST(HttpServer, TwoHundredConcurrentConnectionsAreAnsweredOrRefused) {
  TestServer server;  // 64 connections at most
  std::vector<RawConn> conns;
  for (int i = 0; i < 200; ++i) conns.emplace_back("127.0.0.1", server.port());
  for (auto& c : conns) c.send(get("/metrics", false));
  int ok = 0, refused = 0, closed = 0, other = 0;
  // One deadline for all of them: a server taking them one at a time fails, it does not hang the test.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (auto& c : conns) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    std::string r = c.response(static_cast<int>(std::max<int64_t>(left, 1)));
    int status = status_of(r);
    if (status == 200) ++ok;
    else if (status == 503) ++refused;
    else if (r.empty()) ++closed;
    else ++other;
  }
  EXPECT_GE(ok, 1);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(ok + refused + closed, 200);
  conns.clear();
  EXPECT_EQ(server.metrics_after_closes(), 200);
}

TEST(HttpServer, ConnectionsOverTheLimitGet503UntilOthersClose) {
  HttpLimits limits;
  limits.max_connections = 4;
  TestServer server(limits);
  std::vector<RawConn> idle;
  for (int i = 0; i < 4; ++i) idle.emplace_back("127.0.0.1", server.port());
  // Accepted in order, so the fifth finds four open.
  RawConn fifth = server.connect();
  std::string r = fifth.response();
  EXPECT_EQ(status_of(r), 503) << r;
  EXPECT_TRUE(server.logged("--http-max-connections")) << server.log();
  idle.clear();
  EXPECT_EQ(server.metrics_after_closes(), 200);
}

TEST(HttpServer, KeepAliveServesTwoRequestsOnOneConnection) {
  TestServer server;
  RawConn c = server.connect();
  ASSERT_TRUE(c.send(get("/metrics")));
  EXPECT_EQ(status_of(c.response()), 200);
  ASSERT_TRUE(c.send(get("/metrics")));
  std::string second = c.response();
  EXPECT_EQ(status_of(second), 200) << second;
  EXPECT_EQ(body_of(second), "weir_up 1\n");
  // Two at once (pipelined), header names in any case.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-LENGTH: 3\r\n\r\nonePOST /echo HTTP/1.1\r\nHOST: x\r\n"
                     "Content-Length: 3\r\nCONNECTION: close\r\n\r\ntwo"));
  EXPECT_EQ(body_of(c.response()), "POST one");
  EXPECT_EQ(body_of(c.response()), "POST two");
  EXPECT_TRUE(c.closed_by_peer(5000)) << "closed after the answer to Connection: close";
}

TEST(HttpServer, Http10ClosesAfterTheAnswerUnlessKeptAlive) {
  TestServer server;
  RawConn c = server.connect();
  ASSERT_TRUE(c.send("GET /metrics HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(status_of(c.response()), 200);
  EXPECT_TRUE(c.closed_by_peer(5000));
  RawConn kept = server.connect();
  ASSERT_TRUE(kept.send("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(status_of(kept.response()), 200);
  ASSERT_TRUE(kept.send("GET /metrics HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(status_of(kept.response()), 200);
}

TEST(HttpServer, HeadAnswersWithTheLengthButNoBody) {
  TestServer server;
  RawConn c = server.connect();
  ASSERT_TRUE(c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + get("/echo")));
  std::string head = c.response(5000, true);
  EXPECT_EQ(status_of(head), 200);
  EXPECT_NE(head.find("Content-Length: 10\r\n"), std::string::npos) << head;
  // Framed right: the next answer on the connection is the GET's, not leftover body bytes.
  std::string next = c.response();
  EXPECT_EQ(status_of(next), 200) << next;
}

TEST(HttpServer, BlockingHandlerDoesNotHoldUpOthers) {
  TestServer server;
  RawConn waiting = server.connect();
  ASSERT_TRUE(waiting.send(get("/wait")));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(server.metrics(), 200) << "while a blocking handler runs";
  EXPECT_EQ(waiting.response(200), "") << "the blocking handler has not answered yet";
  server.release();
  EXPECT_EQ(body_of(waiting.response()), "waited\n");
}

TEST(HttpServer, HandlerExceptionGets500AndTheServerGoesOn) {
  TestServer server;
  std::string r = round_trip(server, get("/throw"));
  EXPECT_EQ(status_of(r), 500) << r;
  EXPECT_NE(body_of(r).find("boom"), std::string::npos);
  EXPECT_EQ(server.metrics(), 200);
}

TEST(HttpServer, ExpectContinueGetsA100BeforeTheBody) {
  TestServer server;
  RawConn c = server.connect();
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(status_of(c.response()), 100);
  ASSERT_TRUE(c.send("hello"));
  EXPECT_EQ(body_of(c.response()), "POST hello");
}

TEST(HttpServer, BearerTokenAndLoopbackPeerReachTheHandler) {
  TestServer server;
  EXPECT_EQ(body_of(round_trip(server, "GET /bearer HTTP/1.1\r\nHost: x\r\nauthorization: bearer s3cret \r\n\r\n")), "s3cret");
  EXPECT_EQ(body_of(round_trip(server, "GET /bearer HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n\r\n")), "");
  EXPECT_EQ(body_of(round_trip(server, get("/peer"))), "loopback");
  EXPECT_EQ(body_of(round_trip(server, get("/metrics?name[]=x"))), "weir_up 1\n") << "the query is not part of the path";
}

TEST(HttpServer, ServesIpv6Loopback) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  TestServer server({}, "::1");
  EXPECT_EQ(server.server().authority(), "[::1]:" + std::to_string(server.port()));
  RawConn c("::1", server.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(get("/peer")));
  EXPECT_EQ(body_of(c.response()), "loopback");
  HttpAnswer a = http_call(Endpoint{"::1", server.port()}, "GET", "/metrics", "", {}, std::chrono::seconds(5));
  EXPECT_EQ(a.status, 200) << a.error;
}

TEST(HttpServer, ListenAddresses) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464").str(), "127.0.0.1:9464");
  EXPECT_EQ(parse_listen_address("localhost:0").str(), "127.0.0.1:0");
  EXPECT_EQ(parse_listen_address("0.0.0.0:65535").str(), "0.0.0.0:65535");
  EXPECT_EQ(parse_listen_address("[::1]:9464").str(), "[::1]:9464");
  EXPECT_EQ(parse_listen_address("[::]:9464").str(), "[::]:9464");
  auto refused = [](const char* text) {
    try {
      parse_listen_address(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refused(":9464").find("no host"), std::string::npos);
  EXPECT_NE(refused("127.0.0.1:99999").find("not a number from 0 to 65535"), std::string::npos);
  EXPECT_NE(refused("127.0.0.1:abc").find("'abc' is not a number"), std::string::npos);
  EXPECT_NE(refused("127.0.0.1:-1").find("not a number"), std::string::npos);
  EXPECT_NE(refused("127.0.0.1:").find("not a number"), std::string::npos);
  EXPECT_NE(refused("127.0.0.1").find("HOST:PORT"), std::string::npos);
  EXPECT_NE(refused("::1:9464").find("brackets"), std::string::npos);
  EXPECT_NE(refused("[::1:9464").find("missing ']'"), std::string::npos);
  EXPECT_NE(refused("[::1]9464").find("expected :PORT"), std::string::npos);
  EXPECT_NE(refused("example.com:80").find("not an IP address"), std::string::npos);
  EXPECT_NE(refused("300.1.1.1:80").find("not an IP address"), std::string::npos);
}

TEST(HttpServer, LimitsOutOfRangeNameTheirOption) {
  EXPECT_EQ(HttpLimits{}.check(), "");
  HttpLimits l;
  l.max_connections = 0;
  EXPECT_NE(l.check().find("--http-max-connections"), std::string::npos);
  l = {};
  l.max_header_bytes = -1;
  EXPECT_NE(l.check().find("--http-max-header-bytes"), std::string::npos);
  l = {};
  l.idle_timeout_ms = 5;
  EXPECT_NE(l.check().find("--http-idle-timeout-ms"), std::string::npos);
}

TEST(HttpClient, TalksToTheServer) {
  TestServer server;
  Endpoint at{"127.0.0.1", server.port()};
  HttpAnswer a = http_call(at, "GET", "/metrics", "", {}, std::chrono::seconds(5));
  EXPECT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.body, "weir_up 1\n");
  EXPECT_EQ(a.content_type, "text/plain; version=0.0.4");
  a = http_call(at, "POST", "/echo", "node=x\n", {}, std::chrono::seconds(5));
  EXPECT_EQ(a.body, "POST node=x\n");
  a = http_call(Endpoint{"localhost", server.port()}, "GET", "/bearer", "", {{"Authorization", "Bearer t0k"}},
                std::chrono::seconds(5));
  EXPECT_EQ(a.body, "t0k") << a.error;
}

TEST(HttpClient, SaysWhyThereIsNoAnswer) {
  int port = 0;
  {
    TestServer gone;
    port = gone.port();
  }
  HttpAnswer a = http_call(Endpoint{"127.0.0.1", port}, "GET", "/metrics", "", {}, std::chrono::seconds(5));
  EXPECT_EQ(a.status, 0);
  EXPECT_FALSE(a.error.empty());
  TestServer slow;
  a = http_call(Endpoint{"127.0.0.1", slow.port()}, "POST", "/wait", "x", {}, std::chrono::milliseconds(300));
  EXPECT_EQ(a.status, 0);
  EXPECT_NE(a.error.find("timed out after 300 ms"), std::string::npos) << a.error;
}

TEST(HttpClient, AdminRequestShowsTheMessageOfAControlAnswer) {
  TestServer server;
  Endpoint at{"127.0.0.1", server.port()};
  AdminAnswer paused = admin_request(at, "/ctl/pause", "node=x\n", "");
  EXPECT_EQ(paused.status, 200);
  EXPECT_EQ(paused.text, "paused (node paused 1.500 ms)\n");
  AdminAnswer refused = admin_request(at, "/ctl/swap", "node=x", "");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.text, "refused: node=x\n");
  AdminAnswer status = admin_request(at, "/ctl/status", "", "");
  EXPECT_EQ(status.text, "{\"nodes\":[]}\n") << "status is shown as it comes";
}

}  // namespace
}  // namespace weir::testing
