// The admin HTTP endpoint of `weir run --metrics ADDR`: metrics, status and
// the control routes behind `weir ctl`.
//
//   GET  /metrics          Prometheus text
//   GET  /status           the graph with live counts (JSON), to anyone
//   GET  /ctl/status       the same, as a control route (loopback or token)
//   POST /ctl/swap         body: node=NAME\npath=PLUGIN.so
//   POST /ctl/reload       body: node=NAME
//   POST /ctl/pause        body: node=NAME
//   POST /ctl/resume       body: node=NAME
//   POST /ctl/apply        body: file=PIPELINE.toml
//   POST /ctl/query        body: node=NAME\ntext=QUERY   (ABI 1.3; answer: JSON Lines, one row each)
//
// Every /ctl/ answer is JSON: {"ok":true|false,"message":"...","pause_ms":1.25}
// (pause_ms when a node stopped taking records), with status 200 when ok, 409
// when the action was refused, and 403/404/405 for a request that is not allowed.
//
// Control routes answer only loopback peers, unless a token is configured,
// in which case every control request must carry `Authorization: Bearer TOKEN`.
// Loading a plugin (swap) needs the token, or --allow-swap-without-token.
#pragma once

#include "http_server.hpp"

#include <weir/endpoint.hpp>

#include <string>

namespace weir {

class Engine;
class Control;

struct AdminAccess {
  std::string token;  // "" = control from loopback peers only
  // `swap` (and an `apply` that changes a node's plugin) loads a library into
  // this process and runs its code: without a token, only with this opt-in.
  bool allow_swap_without_token = false;
};

HttpResponse handle_admin(Engine& engine, Control& control, const AdminAccess& access, const HttpRequest& request);
// Control actions wait for node threads (a swap up to seconds): they run off
// the server's network thread, so /metrics and /status keep answering.
bool admin_request_blocks(const HttpRequest& request);

// The client side, for `weir ctl`: POSTs BODY to http://ADMIN/PATH (or GETs
// when BODY is empty).
struct AdminAnswer {
  int status = 0;     // the HTTP status; 0 if there was no answer
  std::string error;  // why not
  std::string text;   // what to show: a control answer's message, or the body as is
};
AdminAnswer admin_request(const Endpoint& admin, const std::string& path, const std::string& body, const std::string& token);

// The endpoint and token a client command (`weir ctl`, `weir tap`, `weir top`)
// talks to: ADMIN, else $WEIR_ADMIN, else 127.0.0.1:9464; TOKEN, else
// $WEIR_ADMIN_TOKEN. ERROR says what is wrong with the address (a usage error).
struct AdminTarget {
  Endpoint endpoint;
  std::string token, error;
};
AdminTarget admin_target(std::string admin, std::string token);

}  // namespace weir
