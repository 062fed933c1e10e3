// A server address as users write it in pipelines: "host:port" or "[ipv6]:port".
// Header-only, shared by the host (admin port) and the plugins that talk to servers,
// so every `endpoint` parameter reads and fails the same way.
#pragma once

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weir {

struct Endpoint {
  std::string host;
  int port = 0;
  // Back to text, with brackets around an IPv6 address.
  std::string str() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

// Throws std::invalid_argument naming what is wrong. With DEFAULT_PORT > 0 the
// port may be left out.
inline Endpoint parse_endpoint(std::string_view text, int default_port = 0) {
  const std::string quoted = "endpoint '" + std::string(text) + "'";
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument(quoted + ": missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') throw std::invalid_argument(quoted + ": expected ':' after ']'");
    if (!rest.empty()) port = rest.substr(1);
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) throw std::invalid_argument(quoted + ": write an IPv6 address as [addr]:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) throw std::invalid_argument(quoted + ": empty port");
  }
  if (host.empty()) throw std::invalid_argument(quoted + " has no host");
  if (port.empty() && default_port <= 0) throw std::invalid_argument(quoted + " must be host:port");
  Endpoint e{std::string(host), default_port};
  if (!port.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      throw std::invalid_argument(quoted + ": port '" + std::string(port) + "' is not a number from 1 to 65535");
    e.port = p;
  }
  return e;
}

}  // namespace weir
