// Live changes to a running pipeline: hot swap of a node's plugin, reload of
// its files, pause/resume, and applying a changed pipeline file. Every change
// runs on the node's own thread between two batches, so the node never sees
// a half-done state; on any failure the old instance simply continues.
#pragma once

#include <string>
#include <vector>

namespace weir {

class Engine;
class PluginRegistry;

struct ControlResult {
  bool ok = false;
  std::string message;  // what happened, or why not
  double pause_ms = 0;  // how long the node stopped taking records
  int status = 0;       // the HTTP status when not the usual (200 done, 409 refused)
};

struct ControlOptions {
  // Where a swap or an apply may load a library from: the pipeline's plugin
  // search path and every `weir run --plugin-dir DIR`.
  std::vector<std::string> plugin_dirs;
};

class Control {
 public:
  Control(Engine& engine, ControlOptions options) : engine_(engine), options_(std::move(options)) {}

  // Replaces NODE's plugin by the library at PATH (a distinct file, a regular
  // file in a plugin directory: refused with 403 before it is loaded),
  // keeping its parameters and (for stateful plugins) its state.
  ControlResult swap(const std::string& node, const std::string& path);
  ControlResult reload(const std::string& node);
  ControlResult pause(const std::string& node);
  ControlResult resume(const std::string& node);
  // Applies parameter or plugin changes from a pipeline file with the same
  // nodes and edges; anything structural is refused with the reason. Plugins
  // come from the plugin directories only; another plugin than a node runs
  // (new code in the host) only when MAY_LOAD.
  ControlResult apply(const std::string& file, bool may_load);
  // ABI 1.3: asks NODE's plugin TEXT (its query language) on the node's
  // thread. ok: rows = JSON Lines from every task; else status 404 (no such
  // node), 501 (the plugin answers no queries) or 400 (a bad query: message).
  ControlResult query(const std::string& node, const std::string& text, std::string& rows);

 private:
  Engine& engine_;
  ControlOptions options_;
};

}  // namespace weir
