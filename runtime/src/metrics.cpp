#include "metrics.hpp"

#include "engine.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace weir {

// A node running as several tasks has a series per task.
static std::string task_label(const Node& n) {
  return n.tasks == 1 ? "" : ",task=\"" + std::to_string(n.task) + "\"";
}
static std::string node_labels(const Node& n) { return "node=\"" + n.name + "\"" + task_label(n); }

// Every node's snapshot, taken once per answer: the figures of one answer agree.
static std::vector<std::shared_ptr<const NodeSnapshot>> snapshots(const Engine& engine) {
  std::vector<std::shared_ptr<const NodeSnapshot>> out;
  for (const auto& n : engine.nodes()) out.push_back(n->published.load());
  return out;
}

std::string prometheus_text(const Engine& engine) {
  std::ostringstream out;
  const auto snaps = snapshots(engine);
  auto counter = [&](const char* name, const char* help, auto get) {
    out << "# HELP weir_" << name << ' ' << help << "\n# TYPE weir_" << name << " counter\n";
    for (const auto& n : engine.nodes())
      out << "weir_" << name << "{" << node_labels(*n) << ",plugin=\"" << snaps[n->index]->plugin().name << "\"} " << get(*n)
          << '\n';
  };
  counter("records_in_total", "Records received by the node.", [](const Node& n) { return n.counters.records_in.load(); });
  counter("records_out_total", "Records emitted (sources, operators) or written and acknowledged (sinks).",
          [](const Node& n) { return n.counters.records_out.load(); });
  counter("records_error_total", "Records sent to the node's error port.",
          [](const Node& n) { return n.counters.records_error.load(); });
  counter("commits_total", "Source commits of acknowledged positions.", [](const Node& n) { return n.counters.commits.load(); });
  counter("checkpoints_total", "Checkpoint files written (operators with `checkpoint`).",
          [](const Node& n) { return n.counters.checkpoints.load(); });
  counter("records_late_total", "Records older than their clock minus allowed_lateness_ms, sent to port late.",
          [](const Node& n) { return n.counters.records_late.load(); });
  counter("node_wakeups_total", "Times the node's thread waited for work; fast growth with no records means a spin.",
          [](const Node& n) { return n.counters.wakeups.load(); });

  out << "# HELP weir_batch_seconds Time a node spent on one batch.\n# TYPE weir_batch_seconds summary\n";
  for (const auto& n : engine.nodes()) {
    const Histogram& h = n->counters.batch_ns;
    for (double q : {0.5, 0.99})
      out << "weir_batch_seconds{" << node_labels(*n) << ",quantile=\"" << q << "\"} " << h.quantile(q) / 1e9 << '\n';
    out << "weir_batch_seconds_sum{" << node_labels(*n) << "} " << h.sum() / 1e9 << '\n';
    out << "weir_batch_seconds_count{" << node_labels(*n) << "} " << h.count() << '\n';
  }
  out << "# HELP weir_hop_latency_seconds Time a batch waited in the queue before the node took it.\n"
         "# TYPE weir_hop_latency_seconds summary\n";
  for (const auto& n : engine.nodes()) {
    if (n->inputs.empty()) continue;
    for (double q : {0.5, 0.99})
      out << "weir_hop_latency_seconds{" << node_labels(*n) << ",quantile=\"" << q << "\"} "
          << n->counters.hop_ns.quantile(q) / 1e9 << '\n';
  }
  out << "# HELP weir_watermark_seconds Event-time watermark per input partition of a stateful operator.\n"
         "# TYPE weir_watermark_seconds gauge\n";
  for (const auto& n : engine.nodes()) {
    if (!n->watermarks) continue;
    for (const Watermarks::Entry& e : snaps[n->index]->watermarks)
      if (e.watermark_ns != Watermarks::kUnknown)
        out << "weir_watermark_seconds{" << node_labels(*n) << ",partition=\"" << e.partition << "\"} "
            << e.watermark_ns / 1e9 << '\n';
  }
  out << "# HELP weir_sink_consecutive_failures Failed sends since the last that succeeded.\n"
         "# TYPE weir_sink_consecutive_failures gauge\n";
  for (const auto& n : engine.nodes())
    if (n->driver)
      out << "weir_sink_consecutive_failures{" << node_labels(*n) << "} " << n->driver->failures_in_a_row() << '\n';
  out << "# HELP weir_queue_depth Batches waiting on an edge.\n# TYPE weir_queue_depth gauge\n";
  for (const auto& n : engine.nodes()) {
    for (const auto& port : snaps[n->index]->outputs)
      for (size_t i = 0; i < port.edges.size(); ++i)
        out << "weir_queue_depth{from=\"" << n->name << '.' << port.name << "\"" << task_label(*n) << ",edge=\"" << i << "\"} "
            << port.edges[i]->depth() << '\n';
  }
  for (const auto& n : engine.nodes()) {
    std::lock_guard lock(n->gauge_mu);
    for (const auto& [key, value] : n->gauges) {
      std::string name = key, labels;
      if (size_t brace = key.find('{'); brace != std::string::npos) {
        name = key.substr(0, brace);
        labels = "," + key.substr(brace + 1, key.size() - brace - 2);
      }
      out << "weir_" << name << "{" << node_labels(*n) << "" << labels << "} " << value << '\n';
    }
  }
  return out.str();
}

