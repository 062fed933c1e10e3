// weir C++ plugin SDK — header-only classes over the C ABI in <weir/abi.h>.
//
// A plugin is one class derived from weir::Plugin plus one WEIR_PLUGIN(...) line:
//
//   class Upper : public weir::Plugin {
//    public:
//     Upper(weir::Context ctx, const weir::Params& p) : ctx_(ctx) {}
//     weir_status process(uint32_t, weir::Batch in) override { ...; return ctx_.emit(out_, b); }
//   };
//   WEIR_PLUGIN(Upper, (weir::PluginInfo{.name = "upper", .kind = WEIR_OPERATOR, ...}))
//
// Rules the SDK enforces for you:
//  * exceptions never cross the ABI: the trampolines below turn them into a
//    logged WEIR_FAILED (or a create() error message);
//  * strings you put into a record are copied into the batch arena
//    (RecordBuilder::copy), field names are interned by the host (Context::name),
//    so no batch points into your library — it may be unloaded (hot swap).
#pragma once

#include <weir/abi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace weir {

inline std::string_view view(weir_str s) { return {s.data, s.size}; }

// ---------------------------------------------------------------- reading records

// A read-only view of one record of a batch.
class Record {
 public:
  explicit Record(const weir_record* r) : r_(r) {}
  const weir_record* raw() const { return r_; }

  std::string_view key() const { return view(r_->key); }
  std::string_view payload() const { return view(r_->payload); }
  int64_t event_time_ns() const { return r_->event_time_ns; }
  weir_position position() const { return r_->position; }
  std::span<const weir_field> fields() const { return {r_->fields, r_->field_count}; }

  // Linear search: records carry a handful of fields, which beats hashing.
  const weir_value* field(std::string_view name) const {
    for (uint32_t i = 0; i < r_->field_count; ++i)
      if (view(r_->fields[i].name) == name) return &r_->fields[i].value;
    return nullptr;
  }

 private:
  const weir_record* r_;
};

// A read-only, shared batch. Valid during the callback it was passed to.
class Batch {
 public:
  explicit Batch(const weir_batch* b) : b_(b) {}
  const weir_batch* raw() const { return b_; }
  uint32_t size() const { return b_->count; }
  bool empty() const { return b_->count == 0; }
  Record operator[](uint32_t i) const { return Record(&b_->records[i]); }

  struct iterator {
    const weir_record* p;
    Record operator*() const { return Record(p); }
    iterator& operator++() { ++p; return *this; }
    bool operator!=(const iterator& o) const { return p != o.p; }
  };
  iterator begin() const { return {b_->records}; }
  iterator end() const { return {b_->records + b_->count}; }

 private:
  const weir_batch* b_;
};

// Value helpers.
inline weir_value null_value() { weir_value v{}; v.type = WEIR_NULL; return v; }
inline weir_value int_value(int64_t x) { weir_value v{}; v.type = WEIR_INT64; v.as.i64 = x; return v; }
inline weir_value double_value(double x) { weir_value v{}; v.type = WEIR_DOUBLE; v.as.f64 = x; return v; }
inline weir_value bool_value(bool x) { weir_value v{}; v.type = WEIR_BOOL; v.as.b = x ? 1 : 0; return v; }
inline weir_value timestamp_value(int64_t ns) { weir_value v{}; v.type = WEIR_TIMESTAMP; v.as.i64 = ns; return v; }
// The string must already live in the batch arena (RecordBuilder::copy) or be interned.
inline weir_value string_value(weir_str s) { weir_value v{}; v.type = WEIR_STRING; v.as.str = s; return v; }

inline const char* type_name(uint32_t t) {
  switch (t) {
    case WEIR_NULL: return "null";
    case WEIR_INT64: return "int64";
    case WEIR_DOUBLE: return "double";
    case WEIR_STRING: return "string";
    case WEIR_BOOL: return "bool";
    case WEIR_TIMESTAMP: return "timestamp";
  }
  return "unknown";
}

// ---------------------------------------------------------------- building batches

class RecordBuilder {
 public:
  RecordBuilder(const weir_host_api* host, weir_builder* b, weir_record* r) : host_(host), b_(b), r_(r) {}

