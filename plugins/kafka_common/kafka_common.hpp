// Shared by kafka_source and kafka_sink: building a librdkafka configuration
// from the plugin's parameters and routing librdkafka's logs to the host.
#pragma once

#include <weir/sdk.hpp>

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weir::kafka {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// A librdkafka property that a plugin parameter owns: setting it in the
// `rdkafka` table is refused with a pointer to the parameter (or the reason).
struct Reserved {
  const char* property;
  const char* use_instead;
};

// Checks the user's `rdkafka` table against the reserved properties, then
// builds a configuration: `defaults` first (the user may override them), then
// the user's table, then `forced` (the plugin's own settings). Every rejected
// property or value is collected; throws ConfigError listing them all.
ConfPtr build_conf(const Settings& defaults, const Settings& user, const Settings& forced,
                   const std::vector<Reserved>& reserved);

// Sends librdkafka's log lines to the host log, prefixed "rdkafka: ". Set
// before rd_kafka_new; librdkafka then queues them (log.queue) for the thread
// that polls, after rd_kafka_set_log_queue(rk, nullptr) — never from librdkafka's own threads.
void route_logs(rd_kafka_conf_t* conf);

// What both plugins give rd_kafka_conf_set_opaque: the host context (for the
// log callback) and the plugin itself (for the other callbacks).
struct Opaque {
  weir::Context ctx;
  void* self;
};

// The same librdkafka error (by code) at most every 10 s in the log: a broker
// that is down reports it on every reconnect. Thread-safe (librdkafka's
// callbacks and the node's thread both log).
class WarnLimiter {
 public:
  void warn(const weir::Context& ctx, int code, const std::string& message);

 private:
  std::mutex mu_;
  std::map<int, int64_t> last_ms_;
};

}  // namespace weir::kafka
