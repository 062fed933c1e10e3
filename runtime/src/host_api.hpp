// The weir_host_api function table handed to every plugin instance.
#pragma once

#include <weir/abi.h>

namespace weir {
const weir_host_api& host_api();
}
