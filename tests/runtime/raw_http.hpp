// A raw TCP client for the HTTP tests: sends exactly the bytes a test wants
// (malformed ones included) and reads what comes back. Every read has a
// deadline, so a server that stalls fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace weir::testing {

class RawConn {
 public:
  // HOST is an IPv4 or IPv6 literal. Check ok() afterwards.
  RawConn(const std::string& host, int port) {
    sockaddr_storage addr{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v6;
    } else {
      return;
    }
    fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  RawConn(RawConn&& o) noexcept : fd_(o.fd_), got_(std::move(o.got_)), eof_(o.eof_) { o.fd_ = -1; }
  RawConn(const RawConn&) = delete;
  ~RawConn() { close(); }
  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // False once the server has closed or reset the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one HTTP response (header, then Content-Length bytes of body, none
  // for a HEAD); "" if the connection closed or TIMEOUT_MS passed first.
  // Bytes after it stay buffered for the next call.
  std::string response(int timeout_ms = 5000, bool head = false) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      size_t end = got_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        std::string header = got_.substr(0, end);
        for (auto& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (size_t at = header.find("\r\ncontent-length:"); at != std::string::npos && !head)
          length = std::stoul(header.substr(at + 17));
        if (got_.size() >= end + 4 + length) {
          std::string one = got_.substr(0, end + 4 + length);
          got_.erase(0, end + 4 + length);
          return one;
        }
      }
      if (!fill(deadline)) return "";
    }
  }

  // Waits for the server to close the connection (reading and dropping what
  // it sends); false if it is still open after TIMEOUT_MS.
  bool closed_by_peer(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (fill(deadline)) {
    }
    return eof_;
  }

  const std::string& buffered() const { return got_; }

 private:
  // One read before DEADLINE; false at end of stream, on error or at the deadline.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;  // closed, or reset
      return false;
    }
    got_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string got_;
  bool eof_ = false;
};

// The status code of a raw response ("HTTP/1.1 431 ..." -> 431), 0 if none.
inline int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

inline std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// A complete GET, as curl sends it.
inline std::string get(const std::string& path, bool keep_alive = true) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\nUser-Agent: raw\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

// True if the machine can listen on and connect to ::1.
inline bool has_ipv6_loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace weir::testing
