#!/usr/bin/env bash
# Engine benchmark: generator -> passthrough -> null_sink with 100-byte records.
#  1. saturated: as fast as possible, records/s and peak RSS;
#  2. not saturated: 200k records/s in batches of 64, per-hop latency p50/p99
#     (time a batch waits in a queue before the next node takes it);
#  3. idle CPU: a pipeline at 1 record/s, and a node with two inputs, one of them ended.
# Usage: bench/engine/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
weir=$build/weir
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pipeline() {  # count rate batch_size
  cat <<TOML
[nodes.gen]
plugin = "generator"
count = $1
rate = $2
batch_size = $3
payload_bytes = 100
fields = false
[nodes.pass]
plugin = "passthrough"
inputs = ["gen.out"]
[nodes.sink]
plugin = "null_sink"
inputs = ["pass.out"]
TOML
}

field() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); n={x['name']:x for x in s['nodes']}; print(n[sys.argv[2]].get(sys.argv[3], 'n/a'))" "$@"; }

count=50000000
pipeline $count 0 1024 >"$work/fast.toml"
/usr/bin/time -f "%e %M" -o "$work/time" "$weir" run "$work/fast.toml" --no-progress --status-out "$work/fast.json" 2>/dev/null
read -r secs rss_kb <"$work/time"
rate=$(python3 -c "print(f'{$count/$secs/1e6:.2f}')")
echo "saturated: $count records in ${secs}s = ${rate}M records/s, peak RSS $((rss_kb / 1024)) MiB"

pipeline 2000000 200000 64 >"$work/slow.toml"
/usr/bin/time -f "%e %M" -o "$work/time" "$weir" run "$work/slow.toml" --no-progress --status-out "$work/slow.json" 2>/dev/null
read -r secs rss_kb <"$work/time"
echo "200k records/s: hop gen->pass p50 $(field "$work/slow.json" pass hop_p50_us) us, p99 $(field "$work/slow.json" pass hop_p99_us) us;" \
  "pass->sink p50 $(field "$work/slow.json" sink hop_p50_us) us, p99 $(field "$work/slow.json" sink hop_p99_us) us; peak RSS $((rss_kb / 1024)) MiB"

# An idle pipeline (one record per second) must not burn a core.
pipeline 0 1 1 >"$work/idle.toml"
/usr/bin/time -f "%U %S" -o "$work/time" "$weir" run "$work/idle.toml" --no-progress --duration 5 2>/dev/null
read -r user sys <"$work/time"
echo "idle (1 record/s for 5 s): CPU $(python3 -c "print(f'{($user+$sys)/5*100:.1f}')")% of one core"

# A node with two inputs, one ended at once, the other bringing 1 record/s: it must sleep
# between records, not spin (issue 20: it took a whole core until its other input ended).
cat >"$work/multi.toml" <<TOML
[nodes.quick]
plugin = "generator"
count = 1
[nodes.slow]
plugin = "generator"
rate = 1
[nodes.sink]
plugin = "null_sink"
inputs = ["quick.out", "slow.out"]
TOML
/usr/bin/time -f "%U %S" -o "$work/time" "$weir" run "$work/multi.toml" --no-progress --duration 5 \
  --status-out "$work/multi.json" 2>/dev/null
read -r user sys <"$work/time"
echo "idle multi-input node (one input ended, the other 1 record/s for 5 s): CPU" \
  "$(python3 -c "print(f'{($user+$sys)/5*100:.1f}')")% of one core, $(field "$work/multi.json" sink wakeups) wake-ups"
