// file_source — follows files matching globs and emits their lines (like
// Flume's TAILDIR, Vector's `file`, Fluent Bit's `tail`).
//
// At-least-once: every record's position is {the file's id in this run, the
// offset just past its line}. The host calls commit() once every sink has a
// file's lines up to an offset; the positions file (position_file.hpp) is
// rewritten from those every commit_interval_ms and at close, so a restart
// resumes each file past its last acknowledged line: after a SIGKILL only the
// lines after the last write are sent again.
//
// Files are told apart by device + inode + a fingerprint of their first bytes
// (file_identity.hpp). Rotation:
//  * rename (x.log -> x.log.1, a new x.log): the old inode stays open and is
//    read to its end first (files are read in the order they were found);
//    once out of the globs it is closed rotate_wait_ms after its last byte;
//  * copytruncate (copy to x.log.1, truncate x.log): a file shorter than what
//    was read is read again from its start; the copy, when a glob finds it,
//    continues from where the original was (it holds the original's first
//    bytes and the bytes just before that point), so nothing is read twice;
//  * deleted: read to its end through the descriptor still open.
//
// Threading: everything runs on the host's source thread (poll, commit,
// on_timer); no locks.
#include "file_identity.hpp"
#include "file_watcher.hpp"
#include "line_rules.hpp"
#include "position_file.hpp"
#include "tracked_file.hpp"

#include <weir/sdk.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

