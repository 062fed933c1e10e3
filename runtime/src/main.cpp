// weir — runs pipelines of shared-library plugins described in TOML.
//
//   weir run FILE        run until the sources end or Ctrl-C
//   weir validate FILE   check everything, run nothing (exit 2 if bad)
//   weir graph FILE      print the pipeline as Graphviz DOT
//   weir plugins [NAME]  list plugins, their ports and parameters
#include "diagnostics.hpp"
#include "engine.hpp"
#include "graph_dot.hpp"
#include "admin.hpp"
#include "control.hpp"
#include "http_server.hpp"
#include "metrics.hpp"
#include "param_values.hpp"
#include "pipeline_plan.hpp"
#include "admin_cli.hpp"
#include "command_line.hpp"
#include "systemd.hpp"

#include <weir/endpoint.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <csignal>
#include <algorithm>
#include <mutex>
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace po = boost::program_options;
using namespace weir;

namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitBadPipeline = 2, kExitUndelivered = 3, kExitUsage = 64;
// How long a failed pipeline may take to exit (its nodes stop at once, then close).
constexpr int kFailedExitMs = 10'000;

const char* kUsage =
    "usage: weir <command> [options]\n\n"
    "commands:\n"
    "  run FILE        run a pipeline until its sources end or Ctrl-C (a second Ctrl-C exits at once)\n"
    "  validate FILE   check a pipeline (TOML, plugins, parameters, wiring) without running it\n"
    "  graph FILE      print the pipeline as a Graphviz DOT graph (pipe it to `dot -Tsvg`)\n"
    "  plugins [NAME]  list the plugins on the search path with their ports and parameters\n"
    "  ctl ACTION      control a running `weir run --metrics ADDR`: status, swap, reload, pause, resume, apply, query\n"
    "  tap NODE[.PORT] print a live sample of the records a port of a running pipeline carries (JSON lines)\n"
    "  top             records/s, queues, lag and errors per node of a running pipeline, refreshed in place\n"
    "  rules ACTION    the shared rule store of cep_rule: put, get, list (runs weir-rules)\n\n"
    "`weir <command> --help` shows the command's options.\n"
    "exit codes: 0 ok, 1 the pipeline failed while running, 2 the pipeline is invalid, 3 stopped with records\n"
    "undelivered (--drain-timeout passed; they are read again on restart), 64 bad usage, 130 a second Ctrl-C\n";

struct PipelineArgs {
  std::string file;
  std::vector<std::string> sets;
};

void add_pipeline_options(po::options_description& desc, PipelineArgs& args) {
  desc.add_options()("set", po::value(&args.sets)->composing(),
                     "override a node parameter: --set node.param=value (repeatable; value is a TOML literal or text)");
}

// Parses the options of a command that takes a pipeline FILE; prints help and returns false when asked or wrong.
bool parse(const std::vector<std::string>& argv, po::options_description& desc, const char* usage, PipelineArgs& args,
           int& exit_code) {
  po::options_description hidden;
  hidden.add_options()("file", po::value(&args.file), "pipeline TOML file");
  if (auto code = parse_command_line(argv, desc, "weir", usage, hidden, {"file", 1})) {
    exit_code = *code;
    return false;
  }
  if (args.file.empty()) {
    std::cerr << "weir: missing pipeline FILE\n" << usage << "\n";
    exit_code = kExitUsage;
    return false;
  }
  return true;
}

std::optional<PipelinePlan> plan_from(const PipelineArgs& args, std::unique_ptr<PluginRegistry>& registry) {
  Diagnostics diags;
  std::vector<Override> overrides;
  for (const auto& s : args.sets) {
    std::string err;
    if (auto o = parse_override(s, err)) overrides.push_back(*o);
    else diags.add({"--set", 0, 0}, err);
  }
  auto plan = load_and_plan(args.file, overrides, diags, registry);
  if (!diags.empty()) {
    diags.print(std::cerr);
    std::cerr << "weir: " << args.file << ": " << diags.items().size() << " error"
              << (diags.items().size() == 1 ? "" : "s") << "\n";
    return std::nullopt;
  }
  return plan;
}

