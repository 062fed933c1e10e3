#include "admin.hpp"

#include "control.hpp"
#include "engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>

namespace weir {
namespace {

std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (size_t eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

HttpServer::Response result(const ControlResult& r) {
  char pause[64] = "";
  if (r.pause_ms > 0) std::snprintf(pause, sizeof pause, " (node paused %.3f ms)", r.pause_ms);
  return {r.ok ? 200 : 409, "text/plain; charset=utf-8", r.message + pause + "\n"};
}

}  // namespace

HttpServer::Response handle_admin(Engine& engine, Control& control, const std::string& token, const HttpRequest& req) {
  if (req.method == "GET" && req.path == "/metrics") return {200, "text/plain; version=0.0.4", prometheus_text(engine)};
  if (req.method == "GET" && (req.path == "/status" || req.path == "/ctl/status"))
    return {200, "application/json", status_json(engine) + "\n"};
  if (req.path.rfind("/ctl/", 0) != 0) return {404, "text/plain", "not found: try /metrics, /status or /ctl/*\n"};
  if (!token.empty() ? req.bearer != token : !req.peer_is_loopback) {
    engine.log(nullptr, WEIR_LOG_WARN, "control: refused " + req.path + " (" + (token.empty() ? "not loopback" : "bad token") + ")");
    return {403, "text/plain", "forbidden: control needs a loopback peer or the admin token\n"};
  }
  if (req.method != "POST") return {405, "text/plain", "control routes take POST\n"};
  auto args = form(req.body);
  std::string action = req.path.substr(5);
  ControlResult r;
  if (action == "swap") r = control.swap(args["node"], args["path"]);
  else if (action == "reload") r = control.reload(args["node"]);
  else if (action == "pause") r = control.pause(args["node"]);
  else if (action == "resume") r = control.resume(args["node"]);
  else if (action == "apply") r = control.apply(args["file"]);
  else return {404, "text/plain", "unknown control action '" + action + "'\n"};
  // Every control action is logged, whatever its outcome.
  std::string what = action + (args.count("node") ? " " + args["node"] : "") + (args.count("path") ? " " + args["path"] : "") +
                     (args.count("file") ? " " + args["file"] : "");
  engine.log(nullptr, r.ok ? WEIR_LOG_INFO : WEIR_LOG_WARN, "control: " + what + ": " + (r.ok ? "ok: " : "failed: ") + r.message);
  return result(r);
}

int admin_request(const std::string& address, const std::string& path, const std::string& body, const std::string& token,
                  std::string& response) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  std::string host = address.substr(0, colon);
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) return 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = (body.empty() ? "GET " : "POST ") + path + " HTTP/1.0\r\nHost: " + address +
                    (token.empty() ? "" : "\r\nAuthorization: Bearer " + token) +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string all;
  char buf[4096];
  for (ssize_t got; (got = recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<size_t>(got));
  ::close(fd);
  size_t split = all.find("\r\n\r\n");
  if (all.rfind("HTTP/", 0) != 0 || split == std::string::npos) return 0;
  response = all.substr(split + 4);
  return std::stoi(all.substr(all.find(' ') + 1, 3));
}

}  // namespace weir
