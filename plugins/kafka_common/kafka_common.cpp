#include "kafka_common.hpp"

#include <chrono>

namespace weir::kafka {

ConfPtr build_conf(const Settings& defaults, const Settings& user, const Settings& forced,
                   const std::vector<Reserved>& reserved) {
  std::vector<std::string> errors;
  for (const auto& [key, value] : user)
    for (const Reserved& r : reserved)
      if (key == r.property) errors.push_back("rdkafka." + key + " cannot be set here: " + r.use_instead);

  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const Settings& settings, const char* origin) {
    for (const auto& [key, value] : settings) {
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
        errors.push_back(std::string(origin) + key + " = \"" + value + "\": " + err);
    }
  };
  set(defaults, "(default) ");
  set(user, "rdkafka.");
  set(forced, "");
  if (!errors.empty()) {
    std::string msg = errors.size() == 1 ? errors[0] : std::to_string(errors.size()) + " librdkafka settings refused:";
    if (errors.size() > 1)
      for (const auto& e : errors) msg += "\n  " + e;
    throw weir::ConfigError(msg);
  }
  return conf;
}

static void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* o = static_cast<Opaque*>(rd_kafka_opaque(rk));
  if (!o) return;
  // syslog levels: librdkafka's errors are usually transient (a broker went
  // away); data loss is reported by the plugins themselves, so cap at WARN.
  weir_log_level l = level <= 4 ? WEIR_LOG_WARN : level <= 6 ? WEIR_LOG_INFO : WEIR_LOG_DEBUG;
  o->ctx.log(l, std::string("rdkafka: ") + fac + ": " + buf);
}

void route_logs(rd_kafka_conf_t* conf) {
  char err[256];
  rd_kafka_conf_set(conf, "log.queue", "true", err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, log_cb);
}

void WarnLimiter::warn(const weir::Context& ctx, int code, const std::string& message) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = last_ms_.emplace(code, now);
    if (!fresh && now - it->second < 10'000) return;
    it->second = now;
  }
  ctx.warn(message);
}

}  // namespace weir::kafka
