#include "metrics.hpp"

#include "engine.hpp"

#include <weir/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace weir {

static const char* kind_label(uint32_t kind) {
  return kind == WEIR_SOURCE ? "source" : kind == WEIR_SINK ? "sink" : "operator";
}

std::string prometheus_text(const Engine& engine) {
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, auto get) {
    out << "# HELP weir_" << name << ' ' << help << "\n# TYPE weir_" << name << " counter\n";
    for (const auto& n : engine.nodes())
      out << "weir_" << name << "{node=\"" << n->name << "\",plugin=\"" << n->plugin_name() << "\"} " << get(*n)
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
      out << "weir_batch_seconds{node=\"" << n->name << "\",quantile=\"" << q << "\"} " << h.quantile(q) / 1e9 << '\n';
    out << "weir_batch_seconds_sum{node=\"" << n->name << "\"} " << h.sum() / 1e9 << '\n';
    out << "weir_batch_seconds_count{node=\"" << n->name << "\"} " << h.count() << '\n';
  }
  out << "# HELP weir_hop_latency_seconds Time a batch waited in the queue before the node took it.\n"
         "# TYPE weir_hop_latency_seconds summary\n";
  for (const auto& n : engine.nodes()) {
    if (n->inputs.empty()) continue;
    for (double q : {0.5, 0.99})
      out << "weir_hop_latency_seconds{node=\"" << n->name << "\",quantile=\"" << q << "\"} "
          << n->counters.hop_ns.quantile(q) / 1e9 << '\n';
  }
  out << "# HELP weir_watermark_seconds Event-time watermark per input partition of a stateful operator.\n"
         "# TYPE weir_watermark_seconds gauge\n";
  for (const auto& n : engine.nodes()) {
    if (!n->watermarks) continue;
    int64_t clock = 0;
    for (const Watermarks::Entry& e : n->watermarks->published(clock))
      if (e.watermark_ns != Watermarks::kUnknown)
        out << "weir_watermark_seconds{node=\"" << n->name << "\",partition=\"" << e.partition << "\"} "
            << e.watermark_ns / 1e9 << '\n';
  }
  out << "# HELP weir_queue_depth Batches waiting on an edge.\n# TYPE weir_queue_depth gauge\n";
  for (const auto& n : engine.nodes())
    for (const auto& port : n->outputs)
      for (size_t i = 0; i < port.edges.size(); ++i)
        out << "weir_queue_depth{from=\"" << n->name << '.' << port.name << "\",edge=\"" << i << "\"} "
            << port.edges[i]->depth() << '\n';
  for (const auto& n : engine.nodes()) {
    std::lock_guard lock(n->gauge_mu);
    for (const auto& [key, value] : n->gauges) {
      std::string name = key, labels;
      if (size_t brace = key.find('{'); brace != std::string::npos) {
        name = key.substr(0, brace);
        labels = "," + key.substr(brace + 1, key.size() - brace - 2);
      }
      out << "weir_" << name << "{node=\"" << n->name << "\"" << labels << "} " << value << '\n';
    }
  }
  return out.str();
}

// A stateful operator's event time: its clock (the minimum over its active
// partitions), late records, and each partition's watermark.
static std::string event_time_json(const Node& n) {
  int64_t clock = 0;
  std::vector<Watermarks::Entry> entries = n.watermarks->published(clock);
  auto ms = [](int64_t ns) { return ns == Watermarks::kUnknown ? std::string("null") : std::to_string(ns / 1'000'000); };
  std::string out = ",\"state\":\"" + std::string(n.per_partition ? "per_partition" : "global") + "\"";
  out += ",\"watermark_ms\":" + ms(clock) + ",\"records_late\":" + std::to_string(n.counters.records_late.load());
  out += ",\"partitions\":[";
  for (size_t i = 0; i < entries.size(); ++i) {
    const Watermarks::Entry& e = entries[i];
    out += std::string(i ? "," : "") + "{\"partition\":" + std::to_string(e.partition) + ",\"watermark_ms\":" +
           ms(e.watermark_ns) + ",\"idle\":" + (e.idle ? "true" : "false") + ",\"late\":" + std::to_string(e.late) +
           ",\"ahead\":" + std::to_string(e.ahead) + "}";
  }
  return out + "]";
}

