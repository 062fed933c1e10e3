// test_pass — a pass-through operator compiled in several variants (see
// CMakeLists.txt) for hot-swap tests: another version, an open() that fails,
// an open() slower than the control timeout, different ports, and a stateful counter that must survive a swap (and, as
// test_partition_counter, one counter per source partition).
#include <weir/per_partition.hpp>
#include <weir/sdk.hpp>

#include <chrono>
#include <string>
#include <thread>

#ifndef TEST_PASS_VERSION
#define TEST_PASS_VERSION "1.0.0"
#endif
#ifndef TEST_PASS_OUTPUT
#define TEST_PASS_OUTPUT "out"
#endif

namespace {

const weir_port_spec kInputs[] = {{"in", "records"}};
const weir_port_spec kOutputs[] = {{TEST_PASS_OUTPUT, "the same records"}};

class TestPass : public weir::Plugin {
 public:
  TestPass(weir::Context ctx, const weir::Params&) : ctx_(ctx), out_(ctx.port(TEST_PASS_OUTPUT)) {}
  weir_status open() override {
#ifdef TEST_PASS_OPEN_FAILS
    throw std::runtime_error("this variant refuses to open");
#endif
#ifdef TEST_PASS_OPEN_DELAY_MS
    std::this_thread::sleep_for(std::chrono::milliseconds(TEST_PASS_OPEN_DELAY_MS));
#endif
    return WEIR_OK;
  }
#ifdef TEST_PASS_NEW_PORTS
  // Each reload names a new output port, asked for at the next batch (the
  // host adds it then, on the node's thread, as for cep_rule's @name).
  weir_status reload() override {
    ++reloads_;
    return WEIR_OK;
  }
#endif
  weir_status process(uint32_t, weir::Batch in) override {
#ifdef TEST_PASS_NEW_PORTS
    return ctx_.forward(ctx_.port(("p" + std::to_string(reloads_)).c_str()), in);
#endif
#ifdef TEST_PASS_COUNTER
    // Re-emits each record with n = how many records this node has seen, a
    // count that must carry over a swap through snapshot/restore.
    auto out = ctx_.batch(in.size());
    for (weir::Record r : in) {
      auto b = out.add();
      b.copy_meta(r);
      auto f = b.fields(static_cast<uint32_t>(r.fields().size()) + 1);
      for (size_t i = 0; i < r.fields().size(); ++i) f[i] = {r.fields()[i].name, b.own(r.fields()[i].value)};
      f.back() = {ctx_.name("n"), weir::int_value(++seen_)};
    }
    return ctx_.emit(out_, out);
#elif defined(TEST_PASS_DROP)
    // A filter: partition 1's records from seq 100 on are dropped (the runtime
    // passes their event time on as a watermark).
    auto out = ctx_.batch(in.size());
    size_t kept = 0;
    for (weir::Record r : in) {
      const weir_value* seq = r.field("seq");
      if (r.position().partition == 1 && seq && seq->as.i64 >= 100) continue;
      auto b = out.add();
      b.copy_meta(r);
      auto f = b.fields(static_cast<uint32_t>(r.fields().size()));
      for (size_t i = 0; i < r.fields().size(); ++i) f[i] = {r.fields()[i].name, b.own(r.fields()[i].value)};
      ++kept;
    }
    if (kept == 0) return WEIR_OK;  // nothing emitted: `out` got no batch for this input
    return ctx_.emit(out_, out);
#else
    return ctx_.forward(out_, in);
#endif
  }
  weir_status snapshot(std::string& out) override {
    out = std::to_string(seen_);
    return WEIR_OK;
  }
  weir_status restore(std::string_view state) override {
    seen_ = std::stoll(std::string(state));
    return WEIR_OK;
  }

 private:
  weir::Context ctx_;
  int32_t out_;
  int64_t seen_ = 0;
  int64_t reloads_ = 0;
};

}  // namespace

#ifdef TEST_PASS_PER_PARTITION
// One counter per partition: n = how many records of its partition were seen.
WEIR_PLUGIN(weir::PerPartition<TestPass>, (weir::PluginInfo{.name = "test_partition_counter", .version = TEST_PASS_VERSION,
                                        .description = "test: a record counter per source partition",
                                        .kind = WEIR_OPERATOR,
                                        .flags = WEIR_FLAG_STATEFUL | WEIR_FLAG_PARTITIONED,
                                        .inputs = kInputs, .outputs = kOutputs}))
#elif defined(TEST_PASS_NEW_PORTS)
WEIR_PLUGIN(TestPass, (weir::PluginInfo{.name = "test_new_ports", .version = TEST_PASS_VERSION,
                                        .description = "test: a new output port after each reload",
                                        .kind = WEIR_OPERATOR, .flags = WEIR_FLAG_DYNAMIC_OUTPUTS,
                                        .inputs = kInputs, .outputs = kOutputs}))
#elif defined(TEST_PASS_DROP)
WEIR_PLUGIN(TestPass, (weir::PluginInfo{.name = "test_drop", .version = TEST_PASS_VERSION,
                                        .description = "test: drops partition 1 from seq 100 on",
                                        .kind = WEIR_OPERATOR, .inputs = kInputs, .outputs = kOutputs}))
#else
WEIR_PLUGIN(TestPass, (weir::PluginInfo{.name = "test_pass", .version = TEST_PASS_VERSION,
                                        .description = "test: pass-through variants for hot swap",
                                        .kind = WEIR_OPERATOR,
#ifdef TEST_PASS_COUNTER
                                        .flags = WEIR_FLAG_STATEFUL,
#endif
                                        .inputs = kInputs, .outputs = kOutputs}))
#endif
