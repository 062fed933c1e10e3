#include "admin.hpp"

#include "console.hpp"
#include "control.hpp"
#include "engine.hpp"
#include "http_client.hpp"
#include "metrics.hpp"
#include "tap.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace weir {
namespace {

using Json = nlohmann::ordered_json;

std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (size_t eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// A control answer. Messages may hold file names: bytes that are not UTF-8 are replaced, not refused.
HttpResponse answer(int status, bool ok, const std::string& message, double pause_ms = 0) {
  Json j;
  j["ok"] = ok;
  j["message"] = message;
  if (pause_ms > 0) j["pause_ms"] = pause_ms;
  return {status, "application/json", j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"};
}

// Compares in time independent of where the first difference is.
bool same_token(const std::string& given, const std::string& token) {
  unsigned diff = given.size() != token.size();
  for (size_t i = 0; i < given.size() && i < token.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  return diff == 0;
}

// "%2Fa+b" -> "/a b"; a bad escape stays as written.
std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// A number from a form field: "" is DEFAULT, anything else must parse whole.
bool number(const std::string& text, double& out) {
  if (text.empty()) return true;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end && *end == '\0' && out >= 0 && out < 1e15;
}

HttpResponse json_answer(int status, const Json& j) {
  return {status, "application/json", j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"};
}

// POST /ctl/query: the rows as JSON Lines on success (a read: not logged as a
// change), else a control answer with the status Control::query gives.
HttpResponse handle_query(Engine& engine, Control& control, const std::string& node, const std::string& text) {
  std::string rows;
  ControlResult r = control.query(node, text, rows);
  if (!r.ok) {
    engine.log(nullptr, WEIR_LOG_INFO, "control: query " + node + ": failed: " + r.message);
    return answer(r.status, false, r.message);
  }
  return {200, "application/x-ndjson", rows};
}

// POST /tap/open, /tap/read, /tap/close (tap.hpp).
HttpResponse handle_tap(Engine& engine, const std::string& action, std::map<std::string, std::string> args) {
  double id = 0;
  if (action == "open") {
    TapRequest t;
    t.node = args["node"];
    t.port = args["port"];
    double count = 0;
    if (!number(args["rate"], t.rate_per_s) || !number(args["count"], count))
      return answer(400, false, "rate and count must be numbers >= 0");
    t.count = static_cast<uint64_t>(count);
    t.metadata = args["metadata"] == "1" || args["metadata"] == "true";
    TapOpened opened = tap_open(engine, t);
    if (!opened.id) return answer(404, false, opened.error);
    engine.log(nullptr, WEIR_LOG_INFO, "tap " + std::to_string(opened.id) + " opened on " + t.node + "." + opened.port);
    return json_answer(200, {{"ok", true}, {"id", opened.id}, {"port", opened.port}});
  }
  if (!number(args["id"], id) || id < 1) return answer(400, false, "id must be a tap's number");
  if (action == "close")
    return tap_close(static_cast<uint64_t>(id)) ? answer(200, true, "tap closed") : answer(404, false, "no such tap");
  if (action != "read") return answer(404, false, "unknown tap action '" + action + "'");
  TapRead r = tap_read(static_cast<uint64_t>(id));
  if (!r.known) return answer(404, false, "no such tap (closed, or not read for " + std::to_string(kIdleCloseMs / 1000) + " s)");
  return json_answer(200, {{"ok", true}, {"records", r.records}, {"dropped", r.dropped}, {"done", r.done}, {"finished", r.finished}});
}

}  // namespace

bool admin_request_blocks(const HttpRequest& req) {
  // Control actions wait for node threads; a node's details read the running
  // configuration, which `apply` replaces: both on the blocking thread, one at a time.
  return (req.method == "POST" && req.path.rfind("/ctl/", 0) == 0) || (req.method == "GET" && req.path.rfind("/node/", 0) == 0);
}

HttpResponse handle_admin(Engine& engine, Control& control, const AdminAccess& access, const HttpRequest& req) {
  const std::string& token = access.token;
  if (req.method == "GET" && req.path == "/metrics") return {200, "text/plain; version=0.0.4", prometheus_text(engine)};
  if (req.method == "GET" && req.path == "/status") return {200, "application/json", status_json(engine) + "\n"};
  if (req.method == "GET")
    if (auto asset = console_asset(req.path)) return *asset;
  // A page of another site may make the browser POST here (a "simple" request needs no
  // preflight) but cannot set Authorization, and its Origin says where it comes from.
  if (req.method == "POST" && !req.origin.empty() && req.origin != "http://" + req.host) {
    engine.log(nullptr, WEIR_LOG_WARN, "admin: refused " + req.path + " from " + req.peer + " (cross-site, Origin " + req.origin + ")");
    return answer(403, false, "forbidden: cross-site request (Origin " + req.origin + ")");
  }
  bool tap = req.path.rfind("/tap/", 0) == 0, node = req.path.rfind("/node/", 0) == 0;
  if (tap || node) {
    // Read-only, but they show records and parameters: loopback peers, or the token.
    if (!req.peer_is_loopback && (token.empty() || !same_token(req.bearer, token))) {
      engine.log(nullptr, WEIR_LOG_WARN, "admin: refused " + req.path + " from " + req.peer + " (not loopback, no token)");
      return answer(403, false, "forbidden: " + req.path + " needs a loopback peer or the admin token");
    }
    if (tap) return req.method == "POST" ? handle_tap(engine, req.path.substr(5), form(req.body)) : answer(405, false, "tap routes take POST");
    if (req.method != "GET") return answer(405, false, "node details take GET");
    auto details = node_json(engine, percent_decoded(req.path.substr(6)));
    return details ? HttpResponse{200, "application/json", *details + "\n"} : answer(404, false, "no such node");
  }
  if (req.path.rfind("/ctl/", 0) != 0)
    return {404, "text/plain; charset=utf-8", "not found: try /, /metrics, /status, /node/NAME, /tap/* or /ctl/*\n"};
  // Every /ctl/ route, /ctl/status included, is control: the same peers and token.
  if (!token.empty() ? !same_token(req.bearer, token) : !req.peer_is_loopback) {
    engine.log(nullptr, WEIR_LOG_WARN,
               "control: refused " + req.path + " from " + req.peer + " (" + (token.empty() ? "not loopback" : "bad token") + ")");
    return answer(403, false, "forbidden: control needs a loopback peer or the admin token");
  }
  if (req.method == "GET" && req.path == "/ctl/status") return {200, "application/json", status_json(engine) + "\n"};
  if (req.method != "POST") return answer(405, false, "control routes take POST");
  auto args = form(req.body);
  std::string action = req.path.substr(5);
  // A token-holder may load code; a loopback peer without one only if the host said so.
  bool may_load = !token.empty() || access.allow_swap_without_token;
  ControlResult r;
  if (action == "swap" && !may_load)
    r = {false,
         "swap refused: it loads a library into the running host and runs its code; start weir run with "
         "--admin-token (or $WEIR_ADMIN_TOKEN), or --allow-swap-without-token to let loopback peers do it",
         0, 403};
  else if (action == "swap") r = control.swap(args["node"], args["path"]);
  else if (action == "reload") r = control.reload(args["node"]);
  else if (action == "pause") r = control.pause(args["node"]);
  else if (action == "resume") r = control.resume(args["node"]);
  else if (action == "apply") r = control.apply(args["file"], may_load);
  else if (action == "query") return handle_query(engine, control, args["node"], args["text"]);
  else return answer(404, false, "unknown control action '" + action + "'");
  // Every control action is logged, whatever its outcome.
  std::string what = action + (args.count("node") ? " " + args["node"] : "") + (args.count("path") ? " " + args["path"] : "") +
                     (args.count("file") ? " " + args["file"] : "");
  std::string line = "control: " + what + ": " + (r.ok ? "ok: " : "failed: ") + r.message;
  engine.log(nullptr, r.ok ? WEIR_LOG_INFO : WEIR_LOG_WARN, line);
  if (Node* n = args.count("node") ? engine.find(args["node"]) : nullptr) n->watch.log(r.ok ? WEIR_LOG_INFO : WEIR_LOG_WARN, line);  // in its console log
  return answer(r.status ? r.status : r.ok ? 200 : 409, r.ok, r.message, r.pause_ms);
}

AdminTarget admin_target(std::string admin, std::string token) {
  AdminTarget t;
  if (admin.empty()) admin = std::getenv("WEIR_ADMIN") ? std::getenv("WEIR_ADMIN") : "127.0.0.1:9464";
  if (token.empty() && std::getenv("WEIR_ADMIN_TOKEN")) token = std::getenv("WEIR_ADMIN_TOKEN");
  t.token = token;
  try {
    t.endpoint = parse_endpoint(admin);
  } catch (const std::invalid_argument& e) {
    t.error = std::string("--admin (or $WEIR_ADMIN): ") + e.what();
  }
  return t;
}

AdminAnswer admin_request(const Endpoint& admin, const std::string& path, const std::string& body, const std::string& token) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  // A swap may wait seconds for a node thread (up to its own 10 s timeouts, twice).
  HttpAnswer a = http_call(admin, body.empty() ? "GET" : "POST", path, body, headers, std::chrono::seconds(60));
  AdminAnswer out{a.status, a.error, a.body};
  if (a.content_type.rfind("application/json", 0) != 0 || path.ends_with("/status")) return out;
  Json j = Json::parse(a.body, nullptr, false);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string()) return out;
  out.text = j["message"].get<std::string>();
  if (j.contains("pause_ms") && j["pause_ms"].is_number()) {
    char pause[64];
    std::snprintf(pause, sizeof pause, " (node paused %.3f ms)", j["pause_ms"].get<double>());
    out.text += pause;
  }
  out.text += "\n";
  return out;
}

}  // namespace weir
