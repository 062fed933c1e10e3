// test_abi_1_0 — a sink built as a plugin of ABI 1.0 would be: its vtable
// struct ends at reload (1.1 appended the *_partition entries, 1.2
// on_watermark), and its struct_size says so. A newer host must load it and
// treat the missing entries as NULL (docs/abi.md, Loading). It counts what it
// is given in a gauge.
#include <weir/abi.h>

#include <cstddef>
#include <cstdint>

namespace {

// weir_plugin_vtable as ABI 1.0 defined it: nothing after reload.
struct vtable_1_0 {
  uint32_t struct_size;
  void* (*create)(const weir_host_api*, weir_node*, const weir_param_value*, uint32_t, char*, uint32_t);
  void (*destroy)(void*);
  int (*open)(void*);
  int (*close)(void*);
  int (*poll)(void*);
  int (*commit)(void*, const weir_position*, uint32_t);
  int (*process)(void*, uint32_t, const weir_batch*);
  int (*on_timer)(void*, int64_t);
  int (*flush)(void*);
  int (*write)(void*, const weir_batch*);
  int (*snapshot)(void*, weir_writer*);
  int (*restore)(void*, const void*, size_t);
  int (*reload)(void*, char*, uint32_t);
};
static_assert(sizeof(vtable_1_0) == offsetof(weir_plugin_vtable, reload) + sizeof(void*), "the 1.0 layout is a prefix of today's");

struct Sink {
  const weir_host_api* host;
  weir_node* node;
  double records = 0;
};

void* create(const weir_host_api* host, weir_node* node, const weir_param_value*, uint32_t, char*, uint32_t) {
  return new Sink{host, node};
}
void destroy(void* self) { delete static_cast<Sink*>(self); }
int write(void* self, const weir_batch* batch) {
  auto* s = static_cast<Sink*>(self);
  s->records += batch->count;
  s->host->gauge(s->node, "abi_1_0_records", "", s->records);
  return WEIR_OK;
}

const weir_port_spec kInputs[] = {{"in", "records, counted"}};
const vtable_1_0 kVtable = {sizeof(vtable_1_0), create, destroy, nullptr, nullptr, nullptr, nullptr, nullptr,
                            nullptr,            nullptr, write,  nullptr, nullptr, nullptr};
const weir_plugin kDescriptor = {sizeof(weir_plugin), 1, 0, "test_abi_1_0", "1.0.0", "test: a sink built against ABI 1.0",
                                 WEIR_SINK, 0, kInputs, 1, nullptr, 0, nullptr, 0,
                                 reinterpret_cast<const weir_plugin_vtable*>(&kVtable)};

}  // namespace

extern "C" __attribute__((visibility("default"))) const weir_plugin* weir_plugin_entry() { return &kDescriptor; }
