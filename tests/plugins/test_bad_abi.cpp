// test_bad_abi — a plugin that claims a future ABI major version; the host must refuse it.
#include <weir/abi.h>

extern "C" __attribute__((visibility("default"))) const weir_plugin* weir_plugin_entry() {
  static const weir_plugin d = {sizeof(weir_plugin), WEIR_ABI_MAJOR + 1, 7, "test_bad_abi", "9.9.9",
                                "claims ABI major+1", WEIR_SINK, 0, nullptr, 0, nullptr, 0, nullptr, 0, nullptr};
  return &d;
}
