// Where checkpoints live (see checkpoint.hpp for what they hold and when they
// are written). The node's `checkpoint` key chooses:
//   checkpoint = "rule-checkpoints"                      files: the embedded default for one
//                                                        machine (a shared directory works for
//                                                        several processes on it)
//   checkpoint = "kafka://127.0.0.1:9092/weir-checkpoints"  a compacted Kafka topic that every
//                                                        process reaches, so a process on another
//                                                        machine takes a partition over with its
//                                                        windows; records keyed
//                                                        "<pipeline>/<node>/<key>"
// A key is "" for a node's whole state, "partition-<P>" for a partition's.
// Used on the node's thread only.
#pragma once

#include "checkpoint_format.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weir {

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // Where KEY is kept, for messages: a file path, or topic and record key.
  virtual std::string where(const std::string& key) const = 0;
  // The newest checkpoint under KEY. Nothing with an empty ERROR when there is
  // none; nothing with ERROR when it cannot be read or is not a usable checkpoint.
  virtual std::optional<CheckpointData> read(const std::string& key, std::string& error) = 0;
  // Makes every item durable; false with ERROR if any failed.
  virtual bool write(const std::vector<std::pair<std::string, const CheckpointData*>>& items, std::string& error) = 0;
};

// "kafka://BROKERS/TOPIC" or a path. PIPELINE and NODE name the records in a
// shared topic. Null with ERROR when the spec is malformed or Kafka unusable.
std::unique_ptr<CheckpointStore> open_checkpoint_store(const std::string& spec, const std::string& pipeline,
                                                       const std::string& node, bool per_partition,
                                                       std::string& error);
bool is_kafka_checkpoint_spec(const std::string& spec);

}  // namespace weir
