#include "batch.hpp"

#include "ack.hpp"

#include <cstring>
#include <mutex>
#include <utility>

namespace weir {

static constexpr size_t kChunk = 64 * 1024;

void* Arena::alloc(size_t size) {
  size = (size + 7) & ~size_t{7};
  while (current_ < chunks_.size()) {
    Chunk& c = chunks_[current_];
    if (used_ + size <= c.size) {
      void* p = c.data.get() + used_;
      used_ += size;
      return p;
    }
    ++current_;
    used_ = 0;
  }
  size_t chunk = size > kChunk ? size : kChunk;
  chunks_.push_back({std::make_unique<char[]>(chunk), chunk});
  current_ = chunks_.size() - 1;
  used_ = size;
  return chunks_.back().data.get();
}

void Arena::reset() {
  // Oversized chunks are not worth keeping around.
  if (chunks_.size() > 16) chunks_.resize(16);
  current_ = 0;
  used_ = 0;
}

size_t Arena::capacity() const {
  size_t total = 0;
  for (const auto& c : chunks_) total += c.size;
  return total;
}

namespace {
// A plain mutex-guarded free list: a few thousand batches per second at most.
struct BatchPool {
  std::mutex mu;
  std::vector<HostBatch*> free;
  ~BatchPool() {
    for (auto* b : free) delete b;
  }
};
BatchPool& pool() {
  static BatchPool* p = new BatchPool;  // never destroyed: plugins may release batches late
  return *p;
}
constexpr size_t kPoolMax = 1024;
}  // namespace

HostBatch* new_batch(uint32_t record_hint) {
  HostBatch* b = nullptr;
  {
    std::lock_guard lock(pool().mu);
    if (!pool().free.empty()) {
      b = pool().free.back();
      pool().free.pop_back();
    }
  }
  if (!b) b = new HostBatch;
  b->refs.store(1, std::memory_order_relaxed);
  b->records = nullptr;
  b->count = 0;
  if (record_hint) b->storage.reserve(record_hint);
  return b;
}

HostBatch* new_view(HostBatch* parent) {
  HostBatch* v = new_batch(parent->count);
  retain(parent);
  v->parent = parent;
  v->acks = parent->acks;
  for (AckGroup* g : v->acks) g->retain();
  return v;
}

void retain(HostBatch* b, int32_t n) { b->refs.fetch_add(n, std::memory_order_relaxed); }

void abandon(HostBatch* b) {
  // The reference is kept for good: the batch never reaches zero, so its
  // groups never complete and no source commits it. (Clearing its groups and
  // releasing it raced with fan-out siblings still reading them, e.g. an
  // operator deriving batches from the same input.) Only at a hard stop or a
  // failure, shortly before the process exits. Kept in a list, so the batch is
  // still reachable (not a leak to LeakSanitizer).
  static std::mutex mu;
  static auto* kept = new std::vector<HostBatch*>;
  std::lock_guard lock(mu);
  kept->push_back(b);
}

void release(HostBatch* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (AckGroup* g : b->acks) g->release();
  b->acks.clear();
  b->storage.clear();
  b->arena.reset();
  b->partitions.clear();
  b->watermarks.clear();
  b->control_kind = HostBatch::Control::kNone;
  b->emitted_ns.store(0, std::memory_order_relaxed);
  if (HostBatch* parent = std::exchange(b->parent, nullptr)) release(parent);
  for (HostBatch* k : std::exchange(b->kept, {})) release(k);
  std::lock_guard lock(pool().mu);
  if (pool().free.size() < kPoolMax) pool().free.push_back(b);
  else delete b;
}

}  // namespace weir
