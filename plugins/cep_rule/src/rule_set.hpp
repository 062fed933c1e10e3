// The rules of one cep_rule node: loading, validation, change detection and
// hot reload. No SDK dependency (the plugin adapts records to rows).
//
// A rule comes from a file (watched, reloaded when it changes) or is given as
// text (a version from the rule store, replaced by the caller with replace()).
// Every rule is its own module with its own Engine. All of them read the
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
  std::string path;  // as configured; for a rule given as text, its source name (messages)
  std::string id;    // identity in snapshots: the path, or the rule's name
  std::string stem;  // file name without extension (or the rule's name): the default output port
  bool from_file = true;
  std::string text;     // the rule's text (kept for a rule given as text)
  std::string version;  // opaque tag of a rule given as text, saved with its state
  std::string input_stream;  // the stream its statements read from the node's input
  Module module;
  std::unique_ptr<Engine> engine;  // null until the input type is known
  std::filesystem::file_time_type mtime{};
  uintmax_t size = 0;
  std::string last_error;  // the last failed reload's message (to log it once)
};

// A rule given as text rather than as a file (e.g. a version from the rule store).
struct RuleText {
  std::string id;       // stable identity (snapshots): the rule's name
  std::string source;   // what messages call it (`source:line:col: message`)
  std::string stem;     // the default output port
  std::string text;
  std::string version;  // opaque tag saved with the rule's state, e.g. its effective time
};

struct RuleSetOptions {
  std::vector<std::string> files;
  std::vector<RuleText> texts;
  std::map<std::string, std::string> variables;  // name -> text (pipeline TOML)
  std::string stream;                            // expected input stream name, or empty
  // Refuse a configured variable no rule declares or uses (a probable typo);
  // off to check one rule of several on its own.
  bool check_variables_used = true;
};

class RuleSet {
 public:
  // Reads, parses and validates every file and text. Throws std::runtime_error
  // whose message lists every problem (`file:line:col: message` each).
  explicit RuleSet(RuleSetOptions options);

  size_t size() const { return files_.size(); }
  RuleFile& file(size_t i) { return *files_[i]; }
  const RuleFile& file(size_t i) const { return *files_[i]; }
  // Index of the rule with this id, or -1.
  int find(const std::string& id) const;

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
  // Reloads every file (rules given as text are left as they are).
  ReloadReport reload_all(int64_t now_ms);
  // Replaces rule i by another text, as a reload does: compiled before anything
  // is swapped, the windows of the running engine adopted (engine clock
  // max(its clock, now_ms)). False, with the error in the report, when the text
  // does not compile: the running rule stays.
  bool replace(size_t i, const RuleText& text, int64_t now_ms, ReloadReport& report);

  // The engines' clock (the latest of them).
  int64_t now() const;
  int64_t oldest_pending();
  uint64_t match_states_dropped() const;  // summed over the engines (Engine::match_states_dropped)
  int64_t next_timer();
  void advance_to(int64_t t);
  void send(const std::vector<Value>& row, std::optional<int64_t> event_time);
  // Whether send_batch gains anything: one engine, whose input stream a
  // statement in a keyed context reads (Engine::prefetches). With several
  // engines it sends each event to all of them in turn, as send does, so
  // that their rows keep the order of the events.
  bool batches() const;
  // Events of the input type in order (rows: the rows of the input type's
  // width, flat, one per time), as send(row i, times[i]) for each; in
  // processing time (event_time false) times only count them. Only when
  // batches() holds.
  void send_batch(const std::vector<Value>& rows, const std::vector<int64_t>& times, bool event_time);

  // The input type and every engine's state; for a rule given as text also its
  // text and version tag, so restore() continues with the same version.
  std::string snapshot();
  // Returns notes about rules whose state could not be restored. A rule given
  // as text whose saved version differs from the current one is replaced by
  // the saved text (the state belongs to it).
  std::vector<std::string> restore(std::string_view state, int64_t now_ms);

 private:
  std::unique_ptr<RuleFile> load(const std::string& path) const;
  std::unique_ptr<RuleFile> load(const RuleText& text) const;
  void parse_into(RuleFile& f, const std::string& text) const;
  void swap_in(size_t i, std::unique_ptr<RuleFile> nf, ReloadReport& report);
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
