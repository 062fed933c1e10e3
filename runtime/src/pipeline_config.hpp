// The pipeline TOML file, parsed: nodes, their plugin, parameters and inputs,
// with the source position of everything so errors can point at it.
//
//   [pipeline]
//   plugin_path = ["plugins"]        # relative to this file
//   queue_batches = 64                # capacity of each edge, in batches
//   [nodes.gen]
//   plugin = "generator"
//   count = 1000
//   [nodes.out]
//   plugin = "stdout_sink"
//   inputs = ["gen.out"]
#pragma once

#include "diagnostics.hpp"

#include <toml++/toml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weir {

struct InputRef {
  std::string node;
  std::string port;  // empty: the node's only (first) output
  SourcePos pos;
};

inline constexpr uint32_t kMaxParallelism = 256;

struct NodeConfig {
  std::string name;
  SourcePos pos;
  std::string plugin;
  SourcePos plugin_pos;
  std::vector<InputRef> inputs;
  // `checkpoint = "FILE"`: the node's state is saved there (see checkpoint.hpp).
  std::string checkpoint;
  SourcePos checkpoint_pos;
  int64_t checkpoint_interval_ms = 1000;
  // Event time and state (docs/pipeline-format.md#event-time-and-state), operators only:
  std::string state;  // "per_partition", "global", or "" = per_partition when the plugin can
  SourcePos state_pos;
  std::optional<int64_t> allowed_lateness_ms;  // set: older records go to port `late`
  SourcePos allowed_lateness_pos;
  int64_t idle_timeout_ms = 10'000;
  int64_t max_ahead_ms = 86'400'000;
  // `parallelism = N`: the node runs as N tasks, the source partitions spread over them.
  uint32_t parallelism = 1;
  SourcePos parallelism_pos;
  // Parameters as written (everything but `plugin` and `inputs`), in file order.
  std::vector<std::pair<std::string, const toml::node*>> params;
  std::map<std::string, SourcePos> param_pos;
};

struct PipelineConfig {
  std::string file;
  std::string dir;  // relative paths in the file resolve against this
  std::vector<std::string> plugin_path;
  uint32_t queue_batches = 64;
  std::vector<NodeConfig> nodes;
  std::shared_ptr<toml::table> root;  // owns the nodes' parameter values
};

// `--set node.param=value` on the command line. The value is read as a TOML
// literal when it is one (42, true, "x", [1,2]) and as a plain string otherwise.
struct Override {
  std::string node, param, value;
};

// Parses FILE, applies ${ENV} / ${ENV:-default} interpolation and overrides.
// Returns nothing (and fills diags) when the file cannot be used.
std::optional<PipelineConfig> load_pipeline(const std::string& file, const std::vector<Override>& overrides,
                                            Diagnostics& diags);

// Keys of a node table the runtime reads itself (not plugin parameters).
bool is_runtime_key(const std::string& key);

std::optional<Override> parse_override(const std::string& text, std::string& error);

SourcePos position_of(const std::string& file, const toml::node& node);

}  // namespace weir
