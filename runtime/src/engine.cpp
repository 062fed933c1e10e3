#include "engine.hpp"

#include "host_api.hpp"
#include "sink_target.hpp"
#include "systemd.hpp"

#include <weir/json.hpp>

#include <algorithm>
#include <pthread.h>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <map>

namespace weir {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

static std::atomic<int> g_log_level{WEIR_LOG_INFO};
int log_level() { return g_log_level.load(std::memory_order_relaxed); }
void set_log_level(int level) { g_log_level.store(level); }

static const char* level_name(int level) {
  switch (level) {
    case WEIR_LOG_DEBUG: return "DEBUG";
    case WEIR_LOG_INFO: return "INFO";
    case WEIR_LOG_WARN: return "WARN";
    default: return "ERROR";
  }
}

void Engine::log(const Node* node, int level, const std::string& message) {
  if (node) node->watch.log(level, message);
  if (level < log_level()) return;
  if (systemd::journal(node ? node->label() : std::string(), level, message)) return;  // under systemd: the node as a field
  // Milliseconds: a rebalance or a swap is over in less than a second.
  int64_t ns = realtime_ns();
  std::time_t now = static_cast<std::time_t>(ns / 1'000'000'000);
  char stamp[40];
  std::tm utc;
  gmtime_r(&now, &utc);  // std::gmtime's buffer is shared by every thread
  size_t len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + len, sizeof stamp - len, ".%03dZ", static_cast<int>(ns / 1'000'000 % 1000));
  std::lock_guard lock(log_mu_);
  std::cerr << stamp << ' ' << level_name(level) << ' ' << (node ? "[" + node->label() + "] " : std::string()) << message
            << std::endl;
}

Engine::Engine(PipelinePlan& plan, EngineOptions options) : plan_(plan), options_(std::move(options)) {
  started_ns_ = monotonic_ns();
  std::vector<std::vector<Node*>> tasks(plan_.nodes.size());
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const NodePlan& p = plan_.nodes[i];
    for (uint32_t t = 0; t < p.parallelism; ++t) {
      nodes_.push_back(make_node(i, t));
      tasks[i].push_back(nodes_.back().get());
    }
  }
  // Every task of the upstream node reaches every task of the downstream one.
  for (const Edge& e : plan_.edges) {
    std::vector<EdgeQueue*>& queues = plan_edge_queues_.emplace_back();
    for (Node* from : tasks[e.from_node]) {
      std::vector<EdgeQueue*> target;
      for (Node* to : tasks[e.to_node]) {
        edges_.push_back(std::make_unique<EdgeQueue>(plan_.config.queue_batches, &from->signal, &to->signal));
        EdgeQueue* q = edges_.back().get();
        target.push_back(q);
        queues.push_back(q);
        to->inputs.push_back(q);
      }
      for (auto& port : from->outputs)
        if (port.name == e.from_port) {
          port.edges.insert(port.edges.end(), target.begin(), target.end());
          port.targets.push_back(target);
        }
    }
  }
  for (auto& n : nodes_) publish_snapshot(*n);
  pipeline_file_.store(std::make_shared<const std::string>(plan_.config.file));
}

void Engine::adopt_config(PipelineConfig config) {
  pipeline_file_.store(std::make_shared<const std::string>(config.file));
  plan_.config = std::move(config);
}

