// cep_rule — runs Esper-compatible EPL rules over the record stream: each
// rule's rows go to an output port named after the rule, every input record
// passes through on `all`. Rule files are watched and hot-reloaded. See
// README.md for the language, the guarantees and the differences from Esper.
#include "records.hpp"
#include "rule_set.hpp"

#include <weir/per_partition.hpp>
#include <weir/sdk.hpp>

#include <deque>
#include <mutex>
#include <unordered_map>

namespace {

using namespace weir::cep;

const weir_port_spec kInputs[] = {{"in", "records: the events the rules select from"}};
const weir_port_spec kOutputs[] = {{"all", "every input record, unchanged (also those rejected to the error port)"}};
const weir_param_spec kParams[] = {
    {"rules", WEIR_PARAM_STRING_LIST, nullptr, 1, nullptr,
     "EPL rule files; a relative path is taken from the working directory of the weir process"},
    {"variables", WEIR_PARAM_TABLE, "{}", 0, nullptr,
     "variable values, e.g. threshold = \"100\"; they replace `create variable` defaults"},
    {"time_field", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "event time from this field (int64 epoch ms, timestamp, or yyyyMMddHHmmss string; \"_time\" = record time); "
     "empty = processing time"},
    {"stream", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "the input stream's name in the rules; empty = whatever they read"},
    {"watch_interval_ms", WEIR_PARAM_INT, "1000", 0, "ms", "how often rule files are checked for changes; 0 = never"},
    {"evaluate_on_flush", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "at shutdown, end the pending windows and post their rows (Esper does not)"},
};

class CepRule : public weir::Plugin {
 public:
  CepRule(weir::Context ctx, const weir::Params& p) : ctx_(ctx) {
    RuleSetOptions o;
    o.files = p.list("rules");
    for (const auto& [k, v] : p.table("variables")) o.variables[k] = v;
    o.stream = p.str("stream");
    time_field_ = p.str("time_field");
    watch_ms_ = p.integer("watch_interval_ms", 1000);
    evaluate_on_flush_ = p.boolean("evaluate_on_flush");
    if (watch_ms_ < 0) throw weir::ConfigError("watch_interval_ms must be >= 0");
    try {
      rules_ = std::make_unique<RuleSet>(std::move(o));
    } catch (const std::exception& e) {
      throw weir::ConfigError(e.what());
    }
    rules_->set_listener([this](RuleFile& f, const Delivery& d) { on_delivery(f, d); });
    all_ = ctx_.port("all");
  }

  weir_status open() override {
    // Processing time needs timers to end windows between records.
    int64_t tick = event_time() ? watch_ms_ : (watch_ms_ > 0 ? std::min<int64_t>(watch_ms_, 100) : 100);
    ctx_.set_timer(tick);
    ctx_.gauge("rule_reload_errors", "", 0);
    return WEIR_OK;
  }

  weir_status process(uint32_t, weir::Batch in) override {
    std::lock_guard lock(mu_);
    if (all_ >= 0) ctx_.forward(all_, in);
    if (!event_time()) rules_->advance_to(processing_ms());
    bool sent = false;
    for (weir::Record r : in) {
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
        // (so output ticks count from there, not from the epoch).
        try {
          rules_->set_input_type(infer_type(r, ""), ts ? *ts : processing_ms());
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
      rules_->send(row_, ts);
      sent = true;
    }
    emit_pending();
    settle_holds(sent);
    return WEIR_OK;
  }

  weir_status on_timer(int64_t now_ns) override {
    std::lock_guard lock(mu_);
    if (!event_time()) rules_->advance_to(now_ns / 1'000'000);
    if (watch_ms_ > 0 && now_ns - last_watch_ns_ >= watch_ms_ * 1'000'000) {
      last_watch_ns_ = now_ns;
      report(rules_->reload_changed(rules_->typed() ? rules_->now() : now_ns / 1'000'000));
    }
    emit_pending();
    settle_holds(false);
    return WEIR_OK;
  }

  weir_status flush() override {
    std::lock_guard lock(mu_);
    if (evaluate_on_flush_) {
      // End every window that still holds events; bounded, since output
      // ticks of a fully aggregated statement never stop by themselves.
      for (int i = 0; i < 100000 && rules_->oldest_pending() != kNever; ++i) {
        int64_t t = rules_->next_timer();
        if (t == kNever) break;
        rules_->advance_to(t);
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
    std::lock_guard lock(mu_);
    RuleSet::ReloadReport r = rules_->reload_all(rules_->typed() ? rules_->now() : processing_ms());
    report(r);
    if (!r.errors.empty()) {
      std::string msg;
      for (const std::string& e : r.errors) msg += (msg.empty() ? "" : "\n") + e;
      throw weir::ConfigError(msg);
    }
    return WEIR_OK;
  }

  weir_status snapshot(std::string& out) override {
    std::lock_guard lock(mu_);
    out = rules_->snapshot();
    return WEIR_OK;
  }

  weir_status restore(std::string_view state) override {
    std::lock_guard lock(mu_);
    for (const std::string& n : rules_->restore(state, processing_ms())) ctx_.warn(n);
    ports_.clear();
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

  bool event_time() const { return !time_field_.empty(); }
  int64_t processing_ms() const { return ctx_.now_ns() / 1'000'000; }

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
  std::mutex mu_;  // reload() may come from another thread than process()
  std::unique_ptr<RuleSet> rules_;
  std::string time_field_;
  int64_t watch_ms_ = 1000;
  bool evaluate_on_flush_ = false;
  int32_t all_ = -1;
  int64_t last_watch_ns_ = 0;
  int64_t reload_errors_ = 0;
  std::vector<Value> row_;
  std::vector<uint32_t> hint_;
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
                         .description = "Esper-compatible EPL rules over the record stream, hot-reloaded from rule files",
                         .kind = WEIR_OPERATOR,
                         .flags = WEIR_FLAG_DYNAMIC_OUTPUTS | WEIR_FLAG_STATEFUL | WEIR_FLAG_PARTITIONED,
                         .inputs = kInputs,
                         .outputs = kOutputs,
                         .params = kParams,
                     }))
