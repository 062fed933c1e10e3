// The rule files of one cep_rule node: loading, validation, change detection
// and hot reload. No SDK dependency (the plugin adapts records to rows).
//
// Every file is its own module with its own Engine. All of them read the
// node's one input stream; its event type is only known from the first record
// (field names and types), so until then a file is validated against a
// provisional type in which each referenced property may have any type.
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "engine.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weir::cep {

struct RuleFile {
  std::string path;  // as configured
  std::string stem;  // file name without extension: the default output port
  std::string input_stream;  // the stream its statements read from the node's input
  Module module;
  std::unique_ptr<Engine> engine;  // null until the input type is known
  std::filesystem::file_time_type mtime{};
  uintmax_t size = 0;
  std::string last_error;  // the last failed reload's message (to log it once)
};

struct RuleSetOptions {
  std::vector<std::string> files;
  std::map<std::string, std::string> variables;  // name -> text (pipeline TOML)
  std::string stream;                            // expected input stream name, or empty
};

class RuleSet {
 public:
  // Reads, parses and validates every file. Throws std::runtime_error whose
  // message lists every problem (`file:line:col: message` each).
  explicit RuleSet(RuleSetOptions options);

  size_t size() const { return files_.size(); }
  RuleFile& file(size_t i) { return *files_[i]; }

  // Called with every delivery of every engine (engines are recreated on
  // reload; the listener follows).
  using Listener = std::function<void(RuleFile&, const Delivery&)>;
  void set_listener(Listener fn);

  // The input event type, once known.
  bool typed() const { return input_.has_value(); }
  const EventType& input_type() const { return *input_; }
  // Fixes the input type and compiles every engine against it. On an error
  // (e.g. avg() over a string field) nothing changes and EplError is thrown.
  void set_input_type(const EventType& type, int64_t start_ms);
  // Input fields some statement reads (indexes into input_type()).
  const std::vector<int>& needed_fields() const { return needed_; }

  struct ReloadReport {
    std::vector<std::string> reloaded;  // paths swapped in
    std::vector<std::string> errors;    // `file:line:col: message`, old rule kept
    std::vector<std::string> notes;     // e.g. which windows restart empty
  };
  // Reloads the files whose modification time or size changed.
  ReloadReport reload_changed(int64_t now_ms);
  // Reloads every file.
  ReloadReport reload_all(int64_t now_ms);

  // The engines' clock (the latest of them).
  int64_t now() const;
  int64_t oldest_pending();
  int64_t next_timer();
  void advance_to(int64_t t);
  void send(const std::vector<Value>& row, std::optional<int64_t> event_time);

  std::string snapshot();
  // Returns notes about rule files whose state could not be restored.
  std::vector<std::string> restore(std::string_view state, int64_t now_ms);

 private:
  std::unique_ptr<RuleFile> load(const std::string& path) const;
  std::unique_ptr<Engine> build(RuleFile& f, const EventType& type, int64_t start_ms) const;
  EventType provisional_type(const RuleFile& f) const;
  EngineOptions engine_options(const Module& m, int64_t start_ms) const;
  void attach(RuleFile& f);
  void compute_needed();
  bool reload_one(size_t i, int64_t now_ms, ReloadReport& report);

  RuleSetOptions options_;
  std::vector<std::unique_ptr<RuleFile>> files_;
  std::optional<EventType> input_;
  std::vector<int> needed_;
  Listener listener_;
};

// The streams a module reads that none of its statements produces.
std::vector<std::string> input_streams(const Module& m);

}  // namespace weir::cep
