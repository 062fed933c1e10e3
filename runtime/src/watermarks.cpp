#include "watermarks.hpp"

#include <algorithm>

namespace weir {

Watermarks::Partition& Watermarks::find(int32_t id) {
  for (Partition& p : partitions_)
    if (p.id == id) return p;
  partitions_.push_back({id});
  return partitions_.back();
}

Watermarks::Verdict Watermarks::observe(int32_t partition, int64_t event_ns, int64_t now_ns, int64_t& distance_ns) {
  distance_ns = 0;
  if (event_ns == 0) return Verdict::kOnTime;  // unknown event time: nothing to judge it by
  Partition& p = find(partition);
  // A partition's first record is never late and never too far ahead: until it
  // has a watermark the partition holds no clock back and has none to jump.
  if (p.watermark_ns != kUnknown) {
    if (options_.allowed_lateness_ns >= 0) {  // the node's clock only when lateness is judged: it walks every partition
      int64_t against = options_.per_partition ? p.watermark_ns : clock(now_ns);
      if (event_ns < against - options_.allowed_lateness_ns) {
        distance_ns = against - event_ns;
        ++p.late;
        return Verdict::kLate;
      }
    }
    // Ahead of its own partition's watermark: that is the clock it would move.
    if (event_ns - p.watermark_ns > options_.max_ahead_ns) {
      distance_ns = event_ns - p.watermark_ns;
      ++p.ahead;
      return Verdict::kTooFarAhead;
    }
  }
  p.watermark_ns = std::max(p.watermark_ns, event_ns);
  p.last_seen_ns = now_ns;
  return Verdict::kOnTime;
}

bool Watermarks::advance(int32_t partition, int64_t watermark_ns, int64_t now_ns) {
  Partition& p = find(partition);
  p.last_seen_ns = now_ns;  // the partition is active: it moves
  if (p.watermark_ns != kUnknown && watermark_ns <= p.watermark_ns) return false;
  // A record that far ahead would have gone to error without moving time.
  if (p.watermark_ns != kUnknown && watermark_ns - p.watermark_ns > options_.max_ahead_ns) return false;
  p.watermark_ns = watermark_ns;
  return true;
}

int64_t Watermarks::clock(int64_t now_ns) const {
  int64_t active = kUnknown, all = kUnknown;
  for (const Partition& p : partitions_) {
    if (p.watermark_ns == kUnknown) continue;
    all = all == kUnknown ? p.watermark_ns : std::min(all, p.watermark_ns);
    if (now_ns - p.last_seen_ns > options_.idle_timeout_ns) continue;
    active = active == kUnknown ? p.watermark_ns : std::min(active, p.watermark_ns);
  }
  // Every partition idle: nothing arrives to be judged; report the slowest.
  return active != kUnknown ? active : all;
}

int64_t Watermarks::of(int32_t partition) const {
  for (const Partition& p : partitions_)
    if (p.id == partition) return p.watermark_ns;
  return kUnknown;
}

void Watermarks::set(int32_t partition, int64_t watermark_ns) { find(partition).watermark_ns = watermark_ns; }

void Watermarks::drop(int32_t partition) {
  std::erase_if(partitions_, [&](const Partition& p) { return p.id == partition; });
}

std::vector<Watermarks::Entry> Watermarks::entries(int64_t now_ns) const {
  std::vector<Entry> out;
  for (const Partition& p : partitions_)
    out.push_back({p.id, p.watermark_ns, now_ns - p.last_seen_ns > options_.idle_timeout_ns, p.late, p.ahead});
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.partition < b.partition; });
  return out;
}

}  // namespace weir
