#include "sink.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <hiredis/sds.h>
#include <climits>
#include <map>
#include <stdexcept>

namespace weir::redis {

namespace {

// Encoded commands beyond this go to the socket before the batch is complete.
constexpr size_t kEagerWriteBytes = 16 * 1024;

ConnectionOptions connection_options(const Params& p) {
  ConnectionOptions o;
  try {
    o.endpoint = parse_endpoint(p.str("endpoint"));
    for (const std::string& s : p.list("sentinels")) o.sentinels.push_back(parse_endpoint(s, 26379));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  o.master_name = p.str("master_name");
  o.username = p.str("username");
  o.password = p.str("password");
  o.sentinel_password = p.str("sentinel_password");
  o.database = p.integer("database");
  o.connect_timeout_ms = p.integer("connect_timeout_ms");
  o.command_timeout_ms = p.integer("command_timeout_ms");
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

}  // namespace

RedisSink::RedisSink(Context ctx, const Params& p)
    : ctx_(ctx),
      conn_(connection_options(p)),
      pipeline_max_(p.integer("pipeline_max")),
      wait_replicas_(p.integer("wait_replicas")),
      wait_timeout_ms_(p.integer("wait_timeout_ms")) {
  int64_t ttl = p.integer("ttl_s");
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
  // A server that is down now may be up by the first request: only the
  // templates not fitting a reachable server stop the pipeline here.
  std::string why;
  if (!ensure_connected(why) && !failed_) ctx_.warn(why + "; will keep retrying when records arrive");
  return failed_ ? WEIR_FAILED : WEIR_OK;
}

weir_status RedisSink::close() {
  conn_.drop();
  return WEIR_OK;
}

weir_status RedisSink::trouble(std::string why, bool drop, std::string& reason) {
  if (drop) {
    conn_.drop();
    ctx_.gauge("redis_connected", "", 0);
  }
  reason = std::move(why);
  return WEIR_RETRY;
}

bool RedisSink::ensure_connected(std::string& reason) {
  if (failed_) return false;
  if (conn_.connected()) return true;
  if (std::string why = conn_.connect(); !why.empty()) {
    reason = why;
    return false;
  }
  ctx_.gauge("redis_connected", "", 1);
  ctx_.info("connected to " + conn_.describe());
  if (!checked_) {
    std::string problems = check_commands();
    if (!conn_.connected()) {  // lost while checking: try again later
      reason = conn_.describe() + ": connection lost while checking the commands";
      return false;
    }
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

bool RedisSink::transient(std::string_view error, bool& drop) {
  auto code = error.substr(0, error.find(' '));
  drop = true;  // replies may still be unread: a fresh connection is simplest
  // NOAUTH, WRONGPASS, NOPERM: a person must fix the credentials or the ACL;
  // nothing is dropped meanwhile.
  return code == "READONLY" || code == "LOADING" || code == "MASTERDOWN" || code == "BUSY" || code == "TRYAGAIN" ||
         code == "OOM" || code == "CLUSTERDOWN" || code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM";
}

std::unique_ptr<SinkRequest> RedisSink::encode(Batch in) {
  auto out = std::make_unique<Commands>();
  std::string why;
  for (uint32_t i = 0; i < in.size(); ++i) {
    Record rec = in[i];
    bool ok = true;
    for (size_t t = 0; t < templates_.size() && ok; ++t) {
      argv_[t].clear();
      if (!templates_[t].render(rec, argv_[t], why)) {
        ctx_.reject(rec, "commands[" + std::to_string(t) + "] " + templates_[t].name() + ": " + why);
        ok = false;
      }
    }
    if (!ok) continue;
    for (size_t t = 0; t < templates_.size(); ++t) {
      const Argv& a = argv_[t];
      ptrs_.clear();
      lens_.clear();
      for (size_t j = 0; j < a.size(); ++j) {
        ptrs_.push_back(a.bytes.data() + a.begin(j));
        lens_.push_back(a.ends[j] - a.begin(j));
      }
      char* cmd = nullptr;
      long long len = redisFormatCommandArgv(&cmd, static_cast<int>(a.size()), ptrs_.data(), lens_.data());
      if (len < 0) throw std::bad_alloc();  // hiredis fails a format only when out of memory
      out->resp.append(cmd, static_cast<size_t>(len));
      redisFreeCommand(cmd);
      out->ends.push_back(out->resp.size());
      out->who.emplace_back(i, static_cast<uint32_t>(t));
    }
  }
  if (out->who.empty()) return nullptr;  // only rejects: nothing to send, no server needed
  return out;
}

weir_status RedisSink::send_chunk(const Commands& r, size_t from, size_t to, std::string& reason) {
  redisContext* c = conn_.context();
  size_t begin = from == 0 ? 0 : r.ends[from - 1];
  // Handed to the socket in slices, so Redis works on the first commands
  // while the rest are still being written (the replies are read once, after).
  for (size_t at = begin; at < r.ends[to - 1];) {
    size_t len = std::min(kEagerWriteBytes, r.ends[to - 1] - at);
    if (redisAppendFormattedCommand(c, r.resp.data() + at, len) != REDIS_OK) throw std::bad_alloc();
    at += len;
    int done = 0;
    if (at < r.ends[to - 1] && redisBufferWrite(c, &done) != REDIS_OK)
      return trouble(conn_.describe() + ": " + (c->errstr[0] ? c->errstr : "write failed"), true, reason);
  }
  uint32_t last_refused = UINT32_MAX;
  for (size_t k = from; k < to; ++k) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
      std::string why = c->errstr[0] ? c->errstr : "connection lost";
      if (c->err == REDIS_ERR_IO && (why == std::strerror(EAGAIN) || why == std::strerror(EWOULDBLOCK)))
        why = "no reply within command_timeout_ms (" + std::to_string(conn_.options().command_timeout_ms) + " ms)";
      return trouble(conn_.describe() + ": " + why + " (after " + std::to_string(k - from) + " of " +
                         std::to_string(to - from) + " replies)",
                     true, reason);
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply->type != REDIS_REPLY_ERROR) continue;
    std::string text = reply_text(reply.get());
    auto [record, t] = r.who[k];
    bool drop;
    if (transient(text, drop))
      return trouble(conn_.describe() + " answered " + templates_[t].name() + " with: " + text, drop, reason);
    if (record == last_refused) continue;  // keep a record's first error
    last_refused = record;
    ctx_.reject_sent(r, record, "commands[" + std::to_string(t) + "] " + templates_[t].name() + ": " + text);
  }
  return WEIR_OK;
}

weir_status RedisSink::wait_for_replicas(std::string& reason) {
  Reply r = conn_.command({"WAIT", std::to_string(wait_replicas_), std::to_string(wait_timeout_ms_)});
  if (!r) return trouble(conn_.describe() + ": WAIT: " + conn_.error(), true, reason);
  if (r->type != REDIS_REPLY_INTEGER) return trouble(conn_.describe() + ": WAIT answered " + reply_text(r.get()), true, reason);
  if (r->integer < wait_replicas_)
    // With sentinels, the replica may have just been promoted: ask them again.
    return trouble(conn_.describe() + ": only " + std::to_string(r->integer) + " of " + std::to_string(wait_replicas_) +
                       " replicas acknowledged the commands within " + std::to_string(wait_timeout_ms_) + " ms",
                   !conn_.options().sentinels.empty(), reason);
  return WEIR_OK;
}

weir_status RedisSink::send(SinkRequest& request, std::string& reason) {
  const auto& r = static_cast<const Commands&>(request);
  if (!ensure_connected(reason)) return failed_ ? WEIR_FAILED : WEIR_RETRY;
  for (size_t from = 0; from < r.who.size(); from += static_cast<size_t>(pipeline_max_)) {
    size_t to = std::min(r.who.size(), from + static_cast<size_t>(pipeline_max_));
    if (weir_status st = send_chunk(r, from, to, reason); st != WEIR_OK) return st;
  }
  if (wait_replicas_ > 0) return wait_for_replicas(reason);
  return WEIR_OK;
}

}  // namespace weir::redis
