// test_wrong_thread — an operator that, at its first batch, calls one host
// function that abi.h reserves for the node's own thread (parameter `call`)
// from a thread of its own, logs what it returned, and then passes its input
// on as usual. For the tests of the host's thread rules.
#include <weir/sdk.hpp>

#include <string>
#include <thread>

namespace {

const weir_port_spec kInputs[] = {{"in", "records"}};
const weir_port_spec kOutputs[] = {{"out", "the same records"}};
const weir_param_spec kParams[] = {
    {"call", WEIR_PARAM_STRING, nullptr, 1, nullptr,
     "output_port, emit, forward, error, error_n, set_timer, hold, release, partitions_assigned or partitions_revoked"},
};

class TestWrongThread : public weir::Plugin {
 public:
  TestWrongThread(weir::Context ctx, const weir::Params& p) : ctx_(ctx), out_(ctx.port("out")), call_(p.str("call")) {}

  weir_status process(uint32_t, weir::Batch in) override {
    if (!called_ && !in.empty()) {
      called_ = true;
      // Joined at once: nothing runs at the same time, only the thread is wrong.
      std::thread([&] { ctx_.info("from another thread: " + call_ + " -> " + std::to_string(call(in))); }).join();
    }
    return ctx_.forward(out_, in);
  }

 private:
  int64_t call(weir::Batch in) {
    const weir_host_api* h = ctx_.host();
    weir_node* n = ctx_.node();
    int32_t partition = 0;
    if (call_ == "output_port") return h->output_port(n, "out");
    if (call_ == "emit") {
      weir::BatchBuilder b = ctx_.batch(1);
      b.add().copy_meta(in[0]);
      return ctx_.emit(out_, b);
    }
    if (call_ == "forward") return h->forward(n, out_, in.raw());
    if (call_ == "error") h->error(n, in[0].raw(), "from another thread");
    if (call_ == "error_n") h->error_n(n, in[0].raw(), "from another thread", 19);
    if (call_ == "set_timer") h->set_timer(n, 10);
    if (call_ == "hold") return static_cast<int64_t>(h->hold(n));
    if (call_ == "release") h->release(n, 1);
    if (call_ == "partitions_assigned") h->partitions_assigned(n, &partition, 1);
    if (call_ == "partitions_revoked") h->partitions_revoked(n, &partition, 1, 0);
    return 0;
  }

  weir::Context ctx_;
  int32_t out_;
  std::string call_;
  bool called_ = false;
};

}  // namespace

WEIR_PLUGIN(TestWrongThread, (weir::PluginInfo{.name = "test_wrong_thread", .version = "1.0.0",
                                               .description = "test: calls a node-thread host function from another thread",
                                               .kind = WEIR_OPERATOR, .inputs = kInputs, .outputs = kOutputs, .params = kParams}))
