// cep_rule — runs Esper-compatible EPL rules over the record stream: each
// rule's rows go to an output port named after the rule, every input record
// passes through on `all`. Rules come from files (watched and hot-reloaded) or
// from a rule store (rules_topic: versions that apply from an event time on,
// the same in every engine and process). See README.md for the language, the
// switching rule, the guarantees and the differences from Esper.
#include "records.hpp"
#include "rule_set.hpp"
#include "rule_store.hpp"

#include <weir/per_partition.hpp>
#include <weir/sdk.hpp>

#include <deque>
#include <functional>
#include <limits>
#include <map>

#include <optional>
#include <set>
#include <unordered_map>

namespace {

using namespace weir::cep;
using store::RuleVersion;

const weir_port_spec kInputs[] = {{"in", "records: the events the rules select from"}};
const weir_port_spec kOutputs[] = {{"all", "every input record, unchanged (also those rejected to the error port)"}};
const weir_param_spec kParams[] = {
    {"rules", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "EPL rule files; a relative path is taken from the working directory of the weir process (or rules_topic)"},
    {"rules_topic", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "rules from a rule store instead of files: the compacted Kafka topic `weir-rules put` writes, e.g. \"weir-rules\""},
    {"rules_endpoints", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "the rule store's bootstrap brokers, \"host:port[,host:port...]\", e.g. \"${KAFKA_BOOTSTRAP}\""},
    {"rules_names", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "the rules of the store to run, e.g. [\"overspeed\"]; a rule's rows go to the port of its name"},
    {"rules_timeout_ms", WEIR_PARAM_INT, "15000", 0, "ms",
     "how long the start waits to have read the rule store to its end"},
    {"rules_rdkafka", WEIR_PARAM_TABLE, "{}", 0, nullptr,
     "librdkafka properties for reading the rule store, e.g. \"security.protocol\" = \"SSL\" (quote dotted keys)"},
    {"variables", WEIR_PARAM_TABLE, "{}", 0, nullptr,
     "variable values, e.g. threshold = \"100\"; they replace `create variable` defaults"},
    {"time_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "event time from this field (int64 epoch ms, timestamp, or yyyyMMddHHmmss string; \"_time\" = record time); "
     "empty = processing time"},
    {"stream", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "the input stream's name in the rules; empty = whatever they read"},
    {"watch_interval_ms", WEIR_PARAM_INT, "1000", 0, "ms",
     "how often rule files (or the rule store's new versions) are checked for changes; 0 = never"},
    {"evaluate_on_flush", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "also at a stop (Ctrl-C, --duration), end the pending windows and post their rows (the end of a bounded "
     "input always does; Esper does neither)"},
};

class CepRule : public weir::Plugin {
 public:
  CepRule(weir::Context ctx, const weir::Params& p) : ctx_(ctx) {
    RuleSetOptions o;
    o.files = p.list("rules");
    for (const auto& [k, v] : p.table("variables")) o.variables[k] = v;
    o.stream = p.str("stream");
    time_field_ = p.str("time_field");
    watch_ms_ = p.integer("watch_interval_ms");
    evaluate_on_flush_ = p.boolean("evaluate_on_flush");
    if (watch_ms_ < 0) throw weir::ConfigError("watch_interval_ms must be >= 0");
    all_ = ctx_.port("all");
    topic_ = p.str("rules_topic");
    names_ = p.list("rules_names");
    std::string endpoints = p.str("rules_endpoints");
    if (topic_.empty()) {
      if (!names_.empty() || !endpoints.empty())
        throw weir::ConfigError("rules_names and rules_endpoints belong to a rule store: set rules_topic too");
      if (o.files.empty())
        throw weir::ConfigError("no rules: give rule files (parameter 'rules') or a rule store (rules_topic, rules_names)");
      try {
        rules_ = std::make_unique<RuleSet>(std::move(o));
      } catch (const std::exception& e) {
        throw weir::ConfigError(e.what());
      }
      rules_->set_listener([this](RuleFile& f, const Delivery& d) { on_delivery(f, d); });
      return;
    }
    // A rule store: the rules are known only once it is read (open(): no I/O here).
    if (!o.files.empty())
      throw weir::ConfigError("rules (files) and rules_topic (a rule store) exclude each other: give one of them");
    if (endpoints.empty())
      throw weir::ConfigError("rules_endpoints must name the rule store's brokers, e.g. \"${KAFKA_BOOTSTRAP}\"");
    if (names_.empty()) throw weir::ConfigError("rules_names must name at least one rule of the store, e.g. [\"overspeed\"]");
    std::set<std::string> seen;
    for (const std::string& n : names_) {
      if (std::string why = store::check_name(n); !why.empty()) throw weir::ConfigError("rules_names: " + why);
      if (!seen.insert(n).second) throw weir::ConfigError("rules_names: '" + n + "' is given twice");
    }
    rules_timeout_ms_ = p.integer("rules_timeout_ms");
    if (rules_timeout_ms_ < 0) throw weir::ConfigError("rules_timeout_ms must be >= 0");
    base_ = std::move(o);
    try {
      store_ = store::rule_source(endpoints, topic_, p.table("rules_rdkafka"));
    } catch (const weir::ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      throw weir::ConfigError(e.what());
    }
  }

  weir_status open() override {
    // Processing time needs timers to end windows between records.
    int64_t tick = event_time() ? watch_ms_ : (watch_ms_ > 0 ? std::min<int64_t>(watch_ms_, 100) : 100);
    ctx_.set_timer(tick);
    ctx_.gauge("rule_reload_errors", "", 0);
    ctx_.gauge("match_states_dropped", "", 0);
    if (store_mode()) return open_store();
    return WEIR_OK;
  }

  weir_status process(uint32_t, weir::Batch in) override {
    if (!rules_) {  // our bug, or the host's: open() reads the rule store
      ctx_.error_log("process() before open(): the rule store was not read");
      return WEIR_FAILED;
    }
    if (partition_ < 0 && !in.empty()) partition_ = in[0].position().partition;
    sync_store();
    if (all_ >= 0) ctx_.forward(all_, in);
    if (!event_time()) advance(processing_ms());
    bool sent = false;
    for (uint32_t i = 0; i < in.size(); ++i) {
      weir::Record r = in[i];
      if (i + kPrefetchAhead < in.size()) prefetch(in[i + kPrefetchAhead]);
      std::optional<int64_t> ts;
      if (event_time()) {
        int64_t ms = 0;
        std::string why = event_time_ms(r, time_field_, ms);
        if (!why.empty()) {
          ctx_.reject(r, why);
          continue;
        }
        ts = ms;
      }
      if (!rules_->typed()) {
        // The first record fixes the input type; the clock starts at its time
        // (so output ticks count from there, not from the epoch), with the
        // rule store's versions in force then.
        try {
          int64_t start = ts ? *ts : processing_ms();
          select_versions(start);
          rules_->set_input_type(infer_type(r, ""), start);
          plan_boundary();
        } catch (const std::exception& e) {
          ctx_.reject(r, std::string("the rules cannot read this record: ") + e.what());
          continue;
        }
      }
      std::string why = to_row(r, rules_->input_type(), rules_->needed_fields(), row_, hint_);
      if (!why.empty()) {
        ctx_.reject(r, why);
        continue;
      }
      if (ts && crosses(*ts)) send_held();  // the events before a version boundary go to the old version
      if (ts) cross_versions(*ts);
      if (rules_->batches()) {
        held_rows_.insert(held_rows_.end(), row_.begin(), row_.end());
        held_times_.push_back(ts.value_or(0));
      } else {
        rules_->send(row_, ts);
      }
      sent = true;
    }
    send_held();
    emit_pending();
    settle_holds(sent);
    return WEIR_OK;
  }

  weir_status on_timer(int64_t now_ns) override {
    if (!rules_) return WEIR_OK;
    sync_store();
    if (!event_time()) advance(now_ns / 1'000'000);
    if (!store_mode() && watch_ms_ > 0 && now_ns - last_watch_ns_ >= watch_ms_ * 1'000'000) {
      last_watch_ns_ = now_ns;
      report(rules_->reload_changed(rules_->typed() ? rules_->now() : now_ns / 1'000'000));
    }
    emit_pending();
    settle_holds(false);
    report_dropped_states();
    return WEIR_OK;
  }

  // A match_recognize statement or a pattern at its bound of partial matches
  // drops some (RuleSet::match_states_dropped): a gauge, and a warning when it grows.
  void report_dropped_states() {
    uint64_t n = rules_->match_states_dropped();
    if (n == dropped_states_) return;
    ctx_.warn(std::to_string(n - dropped_states_) + " partial matches dropped at their bound (" +
              std::to_string(weir::cep::MatchRun::kMaxStates) + " per match_recognize statement, " +
              std::to_string(weir::cep::PatternRun::kMaxStates) +
              " pattern states): matches are missed; an ambiguous or nested repetition multiplies them, make it narrower");
    dropped_states_ = n;
    ctx_.gauge("match_states_dropped", "", static_cast<double>(n));
  }

  // Event time reached WATERMARK_NS with no record (upstream filtered them):
  // batches that end by then close as if a record of that time had come. The
  // host's event time is the records' own (event_time_ns): the rule's time
  // when time_field is "_time" or the field the decoder dates records by.
  weir_status on_watermark(int32_t, int64_t watermark_ns) override {
    if (!rules_ || !event_time() || !rules_->typed()) return WEIR_OK;  // no record yet: no clock to move
    int64_t t = watermark_ns / 1'000'000;
    if (t <= rules_->now()) return WEIR_OK;
    sync_store();
    advance(t);
    emit_pending();
    settle_holds(false);
    return WEIR_OK;
  }

  weir_status flush() override {
    // The host flushes once the inputs are drained. Not stopping then means
    // they ended by themselves: every source upstream was bounded and is read
    // to its end (kafka_source's end_at_eof, loggen's seconds, ...). As Flink's
    // final watermark at the end of a bounded input, that ends every window, so
    // a bounded run gives the complete answer. A stop (Ctrl-C, --duration)
    // leaves them open, as Esper does, unless evaluate_on_flush.
    bool input_ended = !ctx_.stopping();
    if ((evaluate_on_flush_ || input_ended) && rules_) {
      // End every window that still holds events; bounded, since output
      // ticks of a fully aggregated statement never stop by themselves.
      for (int i = 0; i < 100000 && rules_->oldest_pending() != kNever; ++i) {
        int64_t t = rules_->next_timer();
        if (t == kNever) break;
        advance(t);
      }
      emit_pending();
    }
    // Esper does not evaluate windows on shutdown either; the records are
    // acknowledged so the pipeline can finish (see README: guarantees).
    for (auto& h : holds_) ctx_.release(h.token);
    holds_.clear();
    return WEIR_OK;
  }

  weir_status reload() override {
    if (store_mode()) {  // nothing to re-read: the store is followed all the time
      sync_store();
      return WEIR_OK;
    }
    RuleSet::ReloadReport r = rules_->reload_all(rules_->typed() ? rules_->now() : processing_ms());
    report(r);
    if (!r.errors.empty()) {
      std::string msg;
      for (const std::string& e : r.errors) msg += (msg.empty() ? "" : "\n") + e;
      throw weir::ConfigError(msg);
    }
    return WEIR_OK;
  }

  // ABI 1.3: `select ... from WINDOW [where ...]` over a named window (or a
  // table) of the rule file that declares it, as JSON Lines. Before the first record there
  // is no engine yet: no rows.
  weir_status query(std::string_view text, std::string& out) override {
    if (!rules_) return WEIR_OK;  // on the node's thread, like process() (abi.h): no lock
    try {
      std::string window = Engine::parse_query(text).statements.front().from;
      for (size_t i = 0; i < rules_->size(); ++i) {
        Engine* e = rules_->file(i).engine.get();
        if (!e || !e->queryable(window)) continue;
        QueryResult r = e->query(text);
        append_json_rows(r.columns, r.rows, out);
        return WEIR_OK;
      }
      for (size_t i = 0; i < rules_->size(); ++i)  // no rule file has it: the engine names the known ones
        if (Engine* e = rules_->file(i).engine.get()) e->query(text);
    } catch (const EplError& e) {
      throw weir::ConfigError(e.what());
    }
    return WEIR_OK;
  }

  weir_status snapshot(std::string& out) override {
    if (!rules_) {  // a rule store not read yet: what was restored, unchanged
      out = stashed_.value_or(std::string());
      return WEIR_OK;
    }
    out = rules_->snapshot();
    return WEIR_OK;
  }

  weir_status restore(std::string_view state) override {
    if (!rules_) {  // restore() comes before open(): applied once the store is read
      stashed_ = std::string(state);
      return WEIR_OK;
    }
    apply_restore(state);
    return WEIR_OK;
  }

 private:
  struct PortInfo {
    int32_t port = -1, removed = -1;  // removed: `<port>_removed`, for select irstream
    std::vector<weir_str> names;
  };
  struct Pending {
    int32_t port;
    weir::BatchBuilder batch;
  };
  struct Hold {
    uint64_t token;
    int64_t time;  // engine time after the held batch was processed
  };

  // The records were written on another core (the decoder's thread), so each
  // one's first read waits for its cache lines to come over (perf: most of
  // to_row's time after the store-forwarding fix). Asking for the fields of a
  // record a few places ahead overlaps those waits with this record's work.
  static constexpr uint32_t kPrefetchAhead = 4;
  static void prefetch(weir::Record r) {
    const weir_record* raw = r.raw();
    const char* f = reinterpret_cast<const char*>(raw->fields);
    for (size_t off = 0; off < raw->field_count * sizeof(weir_field); off += 64) __builtin_prefetch(f + off);
  }

  bool event_time() const { return !time_field_.empty(); }
  bool store_mode() const { return !topic_.empty(); }
  int64_t processing_ms() const { return ctx_.now_ns() / 1'000'000; }

  void apply_restore(std::string_view state) {
    if (state.empty() && store_mode()) return;  // the snapshot of an instance that never read its store
    for (const std::string& n : rules_->restore(state, processing_ms())) ctx_.warn(n);
    ports_.clear();
    if (store_mode() && rules_->typed()) {
      // The restored engine continues with its saved version; the store may
      // hold a version it should have switched to already (late).
      catch_up();
      plan_boundary();
    }
  }

  // Moves the clock to t: through every version boundary on the way.
  void advance(int64_t t) {
    cross_versions(t);
    rules_->advance_to(t);
  }

  // ------------------------------------------------------------ rule store
  //
  // The switching rule: everything an engine does at engine time t is done
  // by the version in force at t, the one with the greatest effective_from
  // <= t; but when the clock reaches a version's effective_from F, the
  // timers due at F (a batch ending at F) still fire with the old version,
  // then the engine swaps to the new one, adopting the windows. So a batch
  // [S, E) is evaluated with the newest version whose effective_from < E:
  // a version first applies to the batch that contains its effective_from.

  std::string prefix() const {
    return ctx_.per_partition() && partition_ >= 0 ? "partition " + std::to_string(partition_) + ": " : "";
  }

  static std::string version_key(const RuleVersion& v) {
    return v.name + "@" + std::to_string(v.effective_from_ms) + "#" + std::to_string(std::hash<std::string>{}(v.text));
  }
  std::string describe(const RuleVersion& v) const {
    std::string s = "rule '" + v.name + "' version effective from " + store::readable_time(v.effective_from_ms);
    if (v.offset >= 0) s += " (offset " + std::to_string(v.offset) + " of " + store_->describe() + ")";
    return s;
  }
  static RuleText text_of(const RuleVersion& v) {
    return {v.name, v.name + "@" + store::time14(v.effective_from_ms), v.name, v.text, std::to_string(v.effective_from_ms)};
  }
  bool runs(size_t i, const RuleVersion& v) const {
    const RuleFile& f = rules_->file(i);
    return f.version == std::to_string(v.effective_from_ms) && f.text == v.text;
  }
  const std::vector<RuleVersion>* versions(const std::string& name) const { return catalog_ ? catalog_->find(name) : nullptr; }

  // A version nobody uses (it does not compile): logged once per process,
  // with its position; the previous version stays in force.
  void refuse(const RuleVersion& v, const std::string& error) {
    checked_[version_key(v)] = error;
    if (store_->first_report(version_key(v))) {
      store_->count_refused();
      ctx_.error_log(error + " (" + describe(v) + " is not used; the previous version stays in force)");
    }
    ctx_.gauge("rule_reload_errors", "", static_cast<double>(store_->refused()));
  }

  // Whether a version compiles (checked without the input type, once; a type
  // error is found when an engine switches to it).
  bool usable(const RuleVersion& v) {
    std::string key = version_key(v);
    if (auto it = checked_.find(key); it != checked_.end()) return it->second.empty();
    std::string error;
    try {
      RuleSetOptions o = base_;
      o.texts = {text_of(v)};
      o.check_variables_used = false;
      RuleSet probe(std::move(o));
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) refuse(v, error);
    checked_[key] = error;
    return error.empty();
  }
  std::function<bool(const RuleVersion&)> usable_fn() {
    return [this](const RuleVersion& v) { return usable(v); };
  }

  void drain_messages() {
    for (auto& m : store_->take_messages()) ctx_.log(static_cast<weir_log_level>(m.level), m.text);
  }

  weir_status open_store() {
    store_->start();
    std::string why;
    if (!store_->wait_ready(rules_timeout_ms_, why)) {
      drain_messages();
      ctx_.error_log("rule store " + store_->describe() + ": " + why);
      return WEIR_FAILED;
    }
    drain_messages();
    generation_ = store_->generation();
    catalog_ = store_->catalog();
    ctx_.gauge("rule_reload_errors", "", static_cast<double>(store_->refused()));
    if (!rules_) {
      // Until the first record sets the clock, the newest version of each
      // rule (select_versions() then picks the one in force at that time).
      std::vector<std::string> problems;
      RuleSetOptions o = base_;
      for (const std::string& name : names_) {
        const auto* vs = versions(name);
        const RuleVersion* v = vs ? store::version_at(*vs, std::numeric_limits<int64_t>::max(), usable_fn()) : nullptr;
        if (!vs)
          problems.push_back("rule '" + name + "' is not in the rule store " + store_->describe() +
                             " (publish it with `weir-rules put " + name + " FILE`)");
        else if (!v)
          problems.push_back("rule '" + name + "': none of its " + std::to_string(vs->size()) + " versions in the rule store " +
                             store_->describe() + " compiles (see the errors above)");
        else
          o.texts.push_back(text_of(*v));
      }
      for (const std::string& p : problems) ctx_.error_log(p);
      if (!problems.empty()) return WEIR_FAILED;
      try {
        rules_ = std::make_unique<RuleSet>(std::move(o));
      } catch (const std::exception& e) {
        ctx_.error_log(e.what());  // e.g. a configured variable none of the rules uses
        return WEIR_FAILED;
      }
      rules_->set_listener([this](RuleFile& f, const Delivery& d) { on_delivery(f, d); });
    }
    if (stashed_) {
      std::string state = std::move(*stashed_);
      stashed_.reset();
      apply_restore(state);
    }
    return WEIR_OK;
  }

  // Reads a new catalog, if the store published one: reports bad versions
  // ahead of the clock now (not only once they are due) and applies at once
  // any version that should be in force already (it came late).
  void sync_store() {
    if (!store_mode() || !rules_) return;
    drain_messages();
    uint64_t g = store_->generation();
    if (g == generation_) return;
    generation_ = g;
    catalog_ = store_->catalog();
    int64_t clock = rules_->typed() ? rules_->now() : std::numeric_limits<int64_t>::min();
    for (const std::string& name : names_) {
      const auto* vs = versions(name);
      if (!vs) {
        if (store_->first_report("gone:" + name + "#" + std::to_string(g)))
          ctx_.warn("rule '" + name + "' has no version left in the rule store " + store_->describe() +
                    "; the running version stays");
        continue;
      }
      for (const RuleVersion& v : *vs)
        if (v.effective_from_ms > clock) usable(v);
    }
    if (rules_->typed()) {
      catch_up();
      plan_boundary();
    }
  }

  // Before the first record: the versions in force at the clock's start.
  void select_versions(int64_t start) {
    if (!store_mode()) return;
    for (size_t i = 0; i < rules_->size(); ++i) {
      const auto* vs = versions(rules_->file(i).id);
      if (!vs) continue;
      const RuleVersion* v = store::version_at(*vs, start, usable_fn());
      if (!v) v = store::first_usable(*vs, usable_fn());  // a rule's first version also covers the time before it
      if (v && !runs(i, *v)) switch_to(i, *v, "");
    }
  }

  // The engine's clock is already past a version it does not run (it
  // arrived late, or the store changed): switch now.
  void catch_up() {
    int64_t clock = rules_->now();
    for (size_t i = 0; i < rules_->size(); ++i) {
      const auto* vs = versions(rules_->file(i).id);
      if (!vs) continue;
      const RuleVersion* v = store::version_at(*vs, clock, usable_fn());
      if (!v || runs(i, *v)) continue;
      int64_t running = std::numeric_limits<int64_t>::min();
      try {
        running = std::stoll(rules_->file(i).version);
      } catch (const std::exception&) {
      }
      std::string why = v->effective_from_ms > running
                            ? "it came late: this engine's clock was already at " + store::readable_time(clock) + ", " +
                                  std::to_string(clock - v->effective_from_ms) +
                                  " ms after it; what ended in between (a batch that ended then) was evaluated with the previous version"
                            : "the rule store changed under this engine (clock " + store::readable_time(clock) + ")";
      switch_to(i, *v, why);
    }
  }

  // The earliest effective_from after the clock among the rules' versions.
  void plan_boundary() {
    next_boundary_ = kNever;
    if (!store_mode() || !rules_->typed()) return;
    int64_t clock = rules_->now();
    for (size_t i = 0; i < rules_->size(); ++i)
      if (const auto* vs = versions(rules_->file(i).id))
        for (const RuleVersion& v : *vs)
          if (v.effective_from_ms > clock) {
            next_boundary_ = std::min(next_boundary_, v.effective_from_ms);
            break;
          }
  }

  // The clock is about to move to t: at every version boundary F on the way,
  // the timers due up to F fire with the versions in force until then, then
  // the engines swap.
  // A rule with a keyed context gets a batch's records in one
  // RuleSet::send_batch (the engine fetches the instances of the next events
  // while it processes one), held here until the batch ends or a version
  // boundary comes; each record is still processed as if sent alone.
  void send_held() {
    if (held_times_.empty()) return;
    rules_->send_batch(held_rows_, held_times_, event_time());
    held_rows_.clear();
    held_times_.clear();
  }
  bool crosses(int64_t t) const { return store_mode() && next_boundary_ <= t; }

  void cross_versions(int64_t t) {
    while (crosses(t)) {
      int64_t f = next_boundary_;
      rules_->advance_to(f);
      for (size_t i = 0; i < rules_->size(); ++i) {
        const auto* vs = versions(rules_->file(i).id);
        const RuleVersion* v = vs ? store::version_at(*vs, f, usable_fn()) : nullptr;
        if (v && !runs(i, *v)) switch_to(i, *v, "");
      }
      plan_boundary();
    }
  }

  // Swaps rule i to version v as a reload does (windows adopted). A version
  // that does not compile against the input type is refused.
  void switch_to(size_t i, const RuleVersion& v, const std::string& late) {
    RuleSet::ReloadReport r;
    bool typed = rules_->typed();
    int64_t now = typed ? rules_->now() : processing_ms();
    if (!rules_->replace(i, text_of(v), now, r)) {
      refuse(v, r.errors.empty() ? "does not compile" : r.errors.front());
      return;
    }
    for (const std::string& n : r.notes) ctx_.info(prefix() + n);
    ports_.clear();
    if (!typed) return;  // choosing the first version: nothing ran yet
    if (late.empty())
      ctx_.info(prefix() + describe(v) + " is in force from engine time " + store::readable_time(now));
    else
      ctx_.warn(prefix() + describe(v) + " is in force from engine time " + store::readable_time(now) + ": " + late);
  }

  void report(const RuleSet::ReloadReport& r) {
    for (const std::string& e : r.errors) {
      ++reload_errors_;
      // A person must fix the file; the previous rule keeps running meanwhile.
      ctx_.error_log(e + " (rule not reloaded; the previous version keeps running)");
    }
    for (const std::string& n : r.notes) ctx_.info(n);
    for (const std::string& p : r.reloaded) ctx_.info("reloaded " + p);
    if (!r.reloaded.empty()) ports_.clear();
    ctx_.gauge("rule_reload_errors", "", static_cast<double>(reload_errors_));
  }

  PortInfo& port_for(RuleFile& f, const Statement& s) {
    auto it = ports_.find(&s.plan());
    if (it != ports_.end()) return it->second;
    const Plan& p = s.plan();
    std::string name = !p.name.empty() ? p.name : !p.insert_into.empty() ? p.insert_into : f.stem;
    PortInfo info;
    info.port = ctx_.port(name.c_str());
    if (p.irstream()) info.removed = ctx_.port((name + "_removed").c_str());
    for (const Column& c : p.columns) info.names.push_back(ctx_.name(c.name));
    return ports_.emplace(&s.plan(), std::move(info)).first->second;
  }

  weir::BatchBuilder& pending(int32_t port) {
    for (Pending& p : pending_)
      if (p.port == port) return p.batch;
    pending_.push_back({port, ctx_.batch()});
    return pending_.back().batch;
  }

  void add_rows(weir::BatchBuilder& b, const PortInfo& info, const RowSet& rows, int64_t time_ms) {
    for (size_t i = 0; i < rows.size(); ++i) {
      weir::RecordBuilder rb = b.add();
      rb.event_time_ns(time_ms * 1'000'000);
      auto fields = rb.fields(static_cast<uint32_t>(info.names.size()));
      const Value* row = rows.row(i);
      for (size_t c = 0; c < info.names.size(); ++c) fields[c] = {info.names[c], to_weir(row[c], rb)};
    }
  }

  void on_delivery(RuleFile& f, const Delivery& d) {
    const PortInfo& info = port_for(f, d.statement);
    if (!d.inew.empty() && info.port >= 0) add_rows(pending(info.port), info, d.inew, d.time_ms);
    if (!d.iold.empty() && info.removed >= 0) add_rows(pending(info.removed), info, d.iold, d.time_ms);
  }

  void emit_pending() {
    for (Pending& p : pending_) ctx_.emit(p.port, p.batch);
    pending_.clear();
  }

  // At-least-once for window contents: an input batch stays unacknowledged
  // until none of its records is held in a window or an output buffer.
  void settle_holds(bool sent_now) {
    int64_t pending = rules_->oldest_pending();
    if (sent_now && pending != kNever && rules_->typed()) holds_.push_back({ctx_.hold(), rules_->now()});
    while (!holds_.empty() && holds_.front().time < pending) {
      ctx_.release(holds_.front().token);
      holds_.pop_front();
    }
  }

  weir::Context ctx_;
  std::unique_ptr<RuleSet> rules_;  // null until a rule store is read (open)
  // The rule store (rules_topic); empty topic_ = rule files.
  std::string topic_;
  std::vector<std::string> names_;
  int64_t rules_timeout_ms_ = 0;
  RuleSetOptions base_;  // variables and stream, for the store's texts
  std::shared_ptr<store::RuleSource> store_;
  std::shared_ptr<const store::Catalog> catalog_;
  uint64_t generation_ = 0;
  std::map<std::string, std::string> checked_;  // version key -> "" (compiles) or the error
  int64_t next_boundary_ = kNever;
  std::optional<std::string> stashed_;  // restored before open()
  int32_t partition_ = -1;              // for log lines
  std::string time_field_;
  int64_t watch_ms_ = 0;
  bool evaluate_on_flush_ = false;
  int32_t all_ = -1;
  int64_t last_watch_ns_ = 0;
  uint64_t dropped_states_ = 0;  // match_states_dropped at the last report
  int64_t reload_errors_ = 0;
  std::vector<Value> row_;
  std::vector<Value> held_rows_;  // see send_held
  std::vector<int64_t> held_times_;
  std::vector<FieldHint> hint_;
  std::unordered_map<const Plan*, PortInfo> ports_;
  std::vector<Pending> pending_;
  std::deque<Hold> holds_;
};

}  // namespace

// One rule engine per source partition (weir::PerPartition): each has its own
// clock and windows, so a partition's answer does not depend on how its records
// interleave with other partitions', and its state moves with it.
WEIR_PLUGIN(weir::PerPartition<CepRule>, (weir::PluginInfo{
                         .name = "cep_rule",
                         .version = "1.1.0",
                         .description = "Esper-compatible EPL rules over the record stream, from rule files or a rule store",
                         .kind = WEIR_OPERATOR,
                         .flags = WEIR_FLAG_DYNAMIC_OUTPUTS | WEIR_FLAG_STATEFUL | WEIR_FLAG_PARTITIONED,
                         .inputs = kInputs,
                         .outputs = kOutputs,
                         .params = kParams,
                     }))
