// hbase_sink's logic: records -> TPuts (row_mapper) -> putMultiple over the
// connection pool, acknowledged only once HBase took them.
#pragma once

#include "connection_pool.hpp"
#include "row_mapper.hpp"

#include <weir/sdk.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace weir::hbase {

class HBaseSink : public Plugin {
 public:
  HBaseSink(Context ctx, const Params& p);
  ~HBaseSink() override;

  weir_status open() override;
  weir_status close() override;
  weir_status write(Batch in) override;
  weir_status on_timer(int64_t now_ns) override;
  weir_status flush() override;

 private:
  using Clock = std::chrono::steady_clock;

  // Converts in's records into chunks (rejecting those that cannot become rows).
  size_t convert(Batch in, PutChunks& chunks);
  // Table check/creation once per process; false (with failure) if not ready.
  bool ensure_table(PutFailure& failure);
  // One attempt at writing chunks: waits out the backoff first.
  bool attempt(const PutChunks& chunks);
  void note_failure(const PutFailure& f);
  void note_success();
  void wait_backoff();
  // Linger mode: write the buffered batches and acknowledge them.
  bool flush_pending();

  Context ctx_;
  std::string table_;
  MappingSpec mapping_spec_;
  std::unique_ptr<RowMapper> mapper_;
  ClientOptions client_options_;
  int connections_;
  size_t batch_size_;
  int64_t linger_ms_;
  int64_t backoff_ms_, backoff_max_ms_;
  bool create_table_;
  int64_t regions_;

  std::unique_ptr<ConnectionPool> pool_;
  bool table_ready_ = false;
  std::string reason_;  // scratch

  // Retry state: the batch the runtime will hand back after WEIR_RETRY, and
  // its converted puts (so its rejects are not reported twice).
  const weir_batch* retry_batch_ = nullptr;
  PutChunks retry_chunks_;

  // Linger mode: batches accepted with WEIR_PENDING, not yet written.
  std::vector<const weir_batch*> pending_batches_;
  PutChunks pending_chunks_;
  size_t pending_records_ = 0;
  Clock::time_point pending_since_;

  // Failures in a row, and when the next attempt may start.
  uint64_t failures_ = 0;
  Clock::time_point failing_since_, next_attempt_;
};

}  // namespace weir::hbase
