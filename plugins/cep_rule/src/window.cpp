#include "window.hpp"

#include "block_pool.hpp"

#include <algorithm>
#include <new>
#include <type_traits>

namespace weir::cep {

// ---------------------------------------------------------------- EventStore

EventStore::Block::Block(size_t rows, size_t width) : rows_(rows), stride_(sizeof(EventMeta) + width * sizeof(Value)) {
  static_assert(sizeof(EventMeta) % alignof(Value) == 0 && sizeof(Value) % alignof(EventMeta) == 0);
  static_assert(std::is_trivially_destructible_v<EventMeta>);
  // Width 0 (a statement that reads no property): row() points past the
  // metadata, never read.
  // From the huge-page pool (block_pool.hpp), small and large blocks alike.
  mem_ = static_cast<std::byte*>(allocate_block(rows_ * stride_));
  for (size_t r = 0; r < rows_; ++r) {
    new (&meta(r)) EventMeta();
    for (size_t i = 0; i < width; ++i) new (row(r) + i) Value();
  }
}

EventStore::Block::~Block() {
  if (!mem_) return;
  size_t width = (stride_ - sizeof(EventMeta)) / sizeof(Value);
  for (size_t r = 0; r < rows_; ++r)
    for (size_t i = 0; i < width; ++i) row(r)[i].~Value();
  free_block(mem_, rows_ * stride_);
}

Value* EventStore::push_back(int64_t time) {
  if (!next_) {
    if (!spare_.empty()) {
      blocks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      blocks_.emplace_back(rows_, width_);
    }
    next_ = reinterpret_cast<std::byte*>(&blocks_.back().meta(0));
  }
  std::byte* at = next_;
  ++size_;
  next_ = ((head_ + size_) & (rows_ - 1)) != 0 ? at + stride_ : nullptr;
  *reinterpret_cast<EventMeta*>(at) = EventMeta{time, nullptr, false};
  return reinterpret_cast<Value*>(at + sizeof(EventMeta));
}

// next_ recomputed after rows were popped.
void EventStore::find_next() {
  size_t p = head_ + size_;
  next_ = p < blocks() * rows_ ? reinterpret_cast<std::byte*>(&blocks_[first_ + (p >> shift_)].meta(p & (rows_ - 1))) : nullptr;
}

void EventStore::drop_front_block() {
  spare_.push_back(std::move(blocks_[first_++]));
  if (first_ == blocks_.size()) {
    blocks_.clear();
    first_ = 0;
  } else if (first_ >= 64 && first_ * 2 >= blocks_.size()) {
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(first_));
    first_ = 0;
  }
}

void EventStore::pop_back() {
  Value* r = row(size_ - 1);
  for (size_t i = 0; i < width_; ++i) r[i].reset();
  --size_;
  if (head_ + size_ <= (blocks() - 1) * rows_) {
    spare_.push_back(std::move(blocks_.back()));
    blocks_.pop_back();
  }
  find_next();
}

void EventStore::pop_front(size_t n) {
  n = std::min(n, size_);
  if (heap_)
    for (size_t k = 0; k < n; ++k) {
      Value* r = row(k);
      for (size_t i = 0; i < width_; ++i) r[i].reset();  // frees long strings now, not at reuse
    }
  head_ += n;
  size_ -= n;
  while (head_ >= rows_ || (size_ == 0 && blocks() > 0)) {
    drop_front_block();
    head_ = head_ >= rows_ ? head_ - rows_ : 0;
  }
  if (size_ == 0) {
    head_ = 0;
    heap_ = false;
  }
  find_next();
}

// ---------------------------------------------------------------- Window

Window::Window(const WindowSpec& spec, size_t width, bool keep_last, int64_t start_ms, std::vector<int> view_slots,
               bool small)
    : store_(width, small ? 4 : EventStore::kShift), keep_last_(keep_last), spec_(spec), view_slots_(std::move(view_slots)) {
  key_.resize(view_slots_.size());
  if (spec_.kind == WindowKind::TimeLengthBatch && spec_.start_eager) {
    scheduled_ = true;
    due_ = start_ms + spec_.size;
  }
  if (spec_.kind != WindowKind::TimeBatch) return;
  if (spec_.start_eager) {
    // The first interval runs from the start, aligned to it (the compiler
    // refuses a reference point here: Esper would ignore it).
    has_reference_ = true;
    reference_ = start_ms;
    schedule_batch_end(start_ms);
  } else if (spec_.has_reference) {
    has_reference_ = true;
    reference_ = spec_.reference;
  }
}

