// weir::PerPartition<T> — state per source partition for a stateful operator
// (ABI 1.1, WEIR_FLAG_PARTITIONED), like a Kafka Streams task per partition.
//
// Write T as an ordinary stateful operator (process, on_timer, flush,
// snapshot, restore, reload, on_watermark) and register the adapter instead of T:
//
//   WEIR_PLUGIN(weir::PerPartition<MyRule>,
//               (weir::PluginInfo{..., .flags = WEIR_FLAG_STATEFUL | WEIR_FLAG_PARTITIONED, ...}))
//
// The adapter keeps one T per partition this process reads, created (and
// opened) when the host restores the partition or gives it the partition's
// first batch, with the node's parameters. Every T shares the node's Context,
// so its ports, timers, gauges and holds are the node's. on_timer, flush,
// reload, query (ABI 1.3) and close go to every T; snapshot()/restore() carry all of them
// (hot swap). When the pipeline runs the node with one state for all
// partitions (`state = "global"`), a single T gets every batch.
//
// Threads: as for any plugin, every call comes on the node's thread, except
// reload, which the host also makes on the node's thread (between batches).
#pragma once

#include <weir/sdk.hpp>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir {

// A deep copy of create()'s parameters (the host's array is valid only during
// create()), for making more instances later.
class OwnedParams {
 public:
  explicit OwnedParams(const Params& p) {
    values_.assign(p.data(), p.data() + p.size());
    for (weir_param_value& v : values_) {
      v.name = keep(v.name).data;
      switch (v.type) {
        case WEIR_PARAM_STRING: v.as.str = keep(v.as.str); break;
        case WEIR_PARAM_STRING_LIST: {
          auto& items = lists_.emplace_back(v.as.list.items, v.as.list.items + v.as.list.count);
          for (weir_str& s : items) s = keep(s);
          v.as.list.items = items.data();
          break;
        }
        case WEIR_PARAM_TABLE: {
          auto& items = tables_.emplace_back(v.as.table.items, v.as.table.items + v.as.table.count);
          for (weir_kv& kv : items) kv = {keep(kv.key), keep(kv.value)};
          v.as.table.items = items.data();
          break;
        }
        default: break;
      }
    }
  }
  OwnedParams(const OwnedParams&) = delete;
  OwnedParams& operator=(const OwnedParams&) = delete;
  Params view() const { return Params(values_.data(), static_cast<uint32_t>(values_.size())); }

 private:
  weir_str keep(weir_str s) {
    const std::string& copy = strings_.emplace_back(s.data ? s.data : "", s.size);
    return {copy.c_str(), s.size};
  }
  weir_str keep(const char* s) { return keep(weir_str{s, static_cast<uint32_t>(s ? std::strlen(s) : 0)}); }

  std::vector<weir_param_value> values_;
  std::deque<std::string> strings_;  // a deque: elements never move
  std::deque<std::vector<weir_str>> lists_;
  std::deque<std::vector<weir_kv>> tables_;
};

template <class T>
class PerPartition : public Plugin {
 public:
  static constexpr int32_t kAll = -1;  // the one instance of a node with state = "global"

  PerPartition(Context ctx, const Params& p) : ctx_(ctx), params_(p) {
    // T checks the parameters now (configure phase), whatever the mode.
    auto first = std::make_unique<T>(ctx_, params_.view());
    if (!ctx_.per_partition()) tasks_.emplace(kAll, std::move(first));
  }

  weir_status open() override {
    opened_ = true;
    return each([](T& t) { return t.open(); });
  }
  weir_status close() override {
    weir_status st = each([](T& t) { return t.close(); });
    opened_ = false;
    return st;
  }
  weir_status process(uint32_t port, Batch in) override {
    if (in.empty()) return WEIR_OK;
    return task(ctx_.per_partition() ? in[0].position().partition : kAll).process(port, in);
  }
  weir_status on_timer(int64_t now_ns) override {
    return each([&](T& t) { return t.on_timer(now_ns); });
  }
  weir_status flush() override {
    return each([](T& t) { return t.flush(); });
  }
  weir_status reload() override {
    return each([](T& t) { return t.reload(); });  // a ConfigError goes up: the rule text is the same for all
  }

