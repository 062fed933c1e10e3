#include "http_server.hpp"

#include <weir/abi.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace weir {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string ListenAddress::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ListenAddress parse_listen_address(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument(quoted + ": missing ']' after the IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument(quoted + ": expected :PORT after ']', e.g. [::1]:9464");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) throw std::invalid_argument(quoted + ": expected HOST:PORT, e.g. 127.0.0.1:9464");
    if (text.find(':') != colon)
      throw std::invalid_argument(quoted + ": write an IPv6 address in brackets, e.g. [::1]:9464");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty())
    throw std::invalid_argument(quoted + ": no host; write 127.0.0.1:PORT (loopback only) or 0.0.0.0:PORT / [::]:PORT "
                                         "(every interface)");
  int p = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 0 || p > 65535)
    throw std::invalid_argument(quoted + ": port '" + std::string(port) + "' is not a number from 0 to 65535");
  std::string h(host == "localhost" ? "127.0.0.1" : host);
  boost::system::error_code bad;
  net::ip::address addr = net::ip::make_address(h, bad);
  if (bad) throw std::invalid_argument(quoted + ": '" + h + "' is not an IP address (nor localhost)");
  return {addr.to_string(), static_cast<uint16_t>(p)};
}

std::string HttpLimits::check() const {
  auto range = [](const char* option, int64_t v, int64_t lo, int64_t hi) {
    if (v >= lo && v <= hi) return std::string();
    return std::string(option) + " must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
           std::to_string(v);
  };
  for (const std::string& err :
       {range("--http-max-header-bytes", max_header_bytes, 1024, int64_t(1) << 30),
        range("--http-max-body-bytes", max_body_bytes, 1024, int64_t(1) << 40),
        range("--http-max-connections", max_connections, 1, 1'000'000),
        range("--http-idle-timeout-ms", idle_timeout_ms, 100, 86'400'000)})
    if (!err.empty()) return err;
  return "";
}

namespace {

using Clock = std::chrono::steady_clock;

// A client can make the server log as often as it sends bad requests: at
// most kPerSecond lines a second go out, and the next one says how many did not.
class LogLimiter {
 public:
  explicit LogLimiter(std::function<void(int, const std::string&)> log) : log_(std::move(log)) {}
  void operator()(int level, const std::string& message) {
    if (!log_) return;
    std::lock_guard lock(mu_);
    Clock::time_point now = Clock::now();
    if (now - window_ >= std::chrono::seconds(1)) {
      window_ = now;
      in_window_ = 0;
    }
    if (++in_window_ > kPerSecond) {
      ++suppressed_;
      return;
    }
    std::string line = "http: " + message;
    if (suppressed_) line += " (" + std::to_string(suppressed_) + " similar lines suppressed)";
    suppressed_ = 0;
    log_(level, line);
  }

 private:
  static constexpr int kPerSecond = 10;
  std::function<void(int, const std::string&)> log_;
  std::mutex mu_;
  Clock::time_point window_{};
  int in_window_ = 0;
  uint64_t suppressed_ = 0;
};

// What every connection shares; owned by HttpServer::Impl, which outlives them.
struct Shared {
  HttpLimits limits;
  HttpService service;
  LogLimiter log;
  net::io_context* blocking = nullptr;  // where blocking handlers run
  std::atomic<int64_t> open{0};        // connections open now