std::string status_json(const Engine& engine) {
  std::string out = "{\"uptime_s\":";
  out += std::to_string((monotonic_ns() - engine.started_ns()) / 1e9);
  out += ",\"stopping\":" + std::string(engine.stopping() ? "true" : "false") + ",\"nodes\":[";
  for (size_t i = 0; i < engine.nodes().size(); ++i) {
    const Node& n = *engine.nodes()[i];
    if (i) out += ',';
    out += "{\"name\":";
    append_json_string(out, n.name);
    out += ",\"plugin\":";
    append_json_string(out, n.plugin_name());
    out += ",\"version\":";
    append_json_string(out, n.plugin_version());
    out += ",\"swaps\":" + std::to_string(n.swaps) + ",\"paused\":" + (n.paused.load() ? "true" : "false");
    out += std::string(",\"kind\":\"") + kind_label(n.kind) + "\"";
    out += ",\"records_in\":" + std::to_string(n.counters.records_in.load());
    out += ",\"records_out\":" + std::to_string(n.counters.records_out.load());
    out += ",\"records_error\":" + std::to_string(n.counters.records_error.load());
    if (n.checkpoint) out += ",\"checkpoints\":" + std::to_string(n.counters.checkpoints.load());
    out += ",\"wakeups\":" + std::to_string(n.counters.wakeups.load());
    if (n.watermarks) out += event_time_json(n);
    out += ",\"finished\":" + std::string(n.finished.load() ? "true" : "false");
    char lat[160];
    std::snprintf(lat, sizeof lat, ",\"batch_p50_us\":%.1f,\"batch_p99_us\":%.1f,\"hop_p50_us\":%.1f,\"hop_p99_us\":%.1f",
                  n.counters.batch_ns.quantile(0.5) / 1e3, n.counters.batch_ns.quantile(0.99) / 1e3,
                  n.counters.hop_ns.quantile(0.5) / 1e3, n.counters.hop_ns.quantile(0.99) / 1e3);
    out += lat;
    out += ",\"outputs\":[";
    bool first = true;
    for (const auto& port : n.outputs) {
      for (size_t e = 0; e < port.edges.size(); ++e) {
        if (!first) out += ',';
        first = false;
        out += "{\"port\":";
        append_json_string(out, port.name);
        out += ",\"queue_depth\":" + std::to_string(port.edges[e]->depth()) + "}";
      }
    }
    out += "]}";
  }
  out += "],\"edges\":[";
  const auto& plan = engine.plan();
  for (size_t i = 0; i < plan.edges.size(); ++i) {
    const Edge& e = plan.edges[i];
    if (i) out += ',';
    out += "{\"from\":";
    append_json_string(out, plan.nodes[e.from_node].name + "." + e.from_port);
    out += ",\"to\":";
    append_json_string(out, plan.nodes[e.to_node].name);
    out += ",\"depth\":" + std::to_string(engine.edges()[i]->depth()) + "}";
  }
  return out + "]}";
}

static std::string rate(double per_s) {
  char buf[32];
  if (per_s >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM/s", per_s / 1e6);
  else if (per_s >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk/s", per_s / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f/s", per_s);
  return buf;
}

std::string ProgressLine::next(const Engine& engine) {
  int64_t now = monotonic_ns();
  double dt = last_ns_ ? (now - last_ns_) / 1e9 : (now - engine.started_ns()) / 1e9;
  last_ns_ = now;
  std::string out;
  uint64_t errors = 0;
  for (const auto& n : engine.nodes()) {
    uint64_t count = n->kind == WEIR_SOURCE ? n->counters.records_out.load() : n->counters.records_in.load();
    errors += n->counters.records_error.load();
    uint64_t delta = count - last_[n->index];
    last_[n->index] = count;
    if (!out.empty()) out += "  ";
    out += n->name + " " + rate(dt > 0 ? delta / dt : 0);
  }
  return out + "  | errors " + std::to_string(errors);
}

std::string summary_line(const Engine& engine) {
  double secs = (monotonic_ns() - engine.started_ns()) / 1e9;
  char head[64];
  std::snprintf(head, sizeof head, "weir: %s after %.1fs:", engine.failed() ? "FAILED" : "done", secs);
  std::string out = head;
  uint64_t errors = 0;
  for (const auto& n : engine.nodes()) {
    errors += n->counters.records_error.load();
    out += " " + n->name + "=" +
           std::to_string(n->kind == WEIR_SOURCE ? n->counters.records_out.load() : n->counters.records_in.load());
  }
  return out + " errors=" + std::to_string(errors);
}

void HttpServer::start(const std::string& address, Handler handler) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("metrics address must be host:port, got '" + address + "'");
  std::string host = address.substr(0, colon);
  int port = std::stoi(address.substr(colon + 1));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("metrics address: bad IPv4 host '" + host + "'");
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot listen on " + address);
  }
  socklen_t len = sizeof addr;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  handler_ = std::move(handler);
  running_ = true;
  thread_ = std::thread([this] { serve(); });
}

void HttpServer::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  fd_ = -1;
}

void HttpServer::serve() {
  while (running_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[4096];
    size_t header_end = std::string::npos, content_length = 0;
    while (true) {
      ssize_t got = recv(c, buf, sizeof buf, 0);
      if (got <= 0) break;
      req.append(buf, static_cast<size_t>(got));
      if (header_end == std::string::npos && (header_end = req.find("\r\n\r\n")) != std::string::npos) {
        size_t cl = req.find("Content-Length:");
        if (cl == std::string::npos) cl = req.find("content-length:");
        if (cl != std::string::npos && cl < header_end) content_length = std::stoul(req.substr(cl + 15));
      }
      if (header_end != std::string::npos && req.size() >= header_end + 4 + content_length) break;
      if (req.size() > (1 << 20)) break;
    }
    std::string method = req.substr(0, req.find(' '));
    size_t path_start = method.size() + 1;
    std::string path = req.size() > path_start ? req.substr(path_start, req.find(' ', path_start) - path_start) : "/";
    std::string body = header_end == std::string::npos ? "" : req.substr(header_end + 4);
    HttpRequest request{method, path, body, "", false};
    if (size_t auth = req.find("Authorization: Bearer "); auth != std::string::npos && auth < header_end)
      request.bearer = req.substr(auth + 22, req.find("\r\n", auth) - auth - 22);
    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    if (getpeername(c, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0)
      request.peer_is_loopback = (ntohl(peer.sin_addr.s_addr) >> 24) == 127;
    Response r;
    try {
      r = handler_(request);
    } catch (const std::exception& e) {
      r = {500, "text/plain", std::string(e.what()) + "\n"};
    }
    std::string head = "HTTP/1.0 " + std::to_string(r.status) + (r.status == 200 ? " OK" : " Error") +
                       "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
                       "\r\nConnection: close\r\n\r\n";
    std::string all = head + r.body;
    size_t sent = 0;
    while (sent < all.size()) {
      ssize_t w = send(c, all.data() + sent, all.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) break;
      sent += static_cast<size_t>(w);
    }
    ::close(c);
  }
}

}  // namespace weir
