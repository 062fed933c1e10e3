// The sink driver against a fake sink and a fake clock: when it sends, what it
// gathers, what it retries and when, what it gives up.
#include "sink_driver.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace weir {
namespace {

HostBatch* batch_of(uint32_t records, int64_t first_offset = 0) {
  HostBatch* b = new_batch(records);
  for (uint32_t i = 0; i < records; ++i) {
    weir_record r{};
    r.payload = {"x", 1};
    r.position = {0, first_offset + i};
    b->storage.push_back(r);
  }
  b->seal();
  return b;
}

// A sink that answers from a script (OK when the script is empty) and notes
// every attempt: when, and which records.
struct FakeSink : SinkTarget {
  struct Attempt {
    int64_t at_ms;
    std::vector<int64_t> offsets;
    void* request;
  };
  std::deque<int> script;
  std::vector<Attempt> attempts;
  std::vector<std::vector<int64_t>> stored_offsets;
  std::vector<std::vector<SentReject>> stored_rejects;
  std::vector<std::string> given_up;
  int encodes = 0, frees = 0;
  int64_t now_ms = 0;
  SinkDriver* driver = nullptr;
  std::vector<std::pair<uint32_t, std::string>> reject_next;  // rejects of the next attempt

  static std::vector<int64_t> offsets(const HostBatch* b) {
    std::vector<int64_t> out;
    for (uint32_t i = 0; i < b->count; ++i) out.push_back(b->records[i].position.offset);
    return out;
  }
  bool encode(HostBatch* b, void*& request) override {
    ++encodes;
    request = b;
    return true;
  }
  int send(HostBatch* b, void* request, std::string& reason) override {
    attempts.push_back({now_ms, offsets(b), request});
    for (auto& [i, why] : reject_next) driver->on_reject(request, i, why);
    reject_next.clear();
    if (script.empty()) return WEIR_OK;
    int st = script.front();
    script.pop_front();
    if (st == WEIR_RETRY) reason = "server down";
    return st;
  }
  void free_request(void*) override { ++frees; }
  void stored(HostBatch* b, const std::vector<SentReject>& rejects) override {
    stored_offsets.push_back(offsets(b));
    stored_rejects.push_back(rejects);
  }
  void gave_up(HostBatch*, const std::string& reason) override { given_up.push_back(reason); }
  void log(int, const std::string&) override {}
};

struct DriverTest : ::testing::Test {
  FakeSink sink;
  std::unique_ptr<SinkDriver> driver;
  void make(DeliveryPolicy p, double u = 0.5) {
    driver = std::make_unique<SinkDriver>(sink, p, [u] { return u; });
    sink.driver = driver.get();
  }
  // Runs the driver on a fake clock, one millisecond at a time, to END_MS.
  void run_until(int64_t end_ms) {
    for (; sink.now_ms <= end_ms; ++sink.now_ms) ASSERT_TRUE(driver->step(sink.now_ms * 1'000'000));
    --sink.now_ms;
  }
};

DeliveryPolicy policy(uint32_t max_records, int64_t linger_ms, uint32_t in_flight) {
  DeliveryPolicy p;
  p.max_records = max_records;
  p.linger_ns = linger_ms * 1'000'000;
  p.max_in_flight = in_flight;
  return p;
}

TEST_F(DriverTest, RetriesFollowTheBackoffPolicyWithItsJitterAndCap) {
  DeliveryPolicy p = policy(0, 0, 1);
  p.retry = {.initial_ns = 100'000'000, .max_ns = 500'000'000, .multiplier = 2.0, .jitter = 0.2};
  make(p, 0.75);  // the jitter draws +10% every time
  sink.script = {WEIR_RETRY, WEIR_RETRY, WEIR_RETRY, WEIR_RETRY};
  driver->add(batch_of(3), 0);
  run_until(3000);
  // Waits: 100, 200, 400 ms (+10%), then 800 capped at 500 (and +10% capped again).
  std::vector<int64_t> at;
  for (auto& a : sink.attempts) at.push_back(a.at_ms);
  EXPECT_EQ(at, (std::vector<int64_t>{0, 110, 330, 770, 1270}));
  ASSERT_EQ(sink.stored_offsets.size(), 1u);
  EXPECT_EQ(sink.stored_offsets[0], (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(sink.encodes, 1) << "a request is encoded once and sent again as it is";
  EXPECT_EQ(sink.frees, 1);
  EXPECT_TRUE(driver->idle());
}

TEST_F(DriverTest, GivesUpAfterTheConfiguredAttempts) {
  DeliveryPolicy p = policy(0, 0, 1);
  p.retry = {.initial_ns = 10'000'000, .max_ns = 10'000'000, .multiplier = 1.0, .jitter = 0, .max_attempts = 3};
  make(p);
  sink.script = {WEIR_RETRY, WEIR_RETRY, WEIR_RETRY, WEIR_RETRY};
  driver->add(batch_of(2), 0);
  driver->add(batch_of(2, 2), 0);
  run_until(200);
  ASSERT_EQ(sink.given_up.size(), 1u);
  EXPECT_NE(sink.given_up[0].find("gave up after 3 attempt(s): server down"), std::string::npos) << sink.given_up[0];
  // The second batch went on after the first was given up.
  ASSERT_EQ(sink.stored_offsets.size(), 1u);
  EXPECT_EQ(sink.stored_offsets[0], (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(sink.attempts.size(), 5u);
}

TEST_F(DriverTest, GathersBatchesUpToTheRecordLimitOrTheLinger) {
  make(policy(5, 50, 1));
  driver->add(batch_of(2, 0), 0);
  driver->add(batch_of(2, 2), 0);
  run_until(49);
  EXPECT_TRUE(sink.attempts.empty()) << "lingers for more input";
  run_until(50);
  ASSERT_EQ(sink.attempts.size(), 1u);
  EXPECT_EQ(sink.attempts[0].offsets, (std::vector<int64_t>{0, 1, 2, 3}));
  // A third batch of 2 would make 6 > 5: it starts the next request.
  driver->add(batch_of(2, 4), 60'000'000);
  driver->add(batch_of(2, 6), 60'000'000);
  driver->add(batch_of(2, 8), 60'000'000);
  run_until(61);
  ASSERT_EQ(sink.attempts.size(), 2u);
  EXPECT_EQ(sink.attempts[1].offsets, (std::vector<int64_t>{4, 5, 6, 7}));
  run_until(110);
  ASSERT_EQ(sink.attempts.size(), 3u);
  EXPECT_EQ(sink.attempts[2].offsets, (std::vector<int64_t>{8, 9}));
}

TEST_F(DriverTest, KeepsAtMostMaxInFlightOutAndTheirOrder) {
  make(policy(0, 0, 1));
  sink.script = {WEIR_PENDING, WEIR_PENDING};
  driver->add(batch_of(1, 0), 0);
  driver->add(batch_of(1, 1), 0);
  run_until(10);
  ASSERT_EQ(sink.attempts.size(), 1u) << "the second waits for the first's outcome";
  EXPECT_EQ(driver->pending(), 1);
  driver->on_sent(sink.attempts[0].request, WEIR_OK, "");
  run_until(11);
  ASSERT_EQ(sink.attempts.size(), 2u);
  EXPECT_EQ(sink.attempts[1].offsets, (std::vector<int64_t>{1}));
  ASSERT_EQ(sink.stored_offsets.size(), 1u);
  EXPECT_EQ(sink.stored_offsets[0], (std::vector<int64_t>{0}));
  // An async failure: sent again after its backoff, before anything newer.
  driver->add(batch_of(1, 2), 11'000'000);
  driver->on_sent(sink.attempts[1].request, WEIR_RETRY, "timed out");
  run_until(40);
  ASSERT_EQ(sink.attempts.size(), 4u);
  EXPECT_EQ(sink.attempts[2].offsets, (std::vector<int64_t>{1}));
  EXPECT_EQ(sink.attempts[2].at_ms, 21) << "10 ms after the failure was taken, at 11";
  EXPECT_EQ(sink.attempts[3].offsets, (std::vector<int64_t>{2}));
  EXPECT_TRUE(driver->idle());
}

TEST_F(DriverTest, AnAsyncFailureIsRetriedAndItsRejectsOnlyCountOnceStored) {
  make(policy(0, 0, 1));
  sink.script = {WEIR_RETRY};
  sink.reject_next = {{1, "too large"}};
  driver->add(batch_of(3), 0);
  run_until(0);
  ASSERT_EQ(sink.attempts.size(), 1u);
  run_until(5);
  EXPECT_EQ(sink.attempts.size(), 1u) << "backoff of 10 ms by default";
  sink.reject_next = {{2, "wrong type"}};
  run_until(20);
  ASSERT_EQ(sink.stored_rejects.size(), 1u);
  ASSERT_EQ(sink.stored_rejects[0].size(), 1u) << "the failed attempt's reject is forgotten";
  EXPECT_EQ(sink.stored_rejects[0][0].index, 2u);
  EXPECT_EQ(sink.stored_rejects[0][0].reason, "wrong type");
}

}  // namespace
}  // namespace weir
