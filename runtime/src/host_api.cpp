// The C callbacks behind weir_host_api. Each converts the opaque weir_node*
// back to the engine's Node and does one small thing.
#include "host_api.hpp"

#include "engine.hpp"

#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace weir {
namespace {

Node& node_of(weir_node* n) { return *reinterpret_cast<Node*>(n); }
HostBatch* builder_batch(weir_builder* b) { return reinterpret_cast<HostBatch*>(b); }

// The ABI's thread rule (abi.h): FUNCTION runs on the node's owner thread
// only. Called from another thread it is refused and logged, not raced.
bool on_owner_thread(Node& node, const char* function) {
  if (node.owner.load(std::memory_order_relaxed) == std::this_thread::get_id()) return true;
  node.engine->log(&node, WEIR_LOG_ERROR,
                   std::string("host->") + function + " called from another thread than the node's own: refused (abi.h, threads)");
  return false;
}

void host_log(weir_node* n, int level, const char* message) {
  Node& node = node_of(n);
  node.engine->log(&node, level, message ? message : "");
  if (level >= WEIR_LOG_ERROR) {
    std::lock_guard lock(node.error_capture_mu);
    if (node.capturing_errors) node.captured_error = message ? message : "";
  }
}

weir_str host_intern(weir_node*, const char* data, uint32_t size) {
  // Interned strings live for the whole process: plugins may be unloaded
  // while records naming their fields are still in flight.
  static std::mutex mu;
  static auto* strings = new std::set<std::string, std::less<>>;
  std::lock_guard lock(mu);
  auto it = strings->find(std::string_view(data, size));
  if (it == strings->end()) it = strings->emplace(data, size).first;
  return {it->data(), static_cast<uint32_t>(it->size())};
}

int32_t host_output_port(weir_node* n, const char* name) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "output_port")) return -1;
  for (size_t i = 0; i < node.outputs.size(); ++i)
    if (node.outputs[i].name == name) return static_cast<int32_t>(i);
  if (node.descriptor->flags & WEIR_FLAG_DYNAMIC_OUTPUTS) {
    // A port nobody wired: records sent there are done at once.
    node.outputs.push_back({name, {}, {}});
    publish_snapshot(node);  // /metrics and /status list it
    return static_cast<int32_t>(node.outputs.size() - 1);
  }
  return -1;
}

weir_builder* host_batch_begin(weir_node*, uint32_t record_hint) {
  return reinterpret_cast<weir_builder*>(new_batch(record_hint));
}

weir_record* host_batch_add(weir_builder* b) {
  auto& storage = builder_batch(b)->storage;
  storage.emplace_back();
  return &storage.back();
}

void* host_batch_alloc(weir_builder* b, uint32_t size) { return builder_batch(b)->arena.alloc(size); }

void host_batch_discard(weir_builder* b) { release(builder_batch(b)); }

int host_emit(weir_node* n, int32_t port, weir_builder* b) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "emit")) {
    release(builder_batch(b));  // emit consumes the builder, refused or not
    return WEIR_FAILED;
  }
  int st = emit_batch(node, port, builder_batch(b));
  if (st == WEIR_FAILED) node.engine->log(&node, WEIR_LOG_ERROR, "emit to an unknown port " + std::to_string(port));
  return node.engine->stopping() && st == WEIR_OK && node.descriptor->kind == WEIR_SOURCE ? WEIR_STOPPING : st;
}

int host_forward(weir_node* n, int32_t port, const weir_batch* batch) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "forward")) return WEIR_FAILED;
  HostBatch* b = host_batch(batch);
  if (port < 0 || port >= static_cast<int32_t>(node.outputs.size())) return WEIR_FAILED;
  if (node.checkpoint && !node.outputs[port].edges.empty()) {
    // A checkpoint waits for this node's output to be delivered, which it
    // tracks on batches of its own: a view of the input, not the shared input.
    HostBatch* view = new_view(b);
    view->storage.assign(b->records, b->records + b->count);
    return emit_batch(node, port, view);  // counts it
  }
  // The same records go on: share the batch, no copy. Its groups already
  // cover it, so nothing new is attached.
  retain(b);
  return send_batch(node, port, b);
}

weir_str copy_into(HostBatch* b, weir_str s) {
  if (!s.size) return {nullptr, 0};
  char* p = static_cast<char*>(b->arena.alloc(s.size));
  std::memcpy(p, s.data, s.size);
  return {p, s.size};
}

void host_error_n(weir_node* n, const weir_record* record, const char* reason, uint32_t reason_size) {
  if (on_owner_thread(node_of(n), "error_n"))
    add_error(node_of(n), record, std::string_view(reason ? reason : "", reason ? reason_size : 0));
}

void host_error(weir_node* n, const weir_record* record, const char* reason) {
  if (on_owner_thread(node_of(n), "error"))
    add_error(node_of(n), record, std::string_view(reason ? reason : ""));
}

void announce(weir_node* n, const int32_t* partitions, uint32_t count, HostBatch::Control kind) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, kind == HostBatch::Control::kAssigned ? "partitions_assigned" : "partitions_revoked")) return;
  if (node.kind != WEIR_SOURCE || !partitions || count == 0) return;
  HostBatch* b = new_batch(0);
  b->partitions.assign(partitions, partitions + count);
  b->control_kind = kind;
  emit_control(node, b);
}

void host_partitions_assigned(weir_node* n, const int32_t* partitions, uint32_t count) {
  announce(n, partitions, count, HostBatch::Control::kAssigned);
}

void host_partitions_revoked(weir_node* n, const int32_t* partitions, uint32_t count, int lost) {
  announce(n, partitions, count, lost ? HostBatch::Control::kLost : HostBatch::Control::kRevoked);
}

