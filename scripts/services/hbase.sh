#!/usr/bin/env bash
# Standalone Apache HBase (HMaster + RegionServer + ZooKeeper in one JVM, local filesystem) plus its
# Thrift2 gateway (a second JVM), all on loopback, for tests.
#   hbase.sh start|stop|status        start: writes $STATE/hbase.env (HBASE_THRIFT_HOST/PORT, HBASE_ZK_QUORUM...)
#   hbase.sh create-table [NAME] [REGIONS]   default DriverCarInfo, 2 regions (HexStringSplit), family cf1
#   hbase.sh truncate NAME | count NAME      drop+re-create keeping splits | print the row count
#   hbase.sh put NAME ROW CF:QUAL VALUE | get NAME ROW   one cell through the Thrift2 gateway
# Jars come from Maven Central (fetched once by mvn into $WEIR_CACHE/hbase-<version>/); see hbase/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"

VERSION="${HBASE_VERSION:-2.6.1-hadoop3}"       # hbase-thrift comes as plain 2.6.1 (see hbase/pom.xml)
HOME_DIR="$WEIR_CACHE/hbase-$VERSION"           # pom.xml, lib/, tool/ (compiled HBaseTool)
DIR="$STATE/hbase"                              # conf + rootdir + ZooKeeper data (removed by stop)
ENVFILE="$STATE/hbase.env"
MASTER_PID="$STATE/hbase-master.pid" MASTER_LOG="$STATE/hbase-master.log"
THRIFT_PID="$STATE/hbase-thrift.pid" THRIFT_LOG="$STATE/hbase-thrift.log"
START_TIMEOUT="${HBASE_START_TIMEOUT:-180}"
# The Thrift2 server closes a connection idle this long (HBase's default: 60 s); clients must reconnect.
THRIFT_READ_TIMEOUT_MS="${HBASE_THRIFT_READ_TIMEOUT_MS:-60000}"

# Java 17: HBase/Hadoop/netty reach into JDK internals (the list HBase's own build uses for JDK 17 tests).
# Serial GC + C1-only JIT keep CPU and start-up time down on a 2-core box; plenty for test traffic.
JVM_FLAGS=(
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true -Djava.awt.headless=true
  -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
  --add-modules jdk.unsupported
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/sun.net.dns=ALL-UNNAMED
  --add-exports java.base/sun.net.util=ALL-UNNAMED --add-exports java.security.jgss/sun.security.krb5=ALL-UNNAMED
)

