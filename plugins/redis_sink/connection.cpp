#include "connection.hpp"

#include <weir/endpoint.hpp>

#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace weir::redis {

namespace {

timeval to_timeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

}  // namespace

std::string Endpoint::text() const {
  if (unix_socket) return "unix:" + host;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Endpoint parse_endpoint(std::string_view text, int default_port) {
  Endpoint e;
  e.port = default_port;
  if (text.empty()) throw std::invalid_argument("empty endpoint");
  if (text.starts_with("unix:")) {
    e.unix_socket = true;
    e.host = std::string(text.substr(5));
    if (e.host.empty()) throw std::invalid_argument("endpoint '" + std::string(text) + "' has no socket path");
    return e;
  }
  weir::Endpoint tcp = weir::parse_endpoint(text, default_port);  // host:port or [v6]:port
  e.host = std::move(tcp.host);
  e.port = tcp.port;
  return e;
}

std::string reply_text(const redisReply* r) {
  if (!r) return "no reply";
  switch (r->type) {
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY:
      return "(array of " + std::to_string(r->elements) + ")";
  }
  return "(reply type " + std::to_string(r->type) + ")";
}

Reply run(redisContext* c, const std::vector<std::string>& argv, std::string& why) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (!r) why = c->errstr[0] ? c->errstr : "connection lost";
  return Reply(r);
}

redisContext* Connection::open(const Endpoint& e, int64_t timeout_ms, std::string& why) {
  timeval tv = to_timeval(timeout_ms);
  redisContext* c = e.unix_socket ? redisConnectUnixWithTimeout(e.host.c_str(), tv)
                                  : redisConnectWithTimeout(e.host.c_str(), e.port, tv);
  if (!c) {
    why = "cannot allocate a connection";
    return nullptr;
  }
  if (c->err) {
    why = "cannot connect to " + e.text() + ": " + c->errstr;
    redisFree(c);
    return nullptr;
  }
  // Reads and writes of the handshake use the connect timeout too.
  redisSetTimeout(c, tv);
  if (!e.unix_socket) redisEnableKeepAlive(c);
  return c;
}

void Connection::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

std::string Connection::resolve_master(Endpoint& out) {
  std::string why_all;
  auto& sentinels = options_.sentinels;
  for (size_t i = 0; i < sentinels.size(); ++i) {
    std::string why;
    redisContext* c = open(sentinels[i], options_.connect_timeout_ms, why);
    auto answer = [&]() -> std::string {
      if (!c) return why;
      if (!options_.sentinel_password.empty()) {
        Reply r = run(c, {"AUTH", options_.sentinel_password}, why);
        if (!r) return why;
        if (r->type == REDIS_REPLY_ERROR) return "AUTH: " + reply_text(r.get());
      }
      Reply r = run(c, {"SENTINEL", "get-master-addr-by-name", options_.master_name}, why);
      if (!r) return why;
      if (r->type == REDIS_REPLY_NIL) return "does not know master '" + options_.master_name + "'";
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
          r->element[1]->type != REDIS_REPLY_STRING)
        return "unexpected answer: " + reply_text(r.get());
      std::string host(r->element[0]->str, r->element[0]->len), port(r->element[1]->str, r->element[1]->len);
      int p = 0;
      auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
      if (host.empty() || ec != std::errc() || end != port.data() + port.size() || p <= 0 || p > 65535)
        return "unexpected master address '" + host + "' '" + port + "'";
      out = Endpoint{host, p};
      return "";
    }();
    if (c) redisFree(c);
    if (answer.empty()) {
      // The sentinel that answered is asked first next time (Sentinel client guidelines).
      std::rotate(sentinels.begin(), sentinels.begin() + static_cast<std::ptrdiff_t>(i),
                  sentinels.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return "";
    }
    why_all += (why_all.empty() ? "" : "; ") + ("sentinel " + sentinels[i].text() + ": " + answer);
  }
  return "no sentinel named the master '" + options_.master_name + "' (" + why_all + ")";
}

std::string Connection::connect() {
  drop();
  Endpoint target = options_.endpoint;
  if (!options_.sentinels.empty())
    if (std::string why = resolve_master(target); !why.empty()) return why;
  current_ = target;
  std::string why;
  redisContext* c = open(target, options_.connect_timeout_ms, why);
  if (!c) return why;
  auto fail = [&](const std::string& msg) {
    redisFree(c);
    return describe() + ": " + msg;
  };
  if (!options_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    Reply r = run(c, auth, why);
    if (!r) return fail(why);
    if (r->type == REDIS_REPLY_ERROR) return fail("AUTH failed: " + reply_text(r.get()));
  }
  if (options_.database != 0) {
    Reply r = run(c, {"SELECT", std::to_string(options_.database)}, why);
    if (!r) return fail(why);
    if (r->type == REDIS_REPLY_ERROR)
      return fail("SELECT " + std::to_string(options_.database) + ": " + reply_text(r.get()));
  }
  if (!options_.sentinels.empty()) {
    // A sentinel may still name a demoted master for a moment: ask the server itself.
    Reply r = run(c, {"ROLE"}, why);
    if (!r) return fail(why);
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
        std::string_view(r->element[0]->str, r->element[0]->len) != "master")
      return fail("is a " + std::string(r->element[0]->str, r->element[0]->len) +
                  ", not the master (failover in progress?)");
  }
  redisSetTimeout(c, to_timeval(options_.command_timeout_ms));
  ctx_ = c;
  return "";
}

Reply Connection::command(const std::vector<std::string>& argv) {
  if (!ctx_) {
    error_ = "not connected";
    return nullptr;
  }
  Reply r = run(ctx_, argv, error_);
  if (!r) drop();
  return r;
}

std::string Connection::describe() const {
  if (options_.sentinels.empty()) return (current_.host.empty() ? options_.endpoint : current_).text();
  return "master '" + options_.master_name + "'" + (current_.host.empty() ? "" : " at " + current_.text());
}

}  // namespace weir::redis
