// Engine::send_batch: events of one stream sent one after another, exactly as
// send_at sends them, with the memory each of them will touch fetched a few
// events ahead.
//
// Why: a statement in a keyed context has an instance per key (10 000 cars),
// and each event reaches its instance cold, through a chain of dependent
// loads: the partition index slot -> the partition's key -> parts[p] -> the
// Statement -> the row its event is written to. One at a time, every link is
// a cache miss the CPU waits for. Knowing the next events, the links of event
// i + k*kStep are fetched while event i is processed, one link per stage, so
// each is in the cache when the next stage (or the event itself) reads it.
// The hints change nothing the engine does: an event is processed by
// send_at, and a hint that went stale (a partition created meanwhile, a
// hash shared by two keys) only costs a useless fetch.
#include "engine.hpp"

#include <algorithm>
#include <cstddef>

namespace weir::cep {

namespace {

// Events between two stages of the chain: enough for a fetch to land (an
// event takes a few hundred ns; a dependent miss over 80 MB costs ~450 ns on
// the benchmark machine, a VM). Measured with cep_bench on context_bycar.epl:
// CPU time 1.04 s at 2, 1.00 s at 4, 1.11 s at 8, 1.11 s at 16.
constexpr ptrdiff_t kStep = 4;
constexpr ptrdiff_t kAhead = 4 * kStep;  // four stages: slot, partition, instance, row
constexpr size_t kRing = 32;             // > kAhead

}  // namespace

bool Engine::prefetches(int stream) const {
  for (const Statement* s : streams_[static_cast<size_t>(stream)].readers) {
    const Contextual* c = contextual_[s->index()].get();
    if (c && contexts_[c->context]->keyed()) return true;
  }
  return false;
}

void Engine::send_batch(int stream, const Value* rows, const int64_t* times, size_t n) {
  size_t width = stream_type(stream).fields.size();
  // The keyed contexts routing this stream, each with its statements reading it.
  struct Keyed {
    ContextRuntime* context;
    std::vector<Contextual*> statements;
    uint64_t hash[kRing];
    size_t partition[kRing];
  };
  std::vector<Keyed> keyed;
  for (Statement* s : streams_[static_cast<size_t>(stream)].readers) {
    Contextual* c = contextual_[s->index()].get();
    if (!c || !contexts_[c->context]->keyed()) continue;
    ContextRuntime* ctx = contexts_[c->context].get();
    auto it = std::find_if(keyed.begin(), keyed.end(), [&](const Keyed& k) { return k.context == ctx; });
    if (it == keyed.end()) it = keyed.insert(keyed.end(), Keyed{ctx, {}, {}, {}});
    it->statements.push_back(c);
  }
  // The instance of statement c for partition p, if it exists.
  auto instance = [](const Contextual& c, size_t p) -> const Statement* {
    return p < c.parts.size() ? c.parts[p].get() : nullptr;
  };
  // Event i is sent after the stages of events i + kStep .. i + kAhead ran.
  auto ahead = [&](ptrdiff_t i, ptrdiff_t d, size_t& e) {
    e = static_cast<size_t>(i + d);
    return i + d >= 0 && e < n;
  };
  for (ptrdiff_t i = -kAhead; i < static_cast<ptrdiff_t>(n); ++i) {
    size_t e;
    for (Keyed& k : keyed) {
      if (ahead(i, kAhead, e)) k.hash[e % kRing] = k.context->prefetch_slot(stream, rows + e * width);
      if (ahead(i, 3 * kStep, e)) {
        size_t p = k.partition[e % kRing] = k.context->prefetch_partition(k.hash[e % kRing]);
        for (const Contextual* c : k.statements)
          if (p < c->parts.size()) {
            __builtin_prefetch(&c->parts[p]);
            if (p < c->queued.size()) __builtin_prefetch(&c->queued[p]);
          }
      }
      if (ahead(i, 2 * kStep, e))
        for (const Contextual* c : k.statements)
          if (const Statement* s = instance(*c, k.partition[e % kRing])) s->prefetch_state();
      if (ahead(i, kStep, e))
        for (const Contextual* c : k.statements)
          if (const Statement* s = instance(*c, k.partition[e % kRing])) s->prefetch_row();
    }
    if (i >= 0) send_at(stream, rows + static_cast<size_t>(i) * width, times[i]);
  }
}

}  // namespace weir::cep
