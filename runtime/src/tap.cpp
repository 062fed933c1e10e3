#include "tap.hpp"

#include <weir/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

namespace weir {

std::atomic<int> g_open_taps{0};

namespace {

struct Tap {
  std::vector<Node*> tasks;  // the node's tasks (one unless `parallelism`): a tap sees them all
  std::string port;
  double rate_per_s;
  uint64_t count;
  bool metadata;
  // Under g_mu:
  std::vector<std::string> records;
  size_t bytes = 0;
  uint64_t taken = 0, dropped = 0;
  double tokens = 0;  // the rate limit's bucket: up to one second's worth
  int64_t refilled_ns = 0, read_ns = 0;
  bool attached = true;  // counted in g_open_taps and node->watch.taps
};

std::mutex g_mu;
std::map<uint64_t, std::unique_ptr<Tap>>& taps() {
  static auto* m = new std::map<uint64_t, std::unique_ptr<Tap>>;  // never destroyed: node threads may still look
  return *m;
}
uint64_t g_next_id = 1;

// Under g_mu. The records kept stay readable; nothing more is taken.
void detach(Tap& t) {
  if (!t.attached) return;
  t.attached = false;
  for (Node* n : t.tasks) n->watch.taps.fetch_sub(1, std::memory_order_relaxed);
  g_open_taps.fetch_sub(1, std::memory_order_relaxed);
}

// Under g_mu: taps whose reader has not come back for kIdleCloseMs are closed.
void close_idle(int64_t now_ns) {
  for (auto it = taps().begin(); it != taps().end();) {
    if (now_ns - it->second->read_ns > kIdleCloseMs * 1'000'000) {
      detach(*it->second);
      it = taps().erase(it);
    } else {
      ++it;
    }
  }
}

// Under g_mu: whether the rate limit lets one more record through now.
bool admit(Tap& t, int64_t now_ns) {
  if (t.rate_per_s <= 0) return true;
  t.tokens = std::min(t.rate_per_s, t.tokens + (now_ns - t.refilled_ns) / 1e9 * t.rate_per_s);
  t.refilled_ns = now_ns;
  if (t.tokens < 1) return false;
  t.tokens -= 1;
  return true;
}

void sample_errors(Node& n, const HostBatch& b) {
  int64_t now = monotonic_ns();
  for (uint32_t i = 0; i < b.count && n.watch.error_sample_due(now); ++i) n.watch.sample_error(b.records[i]);
}

}  // namespace

void tap_offer(Node& n, int32_t port, const HostBatch& b) {
  if (port == n.error_port) sample_errors(n, b);
  if (n.watch.taps.load(std::memory_order_relaxed) == 0) return;
  const std::string& name = n.outputs[port].name;
  int64_t now = monotonic_ns();
  std::lock_guard lock(g_mu);
  bool idle = false;
  for (auto& [id, tp] : taps()) {
    Tap& t = *tp;
    if (!t.attached || t.port != name || std::find(t.tasks.begin(), t.tasks.end(), &n) == t.tasks.end()) continue;
    if (now - t.read_ns > kIdleCloseMs * 1'000'000) idle = true;
    for (uint32_t i = 0; i < b.count && t.attached; ++i) {
      if (!admit(t, now)) continue;
      if (t.bytes >= kMaxBufferedBytes) {
        ++t.dropped;
        continue;
      }
      t.records.push_back(to_json(Record(&b.records[i]), t.metadata));
      t.bytes += t.records.back().size();
      if (++t.taken == t.count) detach(t);
    }
  }
  if (idle) close_idle(now);
}

TapOpened tap_open(Engine& engine, const TapRequest& req) {
  TapOpened out;
  Node* n = engine.find(req.node);
  if (!n) return {0, "", "no node '" + req.node + "'"};
  const NodePlan& plan = engine.plan().nodes[n->plan_index];
  const auto& ports = plan.output_ports;
  std::string port = req.port;
  if (port.empty()) {
    if (ports.empty() || ports.front() == "error")
      return {0, "", "node '" + req.node + "' has no output but its error port; name one: " + req.node + ".error, or the port that feeds it"};
    port = ports.front();
  }
  bool dynamic = plan.library->descriptor().flags & WEIR_FLAG_DYNAMIC_OUTPUTS;
  if (!dynamic && std::find(ports.begin(), ports.end(), port) == ports.end()) {
    std::string known;
    for (const auto& p : ports) known += (known.empty() ? "" : ", ") + p;
    return {0, "", "node '" + req.node + "' has no port '" + port + "' (it has " + known + ")"};
  }
  auto t = std::make_unique<Tap>(Tap{engine.tasks_of(req.node), port, req.rate_per_s, req.count, req.metadata});
  t->refilled_ns = t->read_ns = monotonic_ns();
  t->tokens = std::min(1.0, req.rate_per_s);
  std::lock_guard lock(g_mu);
  close_idle(t->read_ns);
  uint64_t id = g_next_id++;
  for (Node* task : t->tasks) task->watch.taps.fetch_add(1, std::memory_order_relaxed);
  g_open_taps.fetch_add(1, std::memory_order_relaxed);
  taps().emplace(id, std::move(t));
  return {id, port, ""};
}

TapRead tap_read(uint64_t id) {
  TapRead out;
  std::lock_guard lock(g_mu);
  int64_t now = monotonic_ns();
  close_idle(now);
  auto it = taps().find(id);
  if (it == taps().end()) return out;
  Tap& t = *it->second;
  out.known = true;
  out.finished = std::all_of(t.tasks.begin(), t.tasks.end(), [](Node* n) { return n->finished.load(); });  // first: whatever it emitted before finishing is in the records below
  out.records.swap(t.records);
  out.dropped = std::exchange(t.dropped, 0);
  out.done = !t.attached;
  t.bytes = 0;
  t.read_ns = now;
  if (out.done) taps().erase(it);  // everything it took has now been read
  return out;
}

bool tap_close(uint64_t id) {
  std::lock_guard lock(g_mu);
  auto it = taps().find(id);
  if (it == taps().end()) return false;
  detach(*it->second);
  taps().erase(it);
  return true;
}

}  // namespace weir
