#include "window.hpp"

#include <algorithm>

namespace weir::cep {

// ---------------------------------------------------------------- EventStore

Value* EventStore::push_back(int64_t time) {
  size_t p = head_ + size_;
  if (p == blocks() * kBlockRows) {
    if (!spare_.empty()) {
      blocks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      auto b = std::make_unique<Block>();
      // width 0 (a statement that reads no property) still needs a valid pointer.
      b->vals.reset(new Value[kBlockRows * std::max<size_t>(width_, 1)]);
      blocks_.push_back(std::move(b));
    }
  }
  ++size_;
  meta(size_ - 1) = EventMeta{time, nullptr, false};
  return row(size_ - 1);
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
  if (head_ + size_ <= (blocks() - 1) * kBlockRows) {
    spare_.push_back(std::move(blocks_.back()));
    blocks_.pop_back();
  }
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
  while (head_ >= kBlockRows || (size_ == 0 && blocks() > 0)) {
    drop_front_block();
    head_ = head_ >= kBlockRows ? head_ - kBlockRows : 0;
  }
  if (size_ == 0) {
    head_ = 0;
    heap_ = false;
  }
}

// ---------------------------------------------------------------- Window

Window::Window(const WindowSpec& spec, size_t width, bool keep_last, int64_t start_ms)
    : spec_(spec), store_(width), keep_last_(keep_last) {
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
    case WindowKind::Time: {
      Post p;
      p.new_begin = n - 1;
      p.new_end = n;
      sink.on_post(p);
      break;
    }
    case WindowKind::LengthBatch:
      if (static_cast<int64_t>(n - last_count_) >= spec_.size) post_batch(now, sink);
      break;
    case WindowKind::TimeBatch:
      if (!has_reference_) {
        has_reference_ = true;
        reference_ = now;
      }
      if (!scheduled_) schedule_batch_end(now);
      break;
  }
}

int64_t Window::next_timer() const {
  switch (spec_.kind) {
    case WindowKind::Time: {
      if (store_.size() == 0) return kNever;
      return store_.meta(0).time + spec_.size;
    }
    case WindowKind::TimeBatch: return scheduled_ ? due_ : kNever;
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
  size_t b = contents_begin();
  return store_.size() > b ? store_.meta(b).time : kNever;
}

void Window::adopt(Window& old, const std::vector<int>& map) {
  EventStore& from = old.store_;
  // Only the events still in the window move; a kept previous batch does not
  // (its groups' aggregates are rebuilt from nothing after a reload).
  for (size_t i = old.contents_begin(); i < from.size(); ++i) {
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
}

void Window::save(Writer& w, const std::function<int64_t(const GroupState*)>& group_id) {
  w.u64(store_.size());
  w.u64(last_count_);
  w.u8(last_nonempty_);
  w.u8(scheduled_);
  w.i64(due_);
  w.u8(has_reference_);
  w.i64(reference_);
  for (size_t i = 0; i < store_.size(); ++i) {
    EventMeta& m = store_.meta(i);
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
}

}  // namespace weir::cep
