// redis_sink's logic: render each record's commands from the templates, send a
// batch's commands pipelined (chunks of pipeline_max), read every reply, and
// acknowledge the batch only when Redis has answered all of them.
//
// Outcome of a batch, by what happened:
//   every reply read                 -> WEIR_OK; records with an error reply (WRONGTYPE..)
//                                       or a missing field go to the error port
//   transport error / timeout         -> drop the connection, WEIR_RETRY (the host
//                                       retries the whole batch with backoff)
//   READONLY, LOADING, BUSY, OOM,     -> the same: the server (not the record) is the
//   MASTERDOWN, TRYAGAIN, NOAUTH..       problem; READONLY re-resolves the master
//   WAIT got fewer replicas than asked -> WEIR_RETRY
// Records are rejected only when the batch returns WEIR_OK, so a retried batch
// never sends a record to the error port twice.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>
#include <weir/sdk.hpp>

#include "command_template.hpp"
#include "connection.hpp"

namespace weir::redis {

class RedisSink : public Plugin {
 public:
  RedisSink(Context ctx, const Params& p);

  weir_status open() override;
  weir_status close() override;
  weir_status write(Batch in) override;

  const std::vector<CommandTemplate>& templates() const { return templates_; }

 private:
  enum class Health { Up, Down };
  // Connects if needed. False: log done, the caller returns WEIR_RETRY (or
  // WEIR_FAILED when failed_ is set: the templates do not fit this server).
  bool ensure_connected();
  // The server is unusable for now: log (throttled), optionally drop the connection.
  void trouble(const std::string& why, weir_log_level level, bool drop);
  void healthy();
  std::string check_commands();
  bool send_pending();
  // Reads the replies of the commands appended so far. False: retry the batch.
  bool read_replies();
  // Server-side conditions that are not the record's fault.
  static bool transient(std::string_view error, weir_log_level& level, bool& drop);

  Context ctx_;
  std::vector<CommandTemplate> templates_;
  Connection conn_;
  int64_t pipeline_max_, wait_replicas_, wait_timeout_ms_;
  bool checked_ = false, failed_ = false;

  // Outage bookkeeping, for log lines that say how long and how often.
  bool in_trouble_ = false;
  std::chrono::steady_clock::time_point trouble_since_, trouble_logged_;
  int64_t trouble_count_ = 0;
  // Reconnect backoff of our own: the host's retry backoff is cut short
  // whenever new input arrives, and a recovering server should not be stormed.
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::milliseconds connect_backoff_{0};

  // Per-batch scratch, reused.
  std::vector<Argv> argv_;  // one per template
  std::vector<const char*> ptrs_;
  std::vector<size_t> lens_;
  std::vector<std::pair<uint32_t, uint32_t>> sent_;        // per pending command: record, template
  std::vector<std::pair<uint32_t, std::string>> rejects_;  // record index, reason
};

}  // namespace weir::redis
