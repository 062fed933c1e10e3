#include "control.hpp"

#include "engine.hpp"
#include "host_api.hpp"
#include "template_params.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace weir {
namespace {

std::string port_names(const weir_port_spec* ports, uint32_t n) {
  std::string out;
  for (uint32_t i = 0; i < n; ++i) out += (i ? "," : "") + std::string(ports[i].name);
  return out;
}

// Can NEW stand in for OLD without rewiring the graph?
std::string incompatibility(const weir_plugin& old_d, const weir_plugin& new_d) {
  if (old_d.kind != new_d.kind) return "kind differs from the running plugin";
  if (port_names(old_d.inputs, old_d.input_count) != port_names(new_d.inputs, new_d.input_count))
    return "input ports differ: [" + port_names(old_d.inputs, old_d.input_count) + "] vs [" +
           port_names(new_d.inputs, new_d.input_count) + "]";
  if (port_names(old_d.outputs, old_d.output_count) != port_names(new_d.outputs, new_d.output_count))
    return "output ports differ: [" + port_names(old_d.outputs, old_d.output_count) + "] vs [" +
           port_names(new_d.outputs, new_d.output_count) + "]";
  if ((old_d.flags & WEIR_FLAG_DYNAMIC_OUTPUTS) != (new_d.flags & WEIR_FLAG_DYNAMIC_OUTPUTS))
    return "dynamic output ports differ";
  return "";
}

// Re-checks the node's parameters against NEW's schema (as the pipeline's
// plan did against the running one's): "" or every problem, with its position.
std::string convert(const NodeConfig& node, const weir_plugin& d, ParamValues& out) {
  Diagnostics diags;
  out = convert_params(node, d, diags);
  std::string why;
  for (const auto& item : diags.items()) why += (why.empty() ? "" : "; ") + item.str();
  return why;
}

// Keeps the last ERROR line N logs while it lives (see Node::captured_error).
class ErrorCapture {
 public:
  explicit ErrorCapture(Node& n) : n_(n) { set(true); }
  ~ErrorCapture() { set(false); }
  // WHAT, with the plugin's own reason when it logged one.
  std::string failed(const std::string& what) {
    std::lock_guard lock(n_.error_capture_mu);
    return n_.captured_error.empty() ? what : what + ": " + n_.captured_error;
  }