std::unique_ptr<Node> Engine::make_node(size_t plan_index, uint32_t task) {
  const NodePlan& p = plan_.nodes[plan_index];
  auto n = std::make_unique<Node>();
  n->index = nodes_.size();
  n->plan_index = plan_index;
  n->task = task;
  n->tasks = p.parallelism;
  n->name = p.name;
  n->library = p.library;
  n->descriptor = &n->library->descriptor();
  n->kind = n->descriptor->kind;
  n->engine = this;
  n->owner = std::this_thread::get_id();
  for (const auto& port : p.output_ports) {
    if (port == "error") n->error_port = static_cast<int32_t>(n->outputs.size());
    n->outputs.push_back({port, {}, {}});
  }
  for (size_t o = 0; o < n->outputs.size(); ++o)
    if (n->outputs[o].name == "late" && p.allowed_lateness_ms) n->late_port = static_cast<int32_t>(o);
  if (n->descriptor->kind == WEIR_SOURCE) n->tracker = std::make_unique<AckTracker>(&n->signal);
  if (n->kind == WEIR_SINK) {
    n->sink_target = std::make_unique<PluginSinkTarget>(*n);
    n->driver = std::make_unique<SinkDriver>(*n->sink_target, DeliveryPolicy::of(p.params));
  }
  n->per_partition = p.per_partition;
  if (n->kind == WEIR_OPERATOR && (n->descriptor->flags & WEIR_FLAG_STATEFUL)) {
    WatermarkOptions w;
    w.allowed_lateness_ns = p.allowed_lateness_ms ? *p.allowed_lateness_ms * 1'000'000 : -1;
    w.idle_timeout_ns = p.idle_timeout_ms * 1'000'000;
    w.max_ahead_ns = p.max_ahead_ms * 1'000'000;
    w.per_partition = p.per_partition;
    n->watermarks = std::make_unique<Watermarks>(w);
  }
  // Tasks share the node's checkpoints: each writes the partitions it holds.
  if (!p.checkpoint.empty())
    n->checkpoint = std::make_unique<Checkpointer>(p.checkpoint, p.checkpoint_interval_ms, &n->signal, p.per_partition);
  return n;
}

Engine::~Engine() {
  for (auto& n : nodes_)
    if (n->thread.joinable()) n->thread.join();
  // What a hard stop or a failure left in the queues was never delivered: let it go
  // (abandoned, so no source counts it as acknowledged) while the plugins still exist.
  for (auto& q : edges_)
    while (HostBatch* b = q->pop()) abandon(b);
  for (auto& n : nodes_) {
    n->owner = std::this_thread::get_id();  // the node is the main thread's again
    if (n->instance) n->descriptor->vtable->destroy(n->instance);
    n->instance = nullptr;
  }
}

bool Engine::create(Diagnostics& diags) {
  for (auto& n : nodes_) {
    char err[1024] = {0};
    const NodePlan& p = plan_.nodes[n->plan_index];
    if (n->task == 0)
      for (const Diagnostic& w : p.warnings) log(n.get(), WEIR_LOG_WARN, w.str());
    n->instance = n->descriptor->vtable->create(&host_api(), reinterpret_cast<weir_node*>(n.get()), p.params.data(),
                                                p.params.size(), err, sizeof err);
    if (!n->instance && !(n->task > 0 && nodes_[n->index - 1]->instance == nullptr))  // once per node
      diags.add(p.pos, std::string(n->descriptor->name) + " \"" + n->name + "\": " + (err[0] ? err : "create failed"));
  }
  return diags.empty();
}

bool Engine::restore_checkpoints(Diagnostics& diags) {
  std::string pipeline = std::filesystem::path(plan_.config.file).stem().string();
  for (auto& n : nodes_) {
    if (!n->checkpoint || !n->instance) continue;
    std::string error;
    if (!n->checkpoint->open(pipeline, n->name, error)) diags.add(plan_.nodes[n->plan_index].pos, "node '" + n->name + "': " + error);
    else resume(*n, diags);
  }
  return diags.empty();
}

void Engine::resume(Node& n, Diagnostics& diags) {
  // State per partition is restored partition by partition, before each one's
  // first record (hold_partition): which partitions are ours is known only then.
  if (n.per_partition) return;
  const SourcePos& pos = plan_.nodes[n.plan_index].pos;
  std::string error;
  std::optional<CheckpointData> saved = n.checkpoint->saved_node(error);
  if (!saved) {
    if (!error.empty()) diags.add(pos, "node '" + n.name + "': " + error);
    else log(&n, WEIR_LOG_INFO, "no checkpoint at " + n.checkpoint->path() + " yet: starting with empty state");
    return;
  }
  if (saved->plugin != n.descriptor->name) {
    diags.add(pos, "node '" + n.name + "': " + n.checkpoint->path() + " holds the state of plugin '" + saved->plugin +
                       "', not '" + n.descriptor->name + "'; move it away to start with empty state");
    return;
  }
  if (n.descriptor->vtable->restore(n.instance, saved->state.data(), saved->state.size()) != WEIR_OK) {
    diags.add(pos, "node '" + n.name + "': " + n.descriptor->name + " could not restore " + n.checkpoint->path() +
                       "; move it away to start with empty state");
    return;
  }
  std::string where;
  for (auto [partition, offset] : saved->positions)
    where += (where.empty() ? "" : ", ") + std::to_string(partition) + ":" + std::to_string(offset);
  log(&n, WEIR_LOG_INFO, "resumed from checkpoint " + n.checkpoint->path() + " (" + std::to_string(saved->state.size()) +
                             " bytes of state; input up to " + (where.empty() ? "nothing" : where) + " is in it)");
  n.checkpoint->resume_after(std::move(saved->positions));
}