int cmd_validate(const std::vector<std::string>& argv) {
  PipelineArgs args;
  po::options_description desc("validate options");
  add_pipeline_options(desc, args);
  int code = 0;
  if (!parse(argv, desc, "usage: weir validate FILE [--set node.param=value]...", args, code)) return code;
  std::unique_ptr<PluginRegistry> registry;
  auto plan = plan_from(args, registry);
  if (!plan) return kExitBadPipeline;
  // Configure every plugin too: rule files, templates and the like are checked by the plugin itself.
  Engine engine(*plan, {});
  Diagnostics diags;
  if (!engine.create(diags)) {
    diags.print(std::cerr);
    return kExitBadPipeline;
  }
  std::cout << args.file << ": ok (" << plan->nodes.size() << " nodes, " << plan->edges.size() << " edges)\n";
  return kExitOk;
}

int cmd_graph(const std::vector<std::string>& argv) {
  PipelineArgs args;
  po::options_description desc("graph options");
  add_pipeline_options(desc, args);
  int code = 0;
  if (!parse(argv, desc, "usage: weir graph FILE > pipeline.dot", args, code)) return code;
  std::unique_ptr<PluginRegistry> registry;
  auto plan = plan_from(args, registry);
  if (!plan) return kExitBadPipeline;
  std::cout << graph_dot(*plan);
  return kExitOk;
}

// The README tables of a plugin, generated from its descriptor so they never drift.
std::string markdown_tables(const weir_plugin& d) {
  auto cell = [](const char* s) {
    std::string out = s ? s : "";
    for (size_t i = 0; (i = out.find('|', i)) != std::string::npos; i += 2) out.replace(i, 1, "\\|");
    return out;
  };
  std::string out = "| port | direction | what |\n|---|---|---|\n";
  for (uint32_t i = 0; i < d.input_count; ++i) out += "| `" + cell(d.inputs[i].name) + "` | in | " + cell(d.inputs[i].doc) + " |\n";
  for (uint32_t i = 0; i < d.output_count; ++i) out += "| `" + cell(d.outputs[i].name) + "` | out | " + cell(d.outputs[i].doc) + " |\n";
  if (d.flags & WEIR_FLAG_DYNAMIC_OUTPUTS) out += "| `<name>` | out | named by the parameters |\n";
  out += "| `error` | out | records that could not be handled, with `error_reason` and `error_node` |\n\n";
  if (d.param_count == 0) return out + "No parameters.\n";
  out += "| parameter | type | default | unit | what |\n|---|---|---|---|---|\n";
  for (uint32_t i = 0; i < d.param_count; ++i) {
    const weir_param_spec& p = d.params[i];
    out += "| `" + cell(p.name) + "` | " + param_type_name(p.type) + " | " +
           (p.required ? std::string("**required**") : "`" + cell(p.default_value ? p.default_value : "") + "`") + " | " +
           cell(p.unit) + " | " + cell(p.doc) + " |\n";
  }
  return out;
}

