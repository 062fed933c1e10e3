// Rotation by rename, shared by file_sink and `weir-loggen --output` (log4j's way without
// renaming older files): PATH becomes PATH.<n>, n counting up from the highest one there;
// keep > 0 deletes the rotated files older than the newest KEEP. A reader that follows
// files by inode (file_source) keeps reading the renamed one to its end.
#pragma once

#include <cstdint>
#include <string>

namespace weir::files {

// One past the highest n of the files PATH.<n> that exist (1 when there are none).
int64_t next_rotation_index(const std::string& path);
// Renames PATH to PATH.<INDEX> and deletes PATH.<INDEX - KEEP> (keep > 0). False with ERROR.
bool rotate_file(const std::string& path, int64_t index, int64_t keep, std::string& error);

}  // namespace weir::files
