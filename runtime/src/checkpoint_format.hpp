// A checkpoint as bytes: a text header a person can read with `head`, then the
// state. The same bytes go into a file or a Kafka record (checkpoint_store.hpp).
//   weir-checkpoint 1
//   plugin cep_rule
//   position 0 41234                   (highest offset in the state, per partition)
//   watermark 0 1650953400000000000    (event time per partition, ns; optional)
//   checksum 9c1185a5c5e9fc54          (FNV-1a 64 of every byte above and of the state)
//   state 5120
//   <5120 bytes>
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace weir {

struct CheckpointData {
  std::string plugin;                     // whose state this is
  std::map<int32_t, int64_t> positions;   // highest source offset per partition the state covers
  std::map<int32_t, int64_t> watermarks;  // event-time watermark per partition (ns) when it was taken
  std::string state;                      // the plugin's snapshot() (or snapshot_partition())
};

std::string serialize_checkpoint(const CheckpointData& data);
// NAME (a path, a topic/key) is for the message: nothing with ERROR =
// "NAME: not a usable checkpoint (why); move it away ..." when BYTES are not one
// (a checksum that does not match included; a checkpoint without a checksum
// line, as weir wrote before it had one, is accepted).
std::optional<CheckpointData> parse_checkpoint(std::string_view bytes, const std::string& name, std::string& error);

// Nothing (and an empty ERROR) when PATH does not exist; nothing with ERROR
// when it cannot be read or is not a checkpoint.
std::optional<CheckpointData> read_checkpoint(const std::string& path, std::string& error);
// Replaces PATH atomically: a temporary file, fsync, rename, fsync of the
// directory. A failed write leaves the previous file and no temporary file.
bool write_checkpoint(const std::string& path, const CheckpointData& data, std::string& error);

}  // namespace weir
