#!/usr/bin/env bash
# scripts/services/redis.sh keeps the local Redis where it was: `stop && start` on one state
# dir comes back on the same port with the data (AOF), a crash keeps what is older than the
# last second, a port another process took is replaced (and remembered), and `clean`
# forgets both. Runs its own server in a temporary state dir; needs only redis-server.
set -euo pipefail
command -v redis-server >/dev/null || { echo "skipped: redis-server not found"; exit 77; }
root=$(cd "$(dirname "$0")/../.." && pwd)
redis_sh=$root/scripts/services/redis.sh
export WEIR_SERVICES_DIR
WEIR_SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/weir-redis-restart-XXXXXX")
holder=
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  "$redis_sh" clean >/dev/null 2>&1 || true
  rm -rf "$WEIR_SERVICES_DIR"
}
trap cleanup EXIT

failures=0
check() {  # check WHAT EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
port() { (source "$WEIR_SERVICES_DIR/redis.env"; echo "$REDIS_PORT"); }
cli() { redis-cli -h 127.0.0.1 -p "$(port)" "$@"; }

"$redis_sh" start >/dev/null
first=$(port)
cli SET weir:restart "kept" >/dev/null
cli SADD weir:members a b c >/dev/null

"$redis_sh" stop >/dev/null
"$redis_sh" start >/dev/null
check "stop && start: the same port" "$first" "$(port)"
check "stop && start: the string survives" "kept" "$(cli GET weir:restart)"
check "stop && start: the set survives" "a b c" "$(cli SMEMBERS weir:members | sort | xargs)"

# A crash: appendfsync everysec has what is older than a second on disk.
cli SADD weir:members d >/dev/null
sleep 2
kill -KILL "$(cat "$WEIR_SERVICES_DIR/redis.pid")"
"$redis_sh" start >/dev/null
check "after a crash: the same port" "$first" "$(port)"
check "after a crash: the set survives" "a b c d" "$(cli SMEMBERS weir:members | sort | xargs)"

# Someone else listens on the port meanwhile: a new one, remembered from then on.
"$redis_sh" stop >/dev/null
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$first" &
holder=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$first") 2>/dev/null && break; sleep 0.1; done
"$redis_sh" start >/dev/null 2>"$WEIR_SERVICES_DIR/start.err"
moved=$(port)
check "a taken port is replaced" "yes" "$([[ $moved != "$first" ]] && echo yes || echo "no, still $moved")"
check "the move is said" "1" "$(grep -c "port $first .* is taken" "$WEIR_SERVICES_DIR/start.err" || true)"
check "the new port is remembered" "$moved" "$(cat "$WEIR_SERVICES_DIR/redis.port")"
check "the data moves along" "kept" "$(cli GET weir:restart)"
kill "$holder"; holder=

"$redis_sh" clean >/dev/null
check "clean: no data left" "no" "$([[ -e $WEIR_SERVICES_DIR/redis ]] && echo yes || echo no)"
check "clean: no port left" "no" "$([[ -e $WEIR_SERVICES_DIR/redis.port ]] && echo yes || echo no)"

if ((failures)); then echo "$failures failed"; exit 1; fi
echo "all passed"
