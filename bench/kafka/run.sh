#!/usr/bin/env bash
# Kafka throughput: weir's kafka_sink / kafka_source next to the raw clients, same broker, same run.
#
#   bench/kafka/run.sh [BUILD_DIR] [RECORDS]        (defaults: build-kafka, 1000000)
#
# Needs a broker: KAFKA_BOOTSTRAP, or the one of scripts/services/kafka.sh (started if needed).
# Compares, with the same record count, record size (~36 B, the smart-car line) and producer
# settings (idempotent, acks=all, linger.ms=5, batch.size=1000000, no compression):
#   produce: weir loggen -> kafka_sink   vs  rdkafka_performance -P   vs  Java ProducerPerformance
#   consume: weir kafka_source -> null_sink vs rdkafka_performance -G vs Java ConsumerPerformance
# rdkafka_performance is built from the example source Debian ships in librdkafka-dev's docs
# (with a shim for the two internal headers it includes). The Java tools come from the Kafka jars
# that kafka.sh fetched. Results (markdown) go to stdout and bench/kafka/RESULTS.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$ROOT/build-kafka}"
N="${2:-1000000}"
REPS="${REPS:-2}"
WEIR="$BUILD/weir"
[[ -x "$WEIR" && -f "$BUILD/plugins/weir_kafka_sink.so" && -f "$BUILD/plugins/weir_kafka_source.so" ]] ||
  { echo "build weir, weir-loggen and the plugins first: ninja -C $BUILD weir weir-loggen weir_loggen weir_kafka_sink weir_kafka_source weir_null_sink" >&2; exit 1; }

if [[ -z "${KAFKA_BOOTSTRAP:-}" ]]; then
  "$ROOT/scripts/services/kafka.sh" start >&2
  source "$ROOT/.services/kafka.env"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/weir-kafka-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# rdkafka_performance from Debian's example source.
