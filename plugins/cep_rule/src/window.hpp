// Data windows: which events a statement currently holds, and what each one
// posts (Esper's view "update(newData, oldData)") when an event arrives or a
// timer fires.
//
//   none            posts every event alone, keeps nothing
//   #length(N)      posts the event, and the one it pushes out once full
//   #length_batch(N) posts the N collected events (and the previous batch as old)
//   #time(T)        posts the event; at t+T posts it again as old (expiry)
//   #time_batch(T)  posts the collected events at the end of each T interval,
//                   aligned to the first event; one empty batch after a
//                   non-empty one, then sleeps until the next event
//   #time_batch(T, R)  the same with batch ends at R + k*T (R: milliseconds
//                   since the epoch), whatever the first event's time
//   'FORCE_UPDATE'  also posts empty intervals, and never sleeps
//   'START_EAGER'   the first interval starts when the statement does
//   #time_length_batch(T, N)  posts the collected events at N events or T
//                   after the batch's first event, whichever comes first
//   #keepall        posts the event, keeps it for good
//   #firstevent     posts and keeps the first event; ignores the later ones
//   #lastevent      = #length(1)
//   #ext_timed(ts, T)  posts the event, and the oldest ones whose timestamp
//                   is T or more before the new event's (no timer)
//   named           `from W`: W's events, entering and leaving as W posts them
//   keyed: #unique(k), #groupwin(k)#length(N), #groupwin(k)#firstevent
//                   the same per key: an event pushes out the oldest of its
//                   own key, wherever that one is in the store
//
// Events live in one ring of fixed-width rows (only the properties the
// statement reads), so memory is proportional to the events in the window and
// a steady-state window does not allocate. A keyed window removes events from
// the middle: they are marked dead and dropped once they reach the front (or
// when the dead outnumber the live, by compacting the store).
#pragma once

#include "ast.hpp"
#include "serialize.hpp"
#include "value.hpp"

#include "ring.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>
#include <limits>
#include <memory>

