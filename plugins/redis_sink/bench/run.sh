#!/usr/bin/env bash
# redis_sink throughput next to redis-benchmark, on one private redis-server in one run.
#   plugins/redis_sink/bench/run.sh [BUILD_DIR]      (default: build; needs weir + its plugins built)
# Env: RECORDS (default 1000000; each record is 2 commands), ROUNDS (default 3), PIPELINE_MAX (4096).
# Per round: redis-benchmark -P 16 -t sadd -n 2*RECORDS, then generator -> redis_sink with
# SADD bench:{key} {seq} + EXPIRE bench:{key} 600. Prints commands/s of each, the medians and the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
records=${RECORDS:-1000000}
rounds=${ROUNDS:-3}
pipeline_max=${PIPELINE_MAX:-4096}
commands=$((records * 2))
for tool in redis-server redis-cli redis-benchmark; do
  command -v $tool >/dev/null || { echo "run.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x $build/weir && -f $build/plugins/weir_redis_sink.so ]] || { echo "run.sh: build weir and weir_redis_sink in $build first" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$work" --daemonize no \
  --logfile "$work/redis.log" </dev/null >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] && break; sleep 0.1; done

cat >"$work/bench.toml" <<EOF
[nodes.gen]
plugin = "generator"
count = $records
keys = 16
payload_bytes = 0

[nodes.redis]
plugin = "redis_sink"
inputs = ["gen"]
endpoint = "127.0.0.1:$port"
commands = ["SADD bench:{key} {seq}", "EXPIRE bench:{key} 600"]
pipeline_max = $pipeline_max
EOF

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
bench_rates=() weir_rates=()
for round in $(seq "$rounds"); do
  redis-cli -p "$port" flushall >/dev/null
  # "SADD: 1234567.00 requests per second, p50=0.503 msec"
  rb=$(redis-benchmark -h 127.0.0.1 -p "$port" -P 16 -t sadd -n "$commands" -q 2>/dev/null | tr '\r' '\n' |
    grep -o 'SADD: [0-9.]* requests per second' | tail -1 | awk '{print $2}')
  redis-cli -p "$port" flushall >/dev/null
  t0=$(date +%s.%N)
  "$build/weir" run "$work/bench.toml" 2>"$work/weir.log" || { cat "$work/weir.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  stored=0
  for k in $(seq 0 15); do stored=$((stored + $(redis-cli -p "$port" scard "bench:k$k"))); done
  [[ $stored == "$records" ]] || { echo "run.sh: $stored members stored, expected $records" >&2; cat "$work/weir.log" >&2; exit 1; }
  wr=$(awk -v n="$commands" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
  printf 'round %d: redis-benchmark -P 16 SADD %12.0f commands/s   weir redis_sink %12.0f commands/s (%.2f s)\n' \
    "$round" "$rb" "$wr" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
  bench_rates+=("$rb") weir_rates+=("$wr")
done
rb=$(printf '%s\n' "${bench_rates[@]}" | median)
wr=$(printf '%s\n' "${weir_rates[@]}" | median)
echo "records $records (commands $commands), pipeline_max $pipeline_max, $(nproc) cpus, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
printf 'median: redis-benchmark %.0f commands/s, redis_sink %.0f commands/s, ratio %.0f%% (target >= 70%%)\n' \
  "$rb" "$wr" "$(awk -v a="$wr" -v b="$rb" 'BEGIN {print 100 * a / b}')"
