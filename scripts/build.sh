#!/usr/bin/env bash
# Configures and builds weir into BUILD_DIR (default build/). Extra arguments go to CMake.
#   scripts/build.sh                      # RelWithDebInfo in build/
#   BUILD_DIR=build-tsan scripts/build.sh -DWEIR_SANITIZE=thread
#   WEIR_TARGETS="weir runtime_unit_test" scripts/build.sh   # only these targets
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=${WEIR_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# Quiet progress lines; pipefail keeps ninja's exit status.
ninja -C "$build" -j "$jobs" ${WEIR_TARGETS:-} | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; }
