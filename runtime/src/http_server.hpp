// weir's HTTP/1.1 server, on Boost.Beast: the admin endpoint of
// `weir run --metrics ADDR` (/metrics, /status, /ctl/*) runs on it.
//
// Threads: one network thread runs every connection with Beast's async API
// (reads and writes with deadlines, so a slow or silent client only holds its
// own connection); handlers marked as blocking (control actions, which wait
// for node threads) run on a second thread, one at a time, so they never hold
// up the network thread. Nothing here touches the pipeline's threads.
//
// What a client cannot do: crash or stall the process. A request that does not
// parse gets 400, a header over the limit 431, a body over the limit 413 (known
// from Content-Length before the body is read); each is logged (at most a few
// lines a second) and its connection closed. A connection over the limit gets
// 503 and is closed at once; one whose request has not arrived in full within
// the idle timeout is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir {

// Where to listen: an IP address (IPv4, or IPv6 in brackets) or `localhost`
// (127.0.0.1), and a port (0 picks a free one).
struct ListenAddress {
  std::string host;  // without brackets
  uint16_t port = 0;
  // "127.0.0.1:9464", "[::1]:9464"
  std::string str() const;
};

// "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", "[::]:9464", "localhost:0".
// Throws std::invalid_argument saying what is wrong (":9464" has no host:
// whether that means loopback or every interface is for the user to write).
ListenAddress parse_listen_address(std::string_view text);

struct HttpLimits {
  int64_t max_header_bytes = 16 * 1024;  // request line and header fields
  int64_t max_body_bytes = 1 << 20;
  int64_t max_connections = 64;          // open at once; more get 503
  int64_t idle_timeout_ms = 30'000;      // for a whole request to arrive, or an answer to be taken
  // "" or what is out of range, naming the `weir run` option.
  std::string check() const;
};

struct HttpRequest {
  std::string method;  // HEAD is passed as GET (the server drops the body)
  std::string path;    // the target without its query
  std::string body;
  std::string bearer;  // the Authorization: Bearer token, if any
  std::string host, origin;  // the Host and Origin headers, if any (a browser sends Origin on a cross-site POST)
  std::string peer;    // "127.0.0.1:51234", for logs
  bool peer_is_loopback = false;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields (e.g. the console's CSP)
};

struct HttpService {
  std::function<HttpResponse(const HttpRequest&)> handle;  // an exception becomes a 500
  // True for requests whose handler may wait (it then runs on the blocking
  // thread, one at a time); the others run on the network thread and must not wait.
  std::function<bool(const HttpRequest&)> blocks;
  std::function<void(int level, const std::string& message)> log;  // WEIR_LOG_* levels
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Throws std::runtime_error when it cannot listen.
  void start(const ListenAddress& address, const HttpLimits& limits, HttpService service);
  // Closes every connection and joins both threads (a blocking handler that is
  // running finishes first; queued ones are dropped). Idempotent.
  void stop();
  // The bound port (the chosen one when asked for 0).
  uint16_t port() const { return port_; }
  // The bound address as a URL authority: "127.0.0.1:9464", "[::1]:9464".
  std::string authority() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  ListenAddress bound_;
  uint16_t port_ = 0;
};

}  // namespace weir