// The first batch end strictly after `now` on the grid reference_ + k*size
// (Esper's TimePeriodUtil.deltaAddWReference): an event exactly on a boundary
// starts the next batch, and a reference in the future or not a multiple of
// the size works the same. Computed with the reference reduced to [0, size)
// so that no subtraction can overflow.
void Window::schedule_batch_end(int64_t now) {
  int64_t size = spec_.size;
  int64_t offset = ((reference_ % size) + size) % size;
  int64_t into = (now % size - offset) % size;  // time since the last boundary at or before now
  if (into < 0) into += size;
  due_ = now + (size - into);
  scheduled_ = true;
}

void Window::commit_insert(int64_t now, PostSink& sink) {
  size_t n = store_.size();
  if (spec_.keyed) {
    insert_keyed(sink);
    return;
  }
  switch (spec_.kind) {
    case WindowKind::None: {
      Post p;
      p.new_begin = 0;
      p.new_end = 1;
      sink.on_post(p);
      store_.pop_front(1);
      break;
    }
    case WindowKind::Length: {
      Post p;
      p.new_begin = n - 1;
      p.new_end = n;
      bool full = static_cast<int64_t>(n) > spec_.size;
      if (full) p.old_end = 1;
      sink.on_post(p);
      if (full) store_.pop_front(1);
      break;
    }
    case WindowKind::FirstEvent:
      if (n > 1) {  // the first event stays; this one is ignored
        store_.pop_back();
        break;
      }
      [[fallthrough]];
    case WindowKind::Time:
    case WindowKind::KeepAll: {
      Post p;
      p.new_begin = n - 1;
      p.new_end = n;
      sink.on_post(p);
      break;
    }
    case WindowKind::ExtTimed: insert_ext_timed(sink); break;
    case WindowKind::LengthBatch:
      if (static_cast<int64_t>(n - last_count_) >= spec_.size) post_batch(now, sink);
      break;
    case WindowKind::TimeLengthBatch: time_length_batch_insert(now, sink); break;
    case WindowKind::Named: update_named(n - 1, {}, sink); break;
    case WindowKind::TimeBatch:
      if (!has_reference_) {
        has_reference_ = true;
        reference_ = now;
      }
      if (!scheduled_) schedule_batch_end(now);
      break;
  }
}

// Esper's ExternallyTimedWindowView: the new event enters, then the oldest
// events go while their timestamp is at least T before the new event's. Only
// the front is looked at: an out-of-order event waits behind a newer one.
void Window::insert_ext_timed(PostSink& sink) {
  size_t n = store_.size();
  int64_t newest = timestamp(n - 1);
  size_t k = 0;
  while (k < n - 1 && timestamp(k) <= newest - spec_.size) ++k;
  Post p;
  p.new_begin = n - 1;
  p.new_end = n;
  p.old_end = k;
  sink.on_post(p);
  store_.pop_front(k);
}

// Esper's TimeLengthBatchView: the batch's first event starts a timer of T;
// the batch is posted at N events (cancelling the timer) or when it fires. A
// non-empty batch starts the next interval at once.
void Window::time_length_batch_insert(int64_t now, PostSink& sink) {
  if (static_cast<int64_t>(store_.size() - last_count_) >= spec_.count) {
    post_batch(now, sink);
    scheduled_ = true;
    due_ = now + spec_.size;
  } else if (!scheduled_) {
    scheduled_ = true;
    due_ = now + spec_.size;
  }
}

// A keyed window: the new event (the store's last row) joins its key's
// events; past the key's limit the oldest of them leaves (#firstevent: the
// new one is ignored).
void Window::insert_keyed(PostSink& sink) {
  size_t n = store_.size();
  Value* row = store_.row(n - 1);
  for (size_t k = 0; k < view_slots_.size(); ++k) key_[k] = row[view_slots_[k]];
  auto it = index_.find(key_);
  if (it == index_.end()) it = index_.emplace(key_, Ring<uint64_t>()).first;
  Ring<uint64_t>& mine = it->second;
  if (spec_.kind == WindowKind::FirstEvent && static_cast<int64_t>(mine.size()) >= spec_.size) {
    store_.pop_back();
    return;
  }
  mine.push_back(base_seq_ + n - 1);
  Post p;
  p.new_begin = n - 1;
  p.new_end = n;
  old_list_.clear();
  if (static_cast<int64_t>(mine.size()) > spec_.size) {
    size_t i = static_cast<size_t>(mine.front() - base_seq_);
    mine.pop_front();
    store_.meta(i).dead = true;
    ++dead_;
    old_list_.push_back(i);
    p.old_list = &old_list_;
  }
  sink.on_post(p);
  drop_dead();
}

