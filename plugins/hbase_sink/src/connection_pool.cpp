#include "connection_pool.hpp"

namespace weir::hbase {

ConnectionPool::ConnectionPool(const ClientOptions& options, int connections) {
  for (int i = 0; i < std::max(1, connections); ++i) clients_.push_back(std::make_unique<Client>(options));
  for (size_t i = 1; i < clients_.size(); ++i) threads_.emplace_back([this, i] { worker(i); });
}

ConnectionPool::~ConnectionPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ConnectionPool::close_all() {
  for (auto& c : clients_) c->close();
}

void ConnectionPool::run_chunks(size_t index) {
  Client& client = *clients_[index];
  for (size_t k; !failed_.load(std::memory_order_relaxed) && (k = next_.fetch_add(1)) < chunks_->size();) {
    try {
      client.put_multiple(*table_, (*chunks_)[k]);
    } catch (const TransportError& e) {
      std::lock_guard lock(mu_);
      if (!failed_.exchange(true)) failure_ = {e.what(), true};
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      if (!failed_.exchange(true)) failure_ = {e.what(), false};
    }
  }
}

void ConnectionPool::worker(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_chunks(index);
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    done_.notify_all();
  }
}

bool ConnectionPool::put_all(const std::string& table, const PutChunks& chunks, PutFailure& failure) {
  if (chunks.empty()) return true;
  table_ = &table;
  chunks_ = &chunks;
  next_.store(0);
  failed_.store(false);
  size_t helpers = std::min(threads_.size(), chunks.size() - 1);
  if (helpers > 0) {
    {
      std::lock_guard lock(mu_);
      busy_ = threads_.size();
      ++generation_;
    }
    wake_.notify_all();
  }
  run_chunks(0);
  if (helpers > 0) {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return busy_ == 0; });
  }
  if (failed_.load()) {
    std::lock_guard lock(mu_);
    failure = failure_;
    return false;
  }
  return true;
}

}  // namespace weir::hbase
