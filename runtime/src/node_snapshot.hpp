// What other threads (metrics, /status, the console, control) see of a node:
// an immutable copy that the node's own thread builds from its live fields and
// publishes whenever one of them changes (a port, a swap, pause, and every
// 100 ms the event time of a stateful operator). A reader takes the whole of
// it with one load and keeps it as long as it likes; no reader touches
// a live field. Counters are not in it: they are atomics, read directly.
#pragma once

#include "watermarks.hpp"

#include <weir/abi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weir {

class EdgeQueue;
class PluginLibrary;
struct Node;

struct NodeSnapshot {
  // The running plugin's library (its descriptor: name, version, ports, flags).
  // Held here, it stays loaded while a reader holds the snapshot.
  std::shared_ptr<PluginLibrary> library;
  const weir_plugin& plugin() const;
  struct Port {
    std::string name;
    std::vector<const EdgeQueue*> edges;  // owned by the engine, alive as long as it; depth() is safe anywhere
  };
  std::vector<Port> outputs;
  uint64_t swaps = 0;   // hot swaps done
  bool paused = false;  // by `weir ctl pause`
  // Stateful operators: the node's event-time clock and each input partition's watermark.
  int64_t clock_ns = Watermarks::kUnknown;
  std::vector<Watermarks::Entry> watermarks;
};

// A value one thread publishes and any thread reads whole. The lock is held
// for a pointer copy only (the value replaced is let go after it). Not
// std::atomic<std::shared_ptr>: ThreadSanitizer does not see libstdc++ 12's
// lock bit in it, and reports each load against each store as a data race.
template <class T>
class Published {
 public:
  std::shared_ptr<const T> load() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  void store(std::shared_ptr<const T> value) {
    std::lock_guard lock(mu_);
    value_.swap(value);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
};

// Builds N's snapshot from its live fields and publishes it. On N's thread
// (or the main thread before the node threads start, which own N until then).
void publish_snapshot(Node& n);
// The same, at most every 100 ms (event time moves with every batch).
void publish_snapshot_due(Node& n, int64_t now_ns);

}  // namespace weir
