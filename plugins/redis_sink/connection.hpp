// One blocking hiredis connection to a Redis master: a fixed endpoint, or the
// master that Redis Sentinel names. Shared by redis_sink and weir-overspeed.
//
// connect() does: (sentinels: ask each sentinel in turn for the master's
// address, the one that answered moves to the front) -> TCP connect with
// connect_timeout -> AUTH [user] pass -> SELECT db -> (sentinels: ROLE must say
// "master", else the sentinel's view is stale) -> command timeout on the socket.
// No exceptions: a failed step returns its reason and leaves no connection.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::redis {

struct Endpoint {
  std::string host;  // a host name or address; or a socket path when unix
  int port = 6379;
  bool unix_socket = false;
  std::string text() const;
};

// "host:port", "host" (port 6379, or 26379 for sentinels), "[::1]:6379",
// "unix:/path/to/redis.sock". Throws std::invalid_argument.
Endpoint parse_endpoint(std::string_view text, int default_port = 6379);

struct ConnectionOptions {
  Endpoint endpoint;                // without sentinels
  std::vector<Endpoint> sentinels;  // with sentinels: ask them for master_name
  std::string master_name;
  std::string username, password;  // AUTH [username] password when password is set
  std::string sentinel_password;   // AUTH on the sentinels, when set
  int64_t database = 0;
  int64_t connect_timeout_ms = 2000;
  int64_t command_timeout_ms = 5000;  // 0 = none
};

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// The text of an error/status/string reply, or a description of any other.
std::string reply_text(const redisReply* r);

class Connection {
 public:
  explicit Connection(ConnectionOptions options) : options_(std::move(options)) {}
  ~Connection() { drop(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "" when connected, else why not (nothing is left open).
  std::string connect();
  bool connected() const { return ctx_ != nullptr; }
  redisContext* context() const { return ctx_; }
  void drop();

  // One command with its reply (nullptr + error() on a transport error, which drops the connection).
  Reply command(const std::vector<std::string>& argv);
  std::string error() const { return error_; }

  // Where we are (or would be) connected, for log lines: "127.0.0.1:6379",
  // "master 'weirmaster' at 127.0.0.1:7000".
  std::string describe() const;
  const Endpoint& current() const { return current_; }
  const ConnectionOptions& options() const { return options_; }

 private:
  std::string resolve_master(Endpoint& out);
  static redisContext* open(const Endpoint& e, int64_t timeout_ms, std::string& why);

  ConnectionOptions options_;
  redisContext* ctx_ = nullptr;
  Endpoint current_;
  std::string error_;
};

// Runs one command on a bare context; nullptr + why on a transport error.
Reply run(redisContext* c, const std::vector<std::string>& argv, std::string& why);

}  // namespace weir::redis
