// What a running pipeline reports: Prometheus text at /metrics, the graph
// with live counts as JSON at /status (built with nlohmann/json), and the
// one-line progress report. The HTTP server is in http_server.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace weir {

class Engine;

std::string prometheus_text(const Engine& engine);
// The /status document, also written by --status-out and shown by `weir ctl
// status`: {"uptime_s","stopping","nodes":[{...per node...}],"edges":[...]}.
// Keys keep their order (tests and scripts read them); add new ones at the end.
std::string status_json(const Engine& engine);
// "gen 1.2M/s -> pass 1.2M/s -> sink 1.2M/s | errors 0" from counts since the last call.
class ProgressLine {
 public:
  std::string next(const Engine& engine);

 private:
  std::map<size_t, uint64_t> last_;
  int64_t last_ns_ = 0;
};
std::string summary_line(const Engine& engine);
// "1.20M/s", "12.5k/s", "7/s": a rate as the progress line and `weir top` show it.
std::string rate_text(double per_s);

}  // namespace weir
