// An in-process fake of the host for plugin logic tests: create a plugin from
// its descriptor with parameters, call it, and inspect what it emitted,
// rejected and logged. No queues; emit never blocks. Plugins may call it from
// their own threads (a sink's delivery thread acks and rejects): every host
// function locks, and tests read the results once those threads are quiet
// (after flush() or close()).
#pragma once

#include <weir/abi.h>
#include <weir/json.hpp>
#include <weir/sdk.hpp>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace weir::testing {

struct EmittedRecord {
  std::string port;
  std::string json;  // weir::to_json of the record
};

class FakeHost {
 public:
  // The plugin's descriptor, e.g. from weir_plugin_entry() linked into the test.
  explicit FakeHost(const weir_plugin* plugin) : plugin_(plugin) {
    api_ = {sizeof(weir_host_api), &log, &intern, &output_port, &batch_begin, &batch_add, &batch_alloc,
            &batch_discard, &emit, &forward, &error, &set_timer, &hold, &release, &ack, &gauge, &stopping, &now_ns,
            &error_n, &partitions_assigned, &partitions_revoked, &per_partition, &sent, &reject_sent};
  }
  ~FakeHost() {
    // As the host: the plugin is closed (it reports on no request after that)
    // before the requests it still has are freed.
    if (!requests_.empty() && vt().close) vt().close(instance_);
    for (auto& [batch, request] : requests_) free_request(request);
    if (instance_) plugin_->vtable->destroy(instance_);
  }

  // Parameters as name -> TOML-ish text is overkill here: give typed values.
  FakeHost& param(const char* name, const std::string& value) { return add(name, WEIR_PARAM_STRING, value); }
  FakeHost& param(const char* name, int64_t value) {
    weir_param_value v{};
    v.name = name; v.type = WEIR_PARAM_INT; v.as.i64 = value;
    put(v);
    return *this;
  }
  FakeHost& param(const char* name, double value) {
    weir_param_value v{};
    v.name = name; v.type = WEIR_PARAM_DOUBLE; v.as.f64 = value;
    put(v);
    return *this;
  }
  FakeHost& param(const char* name, bool value) {
    weir_param_value v{};
    v.name = name; v.type = WEIR_PARAM_BOOL; v.as.b = value;
    put(v);
    return *this;
  }
  FakeHost& param(const char* name, const std::vector<std::string>& items) {
    auto& list = lists_.emplace_back();
    for (const auto& s : items) list.push_back(keep(s));
    weir_param_value v{};
    v.name = name; v.type = WEIR_PARAM_STRING_LIST; v.as.list = {list.data(), static_cast<uint32_t>(list.size())};
    put(v);
    return *this;
  }
  FakeHost& param(const char* name, const std::vector<std::pair<std::string, std::string>>& kvs) {
    auto& table = tables_.emplace_back();
    for (const auto& [k, val] : kvs) table.push_back({keep(k), keep(val)});
    weir_param_value v{};
    v.name = name; v.type = WEIR_PARAM_TABLE; v.as.table = {table.data(), static_cast<uint32_t>(table.size())};
    put(v);
    return *this;
  }

  // Fills in declared defaults for parameters not given, then creates the
  // instance. Returns the create() error message, or "" on success.
  std::string create() {
    for (uint32_t i = 0; i < plugin_->param_count; ++i) {
      const weir_param_spec& spec = plugin_->params[i];
      bool given = false;
      for (auto& p : params_) given |= std::string(p.name) == spec.name;
      if (!given && spec.default_value) add_default(spec);
    }
    char err[1024] = {0};
    instance_ = plugin_->vtable->create(&api_, reinterpret_cast<weir_node*>(this), params_.data(),
                                        static_cast<uint32_t>(params_.size()), err, sizeof err);
    return instance_ ? "" : std::string(err[0] ? err : "create failed");
  }
  void* instance() const { return instance_; }
  const weir_plugin_vtable& vt() const { return *plugin_->vtable; }

