"""shoal-node driven the way an operator would: with shoalctl, flags and signals.

Wire-level behaviour (pipelining, errors, garbage frames) is in test_node_protocol.py.
"""
import os
import signal
import subprocess
import time

import pytest

import harness
from harness import shoalctl


def ctl_ok(port, *args):
    r = shoalctl(port, *args)
    assert r.returncode == 0, f"shoalctl {args}: rc={r.returncode} stderr={r.stderr}"
    return r.stdout


def info(port):
    out = ctl_ok(port, "info")
    result = {}
    for line in out.splitlines():
        name, _, value = line.partition(": ")
        result[name] = int(value) if value.isdigit() else value
    return result


def wait_until(predicate, timeout=5.0, interval=0.05):
    deadline = time.time() + harness.slow(timeout)  # (longer for sanitized binaries)
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def proc_status(pid, field):
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


# ---- basic commands ----------------------------------------------------------------------------

def test_set_get_del(node):
    assert ctl_ok(node.port, "set", "greeting", "hello world") == "OK\n"
    assert ctl_ok(node.port, "get", "greeting") == "hello world\n"
    assert ctl_ok(node.port, "set", "greeting", "again") == "OK\n"
    assert ctl_ok(node.port, "get", "greeting") == "again\n"
    assert ctl_ok(node.port, "del", "greeting") == "(integer) 1\n"
    assert ctl_ok(node.port, "get", "greeting") == "(nil)\n"
    assert ctl_ok(node.port, "del", "greeting") == "(integer) 0\n"
    # A delete leaves a versioned tombstone.
    stats = info(node.port)
    assert stats["tombstones"] == 1
    # A later set wins over the tombstone (shoalctl's clock starts above the node's max_hlc).
    assert ctl_ok(node.port, "set", "greeting", "back") == "OK\n"
    assert ctl_ok(node.port, "get", "greeting") == "back\n"


def test_get_missing_is_nil(node):
    assert ctl_ok(node.port, "get", "never-set") == "(nil)\n"
    assert ctl_ok(node.port, "del", "never-set") == "(integer) 0\n"


def test_many_keys_across_shards(node):
    for i in range(40):
        ctl_ok(node.port, "set", f"key:{i}", f"value:{i}")
    for i in range(40):
        assert ctl_ok(node.port, "get", f"key:{i}") == f"value:{i}\n"
    stats = info(node.port)
    assert stats["keys"] == 40
    assert stats["shards"] == 2
    # With 2 shards, about half the keys arrived on a thread that does not own them.
    assert stats["cross_shard_requests"] > 0


def test_values_that_look_like_flags_after_double_dash(node):
    assert ctl_ok(node.port, "set", "--", "k", "--not-a-flag") == "OK\n"
    assert ctl_ok(node.port, "get", "k") == "--not-a-flag\n"


def test_info_lists_the_readings(node):
    stats = info(node.port)
    for name in ("node_id", "keys", "memory_used_bytes", "memory_limit_bytes", "evictions",
                 "expirations", "tombstones", "stale_writes", "clock_skew_rejections",
                 "connections", "shards", "uptime_seconds", "max_hlc"):
        assert name in stats, name
    assert stats["node_id"] == "n1"
    assert stats["memory_limit_bytes"] == 256 * 1024 * 1024
    assert stats["connections"] >= 1


# ---- TTL ---------------------------------------------------------------------------------------

def test_ttl_expiry(node):
    # Long enough for three shoalctl runs before the first read (300 ms was not, on a loaded
    # machine, nor under a sanitizer, where each run starts slower: slow()).
    ttl_ms = str(int(harness.slow(1000)))
    assert ctl_ok(node.port, "set", "short", "lived", "--ttl-ms", ttl_ms) == "OK\n"
    assert ctl_ok(node.port, "set", "unread", "x", "--ttl-ms", ttl_ms) == "OK\n"
    assert ctl_ok(node.port, "set", "forever", "y") == "OK\n"
    assert ctl_ok(node.port, "get", "short") == "lived\n"
    assert wait_until(lambda: ctl_ok(node.port, "get", "short") == "(nil)\n", timeout=3)
    # "unread" is never touched: only the background expiry can expire it. Expired values stay
    # as tombstones of their versions (for the grace period), so both are counted as such.
    assert wait_until(lambda: info(node.port)["tombstones"] == 2, timeout=3), info(node.port)
    stats = info(node.port)
    assert stats["expirations"] == 2
    assert stats["keys"] == 3
    assert ctl_ok(node.port, "get", "forever") == "y\n"


