// redis_sink's logic: render each record's commands from the templates into
// a request (encode, once per batch), send a request's commands pipelined
// (chunks of pipeline_max), read every reply, and report the request stored
// only when Redis has answered all of them. Gathering, retries and their
// backoff are the host's (weir::Sink, <weir/delivery.hpp>).
//
// Outcome of a request, by what happened:
//   every reply read                 -> WEIR_OK; records with an error reply (WRONGTYPE..)
//                                       are refused (reject_sent), those with a missing
//                                       field were rejected at encode
//   transport error / timeout         -> drop the connection, WEIR_RETRY
//   READONLY, LOADING, BUSY, OOM,     -> the same: the server (not the record) is the
//   MASTERDOWN, TRYAGAIN, NOAUTH..       problem; READONLY re-resolves the master
//   WAIT got fewer replicas than asked -> WEIR_RETRY
#pragma once

#include <string>
#include <utility>
#include <vector>
#include <weir/sdk.hpp>

#include "command_template.hpp"
#include "connection.hpp"

namespace weir::redis {

// The commands of one request in Redis' wire form, sent again as they are.
struct Commands : SinkRequest {
  std::string resp;                                // every command, formatted
  std::vector<size_t> ends;                        // where command k ends in resp
  std::vector<std::pair<uint32_t, uint32_t>> who;  // command k: record index, template index
};

class RedisSink : public Sink {
 public:
  RedisSink(Context ctx, const Params& p);

  weir_status open() override;
  weir_status close() override;
  std::unique_ptr<SinkRequest> encode(Batch in) override;
  weir_status send(SinkRequest& request, std::string& reason) override;

  const std::vector<CommandTemplate>& templates() const { return templates_; }

 private:
  // Connects if needed. False: REASON says why (the caller returns WEIR_RETRY,
  // or WEIR_FAILED when failed_ is set: the templates do not fit this server).
  bool ensure_connected(std::string& reason);
  // The server is unusable for now: REASON = WHY, optionally drop the connection.
  weir_status trouble(std::string why, bool drop, std::string& reason);
  std::string check_commands();
  // Sends commands [FROM, TO) of R and reads their replies; refused records go to reject_sent.
  weir_status send_chunk(const Commands& r, size_t from, size_t to, std::string& reason);
  weir_status wait_for_replicas(std::string& reason);
  // Server-side conditions that are not the record's fault.
  static bool transient(std::string_view error, bool& drop);

  Context ctx_;
  std::vector<CommandTemplate> templates_;
  Connection conn_;
  int64_t pipeline_max_, wait_replicas_, wait_timeout_ms_;
  bool checked_ = false, failed_ = false;

  // Per-batch scratch, reused.
  std::vector<Argv> argv_;  // one per template
  std::vector<const char*> ptrs_;
  std::vector<size_t> lens_;
};

}  // namespace weir::redis
