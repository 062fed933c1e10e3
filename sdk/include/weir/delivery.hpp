// The delivery policy of a sink, as parameters a sink's table includes.
//
// The host owns delivery (abi.h, "a sink in two steps"): it gathers batches,
// limits what is in flight and retries with one backoff. These are the
// parameters users set it with; a sink lists them after its own:
//
//   constexpr weir_param_spec kOwn[] = {{"endpoint", ...}, ...};
//   constexpr auto kParams = weir::with_delivery_params(kOwn);
//
// Their defaults live here, once; the host reads them by name.
#pragma once

#include <weir/abi.h>

#include <array>
#include <cstddef>
#include <string_view>

namespace weir {

inline constexpr weir_param_spec kDeliveryParams[] = {
    {"batch_max_records", WEIR_PARAM_INT, "1000", 0, "records",
     "a request holds at most this many records (input batches are gathered up to it; a larger one goes alone)"},
    {"batch_max_bytes", WEIR_PARAM_INT, "4194304", 0, "bytes", "... and at most about this many bytes of record data"},
    {"batch_linger_ms", WEIR_PARAM_INT, "0", 0, "ms",
     "how long to wait for more input to fill a request; 0 = send what has come at once"},
    {"max_in_flight", WEIR_PARAM_INT, "1", 0, "requests",
     "requests sent and not yet answered (>1 may store records out of order)"},
    {"retry_initial_ms", WEIR_PARAM_INT, "100", 0, "ms", "wait before the first retry of a failed request"},
    {"retry_max_ms", WEIR_PARAM_INT, "10000", 0, "ms", "longest wait between two attempts"},
    {"retry_multiplier", WEIR_PARAM_DOUBLE, "2.0", 0, nullptr, "each wait is the previous one times this"},
    {"retry_jitter", WEIR_PARAM_DOUBLE, "0.2", 0, nullptr,
     "each wait is moved by up to this fraction of it, at random (0..1), so many writers do not retry in step"},
    {"retry_max_attempts", WEIR_PARAM_INT, "0", 0, "attempts",
     "give up after this many attempts: the records go to the error port; 0 = never (backpressure)"},
};

// OWN followed by kDeliveryParams, as one array for PluginInfo::params.
template <size_t N>
constexpr auto with_delivery_params(const weir_param_spec (&own)[N]) {
  constexpr size_t M = sizeof kDeliveryParams / sizeof kDeliveryParams[0];
  std::array<weir_param_spec, N + M> all{};
  for (size_t i = 0; i < N; ++i) all[i] = own[i];
  for (size_t i = 0; i < M; ++i) all[N + i] = kDeliveryParams[i];
  return all;
}

// A sink whose natural default differs (kafka_sink: librdkafka pipelines many
// requests, so max_in_flight = 32) names it here, still in its descriptor:
//   constexpr auto kParams = weir::with_delivery_params(kOwn, {{"max_in_flight", "32"}});
struct DefaultOverride {
  const char* name;
  const char* default_value;  // TOML literal text
};

template <size_t N, size_t K>
constexpr auto with_delivery_params(const weir_param_spec (&own)[N], const DefaultOverride (&defaults)[K]) {
  auto all = with_delivery_params(own);
  for (auto& spec : all)
    for (size_t k = 0; k < K; ++k)
      if (std::string_view(spec.name) == defaults[k].name) spec.default_value = defaults[k].default_value;
  return all;
}

}  // namespace weir
