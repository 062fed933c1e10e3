// Where emitted batches go. A port leads to destination nodes; each gets the
// batch. A destination running as several tasks (`parallelism = N`) gets each
// record in one task: the one owning the record's source partition
// (partition % N), so a task sees whole partitions in their order, and a
// control batch about partitions reaches the tasks that own them. Batches
// that span the tasks are split into views; most batches hold one partition
// and go on whole.
#include "engine.hpp"

#include "host_api.hpp"
#include "tap.hpp"

#include <weir/json.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>

namespace weir {
namespace {

uint32_t task_of(int32_t partition, size_t tasks) {
  return partition < 0 ? 0 : static_cast<uint32_t>(partition) % static_cast<uint32_t>(tasks);
}

struct Send {
  EdgeQueue* queue;
  HostBatch* batch;
};
using Sends = boost::container::small_vector<Send, 8>;

// B's share for each task of a destination: B itself when it all goes to one.
void split(HostBatch* b, const std::vector<EdgeQueue*>& tasks, Sends& sends) {
  size_t n = tasks.size();
  if (b->control()) {
    for (size_t t = 0; t < n; ++t) {
      std::vector<int32_t> mine;
      std::vector<int64_t> times;
      for (size_t i = 0; i < b->partitions.size(); ++i) {
        if (task_of(b->partitions[i], n) != t) continue;
        mine.push_back(b->partitions[i]);
        if (i < b->watermarks.size()) times.push_back(b->watermarks[i]);
      }
      if (mine.empty()) continue;
      HostBatch* v = new_view(b);
      v->control_kind = b->control_kind;
      v->partitions = std::move(mine);
      v->watermarks = std::move(times);
      v->seal();
      sends.push_back({tasks[t], v});
    }
    return;
  }
  uint32_t first = b->count ? task_of(b->records[0].position.partition, n) : 0;
  bool one = std::all_of(b->records, b->records + b->count,
                         [&](const weir_record& r) { return task_of(r.position.partition, n) == first; });
  if (one) {
    sends.push_back({tasks[first], b});
    return;
  }
  std::vector<HostBatch*> views(n, nullptr);
  for (uint32_t i = 0; i < b->count; ++i) {
    uint32_t t = task_of(b->records[i].position.partition, n);
    if (!views[t]) views[t] = new_view(b);
    views[t]->storage.push_back(b->records[i]);
  }
  for (size_t t = 0; t < n; ++t)
    if (views[t]) {
      views[t]->seal();
      sends.push_back({tasks[t], views[t]});
    }
}

// Sends B (one reference taken) to every destination of OUT.
int deliver(Node& n, const OutputPort& out, HostBatch* b) {
  Sends sends;
  for (const auto& target : out.targets) {
    if (target.size() == 1) sends.push_back({target.front(), b});
    else split(b, target, sends);
  }
  int32_t uses = static_cast<int32_t>(std::count_if(sends.begin(), sends.end(), [&](const Send& s) { return s.batch == b; }));
  if (uses > 1) retain(b, uses - 1);
  int64_t now = monotonic_ns();
  b->emitted_ns.store(now, std::memory_order_relaxed);
  for (const Send& s : sends)
    if (s.batch != b) s.batch->emitted_ns.store(now, std::memory_order_relaxed);
  if (uses == 0) release(b);  // only views of it go on, and they keep it alive
  Engine* engine = n.engine;
  // After a failure nothing more is delivered: a producer blocked on a full
  // queue (its consumer may be the node that failed) abandons the batch.
  auto abort = [engine] { return engine->abandoning(); };
  for (size_t i = 0; i < sends.size(); ++i) {
    if (!sends[i].queue->push(sends[i].batch, abort)) {
      for (size_t j = i; j < sends.size(); ++j) abandon(sends[j].batch);
      return WEIR_STOPPING;
    }
  }
  return WEIR_OK;
}

}  // namespace

int send_batch(Node& n, int32_t port, HostBatch* b) {
  const OutputPort& out = n.outputs[port];
  if (port == n.error_port) n.counters.records_error.fetch_add(b->count, std::memory_order_relaxed);
  else n.counters.records_out.fetch_add(b->count, std::memory_order_relaxed);
  tap_observe(n, port, *b);
  if (out.edges.empty()) {
    if (port == n.error_port) {
      for (uint32_t i = 0; i < b->count; ++i) {
        const weir_record& r = b->records[i];
        const weir_value* reason = Record(&r).field("error_reason");
        n.engine->dead_letter(n, r, reason && reason->type == WEIR_STRING ? std::string(view(reason->as.str)) : "");
      }
    }
    release(b);  // nobody listens: the records are done
    return WEIR_OK;
  }
  if (n.collecting) {
    retain(b);  // dropped in end_callback, so the batch outlives the callback
    n.emitted_now.push_back(b);
    n.emitted_ports.push_back(port);
  }
  return deliver(n, out, b);
}

int emit_batch(Node& n, int32_t port, HostBatch* b) {
  b->seal();
  if (port < 0 || port >= static_cast<int32_t>(n.outputs.size()) || b->count == 0) {
    release(b);
    return port < 0 ? WEIR_FAILED : WEIR_OK;
  }
  b->origin_node = static_cast<uint32_t>(n.index);
  if (n.tracker) {
    // A source batch: one ack group with the highest offset per partition.
    std::vector<weir_position> highest;
    for (uint32_t i = 0; i < b->count; ++i) {
      const weir_position& p = b->records[i].position;
      auto it = std::find_if(highest.begin(), highest.end(), [&](auto& h) { return h.partition == p.partition; });
      if (it == highest.end()) highest.push_back(p);
      else it->offset = std::max(it->offset, p.offset);
    }
    b->acks.push_back(n.tracker->open_group(std::move(highest)));
  } else if (n.current && b->acks.empty()) {
    // Derived from the input being processed: it keeps the input's groups pending
    // (a view of an input carries them already), and the batches the input keeps.
    for (AckGroup* g : n.current->acks) {
      g->retain();
      b->acks.push_back(g);
    }
    for (HostBatch* k : n.current->kept) {
      retain(k);
      b->kept.push_back(k);
    }
  }
  return send_batch(n, port, b);
}

void send_control(Node& n, int32_t port, HostBatch* b) {
  if (n.outputs[port].edges.empty()) release(b);
  else deliver(n, n.outputs[port], b);
}

void emit_control(Node& n, HostBatch* b) {
  for (const OutputPort& port : n.outputs) {
    if (port.edges.empty()) continue;
    retain(b);
    deliver(n, port, b);
  }
  release(b);
}

}  // namespace weir
