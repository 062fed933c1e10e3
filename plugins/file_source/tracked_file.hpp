// One file being followed (file_source): its identity, its reader and how
// far the sinks have it.
#pragma once

#include "line_reader.hpp"

#include <weir/abi.h>

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

namespace weir::file_source {

struct TrackedFile {
  enum State {
    kLive,     // open, and a glob still finds it under `path`
    kRotated,  // open, but renamed out of the globs or deleted: read to its end, closed rotate_wait_ms after its last byte
    kClosed,   // finished and closed; kept until the sinks have all its lines
    kRetired,  // truncated (copytruncate): its bytes are gone; a copy may continue it, else it is dropped
  };

  TrackedFile(int32_t id_, size_t max_line_bytes, size_t read_bytes) : id(id_), reader(max_line_bytes, read_bytes) {}
  ~TrackedFile() { close_fd(); }
  TrackedFile(const TrackedFile&) = delete;
  TrackedFile& operator=(const TrackedFile&) = delete;

  void close_fd() {
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
  // Where a restart resumes: past every line the sinks have and, once they
  // have every emitted line, past the filtered lines after them too.
  int64_t resume_offset() const { return committed >= emitted_end ? reader.consumed() : committed; }

  int32_t id;  // position.partition of its records (per run)
  State state = kLive;
  std::string path;
  weir_str path_name{};  // interned, for the `file` field
  uint64_t dev = 0, ino = 0;
  uint32_t fp_length = 0;
  uint64_t fp = 0;
  int fd = -1;
  LineReader reader;
  int64_t emitted_end = 0;  // end offset of the last line emitted (as a record or an error)
  int64_t committed = 0;    // highest end offset every sink acknowledged
  int64_t last_bytes_ms = 0;  // steady clock, when bytes last came
  bool dirty = true;          // read it at the next poll
  std::string tail;           // framed bytes just before tail_end (to recognise a copy of this file)
  int64_t tail_end = 0;
  uint64_t retired_at_scan = 0;
};

}  // namespace weir::file_source
