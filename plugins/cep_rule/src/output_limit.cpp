#include "output_limit.hpp"

namespace weir::cep {

namespace {

void save_rows(Writer& w, const RowSet& rows) {
  w.u64(rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t c = 0; c < rows.width(); ++c) w.value(rows.row(i)[c]);
}

void load_rows(Reader& r, RowSet& rows) {
  rows.clear();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    Value* row = rows.add();
    for (size_t c = 0; c < rows.width(); ++c) row[c] = r.value();
  }
}

void save_keys(Writer& w, const std::vector<std::string>& keys) {
  w.u64(keys.size());
  for (const std::string& k : keys) w.str(k);
}

void load_keys(Reader& r, std::vector<std::string>& keys, std::unordered_map<std::string, size_t>& index) {
  keys.clear();
  index.clear();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    keys.push_back(r.str());
    index[keys.back()] = i;
  }
}

}  // namespace

OutputLimiter::OutputLimiter(const OutputSpec& spec, Shape shape, bool irstream, size_t width)
    : spec_(spec),
      shape_(shape),
      grouped_(shape == Shape::RowPerGroup || shape == Shape::RowPerGroupedEvent),
      irstream_(irstream),
      next_tick_(kNever),
      buf_new_(width),
      buf_old_(width),
      scratch_new_(width),
      scratch_old_(width) {}

void OutputLimiter::keep_last(const RowSet& rows, const std::vector<std::string>& keys, RowSet& last,
                              std::vector<std::string>& order, std::unordered_map<std::string, size_t>& index) {
  for (size_t i = 0; i < rows.size(); ++i) {
    auto it = index.find(keys[i]);
    if (it == index.end()) {
      index.emplace(keys[i], order.size());
      order.push_back(keys[i]);
      last.add_copy(rows.row(i));
    } else if (&last == &buf_old_) {
      // The remove stream keeps a group's row from before the interval.
    } else {
      // Overwrite in place: the row keeps the position of the group's first row.
      const Value* src = rows.row(i);
      Value* dst = last.row(it->second);
      for (size_t c = 0; c < last.width(); ++c) dst[c] = src[c];
    }
  }
}

void OutputLimiter::on_update(const RowSet& inew, const RowSet& iold, const std::vector<std::string>& knew,
                              const std::vector<std::string>& kold, const std::vector<RowCounts>& counts,
                              const std::vector<std::string>& dropped, int64_t n_new, int64_t n_old, int64_t now,
                              OutputTarget& target) {
  // Ungrouped `first`: until the first rows of an interval are posted, an
  // update without rows does not count towards the interval (Esper's
  // OutputProcessViewConditionFirst returns before updating its condition).
  if (spec_.mode == OutputMode::First && !grouped_ && !witnessed_first_ && inew.empty() && (!irstream_ || iold.empty()))
    return;
  ++updates_;
  // Time intervals are aligned to the statement's first update (Esper's
  // OutputConditionTime takes its reference point then), not to its start.
  if (!spec_.by_events && next_tick_ == kNever) next_tick_ = now + spec_.every;
  switch (spec_.mode) {
    case OutputMode::None:
    case OutputMode::Default:
    case OutputMode::All:
      buf_new_.append(inew);
      if (irstream_) buf_old_.append(iold);
      break;
    case OutputMode::Last:
      if (grouped_) {
        keep_last(inew, knew, buf_new_, last_keys_new_, last_index_new_);
        if (irstream_) keep_last(iold, kold, buf_old_, last_keys_old_, last_index_old_);
        for (const std::string& k : dropped) forget(k);
      } else if (shape_ == Shape::RowForAll) {
        // The interval's result is computed at its end; remember only the
        // remove row from before its first update.
        if (irstream_ && !has_first_old_ && !iold.empty()) {
          buf_old_.clear();
          buf_old_.add_copy(iold.row(0));
          has_first_old_ = true;
        }
      } else {
        if (!inew.empty()) {
          buf_new_.clear();
          buf_new_.add_copy(inew.row(inew.size() - 1));
        }
        if (irstream_ && !iold.empty()) {
          buf_old_.clear();
          buf_old_.add_copy(iold.row(iold.size() - 1));
        }
      }
      break;
    case OutputMode::First:
      if (grouped_) {
        // Esper's OutputConditionPolled*, one per group.
        scratch_new_.clear();
        scratch_old_.clear();
        for (size_t i = 0; i < inew.size(); ++i) {
          FirstState& f = group_first_[knew[i]];
          bool post;
          if (spec_.by_events) {
            // One condition update per event of the group: entering events
            // first, then leaving ones; each pass starts a new count.
            post = false;
            int64_t in = counts[i].entered, out = counts[i].left;
            if (in == 0 && out == 0) in = 1;
            for (int64_t k = 0; k < in + out; ++k) {
              (k < in ? f.entered : f.left) += 1;
              if (!f.posted || f.entered >= spec_.every || f.left >= spec_.every) {
                post = f.posted = true;
                f.entered = f.left = 0;
              }
            }
          } else {
            post = !f.posted || now - f.last >= spec_.every;
            if (post) f.last = now;
          }
          f.posted |= post;
          if (!post) continue;
          // One row per group and update: a later passing row replaces it.
          auto [at, fresh] = first_rows_.try_emplace(knew[i], scratch_new_.size());
          if (fresh) {
            scratch_new_.add_copy(inew.row(i));
          } else {
            Value* dst = scratch_new_.row(at->second);
            for (size_t c = 0; c < scratch_new_.width(); ++c) dst[c] = inew.row(i)[c];
          }
        }
        first_rows_.clear();
        if (!scratch_new_.empty()) target.deliver(scratch_new_, scratch_old_);
        // Forget groups that may post again anyway, so the map stays small.
        if (!spec_.by_events && group_first_.size() > 1024)
          std::erase_if(group_first_, [&](const auto& kv) { return now - kv.second.last >= spec_.every; });
      } else if (!witnessed_first_ && (!inew.empty() || (irstream_ && !iold.empty()))) {
        witnessed_first_ = true;
        scratch_old_.clear();
        target.deliver(inew, irstream_ ? iold : scratch_old_);
      }
      break;
    case OutputMode::Snapshot: break;
  }
  if ((spec_.mode == OutputMode::Default || spec_.mode == OutputMode::All || spec_.mode == OutputMode::Last) &&
      pending_since_ == kNever && (!buf_new_.empty() || !buf_old_.empty()))
    pending_since_ = now;
  if (spec_.by_events) {
    count_new_ += n_new;
    count_old_ += n_old;
    if (count_new_ >= spec_.every || count_old_ >= spec_.every) end_interval(now, target);
  }
}

