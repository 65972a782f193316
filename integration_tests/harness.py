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

# `make asan` / `make tsan` run the suite on sanitized binaries, several times slower: they set
# SHOAL_SLOW=1 (wall-clock bounds grow tenfold: slow()) and SHOAL_SANITIZER=asan or tsan (which
# instrumentation the binaries have: a bound that is meaningless under it, such as RSS under
# ASan's shadow memory, is skipped there, with the reason at the skip). Both unset: the normal
# build, every bound as written.
SLOW = 10.0 if os.environ.get("SHOAL_SLOW") else 1.0
SANITIZER = os.environ.get("SHOAL_SANITIZER", "")


def slow(seconds):
    """A wall-clock bound: `seconds` in the normal build, ten times that under SHOAL_SLOW."""
    return seconds * SLOW


def rss_is_measurable():
    """False when the binaries are sanitized: ASan's shadow memory and its quarantine of freed
    blocks (up to 256 MB by default), or TSan's shadow memory, make a process's resident size
    say nothing about what Shoal holds. RSS bounds are then skipped; the code paths still run."""
    return not SANITIZER


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0, proc=None, log=None):
    timeout = slow(timeout)
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

    def __init__(self, name, args, port, log_path, wait=True):
        """wait=False: returns at once (start several, then wait_ready() each)."""
        self.name = name
        self.args = args
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=10.0):
        """Waits until the port opens; kills the process and raises if it does not."""
        try:
            wait_for_port(self.port, timeout=timeout, proc=self.proc, log=self.log_path)
        except Exception:
            self.kill()
            raise

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL if it has not exited after slow(timeout) s; the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=slow(timeout))
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


def member_list(ports):
    """The --nodes value for {node_id: port}: "a=127.0.0.1:7001,b=..."."""
    return ",".join(f"{node_id}=127.0.0.1:{port}" for node_id, port in ports.items())


def start_node(tmp_path, node_id, port=None, extra=(), warmup_ms=0, members=None):
    """Starts shoal-node `node_id` on `port` (a free one if None).

    `warmup_ms` is passed as --warmup-ms (unless `extra` has it): 0 by default, so that a test
    that restarts a node is served at once; the warm-up tests choose their own. `members`
    ({node_id: port}, this node included) is passed as --nodes: the node then knows its peers.
    """
    port = port or free_port()
    data_dir = Path(tmp_path) / f"node-{node_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    warmup = [] if "--warmup-ms" in extra else ["--warmup-ms", str(warmup_ms)]
    nodes = ["--nodes", member_list(members)] if members else []
    args = [str(BIN / "shoal-node"), "--id", node_id, "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(data_dir), "--log-level", "info", *warmup, *nodes, *extra]
    return Process(f"node-{node_id}", args, port, Path(tmp_path) / f"node-{node_id}-{port}.log")


def start_proxy(tmp_path, nodes, port=None, extra=()):
    """Starts shoal-proxy in front of `nodes` (a list of Process from start_node)."""
    port = port or free_port()
    spec = ",".join(f"{n.name.removeprefix('node-')}=127.0.0.1:{n.port}" for n in nodes)
    args = [str(BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--nodes", spec,
            "--log-level", "info", *extra]
    return Process("proxy", args, port, Path(tmp_path) / f"proxy-{port}.log")


def shoalctl(node_port, *args, timeout=10):
    """Runs shoalctl against a node; returns CompletedProcess (text). `timeout` grows with slow()."""
    cmd = [str(BIN / "shoalctl"), "--node", f"127.0.0.1:{node_port}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=slow(timeout))


# ---- appended for the proxy tests (test_proxy_*.py); nothing above changes ---------------------

class Simple(str):
    """A RESP simple string (+OK). Equal only to another Simple with the same text."""

    def __eq__(self, other):
        return type(other) is Simple and str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self):
        return f"+{str.__repr__(self)}"


class Err(str):
    """A RESP error (-ERR ...), text without the leading '-'. Equal only to another Err."""

    def __eq__(self, other):
        return type(other) is Err and str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self):
        return f"-{str.__repr__(self)}"


class _NilArray:
    def __repr__(self):
        return "*-1"


NIL_ARRAY = _NilArray()  # a RESP2 null array (*-1); a null bulk ($-1) is None


# RESP3 reply types (HELLO 3). Each equals only a value of its own type, so that a RESP2 array
# never passes for a RESP3 map or set, nor ":1" for "#t".
class _Null3:
    def __repr__(self):
        return "_"


NULL3 = _Null3()  # a RESP3 null (_)


class _Typed(list):
    def __eq__(self, other):
        return type(other) is type(self) and list.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None


class Map(_Typed):
    """A RESP3 map (%n): a list of (key, value) pairs in the order sent."""

    def __repr__(self):
        return f"%{list.__repr__(self)}"

    def dict(self):
        return dict(self)


class Set3(_Typed):
    """A RESP3 set (~n): its elements in the order sent."""

    def __repr__(self):
        return f"~{list.__repr__(self)}"


class Push(_Typed):
    def __repr__(self):
        return f">{list.__repr__(self)}"


class _TypedStr(str):
    PREFIX = ""

    def __eq__(self, other):
        return type(other) is type(self) and str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self):
        return f"{self.PREFIX}{str.__repr__(self)}"


