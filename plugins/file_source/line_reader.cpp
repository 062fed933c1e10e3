#include "line_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace weir::file_source {

LineReader::LineReader(size_t max_line_bytes, size_t read_bytes)
    : max_(max_line_bytes), read_bytes_(read_bytes), buf_(read_bytes) {}

void LineReader::reset(int64_t offset, bool skip_partial) {
  begin_ = end_ = scan_ = 0;
  base_ = read_at_ = consumed_ = offset;
  skip_partial_ = skip_partial;
  overlong_ = false;
  head_.clear();
  overlong_length_ = 0;
}

// Keeps the unframed bytes and makes space after them: moves them to the
// front when that frees a useful amount, else grows the buffer (a partial line
// never exceeds max_ + 1 bytes here: next() turns a longer one into an overlong one).
void LineReader::make_room() {
  if (begin_ == end_) {
    base_ += static_cast<int64_t>(begin_);
    begin_ = end_ = scan_ = 0;
    return;
  }
  size_t free = buf_.size() - end_;
  if (free >= read_bytes_ / 4 && free > 0) return;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    base_ += static_cast<int64_t>(begin_);
    end_ -= begin_;
    scan_ -= begin_;
    begin_ = 0;
    if (buf_.size() - end_ >= read_bytes_ / 4 && buf_.size() > end_) return;
  }
  if (end_ == buf_.size()) buf_.resize(std::min(buf_.size() * 2, max_ + 1 + read_bytes_));
}

ssize_t LineReader::fill(int fd) {
  make_room();
  ssize_t n = ::pread(fd, buf_.data() + end_, buf_.size() - end_, read_at_);
  if (n > 0) {
    end_ += static_cast<size_t>(n);
    read_at_ += n;
  }
  return n;
}

bool LineReader::next(Line& out) {
  while (begin_ < end_) {
    const char* p = buf_.data();
    const void* nl = std::memchr(p + scan_, '\n', end_ - scan_);
    if (!nl) {
      scan_ = end_;
      size_t partial = end_ - begin_;
      if (skip_partial_) {
        begin_ = scan_ = end_;  // dropped; consumed_ moves once its newline comes
      } else if (overlong_ || partial > max_) {
        if (!overlong_) {
          overlong_ = true;
          head_.assign(p + begin_, std::min(partial, kOverlongHead));
          overlong_length_ = 0;
        }
        overlong_length_ += partial;
        begin_ = scan_ = end_;
      }
      return false;
    }
    size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - p);
    size_t len = pos - begin_;
    int64_t end_offset = base_ + static_cast<int64_t>(pos) + 1;
    const char* start = p + begin_;
    begin_ = scan_ = pos + 1;
    consumed_ = end_offset;
    if (skip_partial_) {
      skip_partial_ = false;
      continue;
    }
    out = framed(start, len, end_offset, 1);
    return true;
  }
  return false;
}

bool LineReader::finish(Line& out) {
  if (!pending()) return false;
  size_t len = end_ - begin_;
  const char* start = buf_.data() + begin_;
  begin_ = scan_ = end_;
  consumed_ = read_at_;
  if (skip_partial_) {
    skip_partial_ = false;
    return false;
  }
  out = framed(start, len, read_at_, 0);
  return true;
}

// The line ending at END (NEWLINE bytes after its LEN last bytes at START): whole, or, past
// max_, the end of an overlong one (its first bytes were kept when it began).
Line LineReader::framed(const char* start, size_t len, int64_t end, int newline) {
  if (!overlong_ && len <= max_) return {Line::kLine, std::string_view(start, len), end - newline - static_cast<int64_t>(len), end, len};
  if (!overlong_) {
    head_.assign(start, std::min(len, kOverlongHead));
    overlong_length_ = 0;
  }
  overlong_length_ += len;
  overlong_ = false;
  return {Line::kOverlong, head_, end - newline - static_cast<int64_t>(overlong_length_), end, overlong_length_};
}

std::string_view LineReader::recent(size_t n) const {
  // Bytes before begin_ are framed lines; they stay until the next make_room().
  size_t have = std::min(n, begin_);
  if (base_ + static_cast<int64_t>(begin_) != consumed_) return {};  // mid-skip: not a line boundary
  return {buf_.data() + begin_ - have, have};
}

}  // namespace weir::file_source
