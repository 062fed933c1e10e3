#!/usr/bin/env bash
# End-to-end benchmark of the smart-car flow with all servers local (issue 7):
# CARS x SECONDS driving-log lines are produced into a fresh 4-partition topic first,
# then pipelines/smartcar.toml reads them to the end (kafka_source end_at_eof) into a
# fresh HBase table and Redis database. Reports records/s from Kafka to both sinks
# acknowledged, weir's peak RSS, per-node batch and queue latencies, and each
# server's CPU time during the run (to say which one is the limit), and weir's CPU per
# thread and per record (bench/thread_cpu.py).
# The same records are read four times, side by side: with the rule's checkpoint (as
# shipped) and without it, in ABBA order, to show what checkpointing the windows costs.
# Usage: bench/smartcar/run.sh [CARS] [SECONDS]     (default 1000 cars x 300 s = 300 000 records)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cars=${1:-1000} seconds=${2:-300}
state=${WEIR_SERVICES_DIR:-$root/.services}
for s in redis kafka hbase; do scripts/services/$s.sh start >/dev/null; source "$state/$s.env"; done
tag=$$ work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topic=SmartCar-Bench-$tag table=DriverCarInfoBench$tag total=$((cars * seconds))
scripts/services/kafka.sh topic "$topic" 4 >/dev/null
build/weir run pipelines/smartcar-loggen.toml --no-progress --set cars.cars="$cars" --set cars.seconds="$seconds" \
  --set cars.rate=0 --set kafka.topic="\"$topic\"" 2>/dev/null

cpu() { ps -o times= -p "$1" 2>/dev/null | tr -d ' ' || echo 0; }  # seconds of CPU so far
kafka_pid=$(cat "$state/kafka.pid") hbase_pid=$(cat "$state/hbase-master.pid") thrift_pid=$(cat "$state/hbase-thrift.pid")
redis_pid=$(cat "$state/redis.pid")

# One full read of the topic by a new consumer group into a new table.
# MODE: "checkpoint" (the rule saves its state every second, as shipped) or "none".
runs=0
run_once() {
  local mode=$1 checkpoint="" group=bench-$tag-$((++runs))
  [[ $mode == checkpoint ]] && checkpoint=$work/$group-checkpoints
  redis-cli -p "$REDIS_PORT" -n 10 flushdb >/dev/null
  local before after wall rss_kb user sys rows
  before="$(cpu "$kafka_pid") $(cpu "$hbase_pid") $(cpu "$thrift_pid") $(cpu "$redis_pid")"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" build/weir run pipelines/smartcar.toml --no-progress \
    --set kafka.topics="[\"$topic\"]" --set kafka.group_id="\"$group\"" --set kafka.end_at_eof=true \
    --set hbase.table="\"$table$runs\"" --set redis.database=10 --set rule.evaluate_on_flush=true \
    --set rule.checkpoint="\"$checkpoint\"" \
    --set rejects.path="\"$work/rejects.jsonl\"" --status-out "$work/status.json" 2>"$work/err" &
  local timer=$!
  sleep 0.1
  # CPU per weir thread (node threads are named w:<node>), sampled until weir exits.
  python3 bench/thread_cpu.py "$(pgrep -P "$timer" | head -1)" "$total" >"$work/threads" &
  local sampler=$!
  wait "$timer"
  wait "$sampler"
  after="$(cpu "$kafka_pid") $(cpu "$hbase_pid") $(cpu "$thrift_pid") $(cpu "$redis_pid")"
  read -r wall rss_kb user sys <"$work/time"
  rows=$(build/weir-hbase scan --table "$table$runs" --count)
  # Tables left behind keep HBase flushing and compacting them during later runs.
  build/weir-hbase drop-table --table "$table$runs" >/dev/null
  local ckpt_bytes=0
  [[ -n $checkpoint && -d $checkpoint ]] && ckpt_bytes=$(du -sb "$checkpoint" | cut -f1)  # one file per partition
  python3 - "$work/status.json" "$total" "$wall" "$rss_kb" "$user" "$sys" "$rows" "$before" "$after" "$mode" "$ckpt_bytes" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); total, wall = int(sys.argv[2]), float(sys.argv[3])
rss, user, sys_cpu, rows = int(sys.argv[4]) // 1024, float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
before, after = [float(x) for x in sys.argv[8].split()], [float(x) for x in sys.argv[9].split()]
mode, ckpt = sys.argv[10], int(sys.argv[11])
print(f"[rule checkpoint: {mode}] {total} records, Kafka -> csv_decode -> HBase + cep_rule -> Redis, "
      f"all acknowledged: {wall:.1f} s wall" + (f" (last checkpoints {ckpt // 1024} KiB)" if ckpt else ""))
print(f"  rate {total / wall:,.0f} records/s (whole run, start-up and group join included)")
print(f"  HBase rows {rows} (expected {total}); weir peak RSS {rss} MiB; weir CPU {user + sys_cpu:.1f} s")
for n in s["nodes"]:
    print(f"  {n['name']:8} in {n['records_in']:>8} out {n['records_out']:>8} err {n['records_error']:>4}  "
          f"batch p50/p99 {n['batch_p50_us']:.0f}/{n['batch_p99_us']:.0f} us  queue wait p50/p99 {n['hop_p50_us']:.0f}/{n['hop_p99_us']:.0f} us")
names = ["kafka", "hbase (master+regionserver)", "hbase thrift2 gateway", "redis"]
print("  server CPU during the run: " + ", ".join(f"{n} {a - b:.1f} s" for n, a, b in zip(names, after, before)))
PY
  cat "$work/threads"
  echo "$wall" >>"$work/wall.$mode"
}

# ABBA order: each run leaves HBase flushing and compacting what it wrote, which
# slows the next one; alternating cancels that out of the ratio.
run_once none
run_once checkpoint
run_once checkpoint
run_once none
python3 - "$work/wall.checkpoint" "$work/wall.none" <<'PY'
import sys
with_ckpt, without = (sum(float(x) for x in open(f)) for f in sys.argv[1:3])
print(f"rate with the rule's checkpoint / without (ABBA, total wall times): {without / with_ckpt:.2f}")
PY
