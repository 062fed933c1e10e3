// What the console (and `weir tap`) watch of a node beyond its counters: its
// last log lines, a sample of its error records with their reasons, the
// positions its source last committed, and how many taps are open on it.
//
// Written by whichever thread logs, emits errors or commits (the node's own,
// or a plugin's); read by the admin endpoint. One small mutex, taken only on
// those paths (a log line, an error batch at most a few times a second, a
// commit), never per record.
#pragma once

#include <weir/abi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace weir {

class NodeWatch {
 public:
  static constexpr size_t kLines = 50;          // log lines kept
  static constexpr size_t kErrors = 20;         // error records kept
  static constexpr int kErrorSamplesPerS = 5;   // at most this many error records sampled a second

  struct Line {
    int64_t time_ms = 0;  // wall clock
    int level = 0;        // WEIR_LOG_*
    std::string text;     // a log message, or an error record as a JSON line
  };
  struct View {
    std::vector<Line> lines;                // oldest first
    std::vector<Line> errors;               // oldest first; text = the record as JSON (with error_reason)
    Line last_problem;                      // the last WARN or ERROR line (time_ms 0: none yet)
    std::map<int32_t, int64_t> committed;   // partition -> offset last committed (sources)
    int64_t committed_ms = 0;               // when (0: never)
  };

  // A line the node logged (INFO and above are kept).
  void log(int level, const std::string& message);
  // Whether an error record may be sampled now (rate-limited); then sample_error() it.
  bool error_sample_due(int64_t now_ns);
  void sample_error(const weir_record& record);
  // The positions a source just committed.
  void committed(const weir_position* positions, uint32_t count);
  View view() const;

  // Taps open on this node (tap.cpp): the fan-out looks for them only when non-zero.
  std::atomic<int> taps{0};

 private:
  mutable std::mutex mu_;
  std::deque<Line> lines_, errors_;
  Line last_problem_;
  std::map<int32_t, int64_t> committed_;
  int64_t committed_ms_ = 0;
  int64_t sample_window_ns_ = 0;  // the second being counted
  int samples_in_window_ = 0;
};

}  // namespace weir
