#!/usr/bin/env bash
# Starts a local Shoal cluster: 3 storage nodes (ids a, b, c) and a proxy that speaks Redis.
# Called by `make run` after the build; can also be run on its own. Ctrl-C or SIGTERM stops
# everything and exits 0. (A shell started in the background by a non-interactive shell, as in
# `scripts/run-cluster.sh &` inside a script, inherits SIGINT as ignored and cannot trap it:
# stop such an instance with SIGTERM.)
#
# Environment overrides:
#   SHOAL_PORT             proxy port                         (default 6379)
#   SHOAL_NODE_BASE_PORT   first node port; nodes use +0..+2  (default 7001)
#   SHOAL_THREADS          proxy worker threads               (default 2)
#   SHOAL_NODE_THREADS     threads of each node               (default 1)
#   SHOAL_REPLICAS         replicas per key                   (default 3)
#   SHOAL_CONSISTENCY      read and write consistency         (default quorum)
#   SHOAL_LOG_LEVEL        log level of every process         (default info)
#   SHOAL_ADMIN_BASE_PORT  first node admin port (+0..+2); the proxy's admin is the default
#                          127.0.0.1:9701                     (default 9710)
#   SHOAL_BIN              directory holding the binaries     (default build/bin)
#   SHOAL_RUN_DIR          data dirs and logs                 (default build/run)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${SHOAL_BIN:-$ROOT/build/bin}
RUN_DIR=${SHOAL_RUN_DIR:-$ROOT/build/run}
PROXY_PORT=${SHOAL_PORT:-6379}
NODE_BASE_PORT=${SHOAL_NODE_BASE_PORT:-7001}
PROXY_THREADS=${SHOAL_THREADS:-2}
NODE_THREADS=${SHOAL_NODE_THREADS:-1}
REPLICAS=${SHOAL_REPLICAS:-3}
CONSISTENCY=${SHOAL_CONSISTENCY:-quorum}
LOG_LEVEL=${SHOAL_LOG_LEVEL:-info}
ADMIN_BASE_PORT=${SHOAL_ADMIN_BASE_PORT:-9710}
NODE_IDS=(a b c)

die() { echo "run-cluster: $*" >&2; exit 1; }

for v in PROXY_PORT NODE_BASE_PORT PROXY_THREADS NODE_THREADS REPLICAS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
[[ -x $BIN/shoal-node ]] || die "$BIN/shoal-node not found; build it with 'make' (or use 'make run')"
HAVE_PROXY=1
if [[ ! -x $BIN/shoal-proxy ]]; then
  HAVE_PROXY=0
  echo "run-cluster: $BIN/shoal-proxy not found; starting the nodes only" >&2
fi
command -v redis-cli >/dev/null || die "redis-cli not found (Debian package redis-tools; 'make deps')"

