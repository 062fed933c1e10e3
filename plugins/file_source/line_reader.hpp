// Frames the bytes of one file into lines (file_source).
//
// Reads at its own offset with pread(2), hands out complete lines, keeps a
// partial last line until its newline comes, and reports a line longer than
// max_line_bytes once, when its newline arrives, with its first bytes and its
// length, without ever holding more than max_line_bytes of it (a 10 MB line
// costs a 1 MB buffer, not 10 MB). Offsets are byte offsets in the file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::file_source {

struct Line {
  enum Kind { kLine, kOverlong };
  Kind kind = kLine;
  std::string_view text;  // kLine: the line without its newline; kOverlong: its first bytes
  int64_t start = 0;      // offset of the line's first byte
  int64_t end = 0;        // offset just past the line (past its newline): where the next line starts
  uint64_t length = 0;    // the line's length without its newline
};

class LineReader {
 public:
  // Bytes of an overlong line kept for its error record.
  static constexpr size_t kOverlongHead = 1024;

  LineReader(size_t max_line_bytes, size_t read_bytes);

  // Start (again) at OFFSET. skip_partial: OFFSET may be inside a line (start at
  // a file's end): the bytes up to the next newline are dropped, not framed.
  void reset(int64_t offset, bool skip_partial = false);
  // One pread(2) at next_read(): bytes read, 0 at the file's end, -1 on error (errno).
  ssize_t fill(int fd);
  // The next complete line; false when more bytes are needed. The views stay
  // valid until the next fill(), finish() or reset().
  bool next(Line& out);
  // The file ends for good (closed, or the source ends): the partial last line, if any, as a line.
  bool finish(Line& out);

  // Offset of the first byte not yet framed into a line (a line boundary).
  int64_t consumed() const { return consumed_; }
  int64_t next_read() const { return read_at_; }
  // Bytes read but not framed yet (a partial line, or the part of an overlong one being skipped).
  bool pending() const { return consumed_ < read_at_; }
  // Up to N framed bytes just before consumed() that are still in the buffer (may be fewer).
  std::string_view recent(size_t n) const;

 private:
  void make_room();
  Line framed(const char* start, size_t len, int64_t end, int newline);

  size_t max_;
  size_t read_bytes_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0, scan_ = 0;  // unframed bytes are buf_[begin_, end_); no newline in [begin_, scan_)
  int64_t base_ = 0;                       // file offset of buf_[0]
  int64_t read_at_ = 0, consumed_ = 0;
  bool skip_partial_ = false;
  bool overlong_ = false;  // skipping the rest of a line longer than max_
  std::string head_;       // its first bytes
  uint64_t overlong_length_ = 0;
};

}  // namespace weir::file_source
