#include "node_snapshot.hpp"

#include "engine.hpp"

namespace weir {

const weir_plugin& NodeSnapshot::plugin() const { return library->descriptor(); }

void publish_snapshot(Node& n) {
  auto s = std::make_shared<NodeSnapshot>();
  s->library = n.library;
  for (const OutputPort& port : n.outputs) s->outputs.push_back({port.name, {port.edges.begin(), port.edges.end()}});
  s->swaps = n.swaps;
  s->paused = n.paused.load(std::memory_order_relaxed);
  if (n.watermarks) {
    int64_t now = monotonic_ns();
    s->clock_ns = n.watermarks->clock(now);
    s->watermarks = n.watermarks->entries(now);
  }
  n.published.store(std::move(s));
}

void publish_snapshot_due(Node& n, int64_t now_ns) {
  if (now_ns < n.next_publish_ns) return;
  n.next_publish_ns = now_ns + 100'000'000;
  publish_snapshot(n);
}

}  // namespace weir
