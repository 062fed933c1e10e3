#include "sink_target.hpp"

#include "engine.hpp"
#include "host_api.hpp"

namespace weir {

static const weir_plugin_vtable& entries(const Node& n) { return *n.descriptor->vtable; }

bool PluginSinkTarget::encode(HostBatch* batch, void*& request) {
  if (!entries(n_).encode) {  // write(): the batch itself is sent
    request = batch;
    return true;
  }
  n_.current = batch;
  request = nullptr;
  int st = entries(n_).encode(n_.instance, batch, &request);
  flush_errors(n_);  // records it could not encode: once, with the batch's groups
  n_.current = nullptr;
  return st == WEIR_OK;
}

int PluginSinkTarget::send(HostBatch* batch, void* request, std::string& reason) {
  int64_t t0 = monotonic_ns();
  n_.current = batch;
  int st;
  if (entries(n_).send) {
    char err[1024] = {0};
    st = entries(n_).send(n_.instance, request, err, sizeof err);
    reason = err;
  } else {
    st = entries(n_).write(n_.instance, batch);
    if (st == WEIR_RETRY) reason = "write failed";
  }
  if (st == WEIR_RETRY) discard_errors(n_);  // the whole batch comes again, rejects included
  else flush_errors(n_);                     // error records inherit the batch's groups
  n_.current = nullptr;
  n_.counters.batch_ns.record(static_cast<uint64_t>(monotonic_ns() - t0));
  return st;
}

void PluginSinkTarget::free_request(void* request) {
  if (entries(n_).free_request) entries(n_).free_request(n_.instance, request);
}

void PluginSinkTarget::stored(HostBatch* batch, const std::vector<SentReject>& rejects) {
  n_.current = batch;
  // A record is refused once, whatever the plugin reported (an index twice, or
  // one past the batch, is a plugin bug that must not miscount the others).
  std::vector<bool> refused(rejects.empty() ? 0 : batch->count);
  uint32_t refused_count = 0;
  for (const SentReject& r : rejects) {
    if (r.index >= batch->count || refused[r.index]) continue;
    refused[r.index] = true;
    ++refused_count;
    add_error(n_, &batch->records[r.index], r.reason);
  }
  flush_errors(n_);
  n_.current = nullptr;
  n_.counters.records_out.fetch_add(batch->count - refused_count, std::memory_order_relaxed);
}

void PluginSinkTarget::gave_up(HostBatch* batch, const std::string& reason) {
  n_.current = batch;
  for (uint32_t i = 0; i < batch->count; ++i) add_error(n_, &batch->records[i], reason);
  flush_errors(n_);
  n_.current = nullptr;
}

void PluginSinkTarget::log(int level, const std::string& message) { n_.engine->log(&n_, level, message); }

}  // namespace weir