# ---- memory limit ------------------------------------------------------------------------------

def test_eviction_keeps_memory_bounded(start_node):
    n = start_node("small", extra=("--max-memory", "32mb"))
    # ~100 MB of values through one pipelined connection.
    r = shoalctl(n.port, "fill", "--count", "100000", "--value-size", "1000", "--pipeline", "256",
                 timeout=120)
    assert r.returncode == 0, r.stderr
    rss = proc_status(n.proc.pid, "VmRSS")
    peak = proc_status(n.proc.pid, "VmHWM")
    print(f"after 100 MB written with --max-memory 32mb: VmRSS {rss / 2**20:.1f} MiB, "
          f"VmHWM {peak / 2**20:.1f} MiB; {r.stdout.strip()}")
    if harness.rss_is_measurable():  # (not under a sanitizer: its shadow memory and quarantine)
        assert peak < 80 * 2**20, f"peak RSS {peak / 2**20:.1f} MiB"
    stats = info(n.port)
    print(f"info: keys {stats['keys']}, memory_used_bytes {stats['memory_used_bytes']}, "
          f"evictions {stats['evictions']}")
    assert stats["memory_used_bytes"] <= stats["memory_limit_bytes"] == 32 * 2**20
    assert stats["evictions"] > 0
    assert 0 < stats["keys"] < 100000
    # The most recent writes survived; the node still serves.
    assert ctl_ok(n.port, "get", "fill:99999").startswith("abcdefghij")
    assert ctl_ok(n.port, "set", "after", "fill") == "OK\n"
    assert ctl_ok(n.port, "get", "after") == "fill\n"
    # Writing a second round does not grow the process further.
    r = shoalctl(n.port, "fill", "--count", "100000", "--value-size", "1000",
                 "--key-prefix", "round2:", timeout=120)
    assert r.returncode == 0, r.stderr
    peak = proc_status(n.proc.pid, "VmHWM")
    print(f"after 200 MB: VmHWM {peak / 2**20:.1f} MiB")
    if harness.rss_is_measurable():
        assert peak < 80 * 2**20
    assert info(n.port)["memory_used_bytes"] <= 32 * 2**20


def test_value_larger_than_the_memory_limit_is_refused(start_node):
    n = start_node("tiny", extra=("--max-memory", "2mb", "--threads", "1"))
    r = shoalctl(n.port, "fill", "--count", "1", "--value-size", "3mb")
    assert r.returncode == 1
    assert "TooLarge" in r.stderr
    assert ctl_ok(n.port, "set", "small", "ok") == "OK\n"


# ---- process behaviour -------------------------------------------------------------------------

def test_sigterm_exits_cleanly(node):
    ctl_ok(node.port, "set", "k", "v")
    # A connection left open must not hold the shutdown up.
    import socket
    idle = socket.create_connection(("127.0.0.1", node.port))
    try:
        node.proc.send_signal(signal.SIGTERM)
        assert node.proc.wait(timeout=10) == 0
    finally:
        idle.close()
    assert "shutting down" in node.log()


