// The Kafka checkpoint store (kafka_checkpoint_store.cpp): checkpoint = "kafka://BROKERS/TOPIC".
#pragma once

#include "checkpoint_store.hpp"

namespace weir {

// Creates TOPIC (compacted) if it is missing. Records are keyed PREFIX + key.
std::unique_ptr<CheckpointStore> open_kafka_checkpoint_store(const std::string& brokers, const std::string& topic,
                                                             const std::string& prefix, std::string& error);

}  // namespace weir
