// Runs a validated pipeline: one thread per node, edges as bounded lock-free
// queues, acknowledgements flowing back to sources for at-least-once commits.
#pragma once

#include "ack.hpp"
#include "checkpoint.hpp"
#include "edge_queue.hpp"
#include "histogram.hpp"
#include "node_snapshot.hpp"
#include "node_watch.hpp"
#include "pipeline_plan.hpp"
#include "signal.hpp"
#include "sink_driver.hpp"
#include "watermarks.hpp"

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace weir {

class Engine;
struct Node;

struct NodeCounters {
  std::atomic<uint64_t> records_in{0}, records_out{0}, records_error{0}, batches_in{0}, commits{0};
  std::atomic<uint64_t> checkpoints{0};  // checkpoint files written (nodes with `checkpoint`)
  // Times the node's thread waited for something to do (it may have found it
  // already there). A node that wakes without work climbs fast: a spin shows here.
  std::atomic<uint64_t> wakeups{0};
  std::atomic<uint64_t> records_late{0};  // sent to `late` (older than the clock minus the allowed lateness)
  Histogram batch_ns;  // time spent in process()/write()/poll() per batch
  Histogram hop_ns;    // time a batch waited in the queue before this node took it
};

// Where a port's batches go: every destination node gets each record, and a
// destination running as several tasks gets it in the task that owns the
// record's source partition (routing.cpp).
struct OutputPort {
  std::string name;
  std::vector<EdgeQueue*> edges;                 // every queue, for depth, closing and "leads nowhere"
  std::vector<std::vector<EdgeQueue*>> targets;  // per destination node: one queue per task
};

// Work the control plane asks a node's own thread to do between batches
// (swap, reload, pause); returns "" or an error message. WORK owns everything it
// uses (copies, shared_ptrs): the command is shared by the node's queue and its
// waiter, and either of them may be first to let go. STATE is claimed once,
// atomically: by the node's thread when it starts the work (kRunning), or by
// the waiter when it gives up first (kCancelled: the work never runs). So a
// control answer is never "refused" for work that then happens anyway.
struct NodeCommand {
  enum State : int { kQueued, kRunning, kCancelled };
  std::function<std::string(Node&)> work;
  std::atomic<int> state{kQueued};
  std::promise<std::string> done;
  bool claim(int to) {
    int expected = kQueued;
    return state.compare_exchange_strong(expected, to, std::memory_order_acq_rel);
  }
};

// One running node. Plugins see it as an opaque weir_node*.
//
// Who owns what (style: every piece of state has one owner thread):
// - Set once, when the engine is built, then only read (any thread): index,
//   plan_index, name, task, tasks, kind, error_port, late_port, inputs,
//   per_partition, tracker, checkpoint, watermarks (the pointers), engine.
// - The node's thread (and, before the node threads start, the main thread
//   that creates and opens the instances) owns everything else that is not
//   marked otherwise: the plugin (descriptor, library, instance), its output
//   ports, the callback state (current, errors, holds ...), the partitions it
//   holds, timers, swaps and paused. Control changes them only through the
//   command mailbox (on_node_thread), whose work runs on the node's thread.
// - Other threads read `published` (node_snapshot.hpp), which the node's
//   thread replaces after each change, never the live fields.
// - Shared on purpose, each with its own synchronisation: the counters
//   (atomics), the mailbox (command_mu), gauges (any thread may set one, ABI),
//   the watch (node_watch.hpp), the error capture, signal, finished; and the
//   sink driver's inbox (host->sent, ack and reject_sent come from client
//   threads; sink_driver.hpp).
struct Node {
  size_t index = 0;       // in Engine::nodes()
  size_t plan_index = 0;  // in PipelinePlan::nodes
  std::string name;       // the node's name in the pipeline, shared by its tasks
  // `parallelism = N`: this is task TASK of TASKS, each an instance of its own
  // with a thread of its own, reading the partitions whose number % TASKS is TASK.
  uint32_t task = 0, tasks = 1;
  std::string label() const { return tasks == 1 ? name : name + "#" + std::to_string(task); }
  uint32_t kind = 0;  // weir_kind; a swap never changes it

  // The running plugin, replaced by a hot swap on the node's own thread.
  const weir_plugin* descriptor = nullptr;
  std::shared_ptr<PluginLibrary> library;
  std::shared_ptr<ParamValues> swapped_params;  // parameters of a swapped-in instance
  void* instance = nullptr;
  uint64_t swaps = 0;

  // What other threads read of the fields above and below (node_snapshot.hpp).
  Published<NodeSnapshot> published;
  int64_t next_publish_ns = 0;  // the next periodic publish (event time)

  // During a swap: the last ERROR line the node logged (a callback that returns
  // WEIR_FAILED says why through host->log; the SDK logs its exception), so
  // the control answer can give the plugin's own reason. Plugins may log from
  // their own threads, hence the lock.
  std::mutex error_capture_mu;
  bool capturing_errors = false;
  std::string captured_error;

  std::mutex command_mu;
  std::vector<std::shared_ptr<NodeCommand>> commands;
  std::atomic<bool> has_command{false};
  // Written by the node's thread only (pause and resume come through the
  // mailbox); atomic because the sink's loop, its retry waits and the
  // operator's wait predicates read it as they were written before.
  std::atomic<bool> paused{false};
  std::vector<AckGroup*> legacy_holds;  // holds of a swapped-out instance
  // During an operator callback: the batches it emitted (each with one extra
  // reference), so holds released in the same callback can be attached to them.
  bool collecting = false;
  std::vector<HostBatch*> emitted_now;
  std::vector<int32_t> emitted_ports;  // the port of each batch in emitted_now
  Engine* engine = nullptr;
  // The thread that calls the instance's entries (abi.h, threads): the main
  // thread until the node's thread starts, then that one, then the main thread
  // again for destroy. Host functions that must run there check it (host_api.cpp).
  std::atomic<std::thread::id> owner{};

  // A plugin may ask for a new port (e.g. at a reload): the node's thread adds
  // it and publishes; other threads see ports in `published` only.
  std::vector<OutputPort> outputs;
  int32_t error_port = -1;
  std::vector<EdgeQueue*> inputs;
  Signal signal;

  std::unique_ptr<AckTracker> tracker;  // sources only
  std::unique_ptr<Checkpointer> checkpoint;  // operators with `checkpoint = "FILE"`
  // State per partition (ABI 1.1, partitioned.cpp): the plugin holds the state
  // of these partitions; the node's thread owns the set.
  bool per_partition = false;
  std::set<int32_t> held_partitions;
  std::set<int32_t> restored_waiting;  // held, no record processed yet (a debug line marks the first)
  std::unique_ptr<Watermarks> watermarks;  // stateful operators: event time per input partition
  int32_t late_port = -1;                  // `late`, when the node has allowed_lateness_ms
  HostBatch* current = nullptr;         // the input batch being processed
  HostBatch* errors = nullptr;          // error records of the current callback
  HostBatch* late = nullptr;            // late records of the current callback
  std::map<uint64_t, std::vector<AckGroup*>> holds;
  uint64_t next_hold = 1;
  int64_t timer_interval_ns = 0;
  int64_t next_timer_ns = 0;

  // Sinks: the host's delivery (sink_driver.hpp). The node's thread drives it;
  // plugins report async outcomes into it from any thread (host->sent, ack).
  std::unique_ptr<SinkTarget> sink_target;
  std::unique_ptr<SinkDriver> driver;

  std::mutex gauge_mu;
  std::map<std::string, double> gauges;  // "name{labels}" -> value

  NodeCounters counters;
  mutable NodeWatch watch;  // log lines, error samples, commits and taps, for the console (node_watch.hpp)
  std::atomic<bool> finished{false};
  std::thread thread;
};

struct EngineOptions {
  std::string dead_letter_path;  // JSON lines of unrouted error records ("" = log only)
  // How long the drain may take, from a graceful stop (Ctrl-C, --duration) or
  // from the end of every source's input: past it, the engine gives up as on a
  // second Ctrl-C (nothing more is acknowledged, so what was not delivered is
  // read again on restart).
  int64_t drain_timeout_ms = 30'000;
  // Called once, on the thread that failed, when the pipeline fails (weir run
  // bounds the time to exit with it).
  std::function<void()> on_failure;
  // Called once by run() when every node is open and running (weir run: systemd's READY).
  std::function<void()> on_running;
};

class Engine {
 public:
  Engine(PipelinePlan& plan, EngineOptions options);
  ~Engine();

  // Creates every plugin instance (configure phase). False with diagnostics on failure.
  bool create(Diagnostics& diags);
  // After create(), before run(): nodes with a checkpoint file resume its state.
  bool restore_checkpoints(Diagnostics& diags);
  // Opens all nodes, runs until every source ends or stop() drains the pipeline.
  // Returns 0 when everything was delivered, 1 if a node failed.
  int run();
  // Graceful stop: sources stop, queues drain, sinks flush. Safe from a signal thread.
  void stop();
  // A node failed: every node stops at once, nothing more is delivered or
  // acknowledged (batches in flight are abandoned, so their sources do not
  // commit them), and run() returns 1. Logged as ERROR the first time.
  void fail(const std::string& why);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Second Ctrl-C: give up on draining; nothing more is acknowledged.
  void hard_stop() { hard_stop_.store(true); stop(); }
  bool hard_stopped() const { return hard_stop_.load(std::memory_order_acquire); }
  bool failed() const { return failed_.load(); }
  // Nothing more is delivered or acknowledged (a hard stop or a failure): a
  // push into a full queue gives up, retries stop.
  bool abandoning() const { return hard_stopped() || failed(); }
  // The drain timeout passed: run() gave up on what was in flight.
  bool drain_gave_up() const { return drain_gave_up_.load(); }

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<EdgeQueue>>& edges() const { return edges_; }
  // The queues of the plan's edge I: one per pair of tasks at its two ends.
  const std::vector<EdgeQueue*>& queues_of_edge(size_t i) const { return plan_edge_queues_[i]; }
  const PipelinePlan& plan() const { return plan_; }
  // After `weir ctl apply` (on the control thread, which alone reads plan().config
  // once the pipeline runs): the running parameters now come from this file.
  void adopt_config(PipelineConfig config);
  // The running pipeline's file, for any thread (/status).
  std::string pipeline_file() const { return *pipeline_file_.load(); }
  int64_t started_ns() const { return started_ns_.load(std::memory_order_relaxed); }

  void log(const Node* node, int level, const std::string& message);

  // Runs WORK on NODE's thread between two batches and waits for its result
  // ("" = ok). Fails if the node is unknown or has finished. If the node does
  // not start WORK within TIMEOUT_MS, WORK is cancelled and never runs; once
  // started, its result is waited for however long it takes. WORK must own
  // whatever it uses (capture by value).
  std::string on_node_thread(const std::string& node, std::function<std::string(Node&)> work,
                             int64_t timeout_ms = 10'000);
  Node* find(const std::string& name) const;  // its first task
  std::vector<Node*> tasks_of(const std::string& name) const;
  void dead_letter(const Node& node, const weir_record& record, const std::string& reason);

 private:
  std::unique_ptr<Node> make_node(size_t plan_index, uint32_t task);
  void run_source(Node& n);
  void run_operator(Node& n);
  void run_sink(Node& n);
  void finish(Node& n);
  void resume(Node& n, Diagnostics& diags);  // restores a checkpointed node's saved state
  bool take_checkpoint(Node& n);
  bool settle_checkpoint(Node& n);
  void checkpoint_step(Node& n);
  void final_checkpoint(Node& n);
  void begin_drain();  // starts the drain timeout (once)
  // partitioned.cpp: one input batch through an operator (control batches,
  // the split per partition, late records, what a restored state holds).
  bool process_input(Node& n, HostBatch* input);
  bool process_batch(Node& n, HostBatch* b);
  bool hold_partition(Node& n, int32_t partition);
  void on_revoked(Node& n, const HostBatch& control);
  bool on_watermarks(Node& n, HostBatch* control);
  void pass_watermarks(Node& n, const HostBatch& input);
  bool check(Node& n, int status, const char* what);

  PipelinePlan& plan_;
  EngineOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<EdgeQueue>> edges_;
  std::vector<std::vector<EdgeQueue*>> plan_edge_queues_;
  std::atomic<bool> stopping_{false}, failed_{false}, hard_stop_{false}, drain_gave_up_{false};
  std::atomic<int64_t> started_ns_{0};  // read by the metrics thread
  std::atomic<int64_t> drain_started_ns_{0};  // the first stop() or the end of every input (0: not yet)
  std::atomic<int> sources_running_{0};        // source tasks whose input has not ended
  Published<std::string> pipeline_file_;
  std::mutex log_mu_;
  std::mutex dead_letter_mu_;
  uint64_t unrouted_errors_ = 0;
};

int64_t monotonic_ns();
// Messages below this level are not printed (WEIR_LOG_*).
int log_level();
void set_log_level(int level);
int64_t realtime_ns();

// Brackets an operator callback (process, on_timer, flush). Holds released
// inside it are attached to the batches it emitted: rows derived from held
// records (a window's result) keep those records uncommitted until they are
// written downstream, not just computed.
void begin_callback(Node& n);
void end_callback(Node& n);
// Attaches GROUPS to every batch emitted in the current callback.
void attach_to_emitted(Node& n, const std::vector<AckGroup*>& groups);

// Runs the commands queued for N (on N's thread).
void run_commands(Node& n);

// Host-side routing shared with the C callbacks (routing.cpp).
int emit_batch(Node& n, int32_t port, HostBatch* b);
// Sends B on port PORT as it is (its records are counted; its groups are not
// touched): takes one reference of B.
int send_batch(Node& n, int32_t port, HostBatch* b);
void flush_errors(Node& n);
// Sends B (a control batch, e.g. revoked partitions) on every output edge.
void emit_control(Node& n, HostBatch* b);
// Sends B (a control batch) on PORT only.
void send_control(Node& n, int32_t port, HostBatch* b);
// Appends a copy of RECORD (its bytes in BATCH's arena; BATCH allocated if null)
// with EXTRA_FIELDS zeroed fields after its own, for the caller to fill.
weir_record& copy_record(HostBatch*& batch, const weir_record* record, uint32_t extra_fields);
// Drops the error records of a callback whose work will be repeated.
void discard_errors(Node& n);

}  // namespace weir