namespace {

using weir::file_source::Line;
using weir::file_source::TrackedFile;

const weir_port_spec kOutputs[] = {
    {"out", "one record per line: payload = the line without its newline, key from key_regex/key_csv_column, "
            "position = {file id, offset past the line}"}};
const weir_param_spec kParams[] = {
    {"paths", WEIR_PARAM_STRING_LIST, nullptr, 1, nullptr, "files to follow, as globs, e.g. [\"/var/log/cars/*.log*\"]"},
    {"exclude", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "globs of files not to follow (on the name, or on the whole path when the glob has a /), e.g. [\"*.gz\"]"},
    {"positions_file", WEIR_PARAM_STRING, nullptr, 1, nullptr,
     "where each file's acknowledged offset is kept (replaced atomically); a restart resumes from it"},
    {"start", WEIR_PARAM_STRING, "\"beginning\"", 0, nullptr,
     "where a file found at start-up and not in positions_file starts: beginning or end (files found later: beginning)"},
    {"include_prefixes", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr, "pass only lines starting with one of these ([] = all)"},
    {"exclude_prefixes", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr, "drop lines starting with one of these"},
    {"line_regex", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "pass only lines matching this ECMAScript regex, e.g. \"^[0-9]{14}\" (the original collector); \"\" = all"},
    {"exclude_regex", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "drop lines matching this regex"},
    {"key_regex", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "the record key is group key_group of this regex; a line without it goes to error"},
    {"key_group", WEIR_PARAM_INT, "1", 0, nullptr, "the group of key_regex that is the key (0 = the whole match)"},
    {"key_csv_column", WEIR_PARAM_INT, "-1", 0, nullptr,
     "the record key is this column (0-based) of the line split at csv_delimiter, e.g. 1 = CarNum; -1 = no key"},
    {"csv_delimiter", WEIR_PARAM_STRING, "\",\"", 0, nullptr, "one character separating key_csv_column's columns"},
    {"max_line_bytes", WEIR_PARAM_INT, "1048576", 0, "bytes",
     "a longer line goes whole to the error port (its first 1024 bytes and its length), never split"},
    {"fingerprint_bytes", WEIR_PARAM_INT, "256", 0, "bytes", "first bytes of a file that, with device and inode, identify it"},
    {"batch_size", WEIR_PARAM_INT, "1024", 0, "records", "most lines per emitted batch"},
    {"read_bytes", WEIR_PARAM_INT, "262144", 0, "bytes", "bytes per read(2)"},
    {"poll_interval_ms", WEIR_PARAM_INT, "250", 0, "ms",
     "look for new lines and new, rotated or deleted files at least this often (inotify wakes earlier)"},
    {"rotate_wait_ms", WEIR_PARAM_INT, "5000", 0, "ms", "a file renamed out of the globs or deleted is closed this long after its last byte"},
    {"commit_interval_ms", WEIR_PARAM_INT, "1000", 0, "ms", "rewrite positions_file at most this often; 0 = at every acknowledgement"},
    {"inotify", WEIR_PARAM_BOOL, "true", 0, nullptr, "wake on inotify events (false: poll only, e.g. on NFS)"},
    {"end_at_eof", WEIR_PARAM_BOOL, "false", 0, nullptr, "end once every file is read to its end (backfills, tests, benchmarks)"},
    {"fields", WEIR_PARAM_BOOL, "false", 0, nullptr, "add the fields file (string) and offset (int64, where the line starts)"},
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

weir::file_source::LineRulesConfig rules_config(const weir::Params& p) {
  weir::file_source::LineRulesConfig c;
  c.include_prefixes = p.list("include_prefixes");
  c.exclude_prefixes = p.list("exclude_prefixes");
  c.line_regex = p.str("line_regex");
  c.exclude_regex = p.str("exclude_regex");
  c.key_regex = p.str("key_regex");
  c.key_group = static_cast<int>(p.integer("key_group"));
  c.key_csv_column = static_cast<int>(p.integer("key_csv_column"));
  std::string d = p.str("csv_delimiter");
  if (d.size() != 1) throw weir::ConfigError("csv_delimiter must be one character, not \"" + d + "\"");
  c.csv_delimiter = d[0];
  return c;
}

weir::file_source::LineRules make_rules(const weir::Params& p) {
  try {
    return weir::file_source::LineRules(rules_config(p));
  } catch (const std::invalid_argument& e) {
    throw weir::ConfigError(e.what());
  }
}

// A file a glob found that is not followed yet.
struct Found {
  std::string path;
  struct stat st {};
  int fd = -1;
  std::string head;  // its first fingerprint_bytes bytes (fewer if shorter)
};

class FileSource : public weir::Plugin {
 public:
  FileSource(weir::Context ctx, const weir::Params& p)
      : ctx_(ctx), rules_(make_rules(p)), watcher_(p.list("paths"), p.list("exclude")) {
    positions_path_ = p.str("positions_file");
    std::string start = p.str("start");
    max_line_bytes_ = p.integer("max_line_bytes");
    fingerprint_bytes_ = p.integer("fingerprint_bytes");
    batch_size_ = p.integer("batch_size");
    read_bytes_ = p.integer("read_bytes");
    poll_interval_ms_ = p.integer("poll_interval_ms");
    rotate_wait_ms_ = p.integer("rotate_wait_ms");
    commit_interval_ms_ = p.integer("commit_interval_ms");
    inotify_ = p.boolean("inotify");
    end_at_eof_ = p.boolean("end_at_eof");
    fields_ = p.boolean("fields");

    std::vector<std::string> paths = p.list("paths");
    if (paths.empty()) throw weir::ConfigError("paths must list at least one glob, e.g. [\"/var/log/cars/*.log\"]");
    for (const auto& g : paths)
      if (g.empty()) throw weir::ConfigError("paths must not contain an empty glob");
    if (positions_path_.empty()) throw weir::ConfigError("positions_file must name a file, e.g. \"/var/lib/weir/cars.positions\"");
    if (start != "beginning" && start != "end") throw weir::ConfigError("start must be \"beginning\" or \"end\", not \"" + start + "\"");
    start_at_end_ = start == "end";
    if (max_line_bytes_ < 1 || max_line_bytes_ > (1LL << 30)) throw weir::ConfigError("max_line_bytes must be 1..1073741824");
    if (fingerprint_bytes_ < 1 || fingerprint_bytes_ > 65536) throw weir::ConfigError("fingerprint_bytes must be 1..65536");
    if (batch_size_ < 1 || batch_size_ > 1'000'000) throw weir::ConfigError("batch_size must be 1..1000000");
    if (read_bytes_ < 4096 || read_bytes_ > (64LL << 20)) throw weir::ConfigError("read_bytes must be 4096..67108864");
    if (poll_interval_ms_ < 1 || poll_interval_ms_ > 600'000) throw weir::ConfigError("poll_interval_ms must be 1..600000");
    if (rotate_wait_ms_ < 0 || commit_interval_ms_ < 0) throw weir::ConfigError("rotate_wait_ms and commit_interval_ms must be >= 0");
    out_ = ctx_.port("out");
    file_name_ = ctx_.name("file");
    offset_name_ = ctx_.name("offset");
  }

  ~FileSource() override {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  weir_status open() override {
    std::string lock = positions_path_ + ".lock";
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      ctx_.error_log(lock + ": " + (lock_fd_ < 0 ? std::strerror(errno) : "held by another file_source (one positions_file per source)"));
      return WEIR_FAILED;
    }
    std::string error;
    auto saved = weir::file_source::read_positions(positions_path_, error);
    if (!error.empty()) {
      ctx_.error_log(error);
      return WEIR_FAILED;
    }
    if (saved) saved_ = std::move(*saved);
    if (inotify_ && !watcher_.start_inotify()) ctx_.warn(std::string("inotify unavailable (") + std::strerror(errno) + "): polling only");
    scan(true);
    ctx_.info("following " + std::to_string(order_.size()) + " files (" + std::to_string(saved_restored_) + " from " +
              positions_path_ + ")");
    ctx_.set_timer(std::max<int64_t>(commit_interval_ms_, 100));
    next_scan_ms_ = steady_ms() + poll_interval_ms_;
    return WEIR_OK;
  }

  weir_status poll() override {
    int64_t now = steady_ms();
    watcher_.drain();
    for (const std::string& path : watcher_.take_modified())
      if (auto it = by_path_.find(path); it != by_path_.end()) it->second->dirty = true;
    if (watcher_.take_rescan() || rescan_now_ || now >= next_scan_ms_ || end_at_eof_) {
      scan(false);
      for (TrackedFile* f : order_) f->dirty = true;  // polling: also catches what inotify missed
      next_scan_ms_ = now + poll_interval_ms_;
    }

    weir::BatchBuilder b = ctx_.batch(static_cast<uint32_t>(batch_size_));
    int64_t budget = batch_size_;
    bytes_this_poll_ = 0;
    for (size_t i = 0; i < order_.size() && budget > 0 && !reject_.pending; ++i) {
      TrackedFile& f = *order_[i];
      if (f.dirty || f.state == TrackedFile::kRotated) read(f, b, budget, now);
    }
    bool progressed = b.size() > 0 || bytes_this_poll_ > 0 || budget == 0 || reject_.pending;
    if (ctx_.emit(out_, b) == WEIR_STOPPING) return WEIR_END;
    // After the lines before it, so its error record is committed in file order.
    if (reject_.pending) send_reject();
    close_finished();
    if (progressed) return WEIR_OK;
    if (end_at_eof_) return finish_all();
    watcher_.wait(std::chrono::milliseconds(std::clamp<int64_t>(next_scan_ms_ - steady_ms(), 0, 50)));
    return WEIR_OK;
  }

  weir_status commit(std::span<const weir_position> positions) override {
    for (const weir_position& pos : positions) {
      auto it = all_.find(pos.partition);
      // A truncated generation: its bytes are gone, nothing to resume.
      if (it == all_.end() || it->second->state == TrackedFile::kRetired) continue;
      it->second->committed = std::max(it->second->committed, pos.offset);
    }
    if (commit_interval_ms_ == 0) save();
    return WEIR_OK;
  }

  weir_status on_timer(int64_t) override {
    save();
    int64_t open = 0;
    for (TrackedFile* f : order_) open += f->fd >= 0;
    ctx_.gauge("file_source_files", "", static_cast<double>(open));
    ctx_.gauge("file_source_lines_filtered", "", static_cast<double>(filtered_));
    return WEIR_OK;
  }

  weir_status close() override {
    save();
    for (auto& [id, f] : all_) f->close_fd();
    ctx_.info("read " + std::to_string(lines_) + " lines (" + std::to_string(filtered_) + " filtered, " +
              std::to_string(rejected_) + " to error) from " + std::to_string(all_.size()) + " files");
    return WEIR_OK;
  }

 private:
  // ---- reading

  // Reads F's lines into B until its end or the budget; an overlong or keyless
  // line stops the poll (reject_), so its error follows the lines before it.
  void read(TrackedFile& f, weir::BatchBuilder& b, int64_t& budget, int64_t now) {
    for (;;) {
      Line line;
      while (budget > 0 && f.reader.next(line)) {
        if (!take(f, line, b, budget)) return;
      }
      remember_tail(f);
      if (budget == 0) return;  // more next poll (stays dirty)
      ssize_t n = f.reader.fill(f.fd);
      if (n > 0) {
        bytes_this_poll_ += n;
        f.last_bytes_ms = now;
        continue;
      }
      if (n < 0) warn_once(f.path + ": read failed: " + std::strerror(errno) + "; retried");
      f.dirty = false;
      struct stat st {};
      if (::fstat(f.fd, &st) == 0 && st.st_size < f.reader.next_read()) rescan_now_ = true;  // truncated: see scan()
      if (f.state == TrackedFile::kRotated && now - f.last_bytes_ms >= rotate_wait_ms_ && budget > 0) finish(f, b, budget);
      return;
    }
  }

  // One framed line: emitted, filtered or (stopping the poll) rejected. False = stop reading.
  bool take(TrackedFile& f, const Line& line, weir::BatchBuilder& b, int64_t& budget) {
    if (line.kind == Line::kOverlong) {
      reject(f, line, {}, "line of " + std::to_string(line.length) + " bytes at offset " + std::to_string(line.start) +
                               " of " + f.path + " is longer than max_line_bytes (" + std::to_string(max_line_bytes_) +
                               "); payload = its first " + std::to_string(line.text.size()) + " bytes");
      return false;
    }
    if (!rules_.pass(line.text)) {
      ++filtered_;
      return true;
    }
    std::string_view key;
    if (!rules_.key(line.text, key)) {
      reject(f, line, {}, "no key in the line (key_regex/key_csv_column) at offset " + std::to_string(line.start) + " of " + f.path);
      return false;
    }
    weir::RecordBuilder r = b.add();
    r.payload(line.text).position(f.id, line.end);
    if (!key.empty()) r.key(key);
    if (fields_) {
      auto fs = r.fields(2);
      fs[0] = {file_name_, weir::string_value(f.path_name)};
      fs[1] = {offset_name_, weir::int_value(line.start)};
    }
    f.emitted_end = line.end;
    ++lines_;
    --budget;
    return true;
  }

  void reject(TrackedFile& f, const Line& line, std::string_view key, std::string reason) {
    reject_.pending = true;
    reject_.payload.assign(line.text);
    reject_.key.assign(key);
    reject_.position = {f.id, line.end};
    reject_.reason = std::move(reason);
    f.emitted_end = line.end;  // its error record is part of the acknowledged stream
    remember_tail(f);
  }

  void send_reject() {
    weir_record r{};
    r.payload = {reject_.payload.data(), static_cast<uint32_t>(reject_.payload.size())};
    r.key = {reject_.key.data(), static_cast<uint32_t>(reject_.key.size())};
    r.position = reject_.position;
    ctx_.reject(weir::Record(&r), reject_.reason);
    reject_.pending = false;
    ++rejected_;
  }

  // The end of F for good: its partial last line (if any) is a line now; then it is closed.
  void finish(TrackedFile& f, weir::BatchBuilder& b, int64_t& budget) {
    Line line;
    if (f.reader.finish(line) && !take(f, line, b, budget)) {
      // rejected: closed at the next poll
    }
    f.close_fd();
    f.state = TrackedFile::kClosed;
    ctx_.info(f.path + ": finished (renamed out of the globs or deleted) at offset " + std::to_string(f.reader.consumed()));
  }

  void close_finished() {
    for (auto it = order_.begin(); it != order_.end();) {
      if ((*it)->state != TrackedFile::kClosed) {
        ++it;
        continue;
      }
      if (auto p = by_path_.find((*it)->path); p != by_path_.end() && p->second == *it) by_path_.erase(p);
      it = order_.erase(it);
    }
  }

  // end_at_eof: every file is at its end; their partial last lines are lines now.
  weir_status finish_all() {
    weir::BatchBuilder b = ctx_.batch(static_cast<uint32_t>(order_.size()));
    for (TrackedFile* f : order_) {
      Line line;
      int64_t budget = 1;
      if (f->reader.finish(line)) take(*f, line, b, budget);
      if (reject_.pending) {
        if (ctx_.emit(out_, b) == WEIR_STOPPING) return WEIR_END;
        send_reject();
        b = ctx_.batch(static_cast<uint32_t>(order_.size()));
      }
    }
    ctx_.emit(out_, b);
    return WEIR_END;
  }

  void remember_tail(TrackedFile& f) {
    std::string_view recent = f.reader.recent(64);
    if (recent.empty()) return;
    f.tail.assign(recent);
    f.tail_end = f.reader.consumed();
  }

  // ---- finding files

  void scan(bool startup) {
    rescan_now_ = false;
    ++scans_;
    // Truncated (copytruncate), or other bytes under the same inode: that content is gone.
    for (auto it = order_.begin(); it != order_.end();) {
      TrackedFile& f = **it;
      if (!replaced(f)) {
        ++it;
        continue;
      }
      ctx_.info(f.path + ": truncated at offset " + std::to_string(f.reader.next_read()) + " (copytruncate?): read again from its start");
      if (auto p = by_path_.find(f.path); p != by_path_.end() && p->second == &f) by_path_.erase(p);
      f.state = TrackedFile::kRetired;
      f.retired_at_scan = scans_;
      f.close_fd();
      retired_.push_back(&f);
      it = order_.erase(it);
    }

    std::set<TrackedFile*> seen;
    std::vector<Found> fresh;
    for (const std::string& path : watcher_.list()) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) continue;
      if (TrackedFile* f = open_file(st)) {
        seen.insert(f);
        if (f->path != path || f->state == TrackedFile::kRotated) moved(*f, path);
        continue;
      }
      if (path.find('\n') != std::string::npos) {
        warn_once("a file name with a newline is not followed: " + path);
        continue;
      }
      Found c{path, st, ::open(path.c_str(), O_RDONLY | O_CLOEXEC), {}};
      if (c.fd < 0) {
        warn_once(path + ": cannot open (" + std::strerror(errno) + "); retried at the next scan");
        continue;
      }
      ::fstat(c.fd, &c.st);  // the inode opened, not the one stat() saw a moment before
      c.head = weir::file_source::read_at(c.fd, 0, static_cast<size_t>(fingerprint_bytes_));
      if (TrackedFile* f = claim_saved(c) ? by_path_[path] : claim_copy(c) ? by_path_[path] : reopen_closed(c)) {
        seen.insert(f);
        continue;
      }
      if (copy_of_followed(c) || prefix_of_followed(c)) {
        ::close(c.fd);
        continue;
      }
      fresh.push_back(std::move(c));
    }
    for (TrackedFile* f : order_) {
      if (f->state != TrackedFile::kLive || seen.count(f)) continue;
      f->state = TrackedFile::kRotated;
      f->dirty = true;
      f->last_bytes_ms = steady_ms();
      ctx_.info(f->path + ": renamed out of the globs or deleted: reading it to its end");
    }
    // New files after the continued ones (a copy's old lines come before its original's new ones),
    // oldest first: a backlog of rotated files is read in the order it was written.
    std::sort(fresh.begin(), fresh.end(), [](const Found& a, const Found& b) {
      auto ta = std::make_pair(a.st.st_mtim.tv_sec, a.st.st_mtim.tv_nsec), tb = std::make_pair(b.st.st_mtim.tv_sec, b.st.st_mtim.tv_nsec);
      return ta != tb ? ta < tb : a.path < b.path;
    });
    for (Found& c : fresh) {
      bool at_end = startup && start_at_end_;
      int64_t offset = at_end ? c.st.st_size : 0;
      bool mid_line = at_end && offset > 0 && weir::file_source::read_at(c.fd, offset - 1, 1) != "\n";
      ctx_.info(c.path + ": new file, from " + (at_end ? "its end" : "its start"));
      follow(c, offset, mid_line);
    }
    if (startup) restore_rotated();
    // A truncated generation no copy continued within a scan is gone.
    std::erase_if(retired_, [&](TrackedFile* f) {
      if (scans_ - f->retired_at_scan < 2) return false;
      all_.erase(f->id);
      return true;
    });
  }

  // Whether F's inode no longer holds the bytes that were read: shorter than what was read, or other first bytes.
  bool replaced(TrackedFile& f) {
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return false;
    if (st.st_size < f.reader.next_read()) return true;
    std::string head = weir::file_source::read_at(f.fd, 0, static_cast<size_t>(fingerprint_bytes_));
    if (!weir::file_source::same_head(head, f.fp_length, f.fp)) return true;
    if (head.size() > f.fp_length) {  // a longer fingerprint as the file grows
      f.fp_length = static_cast<uint32_t>(head.size());
      f.fp = weir::file_source::fingerprint(head);
    }
    return false;
  }

  TrackedFile* open_file(const struct stat& st) {
    for (TrackedFile* f : order_)
      if (f->dev == static_cast<uint64_t>(st.st_dev) && f->ino == static_cast<uint64_t>(st.st_ino)) return f;
    return nullptr;
  }

  void moved(TrackedFile& f, const std::string& path) {
    if (auto p = by_path_.find(f.path); p != by_path_.end() && p->second == &f) by_path_.erase(p);
    f.path = path;
    if (fields_) f.path_name = ctx_.name(path);
    f.state = TrackedFile::kLive;
    by_path_[path] = &f;
  }

  // A file finished before (closed once out of the globs) that a glob finds again: continued, not read again.
  TrackedFile* reopen_closed(Found& c) {
    for (auto& [id, f] : all_) {
      if (f->state != TrackedFile::kClosed || f->dev != static_cast<uint64_t>(c.st.st_dev) ||
          f->ino != static_cast<uint64_t>(c.st.st_ino) || !weir::file_source::same_head(c.head, f->fp_length, f->fp))
        continue;
      f->fd = c.fd;
      f->state = TrackedFile::kLive;
      f->reader.reset(f->reader.consumed());
      f->dirty = true;
      moved(*f, c.path);
      order_.push_back(f.get());
      return f.get();
    }
    return nullptr;
  }

  // A file of positions_file (same device, inode and first bytes): resumed where the sinks had it.
  bool claim_saved(Found& c) {
    for (auto it = saved_.begin(); it != saved_.end(); ++it) {
      if (it->dev != static_cast<uint64_t>(c.st.st_dev) || it->ino != static_cast<uint64_t>(c.st.st_ino) ||
          !weir::file_source::same_head(c.head, it->fingerprint_length, it->fingerprint))
        continue;
      int64_t offset = it->offset;
      if (c.st.st_size < offset) {
        ctx_.info(c.path + ": shorter than its saved offset " + std::to_string(offset) + " (truncated while weir was down): from its start");
        offset = 0;
      }
      saved_.erase(it);
      ++saved_restored_;
      follow(c, offset, false);
      return true;
    }
    return false;
  }

  // A copy of a truncated file (copytruncate's x.log.1): continues it where it was.
  bool claim_copy(Found& c) {
    for (auto it = retired_.begin(); it != retired_.end(); ++it) {
      TrackedFile& g = **it;
      if ((g.dev == static_cast<uint64_t>(c.st.st_dev) && g.ino == static_cast<uint64_t>(c.st.st_ino)) || !copy_of(c, g)) continue;
      int64_t offset = std::min<int64_t>(g.reader.consumed(), c.st.st_size);
      ctx_.info(c.path + ": a copy of " + g.path + " (copytruncate): continued at offset " + std::to_string(offset));
      retired_.erase(it);
      g.state = TrackedFile::kLive;
      g.fd = c.fd;
      g.dev = static_cast<uint64_t>(c.st.st_dev);
      g.ino = static_cast<uint64_t>(c.st.st_ino);
      g.reader.reset(offset);
      g.dirty = true;
      g.last_bytes_ms = steady_ms();
      moved(g, c.path);
      order_.push_back(&g);
      return true;
    }
    return false;
  }

  // A copy of a file still followed (copytruncate between its copy and its truncation, or a plain cp): not read.
  bool copy_of_followed(const Found& c) {
    for (TrackedFile* f : order_) {
      if (!copy_of(c, *f)) continue;
      if (copies_noted_.insert(c.path).second)
        ctx_.info(c.path + ": holds the lines of " + f->path + " (a copy?): not read while " + f->path + " is followed");
      return true;
    }
    return false;
  }

  // A file shorter than its fingerprint whose bytes are where a followed file
  // begins (empty, or a copy being written): not told apart yet, so looked at
  // again at the next scan. A new file is read once it differs or grows.
  bool prefix_of_followed(const Found& c) const {
    if (c.head.size() >= static_cast<size_t>(fingerprint_bytes_)) return false;
    for (const TrackedFile* f : order_)
      if (f->fd >= 0 && f->fp_length > c.head.size() && weir::file_source::read_at(f->fd, 0, c.head.size()) == c.head) return true;
    return false;
  }

  // Whether C is (or is becoming: a copy being written) a copy of F: F's first
  // bytes, and the bytes just before what was read of F where F had them. A
  // copy shorter than that (still being written, or taken before F's last
  // lines were) counts when the whole fingerprint matched.
  bool copy_of(const Found& c, const TrackedFile& f) const {
    if (f.fp_length == 0 || f.tail_end == 0 || !weir::file_source::same_head(c.head, f.fp_length, f.fp)) return false;
    if (c.st.st_size < f.tail_end) return f.fp_length >= static_cast<uint32_t>(fingerprint_bytes_);
    return weir::file_source::holds_tail(c.fd, c.st.st_size, f.tail, f.tail_end);
  }

  // positions_file names a file no glob finds any more (rotated out while weir was down): finish it from its saved path.
  void restore_rotated() {
    for (const auto& s : saved_) {
      struct stat st {};
      if (::stat(s.path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_dev) != s.dev || static_cast<uint64_t>(st.st_ino) != s.ino)
        continue;
      Found c{s.path, st, ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC), {}};
      if (c.fd < 0) continue;
      c.head = weir::file_source::read_at(c.fd, 0, static_cast<size_t>(fingerprint_bytes_));
      if (!weir::file_source::same_head(c.head, s.fingerprint_length, s.fingerprint) || st.st_size < s.offset) {
        ::close(c.fd);
        continue;
      }
      TrackedFile& f = follow(c, s.offset, false);
      f.state = TrackedFile::kRotated;
      f.last_bytes_ms = steady_ms();
      ++saved_restored_;
    }
    saved_.clear();
  }

