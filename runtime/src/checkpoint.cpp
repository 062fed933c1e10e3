#include "checkpoint.hpp"

#include <chrono>

namespace weir {

static weir_writer string_writer(std::string& out) {
  out.clear();
  return {&out, [](void* o, const void* data, size_t size) {
            static_cast<std::string*>(o)->append(static_cast<const char*>(data), size);
          }};
}

bool snapshot_of(const weir_plugin_vtable* vt, void* instance, std::string& out) {
  if (!vt->snapshot) return false;
  weir_writer w = string_writer(out);
  return vt->snapshot(instance, &w) == WEIR_OK;
}

bool snapshot_of_partition(const weir_plugin_vtable* vt, void* instance, int32_t partition, std::string& out) {
  if (!vt->snapshot_partition) return false;
  weir_writer w = string_writer(out);
  return vt->snapshot_partition(instance, partition, &w) == WEIR_OK;
}

Checkpointer::Checkpointer(std::string spec, int64_t interval_ms, Signal* wake, bool per_partition)
    : spec_(std::move(spec)), per_partition_(per_partition), interval_ns_(interval_ms * 1'000'000), deliveries_(wake) {}

bool Checkpointer::open(const std::string& pipeline, const std::string& node, std::string& error) {
  store_ = open_checkpoint_store(spec_, pipeline, node, per_partition_, error);
  return store_ != nullptr;
}

std::optional<CheckpointData> Checkpointer::saved(int32_t partition, std::string& error) const {
  error.clear();
  std::string key = key_for(partition);
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it)
    if (auto f = it->files.find(key); f != it->files.end()) return f->second;
  return store_->read(key, error);
}

void Checkpointer::resume_partition(int32_t partition, int64_t offset) {
  seen_[partition] = offset;
  skip_[partition] = offset;
}

void Checkpointer::forget(int32_t partition) {
  seen_.erase(partition);
  skip_.erase(partition);
  dirty_parts_.erase(partition);
}

void Checkpointer::resume_after(std::map<int32_t, int64_t> positions) {
  seen_ = positions;
  skip_ = std::move(positions);
}

HostBatch* Checkpointer::admit(HostBatch* b) {
  dirty_ = true;
  admitted_ += b->count;
  for (AckGroup* g : b->acks) {
    g->retain();
    uncovered_.push_back(g);
  }
  for (uint32_t i = 0; i < b->count; ++i) {
    const weir_position& p = b->records[i].position;
    auto [it, inserted] = seen_.emplace(p.partition, p.offset);
    if (!inserted && p.offset > it->second) it->second = p.offset;
  }
  if (per_partition_ && b->count) dirty_parts_.insert(b->records[0].position.partition);  // one partition per batch
  if (skip_.empty()) return b;
  // After a restore: leave out what the state holds. A partition's replay is
  // in order, so once past its saved offset it is not checked any more.
  std::vector<weir_record> kept;
  for (uint32_t i = 0; i < b->count; ++i) {
    const weir_position& p = b->records[i].position;
    auto s = skip_.find(p.partition);
    if (s != skip_.end()) {
      if (p.offset <= s->second) continue;
      skip_.erase(s);
    }
    kept.push_back(b->records[i]);
  }
  if (kept.size() == b->count) return b;
  if (kept.empty()) return nullptr;
  HostBatch* view = new_view(b);
  view->storage = std::move(kept);
  view->seal();
  return view;
}

void Checkpointer::track_emitted(const std::vector<HostBatch*>& emitted) {
  if (emitted.empty()) return;
  AckGroup* g = deliveries_.open_group({{0, static_cast<int64_t>(++emitted_seq_)}});
  for (HostBatch* b : emitted) {
    g->retain();
    b->acks.push_back(g);
  }
  g->release();  // open_group's own count: now only the batches keep it pending
}

void Checkpointer::take(const std::string& plugin, std::string state, int64_t now_ns) {
  // A source without positions: save none (see no_positions()).
  CheckpointData d{plugin, no_positions() ? std::map<int32_t, int64_t>{} : seen_, {}, std::move(state)};
  push_pending({{key_for(0), std::move(d)}}, now_ns);
}

void Checkpointer::take_partitions(const std::string& plugin, std::vector<PartitionSnapshot> parts, int64_t now_ns) {
  bool no_positions = this->no_positions();
  std::map<std::string, CheckpointData> files;
  for (PartitionSnapshot& p : parts) {
    CheckpointData d{plugin, {}, {}, std::move(p.state)};
    if (auto it = seen_.find(p.partition); it != seen_.end() && !no_positions) d.positions[p.partition] = it->second;
    if (p.watermark_ns != INT64_MIN) d.watermarks[p.partition] = p.watermark_ns;
    files.emplace(key_for(p.partition), std::move(d));
    dirty_parts_.erase(p.partition);
  }
  push_pending(std::move(files), now_ns);
}

void Checkpointer::push_pending(std::map<std::string, CheckpointData> files, int64_t now_ns) {
  pending_.push_back({emitted_seq_, std::move(files), std::move(uncovered_)});
  uncovered_.clear();
  dirty_ = false;
  next_due_ns_ = now_ns + interval_ns_;
}

std::string Checkpointer::settle() {
  for (const weir_position& p : deliveries_.collect())
    delivered_seq_ = std::max(delivered_seq_, static_cast<uint64_t>(p.offset));
  size_t ready = 0;
  while (ready < pending_.size() && pending_[ready].after_delivery <= delivered_seq_) ++ready;
  if (ready == 0) return "";
  // Per key, the newest of the ready snapshots (a partition's checkpoint holds only it).
  std::map<std::string, const CheckpointData*> newest;
  for (size_t i = 0; i < ready; ++i)
    for (const auto& [key, data] : pending_[i].files) newest[key] = &data;
  std::string error;
  if (!store_->write({newest.begin(), newest.end()}, error)) return error;
  ++written_;
  uint64_t bytes = 0;
  for (const auto& [key, data] : newest) bytes += data->state.size();
  last_state_bytes_.store(bytes, std::memory_order_relaxed);
  last_written_ms_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count(),
                         std::memory_order_relaxed);
  for (size_t i = 0; i < ready; ++i) {
    for (AckGroup* g : pending_.front().covers) g->release();
    pending_.pop_front();
  }
  return "";
}

}  // namespace weir
