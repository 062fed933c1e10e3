// file_source's positions: per file, where a restart resumes (file_source).
//
// A text file a person can read, replaced atomically (a temporary file,
// fsync, rename, fsync of the directory), so a crash leaves either the old
// or the new version, never a torn one:
//   weir-file-positions 1
//   <dev> <inode> <fingerprint length> <fingerprint, 16 hex digits> <offset> <path>
// The path is the last one the file was seen under (for people, and to find
// a file that was rotated out of the globs while weir was down).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weir::file_source {

struct SavedPosition {
  uint64_t dev = 0, ino = 0;
  uint32_t fingerprint_length = 0;
  uint64_t fingerprint = 0;
  int64_t offset = 0;  // the next line to read starts here
  std::string path;
  bool operator==(const SavedPosition&) const = default;
};

// Nothing (and an empty ERROR) when PATH does not exist; nothing with ERROR when it cannot be read or parsed.
std::optional<std::vector<SavedPosition>> read_positions(const std::string& path, std::string& error);
// False with ERROR when the file could not be replaced (the previous one stays).
bool write_positions(const std::string& path, const std::vector<SavedPosition>& positions, std::string& error);

}  // namespace weir::file_source
