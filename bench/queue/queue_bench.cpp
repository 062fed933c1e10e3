// Queue benchmark: the SPSC queues weir could use for its edges, side by side
// in one run — Boost.Lockfree spsc_queue (what weir uses), moodycamel's
// ReaderWriterQueue and atomic_queue's SPSC mode. One producer thread, one
// consumer (the benchmark thread); items are pointer-sized like weir's batch
// pointers. Throughput: items/s through a 1024-slot queue. Latency: round
// trip over a pair of queues to an echo thread, p50/p99 in ns.
#include <atomic_queue/atomic_queue.h>
#include <benchmark/benchmark.h>
#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

constexpr size_t kCapacity = 1024;
constexpr uint64_t kItems = 1 << 22;

struct BoostQueue {
  boost::lockfree::spsc_queue<uint64_t> q{kCapacity};
  bool push(uint64_t v) { return q.push(v); }
  bool pop(uint64_t& v) { return q.pop(v); }
};
struct MoodycamelQueue {
  moodycamel::ReaderWriterQueue<uint64_t> q{kCapacity};
  bool push(uint64_t v) { return q.try_enqueue(v); }  // try_: never allocate, stay bounded
  bool pop(uint64_t& v) { return q.try_dequeue(v); }
};
struct AtomicQueueSpsc {
  // NIL = 0, so items start at 1.
  atomic_queue::AtomicQueueB<uint64_t, std::allocator<uint64_t>, 0, true, false, true> q{kCapacity};
  bool push(uint64_t v) { return q.try_push(v); }
  bool pop(uint64_t& v) { return q.try_pop(v); }
};

template <class Q>
void Throughput(benchmark::State& state) {
  for (auto _ : state) {
    Q q;
    std::thread producer([&] {
      for (uint64_t i = 1; i <= kItems; ++i)
        while (!q.push(i)) {
        }
    });
    uint64_t v = 0, expected = 1;
    while (expected <= kItems) {
      if (q.pop(v)) {
        if (v != expected) state.SkipWithError("out of order");
        ++expected;
      }
    }
    producer.join();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kItems));
}

template <class Q>
void RoundTrip(benchmark::State& state) {
  constexpr int kPings = 200000;
  std::vector<int64_t> samples;
  samples.reserve(kPings);
  for (auto _ : state) {
    Q there, back;
    std::thread echo([&] {
      uint64_t v = 0;
      for (int i = 0; i < kPings; ++i) {
        while (!there.pop(v)) {
        }
        while (!back.push(v)) {
        }
      }
    });
    uint64_t v = 0;
    for (int i = 1; i <= kPings; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      while (!there.push(static_cast<uint64_t>(i))) {
      }
      while (!back.pop(v)) {
      }
      samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    }
    echo.join();
  }
  std::sort(samples.begin(), samples.end());
  state.counters["p50_ns"] = static_cast<double>(samples[samples.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(samples[samples.size() * 99 / 100]);
  state.SetItemsProcessed(static_cast<int64_t>(samples.size()));
}

BENCHMARK(Throughput<BoostQueue>)->Name("throughput/boost_spsc_queue")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Throughput<MoodycamelQueue>)->Name("throughput/moodycamel_rwqueue")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Throughput<AtomicQueueSpsc>)->Name("throughput/atomic_queue_spsc")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(RoundTrip<BoostQueue>)->Name("roundtrip/boost_spsc_queue")->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(RoundTrip<MoodycamelQueue>)->Name("roundtrip/moodycamel_rwqueue")->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(RoundTrip<AtomicQueueSpsc>)->Name("roundtrip/atomic_queue_spsc")->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
