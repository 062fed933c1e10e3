// Durable state for a stateful operator: `checkpoint = "FILE"` on its node.
//
// Without it, a restart after a crash rebuilds an operator's state from the
// records the source replays, which start at its last commit — possibly in
// the middle of a window, so the window is evaluated on part of its records.
// With it the restart resumes the saved state exactly. The protocol is Flink's
// checkpointing reduced to one node:
//  * every input batch the node processes stays unacknowledged until a
//    checkpoint that covers it is on disk (so the source never commits
//    records that exist only in memory);
//  * every interval the plugin's snapshot() is taken with, per partition, the
//    highest source offset the node has processed;
//  * that checkpoint is written only once everything the node emitted before
//    the snapshot has been acknowledged downstream (a crash in between would
//    otherwise lose rows the restored state does not produce again); then the
//    input it covers is released and the source may commit past it;
//  * at start the state is restored and input records at or below the saved
//    offsets are not given to the plugin again: the state already holds them.
// Records must carry their source position (one source per checkpointed node).
#pragma once

#include "ack.hpp"
#include "batch.hpp"

#include <weir/abi.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weir {

struct CheckpointData {
  std::string plugin;                    // whose state this is
  std::map<int32_t, int64_t> positions;  // highest source offset per partition the state covers
  std::string state;                     // the plugin's snapshot()
};

// Nothing (and an empty ERROR) when PATH does not exist; nothing with ERROR
// when it cannot be read or is not a checkpoint.
std::optional<CheckpointData> read_checkpoint(const std::string& path, std::string& error);
// Replaces PATH atomically: a temporary file, fsync, rename, fsync of the directory.
bool write_checkpoint(const std::string& path, const CheckpointData& data, std::string& error);

// The plugin's snapshot() as bytes; false if it has none or it failed.
bool snapshot_of(const weir_plugin_vtable* vt, void* instance, std::string& out);

// One per checkpointed node, used on the node's thread (deliveries complete on
// any thread and wake it through WAKE). Input not covered by a written
// checkpoint stays pending for good when the node stops without one (failure,
// hard stop): only a checkpoint on disk may let the source commit.
class Checkpointer {
 public:
  Checkpointer(std::string path, int64_t interval_ms, Signal* wake);
  const std::string& path() const { return path_; }

  // After a restore: records at or below POSITIONS are in the state already.
  void resume_after(std::map<int32_t, int64_t> positions);

  // The input batch B about to be processed: its groups stay pending until a
  // checkpoint covers it. Returns what the plugin should see: B itself, a new
  // batch without the records the restored state holds (the caller releases
  // it), or nullptr when none is left.
  HostBatch* admit(HostBatch* b);

  // End of an operator callback: what it emitted must be delivered before
  // the next checkpoint may be written.
  void track_emitted(const std::vector<HostBatch*>& emitted);

  // Whether a snapshot is due (the interval passed and input arrived since the last).
  bool due(int64_t now_ns) const { return dirty_ && now_ns >= next_due_ns_; }
  int64_t next_due_ns() const { return dirty_ ? next_due_ns_ : INT64_MAX; }
  // A snapshot taken now, to be written once everything emitted so far is delivered.
  void take(const std::string& plugin, std::string state, int64_t now_ns);
  // Whether a delivery has completed since the last settle().
  bool delivery_moved() const { return deliveries_.front_done(); }
  // Writes the newest checkpoint whose output is delivered and releases the
  // input it covers. Returns an error message when writing failed ("" = fine).
  std::string settle();
  // Nothing taken and not yet written.
  bool settled() const { return pending_.empty(); }
  uint64_t written() const { return written_; }

 private:
  struct Pending {
    uint64_t after_delivery;          // written once this delivery sequence number is done
    CheckpointData data;
    std::vector<AckGroup*> covers;    // input groups released once written
  };
  std::string path_;
  int64_t interval_ns_;
  AckTracker deliveries_;             // one group per emitting callback, in order
  uint64_t emitted_seq_ = 0, delivered_seq_ = 0;
  std::deque<Pending> pending_;
  std::vector<AckGroup*> uncovered_;  // input groups since the last take()
  std::map<int32_t, int64_t> seen_, skip_;
  uint64_t admitted_ = 0;  // input records seen, to tell "no positions" from one record at 0:0
  bool dirty_ = false;
  int64_t next_due_ns_ = 0;
  uint64_t written_ = 0;
};

}  // namespace weir
