#include "file_identity.hpp"

#include <unistd.h>

namespace weir::file_source {

uint64_t fingerprint(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string read_at(int fd, int64_t offset, size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, offset + static_cast<int64_t>(done));
    if (r <= 0) break;
    done += static_cast<size_t>(r);
  }
  out.resize(done);
  return out;
}

bool same_head(std::string_view head, uint32_t fp_length, uint64_t fp) {
  return fp_length <= head.size() && fingerprint(head.substr(0, fp_length)) == fp;
}

bool holds_tail(int fd, int64_t size, const std::string& tail, int64_t tail_end) {
  if (tail.empty() || tail_end < static_cast<int64_t>(tail.size()) || size < tail_end) return false;
  return read_at(fd, tail_end - static_cast<int64_t>(tail.size()), tail.size()) == tail;
}

}  // namespace weir::file_source