  // Copy bytes into the batch arena.
  weir_str copy(std::string_view s) const {
    weir_str out{nullptr, static_cast<uint32_t>(s.size())};
    if (!s.empty()) {
      char* p = static_cast<char*>(host_->batch_alloc(b_, out.size));
      std::memcpy(p, s.data(), s.size());
      out.data = p;
    }
    return out;
  }
  RecordBuilder& key(std::string_view s) { r_->key = copy(s); return *this; }
  RecordBuilder& payload(std::string_view s) { r_->payload = copy(s); return *this; }
  RecordBuilder& event_time_ns(int64_t t) { r_->event_time_ns = t; return *this; }
  RecordBuilder& position(int32_t partition, int64_t offset) { r_->position = {partition, offset}; return *this; }
  // Copy metadata (key, payload, time, position) from an input record, sharing no memory.
  RecordBuilder& copy_meta(Record in) {
    key(in.key()); payload(in.payload());
    r_->event_time_ns = in.event_time_ns(); r_->position = in.position();
    return *this;
  }
  // Allocate n fields (zeroed); fill them with set_field.
  std::span<weir_field> fields(uint32_t n) {
    auto* f = static_cast<weir_field*>(host_->batch_alloc(b_, n * sizeof(weir_field)));
    std::memset(f, 0, n * sizeof(weir_field));
    r_->fields = f;
    r_->field_count = n;
    return {f, n};
  }
  // Copy a value, moving its string bytes into this batch's arena.
  weir_value own(const weir_value& v) const {
    if (v.type != WEIR_STRING) return v;
    return string_value(copy(view(v.as.str)));
  }
  weir_record* raw() { return r_; }

 private:
  const weir_host_api* host_;
  weir_builder* b_;
  weir_record* r_;
};

class BatchBuilder {
 public:
  BatchBuilder() = default;
  BatchBuilder(const weir_host_api* host, weir_builder* b) : host_(host), b_(b) {}
  BatchBuilder(BatchBuilder&& o) noexcept : host_(o.host_), b_(std::exchange(o.b_, nullptr)), count_(o.count_) {}
  BatchBuilder& operator=(BatchBuilder&& o) noexcept {
    if (this != &o) { discard(); host_ = o.host_; b_ = std::exchange(o.b_, nullptr); count_ = o.count_; }
    return *this;
  }
  ~BatchBuilder() { discard(); }

  RecordBuilder add() { ++count_; return RecordBuilder(host_, b_, host_->batch_add(b_)); }
  uint32_t size() const { return count_; }
  bool valid() const { return b_ != nullptr; }
  weir_builder* release() { return std::exchange(b_, nullptr); }
  void discard() { if (b_) host_->batch_discard(std::exchange(b_, nullptr)); }

 private:
  const weir_host_api* host_ = nullptr;
  weir_builder* b_ = nullptr;
  uint32_t count_ = 0;
};

// ---------------------------------------------------------------- parameters

// Parameters as validated by the host: every declared parameter is present
// (defaults applied), with the declared type.
class Params {
 public:
  Params(const weir_param_value* v, uint32_t n) : v_(v), n_(n) {}

  const weir_param_value* find(std::string_view name) const {
    for (uint32_t i = 0; i < n_; ++i)
      if (name == v_[i].name) return &v_[i];
    return nullptr;
  }
  bool has(std::string_view name) const { return find(name) != nullptr; }
  // The host's array (valid only during create(); see weir::OwnedParams to keep it).
  const weir_param_value* data() const { return v_; }
  uint32_t size() const { return n_; }
  // A declared parameter's value. The host passes every parameter that is
  // required or has a default (applying the descriptor's default: it is
  // written there once, never again here), so a missing one is our bug (an
  // undeclared name, a host that skipped it), not the user's: create() fails
  // naming it. A parameter declared with neither is absent when not given: ask has().
  std::string str(std::string_view name) const { return std::string(view(need(name, WEIR_PARAM_STRING).as.str)); }
  int64_t integer(std::string_view name) const { return need(name, WEIR_PARAM_INT).as.i64; }
  double number(std::string_view name) const {
    const weir_param_value* p = find(name);
    if (p && p->type == WEIR_PARAM_INT) return static_cast<double>(p->as.i64);  // `1` for a double parameter
    return need(name, WEIR_PARAM_DOUBLE).as.f64;
  }
  bool boolean(std::string_view name) const { return need(name, WEIR_PARAM_BOOL).as.b != 0; }
  std::vector<std::string> list(std::string_view name) const {
    const weir_param_value& p = need(name, WEIR_PARAM_STRING_LIST);
    std::vector<std::string> out;
    for (uint32_t i = 0; i < p.as.list.count; ++i) out.emplace_back(view(p.as.list.items[i]));
    return out;
  }
  std::vector<std::pair<std::string, std::string>> table(std::string_view name) const {
    const weir_param_value& p = need(name, WEIR_PARAM_TABLE);
    std::vector<std::pair<std::string, std::string>> out;
    for (uint32_t i = 0; i < p.as.table.count; ++i) out.emplace_back(view(p.as.table.items[i].key), view(p.as.table.items[i].value));
    return out;
  }