def test_sigint_during_load_exits_cleanly(start_node):
    n = start_node("busy")
    load = subprocess.Popen([str(harness.BIN / "shoalctl"), "--node", f"127.0.0.1:{n.port}",
                             "fill", "--count", "2000000", "--value-size", "100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        n.proc.send_signal(signal.SIGINT)
        assert n.proc.wait(timeout=10) == 0
    finally:
        load.kill()
        load.wait()
    assert "shutting down" in n.log()


def test_clock_high_water_mark_survives_a_restart(start_node, tmp_path):
    """The node persists its HLC high-water mark in its data directory: after a restart (empty,
    so nothing else remembers the versions it saw) it still reports at least that mark."""
    first = start_node("n1")
    ctl_ok(first.port, "set", "k", "v")
    before = info(first.port)["max_hlc"]
    assert before > 0
    assert first.stop() == 0
    assert (tmp_path / "node-n1" / "hlc").exists()

    second = start_node("n1")
    assert ctl_ok(second.port, "get", "k") == "(nil)\n"  # restarted empty
    assert info(second.port)["max_hlc"] >= before

    # A damaged file stops the start with a clear message instead of losing the mark.
    assert second.stop() == 0
    (tmp_path / "node-n1" / "hlc").write_text("garbage\n")
    r = subprocess.run([str(harness.BIN / "shoal-node"), "--id", "n1", "--listen",
                        f"127.0.0.1:{harness.free_port()}", "--data-dir",
                        str(tmp_path / "node-n1")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "does not hold an HLC value" in r.stdout + r.stderr


def run_node(*args):
    return subprocess.run([str(harness.BIN / "shoal-node"), *args], capture_output=True,
                          text=True, timeout=10)


@pytest.mark.parametrize("args,mention", [
    (("--id", "a", "--max-memory", "12qb"), "--max-memory"),
    (("--id", "a", "--threads", "0"), "--threads"),
    (("--id", "a", "--threads", "many"), "--threads"),
    (("--id", "a", "--listen", "no-port"), "--listen"),
    (("--id", "a", "--no-such-flag", "1"), "--no-such-flag"),
    (("--listen", "127.0.0.1:1"), "--id"),
    (("--id", "a", "--log-level", "loud"), "--log-level"),
    (("--id", "a", "--config", "/nonexistent/shoal.yaml"), "/nonexistent/shoal.yaml"),
])
def test_bad_flags_exit_2_with_a_message(args, mention):
    r = run_node(*args)
    assert r.returncode == 2, r
    assert mention in r.stderr


def test_help_and_check_config(tmp_path):
    r = run_node("--help")
    assert r.returncode == 0 and "--max-memory" in r.stdout
    config = tmp_path / "node.yaml"
    config.write_text("id: from-file\nmax_memory: 64mb\nthreads: 4\n")
    r = run_node("--config", str(config), "--check-config")
    assert r.returncode == 0, r.stderr
    config.write_text("id: from-file\nthreads: -1\n")
    r = run_node("--config", str(config), "--check-config")
    assert r.returncode == 2 and "--threads" in r.stderr


def test_config_file_and_flag_override(start_node, tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("max_memory: 64mb\nthreads: 4\ncluster: blue\n")
    n = start_node("cfg", extra=("--config", str(config), "--threads", "3"))
    r = shoalctl(n.port, "--cluster", "blue", "info")
    assert r.returncode == 0, r.stderr
    assert "memory_limit_bytes: " + str(64 * 2**20 // 3 * 3) in r.stdout
    assert "shards: 3" in r.stdout
    assert (tmp_path / "node-cfg").is_dir()


def test_wrong_cluster_is_refused(node):
    r = shoalctl(node.port, "--cluster", "other", "get", "k")
    assert r.returncode == 1
    assert "WrongCluster" in r.stderr


def test_port_in_use_fails_to_start(node, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_node("--id", "x", "--listen", f"127.0.0.1:{port}", "--data-dir",
                     str(tmp_path / "x"))
    assert r.returncode == 1
    assert "cannot" in r.stderr


# ---- shoalctl ----------------------------------------------------------------------------------

def test_shoalctl_usage_errors_exit_2(node):
    for args in (("frobnicate",), ("get",), ("set", "k"), ("get", "k", "--ttl-ms", "5"),
                 ("set", "k", "v", "--ttl-ms", "soon"), ("--bogus", "get", "k")):
        r = shoalctl(node.port, *args)
        assert r.returncode == 2, (args, r)
        assert r.stderr


def test_shoalctl_unreachable_node_exits_1():
    r = shoalctl(harness.free_port(), "get", "k")
    assert r.returncode == 1
    assert "connect" in r.stderr