  Shared(const HttpLimits& l, HttpService s) : limits(l), service(std::move(s)), log(service.log) {}
  std::chrono::milliseconds idle() const { return std::chrono::milliseconds(limits.idle_timeout_ms); }
  HttpResponse call(const HttpRequest& req) {
    try {
      return service.handle(req);
    } catch (const std::exception& e) {
      log(WEIR_LOG_ERROR, req.method + " " + req.path + " from " + req.peer + ": handler failed: " + e.what());
      return {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
    } catch (...) {
      log(WEIR_LOG_ERROR, req.method + " " + req.path + " from " + req.peer + ": handler failed");
      return {500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
};

bool is_loopback(const net::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() && net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
}

std::string endpoint_text(const tcp::endpoint& e) {
  std::string host = e.address().to_string();
  return (e.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(e.port());
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_method).category();
}

// One client connection: read a request (header, then body), answer it, and
// again while the client keeps the connection alive. Lives on the network
// thread; only a blocking handler runs elsewhere, and it posts its answer back.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Shared& shared, tcp::socket socket) : s_(shared), stream_(std::move(socket)) {
    ++s_.open;
    beast::error_code ec;
    tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      peer_ = endpoint_text(peer);
      loopback_ = is_loopback(peer.address());
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);  // an answer goes out whole, without waiting for an ACK
  }
  ~Session() { --s_.open; }

  void start() { read_request(); }

 private:
  enum class Phase { reading, handling, writing, closing };

  void read_request() {
    phase_ = Phase::reading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(s_.limits.max_header_bytes));
    parser_->body_limit(static_cast<uint64_t>(s_.limits.max_body_bytes));
    // One deadline for the whole request: a client trickling bytes cannot hold the connection longer.
    stream_.expires_after(s_.idle());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return fail(ec);
    auto& msg = parser_->get();
    if (!parser_->is_done() && beast::iequals(msg[http::field::expect], "100-continue")) {
      continue_ = {http::status::continue_, msg.version()};
      http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->fail(ec);
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) return on_request();
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail(ec);
      self->on_request();
    });
  }

  void on_request() {
    phase_ = Phase::handling;
    stream_.expires_never();
    auto& msg = parser_->get();
    head_ = msg.method() == http::verb::head;
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    HttpRequest req;
    req.method = head_ ? "GET" : std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    req.path = std::string(target.substr(0, target.find('?')));
    req.host = std::string(msg[http::field::host]);
    req.origin = std::string(msg[http::field::origin]);
    req.body = std::move(msg.body());
    beast::string_view auth = msg[http::field::authorization];
    if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "bearer ")) {
      auth.remove_prefix(7);
      while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
      while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
      req.bearer = std::string(auth);
    }
    req.peer = peer_;
    req.peer_is_loopback = loopback_;
    if (s_.service.blocks && s_.service.blocks(req)) {
      auto home = stream_.get_executor();
      net::post(*s_.blocking, [self = shared_from_this(), home, req = std::move(req)] {
        HttpResponse r = self->s_.call(req);
        net::post(home, [self, r = std::move(r)]() mutable { self->respond(std::move(r), self->keep_alive_); });
      });
      return;
    }
    respond(s_.call(req), keep_alive_);
  }

  void respond(HttpResponse r, bool keep_alive) {
    phase_ = Phase::writing;
    res_ = {};
    res_.version(version_);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "weir/" WEIR_VERSION);
    res_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res_.set(name, value);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    if (head_) {
      size_t length = res_.body().size();
      res_.body().clear();
      res_.content_length(length);
    }
    stream_.expires_after(s_.idle());
    http::async_write(stream_, res_, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (ec) return self->fail(ec);
      if (!keep_alive) return self->linger_close();
      self->read_request();
    });
  }

  // Answers a request that cannot be served, then closes the connection.
  void reject(int status, const std::string& why) {
    s_.log(WEIR_LOG_WARN, peer_ + ": " + std::to_string(status) + " " + why);
    version_ = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    head_ = false;
    respond({status, "text/plain; charset=utf-8", why + "\n"}, false);
  }

  void fail(beast::error_code ec) {
    Phase phase = phase_;
    phase_ = Phase::closing;
    if (ec == net::error::operation_aborted || phase == Phase::closing) return;
    if (ec == beast::error::timeout) {
      if (phase == Phase::writing)
        s_.log(WEIR_LOG_WARN, peer_ + ": closed: the answer was not taken within " + std::to_string(s_.limits.idle_timeout_ms) +
                                  " ms (--http-idle-timeout-ms)");
      else if (parser_ && parser_->got_some())
        s_.log(WEIR_LOG_WARN, peer_ + ": closed: no complete request within " + std::to_string(s_.limits.idle_timeout_ms) +
                                  " ms (--http-idle-timeout-ms)");
      return;  // (an idle keep-alive connection timing out is routine)
    }
    if (phase != Phase::reading || ec == http::error::end_of_stream) return;  // closed by the client, or reset
    if (ec == http::error::header_limit)
      return reject(431, "request header over " + std::to_string(s_.limits.max_header_bytes) +
                             " bytes (--http-max-header-bytes)");
    if (ec == http::error::body_limit)
      return reject(413, "request body over " + std::to_string(s_.limits.max_body_bytes) + " bytes (--http-max-body-bytes)");
    if (is_http_error(ec)) return reject(400, "malformed request: " + ec.message());
  }

  // Stops sending, then reads and drops what the client still sends for a
  // moment, so that closing does not reset the connection before the client
  // has read the answer.
  void linger_close() {
    phase_ = Phase::closing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    stream_.expires_after(std::min(s_.idle(), std::chrono::milliseconds(1000)));
    drain();
  }
  void drain() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->drain();
    });
  }

  Shared& s_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> res_;
  std::array<char, 4096> scratch_;
  std::string peer_ = "?";
  bool loopback_ = false, head_ = false, keep_alive_ = false;
  unsigned version_ = 11;
  Phase phase_ = Phase::reading;
};

