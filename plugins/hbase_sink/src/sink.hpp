// hbase_sink's logic: records -> TPuts (row_mapper) -> putMultiple over the
// connection pool, acknowledged only once HBase took them. Gathering, retries
// and their backoff are the host's (weir::Sink, <weir/delivery.hpp>).
#pragma once

#include "connection_pool.hpp"
#include "row_mapper.hpp"

#include <weir/sdk.hpp>

#include <memory>
#include <string>
#include <vector>

namespace weir::hbase {

// The puts of one request, sent again as they are after a failure.
struct Puts : SinkRequest {
  PutChunks chunks;
};

class HBaseSink : public Sink {
 public:
  HBaseSink(Context ctx, const Params& p);
  ~HBaseSink() override;

  weir_status open() override;
  weir_status close() override;
  std::unique_ptr<SinkRequest> encode(Batch in) override;
  weir_status send(SinkRequest& request, std::string& reason) override;

 private:
  // Converts in's records into chunks (rejecting those that cannot become rows).
  size_t convert(Batch in, PutChunks& chunks);
  // Table check/creation once per process; false (with failure) if not ready.
  bool ensure_table(PutFailure& failure);

  Context ctx_;
  std::string table_;
  MappingSpec mapping_spec_;
  std::unique_ptr<RowMapper> mapper_;
  ClientOptions client_options_;
  int connections_;
  size_t batch_size_;
  bool create_table_;
  int64_t regions_;

  std::unique_ptr<ConnectionPool> pool_;
  bool table_ready_ = false;
  std::string reason_;  // scratch
};

}  // namespace weir::hbase
