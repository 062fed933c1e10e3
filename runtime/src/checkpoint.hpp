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
//
// A node with state per partition (ABI 1.1, WEIR_FLAG_PARTITIONED) keeps one
// checkpoint per partition: `checkpoint` names a directory holding
// partition-<P>.ckpt, each with that partition's state, offset and watermark,
// so a partition can move to another process with its state. A partition's
// checkpoint is read before its first record is processed, and written with
// the others (the same delivery rule) when its state changed.
#pragma once

#include "ack.hpp"
#include "batch.hpp"
#include "checkpoint_format.hpp"
#include "checkpoint_store.hpp"

#include <weir/abi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace weir {

// The plugin's snapshot() as bytes; false if it has none or it failed.
bool snapshot_of(const weir_plugin_vtable* vt, void* instance, std::string& out);
// The same for one partition's state (snapshot_partition, ABI 1.1).
bool snapshot_of_partition(const weir_plugin_vtable* vt, void* instance, int32_t partition, std::string& out);

// One per checkpointed node, used on the node's thread (deliveries complete on
// any thread and wake it through WAKE). Input not covered by a written
// checkpoint stays pending for good when the node stops without one (failure,
// hard stop): only a checkpoint on disk may let the source commit.
class Checkpointer {
 public:
  // SPEC: the node's `checkpoint` (a path, or kafka://BROKERS/TOPIC: checkpoint_store.hpp).
  // PER_PARTITION: one checkpoint per partition (a directory of files, or a record each).
  Checkpointer(std::string spec, int64_t interval_ms, Signal* wake, bool per_partition = false);
  // Connects to the store (weir run only; validate does not). PIPELINE and NODE name the records.
  bool open(const std::string& pipeline, const std::string& node, std::string& error);
  const std::string& path() const { return spec_; }
  bool per_partition() const { return per_partition_; }
  // Where partition P's checkpoint lives (per partition), else the node's.
  std::string path_for(int32_t partition) const { return store_->where(key_for(partition)); }
  // The node's whole-state checkpoint (not per partition).
  std::optional<CheckpointData> saved_node(std::string& error) const { return store_->read("", error); }

  // After a restore: records at or below POSITIONS are in the state already.
  void resume_after(std::map<int32_t, int64_t> positions);
  // Per partition: the partition's saved state is about to be restored. The
  // newest one taken but not yet written is returned first (the partition
  // left and came back meanwhile), else the file's; nothing if there is none.
  // ERROR is set when the file exists but cannot be used.
  std::optional<CheckpointData> saved(int32_t partition, std::string& error) const;
  // Per partition: its records at or below OFFSET are in the restored state.
  void resume_partition(int32_t partition, int64_t offset);
  // Per partition: the partition left this process; nothing of it is tracked.
  void forget(int32_t partition);
  // Per partition: the partitions whose state changed since the last take.
  std::vector<int32_t> dirty_partitions() const { return {dirty_parts_.begin(), dirty_parts_.end()}; }
  // The state changed without input to admit (a watermark closed a window).
  void touch(int32_t partition) {
    dirty_ = true;
    if (per_partition_) dirty_parts_.insert(partition);
  }

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
  // Per partition: snapshots of some partitions (state and watermark each),
  // taken now, each written to its own file under the same delivery rule.
  struct PartitionSnapshot {
    int32_t partition;
    std::string state;
    int64_t watermark_ns;
  };
  void take_partitions(const std::string& plugin, std::vector<PartitionSnapshot> parts, int64_t now_ns);
  // Whether a delivery has completed since the last settle().
  bool delivery_moved() const { return deliveries_.front_done(); }
  // Writes the newest checkpoint whose output is delivered and releases the
  // input it covers. Returns an error message when writing failed ("" = fine).
  std::string settle();
  // Nothing taken and not yet written.
  bool settled() const { return pending_.empty(); }
  uint64_t written() const { return written_; }
  // The last checkpoint written, for /status (read by the metrics thread):
  // when (wall clock, ms; 0 = none yet) and its state's bytes (every partition written with it).
  int64_t last_written_ms() const { return last_written_ms_.load(std::memory_order_relaxed); }
  uint64_t last_state_bytes() const { return last_state_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    uint64_t after_delivery;          // written once this delivery sequence number is done
    std::map<std::string, CheckpointData> files;  // store key -> what it will hold
    std::vector<AckGroup*> covers;    // input groups released once written
  };
  std::string key_for(int32_t partition) const {
    return per_partition_ ? "partition-" + std::to_string(partition) : std::string();
  }
  void push_pending(std::map<std::string, CheckpointData> files, int64_t now_ns);
  // Records from a source that sets no positions all say 0:0: saving that
  // would make a restart skip every such record.
  bool no_positions() const {
    return admitted_ > 1 && seen_.size() == 1 && seen_.begin()->first == 0 && seen_.begin()->second == 0;
  }
  std::string spec_;
  std::unique_ptr<CheckpointStore> store_;
  bool per_partition_ = false;
  std::set<int32_t> dirty_parts_;
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
  std::atomic<int64_t> last_written_ms_{0};
  std::atomic<uint64_t> last_state_bytes_{0};
};

}  // namespace weir