 private:
  const weir_param_value& need(std::string_view name, weir_param_type type) const {
    const weir_param_value* p = find(name);
    if (!p || p->type != type)
      throw std::logic_error("parameter '" + std::string(name) + "' " + (p ? "has another type than its declaration" : "was not passed") +
                             ": a plugin bug (an undeclared name, or one declared with neither a default nor required: ask has()) "
                             "or a host bug");
    return *p;
  }

  const weir_param_value* v_;
  uint32_t n_;
};

// Thrown from a plugin constructor for a parameter the schema alone cannot check.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------- the host, as seen by a plugin

// What a Sink encoded a batch into: its puts, commands, lines. The host keeps
// it while it sends and retries it, and hands it back to be freed.
class SinkRequest {
 public:
  virtual ~SinkRequest() = default;
};


class Context {
 public:
  Context(const weir_host_api* host, weir_node* node) : host_(host), node_(node) {}

  void log(weir_log_level level, const std::string& msg) const { host_->log(node_, level, msg.c_str()); }
  void debug(const std::string& m) const { log(WEIR_LOG_DEBUG, m); }
  void info(const std::string& m) const { log(WEIR_LOG_INFO, m); }
  void warn(const std::string& m) const { log(WEIR_LOG_WARN, m); }
  void error_log(const std::string& m) const { log(WEIR_LOG_ERROR, m); }

  // A field name that lives as long as the process (safe to put in records).
  weir_str name(std::string_view s) const { return host_->intern(node_, s.data(), static_cast<uint32_t>(s.size())); }
  int32_t port(const char* output_name) const { return host_->output_port(node_, output_name); }

  BatchBuilder batch(uint32_t record_hint = 0) const { return BatchBuilder(host_, host_->batch_begin(node_, record_hint)); }
  weir_status emit(int32_t port, BatchBuilder& b) const {
    if (b.size() == 0) { b.discard(); return WEIR_OK; }
    return static_cast<weir_status>(host_->emit(node_, port, b.release()));
  }
  weir_status forward(int32_t port, Batch b) const { return static_cast<weir_status>(host_->forward(node_, port, b.raw())); }

  // The whole reason reaches error_reason, NULs included (a host older than ABI 1.1 cuts it at the first).
  void reject(Record r, const std::string& reason) const {
    if (host_->struct_size >= offsetof(weir_host_api, error_n) + sizeof(host_->error_n) && host_->error_n)
      host_->error_n(node_, r.raw(), reason.data(), static_cast<uint32_t>(reason.size()));
    else
      host_->error(node_, r.raw(), reason.c_str());
  }

  void set_timer(int64_t interval_ms) const { host_->set_timer(node_, interval_ms); }
  uint64_t hold() const { return host_->hold(node_); }
  void release(uint64_t token) const { host_->release(node_, token); }
  void ack(Batch b, bool ok) const { host_->ack(node_, b.raw(), ok ? 1 : 0); }
  void gauge(const char* name, const char* labels, double v) const { host_->gauge(node_, name, labels, v); }
  // Drops a gauge from the metrics (e.g. the lag of a partition no longer assigned).
  void remove_gauge(const char* name, const char* labels) const {
    host_->gauge(node_, name, labels, std::numeric_limits<double>::quiet_NaN());
  }
  bool stopping() const { return host_->stopping(node_) != 0; }
  // A second Ctrl-C, or the pipeline failed: stop retrying, nothing more will be acknowledged.
  bool hard_stopping() const { return host_->stopping(node_) >= 2; }
  int64_t now_ns() const { return host_->now_ns(node_); }
  // ABI 1.1 (see abi.h). Sources: these partitions are now read here.
  void partitions_assigned(std::span<const int32_t> partitions) const {
    if (has(offsetof(weir_host_api, partitions_assigned)) && !partitions.empty())
      host_->partitions_assigned(node_, partitions.data(), static_cast<uint32_t>(partitions.size()));
  }
  // Sources: these partitions are no longer read here.
  void partitions_revoked(std::span<const int32_t> partitions, bool lost) const {
    if (has(offsetof(weir_host_api, partitions_revoked)) && !partitions.empty())
      host_->partitions_revoked(node_, partitions.data(), static_cast<uint32_t>(partitions.size()), lost ? 1 : 0);
  }
  // ABI 1.3, sinks (weir::Sink): the outcome of a send() that returned WEIR_PENDING.
  void sent(const SinkRequest& request, bool ok, const std::string& reason = {}) const {
    host_->sent(node_, const_cast<SinkRequest*>(&request), ok ? WEIR_OK : WEIR_RETRY, reason.c_str());
  }
  // Record INDEX of REQUEST's batch was refused by the server: to the error port once REQUEST is done.
  void reject_sent(const SinkRequest& request, uint32_t index, const std::string& reason) const {
    host_->reject_sent(node_, const_cast<SinkRequest*>(&request), index, reason.data(), static_cast<uint32_t>(reason.size()));
  }
  // Whether the host drives sinks (ABI 1.3: encode/send, sent, reject_sent).
  bool drives_sinks() const { return has(offsetof(weir_host_api, reject_sent)); }
  // ABI 1.1: whether this node runs with state per partition (an older host: no).
  bool per_partition() const { return has(offsetof(weir_host_api, per_partition)) && host_->per_partition(node_) != 0; }

