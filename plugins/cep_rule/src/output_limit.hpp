// Output rate limiting (`output [all|first|last|snapshot] every N events|T`),
// as Esper 8 does it (conformance cases 052-059, 069, 070):
//
//  all       every row of every update in the interval, delivered at its end;
//            a fully aggregated ungrouped statement (row-for-all) with no
//            update in a time interval posts its current row instead
//  first     the first update's rows, then nothing until the interval ends
//            (time intervals: see below). Grouped
//            statements keep one condition per group instead: a group posts
//            its first row, then again once T has passed since its last post
//            (or once N of its events entered or N left); only insert-stream
//            rows, and for per-event rows also the rows of leaving events
//  last      the last row of the interval; row-for-all: the current row at the
//            interval end (having evaluated then), its remove row the one from
//            before the interval; grouped: each touched group's row from its
//            last update, unless that update failed the having clause
//  all       (the keyword, unlike plain `output every`) grouped statements:
//            a row for every group ever seen, at each interval end
//  snapshot  the current rows of the whole window at each interval end
//
// Time intervals tick every T from the statement's first update (the first
// events that pass the where clause), then keep ticking. Event-count
// intervals count the events the window posts (new or old), after the where
// clause.
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "rows.hpp"
#include "serialize.hpp"
#include "window.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace weir::cep {

// What the limiter needs from its statement.
class OutputTarget {
 public:
  // The rows a snapshot (or row-for-all's idle tick) would post now.
  virtual void current_rows(RowSet& inew, RowSet& iold) = 0;
  // `output all` on grouped statements: rows added at the end of each
  // interval (every group, see the statement).
  virtual void end_rows(RowSet& inew, RowSet& iold) = 0;
  virtual void deliver(const RowSet& inew, const RowSet& iold) = 0;

 protected:
  ~OutputTarget() = default;
};

class OutputLimiter {
 public:
  OutputLimiter(const OutputSpec& spec, Shape shape, bool irstream, size_t width);

  // Grouped first/last need each row's group key (as a string).
  bool needs_keys() const { return grouped_ && (spec_.mode == OutputMode::First || spec_.mode == OutputMode::Last); }
  bool grouped_first() const { return grouped_ && spec_.mode == OutputMode::First; }

  // Per row of a grouped `first`: how many of its group's events entered and
  // left in this update.
  struct RowCounts {
    int64_t entered = 0, left = 0;
  };

  // One update of the statement: its rows (keys parallel to rows when
  // needs_keys(), counts when grouped_first()), and how many new/old events
  // the window posted.
  // `dropped`: keys of groups whose row failed the having clause in this
  // update (grouped `last` forgets their earlier row).
  void on_update(const RowSet& inew, const RowSet& iold, const std::vector<std::string>& knew,
                 const std::vector<std::string>& kold, const std::vector<RowCounts>& counts,
                 const std::vector<std::string>& dropped, int64_t n_new, int64_t n_old, int64_t now,
                 OutputTarget& target);
  bool grouped_all() const { return grouped_ && spec_.mode == OutputMode::All; }
  bool grouped_last() const { return grouped_ && spec_.mode == OutputMode::Last; }

  int64_t next_timer() const { return spec_.by_events ? kNever : next_tick_; }
  void on_timer(int64_t now, OutputTarget& target);

  // Time of the oldest update whose rows are still buffered (kNever if none).
  int64_t oldest_pending() const { return pending_since_; }

  void save(Writer& w) const;
  void load(Reader& r);

 private:
  void end_interval(int64_t now, OutputTarget& target);
  void forget(const std::string& key);
  void keep_last(const RowSet& rows, const std::vector<std::string>& keys, RowSet& last, std::vector<std::string>& order,
                 std::unordered_map<std::string, size_t>& index);

  OutputSpec spec_;
  Shape shape_;
  bool grouped_;
  bool irstream_;
  int64_t next_tick_;
  // Interval state.
  int64_t updates_ = 0;
  int64_t count_new_ = 0, count_old_ = 0;
  int64_t pending_since_ = kNever;
  bool witnessed_first_ = false;
  bool has_first_old_ = false;  // row-for-all last: buf_old_ holds the interval's first remove row
  RowSet buf_new_, buf_old_;  // all: the rows; last ungrouped: one row each
  // last, grouped: one row per key, in order of first appearance.
  std::vector<std::string> last_keys_new_, last_keys_old_;
  std::unordered_map<std::string, size_t> last_index_new_, last_index_old_;
  // first, grouped: each group's own condition.
  struct FirstState {
    bool posted = false;
    int64_t last = 0;                  // time of the last post
    int64_t entered = 0, left = 0;     // events since the last post
  };
  std::unordered_map<std::string, FirstState> group_first_;
  std::unordered_map<std::string, size_t> first_rows_;  // per update: group -> its row in scratch_new_
  RowSet scratch_new_, scratch_old_;
};

}  // namespace weir::cep
