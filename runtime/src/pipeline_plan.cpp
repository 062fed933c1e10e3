#include "pipeline_plan.hpp"

#include "sink_driver.hpp"
#include "template_params.hpp"

#include <functional>
#include <map>
#include <set>

namespace weir {

// Every problem is reported, none stops the others.
ParamValues convert_params(const NodeConfig& node, const weir_plugin& d, Diagnostics& diags) {
  ParamValues values;
  std::vector<std::string> known;
  for (uint32_t i = 0; i < d.param_count; ++i) known.push_back(d.params[i].name);

  std::map<std::string, const toml::node*> given;
  for (const auto& [key, value] : node.params) {
    given[key] = value;
    bool declared = false;
    for (const auto& k : known) declared |= (k == key);
    if (!declared)
      diags.add(node.param_pos.at(key), std::string(d.name) + " \"" + node.name + "\": unknown parameter '" + key +
                                            "'" + did_you_mean(key, known));
  }
  for (uint32_t i = 0; i < d.param_count; ++i) {
    const weir_param_spec& spec = d.params[i];
    if (auto it = given.find(spec.name); it != given.end()) {
      if (std::string err = values.add(spec, *it->second); !err.empty())
        diags.add(node.param_pos.at(spec.name), std::string(d.name) + " \"" + node.name + "\": " + err);
    } else if (spec.required) {
      diags.add(node.pos, std::string(d.name) + " \"" + node.name + "\": missing required parameter '" + spec.name +
                              "' (" + param_type_name(spec.type) + ": " + (spec.doc ? spec.doc : "") + ")");
    } else if (spec.default_value) {
      try {
        toml::table t = parse_default(spec.default_value);
        if (std::string err = values.add(spec, *t.get("v")); !err.empty())
          diags.add(node.pos, std::string("plugin bug: ") + d.name + " default for '" + spec.name + "': " + err);
      } catch (const toml::parse_error& e) {
        diags.add(node.pos, std::string("plugin bug: ") + d.name + " default for '" + spec.name +
                                "' is not a TOML literal: " + std::string(e.description()));
      }
    }
  }
  // The host's delivery parameters (<weir/delivery.hpp>) have ranges the driver relies on.
  if (d.kind == WEIR_SINK)
    for (const auto& [param, problem] : DeliveryPolicy::check(values))
      diags.add(given.count(param) ? node.param_pos.at(param) : node.pos, std::string(d.name) + " \"" + node.name + "\": " + problem);
  return values;
}

// Reports each cycle once, at the input that closes it.
static void check_cycles(const PipelinePlan& plan, Diagnostics& diags) {
  size_t n = plan.nodes.size();
  std::vector<std::vector<const Edge*>> out(n);
  for (const auto& e : plan.edges) out[e.from_node].push_back(&e);
  std::vector<int> state(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<size_t> stack;
  std::function<void(size_t)> visit = [&](size_t v) {
    state[v] = 1;
    stack.push_back(v);
    for (const Edge* e : out[v]) {
      if (state[e->to_node] == 1) {
        std::string path;
        bool on = false;
        for (size_t s : stack) {
          on |= (s == e->to_node);
          if (on) path += plan.nodes[s].name + " -> ";
        }
        diags.add(e->pos, "cycle: " + path + plan.nodes[e->to_node].name);
      } else if (state[e->to_node] == 0) {
        visit(e->to_node);
      }
    }
    stack.pop_back();
    state[v] = 2;
  };
  for (size_t v = 0; v < n; ++v)
    if (state[v] == 0) visit(v);
}

// State per partition, lateness and the `late` port of a node.
static void plan_event_time(const NodeConfig& node, const weir_plugin& d, NodePlan& np, Diagnostics& diags) {
  bool stateful_operator = d.kind == WEIR_OPERATOR && (d.flags & WEIR_FLAG_STATEFUL);
  bool partitioned = stateful_operator && (d.flags & WEIR_FLAG_PARTITIONED);
  if (node.state == "per_partition" && !partitioned)
    diags.add(node.state_pos, "node '" + node.name + "': state = \"per_partition\" needs an operator that keeps its state "
                              "per partition; " + d.name + " does not");
  if (!node.state.empty() && !stateful_operator)
    diags.add(node.state_pos, "node '" + node.name + "': state applies to stateful operators; " + d.name + " (" +
                                  kind_name(d.kind) + ") keeps none");
  np.per_partition = partitioned && node.state != "global";
  if (node.allowed_lateness_ms && !stateful_operator)
    diags.add(node.allowed_lateness_pos, "node '" + node.name + "': allowed_lateness_ms applies to stateful operators; " +
                                             d.name + " (" + kind_name(d.kind) + ") keeps no windows");
  np.allowed_lateness_ms = node.allowed_lateness_ms;
  np.idle_timeout_ms = node.idle_timeout_ms;
  np.max_ahead_ms = node.max_ahead_ms;
  if (np.allowed_lateness_ms && stateful_operator) np.output_ports.push_back("late");
}

// `parallelism = N`: records go to a node's tasks by their source partition, so
// a task sees whole partitions. What keeps one state for every partition, or
// reads the partitions itself, cannot be split.
static void plan_parallelism(const NodeConfig& node, const weir_plugin& d, NodePlan& np, Diagnostics& diags) {
  np.parallelism = node.parallelism;
  if (node.parallelism == 1) return;
  if (d.kind == WEIR_SOURCE)
    diags.add(node.parallelism_pos, "node '" + node.name + "': parallelism applies to operators and sinks; a source (" +
                                        d.name + ") runs as one task (to read with more, run more processes in its group)");
  else if (d.kind == WEIR_OPERATOR && (d.flags & WEIR_FLAG_STATEFUL) && !np.per_partition)
    diags.add(node.parallelism_pos, "node '" + node.name + "': parallelism needs state per partition; " + d.name +
                                        (node.state == "global" ? " runs with state = \"global\"" : " keeps one state for all partitions") +
                                        ", which one task must hold");
}

std::optional<PipelinePlan> plan_pipeline(PipelineConfig config, PluginRegistry& registry, Diagnostics& diags) {
  PipelinePlan plan;
  std::map<std::string, size_t> index;
  std::vector<std::string> node_names;
  for (const auto& node : config.nodes) node_names.push_back(node.name);

  for (const auto& node : config.nodes) {
    NodePlan np;
    np.name = node.name;
    np.pos = node.pos;
    if (!node.plugin.empty()) {
      try {
        np.library = registry.find(node.plugin);
        if (!np.library)
          diags.add(node.plugin_pos, "node '" + node.name + "': unknown plugin '" + node.plugin + "'" +
                                         did_you_mean(node.plugin, registry.names()) +
                                         " (run `weir plugins` to list them)");
      } catch (const std::exception& e) {
        diags.add(node.plugin_pos, "node '" + node.name + "': " + e.what());
      }
    }
    if (np.library) {
      const weir_plugin& d = np.library->descriptor();
      np.params = convert_params(node, d, diags);
      np.warnings = template_deprecations(node, d);
      for (uint32_t i = 0; i < d.output_count; ++i) np.output_ports.push_back(d.outputs[i].name);
      np.output_ports.push_back("error");
      if (d.kind == WEIR_SOURCE && !node.inputs.empty())
        diags.add(node.inputs.front().pos, "node '" + node.name + "' is a source (" + d.name + ") and takes no inputs");
      if (!node.checkpoint.empty() &&
          (d.kind != WEIR_OPERATOR || !(d.flags & WEIR_FLAG_STATEFUL) || !d.vtable->snapshot || !d.vtable->restore))
        diags.add(node.checkpoint_pos, "node '" + node.name + "': checkpoint needs a stateful operator; " + d.name + " (" +
                                           kind_name(d.kind) + ") has no state to save");
      np.checkpoint = node.checkpoint;
      np.checkpoint_interval_ms = node.checkpoint_interval_ms;
      plan_event_time(node, d, np, diags);
      plan_parallelism(node, d, np, diags);
      if (d.kind != WEIR_SOURCE && node.inputs.empty())
        diags.add(node.pos, "node '" + node.name + "' is a " + kind_name(d.kind) + " (" + d.name +
                                ") and needs inputs = [\"node.port\"]");
    }
    index[node.name] = plan.nodes.size();
    plan.nodes.push_back(std::move(np));
  }

  for (size_t to = 0; to < config.nodes.size(); ++to) {
    for (const auto& in : config.nodes[to].inputs) {
      auto it = index.find(in.node);
      if (it == index.end()) {
        diags.add(in.pos, "node '" + config.nodes[to].name + "': input '" + in.node + "' names no node" +
                              did_you_mean(in.node, node_names));
        continue;
      }
      NodePlan& from = plan.nodes[it->second];
      if (!from.library) continue;  // already reported
      const weir_plugin& d = from.library->descriptor();
      std::string port = in.port;
      if (d.kind == WEIR_SINK && port != "error") {
        diags.add(in.pos, "node '" + in.node + "' is a sink (" + d.name + ") and has no output '" +
                              (port.empty() ? "out" : port) + "' (only 'error')");
        continue;
      }
      if (port.empty()) {
        if (d.output_count == 0) {
          diags.add(in.pos, "node '" + in.node + "' has no outputs; name a port like '" + in.node + ".error'");
          continue;
        }
        port = d.outputs[0].name;
      }
      bool known = false;
      for (const auto& p : from.output_ports) known |= (p == port);
      if (!known) {
        if (d.flags & WEIR_FLAG_DYNAMIC_OUTPUTS) {
          from.output_ports.push_back(port);
        } else {
          diags.add(in.pos, "node '" + in.node + "' (" + d.name + ") has no output port '" + port + "'" +
                                did_you_mean(port, from.output_ports));
          continue;
        }
      }
      plan.edges.push_back({it->second, port, to, in.pos});
    }
  }
  check_cycles(plan, diags);
  plan.config = std::move(config);
  if (!diags.empty()) return std::nullopt;
  return plan;
}

std::optional<PipelinePlan> load_and_plan(const std::string& file, const std::vector<Override>& overrides,
                                          Diagnostics& diags, std::unique_ptr<PluginRegistry>& registry) {
  auto config = load_pipeline(file, overrides, diags);
  if (!config) return std::nullopt;
  registry = std::make_unique<PluginRegistry>(plugin_search_path(config->plugin_path));
  return plan_pipeline(std::move(*config), *registry, diags);
}

}  // namespace weir
