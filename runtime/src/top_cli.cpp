// `weir top`: the numbers of /status in a terminal, refreshed in place: per node
// records/s in, out and error, queued batches, consumer lag, state.
#include "admin_cli.hpp"

#include "admin.hpp"
#include "command_line.hpp"
#include "http_client.hpp"
#include "metrics.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <sstream>

namespace po = boost::program_options;
using Json = nlohmann::json;

namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 64;

struct Sample {
  double at_s = 0;
  std::map<std::string, Json> nodes;
};

// Sum of a node's gauges named NAME (any labels): e.g. the lag of every partition.
double gauge_sum(const Json& node, const std::string& name) {
  double sum = 0;
  if (node.contains("gauges"))
    for (const auto& [key, value] : node["gauges"].items())
      if (key == name || key.rfind(name + "{", 0) == 0) sum += value.get<double>();
  return sum;
}

std::string frame(const Json& status, const Sample& before, const Sample& now) {
  double dt = now.at_s - before.at_s;
  auto per_s = [&](const Json& n, const char* key) -> std::string {
    auto it = before.nodes.find(n["name"].get<std::string>());
    if (it == before.nodes.end() || dt <= 0) return "-";
    double d = n[key].get<double>() - it->second[key].get<double>();
    return weir::rate_text(d > 0 ? d / dt : 0);
  };
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "weir top  %s  up %.0f s  %s\n\n", status.value("pipeline", "").c_str(),
                status["uptime_s"].get<double>(), status["stopping"].get<bool>() ? "STOPPING" : "running");
  out << line;
  std::snprintf(line, sizeof line, "%-16s %-14s %11s %11s %11s %8s %10s  %s\n", "NODE", "PLUGIN", "IN", "OUT", "ERROR", "QUEUED",
                "LAG", "STATE");
  out << line;
  for (const auto& n : status["nodes"]) {
    int64_t queued = 0;
    for (const auto& o : n["outputs"]) queued += o["queue_depth"].get<int64_t>();
    double lag = gauge_sum(n, "kafka_consumer_lag");
    std::string state = n["finished"].get<bool>() ? "finished" : n["paused"].get<bool>() ? "paused" : "running";
    if (n.contains("last_problem") && n["last_problem"].is_object())
      state += "  last " + n["last_problem"]["level"].get<std::string>() + ": " + n["last_problem"]["message"].get<std::string>();
    if (state.size() > 70) state = state.substr(0, 67) + "...";
    std::snprintf(line, sizeof line, "%-16.16s %-14.14s %11s %11s %11s %8lld %10s  %s\n", n["name"].get<std::string>().c_str(),
                  n["plugin"].get<std::string>().c_str(), per_s(n, "records_in").c_str(), per_s(n, "records_out").c_str(),
                  per_s(n, "records_error").c_str(), static_cast<long long>(queued),
                  n["kind"] == "source" && n.contains("gauges") && n["gauges"].size() ? std::to_string(static_cast<long long>(lag)).c_str() : "-",
                  state.c_str());
    out << line;
  }
  return out.str();
}

}  // namespace

int cmd_top(const std::vector<std::string>& argv) {
  std::string admin, token;
  double interval = 1;
  bool once = false;
  po::options_description desc("top options");
  weir::add_admin_options(desc, admin, token);
  desc.add_options()("interval", po::value(&interval)->default_value(1), "seconds between refreshes")(
      "once", po::bool_switch(&once), "print one view (rates over one interval) and exit, without clearing the screen");
  const char* usage = "usage: weir top [--admin HOST:PORT] [--interval S] [--once]\n\n"
                      "Records/s per node (in, out, error), queued batches, consumer lag and state of a running\n"
                      "`weir run --metrics HOST:PORT`, refreshed in place until Ctrl-C.\n";
  if (auto exit = weir::parse_command_line(argv, desc, "weir top", usage)) return *exit;
  if (!(interval >= 0.1 && interval <= 3600)) {
    std::cerr << "weir top: --interval must be from 0.1 to 3600 seconds\n";
    return kExitUsage;
  }
  weir::AdminTarget target = weir::admin_target(admin, token);
  if (!target.error.empty()) {
    std::cerr << "weir top: " << target.error << "\n" << usage;
    return kExitUsage;
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (!target.token.empty()) headers.emplace_back("Authorization", "Bearer " + target.token);
  sigset_t stop_signals;  // main() blocks them in every thread: taken here, between two refreshes
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  timespec wait{static_cast<time_t>(interval), static_cast<long>((interval - static_cast<time_t>(interval)) * 1e9)};
  Sample before;
  for (int round = 0;; ++round) {
    weir::HttpAnswer a = weir::http_call(target.endpoint, "GET", "/status", "", headers, std::chrono::seconds(10));
    Json status = Json::parse(a.body, nullptr, false);
    if (a.status != 200 || !status.is_object()) {
      std::cerr << "weir top: " << (a.status ? "HTTP " + std::to_string(a.status) : a.error) << " from " << target.endpoint.str()
                << "\n";
      return kExitFailed;
    }
    Sample now{std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(), {}};
    for (const auto& n : status["nodes"]) now.nodes[n["name"].get<std::string>()] = n;
    if (round > 0 || !once) {
      // Home, then clear to the end of the screen: no flicker of a whole clear.
      std::cout << (once ? "" : "\x1b[H") << frame(status, round ? before : now, now) << (once ? "" : "\x1b[J") << std::flush;
      if (once) return kExitOk;
    }
    before = std::move(now);
    if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) break;
  }
  return kExitOk;
}