// Dead rows at the front go at once; the rest when they outnumber the live
// ones (the store is then rebuilt without them, so memory follows the live
// events whatever the keys do).
void Window::drop_dead() {
  size_t k = 0;
  while (k < store_.size() && store_.meta(k).dead) ++k;
  if (k > 0) {
    store_.pop_front(k);
    base_seq_ += k;
    dead_ -= k;
  }
  if (dead_ >= 64 && dead_ * 2 >= store_.size()) compact();
}

void Window::remove(const std::vector<size_t>& rows, PostSink& sink) {
  old_list_.clear();
  for (size_t i : rows) {
    EventMeta& m = store_.meta(i);
    if (m.dead) continue;
    m.dead = true;
    ++dead_;
    old_list_.push_back(i);
    if (spec_.keyed) unkey(i);
  }
  if (old_list_.empty()) return;
  Post p;
  p.old_list = &old_list_;
  sink.on_post(p);
  // A keyed window finds its events through the keys' lists: the dead rows
  // go as when a key's oldest event leaves (compacting the whole store for
  // each on-delete made a #unique window's deletions cost its size). Unkeyed
  // windows count and expire their events by position: at once.
  if (spec_.keyed) drop_dead();
  else compact();
}

// Event i, removed from the middle (an on-delete, a merge), leaves its key's
// list; a key left with no event is forgotten, as a rebuilt index would.
void Window::unkey(size_t i) {
  const Value* row = store_.row(i);
  for (size_t k = 0; k < view_slots_.size(); ++k) key_[k] = row[view_slots_[k]];
  auto it = index_.find(key_);
  if (it == index_.end()) return;
  Ring<uint64_t>& mine = it->second;
  uint64_t seq = base_seq_ + i;
  size_t at = 0;
  while (at < mine.size() && mine[at] != seq) ++at;
  if (at == mine.size()) return;
  for (; at + 1 < mine.size(); ++at) mine[at] = mine[at + 1];
  mine.pop_back();
  if (mine.empty()) index_.erase(it);
}

// A statement reading a named window: the rows from first_new on entered it,
// and the named window's events numbered `gone` left it, posted as one update
// (Esper posts an on-merge's updates as one). The store is in the named
// window's order, so its sequence column ascends (dead rows keep theirs): each
// leaving event is found by binary search. One not found did not pass the
// statement's filter, or entered the named window before the statement began.
void Window::update_named(size_t first_new, const std::vector<int64_t>& gone, PostSink& sink) {
  old_list_.clear();
  for (int64_t seq : gone) {
    size_t i = find_ascending(view_slots_[0], seq);
    if (i == store_.size() || store_.meta(i).dead) continue;
    store_.meta(i).dead = true;
    ++dead_;
    old_list_.push_back(i);
  }
  if (first_new == store_.size() && old_list_.empty()) return;
  Post p;
  p.new_begin = first_new;
  p.new_end = store_.size();
  p.old_list = &old_list_;
  sink.on_post(p);
  drop_dead();
}

