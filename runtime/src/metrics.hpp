// What a running pipeline reports: Prometheus text at /metrics, the graph
// with live counts as JSON at /status, and the one-line progress report.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace weir {

class Engine;

std::string prometheus_text(const Engine& engine);
std::string status_json(const Engine& engine);
// "gen 1.2M/s -> pass 1.2M/s -> sink 1.2M/s | errors 0" from counts since the last call.
class ProgressLine {
 public:
  std::string next(const Engine& engine);

 private:
  std::map<size_t, uint64_t> last_;
  int64_t last_ns_ = 0;
};
std::string summary_line(const Engine& engine);

struct HttpRequest {
  std::string method, path, body;
  std::string bearer;  // the Authorization: Bearer token, if any
  bool peer_is_loopback = false;
};

// A tiny HTTP/1.0 server; one request per connection, served in order.
class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Response(const HttpRequest&)>;

  // ADDRESS is "host:port" (port 0 picks a free one). Throws on bind failure.
  void start(const std::string& address, Handler handler);
  void stop();
  int port() const { return port_; }
  ~HttpServer() { stop(); }

 private:
  void serve();
  int fd_ = -1;
  int port_ = 0;
  Handler handler_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace weir