  // Builds a one-record-per-entry input batch: each record's fields from a
  // list of (name, value); strings are kept alive by the host.
  using Fields = std::vector<std::pair<std::string, weir_value>>;
  const weir_batch* make_batch(const std::vector<Fields>& rows, const std::vector<std::string>& payloads = {}) {
    auto& storage = inputs_.emplace_back();
    storage.records.resize(std::max(rows.size(), payloads.size()));
    for (size_t i = 0; i < storage.records.size(); ++i) {
      weir_record& r = storage.records[i];
      r = {};
      if (i < payloads.size()) r.payload = keep(payloads[i]);
      if (i < rows.size()) {
        auto& fields = storage.fields.emplace_back();
        for (const auto& [name, value] : rows[i]) {
          weir_value v = value;
          if (v.type == WEIR_STRING) v.as.str = keep(std::string(view(v.as.str)));
          fields.push_back({intern(nullptr, name.data(), static_cast<uint32_t>(name.size())), v});
        }
        r.fields = fields.data();
        r.field_count = static_cast<uint32_t>(fields.size());
      }
    }
    storage.batch = {storage.records.data(), static_cast<uint32_t>(storage.records.size())};
    return &storage.batch;
  }
  static weir_value str(const char* s) { weir_value v{}; v.type = WEIR_STRING; v.as.str = {s, static_cast<uint32_t>(std::strlen(s))}; return v; }

  int process(const weir_batch* b) { return vt().process(instance_, 0, b); }

  // Sinks with encode()/send() (ABI 1.3), one step at a time, as the host's
  // driver calls them. encode() returns the request (nullptr: nothing to send).
  void* encode(const weir_batch* b) {
    void* request = nullptr;
    encode_status = vt().encode(instance_, b, &request);
    return request;
  }
  int send(void* request, std::string* reason = nullptr) {
    char err[1024] = {0};
    int st = vt().send(instance_, request, err, sizeof err);
    if (reason) *reason = err;
    return st;
  }
  void free_request(void* request) { vt().free_request(instance_, request); }
  // The host's verdict on REQUEST's last attempt: STORED, its refused records
  // reach `rejected` ("reason | record INDEX"); else they are forgotten.
  void settle(void* request, bool stored) {
    std::lock_guard lock(mu_);
    auto it = sent_rejects_.find(request);
    if (it == sent_rejects_.end()) return;
    if (stored) rejected.insert(rejected.end(), it->second.begin(), it->second.end());
    sent_rejects_.erase(it);
  }
  // One attempt at B, as the host's driver makes it: a batch is encoded once,
  // and its request sent again on each later write(B) (after a WEIR_RETRY, or
  // a pending send reported failed); a write() sink gets the batch each time.
  // WEIR_OK when nothing was left to send. last_reason: the last WEIR_RETRY's.
  int write(const weir_batch* b) {
    if (!vt().encode) return vt().write(instance_, b);
    auto it = requests_.find(b);
    if (it == requests_.end()) {
      void* request = encode(b);
      if (encode_status != WEIR_OK) return encode_status;
      if (!request) return WEIR_OK;  // only rejects: nothing to send
      it = requests_.emplace(b, request).first;
    }
    last_reason.clear();
    int st = send(it->second, &last_reason);
    if (st == WEIR_OK || st == WEIR_RETRY) settle(it->second, st == WEIR_OK);
    if (st == WEIR_OK || st == WEIR_FAILED) {
      free_request(it->second);
      requests_.erase(it);
    }
    return st;
  }
  std::string last_reason;

  std::vector<EmittedRecord> emitted;   // in emission order
  std::vector<std::string> rejected;    // "reason | record json"
  std::vector<std::string> logs;        // "LEVEL message"
  std::vector<std::string> acked;       // sinks: "ok"/"fail" per host->ack, "ok"/"retry: REASON" per host->sent
  int encode_status = WEIR_OK;          // of the last encode()
  int64_t timer_ms = 0;
  int64_t now = 0;                      // what now_ns() returns
  bool is_stopping = false;
  bool per_partition_mode = false;      // what per_partition() answers (set before create)
  std::vector<std::string> revoked;     // sources: "<partition>" or "<partition> lost" per revoked partition
  std::vector<int32_t> assigned;        // sources: partitions announced as assigned

 private:
  struct Input {
    std::vector<weir_record> records;
    std::deque<std::vector<weir_field>> fields;
    weir_batch batch{};
  };
  struct Building {
    std::vector<weir_record> records;
    std::deque<std::string> bytes;
    weir_batch batch{};
  };

