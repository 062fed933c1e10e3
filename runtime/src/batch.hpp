// The host side of a batch: records, an arena their bytes live in, a reference
// count for fan-out, and the acknowledgement groups it carries back to sources.
#pragma once

#include <weir/abi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace weir {

class AckGroup;

// Bump allocator in 64 KiB chunks; reset() keeps the chunks for reuse.
class Arena {
 public:
  void* alloc(size_t size);
  void reset();
  size_t capacity() const;

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // index of the chunk being filled
  size_t used_ = 0;     // bytes used in it
};

// Derives from weir_batch so the pointer handed to plugins converts back.
struct HostBatch : weir_batch {
  std::atomic<int32_t> refs{1};
  std::vector<weir_record> storage;
  Arena arena;
  std::vector<AckGroup*> acks;  // each holds one pending count for this batch
  // For per-hop latency. Atomic: a forwarded batch is re-stamped while a
  // sibling consumer of the same batch may be reading it (fan-out).
  std::atomic<int64_t> emitted_ns{0};
  uint32_t origin_node = 0;
  HostBatch* parent = nullptr;  // a view's records point into this batch, kept alive by one reference
  // Batches this one keeps alive, one reference each, released with it: a
  // sink request's gathered inputs (their records' bytes, and their groups
  // pending until the request is done). Their `acks` are not read: an
  // emitter may still be attaching groups to them (end_callback).
  std::vector<HostBatch*> kept;
  // A control batch (no records) about partitions of its source (ABI 1.1):
  // now read by this process (ahead of their first records), or no longer
  // (behind their last ones; lost: someone else's already, drop without a
  // checkpoint); or (ABI 1.2) their event time reached `watermarks` (one per
  // partition) with no record to show for it.
  enum class Control : uint8_t { kNone, kAssigned, kRevoked, kLost, kWatermark };
  Control control_kind = Control::kNone;
  std::vector<int32_t> partitions;
  std::vector<int64_t> watermarks;  // kWatermark: in the order of `partitions`
  bool control() const { return control_kind != Control::kNone; }

  void seal() {
    records = storage.data();
    count = static_cast<uint32_t>(storage.size());
  }
};

inline HostBatch* host_batch(const weir_batch* b) { return static_cast<HostBatch*>(const_cast<weir_batch*>(b)); }

// Batches are recycled (with their arena chunks) to keep allocation off the hot path.
HostBatch* new_batch(uint32_t record_hint);
void retain(HostBatch* b, int32_t n = 1);
// A new batch, empty, whose records may point into PARENT's (it keeps PARENT
// alive) and which carries PARENT's groups. Fill `storage`, then seal().
HostBatch* new_view(HostBatch* parent);
// Drops one reference; the last one acks the batch's groups and recycles it.
void release(HostBatch* b);
// Drops a batch that was NOT delivered (a hard stop, a failed pipeline): its
// groups stay pending, so the source never commits it and it is read again
// after a restart.
void abandon(HostBatch* b);

}  // namespace weir
