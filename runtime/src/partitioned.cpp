// How an operator takes one input batch:
//  * a control batch (its source no longer reads some partitions) makes a node
//    with state per partition checkpoint that state and drop it, then goes on
//    downstream behind the partitions' last records;
//  * a node with state per partition (ABI 1.1) gets each partition's records as
//    a batch of their own, after its saved state was restored (like a Kafka
//    Streams task restored before it processes);
//  * records the restored state already holds are left out (Checkpointer::admit);
//  * records older than the clock minus the allowed lateness go to `late`, those
//    too far ahead of it to `error` (Watermarks).
#include "engine.hpp"

#include "host_api.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace weir {
namespace {

std::string list(const std::vector<int32_t>& partitions) {
  std::string out;
  for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

std::string time_text(int64_t ns) {
  if (ns == Watermarks::kUnknown) return "none";
  return std::to_string(ns / 1'000'000) + " ms";
}

void send_late(Node& n, const weir_record& r, int64_t late_by_ns) {
  uint64_t count = n.counters.records_late.fetch_add(1, std::memory_order_relaxed) + 1;
  weir_record& copy = copy_record(n.late, &r, 1);
  auto* f = const_cast<weir_field*>(copy.fields) + copy.field_count - 1;
  weir_value v{};
  v.type = WEIR_INT64;
  v.as.i64 = late_by_ns / 1'000'000;
  *f = {host_api().intern(reinterpret_cast<weir_node*>(&n), "late_by_ms", 10), v};
  if (count <= 10 && n.outputs[static_cast<size_t>(n.late_port)].edges.empty())
    n.engine->log(&n, WEIR_LOG_WARN,
                  "a record " + std::to_string(late_by_ns / 1'000'000) + " ms older than partition " +
                      std::to_string(r.position.partition) + "'s clock is late and port 'late' leads nowhere: dropped" +
                      (count == 10 ? " (further ones are only counted: weir_records_late_total)" : ""));
}

// Judges every record by its event time; returns B, a view of the records on
// time, or nullptr when none is. The others are routed on the spot.
HostBatch* on_time_records(Node& n, HostBatch* b) {
  int64_t now = monotonic_ns();
  std::vector<weir_record> kept;
  bool copying = false;
  for (uint32_t i = 0; i < b->count; ++i) {
    const weir_record& r = b->records[i];
    int64_t distance = 0;
    Watermarks::Verdict v = n.watermarks->observe(r.position.partition, r.event_time_ns, now, distance);
    if (v == Watermarks::Verdict::kOnTime) {
      if (copying) kept.push_back(r);
      continue;
    }
    if (!copying) {
      kept.assign(b->records, b->records + i);
      copying = true;
    }
    if (v == Watermarks::Verdict::kLate) {
      send_late(n, r, distance);
    } else {
      std::string why = "event time " + std::to_string(distance / 1'000'000) + " ms ahead of partition " +
                        std::to_string(r.position.partition) + "'s watermark (more than max_ahead_ms = " +
                        std::to_string(n.watermarks->options().max_ahead_ns / 1'000'000) + ")";
      host_api().error(reinterpret_cast<weir_node*>(&n), &r, why.c_str());
    }
  }
  if (!copying) return b;
  if (kept.empty()) return nullptr;
  HostBatch* view = new_view(b);
  view->storage = std::move(kept);
  view->seal();
  return view;
}

void flush_late(Node& n) {
  if (!n.late) return;
  HostBatch* b = std::exchange(n.late, nullptr);
  emit_batch(n, n.late_port, b);
}

}  // namespace

bool Engine::process_input(Node& n, HostBatch* input) {
  if (input->control_kind == HostBatch::Control::kWatermark) return on_watermarks(n, input);
  if (input->control()) {
    if (input->control_kind == HostBatch::Control::kAssigned) {
      // Restore now: the partition's windows are back even if no record of it comes.
      for (int32_t p : input->partitions)
        if (n.per_partition && !hold_partition(n, p)) break;
    } else {
      on_revoked(n, *input);
    }
    emit_control(n, input);  // on downstream, in its place among the batches
    return !failed();
  }
  if (!n.per_partition || input->count == 0) {
    bool ok = process_batch(n, input);
    ok ? release(input) : abandon(input);
    return ok;
  }
  // One batch per partition, each in its records' order. Most batches hold one
  // partition only: those go on as they are, without a copy.
  std::vector<std::pair<int32_t, std::vector<weir_record>>> parts;
  int32_t first = input->records[0].position.partition;
  bool one = std::all_of(input->records, input->records + input->count,
                         [&](const weir_record& r) { return r.position.partition == first; });
  if (one) parts.push_back({first, {}});
  size_t cur = 0;
  for (uint32_t i = 0; !one && i < input->count; ++i) {
    int32_t p = input->records[i].position.partition;
    if (parts.empty() || parts[cur].first != p) {  // records come in runs of one partition
      for (cur = 0; cur < parts.size() && parts[cur].first != p; ++cur) {
      }
      if (cur == parts.size()) parts.push_back({p, {}});
    }
    parts[cur].second.push_back(input->records[i]);
  }
  bool ok = true;
  for (auto& [partition, records] : parts) {
    if (!(ok = hold_partition(n, partition))) break;
    if (n.restored_waiting.erase(partition) && log_level() <= WEIR_LOG_DEBUG)
      log(&n, WEIR_LOG_DEBUG, "partition " + std::to_string(partition) + ": first record since it was assigned");
    HostBatch* b = input;
    if (parts.size() > 1) {
      b = new_view(input);
      b->storage = std::move(records);
      b->seal();
    }
    ok = process_batch(n, b);
    if (b != input) ok ? release(b) : abandon(b);
    if (!ok) break;
  }
  ok ? release(input) : abandon(input);
  return ok;
}

bool Engine::process_batch(Node& n, HostBatch* b) {
  const auto* vt = n.descriptor->vtable;
  // Checkpointed: the input stays pending until a checkpoint covers it, and
  // after a restore the records already in the state are left out.
  HostBatch* admitted = n.checkpoint ? n.checkpoint->admit(b) : b;
  if (!admitted) return true;
  int64_t t0 = monotonic_ns();
  n.current = admitted;
  begin_callback(n);
  HostBatch* timely = n.watermarks ? on_time_records(n, admitted) : admitted;
  int st = WEIR_OK;
  if (timely) {
    n.current = timely;
    st = vt->process(n.instance, 0, timely);
  }
  flush_late(n);
  flush_errors(n);
  if (st != WEIR_FAILED) pass_watermarks(n, *admitted);
  end_callback(n);
  n.counters.batch_ns.record(static_cast<uint64_t>(monotonic_ns() - t0));
  n.current = nullptr;
  bool ok = check(n, st, "process");
  if (timely && timely != admitted) ok ? release(timely) : abandon(timely);
  if (admitted != b) ok ? release(admitted) : abandon(admitted);
  return ok;
}

bool Engine::hold_partition(Node& n, int32_t partition) {
  if (n.held_partitions.count(partition)) return true;
  if (n.checkpoint) {
    std::string error;
    std::string path = n.checkpoint->path_for(partition);
    std::optional<CheckpointData> saved = n.checkpoint->saved(partition, error);
    auto refuse = [&](const std::string& why) {
      fail("node '" + n.name + "': " + why + "; move it away to start that partition with empty state");
      return false;
    };
    if (!error.empty()) {  // the store's message says what to do already
      fail("node '" + n.name + "': " + error);
      return false;
    }
    if (saved) {
      if (saved->plugin != n.descriptor->name)
        return refuse(path + " holds the state of plugin '" + saved->plugin + "', not '" + n.descriptor->name + "'");
      for (const auto& [p, offset] : saved->positions)
        if (p != partition) return refuse(path + " holds a position of partition " + std::to_string(p) + ", not " +
                                          std::to_string(partition) + "'s");
      if (n.descriptor->vtable->restore_partition(n.instance, partition, saved->state.data(), saved->state.size()) !=
          WEIR_OK)
        return refuse(n.descriptor->name + std::string(" could not restore ") + path);
      std::string upto = "nothing";
      if (auto it = saved->positions.find(partition); it != saved->positions.end()) {
        n.checkpoint->resume_partition(partition, it->second);
        upto = std::to_string(partition) + ":" + std::to_string(it->second);
      }
      int64_t watermark = Watermarks::kUnknown;
      if (auto it = saved->watermarks.find(partition); it != saved->watermarks.end()) watermark = it->second;
      if (n.watermarks && watermark != Watermarks::kUnknown) n.watermarks->set(partition, watermark);
      log(&n, WEIR_LOG_INFO, "partition " + std::to_string(partition) + ": resumed from checkpoint " + path + " (" +
                                 std::to_string(saved->state.size()) + " bytes of state; input up to " + upto +
                                 " is in it; watermark " + time_text(watermark) + ")");
    } else {
      log(&n, WEIR_LOG_INFO, "partition " + std::to_string(partition) + ": no checkpoint at " + path +
                                 " yet: starting with empty state");
    }
  }
  n.held_partitions.insert(partition);
  n.restored_waiting.insert(partition);
  return true;
}

namespace {

// The highest event time per partition among B's records (those that have one).
struct Times {
  std::vector<int32_t> partitions;
  std::vector<int64_t> latest;
  void add(const HostBatch& b) {
    size_t at = 0;
    for (uint32_t i = 0; i < b.count; ++i) {
      const weir_record& r = b.records[i];
      if (r.event_time_ns == 0) continue;
      if (at >= partitions.size() || partitions[at] != r.position.partition) {  // runs of one partition are the rule
        at = static_cast<size_t>(std::find(partitions.begin(), partitions.end(), r.position.partition) - partitions.begin());
        if (at == partitions.size()) {
          partitions.push_back(r.position.partition);
          latest.push_back(r.event_time_ns);
        }
      }
      latest[at] = std::max(latest[at], r.event_time_ns);
    }
  }
  int64_t of(int32_t partition) const {
    for (size_t i = 0; i < partitions.size(); ++i)
      if (partitions[i] == partition) return latest[i];
    return 0;
  }
};

}  // namespace

// Called inside the callback that processed INPUT, before its end. A
// stateless operator that emitted fewer records of a partition on a port than
// it got (a filter, a router), so that the port saw less of the partition's
// time than its input did, sends the input's time of that partition on the
// port as a watermark: the clocks downstream move as if the records had come.
// A stateful node consumes watermarks; a decoder sets event times of its own,
// unrelated to its input's.
void Engine::pass_watermarks(Node& n, const HostBatch& input) {
  if (n.watermarks || (n.descriptor->flags & WEIR_FLAG_SETS_EVENT_TIME) || input.count == 0) return;
  Times in;
  bool scanned = false;
  for (size_t port = 0; port < n.outputs.size(); ++port) {
    if (static_cast<int32_t>(port) == n.error_port || n.outputs[port].edges.empty()) continue;
    Times out;
    bool whole = false;  // the input itself went on: its time with it
    for (size_t i = 0; i < n.emitted_now.size() && !whole; ++i) {
      if (n.emitted_ports[i] != static_cast<int32_t>(port)) continue;
      whole = n.emitted_now[i] == &input;
      if (!whole) out.add(*n.emitted_now[i]);
    }
    if (whole) continue;
    if (!scanned) {
      in.add(input);
      scanned = true;
    }
    HostBatch* w = nullptr;
    for (size_t i = 0; i < in.partitions.size(); ++i) {
      if (out.of(in.partitions[i]) >= in.latest[i]) continue;
      if (!w) {
        w = new_batch(0);
        w->control_kind = HostBatch::Control::kWatermark;
      }
      w->partitions.push_back(in.partitions[i]);
      w->watermarks.push_back(in.latest[i]);
    }
    if (w) send_control(n, static_cast<int32_t>(port), w);
  }
}

// Event time without records: a stateless node passes it on; a stateful one
// moves its partitions' watermarks and lets the plugin close what ends by then.
bool Engine::on_watermarks(Node& n, HostBatch* control) {
  if (!n.watermarks) {
    if (n.descriptor->flags & WEIR_FLAG_SETS_EVENT_TIME) release(control);
    else emit_control(n, control);
    return !failed();
  }
  const auto* vt = n.descriptor->vtable;
  int64_t now = monotonic_ns();
  int64_t clock_before = n.per_partition ? 0 : n.watermarks->clock(now);
  bool ok = true;
  auto call = [&](int32_t partition, int64_t watermark_ns) {
    if (!vt->on_watermark) return;
    n.current = control;
    begin_callback(n);
    int st = vt->on_watermark(n.instance, partition, watermark_ns);
    flush_errors(n);
    end_callback(n);
    n.current = nullptr;
    if (n.checkpoint) n.checkpoint->touch(partition < 0 ? 0 : partition);
    ok = check(n, st, "on_watermark") && ok;
  };
  for (size_t i = 0; i < control->partitions.size() && i < control->watermarks.size() && ok; ++i) {
    int32_t p = control->partitions[i];
    if (n.per_partition && !n.held_partitions.count(p)) continue;  // no state of it here yet
    if (n.watermarks->advance(p, control->watermarks[i], now) && n.per_partition) call(p, control->watermarks[i]);
  }
  if (ok && !n.per_partition) {
    int64_t clock = n.watermarks->clock(now);
    if (clock != Watermarks::kUnknown && clock > clock_before) call(-1, clock);
  }
  ok ? release(control) : abandon(control);
  return ok;
}

void Engine::on_revoked(Node& n, const HostBatch& control) {
  if (!n.per_partition) {
    if (n.watermarks)
      for (int32_t p : control.partitions) n.watermarks->drop(p);  // no longer holds the clock back
    return;
  }
  std::vector<int32_t> leaving;
  for (int32_t p : control.partitions)
    if (n.held_partitions.count(p)) leaving.push_back(p);
  if (leaving.empty()) return;
  // Their last records are in the state now: checkpoint it before it goes, so
  // the partitions' next owner continues from here (the source commits them
  // once this checkpoint is written).
  bool lost = control.control_kind == HostBatch::Control::kLost;
  bool saved = n.checkpoint && !lost;
  if (saved && !take_checkpoint(n)) return;
  for (int32_t p : leaving) {
    if (n.descriptor->vtable->drop_partition(n.instance, p) != WEIR_OK) {
      fail("node '" + n.name + "': drop_partition(" + std::to_string(p) + ") failed");
      return;
    }
    n.held_partitions.erase(p);
    n.restored_waiting.erase(p);
    if (n.watermarks) n.watermarks->drop(p);
    if (n.checkpoint) n.checkpoint->forget(p);
  }
  if (saved) settle_checkpoint(n);
  log(&n, WEIR_LOG_INFO, "partitions " + list(leaving) + " left this process: their state was " +
                             (saved ? "checkpointed and dropped" : lost ? "dropped (lost: no checkpoint)"
                                                                                         : "dropped (no checkpoint)"));
}

}  // namespace weir
