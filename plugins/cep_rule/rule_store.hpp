// The rule store: versions of named EPL rules, each applying from an event
// time on, shared by every cep_rule engine of every process that reads it.
//
// Wire format (a compacted Kafka topic, see kafka_rule_store.hpp): one record
// per version, key "NAME@EFFECTIVE_FROM_MS" (so compaction keeps every
// version; putting the same name and time again replaces that version), value
// a one-line header then the EPL text:
//
//   weir-rule 1 name=overspeed effective_from_ms=1650953430000 published_ms=1650953401234 size=312\n
//   <312 bytes of EPL>
//
// Header fields are space-separated key=value pairs; unknown ones are ignored
// (a later writer may add some); `size` must match the text. A null value (a
// tombstone) deletes that version.
//
// No Kafka here: this file holds the format, the catalog of versions, the
// selection of the version in force, and RuleSource, the shared in-memory
// view that a Kafka reader (or a test) feeds and every engine reads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::cep::store {

struct RuleVersion {
  std::string name;
  int64_t effective_from_ms = 0;  // event time from which this version applies
  int64_t published_ms = 0;       // wall clock of the put (informational)
  std::string text;               // the EPL
  int32_t partition = -1;         // where it was read (-1: not from Kafka)
  int64_t offset = -1;
};

// A rule name is also an output port and part of a record key: letters,
// digits, '_', '-', '.'; 1..200 characters. Returns "" or why not.
std::string check_name(std::string_view name);

std::string record_key(const std::string& name, int64_t effective_from_ms);
std::string encode_value(const RuleVersion& v);
// Decodes a record; on failure returns nullopt and sets `why`.
std::optional<RuleVersion> decode(std::string_view key, std::string_view value, std::string& why);
// The name and time of a record key (for tombstones); false if not a rule key.
bool parse_key(std::string_view key, std::string& name, int64_t& effective_from_ms);

// Milliseconds since the epoch as yyyyMMddHHmmss in UTC, with ".mmm" when
// the milliseconds are not zero: 20220426061030, 20220426061030.250.
std::string time14(int64_t ms);
// "2022-04-26 06:10:30 UTC" (".250" before " UTC" when not whole seconds).
std::string readable_time(int64_t ms);

// Every version of every rule, each rule's sorted by effective_from_ms.
class Catalog {
 public:
  const std::vector<RuleVersion>* find(const std::string& name) const;
  const std::map<std::string, std::vector<RuleVersion>>& rules() const { return rules_; }
  // Adds a version, replacing one of the same name and time.
  void put(RuleVersion v);
  void erase(const std::string& name, int64_t effective_from_ms);
  size_t version_count() const;

 private:
  std::map<std::string, std::vector<RuleVersion>> rules_;
};

// The version in force at event time t: the one with the greatest
// effective_from_ms <= t among those `usable` accepts. nullptr if none.
// (Callers that start an engine fall back to first_usable(): a rule's first
// version also covers the time before it.)
const RuleVersion* version_at(const std::vector<RuleVersion>& versions, int64_t t,
                              const std::function<bool(const RuleVersion&)>& usable);
const RuleVersion* first_usable(const std::vector<RuleVersion>& versions,
                                const std::function<bool(const RuleVersion&)>& usable);

// The shared view of a store. A reader thread (or a test) publishes catalogs;
// engines read immutable snapshots of it on their own threads (style: one
// owner thread, others read what it publishes). Messages for the log are
// queued here and logged by whichever engine drains them, on its node's
// thread (host log calls are node-thread only).
class RuleSource {
 public:
  virtual ~RuleSource() = default;

  // Begins reading (idempotent). No I/O before this.
  virtual void start() {}
  // Waits until the store was read to its end once; false with `why` on a
  // timeout or a permanent failure.
  bool wait_ready(int64_t timeout_ms, std::string& why);
  // What it reads, for messages: "topic 'weir-rules' at 127.0.0.1:9092".
  virtual std::string describe() const = 0;

  std::shared_ptr<const Catalog> catalog() const;
  // Changes with every published catalog.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  struct Message {
    int level;  // weir_log_level values: 1 INFO, 2 WARN, 3 ERROR
    std::string text;
  };
  std::vector<Message> take_messages();

  // True the first time `key` is asked for in this process: a problem seen by
  // every engine (a bad version) is logged once, not once per partition.
  bool first_report(const std::string& key);
  // Distinct rule versions refused by engines of this process (the
  // rule_reload_errors gauge in store mode).
  int64_t refused() const { return refused_.load(); }
  void count_refused() { ++refused_; }

  // For the feeder (reader thread, test).
  void publish(const std::function<void(Catalog&)>& change);
  void set_ready();
  void set_failure(const std::string& why);  // wait_ready gives up with this
  void set_problem(const std::string& why);  // reported if wait_ready times out
  void message(int level, std::string text);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Catalog> catalog_ = std::make_shared<Catalog>();
  std::atomic<uint64_t> generation_{0};
  bool ready_ = false;
  std::string failure_, problem_;
  std::vector<Message> messages_;
  std::set<std::string> reported_;
  std::atomic<int64_t> refused_{0};
};

// A store held in memory: tests, and whatever feeds versions itself.
class MemoryRuleSource : public RuleSource {
 public:
  explicit MemoryRuleSource(std::string name = "memory") : name_(std::move(name)) { set_ready(); }
  std::string describe() const override { return "'" + name_ + "' (in memory)"; }
  void put(RuleVersion v) {
    publish([&](Catalog& c) { c.put(std::move(v)); });
  }
  void erase(const std::string& rule, int64_t effective_from_ms) {
    publish([&](Catalog& c) { c.erase(rule, effective_from_ms); });
  }

 private:
  std::string name_;
};

// One RuleSource per (endpoints, topic) in this process, shared by every
// engine of every cep_rule node that reads it; created on first use, gone
// with its last user. `settings` (librdkafka properties) are taken from the
// first user.
std::shared_ptr<RuleSource> rule_source(const std::string& endpoints, const std::string& topic,
                                        const std::vector<std::pair<std::string, std::string>>& settings);
// Tests: the source to hand out for (endpoints, topic) instead of a Kafka
// reader; nullptr removes it.
void install_rule_source(const std::string& endpoints, const std::string& topic, std::shared_ptr<RuleSource> source);

}  // namespace weir::cep::store
