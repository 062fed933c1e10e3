#!/usr/bin/env bash
# Debian's redis-server on loopback, for tests and the smart-car flow.
#   redis.sh start|stop|status            one server; writes $STATE/redis.env (REDIS_HOST, REDIS_PORT).
#       Persistent: AOF (appendfsync everysec) in $STATE/redis, and the same port on every start
#       of one state dir ($STATE/redis.port, reused while it is free), so `stop && start` comes
#       back where a running pipeline expects it, with its data.
#   redis.sh clean                        stop, and delete the data and the remembered port
#   redis.sh sentinel-start|sentinel-stop|sentinel-status
#       master + one replica + one sentinel watching master "weirmaster" (quorum 1, down after 1 s),
#       for failover tests; writes $STATE/redis-sentinel.env (REDIS_SENTINELS, REDIS_MASTER_NAME, ...)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MASTER_NAME=weirmaster
SENTINEL_DIR="$STATE/redis-sentinel"     # data dirs + sentinel.conf of the sentinel set
SENTINEL_ENV="$STATE/redis-sentinel.env"
command -v redis-server >/dev/null || die "redis-server not found (run scripts/install-deps.sh)"

# spawn NAME DIR ARGS...: start redis-server ARGS detached (own session, foreground mode, log to
# stdout), with $STATE/NAME.pid and $STATE/NAME.log.
spawn() {
  local name=$1 dir=$2; shift 2
  mkdir -p "$dir"
  # 9>&-: the daemon must not inherit (and so hold forever) the flock taken at the bottom.
  setsid nohup redis-server "$@" --dir "$dir" --daemonize no --logfile "" \
    >"$STATE/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/$name.pid"
}

# spawn_server NAME DIR PORT ARGS...: a data server on loopback that writes nothing to disk
# (and starts a replica's full sync at once instead of after the default 5 s delay). For the
# sentinel set, which is rebuilt on every start.
spawn_server() {
  spawn "$1" "$2" --bind 127.0.0.1 --port "$3" --save "" --appendonly no --repl-diskless-sync-delay 0 "${@:4}"
}

ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# ---- single server ----------------------------------------------------------------------------
healthy() {
  pid_alive "$STATE/redis.pid" && [[ -f "$STATE/redis.env" ]] &&
    ping "$(source "$STATE/redis.env"; echo "$REDIS_PORT")"
}

PORT_FILE="$STATE/redis.port"

# The data stays (in $STATE/redis) for the next start; `clean` removes it.
stop() { stop_pid "$STATE/redis.pid" 10; rm -f "$STATE/redis.env"; }
clean() { stop; rm -rf "$STATE/redis" "$PORT_FILE"; }

# The port of this state dir: the one it had before if nothing else holds it now, else a new
# free one (remembered from then on).
server_port() {
  local port
  if [[ -s $PORT_FILE ]]; then
    port=$(cat "$PORT_FILE")
    if port_free "$port"; then echo "$port"; return 0; fi
    log "port $port (from $PORT_FILE) is taken by another process; moving to a new one"
  fi
  port=$(free_port)
  echo "$port" >"$PORT_FILE"
  echo "$port"
}

start() {
  if healthy; then cat "$STATE/redis.env"; return 0; fi
  stop
  local port; port=$(server_port)
  # A restart (or a crash: at most the last second of writes) keeps the data.
  spawn redis "$STATE/redis" --bind 127.0.0.1 --port "$port" --save "" \
    --appendonly yes --appendfsync everysec
  write_env "$STATE/redis.env" "export REDIS_HOST=127.0.0.1" "export REDIS_PORT=$port"
  wait_until 20 ping "$port" || fail_with_log "redis-server did not answer PING on 127.0.0.1:$port" "$STATE/redis.log"
  echo "redis started: REDIS_HOST=127.0.0.1 REDIS_PORT=$port (pid $(cat "$STATE/redis.pid"), env $STATE/redis.env)"
}

# ---- master + replica + sentinel ----------------------------------------------------------------
sq() { redis-cli -h 127.0.0.1 -p "$1" sentinel "${@:2}" 2>/dev/null; }

