// A scripted Redis on 127.0.0.1 for logic tests: it parses RESP commands,
// records them, and answers what a handler says. No real server needed, and
// replies the real one rarely gives (READONLY, LOADING, a reset mid-batch) on cue.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace weir::testing {

class FakeRedis {
 public:
  using Command = std::vector<std::string>;
  // The raw RESP reply; kClose closes the connection instead of answering.
  using Handler = std::function<std::string(const Command&)>;
  static inline const std::string kClose = "<close>";
  // REPLY, then the connection closed cleanly (FIN, nothing left unread) once
  // the client has nothing more in flight: a server going away between batches.
  static std::string then_hang_up(const std::string& reply) { return reply + kHangUp; }

  static std::string ok() { return "+OK\r\n"; }
  static std::string integer(long long n) { return ":" + std::to_string(n) + "\r\n"; }
  static std::string error(const std::string& text) { return "-" + text + "\r\n"; }
  static std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
  static std::string nil() { return "$-1\r\n"; }
  static std::string array(const std::vector<std::string>& items) {
    std::string out = "*" + std::to_string(items.size()) + "\r\n";
    for (const auto& i : items) out += i;
    return out;
  }
  // Answers like a master: +OK / :1 for writes, ROLE master, no COMMAND INFO (unchecked).
  static std::string default_reply(const Command& c) {
    const std::string& name = c.empty() ? "" : c[0];
    if (name == "ROLE") return array({bulk("master"), integer(0), array({})});
    if (name == "COMMAND") return error("ERR unknown command 'COMMAND'");
    if (name == "AUTH" || name == "SELECT" || name == "SET") return ok();
    return integer(1);
  }

  explicit FakeRedis(Handler h = default_reply, int port = 0) : handler_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("FakeRedis: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRedis() { stop(); }

  // Closes the listener and every connection: clients see the server gone.
  void stop() {
    if (stop_.exchange(true)) return;
    thread_.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // Data commands (not AUTH/SELECT/ROLE/COMMAND/SENTINEL/WAIT) are answered only
  // once this many are waiting: a client that does not pipeline times out.
  void gate(size_t n) { gate_ = n; }

  std::vector<Command> commands() const {
    std::lock_guard lock(mu_);
    return commands_;
  }
  // Only the data commands, without the handshake.
  std::vector<Command> data_commands() const {
    std::vector<Command> out;
    for (auto& c : commands())
      if (!handshake(c)) out.push_back(c);
    return out;
  }
  int connections() const { return connections_.load(); }

 private:
  static bool handshake(const Command& c) {
    static const char* names[] = {"AUTH", "SELECT", "ROLE", "COMMAND", "SENTINEL", "WAIT", "PING"};
    for (const char* n : names)
      if (!c.empty() && c[0] == n) return true;
    return false;
  }

  // Parses one command from buf at pos; nullopt if incomplete.
  static std::optional<Command> parse(const std::string& buf, size_t& pos) {
    size_t p = pos;
    auto line = [&](std::string& out) {
      size_t e = buf.find("\r\n", p);
      if (e == std::string::npos) return false;
      out = buf.substr(p, e - p);
      p = e + 2;
      return true;
    };
    std::string l;
    if (!line(l)) return std::nullopt;
    if (l.empty() || l[0] != '*') throw std::runtime_error("FakeRedis: inline commands are not supported");
    int n = std::stoi(l.substr(1));
    Command c;
    for (int i = 0; i < n; ++i) {
      if (!line(l)) return std::nullopt;
      size_t len = std::stoul(l.substr(1));
      if (buf.size() < p + len + 2) return std::nullopt;
      c.push_back(buf.substr(p, len));
      p += len + 2;
    }
    pos = p;
    return c;
  }

  void serve() {
    while (!stop_) {
      pollfd pf{listen_fd_, POLLIN, 0};
      if (::poll(&pf, 1, 20) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      talk(fd);
      ::close(fd);
    }
  }

  void talk(int fd) {
    std::string in, out;
    size_t held = 0;
    bool hang_up = false;
    char buf[65536];
    while (!stop_) {
      pollfd pf{fd, POLLIN, 0};
      if (::poll(&pf, 1, 20) <= 0) continue;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      size_t pos = 0;
      while (auto c = parse(in, pos)) {
        {
          std::lock_guard lock(mu_);
          commands_.push_back(*c);
        }
        std::string reply = handler_(*c);
        if (reply == kClose) return;
        if (reply.ends_with(kHangUp)) {
          reply.resize(reply.size() - kHangUp.size());
          hang_up = true;
        }
        out += reply;
        if (!handshake(*c)) ++held;
        if (handshake(*c) || held >= gate_) {
          if (!send_all(fd, out)) return;
          out.clear();
          held = 0;
        }
      }
      in.erase(0, pos);
      if (hang_up && in.empty() && out.empty()) return;
    }
  }

  static bool send_all(int fd, const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t w = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  }

  static inline const std::string kHangUp = "<hang up>";

  Handler handler_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  size_t gate_ = 1;
  mutable std::mutex mu_;
  std::vector<Command> commands_;
  std::thread thread_;
};

}  // namespace weir::testing
