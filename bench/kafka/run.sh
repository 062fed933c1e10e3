#!/usr/bin/env bash
# Kafka throughput: weir's kafka_sink / kafka_source next to the raw clients, same broker, same run.
#
#   bench/kafka/run.sh [BUILD_DIR] [RECORDS]        (defaults: build-kafka, 1000000; REPS=3 runs each)
#
# Needs a broker: KAFKA_BOOTSTRAP, or the one of scripts/services/kafka.sh (started if needed).
# Compares, with the same record count, record size (~35 B, the smart-car line) and producer
# settings (idempotent, acks=all, linger.ms=5, batch.size=1000000, no compression; librdkafka's
# defaults otherwise, e.g. batch.num.messages=10000, queue.buffering.max.messages=100000):
#   produce: weir loggen -> kafka_sink      vs rdkafka_performance -P vs Java ProducerPerformance
#            weir twice: keyed = false (no message key, like the raw tools: librdkafka's sticky
#            partitioner fills one partition at a time) -- the like-for-like row -- and keyed by
#            car number (kafka_sink's default: murmur2 over the 4 partitions, 4-byte key)
#            and the keyed row next to raw_keyed_producer.c (librdkafka's producev, the same keys)
#   consume: weir kafka_source -> null_sink vs rdkafka_performance -G vs Java ConsumerPerformance
#            (rdkafka_performance with kafka_source's queue settings: 16 MB, queued.min.messages 1000000)
# rdkafka_performance is built from the example source Debian ships in librdkafka-dev's docs
# (with a shim for the two internal headers it includes). The Java tools come from the Kafka jars
# that kafka.sh fetched. Results (markdown) go to stdout and are appended to bench/kafka/RESULTS.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$ROOT/build-kafka}"
N="${2:-1000000}"
REPS="${REPS:-3}"
WEIR="$BUILD/weir"
[[ -x "$WEIR" && -x "$BUILD/weir-loggen" && -f "$BUILD/plugins/weir_kafka_sink.so" && -f "$BUILD/plugins/weir_kafka_source.so" ]] || {
  echo "build first: ninja -C $BUILD weir weir-loggen weir_loggen weir_kafka_sink weir_kafka_source weir_null_sink" >&2
  exit 1
}

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
  cc -O2 -w -D_GNU_SOURCE -I"$WORK/rdk/src" -I"$(pkg-config --variable=includedir rdkafka)/librdkafka" \
    "$WORK/rdk/examples/rdkafka_performance.c" -o "$WORK/rdkafka_performance" $(pkg-config --libs rdkafka) -lm &&
    RDKPERF="$WORK/rdkafka_performance"
fi
# The raw keyed baseline (rdkafka_performance cannot vary keys): bench/kafka/raw_keyed_producer.c.
RAWKEYED=""
cc -O2 "$HERE/raw_keyed_producer.c" -o "$WORK/raw_keyed_producer" $(pkg-config --cflags --libs rdkafka) &&
  RAWKEYED="$WORK/raw_keyed_producer"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
JARS="${WEIR_CACHE:-$HOME/.cache/weir}/kafka-$KAFKA_VERSION/libs"
JAVA_OK=""
[[ -d "$JARS" ]] && command -v java >/dev/null && JAVA_OK=1

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
CARS=1000
SECONDS_SIM=$(((N + CARS - 1) / CARS))
N=$((CARS * SECONDS_SIM))
BYTES=$("$BUILD/weir-loggen" 20220426 $CARS --seconds $SECONDS_SIM | wc -c)
BYTES=$((BYTES - N)) # without the newlines
SIZE=$((BYTES / N))  # average record size, for the raw clients

topic() { # a 4-partition topic, made with the broker's own tool
  [[ -n "$JAVA_OK" ]] || return 0
  java -Xmx256m -cp "$JARS/*" -Dlog4j.configuration=file:/dev/null org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists --topic "$1" --partitions 4 --replication-factor 1 \
    >/dev/null 2>&1
}

# measure NAME BYTES CMD...: runs CMD under /usr/bin/time and appends
# "name<TAB>wall<TAB>cpu<TAB>bytes<TAB>its last output line" to $WORK/rows.tsv.
: >"$WORK/rows.tsv"
measure() {
  local name=$1 bytes=$2
  shift 2
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$@" >"$WORK/cmd.out" 2>&1 || echo "  $name: exit $?" >&2
  local summary wall user sys
  summary=$(grep -v '^[[:space:]]*$' "$WORK/cmd.out" | tail -1 | tr '\t|' '  ')
  read -r wall user sys <"$WORK/time"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')" "$bytes" \
    "$summary" >>"$WORK/rows.tsv"
  echo "  $name: ${wall}s: $summary" >&2
}