  const weir_host_api* host() const { return host_; }
  weir_node* node() const { return node_; }

 private:
  // Whether the host's function table reaches the entry at OFFSET (an older host's is shorter).
  bool has(size_t offset) const { return host_->struct_size >= offset + sizeof(void*); }
  const weir_host_api* host_;
  weir_node* node_;
};

// ---------------------------------------------------------------- the plugin base class

// Override what your kind needs: sources poll (and commit), operators process,
// sinks write. Defaults do nothing and succeed.
class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual weir_status open() { return WEIR_OK; }
  virtual weir_status close() { return WEIR_OK; }
  virtual weir_status poll() { return WEIR_END; }
  virtual weir_status commit(std::span<const weir_position>) { return WEIR_OK; }
  virtual weir_status process(uint32_t /*input_port*/, Batch) { return WEIR_OK; }
  virtual weir_status on_timer(int64_t /*now_ns*/) { return WEIR_OK; }
  virtual weir_status flush() { return WEIR_OK; }
  virtual weir_status write(Batch) { return WEIR_OK; }
  virtual weir_status snapshot(std::string& /*out*/) { return WEIR_OK; }
  virtual weir_status restore(std::string_view /*state*/) { return WEIR_OK; }
  // Re-read files or settings. Throw ConfigError to refuse (the old state stays).
  virtual weir_status reload() { throw ConfigError("reload is not supported by this plugin"); }
  // State per partition (WEIR_FLAG_PARTITIONED; usually through weir::PerPartition, <weir/per_partition.hpp>).
  virtual weir_status snapshot_partition(int32_t /*partition*/, std::string& /*out*/) { return WEIR_FAILED; }
  virtual weir_status restore_partition(int32_t /*partition*/, std::string_view /*state*/) { return WEIR_FAILED; }
  virtual weir_status drop_partition(int32_t /*partition*/) { return WEIR_FAILED; }
  // ABI 1.2: PARTITION's event time reached WATERMARK_NS with no record (see
  // abi.h, on_watermark). Windows ending by then may close. Default: nothing.
  virtual weir_status on_watermark(int32_t /*partition*/, int64_t /*watermark_ns*/) { return WEIR_OK; }
  // ABI 1.3: answer an on-demand query from the current state, appending JSON
  // Lines (one object per row) to OUT (see abi.h, query). Throw ConfigError
  // for a bad query. A plugin that does not override it has no query entry
  // (the host answers 501).
  virtual weir_status query(std::string_view /*text*/, std::string& /*out*/) {
    throw ConfigError("queries are not supported by this plugin");
  }
};

// ---------------------------------------------------------------- sinks driven by the host (ABI 1.3)

// A sink in two steps (abi.h, "a sink in two steps"): encode a batch once, send
// it as often as the host asks. The host gathers batches, limits what is in
// flight and retries with the policy of the parameters in <weir/delivery.hpp>:
// a Sink neither sleeps nor retries by itself. Both run on the node's thread.
class Sink : public Plugin {
 public:
  // Records that cannot be encoded: Context::reject. nullptr: nothing to send.
  virtual std::unique_ptr<SinkRequest> encode(Batch in) = 0;
  // WEIR_OK (stored), WEIR_PENDING (Context::sent follows, from any thread),
  // WEIR_RETRY with REASON (transient: the host sends REQUEST again after the
  // backoff), WEIR_FAILED. Records the server refused: Context::reject_sent.
  virtual weir_status send(SinkRequest& request, std::string& reason) = 0;
  // Only a host older than ABI 1.3 calls write(), and a Sink refuses to load there.
  weir_status write(Batch) final { return WEIR_FAILED; }
};

