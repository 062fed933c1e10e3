// Memory for the event stores' blocks (window.hpp), carved from 2 MiB chunks
// the kernel may back with transparent huge pages (madvise MADV_HUGEPAGE;
// with the system default "madvise", malloc's heap stays on 4 KiB pages).
//
// Why: a keyed context keeps a statement instance per key, each with its own
// small blocks (10 000 cars: ~50 MB of rows), and every event writes a row of
// another instance. With 4 KiB pages nearly every such write also misses the
// TLB; on the benchmark machine (a VM, whose page walks are two-level) huge
// pages cut cep_bench's CPU time on the keyed-context rule from 0.88 s to
// 0.73 s (4 runs each, alternated). A large batch (the smart-car rule: 300 000
// rows, 45 MB, written and then read again in order) faults in 2 MiB at a time
// instead of 4 KiB: cep_bench rules/overspeed.epl 1200 10000 went from
// 2.10 / 2.39 s to 1.91 / 1.97 s (0.40-0.45 s to 0.34-0.36 s user on 300 s).
//
// Freed blocks go to a free list by size and are reused (as EventStore keeps
// its emptied blocks); the chunks go back to the system only when no block
// is left at all (every engine of the process destroyed). Thread-safe: engines
// run on several threads (one per plugin instance); allocation is rare (a
// store reuses its own emptied blocks first).
#pragma once

#include <cstddef>

namespace weir::cep {

void* allocate_block(size_t bytes);
void free_block(void* p, size_t bytes);

}  // namespace weir::cep