  // A parameter given twice keeps the last value, as a TOML override would.
  void put(const weir_param_value& v) {
    for (auto& p : params_)
      if (std::string(p.name) == v.name) {
        p = v;
        return;
      }
    params_.push_back(v);
  }
  weir_str keep(const std::string& s) {
    strings_.push_back(s);
    return {strings_.back().data(), static_cast<uint32_t>(strings_.back().size())};
  }
  FakeHost& add(const char* name, uint32_t type, const std::string& value) {
    weir_param_value v{};
    v.name = name; v.type = type; v.as.str = keep(value);
    put(v);
    return *this;
  }
  void add_default(const weir_param_spec& spec) {
    std::string d = spec.default_value;
    switch (spec.type) {
      case WEIR_PARAM_STRING: add(spec.name, WEIR_PARAM_STRING, d.size() >= 2 ? d.substr(1, d.size() - 2) : d); break;
      case WEIR_PARAM_INT: param(spec.name, static_cast<int64_t>(std::stoll(d))); break;
      case WEIR_PARAM_DOUBLE: param(spec.name, std::stod(d)); break;
      case WEIR_PARAM_BOOL: param(spec.name, d == "true"); break;
      case WEIR_PARAM_STRING_LIST: param(spec.name, std::vector<std::string>{}); break;  // defaults are [] in practice
      case WEIR_PARAM_TABLE: param(spec.name, std::vector<std::pair<std::string, std::string>>{}); break;
    }
  }
  static FakeHost& self(weir_node* n) { return *reinterpret_cast<FakeHost*>(n); }
  std::string port_name(int32_t port) const {
    if (port >= 0 && static_cast<uint32_t>(port) < plugin_->output_count) return plugin_->outputs[port].name;
    auto it = dynamic_ports_.find(port);
    return it != dynamic_ports_.end() ? it->second : "?";
  }