void Engine::begin_drain() {
  int64_t not_yet = 0;
  drain_started_ns_.compare_exchange_strong(not_yet, monotonic_ns(), std::memory_order_acq_rel);
}

void Engine::stop() {
  begin_drain();
  stopping_.store(true, std::memory_order_release);
  for (auto& n : nodes_) n->signal.notify();
}

void Engine::fail(const std::string& why) {
  if (failed_.exchange(true)) {
    // Most later failures are the first one's consequences (a push refused, a write abandoned).
    log(nullptr, WEIR_LOG_WARN, "after the failure: " + why);
    return;
  }
  log(nullptr, WEIR_LOG_ERROR, "pipeline failed: " + why + "; stopping without acknowledging undelivered records");
  // Wakes every node: those blocked on a full queue give up their push (see emit_batch).
  stop();
  if (options_.on_failure) options_.on_failure();
}

bool Engine::check(Node& n, int status, const char* what) {
  if (status != WEIR_FAILED) return true;
  fail("node '" + n.name + "' " + what + " failed");
  return false;
}

// ------------------------------------------------------------------ callbacks

void begin_callback(Node& n) { n.collecting = n.kind == WEIR_OPERATOR; }

void attach_to_emitted(Node& n, const std::vector<AckGroup*>& groups) {
  // Safe although the batches may already be downstream: their groups are
  // only read when the last reference goes, and we still hold one. Not the
  // input forwarded as is: it is not derived from held records, and sibling
  // operators reading the same input may be copying its groups right now.
  for (HostBatch* b : n.emitted_now) {
    if (b == n.current) continue;
    for (AckGroup* g : groups) {
      g->retain();
      b->acks.push_back(g);
    }
  }
}

void end_callback(Node& n) {
  n.collecting = false;
  // A checkpoint taken after this callback waits until what it emitted is written.
  if (n.checkpoint) n.checkpoint->track_emitted(n.emitted_now);
  for (HostBatch* b : n.emitted_now) release(b);
  n.emitted_now.clear();
  n.emitted_ports.clear();
}

void discard_errors(Node& n) {
  if (n.errors) release(std::exchange(n.errors, nullptr));
}

void flush_errors(Node& n) {
  if (!n.errors) return;
  HostBatch* b = std::exchange(n.errors, nullptr);
  emit_batch(n, n.error_port, b);
}

void Engine::dead_letter(const Node& node, const weir_record& record, const std::string& reason) {
  std::lock_guard lock(dead_letter_mu_);
  ++unrouted_errors_;
  // The first few in full, then a reminder now and then: errors are counted in the metrics.
  if (unrouted_errors_ <= 10 || unrouted_errors_ % 10000 == 0)
    log(&node, WEIR_LOG_WARN,
        "record rejected (" + reason + "): " + to_json(Record(&record)) +
            (unrouted_errors_ == 10 ? " (further rejections are counted, logged every 10000th)" : ""));
  if (!options_.dead_letter_path.empty()) {
    std::ofstream out(options_.dead_letter_path, std::ios::app);
    out << to_json(Record(&record), true) << '\n';
  }
}

// ------------------------------------------------------------------ control

Node* Engine::find(const std::string& name) const {
  for (const auto& n : nodes_)
    if (n->name == name) return n.get();
  return nullptr;
}

void run_commands(Node& n) {
  if (!n.has_command.load(std::memory_order_acquire)) return;
  std::vector<std::shared_ptr<NodeCommand>> todo;
  {
    std::lock_guard lock(n.command_mu);
    todo.swap(n.commands);
    n.has_command = false;
  }
  for (auto& c : todo) {
    if (n.finished.load()) {
      if (c->claim(NodeCommand::kCancelled)) c->done.set_value("node '" + n.name + "' has finished");
      continue;
    }
    if (!c->claim(NodeCommand::kRunning)) continue;  // its waiter gave up: it must not run
    try {
      c->done.set_value(c->work(n));
    } catch (const std::exception& e) {
      c->done.set_value(e.what());
    }
  }
}