  // The whole node (hot swap): "weir-per-partition 1\n" then, per instance,
  // "<partition> <size>\n<size bytes>".
  weir_status snapshot(std::string& out) override {
    out = "weir-per-partition 1\n";
    for (auto& [partition, t] : tasks_) {
      std::string state;
      if (weir_status st = t->snapshot(state); st != WEIR_OK) return st;
      out += std::to_string(partition) + " " + std::to_string(state.size()) + "\n" + state;
    }
    return WEIR_OK;
  }
  weir_status restore(std::string_view state) override {
    constexpr std::string_view kHeader = "weir-per-partition 1\n";
    if (state.substr(0, kHeader.size()) != kHeader) throw std::runtime_error("not a per-partition snapshot");
    state.remove_prefix(kHeader.size());
    tasks_.clear();
    while (!state.empty()) {
      size_t eol = state.find('\n');
      if (eol == std::string_view::npos) throw std::runtime_error("per-partition snapshot is cut short");
      std::string line(state.substr(0, eol));
      size_t space = line.find(' ');
      if (space == std::string::npos) throw std::runtime_error("bad per-partition snapshot line '" + line + "'");
      int32_t partition = static_cast<int32_t>(std::stol(line.substr(0, space)));
      size_t size = std::stoul(line.substr(space + 1));
      state.remove_prefix(eol + 1);
      if (state.size() < size) throw std::runtime_error("per-partition snapshot is cut short");
      if (weir_status st = fresh(partition).restore(state.substr(0, size)); st != WEIR_OK) return st;
      state.remove_prefix(size);
    }
    return WEIR_OK;
  }

  weir_status snapshot_partition(int32_t partition, std::string& out) override {
    auto it = tasks_.find(partition);
    if (it == tasks_.end()) {
      ctx_.error_log("snapshot_partition: partition " + std::to_string(partition) + " is not held here");
      return WEIR_FAILED;
    }
    return it->second->snapshot(out);
  }
  weir_status restore_partition(int32_t partition, std::string_view state) override {
    return fresh(partition).restore(state);
  }
  weir_status drop_partition(int32_t partition) override {
    auto it = tasks_.find(partition);
    if (it == tasks_.end()) return WEIR_OK;
    weir_status st = opened_ ? it->second->close() : WEIR_OK;
    tasks_.erase(it);
    return st;
  }

  // Only a partition held here has windows to close; -1 (state = "global"): the one instance.
  weir_status on_watermark(int32_t partition, int64_t watermark_ns) override {
    auto it = tasks_.find(ctx_.per_partition() ? partition : kAll);
    return it == tasks_.end() ? WEIR_OK : it->second->on_watermark(partition, watermark_ns);
  }

  // ABI 1.3: every instance's rows, partition after partition (none before
  // the first record of a partition).
  static constexpr bool kForwardsQuery = has_query<T>();
  weir_status query(std::string_view text, std::string& out) override {
    if constexpr (kForwardsQuery) return each([&](T& t) { return t.query(text, out); });
    return Plugin::query(text, out);
  }

  size_t partitions() const { return tasks_.size(); }

 private:
  // A new instance for PARTITION, replacing any it had; opened if the node is.
  T& fresh(int32_t partition) {
    auto t = std::make_unique<T>(ctx_, params_.view());
    if (opened_ && t->open() != WEIR_OK)
      throw std::runtime_error("open() of the instance for partition " + std::to_string(partition) + " failed");
    T& ref = *t;
    tasks_[partition] = std::move(t);
    return ref;
  }
  T& task(int32_t partition) {
    auto it = tasks_.find(partition);
    return it != tasks_.end() ? *it->second : fresh(partition);
  }
  template <class F>
  weir_status each(F&& f) {
    weir_status worst = WEIR_OK;
    for (auto& [partition, t] : tasks_)
      if (weir_status st = f(*t); st == WEIR_FAILED) worst = st;
    return worst;
  }

  Context ctx_;
  OwnedParams params_;
  std::map<int32_t, std::unique_ptr<T>> tasks_;
  bool opened_ = false;
};

}  // namespace weir
