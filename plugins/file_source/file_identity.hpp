// What makes a file the same file (file_source).
//
// Device + inode, and a fingerprint (FNV-1a 64) of its first bytes, so a
// reused inode holding other bytes is a new file. A copy (copytruncate's
// x.log.1) has another inode but the original's first bytes *and* the bytes
// just before what was read of the original: it continues the original
// instead of being read again from its start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::file_source {

uint64_t fingerprint(std::string_view bytes);
// Up to N bytes of FD from OFFSET (fewer at the end; empty on error).
std::string read_at(int fd, int64_t offset, size_t n);
// Whether HEAD (a file's first bytes) starts with bytes whose fingerprint is FP.
bool same_head(std::string_view head, uint32_t fp_length, uint64_t fp);
// Whether the file FD of SIZE bytes holds TAIL ending at TAIL_END (a copy of what was read).
bool holds_tail(int fd, int64_t size, const std::string& tail, int64_t tail_end);

}  // namespace weir::file_source