// Grouped `last`: a group whose latest update failed the having clause has no
// row, in either stream.
void OutputLimiter::forget(const std::string& key) {
  auto drop = [&](RowSet& rows, std::vector<std::string>& order, std::unordered_map<std::string, size_t>& index) {
    auto it = index.find(key);
    if (it == index.end()) return;
    size_t gone = it->second;
    RowSet kept(rows.width());
    std::vector<std::string> keys;
    index.clear();
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i == gone) continue;
      index[order[i]] = keys.size();
      keys.push_back(order[i]);
      kept.add_copy(rows.row(i));
    }
    rows = std::move(kept);
    order = std::move(keys);
  };
  drop(buf_new_, last_keys_new_, last_index_new_);
  drop(buf_old_, last_keys_old_, last_index_old_);
}

void OutputLimiter::on_timer(int64_t now, OutputTarget& target) {
  if (spec_.by_events || next_tick_ > now) return;
  end_interval(next_tick_, target);
  next_tick_ += spec_.every;
}

void OutputLimiter::end_interval(int64_t, OutputTarget& target) {
  bool idle_tick = updates_ == 0 && !spec_.by_events && shape_ == Shape::RowForAll;
  switch (spec_.mode) {
    case OutputMode::None:
    case OutputMode::Default:
    case OutputMode::All:
    case OutputMode::Last:
      if (spec_.mode == OutputMode::Last && shape_ == Shape::RowForAll && (updates_ > 0 || idle_tick)) {
        scratch_new_.clear();
        scratch_old_.clear();
        target.current_rows(scratch_new_, scratch_old_);
        if (has_first_old_) scratch_old_ = buf_old_;
        if (!irstream_) scratch_old_.clear();
        target.deliver(scratch_new_, scratch_old_);
      } else if (spec_.mode == OutputMode::All && grouped_) {
        // Every group, whether or not it changed (see the statement's end_rows).
        target.end_rows(buf_new_, buf_old_);
        target.deliver(buf_new_, buf_old_);
      } else if (idle_tick) {
        scratch_new_.clear();
        scratch_old_.clear();
        target.current_rows(scratch_new_, scratch_old_);
        target.deliver(scratch_new_, scratch_old_);
      } else {
        target.deliver(buf_new_, buf_old_);
      }
      break;
    case OutputMode::Snapshot:
      scratch_new_.clear();
      scratch_old_.clear();
      target.current_rows(scratch_new_, scratch_old_);
      scratch_old_.clear();
      target.deliver(scratch_new_, scratch_old_);
      break;
    case OutputMode::First: witnessed_first_ = false; break;
  }
  buf_new_.clear();
  buf_old_.clear();
  last_keys_new_.clear();
  last_keys_old_.clear();
  last_index_new_.clear();
  last_index_old_.clear();
  updates_ = 0;
  count_new_ = count_old_ = 0;
  pending_since_ = kNever;
  has_first_old_ = false;
}

void OutputLimiter::save(Writer& w) const {
  w.i64(next_tick_);
  w.i64(updates_);
  w.i64(count_new_);
  w.i64(count_old_);
  w.i64(pending_since_);
  w.u8(witnessed_first_);
  w.u8(has_first_old_);
  save_rows(w, buf_new_);
  save_rows(w, buf_old_);
  save_keys(w, last_keys_new_);
  save_keys(w, last_keys_old_);
  w.u64(group_first_.size());
  for (const auto& [k, f] : group_first_) {
    w.str(k);
    w.u8(f.posted);
    w.i64(f.last);
    w.i64(f.entered);
    w.i64(f.left);
  }
}

void OutputLimiter::load(Reader& r) {
  next_tick_ = r.i64();
  updates_ = r.i64();
  count_new_ = r.i64();
  count_old_ = r.i64();
  pending_since_ = r.i64();
  witnessed_first_ = r.u8() != 0;
  has_first_old_ = r.u8() != 0;
  load_rows(r, buf_new_);
  load_rows(r, buf_old_);
  load_keys(r, last_keys_new_, last_index_new_);
  load_keys(r, last_keys_old_, last_index_old_);
  group_first_.clear();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    FirstState& f = group_first_[r.str()];
    f.posted = r.u8() != 0;
    f.last = r.i64();
    f.entered = r.i64();
    f.left = r.i64();
  }
}

}  // namespace weir::cep