  TrackedFile& follow(Found& c, int64_t offset, bool mid_line) {
    auto owned = std::make_unique<TrackedFile>(next_id_++, static_cast<size_t>(max_line_bytes_), static_cast<size_t>(read_bytes_));
    TrackedFile& f = *owned;
    all_[f.id] = std::move(owned);
    f.fd = c.fd;
    f.dev = static_cast<uint64_t>(c.st.st_dev);
    f.ino = static_cast<uint64_t>(c.st.st_ino);
    f.fp_length = static_cast<uint32_t>(c.head.size());
    f.fp = weir::file_source::fingerprint(c.head);
    f.reader.reset(offset, mid_line);
    f.emitted_end = f.committed = offset;
    f.last_bytes_ms = steady_ms();
    moved(f, c.path);
    order_.push_back(&f);
    return f;
  }

  // ---- positions

  void save() {
    std::vector<weir::file_source::SavedPosition> now;
    for (auto& [id, f] : all_) {
      if (f->state == TrackedFile::kRetired) continue;
      now.push_back({f->dev, f->ino, f->fp_length, f->fp, f->resume_offset(), f->path});
    }
    // Finished files the sinks have whole are not needed any more (kept in this write, gone from the next).
    std::erase_if(all_, [](const auto& kv) {
      const TrackedFile& f = *kv.second;
      return f.state == TrackedFile::kClosed && f.committed >= f.emitted_end;
    });
    if (now == last_saved_) return;
    std::string error;
    if (!weir::file_source::write_positions(positions_path_, now, error)) {
      warn_once("positions not saved: " + error + " (retried; a restart would send more lines again)");
      return;
    }
    last_saved_ = std::move(now);
  }

