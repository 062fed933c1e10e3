# shellcheck shell=bash
# Shared helpers for the scripts in scripts/services/. Source it; don't run it.
# Sets REPO_ROOT, STATE (state dir, created) and WEIR_CACHE (download cache, outside the repo).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${WEIR_SERVICES_DIR:-$REPO_ROOT/.services}"
WEIR_CACHE="${WEIR_CACHE:-$HOME/.cache/weir}"
mkdir -p "$STATE"
# The default state dir lives in the work tree: keep git from ever seeing it.
[[ -e "$STATE/.gitignore" ]] || echo '*' >"$STATE/.gitignore"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "$(basename "$0"): $*" >&2; }

# free_port: print a loopback TCP port nobody listens on (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# port_free PORT: true if a server could listen on 127.0.0.1:PORT now (bound with SO_REUSEADDR,
# as servers do, so connections of a stopped server left in TIME_WAIT do not count).
port_free() {
  python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# proc_alive PID: true if the process exists and is not a zombie (the exit of a detached daemon is
# only reaped by pid 1, which can take a second or two here).
proc_alive() { kill -0 "$1" 2>/dev/null && [[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]]; }
proc_dead() { ! proc_alive "$1"; }

# pid_alive PIDFILE: true if the pid file names a live process.
pid_alive() { [[ -s "$1" ]] && proc_alive "$(cat "$1")"; }

# wait_until SECONDS CMD...: run CMD every 0.2 s until it succeeds; false on timeout.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# fail_with_log MSG LOGFILE: print MSG and the log's tail, then exit 1.
fail_with_log() {
  echo "$(basename "$0"): $1 -- last lines of $2:" >&2
  tail -n 40 "$2" >&2 || true
  exit 1
}

# stop_pid PIDFILE [TIMEOUT]: TERM the process, KILL it if still alive after TIMEOUT s (default 20).
stop_pid() {
  local pidfile=$1 timeout=${2:-20} pid
  [[ -s "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  if proc_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until "$timeout" proc_dead "$pid"; then
      log "pid $pid ignored TERM for ${timeout}s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 proc_dead "$pid" || true
    fi
  fi
  rm -f "$pidfile"
}

# write_env FILE LINE...: write the export lines atomically.
write_env() {
  local f=$1; shift
  printf '%s\n' "$@" >"$f.tmp" && mv "$f.tmp" "$f"
}
