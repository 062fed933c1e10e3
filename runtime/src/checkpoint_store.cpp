#include "checkpoint_store.hpp"

#include "kafka_checkpoint_store.hpp"

#include <filesystem>

namespace weir {

namespace {

// One file per key: PATH itself for a node's whole state, PATH/<key>.ckpt per partition.
class FileStore : public CheckpointStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}
  std::string where(const std::string& key) const override {
    return key.empty() ? path_ : (std::filesystem::path(path_) / (key + ".ckpt")).string();
  }
  std::optional<CheckpointData> read(const std::string& key, std::string& error) override {
    return read_checkpoint(where(key), error);
  }
  bool write(const std::vector<std::pair<std::string, const CheckpointData*>>& items, std::string& error) override {
    for (const auto& [key, data] : items)
      if (!write_checkpoint(where(key), *data, error)) return false;
    return true;
  }

 private:
  std::string path_;
};

}  // namespace

bool is_kafka_checkpoint_spec(const std::string& spec) { return spec.rfind("kafka://", 0) == 0; }

std::unique_ptr<CheckpointStore> open_checkpoint_store(const std::string& spec, const std::string& pipeline,
                                                       const std::string& node, bool, std::string& error) {
  error.clear();
  if (!is_kafka_checkpoint_spec(spec)) return std::make_unique<FileStore>(spec);
  std::string rest = spec.substr(8);
  size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
    error = "checkpoint '" + spec + "' must be kafka://BROKERS/TOPIC, e.g. kafka://127.0.0.1:9092/weir-checkpoints";
    return nullptr;
  }
  return open_kafka_checkpoint_store(rest.substr(0, slash), rest.substr(slash + 1), pipeline + "/" + node + "/", error);
}

}  // namespace weir