# Download hbase-server/-zookeeper/-thrift + log4j2 and all runtime deps, once (redone if pom.xml changes).
fetch() {
  local sum; sum=$(sha1sum <"$HERE/hbase/pom.xml" | cut -c1-40)
  [[ "$(cat "$HOME_DIR/.complete" 2>/dev/null)" == "$sum" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (run scripts/install-deps.sh)"
  log "fetching HBase $VERSION jars from Maven Central into $HOME_DIR"
  mkdir -p "$HOME_DIR" && rm -rf "$HOME_DIR/lib" "$HOME_DIR/tool"
  cp "$HERE/hbase/pom.xml" "$HOME_DIR/pom.xml"
  # Hadoop drags in reload4j (log4j 1); HBase logs through log4j2 (+ log4j-1.2-api bridge) instead.
  mvn -q -B -Dstyle.color=never -f "$HOME_DIR/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -Dhbase.version="$VERSION" -Dhbase.thrift.version="${VERSION%-hadoop3}" -DincludeScope=runtime -DexcludeArtifactIds=reload4j,slf4j-reload4j \
    -DoutputDirectory="$HOME_DIR/lib" || die "mvn could not fetch HBase $VERSION"
  echo "$sum" >"$HOME_DIR/.complete"
}

# Compile HBaseTool.java against the jars (redone when the source changes).
compile_tool() {
  local sum; sum=$(sha1sum <"$HERE/hbase/HBaseTool.java" | cut -c1-40)
  [[ "$(cat "$HOME_DIR/tool/.sum" 2>/dev/null)" == "$sum" ]] && return 0
  rm -rf "$HOME_DIR/tool" && mkdir -p "$HOME_DIR/tool"
  javac -nowarn -cp "$HOME_DIR/lib/*" -d "$HOME_DIR/tool" "$HERE/hbase/HBaseTool.java" || die "javac HBaseTool failed"
  echo "$sum" >"$HOME_DIR/tool/.sum"
}

# tool ARGS...: run HBaseTool with the env of the running instance; client logs only warnings, to stderr.
tool() {
  [[ -f "$ENVFILE" ]] || die "hbase is not running (run: $0 start)"
  fetch; compile_tool
  ( source "$ENVFILE"
    exec java "${JVM_FLAGS[@]}" -Xmx256m -Dweir.log.level=WARN -Dlog4j2.configurationFile="$HERE/hbase/log4j2.properties" \
      -cp "$HOME_DIR/tool:$HOME_DIR/lib/*" HBaseTool "$@" 9>&- )
}

# Healthy = both JVMs alive, and the Java client (via ZooKeeper) and the Thrift2 gateway both answer.
healthy() {
  pid_alive "$MASTER_PID" && pid_alive "$THRIFT_PID" && [[ -f "$ENVFILE" ]] || return 1
  port_open "$(source "$ENVFILE"; echo "$HBASE_THRIFT_PORT")" && tool ping >/dev/null 2>&1
}

stop() {
  stop_pid "$THRIFT_PID" 15
  # TERM runs HBase's shutdown hook, but in standalone mode it stops the embedded ZooKeeper before
  # the region server, which then retries for ~20 s; the data is deleted anyway, so KILL after 10 s.
  stop_pid "$MASTER_PID" 10
  rm -rf "$DIR" "$ENVFILE"
}

# hjava PIDFILE LOGFILE HEAP MAINCLASS ARGS...: start an HBase JVM in the background, detached.
hjava() {
  local pidfile=$1 logfile=$2 heap=$3; shift 3
  # 9>&-: don't let the daemon inherit (and so hold forever) the flock taken below.
  setsid nohup java "${JVM_FLAGS[@]}" "-Xmx$heap" -Dweir.log.level=INFO \
    -Dlog4j2.configurationFile="$HERE/hbase/log4j2.properties" -Dhbase.log.dir="$STATE" \
    -cp "$DIR/conf:$HOME_DIR/lib/*" "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
}

start() {
  if healthy; then cat "$ENVFILE"; return 0; fi
  { pid_alive "$MASTER_PID" || pid_alive "$THRIFT_PID"; } && log "hbase is running but not answering; restarting it"
  stop
  fetch; compile_tool
  local t0=$SECONDS zk master rs thrift
  # Four distinct free loopback ports.
  zk=$(free_port); master=$(free_port); rs=$(free_port); thrift=$(free_port)
  while [[ "$(printf '%s\n' $zk $master $rs $thrift | sort -u | wc -l)" != 4 ]]; do
    master=$(free_port); rs=$(free_port); thrift=$(free_port)
  done
  mkdir -p "$DIR/conf" "$DIR/tmp"
  prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }
  { echo '<?xml version="1.0"?>'; echo '<configuration>'
    prop hbase.cluster.distributed false                 # HMaster runs RS + ZooKeeper in its JVM
    prop hbase.rootdir "file://$DIR/root"
    prop hbase.tmp.dir "$DIR/tmp"
    prop hbase.zookeeper.property.dataDir "$DIR/zk"
    prop hbase.zookeeper.quorum 127.0.0.1
    prop hbase.zookeeper.property.clientPort "$zk"
    # A stalled JVM (GC, SIGSTOP in the chaos test) must not expire HBase's own ZooKeeper
    # session, or the region server aborts: sessions of 60 s (the server allows up to 20
    # ticks). Standalone mode replaces zookeeper.session.timeout with the .localHBaseCluster
    # value (HMasterCommandLine; default 10 s, which two stops in a row exceeded), so set both.
    prop zookeeper.session.timeout 60000
    prop zookeeper.session.timeout.localHBaseCluster 60000
    prop hbase.zookeeper.property.tickTime 6000
    prop hbase.localcluster.assign.random.ports false   # else LocalHBaseCluster ignores the ports below
    prop hbase.master.port "$master"
    prop hbase.regionserver.port "$rs"
    prop hbase.master.info.port -1                      # no web UIs
    prop hbase.regionserver.info.port -1
    prop hbase.master.ipc.address 127.0.0.1
    prop hbase.regionserver.ipc.address 127.0.0.1
    prop hbase.unsafe.stream.capability.enforce false   # local FS has no hflush/hsync capability
    prop hbase.regionserver.handler.count 10
    prop hbase.master.wait.on.regionservers.maxtostart 1   # don't wait 4.5 s for more region servers
    # Thrift2 gateway: thread-pool server = buffered (unframed) transport, binary protocol.
    prop hbase.regionserver.thrift.ipaddress 127.0.0.1
    prop hbase.regionserver.thrift.port "$thrift"
    prop hbase.regionserver.thrift.framed false
    prop hbase.regionserver.thrift.compact false
    prop hbase.thrift.info.port -1
    prop hbase.thrift.server.socket.read.timeout "$THRIFT_READ_TIMEOUT_MS"
    echo '</configuration>'
  } >"$DIR/conf/hbase-site.xml"

  hjava "$MASTER_PID" "$MASTER_LOG" 768m org.apache.hadoop.hbase.master.HMaster start
  # The gateway finds HBase through ZooKeeper lazily, so it can boot in parallel with the master.
  hjava "$THRIFT_PID" "$THRIFT_LOG" 512m org.apache.hadoop.hbase.thrift2.ThriftServer start
  write_env "$ENVFILE" \
    "export HBASE_THRIFT_HOST=127.0.0.1" "export HBASE_THRIFT_PORT=$thrift" \
    "export HBASE_THRIFT_TRANSPORT=buffered" "export HBASE_THRIFT_PROTOCOL=binary" \
    "export HBASE_THRIFT_READ_TIMEOUT_MS=$THRIFT_READ_TIMEOUT_MS" \
    "export HBASE_ZK_QUORUM=127.0.0.1:$zk" "export HBASE_VERSION=$VERSION"

  # Cheap checks first (processes alive, master initialised, gateway port open), then one real
  # round trip per try (a JVM start each, so not in a tight loop).
  # On failure, stop what we started (the logs stay) and show the relevant log's tail.
  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    pid_alive "$MASTER_PID" || { stop; fail_with_log "HMaster exited during startup" "$MASTER_LOG"; }
    pid_alive "$THRIFT_PID" || { stop; fail_with_log "Thrift2 server exited during startup" "$THRIFT_LOG"; }
    if grep -q "Master has completed initialization" "$MASTER_LOG" && port_open "$thrift" && healthy; then break; fi
    if ((SECONDS >= deadline)); then
      stop; tail -n 15 "$THRIFT_LOG" >&2
      fail_with_log "hbase did not answer within ${START_TIMEOUT}s (thrift log above)" "$MASTER_LOG"
    fi
    sleep 1
  done
  echo "hbase $VERSION started in $((SECONDS - t0))s: thrift2 127.0.0.1:$thrift (buffered/binary), zk 127.0.0.1:$zk" \
    "(pids $(cat "$MASTER_PID") $(cat "$THRIFT_PID"), env $ENVFILE, logs $MASTER_LOG $THRIFT_LOG)"
}

cmd="${1:-}"; shift || true
exec 9>"$STATE/hbase.lock"; flock 9   # one command at a time
case "$cmd" in
  start) start ;;
  stop) stop; echo "hbase stopped" ;;
  status) if healthy; then cat "$ENVFILE"; else echo "hbase: not running"; exit 1; fi ;;
  create-table) tool create-table "${1:-DriverCarInfo}" "${2:-2}" cf1 ;;
  truncate|count) [[ $# -eq 1 ]] || die "usage: $0 $cmd NAME"; tool "$cmd" "$1" ;;
  put|get) tool "$cmd" "$@" ;;
  *) die "usage: $0 start|stop|status|create-table [NAME] [REGIONS]|truncate NAME|count NAME|put NAME ROW CF:Q VALUE|get NAME ROW" ;;
esac