std::vector<Node*> Engine::tasks_of(const std::string& name) const {
  std::vector<Node*> out;
  for (const auto& n : nodes_)
    if (n->name == name) out.push_back(n.get());
  return out;
}

// One node's command on one of its tasks.
static std::string on_task_thread(Engine& engine, Node& n, std::function<std::string(Node&)> work, int64_t timeout_ms) {
  if (n.finished.load()) return "node '" + n.label() + "' has finished";
  auto cmd = std::make_shared<NodeCommand>();
  cmd->work = std::move(work);
  auto result = cmd->done.get_future();
  {
    std::lock_guard lock(n.command_mu);
    n.commands.push_back(cmd);
    n.has_command = true;
  }
  n.signal.notify();
  if (result.wait_for(std::chrono::milliseconds(timeout_ms)) == std::future_status::ready) return result.get();
  if (cmd->claim(NodeCommand::kCancelled))
    return "node '" + n.label() + "' did not take the request within " + std::to_string(timeout_ms) +
           " ms (busy in a long batch, or blocked on a full queue?); cancelled, nothing was changed";
  // The node's thread started it meanwhile: it goes to its end, and the answer says how it went.
  engine.log(&n, WEIR_LOG_INFO, "control request started after " + std::to_string(timeout_ms) + " ms; waiting for its outcome");
  return result.get();
}

std::string Engine::on_node_thread(const std::string& name, std::function<std::string(Node&)> work, int64_t timeout_ms) {
  std::vector<Node*> tasks = tasks_of(name);
  if (tasks.empty()) {
    std::vector<std::string> names;
    for (const auto& node : nodes_) names.push_back(node->name);
    return "no node named '" + name + "'" + did_you_mean(name, names);
  }
  // Task after task: a task that refuses stops the round (those before it
  // keep what they did, and the answer names the task).
  for (Node* n : tasks)
    if (std::string err = on_task_thread(*this, *n, work, timeout_ms); !err.empty())
      return tasks.size() == 1 ? err : "task " + std::to_string(n->task) + " of " + std::to_string(tasks.size()) + ": " + err;
  return "";
}

// ------------------------------------------------------------------ node threads

static void wait_on(Node& n, int64_t timeout_ns, const std::function<bool()>& ready) {
  n.counters.wakeups.fetch_add(1, std::memory_order_relaxed);
  uint32_t key = n.signal.prepare();
  if (ready()) {
    n.signal.cancel();
    return;
  }
  n.signal.wait(key, timeout_ns);
}

static void run_timer(Node& n) {
  if (n.timer_interval_ns <= 0 || !n.descriptor->vtable->on_timer) return;
  int64_t now = monotonic_ns();
  if (now < n.next_timer_ns) return;
  n.next_timer_ns = now + n.timer_interval_ns;
  begin_callback(n);
  int st = n.descriptor->vtable->on_timer(n.instance, realtime_ns());
  flush_errors(n);
  end_callback(n);
  if (st == WEIR_FAILED) n.engine->fail("node '" + n.name + "' on_timer failed");
}

static int64_t timer_wait_ns(const Node& n, int64_t fallback) {
  if (n.timer_interval_ns <= 0) return fallback;
  return std::clamp<int64_t>(n.next_timer_ns - monotonic_ns(), 0, fallback);
}

static void close_outputs(Node& n) {
  for (auto& port : n.outputs)
    for (EdgeQueue* e : port.edges) e->close();
}

static void commit_acked(Node& n) {
  std::vector<weir_position> done = n.tracker->collect();
  if (done.empty() || !n.descriptor->vtable->commit) return;
  n.counters.commits.fetch_add(1, std::memory_order_relaxed);
  int st = n.descriptor->vtable->commit(n.instance, done.data(), static_cast<uint32_t>(done.size()));
  if (st == WEIR_FAILED) n.engine->log(&n, WEIR_LOG_WARN, "commit failed; it is retried with the next acknowledgement");
  else n.watch.committed(done.data(), static_cast<uint32_t>(done.size()));
}