size_t Window::find_ascending(int slot, int64_t seq) {
  size_t lo = 0, hi = store_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (store_.row(mid)[slot].as_long() < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo < store_.size() && store_.row(lo)[slot].as_long() == seq ? lo : store_.size();
}

// The store rebuilt without its dead rows.
void Window::compact() {
  EventStore fresh(store_.width(), store_.shift());
  for (size_t i = 0; i < store_.size(); ++i) {
    if (store_.meta(i).dead) continue;
    Value* dst = fresh.push_back(0);
    const Value* src = store_.row(i);
    for (size_t c = 0; c < store_.width(); ++c) dst[c] = src[c];
    fresh.meta(fresh.size() - 1) = store_.meta(i);
  }
  fresh.note_heap();
  store_ = std::move(fresh);
  rebuild_index();
}

// The keys' event lists from the rows (after a compaction, a load, an adopt).
void Window::rebuild_index() {
  index_.clear();
  base_seq_ = 0;
  dead_ = 0;
  if (!spec_.keyed) return;
  for (size_t i = 0; i < store_.size(); ++i) {
    if (store_.meta(i).dead) {
      ++dead_;
      continue;
    }
    Value* row = store_.row(i);
    for (size_t k = 0; k < view_slots_.size(); ++k) key_[k] = row[view_slots_[k]];
    index_[key_].push_back(i);
  }
}

int64_t Window::next_timer() const {
  switch (spec_.kind) {
    case WindowKind::Time: {
      if (store_.size() == 0) return kNever;
      return store_.meta(0).time + spec_.size;
    }
    case WindowKind::TimeBatch:
    case WindowKind::TimeLengthBatch: return scheduled_ ? due_ : kNever;
    default: return kNever;
  }
}

void Window::on_timer(int64_t now, PostSink& sink) {
  if (spec_.kind == WindowKind::Time) {
    size_t k = 0;
    while (k < store_.size() && store_.meta(k).time + spec_.size <= now) ++k;
    if (k == 0) return;
    Post p;
    p.old_end = k;
    sink.on_post(p);
    store_.pop_front(k);
  } else if (spec_.kind == WindowKind::TimeBatch && scheduled_ && due_ <= now) {
    scheduled_ = false;
    bool current = store_.size() > last_count_;
    // Without FORCE_UPDATE, two empty intervals in a row stop the timer until
    // the next event (which joins the batch of the same grid).
    bool reschedule = current || last_nonempty_ || spec_.force_update;
    post_batch(now, sink);
    if (reschedule) schedule_batch_end(now);
  } else if (spec_.kind == WindowKind::TimeLengthBatch && scheduled_ && due_ <= now) {
    scheduled_ = false;
    // As #time_batch: an interval with no events after one without any stops
    // the timer until the next event.
    bool reschedule = store_.size() > last_count_ || last_nonempty_ || spec_.force_update;
    post_batch(now, sink);
    if (reschedule) {
      scheduled_ = true;
      due_ = now + spec_.size;
    }
  }
}

void Window::post_batch(int64_t, PostSink& sink) {
  size_t n = store_.size();
  size_t current = n - last_count_;
  if (current > 0 || last_nonempty_ || spec_.force_update) {
    Post p;
    p.forced = current == 0 && !last_nonempty_;
    p.batch = true;
    p.old_begin = 0;
    p.old_end = last_count_;
    p.new_begin = last_count_;
    p.new_end = n;
    p.old_nonempty = last_nonempty_;
    sink.on_post(p);
  }
  store_.pop_front(last_count_);
  if (keep_last_) {
    last_count_ = current;
  } else {
    store_.pop_front(current);
    last_count_ = 0;
  }
  last_nonempty_ = current > 0;
}

int64_t Window::oldest_time() {
  // A named window's events hold no input batch (they may stay for good).
  if (spec_.kind == WindowKind::Named) return kNever;
  size_t b = contents_begin();
  return store_.size() > b ? store_.meta(b).time : kNever;
}

void Window::adopt(Window& old, const std::vector<int>& map) {
  EventStore& from = old.store_;
  // Only the events still in the window move; a kept previous batch does not
  // (its groups' aggregates are rebuilt from nothing after a reload).
  for (size_t i = old.contents_begin(); i < from.size(); ++i) {
    if (from.meta(i).dead) continue;
    Value* dst = store_.push_back(from.meta(i).time);
    Value* src = from.row(i);
    for (size_t c = 0; c < map.size(); ++c) dst[c] = src[map[c]];
    store_.note_heap();
  }
  last_count_ = 0;
  last_nonempty_ = false;
  scheduled_ = old.scheduled_;
  due_ = old.due_;
  has_reference_ = old.has_reference_;
  reference_ = old.reference_;
  rebuild_index();
}

void Window::save(Writer& w, const std::function<int64_t(const GroupState*)>& group_id) {
  w.u64(store_.size() - dead_);  // a keyed window's dead rows are not saved
  w.u64(last_count_);
  w.u8(last_nonempty_);
  w.u8(scheduled_);
  w.i64(due_);
  w.u8(has_reference_);
  w.i64(reference_);
  for (size_t i = 0; i < store_.size(); ++i) {
    EventMeta& m = store_.meta(i);
    if (m.dead) continue;
    w.i64(m.time);
    w.u8(m.passed);
    w.i64(m.group ? group_id(m.group) : -1);
    Value* r = store_.row(i);
    for (size_t c = 0; c < store_.width(); ++c) w.value(r[c]);
  }
}

void Window::load(Reader& r, const std::vector<GroupState*>& groups) {
  store_.clear();
  uint64_t n = r.u64();
  last_count_ = r.u64();
  last_nonempty_ = r.u8() != 0;
  scheduled_ = r.u8() != 0;
  due_ = r.i64();
  has_reference_ = r.u8() != 0;
  reference_ = r.i64();
  if (last_count_ > n) throw std::runtime_error("cep_rule state: bad window");
  for (uint64_t i = 0; i < n; ++i) {
    int64_t t = r.i64();
    Value* row = store_.push_back(t);
    EventMeta& m = store_.meta(store_.size() - 1);
    m.passed = r.u8() != 0;
    int64_t g = r.i64();
    if (g >= static_cast<int64_t>(groups.size())) throw std::runtime_error("cep_rule state: bad group");
    m.group = g >= 0 ? groups[static_cast<size_t>(g)] : nullptr;
    for (size_t c = 0; c < store_.width(); ++c) row[c] = r.value();
    store_.note_heap();
  }
  rebuild_index();
}

}  // namespace weir::cep
