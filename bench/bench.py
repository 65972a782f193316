#!/usr/bin/python3
"""Shoal benchmark: Shoal against redis-server and twemproxy, side by side on this machine.

Started by bench/run.sh (`make bench`). Uses only the Python standard library and Debian's
redis-server, redis-benchmark and nutcracker. It starts every system on free ports (side by side),
checks that a SET/GET round trip works on each, then drives them one at a time with
redis-benchmark (SET and GET, unpipelined and pipelined, --csv), interleaved over rounds. It then prints a table with each
system's ops/s as a ratio of redis-server's in the same run, and writes bench/results/<UTC>.json,
.csv and .md plus latest.{csv,json,md}.

Every knob is a flag and also an environment variable (see --help). Processes started here are
stopped on normal exit, on error, on Ctrl-C and on SIGTERM.
"""
import argparse
import csv
import datetime
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# System keys, in run order, with the labels used in the table.
SYSTEMS = {
    "redis": "redis-server",
    "twemproxy": "twemproxy + 3 redis",
    "shoal-n1": "shoal N=1",
    "shoal-n3q": "shoal N=3 quorum",
    "shoal-n3q-heal": "shoal N=3 quorum, self-healing",
}
# The pair whose ratio is the cost of self-healing (hints, digests, anti-entropy, sync on start).
HEAL_ON, HEAL_OFF = "shoal-n3q-heal", "shoal-n3q"
# Node counters (shoalctl info) of the anti-entropy traffic measured on the idle, agreeing cluster.
AE_COUNTERS = ["antientropy_rounds", "antientropy_digest_requests", "antientropy_digest_bytes",
               "antientropy_summary_nodes", "antientropy_slices_exchanged",
               "antientropy_keys_repaired", "antientropy_bytes_repaired", "antientropy_errors"]
TESTS = ["SET", "GET"]


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--requests", type=int, default=env_int("BENCH_REQUESTS", 100000),
      help="requests per test, unpipelined (env BENCH_REQUESTS, default 100000)")
    a("--requests-pipelined", type=int, default=env_int("BENCH_REQUESTS_PIPELINED", 0),
      help="requests per test with -P (env BENCH_REQUESTS_PIPELINED, default 2x --requests)")
    a("--clients", type=int, default=env_int("BENCH_CLIENTS", 50),
      help="redis-benchmark -c (env BENCH_CLIENTS, default 50)")
    a("--pipeline", type=int, default=env_int("BENCH_PIPELINE", 16),
      help="redis-benchmark -P for the pipelined runs (env BENCH_PIPELINE, default 16)")
    a("-d", "--data-size", type=int, default=env_int("BENCH_DATA_SIZE", 3),
      help="value size in bytes, redis-benchmark -d (env BENCH_DATA_SIZE, default 3)")
    a("--keyspace", type=int, default=env_int("BENCH_KEYSPACE", 100000),
      help="redis-benchmark -r (env BENCH_KEYSPACE, default 100000)")
    a("--rounds", type=int, default=env_int("BENCH_ROUNDS", 5),
      help="run every system this many times, interleaved; the table shows medians "
           "(env BENCH_ROUNDS, default 5)")
    a("--systems", default=os.environ.get("BENCH_SYSTEMS", ",".join(SYSTEMS)),
      help="comma-separated subset of " + ",".join(SYSTEMS) + " (env BENCH_SYSTEMS)")
    a("--proxy-threads", type=int, default=env_int("BENCH_PROXY_THREADS", 2),
      help="shoal-proxy --threads (env BENCH_PROXY_THREADS, default 2)")
    a("--node-threads", type=int, default=env_int("BENCH_NODE_THREADS", 1),
      help="shoal-node --threads (env BENCH_NODE_THREADS, default 1)")
    a("--ae-interval-ms", type=int, default=env_int("BENCH_AE_INTERVAL_MS", 1000),
      help="shoal-node --anti-entropy-interval-ms of the self-healing system; short, so that "
           "its cost shows (env BENCH_AE_INTERVAL_MS, default 1000; the node's default is "
           "60000)")
    a("--ae-idle-intervals", type=int, default=env_int("BENCH_AE_IDLE_INTERVALS", 10),
      help="after the rounds, anti-entropy traffic of the idle self-healing cluster is counted "
           "over this many intervals; 0 skips it (env BENCH_AE_IDLE_INTERVALS, default 10)")
    a("--timeout", type=int, default=env_int("BENCH_TIMEOUT", 180),
      help="seconds one redis-benchmark invocation may take (env BENCH_TIMEOUT, default 180)")
    a("--bin", default=os.environ.get("SHOAL_BIN", str(ROOT / "build" / "bin")),
      help="directory of shoal-node and shoal-proxy (env SHOAL_BIN, default build/bin)")
    a("--out", default=os.environ.get("BENCH_OUT", str(ROOT / "bench" / "results")),
      help="results directory (env BENCH_OUT, default bench/results)")
    a("--keep-logs", action="store_true", default=os.environ.get("BENCH_KEEP_LOGS") == "1",
      help="keep the temporary directory with every process's log (env BENCH_KEEP_LOGS=1)")
    args = p.parse_args()
    if args.requests_pipelined <= 0:
        args.requests_pipelined = 2 * args.requests
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in args.systems:
        if s not in SYSTEMS:
            p.error(f"unknown system {s!r}; choose from {', '.join(SYSTEMS)}")
    return args


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- processes ---------------------------------------------------------------------------------