// The node's entries are read at each call, never kept: a hot swap replaces
// them (and the library they live in) between two calls.
static const weir_plugin_vtable& entries(const Node& n) { return *n.descriptor->vtable; }

void Engine::run_source(Node& n) {
  while (!stopping()) {
    run_commands(n);
    if (n.paused.load()) {
      wait_on(n, 100'000'000, [&] { return stopping() || n.has_command.load() || !n.paused.load(); });
      continue;
    }
    int64_t t0 = monotonic_ns();
    uint64_t before = n.counters.records_out.load(std::memory_order_relaxed);
    int st = entries(n).poll(n.instance);
    flush_errors(n);
    if (n.counters.records_out.load(std::memory_order_relaxed) != before)
      n.counters.batch_ns.record(static_cast<uint64_t>(monotonic_ns() - t0));
    commit_acked(n);
    run_timer(n);
    if (st == WEIR_END) break;
    if (!check(n, st, "poll")) break;
    if (st == WEIR_IDLE) wait_on(n, timer_wait_ns(n, 5'000'000), [&] { return stopping() || n.has_command.load(); });
  }
  close_outputs(n);
  // The last source to end its input (rather than being stopped) starts the drain.
  if (sources_running_.fetch_sub(1) == 1) begin_drain();
  // Wait for everything emitted to be acknowledged, committing as it comes
  // (bounded by the drain timeout: run() hard-stops past it).
  while (n.tracker->outstanding() > 0 && !abandoning()) {
    commit_acked(n);
    wait_on(n, 50'000'000, [&] { return n.tracker->outstanding() == 0; });
  }
  commit_acked(n);
  if (n.tracker->outstanding() > 0)
    log(&n, WEIR_LOG_WARN, std::to_string(n.tracker->outstanding()) +
                               " batches were not acknowledged before shutdown; they will be delivered again");
}

// Takes the next batch from any input, round robin so no input starves.
static HostBatch* next_input(Node& n, size_t& cursor) {
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    EdgeQueue* e = n.inputs[(cursor + i) % n.inputs.size()];
    if (HostBatch* b = e->pop()) {
      cursor = (cursor + i + 1) % n.inputs.size();
      n.counters.hop_ns.record(static_cast<uint64_t>(monotonic_ns() - b->emitted_ns.load(std::memory_order_relaxed)));
      n.counters.batches_in.fetch_add(1, std::memory_order_relaxed);
      n.counters.records_in.fetch_add(b->count, std::memory_order_relaxed);
      return b;
    }
  }
  return nullptr;
}

static bool inputs_done(const Node& n) {
  for (EdgeQueue* e : n.inputs)
    if (!e->closed() || !e->empty_for_consumer()) return false;
  return true;
}

// Whether the node has something to take, or every input has ended (its loop
// then finishes). One input that ended while another is still open is no
// reason to wake: counting it as "ready" made such a node spin a core.
static bool input_ready(const Node& n) {
  for (EdgeQueue* e : n.inputs)
    if (!e->empty_for_consumer()) return true;
  return inputs_done(n);
}

// Snapshots the node now; the checkpoint is written once its output is delivered.
bool Engine::take_checkpoint(Node& n) {
  if (n.per_partition) {
    // Every partition whose state changed: the input since the last take
    // spans them all, and it is released only once all of them are written.
    std::vector<Checkpointer::PartitionSnapshot> parts;
    for (int32_t p : n.checkpoint->dirty_partitions()) {
      if (!n.held_partitions.count(p)) continue;
      std::string state;
      if (!snapshot_of_partition(n.descriptor->vtable, n.instance, p, state)) {
        fail("node '" + n.name + "': snapshot of partition " + std::to_string(p) + " for checkpoint " +
             n.checkpoint->path_for(p) + " failed");
        return false;
      }
      parts.push_back({p, std::move(state), n.watermarks ? n.watermarks->of(p) : Watermarks::kUnknown});
    }
    n.checkpoint->take_partitions(n.descriptor->name, std::move(parts), monotonic_ns());
    return true;
  }
  std::string state;
  if (!snapshot_of(n.descriptor->vtable, n.instance, state)) {
    fail("node '" + n.name + "': snapshot for checkpoint " + n.checkpoint->path() + " failed");
    return false;
  }
  n.checkpoint->take(n.descriptor->name, std::move(state), monotonic_ns());
  return true;
}

