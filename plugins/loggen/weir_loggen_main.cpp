// weir-loggen — the driving-log generator on stdout, for tests and shell use:
//   weir-loggen DATE CARS [--seconds N] [--seed S] [--speeding-share X]
//               [--start-time HHmmss|now] [--headers] [--rate LINES_PER_S]
//               [--output DIR [--rotate-bytes N] [--rotate-seconds S] [--keep N]]
// Prints exactly what the loggen plugin emits with the same options, one line each;
// with --output, writes them into DIR/SmartCarDriverInfo.log instead, rotated (log_files.hpp).
#include "driver_log.hpp"
#include "log_files.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

const char* kUsage =
    "usage: weir-loggen DATE CARS [--seconds N] [--seed S] [--speeding-share X] [--start-time HHmmss|now]\n"
    "                   [--headers] [--rate LINES_PER_S]\n"
    "                   [--output DIR [--rotate-bytes N] [--rotate-seconds S] [--keep N]]\n"
    "  DATE yyyyMMdd, CARS 1..9999; --seconds 0 (default) runs until killed; --rate 0 (default) = as fast as possible;\n"
    "  --start-time now (default) = the current time of day (UTC)\n"
    "  --output DIR: write DIR/SmartCarDriverInfo.log (like DriverLogMain) instead of stdout, renamed to\n"
    "  SmartCarDriverInfo.log.<n> once it has N bytes or is S seconds old; --keep N deletes older rotated files\n";

int64_t to_int(const std::string& name, const char* text) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || !*text || *end) throw std::invalid_argument(name + " must be an integer, not \"" + text + "\"");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    weir::loggen::Options o;
    o.start_seconds = weir::loggen::parse_start_time("now");
    int64_t seconds = 0, rate = 0;
    weir::loggen::LogFilesOptions files;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "-h" || a == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--seconds") {
        seconds = to_int(a, value());
      } else if (a == "--seed") {
        o.seed = static_cast<uint64_t>(to_int(a, value()));
      } else if (a == "--speeding-share") {
        const char* v = value();
        char* end = nullptr;
        o.speeding_share = std::strtod(v, &end);
        if (!*v || *end) throw std::invalid_argument("--speeding-share must be a number");
      } else if (a == "--start-time") {
        o.start_seconds = weir::loggen::parse_start_time(value());
      } else if (a == "--headers") {
        o.headers = true;
      } else if (a == "--rate") {
        rate = to_int(a, value());
      } else if (a == "--output") {
        files.dir = value();
      } else if (a == "--rotate-bytes") {
        files.rotate_bytes = to_int(a, value());
      } else if (a == "--rotate-seconds") {
        files.rotate_seconds = to_int(a, value());
      } else if (a == "--keep") {
        files.keep = to_int(a, value());
      } else if (!a.empty() && a[0] == '-') {
        throw std::invalid_argument("unknown option " + a);
      } else if (positional == 0) {
        o.date_days = weir::loggen::parse_date(a);
        ++positional;
      } else if (positional == 1) {
        int64_t cars = to_int("CARS", a.c_str());
        if (cars < 1 || cars > 9999) throw std::invalid_argument("CARS must be 1..9999");
        o.cars = static_cast<int32_t>(cars);
        ++positional;
      } else {
        throw std::invalid_argument("unexpected argument " + a);
      }
    }
    if (positional != 2) throw std::invalid_argument("DATE and CARS are required");
    if (seconds < 0 || rate < 0) throw std::invalid_argument("--seconds and --rate must be >= 0");
    if (files.rotate_bytes < 0 || files.rotate_seconds < 0 || files.keep < 0)
      throw std::invalid_argument("--rotate-bytes, --rotate-seconds and --keep must be >= 0");
    if (files.dir.empty() && (files.rotate_bytes || files.rotate_seconds || files.keep))
      throw std::invalid_argument("--rotate-bytes, --rotate-seconds and --keep need --output DIR");

    weir::loggen::DriverLog log(o);
    std::unique_ptr<weir::loggen::LogFiles> to_files;
    if (!files.dir.empty()) {
      try {
        to_files = std::make_unique<weir::loggen::LogFiles>(files);
      } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "weir-loggen: %s\n", e.what());
        return 1;
      }
    }
    auto flush = [&] { return to_files ? to_files->flush() : std::fflush(stdout) == 0; };
    static char out[1 << 16];
    std::setvbuf(stdout, out, _IOFBF, sizeof out);
    auto start = std::chrono::steady_clock::now();
    while (!(seconds > 0 && log.at_second_boundary() && log.seconds_done() >= static_cast<uint64_t>(seconds))) {
      if (rate > 0) {
        auto due = start + std::chrono::duration<double>(static_cast<double>(log.lines()) / static_cast<double>(rate));
        if (due > std::chrono::steady_clock::now()) {
          flush();
          std::this_thread::sleep_until(due);
        }
      }
      const weir::loggen::Line& line = log.next();
      if (to_files) {
        if (!to_files->write(line.text)) {
          std::fprintf(stderr, "weir-loggen: cannot write %s: %s\n", to_files->path().c_str(), std::strerror(errno));
          return 1;
        }
        continue;
      }
      std::fwrite(line.text.data(), 1, line.text.size(), stdout);
      if (std::fputc('\n', stdout) == EOF) return 1;  // e.g. the reader went away
    }
    return flush() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir-loggen: %s\n%s", e.what(), kUsage);
    return 64;
  }
}
