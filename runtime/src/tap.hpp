// `weir tap NODE[.PORT]`: a live sample of the records a port carries, as JSON
// lines (the same text file_sink writes), with a rate limit and a count.
//
// Cost when nobody taps: tap_observe() on the fan-out path reads one relaxed
// atomic (any tap open in the process?) and compares the port with the node's
// error port (error records are sampled for the console, a few a second).
// Only a tapped node goes further, and only then is anything serialized.
//
// A tap is opened, read and closed over the admin endpoint (admin.cpp):
//   POST /tap/open   node=NAME\nport=PORT\nrate=R\ncount=N\nmetadata=1 -> {"ok":true,"id":7}
//   POST /tap/read   id=7  -> {"ok":true,"records":["{...}",...],"dropped":0,"done":false,"finished":false}
//   POST /tap/close  id=7
// Records wait for their reader in a bounded buffer (kMaxBufferedBytes; past
// it they are counted as dropped, never block the node). A tap not read for
// kIdleCloseMs (its client went away) is closed.
#pragma once

#include "batch.hpp"
#include "engine.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace weir {

// Taps open in the process; the fan-out reads it relaxed: a tap opened a moment
// ago may miss the batch being emitted right now, nothing else.
extern std::atomic<int> g_open_taps;

// The slow path: a tap may be open on N, or B holds error records to sample.
void tap_offer(Node& n, int32_t port, const HostBatch& b);

// Called by the fan-out (emit_batch, host_forward) for every batch a port carries.
inline void tap_observe(Node& n, int32_t port, const HostBatch& b) {
  if (g_open_taps.load(std::memory_order_relaxed) != 0 || port == n.error_port) [[unlikely]]
    tap_offer(n, port, b);
}

struct TapRequest {
  std::string node, port;  // port "" = the node's first output
  double rate_per_s = 0;   // at most this many records a second (0 = every record)
  uint64_t count = 0;      // close after this many (0 = until closed)
  bool metadata = false;   // add _time, _partition, _offset (as file_sink's metadata = true)
};

struct TapOpened {
  uint64_t id = 0;    // 0: refused, see error
  std::string port;   // the port tapped
  std::string error;
};

struct TapRead {
  bool known = false;                // false: no such tap (closed, or idle too long)
  std::vector<std::string> records;  // JSON lines, in the order the port carried them
  uint64_t dropped = 0;              // records not kept since the last read (the reader was too slow)
  bool done = false;                 // COUNT records taken: nothing more will come
  bool finished = false;             // the node has finished: nothing more will come
};

constexpr size_t kMaxBufferedBytes = 4u << 20;
constexpr int64_t kIdleCloseMs = 15'000;

TapOpened tap_open(Engine& engine, const TapRequest& request);
TapRead tap_read(uint64_t id);
bool tap_close(uint64_t id);

}  // namespace weir
