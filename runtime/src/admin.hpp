// The admin HTTP endpoint of `weir run --metrics ADDR`: metrics, status and
// the control routes behind `weir ctl`.
//
//   GET  /metrics          Prometheus text
//   GET  /status           the graph with live counts (JSON)
//   POST /ctl/swap         body: node=NAME\npath=PLUGIN.so
//   POST /ctl/reload       body: node=NAME
//   POST /ctl/pause        body: node=NAME
//   POST /ctl/resume       body: node=NAME
//   POST /ctl/apply        body: file=PIPELINE.toml
//
// Control routes answer only loopback peers, unless a token is configured,
// in which case every control request must carry `Authorization: Bearer TOKEN`.
#pragma once

#include "metrics.hpp"

#include <string>

namespace weir {

class Engine;
class Control;

HttpServer::Response handle_admin(Engine& engine, Control& control, const std::string& token, const HttpRequest& request);

// The client side, for `weir ctl`: POSTs BODY to http://ADDRESS/PATH (or GETs
// when BODY is empty). Returns the HTTP status (0 if unreachable) and the body.
int admin_request(const std::string& address, const std::string& path, const std::string& body, const std::string& token,
                  std::string& response);

}  // namespace weir
