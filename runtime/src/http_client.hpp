// The HTTP/1.1 client of `weir ctl`, on Boost.Beast like the server it talks to.
#pragma once

#include <weir/endpoint.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace weir {

struct HttpAnswer {
  int status = 0;     // 0: no answer, see error
  std::string error;  // why there is no answer ("Connection refused", "timed out after 60000 ms", ...)
  std::string content_type, body;
};

// Sends one request to SERVER (a name is resolved; every address is tried)
// and reads the answer; TIMEOUT bounds the whole exchange.
HttpAnswer http_call(const Endpoint& server, const std::string& method, const std::string& target, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers, std::chrono::milliseconds timeout);

}  // namespace weir
