#include "ack.hpp"
#include "batch.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace weir {
namespace {

TEST(AckTracker, CommitsOnlyTheContiguousPrefixOfDoneGroups) {
  Signal wake;
  AckTracker tracker(&wake);
  AckGroup* a = tracker.open_group({{0, 9}});
  AckGroup* b = tracker.open_group({{0, 19}, {1, 4}});
  AckGroup* c = tracker.open_group({{0, 29}});
  c->release();  // done out of order: nothing may be committed yet
  EXPECT_TRUE(tracker.collect().empty());
  a->release();
  auto first = tracker.collect();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].partition, 0);
  EXPECT_EQ(first[0].offset, 9);
  b->release();  // now b and c are both done: the highest offset per partition
  auto second = tracker.collect();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].partition, 0);
  EXPECT_EQ(second[0].offset, 29);
  EXPECT_EQ(second[1].partition, 1);
  EXPECT_EQ(second[1].offset, 4);
  EXPECT_EQ(tracker.outstanding(), 0u);
}

TEST(AckTracker, FanOutCompletesOnlyWhenEveryReferenceIsReleased) {
  Signal wake;
  AckTracker tracker(&wake);
  HostBatch* batch = new_batch(1);
  batch->acks.push_back(tracker.open_group({{0, 0}}));
  retain(batch);  // two consumers share the batch
  release(batch);
  EXPECT_TRUE(tracker.collect().empty()) << "one consumer has not acknowledged yet";
  release(batch);
  EXPECT_EQ(tracker.collect().size(), 1u);
}

TEST(AckTracker, DerivedBatchesKeepTheSourceGroupPending) {
  Signal wake;
  AckTracker tracker(&wake);
  HostBatch* input = new_batch(1);
  input->acks.push_back(tracker.open_group({{0, 5}}));
  HostBatch* derived = new_batch(1);
  for (AckGroup* g : input->acks) {
    g->retain();
    derived->acks.push_back(g);
  }
  release(input);  // the operator is done with its input...
  EXPECT_TRUE(tracker.collect().empty()) << "...but the derived batch is not written yet";
  release(derived);
  EXPECT_EQ(tracker.collect().size(), 1u);
}

TEST(AckTracker, AbandonedBatchIsNeverCommitted) {
  Signal wake;
  AckTracker tracker(&wake);
  HostBatch* batch = new_batch(1);
  batch->acks.push_back(tracker.open_group({{0, 0}}));
  abandon(batch);
  EXPECT_TRUE(tracker.collect().empty());
  EXPECT_EQ(tracker.outstanding(), 1u);
}

TEST(AckTracker, ConcurrentReleasesCommitEverything) {
  Signal wake;
  AckTracker tracker(&wake);
  constexpr int kGroups = 20000;
  std::vector<AckGroup*> groups;
  for (int i = 0; i < kGroups; ++i) groups.push_back(tracker.open_group({{i % 4, i / 4}}));
  std::thread odd([&] { for (int i = 1; i < kGroups; i += 2) groups[i]->release(); });
  std::thread even([&] { for (int i = 0; i < kGroups; i += 2) groups[i]->release(); });
  odd.join();
  even.join();
  auto done = tracker.collect();
  ASSERT_EQ(done.size(), 4u);
  for (const auto& p : done) EXPECT_EQ(p.offset, (kGroups - 1) / 4);
}

}  // namespace
}  // namespace weir
