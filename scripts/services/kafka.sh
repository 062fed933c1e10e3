#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) on loopback, for tests.
#   kafka.sh start|stop|status      start: writes $STATE/kafka.env (KAFKA_BOOTSTRAP=127.0.0.1:PORT)
#   kafka.sh restart                the same broker again: same ports, same data (stop removes them)
#   kafka.sh topic NAME PARTITIONS  create a topic (no-op if it exists)
#   kafka.sh describe-topic NAME    its partitions and settings
# The jars come from Maven Central (fetched once by mvn into $WEIR_CACHE/kafka-<version>/).
# 3.9.x on purpose: Kafka 4.0 dropped old protocol versions that Debian's librdkafka 2.0.2 probes for,
# so that client disables some of its features against 4.x (see README.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION="${KAFKA_VERSION:-3.9.2}"
HOME_DIR="$WEIR_CACHE/kafka-$VERSION"   # pom.xml, libs/, log4j files
DIR="$STATE/kafka"                      # server.properties + log dirs (removed by stop)
PIDFILE="$STATE/kafka.pid" LOGFILE="$STATE/kafka.log" ENVFILE="$STATE/kafka.env"
# Small heap; serial GC and C1-only JIT keep CPU down on a shared 2-core box (plenty for test traffic).
# shellcheck disable=SC2206  # the overrides are meant to split into words
JAVA_OPTS=(${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} ${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}
  -Djava.awt.headless=true)

# Download kafka_2.13 + kafka-tools (TopicCommand) + an slf4j binding and all runtime deps, once.
fetch() {
  [[ -f "$HOME_DIR/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (run scripts/install-deps.sh)"
  log "fetching Kafka $VERSION jars from Maven Central into $HOME_DIR"
  mkdir -p "$HOME_DIR"
  cat >"$HOME_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version>
      <!-- only needed by the Connect tools; drags in jetty/jersey -->
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$HOME_DIR/libs"
  mvn -q -B -f "$HOME_DIR/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$HOME_DIR/libs" -DincludeScope=runtime >"$HOME_DIR/mvn.log" 2>&1 ||
    { cat "$HOME_DIR/mvn.log" >&2; die "mvn could not fetch Kafka $VERSION"; }
  # Server logs go to stdout (our log file); command-line tools only print warnings.
  printf '%s\n' 'log4j.rootLogger=INFO, stdout' 'log4j.logger.kafka=INFO' 'log4j.logger.org.apache.kafka=INFO' \
    'log4j.appender.stdout=org.apache.log4j.ConsoleAppender' 'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$HOME_DIR/log4j.properties"
  sed -e 's/INFO/WARN/g' -e 's/ConsoleAppender/ConsoleAppender\nlog4j.appender.stdout.Target=System.err/' \
    "$HOME_DIR/log4j.properties" >"$HOME_DIR/tools-log4j.properties"
  touch "$HOME_DIR/.complete"
}

# kjava LOG4J_FILE MAINCLASS ARGS...: run a class from the fetched jars.
kjava() {
  local l4j=$1; shift
  java "${JAVA_OPTS[@]}" -Dlog4j.configuration="file:$HOME_DIR/$l4j" -cp "$HOME_DIR/libs/*" "$@"
}

# Healthy = our process is alive and the broker answers a metadata request.
healthy() {
  pid_alive "$PIDFILE" && [[ -f "$ENVFILE" ]] || return 1
  local bootstrap; bootstrap=$(source "$ENVFILE"; echo "$KAFKA_BOOTSTRAP")
  if command -v kcat >/dev/null; then
    kcat -L -b "$bootstrap" -m 3 >/dev/null 2>&1
  else
    port_open "${bootstrap##*:}"   # no kcat: fall back to "the port accepts connections"
  fi
}

stop() {
  stop_pid "$PIDFILE" 40   # a clean KRaft shutdown can take a while; KILL after 40 s
  rm -rf "$DIR" "$ENVFILE"
}

start() {
  if healthy; then cat "$ENVFILE"; return 0; fi
  pid_alive "$PIDFILE" && log "kafka (pid $(cat "$PIDFILE")) is not answering; restarting it"
  stop
  fetch
  local bport cport
  bport=$(free_port); cport=$(free_port)
  while [[ $cport == "$bport" ]]; do cport=$(free_port); done
  mkdir -p "$DIR/data"
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# fewer internal partitions than the defaults (50) and few threads: quicker start, less CPU
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
num.network.threads=2
num.io.threads=2
EOF
  # Cluster id: 16 random bytes, base64url without padding, not starting with '-' (like
  # `StorageTool random-uuid`, without a JVM start; a leading '-' would read as an option).
  local cluster_id=-
  while [[ $cluster_id == -* ]]; do
    cluster_id=$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
  done
  kjava tools-log4j.properties kafka.tools.StorageTool format -t "$cluster_id" -c "$DIR/server.properties" \
    >"$LOGFILE" 2>&1 || fail_with_log "storage format failed" "$LOGFILE"
  write_env "$ENVFILE" "export KAFKA_BOOTSTRAP=127.0.0.1:$bport"
  launch
}

# Starts the broker of $DIR/server.properties and waits until it answers.
launch() {
  local bootstrap; bootstrap=$(source "$ENVFILE"; echo "$KAFKA_BOOTSTRAP")
  # Detached (own session); 9>&-: the daemon must not inherit, and so hold forever, the flock below.
  setsid nohup java "${JAVA_OPTS[@]}" -Dlog4j.configuration="file:$HOME_DIR/log4j.properties" \
    -cp "$HOME_DIR/libs/*" kafka.Kafka "$DIR/server.properties" >>"$LOGFILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  if ! wait_until 90 healthy; then
    pid_alive "$PIDFILE" || { stop; fail_with_log "kafka exited during startup" "$LOGFILE"; }
    stop   # don't leave a half-started broker behind (the log stays)
    fail_with_log "kafka did not answer a metadata request on $bootstrap within 90 s" "$LOGFILE"
  fi
  echo "kafka $VERSION started: KAFKA_BOOTSTRAP=$bootstrap (pid $(cat "$PIDFILE"), env $ENVFILE, log $LOGFILE)"
}

# Stops the broker and starts it again on the same ports and data (what a broker
# restart in production keeps): for tests of state that must survive one.
restart() {
  [[ -f "$DIR/server.properties" && -f "$ENVFILE" ]] || die "kafka was never started here (run: $0 start)"
  stop_pid "$PIDFILE" 40
  launch
}

topic() {
  [[ $# -eq 2 ]] || die "usage: $0 topic NAME PARTITIONS"
  healthy || die "kafka is not running (run: $0 start)"
  source "$ENVFILE"
  kjava tools-log4j.properties org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --create --if-not-exists --topic "$1" --partitions "$2" --replication-factor 1
}

describe_topic() {
  [[ $# -eq 1 ]] || die "usage: $0 describe-topic NAME"
  healthy || die "kafka is not running (run: $0 start)"
  source "$ENVFILE"
  kjava tools-log4j.properties org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --describe --topic "$1"
}

exec 9>"$STATE/kafka.lock"; flock 9   # one start/stop at a time
case "${1:-}" in
  start) start ;;
  stop) stop; echo "kafka stopped" ;;
  restart) restart ;;
  describe-topic) shift; describe_topic "$@" ;;
  status) if healthy; then cat "$ENVFILE"; else echo "kafka: not running"; exit 1; fi ;;
  topic) shift; topic "$@" ;;
  *) die "usage: $0 start|stop|restart|status|topic NAME PARTITIONS|describe-topic NAME" ;;
esac
