#!/usr/bin/env bash
# Hot-swap benchmark: generator (full speed) -> passthrough -> null_sink.
# Swaps the passthrough N times between two copies of its library and reports
# the pause each swap caused on the node (p50/p99) and the throughput during
# the swaps next to a run without swaps, same duration, same machine.
# Usage: bench/hot_swap/run.sh [BUILD_DIR] [SWAPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
swaps=${2:-200}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$build/plugins/weir_passthrough.so" "$work/a.so"
cp "$build/plugins/weir_passthrough.so" "$work/b.so"
cat >"$work/p.toml" <<TOML
[nodes.gen]
plugin = "generator"
payload_bytes = 100
fields = false
[nodes.pass]
plugin = "passthrough"
inputs = ["gen.out"]
[nodes.sink]
plugin = "null_sink"
inputs = ["pass.out"]
TOML

run() {  # seconds, with_swaps -> prints records/s
  "$build/weir" run "$work/p.toml" --no-progress --metrics 127.0.0.1:0 --duration "$1" --status-out "$work/status.json" \
    2>"$work/err" &
  local pid=$! admin=""
  for _ in $(seq 100); do
    admin=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/err" | head -1 | cut -d/ -f3) && [[ -n "$admin" ]] && break
    sleep 0.05
  done
  if [[ "$2" == yes ]]; then
    for i in $(seq "$swaps"); do
      lib=$work/a.so; ((i % 2)) || lib=$work/b.so
      "$build/weir" ctl --admin "$admin" swap pass "$lib" | grep -o 'paused [0-9.]* ms' | cut -d' ' -f2 >>"$work/pauses"
    done
  fi
  wait $pid
  python3 -c "import json; s=json.load(open('$work/status.json')); print(int([n for n in s['nodes'] if n['name']=='sink'][0]['records_in']/float(s['uptime_s'])))"
}

secs=6
base=$(run $secs no)
with=$(run $secs yes)
python3 - "$work/pauses" "$base" "$with" "$swaps" <<'PY'
import sys
p = sorted(float(x) for x in open(sys.argv[1]))
base, with_swaps, n = int(sys.argv[2]), int(sys.argv[3]), len(p)
print(f"swaps: {n} of {sys.argv[4]} done; pause p50 {p[n//2]:.3f} ms, p99 {p[min(n-1, n*99//100)]:.3f} ms, max {p[-1]:.3f} ms")
print(f"throughput: {base/1e6:.2f}M records/s without swaps, {with_swaps/1e6:.2f}M records/s while swapping (ratio {with_swaps/base:.2f})")
PY