  static void log(weir_node* n, int level, const char* msg) {
    static const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    std::lock_guard lock(self(n).mu_);
    self(n).logs.push_back(std::string(names[level & 3]) + " " + msg);
  }
  static weir_str intern(weir_node*, const char* data, uint32_t size) {
    static std::mutex mu;
    static std::set<std::string, std::less<>> names;
    std::lock_guard lock(mu);
    auto it = names.emplace(data, size).first;
    return {it->data(), static_cast<uint32_t>(it->size())};
  }
  static int32_t output_port(weir_node* n, const char* name) {
    FakeHost& h = self(n);
    std::lock_guard lock(h.mu_);
    for (uint32_t i = 0; i < h.plugin_->output_count; ++i)
      if (std::string(h.plugin_->outputs[i].name) == name) return static_cast<int32_t>(i);
    if (!(h.plugin_->flags & WEIR_FLAG_DYNAMIC_OUTPUTS)) return -1;
    for (auto& [id, port] : h.dynamic_ports_)
      if (port == name) return id;
    int32_t id = 1000 + static_cast<int32_t>(h.dynamic_ports_.size());
    h.dynamic_ports_[id] = name;
    return id;
  }
  static weir_builder* batch_begin(weir_node*, uint32_t) { return reinterpret_cast<weir_builder*>(new Building); }
  static weir_record* batch_add(weir_builder* b) {
    auto* bb = reinterpret_cast<Building*>(b);
    bb->records.emplace_back();
    return &bb->records.back();
  }
  static void* batch_alloc(weir_builder* b, uint32_t size) {
    auto* bb = reinterpret_cast<Building*>(b);
    bb->bytes.emplace_back(size + 8, '\0');
    auto p = reinterpret_cast<uintptr_t>(bb->bytes.back().data());
    return reinterpret_cast<void*>((p + 7) & ~uintptr_t{7});
  }
  static void batch_discard(weir_builder* b) { delete reinterpret_cast<Building*>(b); }
  static int emit(weir_node* n, int32_t port, weir_builder* b) {
    std::unique_ptr<Building> bb(reinterpret_cast<Building*>(b));
    std::lock_guard lock(self(n).mu_);
    for (auto& r : bb->records) self(n).emitted.push_back({self(n).port_name(port), to_json(Record(&r))});
    return WEIR_OK;
  }
  static int forward(weir_node* n, int32_t port, const weir_batch* batch) {
    std::lock_guard lock(self(n).mu_);
    for (uint32_t i = 0; i < batch->count; ++i)
      self(n).emitted.push_back({self(n).port_name(port), to_json(Record(&batch->records[i]))});
    return WEIR_OK;
  }
  static void error(weir_node* n, const weir_record* r, const char* reason) { error_n(n, r, reason, std::strlen(reason)); }
  static void error_n(weir_node* n, const weir_record* r, const char* reason, uint32_t size) {
    std::lock_guard lock(self(n).mu_);
    self(n).rejected.push_back(std::string(reason, size) + " | " + (r ? to_json(Record(r)) : "{}"));
  }
  static void set_timer(weir_node* n, int64_t ms) { self(n).timer_ms = ms; }
  static uint64_t hold(weir_node* n) { return ++self(n).holds_; }
  static void release(weir_node* n, uint64_t) { ++self(n).releases_; }
  static void ack(weir_node* n, const weir_batch*, int ok) {
    std::lock_guard lock(self(n).mu_);
    self(n).acked.push_back(ok ? "ok" : "fail");
  }
  static void sent(weir_node* n, void* request, int status, const char* reason) {
    FakeHost& h = self(n);
    std::lock_guard lock(h.mu_);
    h.acked.push_back(status == WEIR_OK ? "ok" : std::string("retry: ") + (reason ? reason : ""));
    auto it = h.sent_rejects_.find(request);  // settled, as in settle()
    if (it == h.sent_rejects_.end()) return;
    if (status == WEIR_OK) h.rejected.insert(h.rejected.end(), it->second.begin(), it->second.end());
    h.sent_rejects_.erase(it);
  }
  // Held until settle(), as the host holds them until the request is stored.
  static void reject_sent(weir_node* n, void* request, uint32_t index, const char* reason, uint32_t size) {
    std::lock_guard lock(self(n).mu_);
    self(n).sent_rejects_[request].push_back(std::string(reason, size) + " | record " + std::to_string(index));
  }
  static void gauge(weir_node* n, const char* name, const char* labels, double v) {
    std::lock_guard lock(self(n).mu_);
    std::string key = std::string(name) + "{" + (labels ? labels : "") + "}";
    if (std::isnan(v)) self(n).gauges.erase(key);  // as in the host
    else self(n).gauges[key] = v;
  }
  static int stopping(weir_node* n) { return self(n).is_stopping; }
  static int64_t now_ns(weir_node* n) { return self(n).now; }
  static void partitions_assigned(weir_node* n, const int32_t* parts, uint32_t count) {
    std::lock_guard lock(self(n).mu_);
    for (uint32_t i = 0; i < count; ++i) self(n).assigned.push_back(parts[i]);
  }
  static void partitions_revoked(weir_node* n, const int32_t* parts, uint32_t count, int lost) {
    std::lock_guard lock(self(n).mu_);
    for (uint32_t i = 0; i < count; ++i) self(n).revoked.push_back(std::to_string(parts[i]) + (lost ? " lost" : ""));
  }
  static int per_partition(weir_node* n) { return self(n).per_partition_mode ? 1 : 0; }

 public:
  std::map<std::string, double> gauges;
  // A gauge's value now, NaN if absent: plugins may set gauges from threads of their own.
  double gauge_now(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = gauges.find(key);
    return it == gauges.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
  }
  uint64_t holds_ = 0, releases_ = 0;

 private:
  std::mutex mu_;
  std::map<void*, std::vector<std::string>> sent_rejects_;  // per request, until settle()
  std::map<const weir_batch*, void*> requests_;  // write(): the requests not yet stored, by batch  // host functions may be called from plugin threads
  const weir_plugin* plugin_;
  weir_host_api api_{};
  void* instance_ = nullptr;
  std::vector<weir_param_value> params_;
  std::deque<std::string> strings_;
  std::deque<std::vector<weir_str>> lists_;
  std::deque<std::vector<weir_kv>> tables_;
  std::deque<Input> inputs_;
  std::map<int32_t, std::string> dynamic_ports_;
};

}  // namespace weir::testing