 private:
  void set(bool on) {
    std::lock_guard lock(n_.error_capture_mu);
    n_.capturing_errors = on;
    n_.captured_error.clear();
  }
  Node& n_;
};

// The swap itself, on the node's thread. Every failure leaves the old instance running.
std::string swap_on_thread(Node& n, std::shared_ptr<PluginLibrary> lib, std::shared_ptr<ParamValues> params) {
  ErrorCapture errors(n);
  const weir_plugin& d = lib->descriptor();
  const weir_plugin_vtable* vt = d.vtable;
  // Sinks: let writes in flight finish against the instance that started them.
  if (n.driver) {
    for (int i = 0; i < 1000 && n.driver->pending() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (n.driver->pending() > 0) return "sink still has writes in flight; try again";
    // Encoded by the instance about to go: the next one encodes them anew (a
    // swap that fails leaves the old one to do it).
    n.driver->forget_encodings();
  }

  std::string state;
  const weir_plugin_vtable* old_vt = n.descriptor->vtable;
  bool carry_state = (n.descriptor->flags & WEIR_FLAG_STATEFUL) && (d.flags & WEIR_FLAG_STATEFUL) && old_vt->snapshot;
  if (carry_state && !snapshot_of(old_vt, n.instance, state)) return errors.failed("snapshot of the running instance failed");
  // The descriptor must be current while the new instance is created: it
  // calls back into the host (ports, timers) during construction.
  const weir_plugin* old_descriptor = n.descriptor;
  n.descriptor = &d;
  char err[1024] = {0};
  void* fresh = vt->create(&host_api(), reinterpret_cast<weir_node*>(&n), params->data(), params->size(), err, sizeof err);
  auto undo = [&](const std::string& why) {
    if (fresh) vt->destroy(fresh);
    n.descriptor = old_descriptor;
    return why;
  };
  if (!fresh) return undo(std::string("create failed: ") + (err[0] ? err : "no message"));
  if (carry_state && vt->restore && vt->restore(fresh, state.data(), state.size()) != WEIR_OK)
    return undo(errors.failed("restore of the snapshot failed"));
  if (vt->open && vt->open(fresh) != WEIR_OK) return undo(errors.failed("open failed"));

  if (old_vt->close) old_vt->close(n.instance);
  old_vt->destroy(n.instance);
  // The old instance's holds now belong to state the new one restored.
  for (auto& [token, groups] : n.holds)
    for (AckGroup* g : groups) n.legacy_holds.push_back(g);
  n.holds.clear();
  n.instance = fresh;
  n.library = std::move(lib);  // the old library unloads when its last reference goes (a reader's snapshot may hold it)
  n.swapped_params = std::move(params);
  if (n.driver) n.driver->set_policy(DeliveryPolicy::of(*n.swapped_params));
  ++n.swaps;
  publish_snapshot(n);
  return "";
}

}  // namespace

ControlResult Control::swap(const std::string& node, const std::string& path) {
  Node* n = engine_.find(node);
  if (!n) return {false, "no node named '" + node + "'"};
  // Loading runs the library's constructors: only regular files in a plugin directory.
  std::string real;
  if (std::string why = check_plugin_file(path, options_.plugin_dirs, real); !why.empty())
    return {false, "swap refused: " + why, 0, 403};
  std::shared_ptr<PluginLibrary> lib;
  try {
    lib = PluginLibrary::load(real);  // ABI checked here, off the node's thread
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
  {
    std::shared_ptr<const NodeSnapshot> running = n->published.load();
    std::error_code ec;
    if (lib->path() == running->library->path() || std::filesystem::equivalent(lib->path(), running->library->path(), ec))
      return {false, path + " is the library already running; swap to a distinct file"};
    if (std::string why = incompatibility(running->plugin(), lib->descriptor()); !why.empty())
      return {false, lib->path() + ": " + why};
  }
  const NodeConfig* cfg = nullptr;
  for (const auto& c : engine_.plan().config.nodes)
    if (c.name == node) cfg = &c;
  auto params = std::make_shared<ParamValues>();
  if (std::string why = convert(*cfg, lib->descriptor(), *params); !why.empty()) return {false, lib->path() + ": " + why};
  // The command owns what it uses: the node's queue shares it and may let go last.
  auto pause_ns = std::make_shared<std::atomic<int64_t>>(0);
  std::string err = engine_.on_node_thread(node, [lib, params, pause_ns](Node& nn) {
    int64_t t0 = monotonic_ns();
    std::string r = swap_on_thread(nn, lib, params);
    pause_ns->store(monotonic_ns() - t0);
    return r;
  });
  double pause_ms = pause_ns->load() / 1e6;
  if (!err.empty()) return {false, "swap of '" + node + "' refused, the old version keeps running: " + err, pause_ms};
  return {true, "node '" + node + "' now runs " + lib->descriptor().name + " " + lib->descriptor().version + " from " + path,
          pause_ms};
}

ControlResult Control::reload(const std::string& node) {
  std::string err = engine_.on_node_thread(node, [](Node& n) -> std::string {
    if (!n.descriptor->vtable->reload) return "plugin does not support reload";
    char buf[1024] = {0};
    if (n.descriptor->vtable->reload(n.instance, buf, sizeof buf) != WEIR_OK)
      return std::string(buf[0] ? buf : "reload failed") + " (the previous configuration keeps running)";
    return "";
  });
  if (!err.empty()) return {false, err};
  return {true, "node '" + node + "' reloaded"};
}

ControlResult Control::query(const std::string& node, const std::string& text, std::string& rows) {
  if (engine_.tasks_of(node).empty()) return {false, "no node named '" + node + "'", 0, 404};
  // The command owns what it uses (it may run after a timeout here).
  struct Answer {
    std::mutex mu;
    std::string rows;
    bool unsupported = false;
  };
  auto answer = std::make_shared<Answer>();
  std::string err = engine_.on_node_thread(node, [answer, text](Node& n) -> std::string {
    if (!n.descriptor->vtable->query) {
      std::lock_guard lock(answer->mu);
      answer->unsupported = true;
      return std::string("plugin ") + n.descriptor->name + " does not answer queries";
    }
    std::string rows;
    weir_writer out{&rows, [](void* o, const void* data, size_t size) {
                      static_cast<std::string*>(o)->append(static_cast<const char*>(data), size);
                    }};
    char buf[1024] = {0};
    if (n.descriptor->vtable->query(n.instance, text.data(), static_cast<uint32_t>(text.size()), &out, buf, sizeof buf) !=
        WEIR_OK)
      return buf[0] ? buf : "query failed";
    std::lock_guard lock(answer->mu);
    answer->rows += rows;  // task after task
    return "";
  });
  std::lock_guard lock(answer->mu);
  if (!err.empty()) return {false, err, 0, answer->unsupported ? 501 : 400};
  rows = answer->rows;
  return {true, "node '" + node + "' answered"};
}

ControlResult Control::pause(const std::string& node) {
  Node* n = engine_.find(node);
  if (!n) return {false, "no node named '" + node + "'"};
  std::string err = engine_.on_node_thread(node, [](Node& nn) {
    nn.paused = true;
    publish_snapshot(nn);
    return std::string();
  });
  if (!err.empty()) return {false, err};
  return {true, "node '" + node + "' paused (upstream queues fill, then backpressure)"};
}

ControlResult Control::resume(const std::string& node) {
  // Through the mailbox too: a paused node still runs its commands.
  std::string err = engine_.on_node_thread(node, [](Node& nn) {
    nn.paused = false;
    publish_snapshot(nn);
    return std::string();
  });
  if (!err.empty()) return {false, err};
  return {true, "node '" + node + "' resumed"};
}

ControlResult Control::apply(const std::string& file, bool may_load) {
  Diagnostics diags;
  auto config = load_pipeline(file, {}, diags);
  if (!config || !diags.empty()) {
    std::string all;
    for (const auto& d : diags.items()) all += d.str() + "\n";
    return {false, "not applied:\n" + all};
  }
  const PipelineConfig& running = engine_.plan().config;
  // Structure must match: same node names, same inputs.
  std::map<std::string, const NodeConfig*> old_nodes, new_nodes;
  for (const auto& n : running.nodes) old_nodes[n.name] = &n;
  for (const auto& n : config->nodes) new_nodes[n.name] = &n;
  for (const auto& [name, n] : new_nodes)
    if (!old_nodes.count(name)) return {false, "not applied: node '" + name + "' is new (adding nodes needs a restart)"};
  for (const auto& [name, n] : old_nodes) {
    auto it = new_nodes.find(name);
    if (it == new_nodes.end()) return {false, "not applied: node '" + name + "' was removed (needs a restart)"};
    auto inputs = [](const NodeConfig* c) {
      std::string s;
      for (const auto& in : c->inputs) s += in.node + "." + in.port + ";";
      return s;
    };
    if (inputs(n) != inputs(it->second)) return {false, "not applied: inputs of '" + name + "' changed (needs a restart)"};
  }
  // The plugin directories are the running ones: a file must not name new places to load code from.
  if (config->plugin_path != running.plugin_path)
    return {false, "not applied: pipeline.plugin_path changed (needs a restart)"};
  // Nodes whose plugin or parameters changed are swapped to a fresh instance.
  // All or nothing: every change is checked and loaded first; then the nodes
  // are swapped one by one, and if one refuses, those already swapped are
  // swapped back to what they ran.
  struct Change {
    std::string node;
    std::shared_ptr<PluginLibrary> lib;
    std::shared_ptr<ParamValues> params;
    std::vector<Diagnostic> warnings;  // old template spellings in the new file
  };
  std::vector<Change> changes;
  PluginRegistry registry(plugin_search_path(config->plugin_path));
  for (const auto& [name, fresh] : new_nodes) {
    const NodeConfig* old = old_nodes[name];
    auto text = [](const NodeConfig* c) {
      std::string s = c->plugin + "|";
      std::map<std::string, std::string> sorted;
      for (const auto& [k, v] : c->params) {
        std::ostringstream o;
        v->visit([&](auto&& value) { o << value; });
        sorted[k] = o.str();
      }
      for (const auto& [k, v] : sorted) s += k + "=" + v + ";";
      return s;
    };
    if (text(old) == text(fresh)) continue;
    if (fresh->plugin != old->plugin && !may_load)
      return {false, "not applied: node '" + name + "' would load plugin '" + fresh->plugin +
                         "', code run in the host: that needs the admin token or --allow-swap-without-token",
              0, 403};
    std::string found = registry.path_of(fresh->plugin), real;
    if (found.empty()) return {false, "not applied: unknown plugin '" + fresh->plugin + "'"};
    if (std::string why = check_plugin_file(found, options_.plugin_dirs, real); !why.empty())
      return {false, "not applied: " + why, 0, 403};
    std::shared_ptr<PluginLibrary> lib;
    try {
      lib = PluginLibrary::load(real);
    } catch (const std::exception& e) {
      return {false, "not applied: " + std::string(e.what())};
    }
    Node* n = engine_.find(name);
    if (std::string why = incompatibility(n->published.load()->plugin(), lib->descriptor()); !why.empty())
      return {false, "not applied: node '" + name + "': " + why};
    auto params = std::make_shared<ParamValues>();
    if (std::string why = convert(*fresh, lib->descriptor(), *params); !why.empty())
      return {false, "not applied: node '" + name + "': " + why};
    std::vector<Diagnostic> warnings = template_deprecations(*fresh, lib->descriptor());
    changes.push_back({name, std::move(lib), std::move(params), std::move(warnings)});
  }
  auto swap_to = [&](const Change& c) {
    auto lib = c.lib;
    auto params = c.params;
    return engine_.on_node_thread(c.node, [lib, params](Node& nn) { return swap_on_thread(nn, lib, params); });
  };
  std::vector<Change> undo;  // what the swapped nodes ran before, newest last
  std::string report;
  for (const Change& c : changes) {
    Node* n = engine_.find(c.node);
    Change before{c.node, n->published.load()->library, std::make_shared<ParamValues>(), {}};
    // The running parameters, as the running file gives them (they converted before).
    convert(*old_nodes[c.node], before.lib->descriptor(), *before.params);
    // A node of several tasks may refuse in a later task: its first ones go back too.
    if (n->tasks > 1) undo.push_back(before);
    if (std::string err = swap_to(c); !err.empty()) {
      std::string back;
      for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
        std::string again = swap_to(*it);
        back += "\nnode '" + it->node + "' " + (again.empty() ? "back to what it ran" : "could not go back: " + again);
      }
      return {false, "not applied: node '" + c.node + "' refused the change: " + err + back};
    }
    if (n->tasks == 1) undo.push_back(std::move(before));
    report += "\nnode '" + c.node + "' updated";
    // As `weir run` does for the file it starts with: in the log, and in the answer.
    for (const Diagnostic& w : c.warnings) {
      engine_.log(n, WEIR_LOG_WARN, w.str());
      report += "\n  warning: " + w.str();
    }
  }
  // Keep the new file's values alive: the running config points into it.
  engine_.adopt_config(std::move(*config));
  if (changes.empty()) return {true, "no changes"};
  return {true, "applied" + report};
}

}  // namespace weir
