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
  std::map<size_t, std::vector<void*>> free;  // by size
  char* next = nullptr;                       // the current chunk's unused part
  size_t left = 0;
  std::vector<void*> chunks;                  // every chunk, to give back
  size_t live = 0;                            // blocks handed out and not freed
};

// The pool exists while blocks do: made with the first block, deleted with
// its chunks when the last one is freed (every engine of the process gone,
// e.g. the plugin closed), so a process that unloads the plugin keeps nothing
// of it (LeakSanitizer would report what a static pointer of an unloaded
// library held). Both statics are trivially destructible: a block freed
// during static destruction still finds them.
std::mutex pool_mutex;
Pool* pool = nullptr;

void delete_pool() {
  for (void* c : pool->chunks) std::free(c);
  delete pool;
  pool = nullptr;
}

size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

void* allocate_block(size_t bytes) {
  bytes = rounded(bytes);
  if (bytes > kChunk / 4) return ::operator new(bytes);  // (not a small block: no reuse of a chunk)
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (!pool) pool = new Pool;
  Pool& p = *pool;
  auto it = p.free.find(bytes);
  if (it != p.free.end() && !it->second.empty()) {
    void* b = it->second.back();
    it->second.pop_back();
    ++p.live;
    return b;
  }
  if (p.left < bytes) {  // the rest of the chunk (less than a block) stays unused
    void* c = std::aligned_alloc(kChunk, kChunk);
    if (!c) throw std::bad_alloc();
    madvise(c, kChunk, MADV_HUGEPAGE);  // a hint: without THP the chunk is ordinary pages
    p.chunks.push_back(c);
    p.next = static_cast<char*>(c);
    p.left = kChunk;
  }
  void* b = p.next;
  p.next += bytes;
  p.left -= bytes;
  ++p.live;
  return b;
}

void free_block(void* b, size_t bytes) {
  bytes = rounded(bytes);
  if (bytes > kChunk / 4) {
    ::operator delete(b);
    return;
  }
  std::lock_guard<std::mutex> lock(pool_mutex);
  pool->free[bytes].push_back(b);
  if (--pool->live == 0) delete_pool();
}

}  // namespace weir::cep
