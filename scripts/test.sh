#!/usr/bin/env bash
# Runs every test: unit tests, the runtime's unit tests again under
# AddressSanitizer+UBSan and ThreadSanitizer, then the integration and
# end-to-end tests against real Kafka, HBase and Redis started on loopback.
# Installs what is missing first, so it works on a fresh machine.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --quick    # unit tests only (no sanitizers, no servers)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=false
[[ "${1:-}" == "--quick" ]] && quick=true

step() { echo; echo "==> $*"; }

step "dependencies"
scripts/install-deps.sh

step "build"
scripts/build.sh

step "unit tests"
(cd build && ctest -L unit --output-on-failure -j2 --timeout 300)
$quick && exit 0

# The runtime is where the threads are: run its tests under both sanitizers.
for san in "address,undefined" thread; do
  dir=build-$(echo "$san" | cut -d, -f1)
  step "runtime unit tests under -fsanitize=$san"
  BUILD_DIR=$root/$dir WEIR_TARGETS="runtime_unit_test runtime_pipeline_test hot_swap_test http_test" scripts/build.sh -DWEIR_SANITIZE="$san" -DWEIR_BUILD_BENCH=OFF
  (cd "$dir" && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ASAN_OPTIONS="detect_leaks=1" \
    UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" ctest -L unit -R '^(AckTracker|EdgeQueue|Histogram|PipelineConfig|Pipeline|Validate|HotSwap|Checkpoint|HttpServer|HttpClient|HttpPipeline|PerPartition|Parallelism|PublishedState|Watermarks|Delivery|DriverTest)\.' \
    --output-on-failure -j2 --timeout 600)
done

# The parsers of user input (EPL rules, CSV lines) under libFuzzer, briefly.
step "fuzzing the EPL parser, the CSV decoder and the template language (libFuzzer, clang)"
BUILD_DIR=$root/build-fuzz WEIR_TARGETS="fuzz_cep_rule fuzz_csv_decode fuzz_template" scripts/build.sh \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DWEIR_FUZZ=ON -DWEIR_BUILD_BENCH=OFF
(cd build-fuzz && ctest -L fuzz --output-on-failure --timeout 600)

step "integration tests against real servers"
state=${WEIR_SERVICES_DIR:-$root/.services}
services=()
cleanup() { for s in "${services[@]}"; do scripts/services/$s.sh stop >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
for s in redis kafka hbase; do
  scripts/services/$s.sh start
  services+=("$s")
  # shellcheck disable=SC1090
  source "$state/$s.env"
done
# A master, a replica and a sentinel for the failover tests.
scripts/services/redis.sh sentinel-start
cleanup_sentinel() { scripts/services/redis.sh sentinel-stop >/dev/null 2>&1 || true; cleanup; }
trap cleanup_sentinel EXIT
source "$state/redis-sentinel.env"
(cd build && ctest -LE unit --output-on-failure --timeout 900)