for rep in $(seq 1 "$REPS"); do
  tag="$$-$rep"
  # ---- produce
  t="bench-weir-p-$tag"
  topic "$t"
  cat >"$WORK/produce.toml" <<TOML
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
TOML
  measure "produce: weir loggen -> kafka_sink (keyed by car)" $BYTES "$WEIR" run "$WORK/produce.toml" --no-progress
  t="bench-weir-pu-$tag"
  topic "$t"
  sed -e "s/^topic = .*/topic = \"$t\"/" -e 's/^compression = "none"$/&\nkeyed = false/' "$WORK/produce.toml" \
    >"$WORK/produce-unkeyed.toml"
  measure "produce: weir loggen -> kafka_sink (keyed = false)" $BYTES "$WEIR" run "$WORK/produce-unkeyed.toml" \
    --no-progress
  if [[ -n "$RDKPERF" ]]; then
    t="bench-rdk-p-$tag"
    topic "$t"
    measure "produce: rdkafka_performance -P" $((SIZE * N)) "$RDKPERF" -P -t "$t" -b "$KAFKA_BOOTSTRAP" -s $SIZE -c $N \
      -a -1 -X enable.idempotence=true -X linger.ms=5 -X batch.size=1000000 -q
  fi
  if [[ -n "$RAWKEYED" ]]; then
    t="bench-rawk-p-$tag"
    topic "$t"
    measure "produce: raw librdkafka producev (keyed by car)" $((SIZE * N)) "$RAWKEYED" "$KAFKA_BOOTSTRAP" "$t" $N $SIZE $CARS
  fi
  if [[ -n "$JAVA_OK" ]]; then
    t="bench-java-p-$tag"
    topic "$t"
    measure "produce: Java ProducerPerformance" $((SIZE * N)) java -Xmx512m -cp "$JARS/*" \
      -Dlog4j.configuration=file:/dev/null org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records $N \
      --record-size $SIZE --throughput -1 --producer-props bootstrap.servers="$KAFKA_BOOTSTRAP" acks=all \
      enable.idempotence=true linger.ms=5 batch.size=1000000
  fi

  # ---- consume: the topic weir just filled (real smart-car lines, 4 partitions)
  src="bench-weir-p-$tag"
  cat >"$WORK/consume.toml" <<TOML
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
TOML
  measure "consume: weir kafka_source -> null_sink" $BYTES "$WEIR" run "$WORK/consume.toml" --no-progress
  if [[ -n "$RDKPERF" ]]; then
    measure "consume: rdkafka_performance -G" $BYTES "$RDKPERF" -G "bench-rdk-c-$tag" -t "$src" -b "$KAFKA_BOOTSTRAP" \
      -c $N -X auto.offset.reset=earliest -X queued.max.messages.kbytes=16384 -X queued.min.messages=1000000 -q
  fi
  if [[ -n "$JAVA_OK" ]]; then
    measure "consume: Java ConsumerPerformance" $BYTES java -Xmx512m -cp "$JARS/*" -Dlog4j.configuration=file:/dev/null \
      org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$KAFKA_BOOTSTRAP" --topic "$src" --messages $N \
      --group "bench-java-c-$tag"
  fi
done

# Medians per tool, then every run.
python3 - "$WORK/rows.tsv" "$N" >"$WORK/table.md" <<'PY'
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n = float(sys.argv[2])
by = collections.OrderedDict()
for name, wall, cpu, b, summary in rows:
    by.setdefault(name, []).append((float(wall), float(cpu), float(b)))
print("| median of the runs | records/s | MB/s | wall s | CPU s (user+sys) | runs |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, rs in by.items():
    w = statistics.median(r[0] for r in rs)
    c = statistics.median(r[1] for r in rs)
    print(f"| {name} | {n / w:,.0f} | {rs[0][2] / w / 1e6:.1f} | {w:.2f} | {c:.2f} | {len(rs)} |")
print()
raw = {k.split(":")[0]: statistics.median(r[0] for r in v) for k, v in by.items() if "rdkafka_performance" in k}
for name, rs in by.items():
    kind = name.split(":")[0]
    if name.startswith(kind + ": weir") and kind in raw:
        w = statistics.median(r[0] for r in rs)
        c = statistics.median(r[1] for r in rs)
        rc = statistics.median(r[1] for n2, v in by.items() if n2.startswith(kind + ": rdkafka") for r in v)
        print(f"- {name}: {raw[kind] / w:.2f} of rdkafka_performance's records/s, {c / rc:.2f}x its CPU (medians)")
# Per repetition (the tools run back to back within one): the spread of the like-for-like ratio.
unkeyed = by.get("produce: weir loggen -> kafka_sink (keyed = false)")
rdk = by.get("produce: rdkafka_performance -P")
if unkeyed and rdk:
    pairs = sorted(r[0] / w[0] for w, r in zip(unkeyed, rdk))
    print(f"- produce, keyed = false, per repetition: weir at {', '.join(f'{p:.2f}' for p in pairs)} of "
          f"rdkafka_performance's records/s (median {statistics.median(pairs):.2f})")
keyed = {k: v for k, v in by.items() if k.endswith("(keyed by car)")}
weir_keyed = [v for k, v in keyed.items() if ": weir" in k]
raw_keyed = [v for k, v in keyed.items() if ": raw" in k]
if weir_keyed and raw_keyed:
    w, r = (statistics.median(x[0] for x in v[0]) for v in (weir_keyed, raw_keyed))
    c, rc = (statistics.median(x[1] for x in v[0]) for v in (weir_keyed, raw_keyed))
    print(f"- produce keyed by car: weir at {r / w:.2f} of the raw keyed producer's records/s, {c / rc:.2f}x its CPU (medians)")
print()
print("| every run | records/s | wall s | CPU s | the tool's own last line |")
print("| --- | ---: | ---: | ---: | --- |")
for name, wall, cpu, b, summary in rows:
    print(f"| {name} | {n / float(wall):,.0f} | {float(wall):.2f} | {float(cpu):.2f} | {summary[:170]} |")
PY
cat "$WORK/table.md"
{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "$N records of ~$SIZE B ($BYTES payload bytes); broker $KAFKA_BOOTSTRAP (Kafka $KAFKA_VERSION, same host);" \
    "librdkafka $(pkg-config --modversion rdkafka); load average before the run: $LOAD. Rates from the wall time" \
    "of the whole process (start-up, JVM start and group join included); CPU = user + sys of that process."
  echo
  cat "$WORK/table.md"
  echo
} >>"$HERE/RESULTS.md"
