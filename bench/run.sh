#!/usr/bin/env bash
# `make bench`: Shoal against redis-server and twemproxy on this machine (see docs/benchmarks.md).
# All options are environment variables or flags of bench/bench.py (`bench/run.sh --help`):
#   BENCH_REQUESTS (100000, unpipelined), BENCH_REQUESTS_PIPELINED (2x), BENCH_CLIENTS (50),
#   BENCH_PIPELINE (16), BENCH_DATA_SIZE (3), BENCH_KEYSPACE (100000), BENCH_ROUNDS (5),
#   BENCH_SYSTEMS (redis,twemproxy,shoal-n1,shoal-n3q,shoal-n3q-heal), BENCH_AE_INTERVAL_MS (1000),
#   BENCH_AE_IDLE_INTERVALS (10), BENCH_PROXY_THREADS (2), BENCH_NODE_THREADS (1),
#   BENCH_TIMEOUT, BENCH_OUT, SHOAL_BIN, BENCH_KEEP_LOGS=1.
# bench.py starts every process itself and stops them on exit, Ctrl-C and SIGTERM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Debian's interpreter: the python3 on PATH may be another one; bench.py needs only the stdlib.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
exec "$PY" bench/bench.py "$@"
