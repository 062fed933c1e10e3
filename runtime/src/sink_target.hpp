// The engine's SinkTarget: a sink node's plugin, as the SinkDriver sees it.
// A plugin with encode()/send() (ABI 1.3) is called as such; one with only
// write() is a sink whose request is its batch, written whole.
#pragma once

#include "sink_driver.hpp"

namespace weir {

struct Node;

class PluginSinkTarget : public SinkTarget {
 public:
  explicit PluginSinkTarget(Node& n) : n_(n) {}
  bool encode(HostBatch* batch, void*& request) override;
  int send(HostBatch* batch, void* request, std::string& reason) override;
  void free_request(void* request) override;
  void stored(HostBatch* batch, const std::vector<SentReject>& rejects) override;
  void gave_up(HostBatch* batch, const std::string& reason) override;
  void log(int level, const std::string& message) override;

 private:
  Node& n_;
};

}  // namespace weir
