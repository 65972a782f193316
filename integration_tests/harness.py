"""Starts real Shoal processes on free ports for integration tests.

Binaries come from $SHOAL_BIN (set by `make integration-test`), else build/bin of this checkout.
Every process logs to a file under the test's tmp dir; on a failed start the log is shown.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("SHOAL_BIN", ROOT / "build" / "bin"))


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, proc=None, log=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {read_log(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open in {timeout}s: {read_log(log)}")


def read_log(path):
    if path is None:
        return ""
    try:
        return Path(path).read_text()[-4000:]
    except OSError:
        return ""


class Process:
    """A running binary. stop() sends SIGTERM and waits; kill() sends SIGKILL."""

    def __init__(self, name, args, port, log_path):
        self.name = name
        self.args = args
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc=self.proc, log=log_path)
        except Exception:
            self.kill()
            raise

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log(self):
        return read_log(self.log_path)


def start_node(tmp_path, node_id, port=None, extra=()):
    """Starts shoal-node `node_id` on `port` (a free one if None)."""
    port = port or free_port()
    data_dir = Path(tmp_path) / f"node-{node_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [str(BIN / "shoal-node"), "--id", node_id, "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(data_dir), "--log-level", "info", *extra]
    return Process(f"node-{node_id}", args, port, Path(tmp_path) / f"node-{node_id}-{port}.log")


def start_proxy(tmp_path, nodes, port=None, extra=()):
    """Starts shoal-proxy in front of `nodes` (a list of Process from start_node)."""
    port = port or free_port()
    spec = ",".join(f"{n.name.removeprefix('node-')}=127.0.0.1:{n.port}" for n in nodes)
    args = [str(BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--nodes", spec,
            "--log-level", "info", *extra]
    return Process("proxy", args, port, Path(tmp_path) / f"proxy-{port}.log")


def shoalctl(node_port, *args, timeout=10):
    """Runs shoalctl against a node; returns CompletedProcess (text)."""
    cmd = [str(BIN / "shoalctl"), "--node", f"127.0.0.1:{node_port}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
