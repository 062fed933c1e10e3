// A validated pipeline: every node resolved to a loaded plugin, every
// parameter converted to the plugin's declared type, every input to a port.
// Building one is the whole of `weir validate`.
#pragma once

#include "param_values.hpp"
#include "pipeline_config.hpp"
#include "plugin_loader.hpp"

#include <memory>
#include <string>
#include <vector>

namespace weir {

struct Edge {
  size_t from_node;
  std::string from_port;  // a declared output, "error", or a dynamic name
  size_t to_node;
  SourcePos pos;
};

struct NodePlan {
  std::string name;
  std::shared_ptr<PluginLibrary> library;
  ParamValues params;
  std::vector<std::string> output_ports;  // declared outputs, then "error", then dynamic ones in use
  SourcePos pos;
  std::string checkpoint;  // "" = no checkpoints (per partition: a directory)
  int64_t checkpoint_interval_ms = 1000;
  bool per_partition = false;  // state per source partition (WEIR_FLAG_PARTITIONED, not state = "global")
  std::optional<int64_t> allowed_lateness_ms;  // set: the node has port `late`
  int64_t idle_timeout_ms = 10'000;
  int64_t max_ahead_ms = 86'400'000;
  uint32_t parallelism = 1;  // tasks (engine.hpp: Node::task)
  std::vector<Diagnostic> warnings;  // e.g. old template spellings; logged when the node is created
};

struct PipelinePlan {
  PipelineConfig config;
  std::vector<NodePlan> nodes;
  std::vector<Edge> edges;
};

// NODE's parameters checked against D's table and converted, defaults filled
// in; every problem goes to DIAGS at its position (plan_pipeline, and
// `weir ctl swap`/`apply` for the plugin a node changes to).
ParamValues convert_params(const NodeConfig& node, const weir_plugin& d, Diagnostics& diags);

// Validates CONFIG against the plugins on its search path. All problems go to
// DIAGS; returns nothing if there was any.
std::optional<PipelinePlan> plan_pipeline(PipelineConfig config, PluginRegistry& registry, Diagnostics& diags);

// Convenience for the CLI: load + plan. The registry's search path comes from
// the file's plugin_path followed by default_plugin_path().
std::optional<PipelinePlan> load_and_plan(const std::string& file, const std::vector<Override>& overrides,
                                          Diagnostics& diags, std::unique_ptr<PluginRegistry>& registry);

}  // namespace weir