# A port is taken when something listens on it (any address) or a connect to 127.0.0.1 succeeds.
port_taken() {
  local port=$1
  if command -v ss >/dev/null && [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
    return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

NODE_PORTS=()
for i in "${!NODE_IDS[@]}"; do NODE_PORTS+=($((NODE_BASE_PORT + i))); done
PORTS=("${NODE_PORTS[@]}")
((HAVE_PROXY)) && PORTS+=("$PROXY_PORT")
for port in "${PORTS[@]}"; do
  if port_taken "$port"; then
    who=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*' | head -1)
    die "port $port is already in use${who:+ (${who#users:((})}; stop that process or choose" \
        "other ports with SHOAL_PORT=... SHOAL_NODE_BASE_PORT=..."
  fi
done

mkdir -p "$RUN_DIR" || die "cannot create $RUN_DIR"

PIDS=()
NAMES=()
STOPPING=0

stop_all() {
  ((STOPPING)) && return
  STOPPING=1
  local pid
  # Proxy first (it was started last), then the nodes.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null
  done
  # Give them 10 s to exit cleanly, then SIGKILL what is left.
  for _ in $(seq 100); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!PIDS[@]}"; do
    if kill -0 "${PIDS[i]}" 2>/dev/null; then
      echo "run-cluster: ${NAMES[i]} did not exit after SIGTERM; killing it" >&2
      kill -KILL "${PIDS[i]}" 2>/dev/null
    fi
  done
  wait 2>/dev/null
}

on_signal() {
  echo
  echo "run-cluster: stopping..."
  stop_all
  echo "run-cluster: stopped"
  exit 0
}
trap on_signal INT TERM
# An unexpected exit of this script (error, `die`) must not leave processes behind.
trap 'stop_all' EXIT

start() {  # start NAME LOG ARGS...
  local name=$1 log=$2
  shift 2
  echo "--- $(date -u +%FT%TZ) starting: $*" >"$log"  # each run starts a fresh log
  "$@" >>"$log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
}

fail_start() {  # fail_start NAME LOG REASON
  echo "run-cluster: $1 $3; last lines of $2:" >&2
  tail -n 20 "$2" | sed 's/^/  | /' >&2
  exit 1
}

# Waits until CHECK succeeds while process PID lives, for up to 15 s.
wait_ready() {  # wait_ready NAME PID LOG CHECK...
  local name=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || fail_start "$name" "$log" "exited during start-up"
    "$@" && return 0
    sleep 0.1
  done
  fail_start "$name" "$log" "was not ready after 15 s"
}

NODES_ARG=""
# Every node knows the whole member list (hint replay and anti-entropy reach their peers).
for i in "${!NODE_IDS[@]}"; do
  NODES_ARG+="${NODES_ARG:+,}${NODE_IDS[i]}=127.0.0.1:${NODE_PORTS[i]}"
done
for i in "${!NODE_IDS[@]}"; do
  id=${NODE_IDS[i]}
  port=${NODE_PORTS[i]}
  mkdir -p "$RUN_DIR/$id"
  # --warmup-ms 0: the whole local cluster starts (or restarts) at once and empty, so no replica
  # holds data a warming one could hide; a warm-up would only make reads NOQUORUM for a minute.
  start "node $id" "$RUN_DIR/node-$id.log" "$BIN/shoal-node" --id "$id" \
    --listen "127.0.0.1:$port" --data-dir "$RUN_DIR/$id" --max-memory 256mb \
    --threads "$NODE_THREADS" --log-level "$LOG_LEVEL" --warmup-ms 0 \
    --nodes "$NODES_ARG" --replicas "$REPLICAS" --admin "127.0.0.1:$((ADMIN_BASE_PORT + i))"
done
for i in "${!NODE_IDS[@]}"; do
  wait_ready "node ${NODE_IDS[i]}" "${PIDS[i]}" "$RUN_DIR/node-${NODE_IDS[i]}.log" \
    port_taken "${NODE_PORTS[i]}"
done

if ((HAVE_PROXY)); then
  start proxy "$RUN_DIR/proxy.log" "$BIN/shoal-proxy" --listen "127.0.0.1:$PROXY_PORT" \
    --nodes "$NODES_ARG" --replicas "$REPLICAS" --read-consistency "$CONSISTENCY" \
    --write-consistency "$CONSISTENCY" --timeout-ms 1000 --threads "$PROXY_THREADS" \
    --log-level "$LOG_LEVEL"
  proxy_pongs() { [[ $(redis-cli -p "$PROXY_PORT" ping 2>/dev/null) == PONG ]]; }
  wait_ready proxy "${PIDS[-1]}" "$RUN_DIR/proxy.log" proxy_pongs
fi

echo
echo "Shoal is running (Ctrl-C stops it)."
for i in "${!NODE_IDS[@]}"; do
  printf '  node %s   127.0.0.1:%s   log %s   admin http://127.0.0.1:%s/metrics\n' \
    "${NODE_IDS[i]}" "${NODE_PORTS[i]}" "$RUN_DIR/node-${NODE_IDS[i]}.log" "$((ADMIN_BASE_PORT + i))"
done
if ((HAVE_PROXY)); then
  printf '  proxy    127.0.0.1:%s   log %s   (replicas %s, consistency %s)\n' "$PROXY_PORT" \
    "$RUN_DIR/proxy.log" "$REPLICAS" "$CONSISTENCY"
  echo
  echo "Try:  redis-cli -p $PROXY_PORT set a b && redis-cli -p $PROXY_PORT get a"
  echo "      curl -s http://127.0.0.1:9701/metrics   (the proxy's admin endpoint, if 9701 was free)"
else
  echo
  echo "No proxy yet: talk to a node with  $BIN/shoalctl --node 127.0.0.1:${NODE_PORTS[0]} set a b"
fi
echo

# Wait for a signal; if a process dies on its own, report it and stop the rest.
while true; do
  wait -n "${PIDS[@]}"
  status=$?
  ((STOPPING)) && break
  if ((status == 0)); then
    # A clean exit is a process stopping on SIGINT/SIGTERM, e.g. Ctrl-C delivered to the whole
    # process group before (or instead of) this script's own trap: stop the rest the same way.
    on_signal
  fi
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      log="$RUN_DIR/proxy.log"
      [[ ${NAMES[i]} == node* ]] && log="$RUN_DIR/node-${NAMES[i]#node }.log"
      echo "run-cluster: ${NAMES[i]} exited unexpectedly; stopping the cluster" >&2
      tail -n 20 "$log" | sed 's/^/  | /' >&2
      stop_all
      exit 1
    fi
  done
done