// Whether T answers queries: it overrides Plugin::query (an adapter such as
// PerPartition says so with kForwardsQuery).
template <class T>
constexpr bool has_query() {
  if constexpr (requires { T::kForwardsQuery; }) return T::kForwardsQuery;
  else return !std::is_same_v<decltype(&T::query), weir_status (Plugin::*)(std::string_view, std::string&)>;
}

// Static description of a plugin, turned into the C descriptor by WEIR_PLUGIN.
struct PluginInfo {
  const char* name = nullptr;
  const char* version = "0.0.0";
  const char* description = "";
  weir_kind kind = WEIR_OPERATOR;
  uint32_t flags = 0;
  std::span<const weir_port_spec> inputs{};
  std::span<const weir_port_spec> outputs{};
  std::span<const weir_param_spec> params{};
};

namespace detail {

inline void copy_message(char* buf, uint32_t cap, const char* msg) {
  if (!buf || cap == 0) return;
  std::strncpy(buf, msg, cap - 1);
  buf[cap - 1] = '\0';
}

struct Instance {
  Context ctx;
  std::unique_ptr<Plugin> plugin;
};

// Runs f, turning any exception into a logged WEIR_FAILED.
template <class F>
int guarded(void* self, const char* what, F&& f) noexcept {
  auto* inst = static_cast<Instance*>(self);
  try {
    return static_cast<int>(f(*inst->plugin));
  } catch (const std::exception& e) {
    inst->ctx.error_log(std::string(what) + ": " + e.what());
  } catch (...) {
    inst->ctx.error_log(std::string(what) + ": unknown exception");
  }
  return WEIR_FAILED;
}

struct StringWriter {
  static void put(weir_writer* w, const std::string& s) { w->write(w->opaque, s.data(), s.size()); }
};

template <class T>
struct Vtable {
  static void* create(const weir_host_api* host, weir_node* node, const weir_param_value* params, uint32_t n,
                      char* errbuf, uint32_t errcap) noexcept {
    try {
      Context ctx(host, node);
      if (kDriven && !ctx.drives_sinks()) throw ConfigError("this sink needs a weir host with plugin ABI 1.3 or later");
      auto plugin = std::make_unique<T>(ctx, Params(params, n));
      return new Instance{ctx, std::move(plugin)};
    } catch (const std::exception& e) {
      copy_message(errbuf, errcap, e.what());
    } catch (...) {
      copy_message(errbuf, errcap, "unknown exception in plugin constructor");
    }
    return nullptr;
  }
  static void destroy(void* self) noexcept { delete static_cast<Instance*>(self); }
  static int open(void* s) noexcept { return guarded(s, "open", [](Plugin& p) { return p.open(); }); }
  static int close(void* s) noexcept { return guarded(s, "close", [](Plugin& p) { return p.close(); }); }
  static int poll(void* s) noexcept { return guarded(s, "poll", [](Plugin& p) { return p.poll(); }); }
  static int commit(void* s, const weir_position* pos, uint32_t n) noexcept {
    return guarded(s, "commit", [&](Plugin& p) { return p.commit({pos, n}); });
  }
  static int process(void* s, uint32_t port, const weir_batch* b) noexcept {
    return guarded(s, "process", [&](Plugin& p) { return p.process(port, Batch(b)); });
  }
  static int on_timer(void* s, int64_t now) noexcept {
    return guarded(s, "on_timer", [&](Plugin& p) { return p.on_timer(now); });
  }
  static int flush(void* s) noexcept { return guarded(s, "flush", [](Plugin& p) { return p.flush(); }); }
  static int write(void* s, const weir_batch* b) noexcept {
    return guarded(s, "write", [&](Plugin& p) { return p.write(Batch(b)); });
  }
  static int snapshot(void* s, weir_writer* out) noexcept {
    return guarded(s, "snapshot", [&](Plugin& p) {
      std::string state;
      weir_status st = p.snapshot(state);
      if (st == WEIR_OK) out->write(out->opaque, state.data(), state.size());
      return st;
    });
  }
  static int restore(void* s, const void* data, size_t size) noexcept {
    return guarded(s, "restore",
                   [&](Plugin& p) { return p.restore(std::string_view(static_cast<const char*>(data), size)); });
  }
  static int reload(void* s, char* errbuf, uint32_t errcap) noexcept {
    auto* inst = static_cast<Instance*>(s);
    try {
      return inst->plugin->reload();
    } catch (const std::exception& e) {
      copy_message(errbuf, errcap, e.what());
    } catch (...) {
      copy_message(errbuf, errcap, "unknown exception in reload");
    }
    return WEIR_FAILED;
  }