  void warn_once(const std::string& msg) {
    if (warned_.insert(msg).second) ctx_.warn(msg);
  }

  weir::Context ctx_;
  weir::file_source::LineRules rules_;
  weir::file_source::FileWatcher watcher_;
  std::string positions_path_;
  bool start_at_end_ = false, inotify_ = false, end_at_eof_ = false, fields_ = false;
  int64_t max_line_bytes_, fingerprint_bytes_, batch_size_, read_bytes_, poll_interval_ms_, rotate_wait_ms_, commit_interval_ms_;
  int32_t out_ = -1;
  weir_str file_name_{}, offset_name_{};
  int lock_fd_ = -1;

  std::map<int32_t, std::unique_ptr<TrackedFile>> all_;  // by id: every file whose lines may still be acknowledged
  std::vector<TrackedFile*> order_;                      // open files, in the order found: read in this order
  std::unordered_map<std::string, TrackedFile*> by_path_;
  std::vector<TrackedFile*> retired_;                    // truncated generations a copy may continue
  std::vector<weir::file_source::SavedPosition> saved_;  // from positions_file, until the start-up scan claims them
  std::vector<weir::file_source::SavedPosition> last_saved_;
  std::set<std::string> copies_noted_, warned_;
  int32_t next_id_ = 0;
  uint64_t scans_ = 0;
  int64_t next_scan_ms_ = 0, bytes_this_poll_ = 0;
  bool rescan_now_ = false;
  int64_t lines_ = 0, filtered_ = 0, rejected_ = 0, saved_restored_ = 0;
  struct {
    bool pending = false;
    std::string payload, key, reason;
    weir_position position{};
  } reject_;
};

}  // namespace

WEIR_PLUGIN(FileSource, (weir::PluginInfo{
                            .name = "file_source",
                            .version = "1.0.0",
                            .description = "follows files matching globs (rotation, truncation, deletion), one record per line; "
                                           "resumes from acknowledged offsets",
                            .kind = WEIR_SOURCE,
                            .outputs = kOutputs,
                            .params = kParams,
                        }))