// Runs IOC until it is stopped; an exception escaping a handler is logged, not fatal.
void run_logged(net::io_context& ioc, LogLimiter& log) {
  while (true) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log(WEIR_LOG_ERROR, std::string("unexpected error, serving on: ") + e.what());
    }
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpLimits& limits, HttpService service) : shared(limits, std::move(service)) { shared.blocking = &blocking_ioc; }

  void accept() {
    acceptor.async_accept(ioc, [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // out of file descriptors and the like: try again shortly rather than spin
        shared.log(WEIR_LOG_WARN, "accept failed: " + ec.message());
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](beast::error_code ec) {
          if (!ec) accept();
        });
        return;
      }
      if (shared.open.load() >= shared.limits.max_connections) refuse(std::move(socket));
      else std::make_shared<Session>(shared, std::move(socket))->start();
      accept();
    });
  }

  // Over the connection limit: a short 503, at once, without waiting for the client.
  void refuse(tcp::socket socket) {
    static const std::string body = "too many connections\n";
    static const std::string answer = "HTTP/1.1 503 Service Unavailable\r\nServer: weir/" WEIR_VERSION
                                      "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body;
    beast::error_code ec;
    tcp::endpoint peer = socket.remote_endpoint(ec);
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    shared.log(WEIR_LOG_WARN, endpoint_text(peer) + ": 503 " + std::to_string(shared.limits.max_connections) +
                                  " connections open already (--http-max-connections)");
  }

  Shared shared;
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer retry{ioc};
  net::io_context blocking_ioc{1};
  net::executor_work_guard<net::io_context::executor_type> blocking_work = net::make_work_guard(blocking_ioc);
  std::thread network, blocking;
};

HttpServer::HttpServer() = default;
HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const ListenAddress& address, const HttpLimits& limits, HttpService service) {
  stop();
  auto impl = std::make_unique<Impl>(limits, std::move(service));
  beast::error_code ec;
  net::ip::address ip = net::ip::make_address(address.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + address.str() + ": " + ec.message());
  tcp::endpoint endpoint(ip, address.port);
  auto fail = [&](const char* what) {
    throw std::runtime_error("cannot listen on " + address.str() + ": " + what + ": " + ec.message());
  };
  if (impl->acceptor.open(endpoint.protocol(), ec); ec) fail("socket");
  if (impl->acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) fail("SO_REUSEADDR");
  if (impl->acceptor.bind(endpoint, ec); ec) fail("bind");
  if (impl->acceptor.listen(net::socket_base::max_listen_connections, ec); ec) fail("listen");
  port_ = impl->acceptor.local_endpoint(ec).port();
  bound_ = address;
  bound_.port = port_;
  impl->accept();
  Impl* raw = impl.get();
  impl->network = std::thread([raw] { run_logged(raw->ioc, raw->shared.log); });
  impl->blocking = std::thread([raw] { run_logged(raw->blocking_ioc, raw->shared.log); });
  impl_ = std::move(impl);
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->ioc.stop();
  if (impl_->network.joinable()) impl_->network.join();
  impl_->blocking_work.reset();
  impl_->blocking_ioc.stop();
  if (impl_->blocking.joinable()) impl_->blocking.join();
  impl_.reset();  // closes the listening socket and every connection
}

std::string HttpServer::authority() const { return bound_.str(); }

}  // namespace weir