def free_ports(n):
    """n distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def tail(path, lines=15):
    try:
        return "\n".join("  | " + l for l in Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "  | (no log)"


class Proc:
    """A child process logging to a file. stop() sends SIGTERM, waits, then SIGKILL."""

    def __init__(self, name, args, log_path):
        self.name, self.args, self.log_path = name, args, log_path
        with open(log_path, "ab") as f:
            f.write(("--- " + " ".join(map(str, args)) + "\n").encode())
            f.flush()
            self.popen = subprocess.Popen(list(map(str, args)), stdout=f, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=10.0):
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"{self.name} ignored SIGTERM for {grace:.0f}s; killing it")
            self.popen.kill()
            self.popen.wait()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a live process (all threads), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


def children_cpu_seconds():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class ProcGroup:
    """The processes of one system under test."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self.node_ports = []  # Shoal systems: the nodes' ports (for shoalctl info)

    def start(self, name, args):
        proc = Proc(name, args, self.workdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def cpu(self):
        return {p.name: cpu_seconds(p.popen.pid) for p in self.procs}

    def stop(self):
        for proc in reversed(self.procs):  # front end first
            proc.stop()
        self.procs = []


# ---- a minimal RESP client for readiness and sanity checks --------------------------------------

def resp_command(port, *args, timeout=2.0):
    """Sends one command to 127.0.0.1:port and returns the decoded reply (errors as BenchError)."""
    out = f"*{len(args)}\r\n".encode()
    for arg in args:
        b = arg if isinstance(arg, bytes) else str(arg).encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(out)
        f = s.makefile("rb")
        return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise BenchError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode()
    if kind == b"-":
        raise BenchError(body.decode(errors="replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        n = int(body)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(body)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise BenchError(f"unexpected reply {line!r}")


def wait_ready(port, procs, what, timeout=20.0):
    """Waits until PING on port answers PONG while every process of procs lives."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        for p in procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited with {p.popen.returncode} during start-up:\n"
                                 + tail(p.log_path))
        try:
            if resp_command(port, "PING", timeout=1.0) == "PONG":
                return
        except (OSError, BenchError) as e:
            last = e
        time.sleep(0.1)
    raise BenchError(f"{what} on port {port} did not answer PING in {timeout:.0f}s ({last})")


def wait_listening(port, proc, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode} during start-up:\n"
                             + tail(proc.log_path))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{proc.name} did not listen on port {port} in {timeout:.0f}s")


# ---- the systems -------------------------------------------------------------------------------

def start_redis(group, name, port):
    proc = group.start(name, ["redis-server", "--port", port, "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", group.workdir,
                              "--protected-mode", "no"])
    return proc


def start_system(key, group, args):
    """Starts system `key`; returns the port to benchmark."""
    if key == "redis":
        (port,) = free_ports(1)
        proc = start_redis(group, "redis", port)
        wait_ready(port, [proc], "redis-server")
        return port

    if key == "twemproxy":
        port, stats_port, *rports = free_ports(5)
        procs = [start_redis(group, f"redis-{i}", rp) for i, rp in enumerate(rports)]
        for rp, p in zip(rports, procs):
            wait_ready(rp, [p], p.name)
        conf = group.workdir / "nutcracker.yml"
        servers = "".join(f"    - 127.0.0.1:{rp}:1 r{i}\n" for i, rp in enumerate(rports))
        conf.write_text(
            "shoal_bench:\n"
            f"  listen: 127.0.0.1:{port}\n"
            "  hash: fnv1a_64\n"
            "  distribution: ketama\n"
            "  redis: true\n"
            "  preconnect: true\n"
            "  auto_eject_hosts: false\n"
            "  timeout: 2000\n"
            "  servers:\n" + servers)
        proc = group.start("nutcracker", ["nutcracker", "-c", conf, "-o",
                                          group.workdir / "nutcracker.out", "-s", stats_port,
                                          "-a", "127.0.0.1", "-p", group.workdir / "nc.pid"])
        wait_ready(port, procs + [proc], "nutcracker")
        return port

    # Shoal: 3 nodes + proxy.
    binary_dir = Path(args.bin)
    for b in ("shoal-node", "shoal-proxy"):
        if not os.access(binary_dir / b, os.X_OK):
            raise SkipSystem(f"{binary_dir / b} not found (build it with make)")
    replicas, consistency = (1, "one") if key == "shoal-n1" else (3, "quorum")
    port, *nports = free_ports(4)
    node_list = ",".join(f"{i}=127.0.0.1:{np}" for i, np in zip("abc", nports))
    # Self-healing needs the member list on the nodes (hint replay, anti-entropy, sync on start);
    # without it a node is standalone and none of that runs.
    healing = (["--nodes", node_list, "--replicas", replicas, "--anti-entropy-interval-ms",
                args.ae_interval_ms] if key == HEAL_ON else [])
    nodes = []
    for node_id, np in zip("abc", nports):
        data_dir = group.workdir / f"data-{node_id}"
        data_dir.mkdir()
        nodes.append(group.start(f"node-{node_id}", [
            binary_dir / "shoal-node", "--id", node_id, "--listen", f"127.0.0.1:{np}",
            "--data-dir", data_dir, "--max-memory", "256mb", "--threads", args.node_threads,
            "--log-level", "warn", *healing]))
    for np, p in zip(nports, nodes):
        wait_listening(np, p)
    group.node_ports = nports
    if healing:  # reads are answered NotReady until each node's start-up sync is done
        for np, p in zip(nports, nodes):
            wait_node_ready(args, np, p)
    proxy = group.start("proxy", [
        binary_dir / "shoal-proxy", "--listen", f"127.0.0.1:{port}", "--nodes", node_list,
        "--replicas", replicas, "--read-consistency", consistency, "--write-consistency",
        consistency, "--timeout-ms", "2000", "--threads", args.proxy_threads,
        "--log-level", "warn"])
    wait_ready(port, nodes + [proxy], "shoal-proxy")
    return port


class SkipSystem(Exception):
    pass


def node_info(args, port):
    """A node's `shoalctl info` as {name: int or str}."""
    res = subprocess.run([str(Path(args.bin) / "shoalctl"), "--node", f"127.0.0.1:{port}",
                          "info"], capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        raise BenchError(f"shoalctl info on port {port}: {(res.stderr or res.stdout).strip()}")
    out = {}
    for line in res.stdout.splitlines():
        name, _, value = line.partition(": ")
        out[name] = int(value) if value.isdigit() else value
    return out


def wait_node_ready(args, port, proc, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode} during start-up:\n"
                             + tail(proc.log_path))
        if node_info(args, port).get("ready") == 1:
            return
        time.sleep(0.1)
    raise BenchError(f"{proc.name} was not ready (start-up sync) in {timeout:.0f}s")


def ae_counters(args, ports):
    """AE_COUNTERS summed over the nodes, plus the data they hold."""
    total = dict.fromkeys(AE_COUNTERS + ["keys", "memory_used_bytes"], 0)
    for port in ports:
        i = node_info(args, port)
        for name in total:
            total[name] += i.get(name, 0) if isinstance(i.get(name), int) else 0
    return total


def measure_idle_anti_entropy(sut, args):
    """Anti-entropy traffic while the replicas agree: the counters' growth, summed over the 3
    nodes, over --ae-idle-intervals intervals of the idle cluster (after one interval for the
    rounds still busy with the benchmark's last writes)."""
    interval_s = args.ae_interval_ms / 1000
    time.sleep(2 * interval_s)
    before = ae_counters(args, sut.group.node_ports)
    started = time.time()
    time.sleep(args.ae_idle_intervals * interval_s)
    after = ae_counters(args, sut.group.node_ports)
    delta = {k: after[k] - before[k] for k in AE_COUNTERS}
    out = {"intervals": args.ae_idle_intervals, "interval_ms": args.ae_interval_ms,
           "seconds": round(time.time() - started, 1), "nodes": len(sut.group.node_ports),
           "keys_held": after["keys"], "memory_used_bytes": after["memory_used_bytes"], **delta}
    log(f"{sut.label}: idle anti-entropy over {out['seconds']}s: " +
        ", ".join(f"{k} {v}" for k, v in delta.items()) +
        f"; the nodes hold {after['keys']} keys, {after['memory_used_bytes']} bytes")
    return out


def healing_cost(rows, idle, load, interval_ms):
    """The self-healing system's ops/s over the same cluster's without it, per test, and the
    anti-entropy figures; None when either did not run."""
    rps = {(r["system"], r["test"], r["pipeline"]): r["rps"] for r in rows if r["status"] == "ok"}
    ratios = {}
    for (system, test, pipeline), v in rps.items():
        off = rps.get((HEAL_OFF, test, pipeline))
        if system == HEAL_ON and off:
            ratios[f"{test} -P {pipeline}"] = round(v / off, 3)
    if not ratios:
        return None
    return {"ratio_on_to_off": ratios, "ae_interval_ms": interval_ms,
            "anti_entropy_during_rounds": load,
            "anti_entropy_idle": idle}


def healing_text(cost):
    lines = ["Cost of self-healing (shoal N=3 quorum with --nodes, hints and anti-entropy every "
             f"{cost['ae_interval_ms']} "
             "ms, over the same cluster without them), ops/s ratio on/off in this run: " +
             ", ".join(f"{k} {v:.2f}" for k, v in cost["ratio_on_to_off"].items())]
    load = cost["anti_entropy_during_rounds"]
    if load:
        lines.append("Anti-entropy during the rounds (3 nodes): " +
                     ", ".join(f"{k.removeprefix('antientropy_')} {v}" for k, v in load.items()))
    idle = cost["anti_entropy_idle"]
    if idle:
        per = idle["intervals"]
        lines.append(
            f"Anti-entropy of the idle, agreeing cluster over {per} intervals "
            f"({idle['seconds']} s, 3 nodes holding {idle['keys_held']} keys, "
            f"{idle['memory_used_bytes']} bytes): {idle['antientropy_rounds']} rounds, "
            f"{idle['antientropy_digest_requests']} summary requests "
            f"({idle['antientropy_digest_requests'] / per:.1f} per interval), "
            f"{idle['antientropy_digest_bytes']} summary bytes "
            f"({idle['antientropy_digest_bytes'] / per:.0f} per interval), "
            f"{idle['antientropy_slices_exchanged']} slices exchanged, "
            f"{idle['antientropy_keys_repaired']} keys / {idle['antientropy_bytes_repaired']} "
            f"bytes repaired")
    return "\n".join(lines)


def smoke_test(port, data_size):
    """A SET then GET through the system must round-trip the value."""
    value = b"v" * data_size
    reply = resp_command(port, "SET", "bench:smoke", value)
    if reply != "OK":
        raise BenchError(f"SET answered {reply!r}")
    got = resp_command(port, "GET", "bench:smoke")
    if got != value:
        raise BenchError(f"GET answered {got!r}, expected {value!r}")


def sample_keys(port, keyspace, data_size, n=50):
    """After the SET test: how many of n spread-out benchmark keys read back as written."""
    hits = 0
    step = max(1, keyspace // n)
    for i in range(0, min(keyspace, n * step), step):
        got = resp_command(port, "GET", f"key:{i:012d}")
        if got is not None:
            if not isinstance(got, bytes) or len(got) != data_size:
                raise BenchError(f"GET key:{i:012d} answered {got!r:.60}, expected {data_size} bytes")
            hits += 1
    return hits, len(range(0, min(keyspace, n * step), step))


# ---- redis-benchmark ---------------------------------------------------------------------------

def run_redis_benchmark(port, args, pipeline):
    requests = args.requests if pipeline == 1 else args.requests_pipelined
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(args.clients),
           "-n", str(requests), "-r", str(args.keyspace), "-d", str(args.data_size),
           "-t", ",".join(t.lower() for t in TESTS), "-P", str(pipeline), "--csv"]
    started = time.time()
    client_cpu = children_cpu_seconds()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"redis-benchmark took over {args.timeout}s: {' '.join(cmd)}")
    if res.returncode != 0:
        raise BenchError(f"redis-benchmark exited {res.returncode}: "
                         f"{(res.stderr or res.stdout).strip()[-500:]}")
    rows = {}
    for row in csv.DictReader(io.StringIO(res.stdout)):
        try:
            rows[row["test"]] = {
                "rps": float(row["rps"]),
                "avg_ms": float(row["avg_latency_ms"]),
                "p50_ms": float(row["p50_latency_ms"]),
                "p95_ms": float(row["p95_latency_ms"]),
                "p99_ms": float(row["p99_latency_ms"]),
                "max_ms": float(row["max_latency_ms"]),
                "requests": requests,
            }
        except (KeyError, ValueError) as e:
            raise BenchError(f"cannot parse redis-benchmark output ({e}): {res.stdout[:500]}")
    missing = [t for t in TESTS if t not in rows]
    if missing:
        raise BenchError(f"redis-benchmark printed no result for {missing}: {res.stdout[:500]}")
    return rows, time.time() - started, children_cpu_seconds() - client_cpu


class SystemUnderTest:
    """One system's processes and port, or why it is not running."""

    def __init__(self, key, workdir):
        self.key, self.label = key, SYSTEMS[key]
        self.group = ProcGroup(workdir)
        self.ae_start = None  # anti-entropy counters when the rounds start (self-healing only)
        self.port = None
        self.status, self.note = "ok", ""

    def start(self, args):
        try:
            self.port = start_system(self.key, self.group, args)
            smoke_test(self.port, args.data_size)
            log(f"{self.label}: ready on port {self.port}")
        except SkipSystem as e:
            log(f"{self.label}: skipped: {e}")
            self.status, self.note = "skipped", str(e)
        except (BenchError, OSError) as e:
            log(f"{self.label}: failed to start: {e}")
            self.status, self.note = "failed", f"start: {str(e).splitlines()[0]}"
        if self.status != "ok":
            self.group.stop()

    def rows_without_results(self, pipeline):
        return [{"system": self.key, "test": t, "pipeline": pipeline, "status": self.status,
                 "note": self.note} for t in TESTS]

    def bench(self, args, pipeline):
        """Runs redis-benchmark once; returns result rows (ok or failed)."""
        if self.status != "ok":
            return self.rows_without_results(pipeline)
        load = Path("/proc/loadavg").read_text().split()[0]
        cpu_before = self.group.cpu()
        try:
            results, secs, client_cpu = run_redis_benchmark(self.port, args, pipeline)
            cpu_after = self.group.cpu()
            hits, sampled = sample_keys(self.port, args.keyspace, args.data_size)
        except (BenchError, OSError) as e:
            log(f"{self.label} -P {pipeline}: failed: {e}")
            dead = [p for p in self.group.procs if not p.alive()]
            for p in dead:
                log(f"{p.name} died:\n{tail(p.log_path)}")
            note = str(e).splitlines()[0][:200]
            if dead:  # nothing more to measure on this system
                self.status = "failed"
                self.note = f"{', '.join(p.name for p in dead)} died; {note}"
                self.group.stop()
            return [{"system": self.key, "test": t, "pipeline": pipeline, "status": "failed",
                     "note": note} for t in TESTS]
        # Cores each process kept busy during the redis-benchmark run (SET and GET together).
        cores = {name: round((cpu_after[name] - cpu_before[name]) / secs, 2)
                 for name in cpu_before
                 if cpu_before[name] is not None and cpu_after.get(name) is not None}
        cores["redis-benchmark"] = round(client_cpu / secs, 2)
        log(f"{self.label} -P {pipeline}: " + ", ".join(
            f"{t} {results[t]['rps']:,.0f}/s" for t in TESTS) + f" ({secs:.1f}s; cores busy: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()) + ")")
        return [{"system": self.key, "test": t, "pipeline": pipeline, "status": "ok",
                 "note": f"{hits}/{sampled} sampled keys read back after SET",
                 "loadavg_1m_before": float(load), "cores_busy": cores, **results[t]}
                for t in TESTS]


# ---- reporting ---------------------------------------------------------------------------------

def machine_info():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass

    def version(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    def git(*a):
        try:
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True,
                                  timeout=5).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "mem_gib": mem_gib,
        "os": version(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "redis_server": version(["redis-server", "--version"]),
        "redis_benchmark": version(["redis-benchmark", "--version"]),
        "nutcracker": version(["nutcracker", "--version"]),
        "shoal_commit": git("rev-parse", "--short", "HEAD") + (
            "+uncommitted" if git("status", "--porcelain", "--", "common", "node", "proxy",
                                  "schemas") else ""),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def aggregate(all_rounds, systems, args):
    """Median over rounds per (system, test, pipeline), plus the ratio to redis-server."""
    out = []
    for key in systems:
        for pipeline in (1, args.pipeline):
            for t in TESTS:
                runs = [r for rnd in all_rounds for r in rnd
                        if r["system"] == key and r["test"] == t and r["pipeline"] == pipeline]
                ok = [r for r in runs if r["status"] == "ok"]
                row = {"system": key, "label": SYSTEMS[key], "test": t, "pipeline": pipeline,
                       "rounds_ok": len(ok), "rounds": len(runs)}
                if ok:
                    row["status"] = "ok"
                    for f in ("rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"):
                        row[f] = statistics.median(r[f] for r in ok)
                    row["rps_min"] = min(r["rps"] for r in ok)
                    row["rps_max"] = max(r["rps"] for r in ok)
                    row["requests"] = ok[0]["requests"]
                    row["note"] = "; ".join(sorted({r["note"] for r in ok}))
                else:
                    row["status"] = runs[0]["status"] if runs else "skipped"
                    row["note"] = runs[0].get("note", "") if runs else "not run"
                out.append(row)
    base = {(r["test"], r["pipeline"]): r["rps"] for r in out
            if r["system"] == "redis" and r["status"] == "ok"}
    for r in out:
        b = base.get((r["test"], r["pipeline"]))
        r["ratio_to_redis"] = round(r["rps"] / b, 3) if (r["status"] == "ok" and b) else None
    return out


def fmt_row(r):
    if r["status"] != "ok":
        return [r["label"], r["test"], str(r["pipeline"]), r["status"], "", "", ""]
    ratio = f"{r['ratio_to_redis']:.2f}" if r["ratio_to_redis"] is not None else "n/a"
    return [r["label"], r["test"], str(r["pipeline"]), f"{r['rps']:,.0f}", f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.3f}", ratio]


HEADER = ["system", "test", "pipeline", "ops/s", "p50 ms", "p99 ms", "vs redis"]


def text_table(rows):
    cells = [HEADER] + [fmt_row(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) if i < 3 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(c, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * 4) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt_row(r)) + " |")
    return "\n".join(lines)


CSV_FIELDS = ["timestamp", "system", "label", "test", "pipeline", "clients", "requests",
              "data_size", "keyspace", "rounds_ok", "rps", "rps_min", "rps_max", "avg_ms", "p50_ms", "p95_ms",
              "p99_ms", "max_ms", "ratio_to_redis", "status", "note"]


def write_results(out_dir, stamp, meta, rows, rounds):
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / stamp
    doc = {**meta, "results": rows, "rounds": rounds}
    base.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    with open(base.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({"timestamp": meta["timestamp"], "clients": meta["config"]["clients"],
                        "data_size": meta["config"]["data_size"],
                        "keyspace": meta["config"]["keyspace"], **r})
    m = meta["machine"]
    c = meta["config"]
    md = (f"Run {meta['timestamp']} on {m['nproc']} x {m['cpu_model']}, kernel {m['kernel']}, "
          f"{m['mem_gib']} GiB; Shoal {m['shoal_commit']}; {c['clients']} clients, "
          f"{c['requests']} requests unpipelined / {c['requests_pipelined']} with -P "
          f"{c['pipeline']}, {c['data_size']}-byte values, {c['keyspace']} keys, "
          f"{c['rounds']} round(s) (median); shoal-proxy --threads {c['proxy_threads']}, "
          f"shoal-node --threads {c['node_threads']}.\n\n" + markdown_table(rows) + "\n")
    if meta.get("healing_cost"):
        md += "\n" + healing_text(meta["healing_cost"]) + "\n"
    base.with_suffix(".md").write_text(md)
    for suffix in (".json", ".csv", ".md"):
        shutil.copyfile(base.with_suffix(suffix), out_dir / f"latest{suffix}")
    return base


# ---- main --------------------------------------------------------------------------------------

def main():
    args = parse_args()
    for tool in ("redis-server", "redis-benchmark", "nutcracker"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found; run `make deps` (Debian packages redis-server, "
                     "redis-tools, nutcracker)")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "config": {"clients": args.clients, "requests": args.requests,
                   "requests_pipelined": args.requests_pipelined, "pipeline": args.pipeline,
                   "data_size": args.data_size, "keyspace": args.keyspace,
                   "rounds": args.rounds, "systems": args.systems,
                   "proxy_threads": args.proxy_threads, "node_threads": args.node_threads,
                   "ae_interval_ms": args.ae_interval_ms,
                   "ae_idle_intervals": args.ae_idle_intervals,
                   "tests": TESTS},
    }
    m = meta["machine"]
    log(f"{m['nproc']} x {m['cpu_model']}, kernel {m['kernel']}; load {' '.join(m['loadavg_at_start'])}")
    if float(m["loadavg_at_start"][0]) > 0.5 * (m["nproc"] or 1):
        log("warning: the machine is busy (1-minute load average "
            f"{m['loadavg_at_start'][0]} on {m['nproc']} cores); numbers will be noisy")
    workroot = Path(tempfile.mkdtemp(prefix="shoal-bench-"))
    started = time.time()
    rounds = []
    failed = False
    systems = [SystemUnderTest(key, workroot / key) for key in args.systems]
    try:
        # All systems run side by side (idle when not measured); the redis-benchmark runs are
        # interleaved, and the order rotates every round, so that a change in background load
        # hits every system alike instead of whichever was measured at the time.
        for sut in systems:
            sut.group.workdir.mkdir()
            sut.start(args)
        heal = next((s for s in systems if s.key == HEAL_ON and s.status == "ok"), None)
        if heal is not None:
            heal.ae_start = ae_counters(args, heal.group.node_ports)
        for rnd in range(args.rounds):
            if args.rounds > 1:
                log(f"round {rnd + 1}/{args.rounds}")
            rows = []
            order = systems[rnd % len(systems):] + systems[:rnd % len(systems)]
            for pipeline in (1, args.pipeline):
                for sut in order:
                    rows += sut.bench(args, pipeline)
            rounds.append(rows)
            failed = failed or any(r["status"] == "failed" for r in rows)
        ae_load = ae_idle = None
        if heal is not None and heal.status == "ok":
            now = ae_counters(args, heal.group.node_ports)
            ae_load = {k: now[k] - heal.ae_start[k] for k in AE_COUNTERS}
            if args.ae_idle_intervals > 0:
                ae_idle = measure_idle_anti_entropy(heal, args)
    except KeyboardInterrupt:
        log(f"interrupted; stopping everything; logs in {workroot}")
        sys.exit(130)
    finally:
        for sut in systems:
            sut.group.stop()
    meta["duration_s"] = round(time.time() - started, 1)
    table = aggregate(rounds, args.systems, args)
    cost = healing_cost(table, ae_idle, ae_load, args.ae_interval_ms)
    meta["healing_cost"] = cost
    base = write_results(Path(args.out), stamp, meta, table, rounds)
    print()
    print(f"{meta['timestamp']}  {m['nproc']} x {m['cpu_model']}  kernel {m['kernel']}  "
          f"({meta['duration_s']:.0f}s, {args.rounds} round(s){', medians' if args.rounds > 1 else ''})")
    print(text_table(table))
    print()
    if cost:
        print(healing_text(cost))
        print()
    print(f"results: {base}.json, {base}.csv, {base}.md (and latest.*)")
    print("Both cores are shared by the servers and redis-benchmark: compare ratios within one "
          "run, not absolute numbers across runs.")
    if failed or args.keep_logs:
        print(f"process logs kept in {workroot}")
    else:
        shutil.rmtree(workroot, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
