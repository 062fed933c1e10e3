#include "block_pool.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace weir::cep {

namespace {

constexpr size_t kChunk = size_t{2} << 20;  // one huge page
constexpr size_t kAlign = 64;               // blocks start on a cache line

struct Pool {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;  // by size
  char* next = nullptr;                       // the current chunk's unused part
  size_t left = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: blocks may be freed during static destruction
  return *p;
}

size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void* allocate_block(size_t bytes) {
  bytes = rounded(bytes);
  if (bytes > kChunk / 4) return ::operator new(bytes);  // (not a small block: no reuse of a chunk)
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto it = p.free.find(bytes);
  if (it != p.free.end() && !it->second.empty()) {
    void* b = it->second.back();
    it->second.pop_back();
    return b;
  }
  if (p.left < bytes) {  // the rest of the chunk (less than a block) stays unused
    void* c = std::aligned_alloc(kChunk, kChunk);
    if (!c) throw std::bad_alloc();
    madvise(c, kChunk, MADV_HUGEPAGE);  // a hint: without THP the chunk is ordinary pages
    p.next = static_cast<char*>(c);
    p.left = kChunk;
  }
  void* b = p.next;
  p.next += bytes;
  p.left -= bytes;
  return b;
}

void free_block(void* b, size_t bytes) {
  bytes = rounded(bytes);
  if (bytes > kChunk / 4) {
    ::operator delete(b);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.free[bytes].push_back(b);
}

}  // namespace weir::cep
