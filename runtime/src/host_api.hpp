// The weir_host_api function table handed to every plugin instance.
#pragma once

#include <weir/abi.h>

#include <string_view>

namespace weir {

struct Node;

const weir_host_api& host_api();
// A copy of RECORD for N's error port, with REASON and the node's name (host->error).
void add_error(Node& n, const weir_record* record, std::string_view reason);

}  // namespace weir