  static int snapshot_partition(void* s, int32_t partition, weir_writer* out) noexcept {
    return guarded(s, "snapshot_partition", [&](Plugin& p) {
      std::string state;
      weir_status st = p.snapshot_partition(partition, state);
      if (st == WEIR_OK) out->write(out->opaque, state.data(), state.size());
      return st;
    });
  }
  static int restore_partition(void* s, int32_t partition, const void* data, size_t size) noexcept {
    return guarded(s, "restore_partition", [&](Plugin& p) {
      return p.restore_partition(partition, std::string_view(static_cast<const char*>(data), size));
    });
  }
  static int drop_partition(void* s, int32_t partition) noexcept {
    return guarded(s, "drop_partition", [&](Plugin& p) { return p.drop_partition(partition); });
  }

  static int on_watermark(void* s, int32_t partition, int64_t watermark_ns) noexcept {
    return guarded(s, "on_watermark", [&](Plugin& p) { return p.on_watermark(partition, watermark_ns); });
  }

  static int encode(void* s, const weir_batch* b, void** request) noexcept {
    *request = nullptr;
    return guarded(s, "encode", [&](Plugin& p) {
      *request = static_cast<Sink&>(p).encode(Batch(b)).release();
      return WEIR_OK;
    });
  }
  static int send(void* s, void* request, char* errbuf, uint32_t errcap) noexcept {
    return guarded(s, "send", [&](Plugin& p) {
      std::string reason;
      weir_status st = static_cast<Sink&>(p).send(*static_cast<SinkRequest*>(request), reason);
      if (st == WEIR_RETRY) copy_message(errbuf, errcap, reason.c_str());
      return st;
    });
  }
  static void free_request(void*, void* request) noexcept { delete static_cast<SinkRequest*>(request); }

  static constexpr bool kDriven = std::is_base_of_v<Sink, T>;

  /* ---- ABI 1.3: on-demand queries ---- */
  static int query(void* s, const char* text, uint32_t size, weir_writer* out, char* errbuf, uint32_t errcap) noexcept {
    auto* inst = static_cast<Instance*>(s);
    try {
      std::string rows;
      weir_status st = inst->plugin->query(std::string_view(text, size), rows);
      if (st == WEIR_OK) out->write(out->opaque, rows.data(), rows.size());
      return st;
    } catch (const std::exception& e) {
      copy_message(errbuf, errcap, e.what());
    } catch (...) {
      copy_message(errbuf, errcap, "unknown exception in query");
    }
    return WEIR_FAILED;
  }

  static constexpr weir_plugin_vtable table{
      sizeof(weir_plugin_vtable), &create, &destroy, &open, &close, &poll, &commit, &process,
      &on_timer, &flush, &write, &snapshot, &restore, &reload,
      &snapshot_partition, &restore_partition, &drop_partition, &on_watermark,
      kDriven ? &encode : nullptr, kDriven ? &send : nullptr, kDriven ? &free_request : nullptr,
      has_query<T>() ? &query : nullptr,
  };
};

template <class T>
weir_plugin describe(const PluginInfo& info) {
  return weir_plugin{
      sizeof(weir_plugin), WEIR_ABI_MAJOR, WEIR_ABI_MINOR, info.name, info.version, info.description,
      static_cast<uint32_t>(info.kind), info.flags,
      info.inputs.data(), static_cast<uint32_t>(info.inputs.size()),
      info.outputs.data(), static_cast<uint32_t>(info.outputs.size()),
      info.params.data(), static_cast<uint32_t>(info.params.size()),
      &Vtable<T>::table,
  };
}

}  // namespace detail
}  // namespace weir

// Exports the plugin's entry symbol. INFO is a parenthesized weir::PluginInfo.
#define WEIR_PLUGIN(CLASS, INFO)                                                          \
  extern "C" __attribute__((visibility("default"))) const weir_plugin* weir_plugin_entry() { \
    static const weir_plugin descriptor = ::weir::detail::describe<CLASS> INFO;           \
    return &descriptor;                                                                    \
  }