// A stateful operator's event time: its state, its clock (the minimum over its
// active partitions), late records, and each partition's watermark.
static void add_event_time(nlohmann::ordered_json& node, const Node& n, const NodeSnapshot& s) {
  auto ms = [](int64_t ns) {
    return ns == Watermarks::kUnknown ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ns / 1'000'000);
  };
  node["state"] = n.per_partition ? "per_partition" : "global";
  node["watermark_ms"] = ms(s.clock_ns);
  node["records_late"] = n.counters.records_late.load();
  nlohmann::ordered_json& partitions = node["partitions"] = nlohmann::ordered_json::array();
  for (const Watermarks::Entry& e : s.watermarks)
    partitions.push_back({{"partition", e.partition}, {"watermark_ms", ms(e.watermark_ns)}, {"idle", e.idle},
                          {"late", e.late}, {"ahead", e.ahead}});
}

static uint64_t depth_of(const std::vector<EdgeQueue*>& queues) {
  uint64_t depth = 0;
  for (const EdgeQueue* q : queues) depth += q->depth();
  return depth;
}

// What the console shows beside the counters (after them: keys keep their order).
static void add_watch(nlohmann::ordered_json& node, Node& n, const NodeSnapshot& s, const NodePlan& plan) {
  using Json = nlohmann::ordered_json;
  node["library"] = s.library->path();
  node["ports"] = plan.output_ports;
  if (n.kind == WEIR_SINK) {
    node["inflight"] = n.driver->pending();
    node["retry_batches"] = n.driver->waiting();
  }
  NodeWatch::View w = n.watch.view();
  if (n.kind == WEIR_SOURCE) {
    node["commits"] = n.counters.commits.load();
    Json& committed = node["committed"] = Json::object();
    for (auto [partition, offset] : w.committed) committed[std::to_string(partition)] = offset;
    node["committed_ms"] = w.committed_ms;
  }
  if (n.checkpoint)
    node["checkpoint"] = {{"path", n.checkpoint->path()},
                          {"last_ms", n.checkpoint->last_written_ms()},
                          {"state_bytes", n.checkpoint->last_state_bytes()}};
  node["last_problem"] = w.last_problem.time_ms ? Json{{"time_ms", w.last_problem.time_ms},
                                                       {"level", w.last_problem.level >= WEIR_LOG_ERROR ? "ERROR" : "WARN"},
                                                       {"message", w.last_problem.text}}
                                                 : Json(nullptr);
  node["error_samples"] = w.errors.size();
  node["taps"] = n.watch.taps.load(std::memory_order_relaxed);
  Json& gauges = node["gauges"] = Json::object();
  std::lock_guard lock(n.gauge_mu);
  for (const auto& [key, value] : n.gauges) gauges[key] = value;
}

