#include "edge_queue.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weir {
namespace {

// Tags each batch with (producer, sequence) in its record count/position.
HostBatch* tagged(int producer, int64_t seq) {
  HostBatch* b = new_batch(1);
  b->storage.push_back({});
  b->storage.back().position = {producer, seq};
  b->seal();
  return b;
}

TEST(EdgeQueue, OneProducerOneConsumerKeepsOrderAndCount) {
  Signal producer, consumer;
  EdgeQueue q(8, &producer, &consumer);  // tiny capacity: lots of backpressure
  constexpr int64_t kCount = 200000;
  std::thread p([&] {
    for (int64_t i = 0; i < kCount; ++i) ASSERT_TRUE(q.push(tagged(0, i), [] { return false; }));
    q.close();
  });
  int64_t expected = 0;
  while (true) {
    if (HostBatch* b = q.pop()) {
      ASSERT_EQ(b->records[0].position.offset, expected);
      ++expected;
      release(b);
      continue;
    }
    if (q.closed() && q.empty_for_consumer()) break;
    uint32_t key = consumer.prepare();
    if (!q.empty_for_consumer() || q.closed()) consumer.cancel();
    else consumer.wait(key, 10'000'000);
  }
  p.join();
  EXPECT_EQ(expected, kCount);
  EXPECT_EQ(q.depth(), 0u);
}

TEST(EdgeQueue, ManyProducersIntoOneConsumerKeepPerEdgeOrder) {
  constexpr int kProducers = 4;
  constexpr int64_t kCount = 50000;
  Signal consumer;
  std::vector<Signal> producer_signals(kProducers);
  std::vector<std::unique_ptr<EdgeQueue>> queues;
  for (int i = 0; i < kProducers; ++i) queues.push_back(std::make_unique<EdgeQueue>(16, &producer_signals[i], &consumer));
  std::vector<std::thread> producers;
  for (int i = 0; i < kProducers; ++i)
    producers.emplace_back([&, i] {
      for (int64_t s = 0; s < kCount; ++s) ASSERT_TRUE(queues[i]->push(tagged(i, s), [] { return false; }));
      queues[i]->close();
    });
  std::vector<int64_t> next(kProducers, 0);
  int closed = 0;
  while (closed < kProducers) {
    bool any = false;
    closed = 0;
    for (int i = 0; i < kProducers; ++i) {
      while (HostBatch* b = queues[i]->pop()) {
        any = true;
        ASSERT_EQ(b->records[0].position.partition, i);
        ASSERT_EQ(b->records[0].position.offset, next[i]) << "edge " << i << " out of order";
        ++next[i];
        release(b);
      }
      if (queues[i]->closed() && queues[i]->empty_for_consumer()) ++closed;
    }
    if (!any && closed < kProducers) {
      uint32_t key = consumer.prepare();
      consumer.wait(key, 1'000'000);
    }
  }
  for (auto& t : producers) t.join();
  for (int i = 0; i < kProducers; ++i) EXPECT_EQ(next[i], kCount);
}

TEST(EdgeQueue, FullQueueBlocksUntilAbort) {
  Signal producer, consumer;
  EdgeQueue q(2, &producer, &consumer);
  ASSERT_TRUE(q.push(tagged(0, 0), [] { return false; }));
  ASSERT_TRUE(q.push(tagged(0, 1), [] { return false; }));
  std::atomic<bool> abort{false};
  std::thread t([&] {
    HostBatch* b = tagged(0, 2);
    EXPECT_FALSE(q.push(b, [&] { return abort.load(); })) << "a full queue must hold the producer";
    release(b);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(q.depth(), 2u);
  abort = true;
  producer.notify();
  t.join();
  while (HostBatch* b = q.pop()) release(b);
}

}  // namespace
}  // namespace weir