class Double(_TypedStr):
    """A RESP3 double (,1.5), kept as the text sent."""
    PREFIX = ","


class BigNumber(_TypedStr):
    """A RESP3 big number ((123), kept as the text sent."""
    PREFIX = "("


class Bool:
    """A RESP3 boolean (#t / #f)."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is Bool and other.value == self.value

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "#t" if self.value else "#f"


class Verbatim(bytes):
    """A RESP3 verbatim string (=n, "txt:..."): the text without its format; `.format`."""

    def __new__(cls, data, fmt):
        obj = bytes.__new__(cls, data)
        obj.format = fmt
        return obj

    def __eq__(self, other):
        return type(other) is Verbatim and bytes.__eq__(self, other) and \
            other.format == self.format

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = bytes.__hash__

    def __repr__(self):
        return f"={self.format}:{bytes.__repr__(self)}"


class ConnectionClosed(Exception):
    pass


class RespConn:
    """A raw RESP client that keeps reply types apart: Simple, Err, int, bytes (bulk), None
    (null bulk), list (array), NIL_ARRAY, and after HELLO 3 the RESP3 types too (NULL3, Map, Set3,
    Double, Bool, BigNumber, Verbatim, Push; attributes are read and dropped). For exact comparisons with redis-server and for sending
    malformed bytes. Connects to a TCP port on 127.0.0.1 or to a Unix socket path. `timeout`
    (each socket operation's) grows with slow()."""

    def __init__(self, port=None, unix_path=None, timeout=10.0):
        timeout = slow(timeout)
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(unix_path))
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a)
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read_reply()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionClosed(f"peer closed; unread bytes: {self.buf[:200]!r}")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bulk(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"_":
            return NULL3
        if kind == b"%":
            return Map((self.read_reply(), self.read_reply()) for _ in range(int(rest)))
        if kind == b"~":
            return Set3(self.read_reply() for _ in range(int(rest)))
        if kind == b">":
            return Push(self.read_reply() for _ in range(int(rest)))
        if kind == b",":
            return Double(rest.decode())
        if kind == b"(":
            return BigNumber(rest.decode())
        if kind == b"#":
            return Bool(rest == b"t")
        if kind == b"=":
            data = self._bulk(int(rest))
            return Verbatim(data[4:], data[:3].decode())
        if kind == b"!":
            return Err(self._bulk(int(rest)).decode("utf-8", "replace"))
        if kind == b"|":
            for _ in range(int(rest)):
                self.read_reply(), self.read_reply()
            return self.read_reply()
        if kind == b"+":
            return Simple(rest.decode("utf-8", "replace"))
        if kind == b"-":
            return Err(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return NIL_ARRAY
            return [self.read_reply() for _ in range(n)]
        raise AssertionError(f"not a RESP reply: {line[:200]!r}")

    def read_all_until_close(self, timeout=3.0):
        """Reads raw bytes until the peer closes; returns (bytes, closed)."""
        self.sock.settimeout(timeout)
        data, self.buf = self.buf, b""
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return data, True
                data += chunk
        except (socket.timeout, TimeoutError):
            return data, False
        except ConnectionResetError:
            return data, True

    def is_closed(self, timeout=1.0):
        """True if the peer closed the connection within `timeout` (any bytes left are kept)."""
        data, closed = self.read_all_until_close(timeout)
        self.buf = data
        return closed


def start_redis(tmp_path, port=None, extra=()):
    """Starts a real redis-server (the reference the proxy's replies are compared to)."""
    port = port or free_port()
    data_dir = Path(tmp_path) / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(data_dir), *extra]
    return Process("redis", args, port, Path(tmp_path) / f"redis-{port}.log")


def _thread_states(pid):
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            pass
    return states


def pause(process, timeout=5.0):
    """SIGSTOP: the process keeps its sockets but answers nothing (a hung node). Returns once
    every thread of it is stopped, so that nothing it does afterwards can race the caller."""
    process.proc.send_signal(signal.SIGSTOP)
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = _thread_states(process.proc.pid)
        if states and all(s in ("T", "t") for s in states):
            return
        time.sleep(0.005)
    raise RuntimeError(f"{process.name} did not stop: thread states {states}")


def resume(process):
    process.proc.send_signal(signal.SIGCONT)


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Polls predicate() until it returns a truthy value; returns the last value. Gives up after
    `timeout` seconds, slow(timeout) under a sanitizer (a wait for something to happen: only a
    failing run waits longer)."""
    deadline = time.time() + slow(timeout)
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)
