#!/usr/bin/env bash
# Runs Redis's own test suites in external-server mode against a Shoal cluster and prints how many
# tests pass, fail and are skipped per suite (README, "Redis's own test suites").
#
#   scripts/redis-suites.sh REDIS_DIR [UNIT...]
#
# REDIS_DIR: a Redis source checkout (it must hold tests/test_helper.tcl), ideally of the version
# Shoal answers like (7.0; e.g. `git clone -b 7.0.15 https://github.com/redis/redis`). Nothing is
# downloaded: without it the script says so and exits 2. The suite writes its scratch files under
# REDIS_DIR/tests/tmp, never in this repository.
# UNIT: suites to run (default: unit/type/string unit/type/incr unit/type/hash unit/type/set
# unit/expire unit/keyspace).
#
# Environment:
#   SHOAL_SUITE_PORT  test an already running proxy on this port instead of starting a cluster
#   SHOAL_BIN         binaries (default build/bin; built with `make` beforehand)
#   SHOAL_SUITE_LOGS  where each suite's output goes (default build/redis-suites)
#   SHOAL_SUITE_ARGS  more arguments for test_helper.tcl (e.g. "--verbose", "--only 'SETNX*'")
#
# Tests that need what a Redis proxy cannot offer are excluded by their tags: DEBUG, replication,
# CONFIG SET of memory limits and statistics resets, LATENCY, a local server process, SAVE,
# RESET, PFDEBUG (-needs:...), and the suite's own external:skip. unit/type/hash and unit/type/set
# run from a derived copy (REDIS_DIR/tests/tmp/shoal-filtered/...) made by the mechanical filter
# scripts/redis-suite-filter.sed: their encoding assertions and CONFIG SET of encoding thresholds
# are skipped (Shoal has no such encodings and refuses the CONFIG SET; outside a test that refusal
# ends the suite), so that their command tests run. SHOAL_SUITE_PORT=<a redis-server's port> runs
# the same (filtered) suites against redis-server, for comparison. --singledb: Shoal serves
# database 0 only. --durable: a test that hits an unsupported command counts as failed and the run
# goes on (without it the first such error ends the suite).
#
# Exit status: 0 when every suite ran to its end (whatever its failures), 1 otherwise, 2 on usage.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${SHOAL_BIN:-$ROOT/build/bin}
LOGS=${SHOAL_SUITE_LOGS:-$ROOT/build/redis-suites}
DEFAULT_UNITS=(unit/type/string unit/type/incr unit/type/hash unit/type/set unit/expire
  unit/keyspace)
FILTERED_UNITS=' unit/type/hash unit/type/set '
DENY_TAGS="-needs:debug -needs:repl -needs:config-maxmemory -needs:config-resetstat"
DENY_TAGS+=" -needs:latency -needs:local-process -needs:save -needs:reset -needs:pfdebug"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
REDIS_DIR=$(cd "$1" 2>/dev/null && pwd) || {
  echo "redis-suites: $1 is not a directory" >&2
  usage
}
shift
if [[ ! -f $REDIS_DIR/tests/test_helper.tcl ]]; then
  echo "redis-suites: $REDIS_DIR/tests/test_helper.tcl not found: give a Redis source checkout" >&2
  exit 2
fi
UNITS=("$@")
[[ ${#UNITS[@]} -gt 0 ]] || UNITS=("${DEFAULT_UNITS[@]}")
TCLSH=$(command -v tclsh8.6 || command -v tclsh) || {
  echo "redis-suites: tclsh not found (Debian package tcl)" >&2
  exit 2
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

CLUSTER_PID=""
RUN_DIR=""
cleanup() {
  if [[ -n $CLUSTER_PID ]]; then
    kill -TERM "$CLUSTER_PID" 2>/dev/null
    wait "$CLUSTER_PID" 2>/dev/null
  fi
  [[ -n $RUN_DIR ]] && rm -rf "$RUN_DIR"
}
trap cleanup EXIT

mkdir -p "$LOGS"
if [[ -n ${SHOAL_SUITE_PORT:-} ]]; then
  PORT=$SHOAL_SUITE_PORT
else
  # A cluster as `make run` starts it (scripts/run-cluster.sh), on free ports.
  PORT=$(free_port)
  NODE_BASE=$(free_port)
  while (( NODE_BASE > 65000 )); do NODE_BASE=$(free_port); done
  ADMIN_BASE=$(free_port)
  while (( ADMIN_BASE > 65000 )); do ADMIN_BASE=$(free_port); done
  RUN_DIR=$(mktemp -d /tmp/shoal-suites.XXXXXX)
  SHOAL_PORT=$PORT SHOAL_NODE_BASE_PORT=$NODE_BASE SHOAL_ADMIN_BASE_PORT=$ADMIN_BASE \
    SHOAL_RUN_DIR=$RUN_DIR SHOAL_BIN=$BIN SHOAL_LOG_LEVEL=warn \
    "$ROOT/scripts/run-cluster.sh" >"$LOGS/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 300); do
    [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$LOGS/cluster.log" >&2; exit 1; }
    sleep 0.1
  done
  [[ $(redis-cli -p "$PORT" ping 2>/dev/null) == PONG ]] || {
    echo "redis-suites: the cluster did not answer PING" >&2
    exit 1
  }
fi

status=0
printf '%-20s %6s %6s %8s %8s  %s\n' suite passed failed skipped ignored log
for unit in "${UNITS[@]}"; do
  log="$LOGS/$(echo "$unit" | tr / _).log"
  single=$unit
  if [[ $FILTERED_UNITS == *" $unit "* ]]; then
    single=tmp/shoal-filtered/$unit
    mkdir -p "$REDIS_DIR/tests/$(dirname "$single")"
    {
      printf '# Derived from tests/%s.tcl by scripts/redis-suite-filter.sed (Shoal).\n' "$unit"
      printf 'proc shoal_skipped_assert_encoding {args} {}\nproc shoal_skipped_config_set {args} {}\n'
      sed -f "$ROOT/scripts/redis-suite-filter.sed" "$REDIS_DIR/tests/$unit.tcl"
    } >"$REDIS_DIR/tests/$single.tcl"
  fi
  # shellcheck disable=SC2086 # SHOAL_SUITE_ARGS is split on purpose
  (cd "$REDIS_DIR" && "$TCLSH" tests/test_helper.tcl --host 127.0.0.1 --port "$PORT" \
    --singledb --durable --tags "$DENY_TAGS" --single "$single" ${SHOAL_SUITE_ARGS:-}) \
    >"$log" 2>&1
  # The suite colours its verdicts: strip the escapes before counting.
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  count() { grep -c "^\[$1\]" <<<"$plain"; }
  printf '%-20s %6s %6s %8s %8s  %s\n' "$unit" "$(count ok)" \
    "$(($(count err) + $(count exception)))" "$(count skip)" "$(count ignore)" "$log"
  # A run that ends normally prints "Cleanup: ..." last.
  if ! grep -q "^Cleanup" <<<"$(tail -n 3 <<<"$plain")"; then
    echo "  (the suite did not run to its end: see the log)"
    status=1
  fi
done
exit $status