std::string status_json(const Engine& engine) {
  using Json = nlohmann::ordered_json;
  // Microseconds with one decimal, from a histogram's nanoseconds.
  auto us = [](double ns) { return std::round(ns / 100.0) / 10.0; };
  Json status;
  status["uptime_s"] = (monotonic_ns() - engine.started_ns()) / 1e9;
  status["stopping"] = engine.stopping();
  Json& nodes = status["nodes"] = Json::array();
  const auto snaps = snapshots(engine);
  for (const auto& np : engine.nodes()) {
    const Node& n = *np;
    const NodeSnapshot& s = *snaps[n.index];
    Json node;
    node["name"] = n.name;
    if (n.tasks > 1) {
      node["task"] = n.task;
      node["tasks"] = n.tasks;
    }
    node["plugin"] = s.plugin().name;
    node["version"] = s.plugin().version;
    node["swaps"] = s.swaps;
    node["paused"] = s.paused;
    node["kind"] = kind_name(n.kind);
    node["records_in"] = n.counters.records_in.load();
    node["records_out"] = n.counters.records_out.load();
    node["records_error"] = n.counters.records_error.load();
    if (n.checkpoint) node["checkpoints"] = n.counters.checkpoints.load();
    node["wakeups"] = n.counters.wakeups.load();
    if (n.watermarks) add_event_time(node, n, s);
    node["finished"] = n.finished.load();
    node["batch_p50_us"] = us(n.counters.batch_ns.quantile(0.5));
    node["batch_p99_us"] = us(n.counters.batch_ns.quantile(0.99));
    node["hop_p50_us"] = us(n.counters.hop_ns.quantile(0.5));
    node["hop_p99_us"] = us(n.counters.hop_ns.quantile(0.99));
    Json& outputs = node["outputs"] = Json::array();
    for (const auto& port : s.outputs)
      for (const EdgeQueue* edge : port.edges) outputs.push_back({{"port", port.name}, {"queue_depth", edge->depth()}});
    add_watch(node, *np, s, engine.plan().nodes[n.plan_index]);
    nodes.push_back(std::move(node));
  }
  Json& edges = status["edges"] = Json::array();
  const auto& plan = engine.plan();
  for (size_t i = 0; i < plan.edges.size(); ++i) {
    const Edge& e = plan.edges[i];
    edges.push_back({{"from", plan.nodes[e.from_node].name + "." + e.from_port},
                     {"to", plan.nodes[e.to_node].name},
                     {"depth", depth_of(engine.queues_of_edge(i))}});
  }
  status["pipeline"] = engine.pipeline_file();  // `weir ctl apply` may replace plan.config meanwhile
  // Names come from TOML and plugin descriptors: bytes that are not UTF-8 are replaced, not refused.
  return status.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string rate_text(double per_s) {
  char buf[32];
  if (per_s >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM/s", per_s / 1e6);
  else if (per_s >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk/s", per_s / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f/s", per_s);
  return buf;
}

// What a node has done so far (its tasks summed), in the plan's order.
static std::vector<std::pair<std::string, uint64_t>> done_per_node(const Engine& engine, uint64_t& errors) {
  std::vector<std::pair<std::string, uint64_t>> out(engine.plan().nodes.size());
  for (const auto& n : engine.nodes()) {
    errors += n->counters.records_error.load();
    out[n->plan_index].first = n->name;
    out[n->plan_index].second +=
        n->kind == WEIR_SOURCE ? n->counters.records_out.load() : n->counters.records_in.load();
  }
  return out;
}

std::string ProgressLine::next(const Engine& engine) {
  int64_t now = monotonic_ns();
  double dt = last_ns_ ? (now - last_ns_) / 1e9 : (now - engine.started_ns()) / 1e9;
  last_ns_ = now;
  std::string out;
  uint64_t errors = 0;
  auto done = done_per_node(engine, errors);
  for (size_t i = 0; i < done.size(); ++i) {
    uint64_t delta = done[i].second - last_[i];
    last_[i] = done[i].second;
    if (!out.empty()) out += "  ";
    out += done[i].first + " " + rate_text(dt > 0 ? delta / dt : 0);
  }
  return out + "  | errors " + std::to_string(errors);
}

std::string summary_line(const Engine& engine) {
  double secs = (monotonic_ns() - engine.started_ns()) / 1e9;
  char head[64];
  std::snprintf(head, sizeof head, "weir: %s after %.1fs:", engine.failed() ? "FAILED" : "done", secs);
  std::string out = head;
  uint64_t errors = 0;
  for (const auto& [name, count] : done_per_node(engine, errors)) out += " " + name + "=" + std::to_string(count);
  return out + " errors=" + std::to_string(errors);
}

}  // namespace weir