// Writes what is ready; a file that cannot be written stops the pipeline.
bool Engine::settle_checkpoint(Node& n) {
  std::string error = n.checkpoint->settle();
  n.counters.checkpoints.store(n.checkpoint->written(), std::memory_order_relaxed);
  if (error.empty()) return true;
  fail("node '" + n.name + "': checkpoint not written: " + error + " (nothing after the last checkpoint is committed)");
  return false;
}

void Engine::checkpoint_step(Node& n) {
  if (n.checkpoint->due(monotonic_ns()) && !take_checkpoint(n)) return;
  settle_checkpoint(n);
}

// Graceful end: a last checkpoint of the flushed state, written once everything
// emitted is delivered, so a restart continues exactly where this run stopped.
void Engine::final_checkpoint(Node& n) {
  if (!take_checkpoint(n)) return;
  Checkpointer& c = *n.checkpoint;
  while (!abandoning()) {
    if (!settle_checkpoint(n) || c.settled()) return;
    wait_on(n, 100'000'000, [&] { return c.delivery_moved() || abandoning(); });
  }
  if (!c.settled()) log(&n, WEIR_LOG_WARN, "last checkpoint not written: its output was not delivered in time");
}

static int64_t checkpoint_wait_ns(const Node& n, int64_t wait) {
  if (!n.checkpoint) return wait;
  return std::clamp<int64_t>(n.checkpoint->next_due_ns() - monotonic_ns(), 0, wait);
}

void Engine::run_operator(Node& n) {
  size_t cursor = 0;
  auto checkpoint_ready = [&] { return n.checkpoint && n.checkpoint->delivery_moved(); };
  while (!abandoning()) {
    run_commands(n);
    run_timer(n);
    if (n.checkpoint) checkpoint_step(n);
    if (n.paused.load()) {
      if (inputs_done(n)) break;
      wait_on(n, checkpoint_wait_ns(n, timer_wait_ns(n, 100'000'000)),
              [&] { return n.has_command.load() || !n.paused.load() || checkpoint_ready(); });
      continue;
    }
    if (n.watermarks) publish_snapshot_due(n, monotonic_ns());
    if (HostBatch* input = next_input(n, cursor)) {
      if (!process_input(n, input)) break;
      continue;
    }
    if (inputs_done(n)) break;
    wait_on(n, checkpoint_wait_ns(n, timer_wait_ns(n, 100'000'000)),
            [&] { return input_ready(n) || n.has_command.load() || checkpoint_ready(); });
  }
  if (!failed() && entries(n).flush) {
    begin_callback(n);
    check(n, entries(n).flush(n.instance), "flush");
    flush_errors(n);
    end_callback(n);
  }
  // The plugin has flushed: anything it still holds is done with (unless the
  // pipeline failed, when nothing more may be acknowledged).
  if (!failed()) {
    for (auto& [token, groups] : n.holds)
      for (AckGroup* g : groups) g->release();
    for (AckGroup* g : n.legacy_holds) g->release();
  }
  n.holds.clear();
  n.legacy_holds.clear();
  if (n.watermarks) publish_snapshot(n);  // the final figures for --status-out
  close_outputs(n);
  if (n.checkpoint && !failed() && !hard_stopped()) final_checkpoint(n);
}

