// `weir tap NODE[.PORT]`: opens a tap on a running pipeline (tap.hpp), prints
// the records it takes as JSON lines on stdout until COUNT, Ctrl-C, the node's
// end or a closed stdout, then closes it.
#include "admin_cli.hpp"

#include "admin.hpp"
#include "command_line.hpp"
#include "http_client.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 64;
constexpr long kPollMs = 100;

const char* kTapUsage =
    "usage: weir tap [--admin HOST:PORT] [--token T] [--rate R] [--count N] [--metadata] NODE[.PORT]\n\n"
    "Prints a live sample of the records NODE's output PORT carries (default: its first output; NODE.error\n"
    "for its error records), one JSON line each, as file_sink writes them, until --count records, Ctrl-C,\n"
    "or the node's end. Records the reader is too slow for are counted on stderr, never held up.\n";

// One POST to the tap routes; the parsed answer, or null with WHY set.
nlohmann::json call(const weir::AdminTarget& t, const std::string& path, const std::string& body, std::string& why) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!t.token.empty()) headers.emplace_back("Authorization", "Bearer " + t.token);
  weir::HttpAnswer a = weir::http_call(t.endpoint, "POST", path, body, headers, std::chrono::seconds(10));
  if (a.status == 0) {
    why = "cannot reach a weir admin endpoint at " + t.endpoint.str() + ": " + a.error;
    return nullptr;
  }
  nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
  if (a.status != 200 || !j.is_object()) {
    why = j.is_object() && j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>() : a.body;
    if (why.empty()) why = "HTTP " + std::to_string(a.status);
    return nullptr;
  }
  return j;
}

}  // namespace

int cmd_tap(const std::vector<std::string>& argv) {
  std::string admin, token, what;
  double rate = 0;
  uint64_t count = 0;
  bool metadata = false;
  po::options_description desc("tap options");
  weir::add_admin_options(desc, admin, token);
  desc.add_options()("rate", po::value(&rate), "at most this many records a second (default: every record)")(
      "count", po::value(&count), "stop after this many records (default: until Ctrl-C)")(
      "metadata", po::bool_switch(&metadata), "add _time, _partition and _offset to each line");
  po::options_description hidden;
  hidden.add_options()("what", po::value(&what));
  if (auto exit = weir::parse_command_line(argv, desc, "weir tap", kTapUsage, hidden, {"what", 1})) return *exit;
  if (what.empty()) {
    std::cerr << kTapUsage << "\n" << desc;
    return kExitUsage;
  }
  if (rate < 0) {
    std::cerr << "weir tap: --rate must be >= 0\n";
    return kExitUsage;
  }
  weir::AdminTarget target = weir::admin_target(admin, token);
  if (!target.error.empty()) {
    std::cerr << "weir tap: " << target.error << "\n" << kTapUsage;
    return kExitUsage;
  }
  size_t dot = what.find('.');
  std::string node = what.substr(0, dot), port = dot == std::string::npos ? "" : what.substr(dot + 1);
  std::string why;
  nlohmann::json opened = call(target, "/tap/open",
                               "node=" + node + "\nport=" + port + "\nrate=" + std::to_string(rate) +
                                   "\ncount=" + std::to_string(count) + "\nmetadata=" + (metadata ? "1" : "0") + "\n",
                               why);
  if (opened.is_null()) {
    std::cerr << "weir tap: " << why << "\n";
    return kExitFailed;
  }
  std::string id = "id=" + std::to_string(opened["id"].get<uint64_t>()) + "\n";
  std::cerr << "weir tap: tapping " << node << "." << opened["port"].get<std::string>() << "\n";
  // main() blocks SIGINT/SIGTERM in every thread: take them here, between two polls.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  const timespec poll{0, kPollMs * 1'000'000};
  uint64_t printed = 0;
  while (true) {
    nlohmann::json r = call(target, "/tap/read", id, why);
    if (r.is_null()) {
      std::cerr << "weir tap: " << why << "\n";
      return kExitFailed;
    }
    for (const auto& line : r["records"]) std::cout << line.get<std::string>() << '\n';
    printed += r["records"].size();
    std::cout.flush();
    if (!std::cout) break;  // stdout closed (`weir tap x | head`)
    if (uint64_t dropped = r["dropped"].get<uint64_t>())
      std::cerr << "weir tap: " << dropped << " records left out (this reader was too slow)\n";
    if (r["done"].get<bool>()) return kExitOk;
    if (r["finished"].get<bool>()) {
      std::cerr << "weir tap: node '" << node << "' has finished (" << printed << " records)\n";
      break;
    }
    if (sigtimedwait(&stop_signals, nullptr, &poll) > 0) break;
  }
  call(target, "/tap/close", id, why);
  return kExitOk;
}
