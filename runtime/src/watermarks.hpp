// Event time per input partition of one node: Flink's per-split watermarks and
// Kafka Streams' stream time per task, for records whose event time is known
// (event_time_ns != 0; csv_decode sets it from the log line's own date).
//
// A partition's watermark is the highest event time seen in it: the records of
// one source partition come in their event-time order (Kafka keeps a
// partition's order, and the producer of a partition writes it in time order).
// The node's clock is the minimum over its active partitions: a partition that
// brought nothing for idle_timeout stops holding the clock back, so one quiet
// partition cannot stop every window.
//
// A record is judged against its partition's watermark when the node keeps
// state per partition (its state only ever sees that partition), else against
// the node's clock. It is late when it is older than that minus the allowed
// lateness; it is too far ahead when it is more than max_ahead past it (one
// record dated a year ahead would otherwise make every later record late).
//
// Owned by the node's thread; other threads read the node's snapshot (node_snapshot.hpp).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace weir {

struct WatermarkOptions {
  int64_t allowed_lateness_ns = -1;  // < 0: no record is ever late (watermarks are still tracked)
  int64_t idle_timeout_ns = 10'000'000'000;
  int64_t max_ahead_ns = 86'400'000'000'000;  // a day
  bool per_partition = false;
};

class Watermarks {
 public:
  static constexpr int64_t kUnknown = std::numeric_limits<int64_t>::min();

  explicit Watermarks(WatermarkOptions options) : options_(options) {}

  enum class Verdict { kOnTime, kLate, kTooFarAhead };
  // A record of PARTITION with event time EVENT_NS, arriving at processing
  // time NOW_NS. On time, it moves its partition's watermark. DISTANCE_NS is
  // how late or how far ahead it is.
  Verdict observe(int32_t partition, int64_t event_ns, int64_t now_ns, int64_t& distance_ns);

  // PARTITION's event time reached WATERMARK_NS with no record here (an
  // upstream operator filtered them out). True if its watermark moved.
  bool advance(int32_t partition, int64_t watermark_ns, int64_t now_ns);

  // The node's clock: the minimum watermark over partitions active at NOW_NS.
  int64_t clock(int64_t now_ns) const;
  int64_t of(int32_t partition) const;
  // A partition's watermark as restored from its checkpoint.
  void set(int32_t partition, int64_t watermark_ns);
  void drop(int32_t partition);
  const WatermarkOptions& options() const { return options_; }

  struct Entry {
    int32_t partition;
    int64_t watermark_ns;
    bool idle;
    uint64_t late, ahead;
  };
  // Every partition's state at NOW_NS, by partition number (for the node's snapshot).
  std::vector<Entry> entries(int64_t now_ns) const;

 private:
  struct Partition {
    int32_t id;
    int64_t watermark_ns = kUnknown;
    int64_t last_seen_ns = 0;  // processing time of its last on-time record
    uint64_t late = 0, ahead = 0;
  };
  Partition& find(int32_t id);

  WatermarkOptions options_;
  std::vector<Partition> partitions_;  // a handful: a linear search beats a map
};

}  // namespace weir
