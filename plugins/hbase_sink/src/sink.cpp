#include "sink.hpp"

#include "hex_split.hpp"

#include <algorithm>
#include <thread>

namespace weir::hbase {

HBaseSink::HBaseSink(Context ctx, const Params& p)
    : ctx_(ctx),
      table_(p.str("table")),
      connections_(static_cast<int>(p.integer("connections", 1))),
      batch_size_(static_cast<size_t>(std::max<int64_t>(1, p.integer("batch_size", 1000)))),
      linger_ms_(p.integer("linger_ms")),
      backoff_ms_(p.integer("retry_backoff_ms", 100)),
      backoff_max_ms_(p.integer("retry_backoff_max_ms", 10000)),
      create_table_(p.boolean("create_table")),
      regions_(p.integer("regions", 1)) {
  try {
    client_options_.endpoint = parse_endpoint(p.str("endpoint"));
    client_options_.transport = parse_transport(p.str("transport", "buffered"));
    client_options_.protocol = parse_protocol(p.str("protocol", "binary"));
    mapping_spec_.row_key = p.str("row_key");
    mapping_spec_.family = p.str("column_family");
    mapping_spec_.columns = p.list("columns");
    std::string missing = p.str("missing_columns", "skip");
    if (missing != "skip" && missing != "reject")
      throw std::invalid_argument("missing_columns must be \"skip\" or \"reject\", not \"" + missing + "\"");
    mapping_spec_.reject_missing_columns = missing == "reject";
    mapping_spec_.timestamp_field = p.str("timestamp_field", "_time");
    mapping_spec_.timestamp_format = p.str("timestamp_format");
    mapper_ = std::make_unique<RowMapper>(mapping_spec_);
    if (create_table_) hex_split_keys(regions_);  // validates regions
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  if (table_.empty()) throw ConfigError("table must not be empty");
  if (p.integer("batch_size", 1000) < 1) throw ConfigError("batch_size must be >= 1");
  if (connections_ < 1 || connections_ > 64) throw ConfigError("connections must be 1..64");
  if (linger_ms_ < 0) throw ConfigError("linger_ms must be >= 0");
  if (backoff_ms_ < 1 || backoff_max_ms_ < backoff_ms_) throw ConfigError("need 1 <= retry_backoff_ms <= retry_backoff_max_ms");
  client_options_.connect_timeout_ms = static_cast<int>(p.integer("connect_timeout_ms", 5000));
  client_options_.timeout_ms = static_cast<int>(p.integer("timeout_ms", 60000));
  if (client_options_.connect_timeout_ms < 1 || client_options_.timeout_ms < 1)
    throw ConfigError("connect_timeout_ms and timeout_ms must be >= 1");
  if (!create_table_ && regions_ != 1) throw ConfigError("regions only applies with create_table = true");
  if (mapping_spec_.timestamp_field.empty())
    ctx_.warn("timestamp_field is empty: HBase stamps cells with its clock, so a redelivered record adds a version "
              "instead of overwriting the same cell (puts are not idempotent)");
}

HBaseSink::~HBaseSink() = default;

weir_status HBaseSink::open() {
  pool_ = std::make_unique<ConnectionPool>(client_options_, connections_);
  if (linger_ms_ > 0) ctx_.set_timer(std::clamp<int64_t>(linger_ms_ / 2, 1, 50));
  // Check the table now if HBase is up, so a wrong table name fails at once;
  // if it is down, start anyway and keep retrying in write().
  PutFailure f;
  try {
    pool_->primary().connect();
  } catch (const TransportError& e) {
    ctx_.warn(std::string(e.what()) + "; will keep retrying when records arrive");
    return WEIR_OK;
  }
  if (!ensure_table(f)) {
    if (f.transport) {
      ctx_.warn(f.message + "; will keep retrying when records arrive");
      return WEIR_OK;
    }
    ctx_.error_log(f.message);
    return WEIR_FAILED;
  }
  ctx_.info("connected to " + client_options_.endpoint.str() + ", table " + table_);
  return WEIR_OK;
}

weir_status HBaseSink::close() {
  if (!pending_batches_.empty())
    ctx_.warn(std::to_string(pending_records_) + " buffered records were not written; they stay unacknowledged "
              "(not committed) and are delivered again on the next run");
  if (pool_) pool_->close_all();
  return WEIR_OK;
}

bool HBaseSink::ensure_table(PutFailure& failure) {
  if (table_ready_) return true;
  Client& c = pool_->primary();
  bool exists = false;
  try {
    exists = c.table_exists(table_);
  } catch (const TransportError& e) {
    failure = {e.what(), true};
    return false;
  } catch (const ServerError& e) {
    // HBase answered but could not look (e.g. its ZooKeeper session is being
    // re-established after a stall): the server is unavailable, not the table wrong.
    failure = {e.what(), true};
    return false;
  }
  try {
    if (!exists) {
      if (!create_table_) {
        failure = {"table '" + table_ + "' does not exist (create it, or set create_table = true)", false};
        return false;
      }
      try {
        c.create_table(table_, {mapping_spec_.family}, hex_split_keys(regions_));
        ctx_.info("created table " + table_ + " (family " + mapping_spec_.family + ", " + std::to_string(regions_) +
                  " region(s), hex-string split)");
      } catch (const ServerError&) {
        // Another writer may have created it meanwhile.
        if (!c.table_exists(table_)) throw;
      }
    }
  } catch (const TransportError& e) {
    failure = {e.what(), true};
    return false;
  } catch (const ServerError& e) {
    failure = {e.what(), false};
    return false;
  }
  table_ready_ = true;
  return true;
}

size_t HBaseSink::convert(Batch in, PutChunks& chunks) {
  size_t n = 0;
  if (chunks.empty() || chunks.back().size() >= batch_size_) chunks.emplace_back().reserve(std::min<size_t>(batch_size_, in.size()));
  for (Record r : in) {
    auto& chunk = chunks.back();
    t2::TPut& put = chunk.emplace_back();
    if (!mapper_->map(r, put, reason_)) {
      chunk.pop_back();
      ctx_.reject(r, reason_);
      continue;
    }
    ++n;
    if (chunk.size() >= batch_size_) chunks.emplace_back().reserve(batch_size_);
  }
  while (!chunks.empty() && chunks.back().empty()) chunks.pop_back();
  return n;
}

void HBaseSink::wait_backoff() {
  while (failures_ > 0 && !ctx_.stopping()) {
    auto now = Clock::now();
    if (now >= next_attempt_) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(next_attempt_ - now, std::chrono::milliseconds(50)));
  }
}

void HBaseSink::note_failure(const PutFailure& f) {
  if (failures_ == 0) failing_since_ = Clock::now();
  ++failures_;
  int64_t delay = backoff_ms_;
  for (uint64_t i = 1; i < failures_ && delay < backoff_max_ms_; ++i) delay *= 2;
  delay = std::min(delay, backoff_max_ms_);
  next_attempt_ = Clock::now() + std::chrono::milliseconds(delay);
  ctx_.gauge("hbase_consecutive_failures", "", static_cast<double>(failures_));
  if (failures_ == 1 || failures_ % 10 == 0) {
    std::string msg = f.message + " (attempt " + std::to_string(failures_) + ", next in " + std::to_string(delay) +
                      " ms; records wait, nothing is dropped)";
    // An error HBase itself reports (missing table or family, ...) rarely heals alone.
    if (!f.transport && failures_ == 1) ctx_.error_log(msg);
    else ctx_.warn(msg);
  }
}

void HBaseSink::note_success() {
  if (failures_ > 0) {
    auto secs = std::chrono::duration<double>(Clock::now() - failing_since_).count();
    ctx_.info("HBase writes resumed after " + std::to_string(failures_) + " failed attempt(s) over " +
              std::to_string(static_cast<int64_t>(secs * 1000)) + " ms");
    failures_ = 0;
    ctx_.gauge("hbase_consecutive_failures", "", 0);
  }
}

bool HBaseSink::attempt(const PutChunks& chunks) {
  wait_backoff();
  PutFailure f;
  if (!ensure_table(f) || !pool_->put_all(table_, chunks, f)) {
    note_failure(f);
    return false;
  }
  note_success();
  return true;
}

weir_status HBaseSink::write(Batch in) {
  if (linger_ms_ > 0) {
    size_t before = pending_records_;
    pending_records_ += convert(in, pending_chunks_);
    if (pending_records_ == before) return WEIR_OK;  // only rejects: nothing to wait for
    if (pending_batches_.empty()) pending_since_ = Clock::now();
    pending_batches_.push_back(in.raw());
    if (pending_records_ >= batch_size_ && (failures_ == 0 || Clock::now() >= next_attempt_)) flush_pending();
    return WEIR_PENDING;
  }
  // The runtime hands a batch back after WEIR_RETRY: reuse its puts.
  PutChunks chunks;
  if (in.raw() == retry_batch_) {
    chunks = std::move(retry_chunks_);
  } else {
    retry_batch_ = nullptr;
    retry_chunks_.clear();
    if (convert(in, chunks) == 0) return WEIR_OK;
  }
  if (attempt(chunks)) {
    retry_batch_ = nullptr;
    return WEIR_OK;
  }
  retry_batch_ = in.raw();
  retry_chunks_ = std::move(chunks);
  return WEIR_RETRY;
}

bool HBaseSink::flush_pending() {
  if (pending_batches_.empty()) return true;
  if (!attempt(pending_chunks_)) return false;
  for (const weir_batch* b : pending_batches_) ctx_.ack(Batch(b), true);
  pending_batches_.clear();
  pending_chunks_.clear();
  pending_records_ = 0;
  return true;
}

weir_status HBaseSink::on_timer(int64_t) {
  if (pending_batches_.empty()) return WEIR_OK;
  auto now = Clock::now();
  bool due = now - pending_since_ >= std::chrono::milliseconds(linger_ms_) || pending_records_ >= batch_size_;
  if (due && (failures_ == 0 || now >= next_attempt_)) flush_pending();
  return WEIR_OK;
}

weir_status HBaseSink::flush() {
  // Shutdown: a bounded number of tries; what stays unwritten stays unacknowledged.
  for (int i = 0; i < 5 && !pending_batches_.empty(); ++i) flush_pending();
  return WEIR_OK;
}

}  // namespace weir::hbase
