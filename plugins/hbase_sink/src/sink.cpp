#include "sink.hpp"

#include "hex_split.hpp"

#include <algorithm>

namespace weir::hbase {

HBaseSink::HBaseSink(Context ctx, const Params& p)
    : ctx_(ctx),
      table_(p.str("table")),
      connections_(static_cast<int>(p.integer("connections"))),
      batch_size_(static_cast<size_t>(std::max<int64_t>(1, p.integer("batch_size")))),
      create_table_(p.boolean("create_table")),
      regions_(p.integer("regions")) {
  try {
    client_options_.endpoint = parse_endpoint(p.str("endpoint"));
    client_options_.transport = parse_transport(p.str("transport"));
    client_options_.protocol = parse_protocol(p.str("protocol"));
    mapping_spec_.row_key = p.str("row_key");
    mapping_spec_.family = p.str("column_family");
    mapping_spec_.columns = p.list("columns");
    std::string missing = p.str("missing_columns");
    if (missing != "skip" && missing != "reject")
      throw std::invalid_argument("missing_columns must be \"skip\" or \"reject\", not \"" + missing + "\"");
    mapping_spec_.reject_missing_columns = missing == "reject";
    mapping_spec_.timestamp_field = p.str("timestamp_field");
    mapping_spec_.timestamp_format = p.str("timestamp_format");
    mapper_ = std::make_unique<RowMapper>(mapping_spec_);
    if (create_table_) hex_split_keys(regions_);  // validates regions
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  if (table_.empty()) throw ConfigError("table must not be empty");
  if (p.integer("batch_size") < 1) throw ConfigError("batch_size must be >= 1");
  if (connections_ < 1 || connections_ > 64) throw ConfigError("connections must be 1..64");
  client_options_.connect_timeout_ms = static_cast<int>(p.integer("connect_timeout_ms"));
  client_options_.timeout_ms = static_cast<int>(p.integer("timeout_ms"));
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

std::unique_ptr<SinkRequest> HBaseSink::encode(Batch in) {
  auto puts = std::make_unique<Puts>();
  if (convert(in, puts->chunks) == 0) return nullptr;  // only rejects: nothing to put
  return puts;
}

weir_status HBaseSink::send(SinkRequest& request, std::string& reason) {
  PutFailure f;
  if (ensure_table(f) && pool_->put_all(table_, static_cast<Puts&>(request).chunks, f)) return WEIR_OK;
  // An error HBase itself reports (a missing table or family ...) rarely heals
  // alone, but an operator may mend it: retried like an outage, said plainly.
  reason = f.transport ? f.message : "HBase refused the puts: " + f.message;
  return WEIR_RETRY;
}

}  // namespace weir::hbase