int cmd_plugins(const std::vector<std::string>& argv) {
  std::vector<std::string> dirs, names;
  po::options_description desc("plugins options");
  bool markdown = false;
  desc.add_options()("path", po::value(&dirs)->composing(), "also search this directory (repeatable)")(
      "markdown", po::bool_switch(&markdown), "print the ports and parameters as Markdown tables (for READMEs)");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&names), "only this plugin");
  if (auto exit = parse_command_line(argv, desc, "weir", "usage: weir plugins [--path DIR]... [NAME]...", hidden, {"name", -1}))
    return *exit;
  int code = 0;
  PluginRegistry registry(plugin_search_path(dirs));
  if (names.empty()) names = registry.names();
  for (const auto& name : names) {
    std::shared_ptr<PluginLibrary> lib;
    try {
      lib = registry.find(name);
    } catch (const std::exception& e) {
      std::cerr << "weir: " << e.what() << "\n";
      code = kExitFailed;
      continue;
    }
    if (!lib) {
      std::cerr << "weir: no plugin '" << name << "'" << did_you_mean(name, registry.names()) << "\n";
      code = kExitFailed;
      continue;
    }
    const weir_plugin& d = lib->descriptor();
    if (markdown) {
      std::cout << markdown_tables(d);
      continue;
    }
    const char* kind = kind_name(d.kind);
    std::cout << d.name << " " << d.version << " (" << kind << ") — " << d.description << "\n  file: " << lib->path()
              << "\n";
    for (uint32_t i = 0; i < d.input_count; ++i)
      std::cout << "  input  " << d.inputs[i].name << ": " << d.inputs[i].doc << "\n";
    for (uint32_t i = 0; i < d.output_count; ++i)
      std::cout << "  output " << d.outputs[i].name << ": " << d.outputs[i].doc << "\n";
    if (d.flags & WEIR_FLAG_DYNAMIC_OUTPUTS) std::cout << "  output <name>: named by the parameters\n";
    std::cout << "  output error: records that could not be handled, with error_reason\n";
    for (uint32_t i = 0; i < d.param_count; ++i) {
      const weir_param_spec& p = d.params[i];
      std::cout << "  param  " << p.name << " (" << param_type_name(p.type)
                << (p.unit ? std::string(", ") + p.unit : "") << ") "
                << (p.required ? std::string("required") : std::string("default ") + (p.default_value ? p.default_value : "none"))
                << ": " << (p.doc ? p.doc : "") << "\n";
    }
    std::cout << "\n";
  }
  return code;
}


const char* kCtlUsage =
    "usage: weir ctl [--admin HOST:PORT] [--token T] ACTION [ARGS]\n\n"
    "actions (against a `weir run --metrics HOST:PORT`):\n"
    "  status              the running graph with live counts (JSON)\n"
    "  swap NODE PLUGIN.so replace NODE's plugin by another library (a distinct file), keeping state\n"
    "  reload NODE         re-read NODE's files or settings (e.g. rules); a bad reload keeps the old one\n"
    "  pause NODE          stop NODE taking records (upstream backs up)\n"
    "  resume NODE         let it go on\n"
    "  apply FILE          apply changed parameters or plugins from a pipeline file (same nodes and edges)\n"
    "  query NODE TEXT     ask NODE's state, e.g. cep_rule's `select car from Speeding where speed > 100`\n"
    "                      (rows as JSON Lines)\n";

int cmd_ctl(const std::vector<std::string>& argv) {
  std::string admin, token;
  std::vector<std::string> words;
  po::options_description desc("ctl options");
  add_admin_options(desc, admin, token);
  po::options_description hidden;
  hidden.add_options()("words", po::value(&words));
  if (auto exit = parse_command_line(argv, desc, "weir ctl", kCtlUsage, hidden, {"words", -1})) return *exit;
  if (words.empty()) {
    std::cerr << kCtlUsage << "\n" << desc;
    return kExitUsage;
  }
  AdminTarget target = admin_target(admin, token);
  if (!target.error.empty()) {
    std::cerr << "weir ctl: " << target.error << "\n" << kCtlUsage;
    return kExitUsage;
  }
  const Endpoint& endpoint = target.endpoint;
  token = target.token;
  const std::string& action = words[0];
  std::map<std::string, std::vector<std::string>> shape = {
      {"status", {}}, {"swap", {"node", "path"}}, {"reload", {"node"}}, {"pause", {"node"}}, {"resume", {"node"}}, {"apply", {"file"}}, {"query", {"node", "text"}}};
  auto it = shape.find(action);
  if (it == shape.end()) {
    std::vector<std::string> names;
    for (auto& [k, v] : shape) names.push_back(k);
    std::cerr << "weir ctl: unknown action '" << action << "'" << did_you_mean(action, names) << "\n" << kCtlUsage;
    return kExitUsage;
  }
  if (words.size() != it->second.size() + 1) {
    std::cerr << "weir ctl " << action << ": expected " << it->second.size() << " argument(s)\n" << kCtlUsage;
    return kExitUsage;
  }
  std::string body;
  for (size_t i = 0; i < it->second.size(); ++i) {
    std::string value = words[i + 1];
    // Paths are resolved here: the server's working directory may differ.
    if (it->second[i] == "path" || it->second[i] == "file") value = std::filesystem::absolute(value).string();
    if (it->second[i] == "text") std::replace(value.begin(), value.end(), '\n', ' ');  // the form is one field a line
    body += it->second[i] + "=" + value + "\n";
  }
  AdminAnswer answer = admin_request(endpoint, action == "status" ? "/ctl/status" : "/ctl/" + action, body, token);
  if (answer.status == 0) {
    std::cerr << "weir ctl: cannot reach a weir admin endpoint at " << endpoint.str() << ": " << answer.error
              << " (start it with `weir run FILE --metrics " << endpoint.str() << "`)\n";
    return kExitFailed;
  }
  (answer.status == 200 ? std::cout : std::cerr) << answer.text;
  return answer.status == 200 ? kExitOk : kExitFailed;
}