// Delivery is the driver's (sink_driver.hpp): this loop feeds it input, lets
// it send and retry, and between its steps serves control and timers, so a
// sink that keeps failing still answers pause, resume and swap at once.
void Engine::run_sink(Node& n) {
  SinkDriver& driver = *n.driver;
  size_t cursor = 0;
  auto step = [&] {
    if (!driver.step(monotonic_ns(), !n.paused.load())) check(n, WEIR_FAILED, "write");
  };
  auto wait_ns = [&] {
    int64_t due = driver.next_due();
    int64_t wait = due == INT64_MAX ? 100'000'000 : std::max<int64_t>(due - monotonic_ns(), 0);
    return timer_wait_ns(n, std::min<int64_t>(wait, 100'000'000));
  };
  while (!abandoning()) {
    run_commands(n);
    run_timer(n);
    step();
    bool paused = n.paused.load();
    bool took = false;
    while (!paused && !driver.full()) {
      HostBatch* b = next_input(n, cursor);
      if (!b) break;
      took = true;
      if (b->control()) release(b);  // revoked partitions: a sink keeps no state of them
      else driver.add(b, monotonic_ns());
    }
    if (took) continue;  // send what came before waiting
    if (inputs_done(n)) {
      driver.end_input();  // what is gathered goes without its linger
      if (paused || driver.all_sent()) break;
    }
    wait_on(n, wait_ns(), [&] {
      return n.has_command.load() || (!paused && !driver.full() && input_ready(n)) || driver.reported() ||
             driver.next_due() <= monotonic_ns();
    });
  }
  // The input ended (or the pipeline stops): what is gathered goes now, the
  // plugin flushes, and what it sent asynchronously is waited for (and retried).
  driver.end_input();
  bool flushed = false;
  while (!abandoning() && !driver.idle()) {
    run_commands(n);
    run_timer(n);  // plugins that linger on their timer keep doing so while draining
    step();
    if (!flushed && driver.all_sent()) {
      flushed = true;
      if (entries(n).flush) check(n, entries(n).flush(n.instance), "flush");
      continue;
    }
    if (driver.idle()) break;
    wait_on(n, wait_ns(), [&] { return n.has_command.load() || driver.reported() || driver.next_due() <= monotonic_ns(); });
  }
  if (!flushed && !failed() && entries(n).flush) check(n, entries(n).flush(n.instance), "flush");
  close_outputs(n);  // a sink's only output is its error port
}

void Engine::finish(Node& n) {
  if (n.descriptor->vtable->close) check(n, n.descriptor->vtable->close(n.instance), "close");
  // Not delivered (a hard stop, a failure, the drain timeout): its sources do
  // not commit it. After close(): the plugin no longer reports on its requests.
  if (n.driver) n.driver->abandon_all();
  n.finished.store(true);
  run_commands(n);  // fails whatever is still queued: the node is gone
  // Let upstream/downstream neighbours re-check their state.
  for (auto& other : nodes_) other->signal.notify();
}

int Engine::run() {
  started_ns_ = monotonic_ns();
  // Open sinks first so data never arrives at a node that is not ready.
  std::vector<Node*> order;
  for (int kind : {WEIR_SINK, WEIR_OPERATOR, WEIR_SOURCE})
    for (auto& n : nodes_)
      if (static_cast<int>(n->descriptor->kind) == kind) order.push_back(n.get());
  for (Node* n : order) {
    if (n->descriptor->vtable->open && n->descriptor->vtable->open(n->instance) != WEIR_OK) {
      fail("node '" + n->name + "' could not open");
      break;
    }
  }
  if (failed()) return 1;
  sources_running_.store(static_cast<int>(
      std::count_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->descriptor->kind == WEIR_SOURCE; })));
  for (auto& np : nodes_) {
    Node* n = np.get();
    n->thread = std::thread([this, n] {
      n->owner = std::this_thread::get_id();
      // `top -H`, perf and gdb show which node a thread runs (names are cut at 15 bytes).
      pthread_setname_np(pthread_self(), ("w:" + n->label()).substr(0, 15).c_str());
      switch (n->descriptor->kind) {
        case WEIR_SOURCE: run_source(*n); break;
        case WEIR_OPERATOR: run_operator(*n); break;
        default: run_sink(*n); break;
      }
      finish(*n);
    });
  }
  if (options_.on_running) options_.on_running();
  // The one place that bounds the drain (after a stop, or once every source's
  // input has ended): node threads wait on their own conditions (a sink retrying
  // a dead server, an operator pushing into its full queue, a source waiting
  // for acknowledgements), so this thread watches the clock for all of them.
  auto all_finished = [this] {
    return std::all_of(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->finished.load(); });
  };
  while (!all_finished()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t began = drain_started_ns_.load(std::memory_order_acquire);
    if (began != 0 && !abandoning() && monotonic_ns() - began > options_.drain_timeout_ms * 1'000'000) {
      log(nullptr, WEIR_LOG_WARN,
          "the drain did not end within " + std::to_string(options_.drain_timeout_ms) +
              " ms: giving up; what was not delivered is not acknowledged and will be read again on restart");
      drain_gave_up_.store(true);
      hard_stop();
    }
  }
  for (auto& n : nodes_) n->thread.join();
  return failed() ? 1 : 0;
}

}  // namespace weir
