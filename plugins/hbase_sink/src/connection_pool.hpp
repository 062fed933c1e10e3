// N Thrift2 connections writing the chunks of one batch in parallel. With one
// connection everything runs on the caller's thread; with more, N-1 helper
// threads (each owning a connection) take chunks alongside the caller.
// put_all() returns only when every chunk has been tried: true if all were
// written. A chunk that fails leaves its connection closed (if the transport
// broke) so the next call reconnects.
#pragma once

#include "client.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::hbase {

using PutChunks = std::vector<std::vector<t2::TPut>>;

struct PutFailure {
  std::string message;
  bool transport = false;  // connection problem (else HBase answered with an error)
};

class ConnectionPool {
 public:
  ConnectionPool(const ClientOptions& options, int connections);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  bool put_all(const std::string& table, const PutChunks& chunks, PutFailure& failure);
  // Connection 0, for admin calls on the caller's thread.
  Client& primary() { return *clients_[0]; }
  void close_all();

 private:
  void worker(size_t index);
  void run_chunks(size_t index);

  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  size_t busy_ = 0;
  bool stop_ = false;
  // The current job.
  const std::string* table_ = nullptr;
  const PutChunks* chunks_ = nullptr;
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};
  PutFailure failure_;  // first failure, under mu_
};

}  // namespace weir::hbase