namespace weir::cep {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A cache line fetched in the state that lets it be written (x86's
// prefetchw: __builtin_prefetch(p, 1) is a plain prefetcht0 unless the target
// has PRFCHW; a line fetched for reading may need a second request to write).
inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" ::"m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

struct GroupState;

struct EventMeta {
  int64_t time = 0;             // engine time when the event arrived (ms)
  GroupState* group = nullptr;  // aggregation group, while aggregated
  bool passed = false;          // passed the where clause when posted
  bool dead = false;            // removed from a keyed window, not dropped from the store yet
};

// Events in blocks of 2^shift rows: memory follows the window's size (no
// doubling spike when it grows), emptied blocks are kept for reuse, and a
// steady-state window allocates nothing.
class EventStore {
 public:
  static constexpr size_t kShift = 8;  // the default: blocks of 256 rows
  // block_shift: blocks of 2^block_shift rows (statements in a context hold
  // few events each, in many instances: small blocks).
  explicit EventStore(size_t width, size_t block_shift = kShift)
      : width_(width), shift_(block_shift), rows_(size_t{1} << block_shift), stride_(sizeof(EventMeta) + width * sizeof(Value)) {}
  size_t size() const { return size_; }
  size_t width() const { return width_; }
  size_t shift() const { return shift_; }
  Value* row(size_t i) {
    size_t p = head_ + i;
    return blocks_[first_ + (p >> shift_)].row(p & (rows_ - 1));
  }
  EventMeta& meta(size_t i) {
    size_t p = head_ + i;
    return blocks_[first_ + (p >> shift_)].meta(p & (rows_ - 1));
  }
  const EventMeta& meta(size_t i) const {
    size_t p = head_ + i;
    return blocks_[first_ + (p >> shift_)].meta(p & (rows_ - 1));
  }
  // The metadata of a row of this store (it sits just before the row).
  static EventMeta& meta_of(Value* row) { return *reinterpret_cast<EventMeta*>(reinterpret_cast<std::byte*>(row) - sizeof(EventMeta)); }

  // A row at the back; the caller assigns every column (it may hold stale
  // values of an earlier event, never strings that still need freeing).
  Value* push_back(int64_t time);
  // Callers that store a long string (on the heap) say so, so that popping
  // rows knows it must release them; otherwise popping is just index moves.
  void note_heap() { heap_ = true; }
  // Asks the CPU for the row the next push_back writes, to be written (a
  // caller that knows this store comes next: Engine::send_batch). Each event
  // of a keyed context's statement writes a row of a cold instance; without
  // the line owned beforehand the stores wait in the store buffer until the
  // CPU has it, and every later store waits behind them.
  void prefetch_back() const {
    if (!next_) return;
    for (size_t o = 0; o < stride_; o += 64) prefetch_for_write(next_ + o);
    prefetch_for_write(next_ + stride_ - 1);
  }
  void pop_back();
  void pop_front(size_t n);
  void clear() { pop_front(size_); }

 private:
  // One allocation of `rows` rows, each an EventMeta followed by the row's
  // values: an event's metadata and values share cache lines, and reaching a
  // row is one pointer (the statements of a context, one instance per key,
  // reach their stores cold for every event).
  class Block {
   public:
    Block(size_t rows, size_t width);
    ~Block();
    Block(Block&& o) noexcept : mem_(o.mem_), rows_(o.rows_), stride_(o.stride_) { o.mem_ = nullptr; }
    Block& operator=(Block&& o) noexcept {
      std::swap(mem_, o.mem_);
      std::swap(rows_, o.rows_);
      std::swap(stride_, o.stride_);
      return *this;
    }
    EventMeta& meta(size_t r) const { return *reinterpret_cast<EventMeta*>(mem_ + r * stride_); }
    Value* row(size_t r) const { return reinterpret_cast<Value*>(mem_ + r * stride_ + sizeof(EventMeta)); }

   private:
    std::byte* mem_;
    size_t rows_, stride_;
  };

  size_t blocks() const { return blocks_.size() - first_; }
  void drop_front_block();
  void find_next();

  size_t width_;
  size_t shift_, rows_;  // rows per block = 2^shift_
  size_t stride_;        // bytes per row: its EventMeta, then its values
  // Where push_back writes the next row; null when the last block is full
  // (or there is none). Kept so that a push is one pointer in this object,
  // not this object -> blocks_'s array -> the block (one cold line less for
  // a statement instance in a context, reached cold at each of its events).
  std::byte* next_ = nullptr;
  bool heap_ = false;           // some row held a heap string since the store was empty
  size_t head_ = 0, size_ = 0;  // head_: offset of the first row in the first block
  // The window's blocks are blocks_[first_..]: dropping the front block is an
  // index increment (the vector is compacted now and then), so row(i) is two
  // array lookups.
  std::vector<Block> blocks_;
  size_t first_ = 0;
  std::vector<Block> spare_;
};

// What a window posts: logical index ranges into its store.
struct Post {
  size_t new_begin = 0, new_end = 0;
  size_t old_begin = 0, old_end = 0;
  bool batch = false;         // the new events replace everything posted before
  bool old_nonempty = false;  // batch: the previous batch had events (even if not kept)
  bool forced = false;        // FORCE_UPDATE: an interval with no events at all, posted anyway
  // Keyed windows: the old events as a list (marked dead already) instead of
  // the range.
  const std::vector<size_t>* old_list = nullptr;

  template <class F>
  void each_old(F&& f) const {
    if (old_list) {
      for (size_t i : *old_list) f(i);
    } else {
      for (size_t i = old_begin; i < old_end; ++i) f(i);
    }
  }
};

class PostSink {
 public:
  virtual void on_post(const Post& p) = 0;

 protected:
  ~PostSink() = default;
};

class Window {
 public:
  // keep_last: batch windows keep the previous batch to post it as old data
  // (only needed for remove-stream rows and event-count output conditions).
  // start_ms: the engine's clock when the statement starts (START_EAGER).
  // view_slots: the columns holding a keyed window's key, or #ext_timed's timestamp.
  // small: many instances of few events (a statement in a context).
  Window(const WindowSpec& spec, size_t width, bool keep_last, int64_t start_ms, std::vector<int> view_slots = {},
         bool small = false);

  const WindowSpec& spec() const { return spec_; }
  EventStore& store() { return store_; }
  const EventStore& store() const { return store_; }

  // Inserting an event: fill the returned row, then commit (or cancel when the
  // stream filter rejects it).
  Value* begin_insert(int64_t now) { return store_.push_back(now); }
  void cancel_insert() { store_.pop_back(); }
  void commit_insert(int64_t now, PostSink& sink);

  int64_t next_timer() const;
  void on_timer(int64_t now, PostSink& sink);

  // The events currently in the window (for `output snapshot`): those of
  // [contents_begin, contents_end) that are not dead.
  size_t contents_begin() const { return last_count_; }
  size_t contents_end() const { return store_.size(); }
  // Arrival time of the oldest event still held (kNever when empty).
  int64_t oldest_time();

  // Named windows: these events (store indexes of live events) leave, posted
  // as old.
  void remove(const std::vector<size_t>& rows, PostSink& sink);
  // WindowKind::Named (a statement reading a named window; view_slots[0]:
  // the named window's sequence number of each event): the rows inserted
  // from first_new on enter, the events numbered `gone` leave, in one post.
  void update_named(size_t first_new, const std::vector<int64_t>& gone, PostSink& sink);
  // The store index of the live or dead row whose column `slot` (a sequence
  // number, ascending down the store) is seq; store size() when none is.
  size_t find_ascending(int slot, int64_t seq);

  // Hot reload: take over the events of a window with the same definition.
  // map[i] = column of `old` holding this window's column i.
  void adopt(Window& old, const std::vector<int>& map);

  // Events with their aggregation group, as an index into the statement's
  // saved groups (-1: none).
  void save(Writer& w, const std::function<int64_t(const GroupState*)>& group_id);
  void load(Reader& r, const std::vector<GroupState*>& groups);

 private:
  void post_batch(int64_t now, PostSink& sink);
  void schedule_batch_end(int64_t now);
  void insert_keyed(PostSink& sink);
  void insert_ext_timed(PostSink& sink);
  void time_length_batch_insert(int64_t now, PostSink& sink);
  void drop_dead();
  void unkey(size_t i);
  void compact();
  void rebuild_index();
  int64_t timestamp(size_t i) { return store_.row(i)[view_slots_[0]].is_null() ? 0 : store_.row(i)[view_slots_[0]].as_long(); }

  // What an insert reads comes first, in as few cache lines as may be (a
  // statement instance per context partition is cold at each of its events).
  EventStore store_;
  // time_batch scheduling (Esper's TimeBatchView): batch ends are at
  // reference_ + k*size; the reference is the spec's, or the first event's
  // time, or the start time (START_EAGER). Saved with the window's state, so
  // a restored window keeps its alignment.
  bool scheduled_ = false;
  int64_t due_ = 0;
  bool has_reference_ = false;
  int64_t reference_ = 0;
  bool keep_last_;
  // Batch windows: the store holds [previous batch (if kept) | current batch].
  size_t last_count_ = 0;
  bool last_nonempty_ = false;
  WindowSpec spec_;
  // Keyed windows: each key's live events, as sequence numbers (store index
  // = seq - base_seq_, the seq of the store's front row), oldest first. Not
  // saved: rebuilt from the rows' key columns.
  std::vector<int> view_slots_;
  std::unordered_map<std::vector<Value>, Ring<uint64_t>, ValuesHash> index_;
  std::vector<Value> key_;
  uint64_t base_seq_ = 0;
  size_t dead_ = 0;
  std::vector<size_t> old_list_;
};

}  // namespace weir::cep
