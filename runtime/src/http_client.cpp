#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace weir {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

HttpAnswer http_call(const Endpoint& server, const std::string& method, const std::string& target, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, server.str());
  req.set(http::field::user_agent, "weir-ctl/" WEIR_VERSION);
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) req.set(http::field::content_type, "text/plain; charset=utf-8");
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);  // a /status of a very large graph

  HttpAnswer answer;
  auto failed = [&](beast::error_code ec) {
    answer.error = ec == beast::error::timeout ? "timed out after " + std::to_string(timeout.count()) + " ms" : ec.message();
  };
  // All in one deadline: resolve, connect, send, and read the answer.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  resolver.async_resolve(server.host, std::to_string(server.port), [&](beast::error_code ec, tcp::resolver::results_type hosts) {
    if (ec) return failed(ec);
    stream.expires_at(deadline);
    stream.async_connect(hosts, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return failed(ec);
      http::async_write(stream, req, [&](beast::error_code ec, size_t) {
        if (ec) return failed(ec);
        http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
          if (ec) return failed(ec);
          const auto& res = parser.get();
          answer.status = static_cast<int>(res.result_int());
          answer.content_type = std::string(res[http::field::content_type]);
          answer.body = res.body();
          beast::error_code ignored;
          stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        });
      });
    });
  });
  ioc.run_for(timeout + std::chrono::seconds(1));  // the resolver has no deadline of its own
  if (answer.status == 0 && answer.error.empty()) answer.error = "timed out after " + std::to_string(timeout.count()) + " ms";
  return answer;
}

}  // namespace weir