# The sentinel names a master that answers, and knows one replica that is not flagged down.
sentinel_ready() {
  local sport=$1 maddr
  maddr=$(sq "$sport" get-master-addr-by-name "$MASTER_NAME" | tail -1) && [[ -n $maddr ]] && ping "$maddr" &&
    [[ "$(sq "$sport" replicas "$MASTER_NAME" | grep -A1 -x flags | tail -1)" == slave ]]   # not "slave,s_down"
}

sentinel_healthy() {
  local p
  for p in master replica sentinel; do pid_alive "$STATE/redis-sentinel-$p.pid" || return 1; done
  [[ -f "$SENTINEL_ENV" ]] && sentinel_ready "$(source "$SENTINEL_ENV"; echo "${REDIS_SENTINELS##*:}")"
}

sentinel_stop() {
  local p
  for p in sentinel replica master; do stop_pid "$STATE/redis-sentinel-$p.pid" 10; done
  rm -rf "$SENTINEL_DIR" "$SENTINEL_ENV"
}

sentinel_start() {
  if sentinel_healthy; then cat "$SENTINEL_ENV"; return 0; fi
  sentinel_stop
  local m r s
  m=$(free_port); r=$(free_port); s=$(free_port)
  while [[ "$(printf '%s\n' "$m" "$r" "$s" | sort -u | wc -l)" != 3 ]]; do r=$(free_port); s=$(free_port); done
  spawn_server redis-sentinel-master "$SENTINEL_DIR/master" "$m"
  wait_until 20 ping "$m" || fail_with_log "master did not answer on 127.0.0.1:$m" "$STATE/redis-sentinel-master.log"
  spawn_server redis-sentinel-replica "$SENTINEL_DIR/replica" "$r" --replicaof 127.0.0.1 "$m"
  wait_until 30 bash -c "redis-cli -p $r info replication | grep -q '^master_link_status:up'" ||
    fail_with_log "replica 127.0.0.1:$r did not sync with the master" "$STATE/redis-sentinel-replica.log"
  # Sentinel rewrites its config file, so it gets its own writable copy.
  mkdir -p "$SENTINEL_DIR/sentinel"
  cat >"$SENTINEL_DIR/sentinel/sentinel.conf" <<EOF
bind 127.0.0.1
port $s
sentinel monitor $MASTER_NAME 127.0.0.1 $m 1
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 5000
sentinel parallel-syncs $MASTER_NAME 1
EOF
  spawn redis-sentinel-sentinel "$SENTINEL_DIR/sentinel" "$SENTINEL_DIR/sentinel/sentinel.conf" --sentinel
  write_env "$SENTINEL_ENV" "export REDIS_SENTINELS=127.0.0.1:$s" "export REDIS_MASTER_NAME=$MASTER_NAME" \
    "export REDIS_SENTINEL_MASTER_PORT=$m" "export REDIS_SENTINEL_REPLICA_PORT=$r"
  # Wait until the sentinel has discovered the replica (from the master's INFO), so a failover can happen.
  wait_until 30 sentinel_ready "$s" ||
    fail_with_log "sentinel 127.0.0.1:$s did not see master $m + replica $r" "$STATE/redis-sentinel-sentinel.log"
  echo "redis sentinel set started: REDIS_SENTINELS=127.0.0.1:$s REDIS_MASTER_NAME=$MASTER_NAME" \
    "(master 127.0.0.1:$m, replica 127.0.0.1:$r, env $SENTINEL_ENV)"
}

exec 9>"$STATE/redis.lock"; flock 9   # one start/stop at a time
case "${1:-}" in
  start) start ;;
  stop) stop; echo "redis stopped (data kept in $STATE/redis; \`$0 clean\` deletes it)" ;;
  clean) clean; echo "redis stopped, data and port deleted" ;;
  status) if healthy; then cat "$STATE/redis.env"; else echo "redis: not running"; exit 1; fi ;;
  sentinel-start) sentinel_start ;;
  sentinel-stop) sentinel_stop; echo "redis sentinel set stopped" ;;
  sentinel-status) if sentinel_healthy; then cat "$SENTINEL_ENV"; else echo "redis sentinel set: not running"; exit 1; fi ;;
  *) die "usage: $0 start|stop|status|clean|sentinel-start|sentinel-stop|sentinel-status" ;;
esac