// Signals are taken by one thread with sigwait, so no other thread is interrupted.
// That thread is detached and outlives the engine: it reaches the engine only
// through this, under its lock, and cmd_run clears it before the engine goes
// (a signal arriving as the pipeline ended used to call stop() on a freed engine).
struct SignalTarget {
  std::mutex mu;
  Engine* engine = nullptr;
};
SignalTarget& signal_target() {
  static auto* target = new SignalTarget;  // never destroyed: the thread may still wait on it at exit
  return *target;
}

void watch_signals(Engine& engine) {
  {
    std::lock_guard lock(signal_target().mu);
    signal_target().engine = &engine;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  std::thread([set] {
    int count = 0, sig = 0;
    while (sigwait(&set, &sig) == 0) {
      std::lock_guard lock(signal_target().mu);
      Engine* engine = signal_target().engine;
      if (engine && engine->failed()) {
        // Nothing more is delivered or acknowledged: there is nothing left to wait for.
        std::cerr << "weir: the pipeline has failed; exiting now\n";
        _exit(kExitFailed);
      }
      if (++count == 1) {
        if (!engine) continue;  // the pipeline has ended already
        std::cerr << "\nweir: stopping (draining queues; press Ctrl-C again to exit at once)\n";
        systemd::notify("STOPPING=1");
        engine->stop();
      } else {
        std::cerr << "weir: exiting now; unacknowledged records will be read again on restart\n";
        _exit(130);
      }
    }
  }).detach();
}

void unwatch_signals() {
  std::lock_guard lock(signal_target().mu);
  signal_target().engine = nullptr;
}

int cmd_run(const std::vector<std::string>& argv) {
  PipelineArgs args;
  std::string metrics, dead_letter, status_out, admin_token, level = "info";
  std::vector<std::string> plugin_dirs;
  bool allow_swap_without_token = false;
  double duration = 0, progress_s = 5, drain_timeout_s = 30;
  bool progress_flag = false, no_progress = false;
  HttpLimits limits;
  po::options_description desc("run options");
  add_pipeline_options(desc, args);
  desc.add_options()("metrics", po::value(&metrics),
                     "admin endpoint on HOST:PORT: 127.0.0.1:9464 (loopback), [::1]:9464, 0.0.0.0:9464 or [::]:9464 (every "
                     "interface), port 0 picks a free one; serves the web console at /, /metrics (Prometheus), /status (JSON), "
                     "/ctl/* (weir ctl), /tap/* (weir tap)")(
      "admin-token", po::value(&admin_token), "require this bearer token for /ctl/* (default $WEIR_ADMIN_TOKEN; without one, only loopback peers)")(
      "plugin-dir", po::value(&plugin_dirs)->composing(),
      "`weir ctl swap` may load libraries from this directory too, besides the plugin search path (repeatable)")(
      "allow-swap-without-token", po::bool_switch(&allow_swap_without_token),
      "let loopback peers `weir ctl swap` without a token (a swap runs the library's code in this process)")(
      "http-max-header-bytes", po::value(&limits.max_header_bytes)->default_value(limits.max_header_bytes),
      "admin endpoint: largest request line and header fields, in bytes (more: 431)")(
      "http-max-body-bytes", po::value(&limits.max_body_bytes)->default_value(limits.max_body_bytes),
      "admin endpoint: largest request body, in bytes (more: 413)")(
      "http-max-connections", po::value(&limits.max_connections)->default_value(limits.max_connections),
      "admin endpoint: connections open at once (more: 503)")(
      "http-idle-timeout-ms", po::value(&limits.idle_timeout_ms)->default_value(limits.idle_timeout_ms),
      "admin endpoint: a connection is closed when a whole request has not arrived (or an answer not been taken) in this time")(
      "dead-letter", po::value(&dead_letter), "append error records no node consumes to this JSON-lines file")(
      "status-out", po::value(&status_out), "write the final /status JSON (counts, latencies) to this file at exit")(
      "duration", po::value(&duration), "stop gracefully after this many seconds")(
      "drain-timeout", po::value(&drain_timeout_s)->default_value(30),
      "seconds the drain (after a stop, or once every input has ended) may take to deliver what is in flight; then "
      "weir exits 3, as on a second Ctrl-C (what "
      "was not delivered is read again on restart)")(
      "progress", po::bool_switch(&progress_flag), "print a progress line even when stderr is not a terminal")(
      "no-progress", po::bool_switch(&no_progress), "never print progress lines")(
      "progress-interval", po::value(&progress_s)->default_value(5), "seconds between progress lines")(
      "log-level", po::value(&level)->default_value("info"), "debug, info, warn or error");
  int code = 0;
  if (!parse(argv, desc, "usage: weir run FILE [options]", args, code)) return code;
  std::optional<ListenAddress> listen;
  if (!metrics.empty()) {
    try {
      listen = parse_listen_address(metrics);
    } catch (const std::invalid_argument& e) {
      std::cerr << "weir: --metrics " << e.what() << "\n";
      return kExitUsage;
    }
    if (std::string err = limits.check(); !err.empty()) {
      std::cerr << "weir: " << err << "\n";
      return kExitUsage;
    }
  }
  set_log_level(level == "debug" ? WEIR_LOG_DEBUG : level == "warn" ? WEIR_LOG_WARN : level == "error" ? WEIR_LOG_ERROR : WEIR_LOG_INFO);

  std::unique_ptr<PluginRegistry> registry;
  auto plan = plan_from(args, registry);
  if (!plan) return kExitBadPipeline;
  if (!(drain_timeout_s > 0)) {
    std::cerr << "weir: --drain-timeout must be a positive number of seconds\n";
    return kExitUsage;
  }
  EngineOptions options;
  options.dead_letter_path = dead_letter;
  options.drain_timeout_ms = static_cast<int64_t>(drain_timeout_s * 1000);
  // A failed pipeline stops at once; should a plugin not return from its last
  // call (close(), a client library blocked on a dead server), exit anyway.
  options.on_failure = [] {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(kFailedExitMs));
      std::cerr << "weir: the pipeline failed " << kFailedExitMs / 1000
                << " s ago and has not stopped (a plugin does not return); exiting now\n";
      _exit(kExitFailed);
    }).detach();
  };
  options.on_running = [] { systemd::notify("READY=1"); };  // Type=notify in weir@.service
  Engine engine(*plan, options);
  Diagnostics diags;
  if (!engine.create(diags) || !engine.restore_checkpoints(diags)) {
    diags.print(std::cerr);
    return kExitBadPipeline;
  }
  watch_signals(engine);

  // A swap loads only from the directories the pipeline's plugins come from, and those named.
  ControlOptions control_options;
  control_options.plugin_dirs = registry->search_path();
  for (const auto& dir : plugin_dirs) control_options.plugin_dirs.push_back(std::filesystem::absolute(dir).string());
  Control control(engine, std::move(control_options));
  AdminAccess access;
  access.token = admin_token;
  if (access.token.empty())
    if (const char* t = std::getenv("WEIR_ADMIN_TOKEN")) access.token = t;
  access.allow_swap_without_token = allow_swap_without_token;
  HttpServer server;
  if (listen) {
    HttpService service;
    service.handle = [&engine, &control, &access](const HttpRequest& request) {
      return handle_admin(engine, control, access, request);
    };
    service.blocks = admin_request_blocks;
    service.log = [&engine](int level, const std::string& message) { engine.log(nullptr, level, message); };
    try {
      server.start(*listen, limits, std::move(service));
      std::cerr << "weir: metrics on http://" << server.authority() << "/metrics\n";
    } catch (const std::exception& e) {
      std::cerr << "weir: " << e.what() << "\n";
      return kExitUsage;
    }
  }

  // Progress and --duration run on the main thread while the engine works.
  bool show_progress = !no_progress && (progress_flag || isatty(STDERR_FILENO));
  // done_cv wakes the ticker at exit, so a short run does not wait out a tick.
  bool done = false;
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::thread ticker([&] {
    ProgressLine line;
    int64_t start = monotonic_ns(), next = start + static_cast<int64_t>(progress_s * 1e9);
    while (true) {
      {
        std::unique_lock lock(done_mu);
        if (done_cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) break;
      }
      int64_t now = monotonic_ns();
      if (duration > 0 && now - start >= static_cast<int64_t>(duration * 1e9) && !engine.stopping()) engine.stop();
      if (show_progress && now >= next) {
        std::cerr << "weir: " << line.next(engine) << "\n";
        next = now + static_cast<int64_t>(progress_s * 1e9);
      }
    }
  });
  int rc = engine.run();
  unwatch_signals();  // before the engine goes (at the end of this function)
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  ticker.join();
  server.stop();
  std::cerr << summary_line(engine) << "\n";
  if (!status_out.empty()) std::ofstream(status_out) << status_json(engine) << "\n";
  if (rc != 0) return kExitFailed;
  return engine.drain_gave_up() ? kExitUndelivered : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "rules") {
    // `weir rules` is weir-rules, next to this binary (built with cep_rule: it
    // checks rules with cep_rule's compiler). Before the signal settings below,
    // which exec would pass on.
    std::string tool = (boost::dll::program_location().parent_path() / "weir-rules").string();
    std::vector<char*> args{tool.data()};
    for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(tool.c_str(), args.data());
    std::cerr << "weir: rules: cannot run " << tool << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  // A write to a socket or pipe whose peer has gone is an error (EPIPE) for the
  // plugin to handle (retry, reconnect), not the death of the whole host: client
  // libraries such as hiredis write without MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  // Block SIGINT/SIGTERM in every thread; watch_signals takes them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (cmd == "--version") {
    std::cout << "weir " << WEIR_VERSION << " (plugin ABI " << WEIR_ABI_MAJOR << "." << WEIR_ABI_MINOR << ")\n";
    return kExitOk;
  }
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "validate") return cmd_validate(rest);
  if (cmd == "graph") return cmd_graph(rest);
  if (cmd == "plugins") return cmd_plugins(rest);
  if (cmd == "ctl") return cmd_ctl(rest);
  if (cmd == "tap") return cmd_tap(rest);
  if (cmd == "top") return cmd_top(rest);
  std::cerr << "weir: unknown command '" << cmd << "'" << did_you_mean(cmd, {"run", "validate", "graph", "plugins", "ctl", "tap", "top", "rules"})
            << "\n\n"
            << kUsage;
  return kExitUsage;
}
