// Live changes to a running pipeline: hot swap of a node's plugin, reload of
// its files, pause/resume, and applying a changed pipeline file. Every change
// runs on the node's own thread between two batches, so the node never sees
// a half-done state; on any failure the old instance simply continues.
#pragma once

#include <string>

namespace weir {

class Engine;
class PluginRegistry;

struct ControlResult {
  bool ok = false;
  std::string message;  // what happened, or why not
  double pause_ms = 0;  // how long the node stopped taking records
};

class Control {
 public:
  explicit Control(Engine& engine) : engine_(engine) {}

  // Replaces NODE's plugin by the library at PATH (a distinct file), keeping
  // its parameters and (for stateful plugins) its state.
  ControlResult swap(const std::string& node, const std::string& path);
  ControlResult reload(const std::string& node);
  ControlResult pause(const std::string& node);
  ControlResult resume(const std::string& node);
  // Applies parameter or plugin changes from a pipeline file with the same
  // nodes and edges; anything structural is refused with the reason.
  ControlResult apply(const std::string& file);

 private:
  Engine& engine_;
};

}  // namespace weir