int host_per_partition(weir_node* n) { return node_of(n).per_partition ? 1 : 0; }

void host_set_timer(weir_node* n, int64_t interval_ms) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "set_timer")) return;
  node.timer_interval_ns = interval_ms * 1'000'000;
  node.next_timer_ns = monotonic_ns() + node.timer_interval_ns;
}

uint64_t host_hold(weir_node* n) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "hold")) return 0;
  if (!node.current) return 0;
  // A checkpointed node's input stays pending until a checkpoint holds it
  // (with the window it is in): that is the hold, and it ends sooner, so a
  // partition's commits need not wait for its windows to close.
  if (node.checkpoint) return node.next_hold++;
  std::vector<AckGroup*> groups = node.current->acks;
  for (AckGroup* g : groups) g->retain();
  uint64_t token = node.next_hold++;
  node.holds.emplace(token, std::move(groups));
  return token;
}

void host_release(weir_node* n, uint64_t token) {
  Node& node = node_of(n);
  if (!on_owner_thread(node, "release")) return;
  auto it = node.holds.find(token);
  if (it == node.holds.end()) return;
  // Rows emitted in this callback (e.g. the window these records closed)
  // keep the records uncommitted until those rows are written.
  attach_to_emitted(node, it->second);
  for (AckGroup* g : it->second) g->release();
  node.holds.erase(it);
  // Holds inherited from a swapped-out instance end with the new instance's
  // first release (its next window close): their records are in its state.
  attach_to_emitted(node, node.legacy_holds);
  for (AckGroup* g : node.legacy_holds) g->release();
  node.legacy_holds.clear();
}

// A write() sink's async outcome: its request is the batch (sink_target.cpp).
void host_ack(weir_node* n, const weir_batch* batch, int ok) {
  Node& node = node_of(n);
  if (!node.driver) return;
  node.driver->on_sent(host_batch(batch), ok ? WEIR_OK : WEIR_RETRY, ok ? "" : "write failed");
  node.signal.notify();
}

void host_sent(weir_node* n, void* request, int status, const char* reason) {
  Node& node = node_of(n);
  if (!node.driver) return;
  node.driver->on_sent(request, status == WEIR_OK ? WEIR_OK : WEIR_RETRY, reason);
  node.signal.notify();
}

void host_reject_sent(weir_node* n, void* request, uint32_t index, const char* reason, uint32_t reason_size) {
  Node& node = node_of(n);
  if (node.driver) node.driver->on_reject(request, index, std::string(reason ? reason : "", reason ? reason_size : 0));
}

void host_gauge(weir_node* n, const char* name, const char* labels, double value) {
  Node& node = node_of(n);
  std::string key = std::string(name) + (labels && *labels ? std::string("{") + labels + "}" : "");
  std::lock_guard lock(node.gauge_mu);
  if (std::isnan(value)) node.gauges.erase(key);
  else node.gauges[key] = value;
}

int host_stopping(weir_node* n) {
  const Engine& e = *node_of(n).engine;
  return e.abandoning() ? 2 : e.stopping() ? 1 : 0;  // a failed pipeline acknowledges nothing more either
}

int64_t host_now_ns(weir_node*) { return realtime_ns(); }

const weir_host_api kHostApi = {
    sizeof(weir_host_api), host_log,          host_intern,     host_output_port, host_batch_begin,
    host_batch_add,        host_batch_alloc,  host_batch_discard, host_emit,     host_forward,
    host_error,            host_set_timer,    host_hold,       host_release,     host_ack,
    host_gauge,            host_stopping,     host_now_ns,     host_error_n,    host_partitions_assigned,
    host_partitions_revoked, host_per_partition, host_sent, host_reject_sent,
};

}  // namespace

const weir_host_api& host_api() { return kHostApi; }

void add_error(Node& node, const weir_record* record, std::string_view reason) {
  weir_node* n = reinterpret_cast<weir_node*>(&node);
  weir_record& r = copy_record(node.errors, record, 2);
  auto* f = const_cast<weir_field*>(r.fields) + r.field_count - 2;
  weir_value reason_value{};
  reason_value.type = WEIR_STRING;
  reason_value.as.str = copy_into(node.errors, {reason.data(), static_cast<uint32_t>(reason.size())});
  f[0] = {host_intern(n, "error_reason", 12), reason_value};
  weir_value node_value{};
  node_value.type = WEIR_STRING;
  node_value.as.str = host_intern(n, node.name.data(), static_cast<uint32_t>(node.name.size()));
  f[1] = {host_intern(n, "error_node", 10), node_value};
}

weir_record& copy_record(HostBatch*& batch, const weir_record* record, uint32_t extra_fields) {
  if (!batch) batch = new_batch(16);
  HostBatch* b = batch;
  b->storage.emplace_back();
  weir_record& r = b->storage.back();
  uint32_t fields = record ? record->field_count : 0;
  auto* f = static_cast<weir_field*>(b->arena.alloc((fields + extra_fields) * sizeof(weir_field)));
  std::memset(f, 0, (fields + extra_fields) * sizeof(weir_field));
  if (record) {
    r.key = copy_into(b, record->key);
    r.payload = copy_into(b, record->payload);
    r.event_time_ns = record->event_time_ns;
    r.position = record->position;
    for (uint32_t i = 0; i < fields; ++i) {
      f[i] = record->fields[i];
      if (f[i].value.type == WEIR_STRING) f[i].value.as.str = copy_into(b, f[i].value.as.str);
    }
  }
  r.fields = f;
  r.field_count = fields + extra_fields;
  return r;
}

}  // namespace weir