EX=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
RDKPERF=""
if [[ -f "$EX" ]]; then
  mkdir -p "$WORK/rdk/examples" "$WORK/rdk/src"
  cp "$EX" "$WORK/rdk/examples/"
  cp "$HERE"/rdkafka_shim/*.h "$WORK/rdk/src/"
  cc -O2 -w -D_GNU_SOURCE -I"$WORK/rdk/src" -I"$(pkg-config --variable=includedir rdkafka)/librdkafka" "$WORK/rdk/examples/rdkafka_performance.c" \
    -o "$WORK/rdkafka_performance" $(pkg-config --libs rdkafka) -lm && RDKPERF="$WORK/rdkafka_performance"
fi
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
JARS="${WEIR_CACHE:-$HOME/.cache/weir}/kafka-$KAFKA_VERSION/libs"
JAVA_OK=""
[[ -d "$JARS" ]] && command -v java >/dev/null && JAVA_OK=1

CARS=1000
SECONDS_SIM=$(( (N + CARS - 1) / CARS ))
N=$(( CARS * SECONDS_SIM ))
BYTES=$("$BUILD/weir-loggen" 20220426 $CARS --seconds $SECONDS_SIM | wc -c)
BYTES=$(( BYTES - N ))   # without the newlines
SIZE=$(( BYTES / N ))    # average record size, for the raw clients

topic() {  # create a 4-partition topic with the broker's own tool
  local t=$1
  if [[ -n "$JAVA_OK" ]]; then
    java -Xmx256m -cp "$JARS/*" -Dlog4j.configuration=file:/dev/null org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists --topic "$t" --partitions 4 --replication-factor 1 >/dev/null 2>&1
  fi
}
now() { date +%s.%N; }
# rate RECORDS BYTES START END -> "records/s | MB/s | seconds"
rate() { python3 -c "import sys; n,b,s,e=map(float,sys.argv[1:]); t=e-s; print(f'{n/t:,.0f} | {b/t/1e6:.1f} | {t:.2f}')" "$@"; }

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 |"); echo "  $1: $3" >&2; }

PRODUCER_PROPS="linger.ms=5 batch.size=1000000 compression.codec=none"
for rep in $(seq 1 "$REPS"); do
  tag="$$-$rep"
  # ---- produce
  t="bench-weir-p-$tag"; topic "$t"
  cat >"$WORK/produce.toml" <<EOF
[nodes.cars]
plugin = "loggen"
date = "20220426"
cars = $CARS
seconds = $SECONDS_SIM
[nodes.kafka]
plugin = "kafka_sink"
inputs = ["cars"]
endpoints = "$KAFKA_BOOTSTRAP"
topic = "$t"
linger_ms = 5
batch_bytes = 1000000
compression = "none"
EOF
  s=$(now); "$WEIR" run "$WORK/produce.toml" --no-progress 2>"$WORK/weir-p.log"; e=$(now)
  row "produce: weir loggen -> kafka_sink (run $rep)" "$(rate $N $BYTES $s $e)" "$(tail -1 "$WORK/weir-p.log")"

  if [[ -n "$RDKPERF" ]]; then
    t="bench-rdk-p-$tag"; topic "$t"
    s=$(now)
    out=$("$RDKPERF" -P -t "$t" -b "$KAFKA_BOOTSTRAP" -s $SIZE -c $N -a -1 -X enable.idempotence=true \
          -X linger.ms=5 -X batch.size=1000000 -q 2>&1 | tail -1); e=$(now)
    row "produce: rdkafka_performance -P (run $rep)" "$(rate $N $((SIZE * N)) $s $e)" "${out#% }"
  fi
  if [[ -n "$JAVA_OK" ]]; then
    t="bench-java-p-$tag"; topic "$t"
    s=$(now)
    out=$(java -Xmx512m -cp "$JARS/*" -Dlog4j.configuration=file:/dev/null org.apache.kafka.tools.ProducerPerformance \
          --topic "$t" --num-records $N --record-size $SIZE --throughput -1 --producer-props \
          bootstrap.servers="$KAFKA_BOOTSTRAP" acks=all enable.idempotence=true linger.ms=5 batch.size=1000000 2>/dev/null | tail -1)
    e=$(now)
    row "produce: Java ProducerPerformance (run $rep)" "$(rate $N $((SIZE * N)) $s $e)" "$out"
  fi

  # ---- consume (the topic weir just filled: real smart-car lines, 4 partitions)
  src="bench-weir-p-$tag"
  cat >"$WORK/consume.toml" <<EOF
[nodes.kafka]
plugin = "kafka_source"
endpoints = "$KAFKA_BOOTSTRAP"
topics = ["$src"]
group_id = "bench-weir-c-$tag"
max_records = $N
fields = false
[nodes.null]
plugin = "null_sink"
inputs = ["kafka"]
EOF
  s=$(now); "$WEIR" run "$WORK/consume.toml" --no-progress 2>"$WORK/weir-c.log"; e=$(now)
  row "consume: weir kafka_source -> null_sink (run $rep)" "$(rate $N $BYTES $s $e)" "$(tail -1 "$WORK/weir-c.log")"

  if [[ -n "$RDKPERF" ]]; then
    s=$(now)
    out=$("$RDKPERF" -G "bench-rdk-c-$tag" -t "$src" -b "$KAFKA_BOOTSTRAP" -c $N -X auto.offset.reset=earliest -q 2>&1 | tail -1); e=$(now)
    row "consume: rdkafka_performance -G (run $rep)" "$(rate $N $BYTES $s $e)" "${out#% }"
  fi
  if [[ -n "$JAVA_OK" ]]; then
    s=$(now)
    out=$(java -Xmx512m -cp "$JARS/*" -Dlog4j.configuration=file:/dev/null org.apache.kafka.tools.ConsumerPerformance \
          --bootstrap-server "$KAFKA_BOOTSTRAP" --topic "$src" --messages $N --group "bench-java-c-$tag" 2>/dev/null | tail -1)
    e=$(now)
    row "consume: Java ConsumerPerformance (run $rep)" "$(rate $N $BYTES $s $e)" "$out"
  fi
done

{
  echo "| run | records/s | MB/s | wall s | the tool's own summary |"
  echo "| --- | ---: | ---: | ---: | --- |"
  printf '%s\n' "${ROWS[@]}"
} >"$WORK/table.md"
cat "$WORK/table.md"
{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores"
  echo
  echo "$N records of ~$SIZE B ($BYTES payload bytes), broker $KAFKA_BOOTSTRAP (Kafka $KAFKA_VERSION, same host)," \
       "librdkafka $(pkg-config --modversion rdkafka). Rates from wall time of the whole process" \
       "(start-up and group join included)."
  echo
  cat "$WORK/table.md"
  echo
} >>"$HERE/RESULTS.md"
