"""shoal-node at its resource limits: out of file descriptors, large cross-shard responses,
memory with mixed value sizes, a second node on a taken port."""
import os
import socket
import subprocess
import time

import harness
from harness import shoalctl


def ctl_ok(port, *args):
    r = shoalctl(port, *args)
    assert r.returncode == 0, f"shoalctl {args}: rc={r.returncode} stderr={r.stderr}"
    return r.stdout


def info(port):
    result = {}
    for line in ctl_ok(port, "info").splitlines():
        name, _, value = line.partition(": ")
        result[name] = int(value) if value.isdigit() else value
    return result


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


# ---- out of file descriptors -------------------------------------------------------------------

def test_out_of_fds_pauses_accepting_without_spinning(start_node):
    node = start_node("n1")
    subprocess.run(["prlimit", f"--pid={node.proc.pid}", "--nofile=40:40"], check=True)
    clients = [socket.create_connection(("127.0.0.1", node.port), timeout=2) for _ in range(60)]
    try:
        time.sleep(0.5)
        before = cpu_ticks(node.proc.pid)
        time.sleep(2)
        # Connections wait in the backlog; the shards do not retry accept in a loop.
        assert cpu_ticks(node.proc.pid) - before < 50  # < 0.25 core
    finally:
        for c in clients:
            c.close()
    time.sleep(0.3)
    assert ctl_ok(node.port, "set", "after", "emfile") == "OK\n"
    assert ctl_ok(node.port, "get", "after") == "emfile\n"
    # libuv sometimes sheds the backlog itself (its spare-fd trick); otherwise the shard pauses.
    assert info(node.port)["accept_pauses"] >= 0
    assert os.path.getsize(node.log_path) < 100_000
    start = time.time()
    assert node.stop(timeout=5) == 0
    assert time.time() - start < 5
