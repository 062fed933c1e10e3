// Engine::send_batch against one send_at per event: the same events, cut
// into batches of several sizes, give the same deliveries (statement, time,
// rows, in order), with timers (batch ends, expiries) due between the events
// of a batch, partitions created inside a batch, and statements in keyed,
// hash and category contexts, outside any context, and reading an `insert
// into` stream.
#include "engine.hpp"
#include "parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace weir::cep;

namespace {

const EventType kEv{"Ev", {{"sym", Type::String}, {"price", Type::Long}, {"qty", Type::Long}}};

const char* kRules = R"(
create context BySym partition by sym from Ev;
create context ByBucket coalesce by consistent_hash_crc32(sym) from Ev granularity 4;
create context BySize group by qty > 5 as big, group by qty <= 5 as small from Ev;
context BySym select sym, count(*) as n, avg(price) as p from Ev#time_batch(1 sec) having avg(price) > 40;
context BySym select irstream sym, price from Ev#time(700 msec);
context BySym select sym, sum(qty) as q from Ev#length(3);
context ByBucket select context.id as b, count(*) as n from Ev#time_batch(500 msec);
context BySize select context.label as l, sum(price) as s from Ev#time(300 msec);
insert into Big select sym, price from Ev(price > 70);
select sym, count(*) as n from Big#time_batch(2 sec) group by sym;
select sym, max(price) as m from Ev#time_batch(1 sec) group by sym;
)";

struct Event {
  std::vector<Value> row;
  int64_t ts;
};

// Events of 40 symbols over ~20 s, 0-3 per millisecond step of 0-250 ms, so
// that a batch of events spans several timer instants.
std::vector<Event> make_events(size_t n) {
  std::mt19937_64 rng(7);
  std::vector<Event> out;
  int64_t ts = 1000;
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 3 == 0) ts += static_cast<int64_t>(rng() % 250);
    std::string sym = "S" + std::to_string(rng() % 40);
    out.push_back({{Value::of_string(sym), Value::of_long(static_cast<int64_t>(rng() % 100)),
                    Value::of_long(static_cast<int64_t>(rng() % 10))},
                   ts});
  }
  return out;
}

struct Recorder {
  Engine engine{parse_module(kRules, "r.epl"), {kEv}, EngineOptions{0, {}}};
  std::vector<std::string> log;
  Recorder() {
    engine.set_listener([this](const Delivery& d) {
      std::string s = std::to_string(d.statement.index()) + " @" + std::to_string(d.time_ms) + ":";
      for (const RowSet* rows : {&d.inew, &d.iold}) {
        s += rows == &d.inew ? " new" : " old";
        for (size_t r = 0; r < rows->size(); ++r) {
          s += " (";
          for (size_t c = 0; c < rows->width(); ++c) s += (c ? "," : "") + format_value(rows->row(r)[c]);
          s += ")";
        }
      }
      log.push_back(s);
    });
  }
};

std::vector<std::string> one_at_a_time(const std::vector<Event>& events) {
  Recorder run;
  int s = run.engine.stream("Ev");
  for (const Event& e : events) run.engine.send_at(s, e.row.data(), e.ts);
  run.engine.advance_to(events.back().ts + 5000);
  return run.log;
}

std::vector<std::string> in_batches(const std::vector<Event>& events, size_t batch) {
  Recorder run;
  int s = run.engine.stream("Ev");
  size_t width = kEv.fields.size();
  for (size_t b = 0; b < events.size(); b += batch) {
    size_t n = std::min(batch, events.size() - b);
    std::vector<Value> rows;
    std::vector<int64_t> times;
    for (size_t i = b; i < b + n; ++i) {
      rows.insert(rows.end(), events[i].row.begin(), events[i].row.end());
      times.push_back(events[i].ts);
    }
    EXPECT_EQ(rows.size(), n * width);
    run.engine.send_batch(s, rows.data(), times.data(), n);
  }
  run.engine.advance_to(events.back().ts + 5000);
  return run.log;
}

TEST(CepBatch, SameDeliveriesAsOneEventAtATime) {
  std::vector<Event> events = make_events(3000);
  std::vector<std::string> expected = one_at_a_time(events);
  ASSERT_GT(expected.size(), 1000u);  // the rules deliver often: the comparison means something
  for (size_t batch : {1, 2, 7, 64, 1000, 3000}) {
    std::vector<std::string> got = in_batches(events, batch);
    ASSERT_EQ(got.size(), expected.size()) << "batches of " << batch;
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "batches of " << batch << ", delivery " << i;
  }
}

// A batch whose events all carry one time after a due timer: the timer fires
// (the batch ends) before the first of them, as with send_at.
TEST(CepBatch, TimerDueBeforeTheBatchFiresFirst) {
  Recorder run;
  int s = run.engine.stream("Ev");
  std::vector<Value> first = {Value::of_string("A"), Value::of_long(90), Value::of_long(1)};
  int64_t t0 = 1000;
  run.engine.send_batch(s, first.data(), &t0, 1);
  std::vector<Value> rows;
  std::vector<int64_t> times(3, 2500);
  for (int i = 0; i < 3; ++i) rows.insert(rows.end(), {Value::of_string("A"), Value::of_long(10), Value::of_long(1)});
  run.engine.send_batch(s, rows.data(), times.data(), 3);
  // Statement 0 (BySym, #time_batch(1 sec), having avg > 40): A's batch from
  // 1000 ends at 2000 with its one event, before the three events at 2500.
  bool seen = false;
  for (const std::string& l : run.log)
    if (l.rfind("0 @2000: new (A,1,90.0)", 0) == 0) seen = true;
  EXPECT_TRUE(seen) << ::testing::PrintToString(run.log);
}

}  // namespace
