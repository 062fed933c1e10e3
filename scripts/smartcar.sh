#!/usr/bin/env bash
# The main job: everything the smart-car flow needs, from a fresh machine.
#  1. installs missing packages and builds weir;
#  2. starts Redis, Kafka and HBase (+ Thrift2) on loopback and creates the topic and table;
#  3. generates the driving logs of 100 cars (one line per car per second, like the
#     original `DriverLogMain <date> 100`) into log files, and collects them into Kafka
#     (pipelines/smartcar-collect.toml, the Flume leg): generator -> log files -> collect -> Kafka;
#  4. runs pipelines/smartcar.toml with live progress until the duration ends or Ctrl-C;
#  5. prints a summary: rows in HBase, flagged cars in Redis, rejected lines.
# The services keep running afterwards so you can query them; the script says how to stop them.
#
#   scripts/smartcar.sh [--duration SECONDS] [--cars N] [--date yyyyMMdd] [--fast] [--direct]
#     --duration  how long the pipeline runs (default 120; the rule needs 30 s windows)
#     --fast      generate the logs as fast as possible instead of in real time
#     --direct    skip the log files: the generator writes into Kafka itself
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=120 cars=100 date=$(date -u +%Y%m%d) rate="" direct=false
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --cars) cars=$2; shift 2 ;;
    --date) date=$2; shift 2 ;;
    --fast) rate=0; shift ;;
    --direct) direct=true; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "smartcar.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
done
rate=${rate:-$cars}   # real time: each car sends one line per second

step() { echo; echo "==> $*"; }

step "dependencies and build"
scripts/install-deps.sh
scripts/build.sh

step "local services"
for s in redis kafka hbase; do
  scripts/services/$s.sh start
  # shellcheck disable=SC1090
  source ".services/$s.env"
done
scripts/services/kafka.sh topic SmartCar-Topic 4
scripts/services/hbase.sh create-table DriverCarInfo 2

work=$root/.services/smartcar
mkdir -p "$work"
export SMARTCAR_REJECTS=$work/rejects.jsonl
# The rule's checkpoint goes with the Kafka data it refers to (kafka.sh stop removes both).
export SMARTCAR_CHECKPOINT=${WEIR_SERVICES_DIR:-$root/.services}/kafka/smartcar-rule-checkpoints
: >"$SMARTCAR_REJECTS"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
if $direct; then
  step "generating the driving logs of $cars cars for $date into Kafka ($([[ $rate == 0 ]] && echo 'as fast as possible' || echo "$rate lines/s"))"
  build/weir run pipelines/smartcar-loggen.toml --no-progress \
    --set cars.date="\"$date\"" --set cars.cars="$cars" --set cars.rate="$rate" --set cars.seconds="$((duration + 60))" \
    2>"$work/loggen.log" &
  pids+=($!)
else
  # The original flow: DriverLogMain -> SmartCarDriverInfo.log -> Flume -> Kafka. A fresh
  # log directory each run (its positions file goes with it).
  export WEIR_LOG_DIR=$work/driver-realtime-log
  rm -rf "$WEIR_LOG_DIR"
  step "generating the driving logs of $cars cars for $date into $WEIR_LOG_DIR/SmartCarDriverInfo.log ($([[ $rate == 0 ]] && echo 'as fast as possible' || echo "$rate lines/s"); tail -f it)"
  build/weir-loggen "$date" "$cars" --headers --rate "$rate" --seconds "$((duration + 60))" \
    --output "$WEIR_LOG_DIR" --rotate-bytes $((16 << 20)) --keep 8 2>"$work/loggen.log" &
  pids+=($!)
  step "collecting the log files into Kafka (pipelines/smartcar-collect.toml: lines starting with 14 digits, keyed by car)"
  build/weir run pipelines/smartcar-collect.toml --no-progress 2>"$work/collect.log" &
  pids+=($!)
fi

step "running pipelines/smartcar.toml for ${duration}s (Ctrl-C stops it cleanly; metrics on http://127.0.0.1:9464/metrics)"
build/weir run pipelines/smartcar.toml --progress --progress-interval 5 --duration "$duration" \
  --metrics 127.0.0.1:9464 --status-out "$work/status.json" || true
kill -INT "${pids[@]}" 2>/dev/null || true   # the collector saves its positions as it stops
wait "${pids[@]}" 2>/dev/null || true

step "summary"
echo "rows in HBase table DriverCarInfo: $(build/weir-hbase scan --table DriverCarInfo --count 2>/dev/null || echo '?')"
echo "over-speed cars in Redis for $date (weir-overspeed $date):"
build/weir-overspeed "$date" --endpoint "$REDIS_HOST:$REDIS_PORT" | tail -n 15
echo "rejected lines (decode or sink errors): $(wc -l <"$SMARTCAR_REJECTS") in $SMARTCAR_REJECTS"
cat <<EOF2

Query the results:
  source .services/hbase.env; source .services/redis.env
  build/weir-hbase scan --table DriverCarInfo --where area_number=F06 --limit 10
  build/weir-hbase scan --table DriverCarInfo --where car_number=... --where speed>80
  build/weir-hbase put  --table DriverCarInfo ROWKEY cf1:speed=90      # correct a column
  build/weir-overspeed $date --endpoint $REDIS_HOST:$REDIS_PORT
Change the rule: edit rules/overspeed.epl (threshold 80 -> 100); a running pipeline reloads it.
Stop the services:
  scripts/services/kafka.sh stop; scripts/services/hbase.sh stop; scripts/services/redis.sh stop
EOF2
