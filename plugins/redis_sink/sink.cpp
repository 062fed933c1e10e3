#include "sink.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <hiredis/sds.h>
#include <map>
#include <stdexcept>

namespace weir::redis {

namespace {

// Encoded commands beyond this go to the socket before the batch is complete.
constexpr size_t kEagerWriteBytes = 16 * 1024;

ConnectionOptions connection_options(const Params& p) {
  ConnectionOptions o;
  try {
    o.endpoint = parse_endpoint(p.str("endpoint", "127.0.0.1:6379"));
    for (const std::string& s : p.list("sentinels")) o.sentinels.push_back(parse_endpoint(s, 26379));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  o.master_name = p.str("master_name");
  o.username = p.str("username");
  o.password = p.str("password");
  o.sentinel_password = p.str("sentinel_password");
  o.database = p.integer("database");
  o.connect_timeout_ms = p.integer("connect_timeout_ms", 2000);
  o.command_timeout_ms = p.integer("command_timeout_ms", 5000);
  if (!o.sentinels.empty() && o.master_name.empty())
    throw ConfigError("sentinels are given but master_name is empty: name the master the sentinels monitor");
  if (o.sentinels.empty() && !o.master_name.empty())
    throw ConfigError("master_name is set but sentinels is empty: give the sentinels' addresses");
  if (!o.username.empty() && o.password.empty())
    throw ConfigError("username needs a password (AUTH username password)");
  if (o.database < 0) throw ConfigError("database must be >= 0");
  if (o.connect_timeout_ms <= 0) throw ConfigError("connect_timeout_ms must be > 0");
  if (o.command_timeout_ms < 0) throw ConfigError("command_timeout_ms must be >= 0 (0 = no timeout)");
  return o;
}

std::string seconds_since(std::chrono::steady_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

RedisSink::RedisSink(Context ctx, const Params& p)
    : ctx_(ctx),
      conn_(connection_options(p)),
      pipeline_max_(p.integer("pipeline_max", 4096)),
      wait_replicas_(p.integer("wait_replicas")),
      wait_timeout_ms_(p.integer("wait_timeout_ms", 1000)) {
  int64_t ttl = p.integer("ttl_s", 604800);
  if (ttl <= 0) throw ConfigError("ttl_s must be > 0");
  if (pipeline_max_ <= 0) throw ConfigError("pipeline_max must be > 0");
  if (wait_replicas_ < 0) throw ConfigError("wait_replicas must be >= 0");
  if (wait_timeout_ms_ <= 0) throw ConfigError("wait_timeout_ms must be > 0");
  int64_t cmd_timeout = conn_.options().command_timeout_ms;
  if (wait_replicas_ > 0 && cmd_timeout > 0 && cmd_timeout <= wait_timeout_ms_)
    throw ConfigError("command_timeout_ms (" + std::to_string(cmd_timeout) + ") must be longer than wait_timeout_ms (" +
                      std::to_string(wait_timeout_ms_) + "), or WAIT always times out");

  std::map<std::string, std::string> vars;
  for (auto& [name, value] : p.table("vars")) {
    if (name.empty() || name[0] == '_')
      throw ConfigError("vars." + name + ": names starting with '_' are reserved for record metadata ({_key}, ..)");
    if (name == "ttl_s") throw ConfigError("vars.ttl_s: set the ttl_s parameter instead");
    if (name.find_first_of(":{} \t\"") != std::string::npos)
      throw ConfigError("vars." + name + ": a name cannot contain ':', braces, quotes or spaces");
    vars[name] = value;
  }
  vars["ttl_s"] = std::to_string(ttl);

  std::vector<std::string> commands = p.list("commands");
  if (commands.empty())
    throw ConfigError("commands is empty: give at least one command template, e.g. \"SADD {key} {value}\"");
  std::string errors;
  for (size_t i = 0; i < commands.size(); ++i) {
    try {
      templates_.push_back(CommandTemplate::parse(commands[i], vars));
    } catch (const std::invalid_argument& e) {
      // All template errors at once, like the host's own validation.
      errors += (errors.empty() ? "" : "; ") + ("commands[" + std::to_string(i) + "]: " + e.what());
    }
  }
  if (!errors.empty()) throw ConfigError(errors);
  argv_.resize(templates_.size());
}

weir_status RedisSink::open() {
  // A server that is down now may be up by the first batch: only the
  // templates not fitting a reachable server stop the pipeline here.
  if (!ensure_connected()) return failed_ ? WEIR_FAILED : WEIR_OK;
  return WEIR_OK;
}

weir_status RedisSink::close() {
  conn_.drop();
  return WEIR_OK;
}

void RedisSink::trouble(const std::string& why, weir_log_level level, bool drop) {
  if (drop) {
    conn_.drop();
    ctx_.gauge("redis_connected", "", 0);
  }
  auto now = std::chrono::steady_clock::now();
  if (!in_trouble_) {
    in_trouble_ = true;
    trouble_since_ = trouble_logged_ = now;
    trouble_count_ = 1;
    ctx_.log(level, why + "; retrying (records stay unacknowledged until Redis has them)");
    return;
  }
  ++trouble_count_;
  // The first failure and then one line per 30 s; every attempt at debug level.
  if (now - trouble_logged_ < std::chrono::seconds(30)) {
    ctx_.debug("attempt " + std::to_string(trouble_count_) + ": " + why);
  } else {
    trouble_logged_ = now;
    ctx_.log(level, "still failing after " + std::to_string(trouble_count_) + " attempts in " +
                        seconds_since(trouble_since_) + ": " + why);
  }
}

void RedisSink::healthy() {
  if (!in_trouble_) return;
  in_trouble_ = false;
  ctx_.info("writing to " + conn_.describe() + " again after " + std::to_string(trouble_count_) +
            " failed attempts in " + seconds_since(trouble_since_));
}

bool RedisSink::ensure_connected() {
  if (failed_) return false;
  if (conn_.connected()) return true;
  auto now = std::chrono::steady_clock::now();
  if (now < next_connect_) return false;  // still backing off: no I/O, the batch is retried
  if (std::string why = conn_.connect(); !why.empty()) {
    bool auth = why.find("AUTH") != std::string::npos || why.find("WRONGPASS") != std::string::npos;
    trouble(why, auth ? WEIR_LOG_ERROR : WEIR_LOG_WARN, false);
    // 50 ms doubling to 1 s between connection attempts.
    connect_backoff_ =
        std::min(std::max(connect_backoff_ * 2, std::chrono::milliseconds(50)), std::chrono::milliseconds(1000));
    next_connect_ = now + connect_backoff_;
    return false;
  }
  connect_backoff_ = std::chrono::milliseconds(0);
  ctx_.gauge("redis_connected", "", 1);
  if (!in_trouble_) ctx_.info("connected to " + conn_.describe());
  if (!checked_) {
    std::string problems = check_commands();
    if (!conn_.connected()) return false;  // lost while checking: try again later
    checked_ = true;
    if (!problems.empty()) {
      ctx_.error_log(problems);
      failed_ = true;
      conn_.drop();
      return false;
    }
  }
  return true;
}

// Asks the server whether it knows each command and whether the template has
// an argument count it accepts (the count is fixed: values never split).
std::string RedisSink::check_commands() {
  std::vector<std::string> argv = {"COMMAND", "INFO"};
  std::vector<size_t> checked;  // template index per name asked
  for (size_t i = 0; i < templates_.size(); ++i)
    if (templates_[i].literal_name()) {
      argv.push_back(templates_[i].name());
      checked.push_back(i);
    }
  if (checked.empty()) return "";
  Reply r = conn_.command(argv);
  if (!r) return "";
  if (r->type != REDIS_REPLY_ARRAY || r->elements != checked.size()) {
    ctx_.debug("COMMAND INFO unavailable (" + reply_text(r.get()) + "); templates not checked against the server");
    return "";
  }
  std::string problems;
  for (size_t k = 0; k < checked.size(); ++k) {
    size_t i = checked[k];
    const auto& t = templates_[i];
    const redisReply* info = r->element[k];
    std::string where = "commands[" + std::to_string(i) + "] \"" + t.text() + "\": ";
    std::string msg;
    if (info->type == REDIS_REPLY_NIL) {
      msg = "Redis does not know the command '" + t.name() + "'";
    } else if (info->type == REDIS_REPLY_ARRAY && info->elements >= 2 &&
               info->element[1]->type == REDIS_REPLY_INTEGER) {
      long long arity = info->element[1]->integer;
      auto argc = static_cast<long long>(t.argc());
      if (arity > 0 && argc != arity)
        msg = t.name() + " takes exactly " + std::to_string(arity - 1) + " arguments, the template gives " +
              std::to_string(argc - 1);
      else if (arity < 0 && argc < -arity)
        msg = t.name() + " takes at least " + std::to_string(-arity - 1) + " arguments, the template gives " +
              std::to_string(argc - 1);
    }
    if (!msg.empty()) problems += (problems.empty() ? "" : "; ") + where + msg;
  }
  return problems;
}

bool RedisSink::transient(std::string_view error, weir_log_level& level, bool& drop) {
  auto code = error.substr(0, error.find(' '));
  level = WEIR_LOG_WARN;
  drop = true;  // replies may still be unread: a fresh connection is simplest
  if (code == "READONLY" || code == "LOADING" || code == "MASTERDOWN" || code == "BUSY" || code == "TRYAGAIN" ||
      code == "OOM" || code == "CLUSTERDOWN")
    return true;
  if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
    level = WEIR_LOG_ERROR;  // a person must fix the credentials or the ACL; nothing is dropped meanwhile
    return true;
  }
  return false;
}

// Hands what is encoded so far to the socket, so that Redis works on it while
// the rest of the batch is rendered (the replies are still read once, later).
bool RedisSink::send_pending() {
  redisContext* c = conn_.context();
  int done = 0;
  if (redisBufferWrite(c, &done) == REDIS_OK) return true;
  trouble(conn_.describe() + ": " + (c->errstr[0] ? c->errstr : "write failed"), WEIR_LOG_WARN, true);
  return false;
}

bool RedisSink::read_replies() {
  redisContext* c = conn_.context();
  for (size_t k = 0; k < sent_.size(); ++k) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
      std::string why = c->errstr[0] ? c->errstr : "connection lost";
      if (c->err == REDIS_ERR_IO && (why == std::strerror(EAGAIN) || why == std::strerror(EWOULDBLOCK)))
        why = "no reply within command_timeout_ms (" + std::to_string(conn_.options().command_timeout_ms) + " ms)";
      trouble(conn_.describe() + ": " + why + " (after " + std::to_string(k) + " of " + std::to_string(sent_.size()) +
                  " replies)",
              WEIR_LOG_WARN, true);
      return false;
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type != REDIS_REPLY_ERROR) continue;
    std::string text = reply_text(r.get());
    weir_log_level level;
    bool drop;
    if (transient(text, level, drop)) {
      trouble(conn_.describe() + " answered " + templates_[sent_[k].second].name() + " with: " + text, level, drop);
      return false;
    }
    auto [record, t] = sent_[k];
    if (!rejects_.empty() && rejects_.back().first == record) continue;  // keep a record's first error
    rejects_.emplace_back(record, "commands[" + std::to_string(t) + "] " + templates_[t].name() + ": " + text);
  }
  sent_.clear();
  return true;
}

weir_status RedisSink::write(Batch in) {
  rejects_.clear();
  sent_.clear();
  bool sent_any = false;
  std::string why;
  for (uint32_t i = 0; i < in.size(); ++i) {
    Record rec = in[i];
    bool ok = true;
    for (size_t t = 0; t < templates_.size() && ok; ++t) {
      argv_[t].clear();
      if (!templates_[t].render(rec, argv_[t], why)) {
        rejects_.emplace_back(i, "commands[" + std::to_string(t) + "] " + templates_[t].name() + ": " + why);
        ok = false;
      }
    }
    if (!ok) continue;
    // Connect on the first command only: a batch of rejects needs no server.
    if (!conn_.connected() && !ensure_connected()) {
      return failed_ ? WEIR_FAILED : WEIR_RETRY;
    }
    for (size_t t = 0; t < templates_.size(); ++t) {
      const Argv& a = argv_[t];
      ptrs_.clear();
      lens_.clear();
      for (size_t j = 0; j < a.size(); ++j) {
        ptrs_.push_back(a.bytes.data() + a.begin(j));
        lens_.push_back(a.ends[j] - a.begin(j));
      }
      if (redisAppendCommandArgv(conn_.context(), static_cast<int>(a.size()), ptrs_.data(), lens_.data()) != REDIS_OK)
        throw std::bad_alloc();  // hiredis fails an append only when out of memory
      sent_.emplace_back(i, static_cast<uint32_t>(t));
    }
    sent_any = true;
    if (static_cast<int64_t>(sent_.size()) >= pipeline_max_) {
      if (!read_replies()) return WEIR_RETRY;
    } else if (sdslen(conn_.context()->obuf) >= kEagerWriteBytes && !send_pending()) {
      return WEIR_RETRY;
    }
  }
  if (!sent_.empty() && !read_replies()) return WEIR_RETRY;

  if (wait_replicas_ > 0 && sent_any) {
    Reply r = conn_.command({"WAIT", std::to_string(wait_replicas_), std::to_string(wait_timeout_ms_)});
    if (!r) {
      trouble(conn_.describe() + ": WAIT: " + conn_.error(), WEIR_LOG_WARN, true);
      return WEIR_RETRY;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
      trouble(conn_.describe() + ": WAIT answered " + reply_text(r.get()), WEIR_LOG_WARN, true);
      return WEIR_RETRY;
    }
    if (r->integer < wait_replicas_) {
      // With sentinels, the replica may have just been promoted: ask them again.
      trouble(conn_.describe() + ": only " + std::to_string(r->integer) + " of " + std::to_string(wait_replicas_) +
                  " replicas acknowledged the batch within " + std::to_string(wait_timeout_ms_) + " ms",
              WEIR_LOG_WARN, !conn_.options().sentinels.empty());
      return WEIR_RETRY;
    }
  }
  if (sent_any) healthy();
  // In batch order (a render reject can be noted before an earlier record's error reply).
  std::stable_sort(rejects_.begin(), rejects_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [record, reason] : rejects_) ctx_.reject(in[record], reason);
  return WEIR_OK;
}

}  // namespace weir::redis
