"""Shared fixtures and helpers for the proxy tests (test_proxy_*.py).

Not a conftest.py (that file belongs to the node tests): each test_proxy_*.py imports what it
uses from here, e.g. `from conftest_proxy import shoal, redis_ref, diff`. A fixture imported into a
module with scope="module" gets one instance per importing module.

The reference for every reply that Shoal should share with Redis is a real redis-server started
beside the cluster: a Differ sends the same command to both and compares the replies exactly
(reply type included: +OK is not $2 OK).
"""
import itertools
import re
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis

import harness
from harness import Err, RespConn

NODE_IDS = ("a", "b", "c")

# Commands the issue lists (issue 3). Used for COMMAND and arity checks.
CONNECTION_COMMANDS = ["ping", "echo", "quit", "hello", "auth", "select", "client", "info",
                       "command", "function", "time"]
KEY_COMMANDS = ["get", "set", "setex", "psetex", "setnx", "getdel", "getex", "mget", "mset",
                "del", "unlink", "exists", "expire", "pexpire", "expireat", "pexpireat",
                "persist", "ttl", "pttl", "touch",
                # issue 11: keyspace and strings
                "flushall", "flushdb", "dbsize", "keys", "scan", "randomkey", "type", "append",
                "strlen", "getrange", "substr", "setrange", "getset", "msetnx", "lcs", "rename",
                "renamenx", "copy",
                # issue 11: counters
                "incr", "decr", "incrby", "decrby", "incrbyfloat",
                # Redis's own suites (scripts/redis-suites.sh) use these
                "expiretime", "pexpiretime",
                # issue 11: hashes
                "hset", "hget", "hmset", "hmget", "hgetall", "hdel", "hexists", "hlen", "hkeys",
                "hvals", "hsetnx", "hstrlen", "hincrby", "hincrbyfloat", "hrandfield", "hscan",
                # issue 11: sets
                "sadd", "srem", "sismember", "smismember", "smembers", "scard", "srandmember",
                "spop", "smove", "sinter", "sinterstore", "sunion", "sunionstore", "sdiff",
                "sdiffstore", "sintercard", "sscan"]


class Cluster:
    """Three shoal-nodes and one or more shoal-proxies in front of them (all on free ports)."""

    def __init__(self, tmp, ids=NODE_IDS, proxy_extra=("--timeout-ms", "500", "--threads", "2"),
                 node_extra=(), members=False):
        """`members`: every node is started with the member list (--nodes), so that it knows
        its peers (hint replay, anti-entropy); ports are chosen before any node starts."""
        self.tmp = Path(tmp)
        self.node_extra = tuple(node_extra)
        self.nodes = {}
        self.proxies = []
        self.members = {node_id: harness.free_port() for node_id in ids} if members else None
        try:
            for node_id in ids:
                self.nodes[node_id] = harness.start_node(
                    self.tmp, node_id, port=self.members[node_id] if members else None,
                    extra=self.node_extra, members=self.members)
            self.proxy = self.add_proxy(proxy_extra)
        except Exception:
            self.close()
            raise

    def add_proxy(self, extra=()):
        proxy = harness.start_proxy(self.tmp, list(self.nodes.values()), extra=tuple(extra))
        self.proxies.append(proxy)
        return proxy

    def node_port(self, node_id):
        return self.nodes[node_id].port

    def kill(self, node_id):
        self.nodes[node_id].kill()

    def restart(self, node_id, extra=()):
        """Starts node `node_id` again on its old port (it comes back with an empty memory),
        with `extra` arguments after the cluster's own."""
        old = self.nodes[node_id]
        old.kill()
        self.nodes[node_id] = harness.start_node(self.tmp, node_id, port=old.port,
                                                 extra=self.node_extra + tuple(extra),
                                                 members=self.members)
        return self.nodes[node_id]

    def close(self):
        for proc in [*self.proxies, *self.nodes.values()]:
            try:
                if proc.alive():
                    harness.resume(proc)  # a SIGSTOPped process would ignore SIGTERM
                proc.stop(timeout=5)
            except Exception:
                proc.kill()


def short_tmp_dir():
    """A short directory (Unix socket paths are limited to ~107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="shoal-"))


@pytest.fixture(scope="module")
def shoal(tmp_path_factory):
    """A healthy 3-node cluster with one proxy (N=3, QUORUM/QUORUM), shared by a module. No node
    is slow on purpose here: the proxy's node timeout (500 ms) grows with slow(), so that a
    sanitized build's slowness is not taken for a failed node."""
    cluster = Cluster(tmp_path_factory.mktemp("shoal"),
                      proxy_extra=("--timeout-ms", str(int(harness.slow(500))), "--threads", "2"))
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def redis_ref(tmp_path_factory):
    """A real redis-server 7, the reference for replies and error wording."""
    proc = harness.start_redis(tmp_path_factory.mktemp("redis"))
    yield proc
    proc.stop()


def client(port, **kwargs):
    """A redis-py client (decoded replies) to a proxy or redis-server port."""
    kwargs.setdefault("socket_timeout", harness.slow(10))
    kwargs.setdefault("decode_responses", True)
    return redis.Redis(host="127.0.0.1", port=port, **kwargs)


# Errors whose wording changed between Redis 7 releases: the reference here is Debian's
# redis-server 7.0; the later 7.x wording is accepted too.
REDIS7_EQUIVALENT_ERRORS = {
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time": {
        # Redis >= 7.2
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select "
        "the RESP protocol version at the same time"},
}


def same_error(ref, dut):
    return (isinstance(ref, Err) and isinstance(dut, Err) and
            (dut == ref or str(dut) in REDIS7_EQUIVALENT_ERRORS.get(str(ref), ())))


_TOKEN = re.compile(r"\{(now|pnow)([+-]\d+)\}|\{([a-z][a-z0-9_]*)\}")


class Differ:
    """Sends the same commands to redis-server (`ref`) and Shoal (`dut`), compares replies.

    Commands may hold placeholders: {name} becomes a key unique to this Differ; {now+N} and
    {pnow+N} become the unix time in seconds / milliseconds plus N, fixed when the Differ was
    made (the same number goes to both servers). ("SLEEP", seconds) pauses.
    TTL / PTTL replies that are >= 0 are compared with a tolerance (1 s / 1500 ms)."""

    TOLERANCE = {"TTL": 1, "PTTL": 1500}

    def __init__(self, ref_port, dut_port, ref_kwargs=None, dut_kwargs=None):
        self.ref = RespConn(ref_port, **(ref_kwargs or {}))
        self.dut = RespConn(dut_port, **(dut_kwargs or {}))
        self.prefix = uuid.uuid4().hex[:10]
        self.now = int(time.time())
        self.pnow = int(time.time() * 1000)

    def close(self):
        self.ref.close()
        self.dut.close()

    def key(self, name):
        return f"{self.prefix}:{name}"

    def subst(self, arg):
        if not isinstance(arg, str):
            return arg

        def repl(m):
            if m.group(1) == "now":
                return str(self.now + int(m.group(2)))
            if m.group(1) == "pnow":
                return str(self.pnow + int(m.group(2)))
            return self.key(m.group(3))

        return _TOKEN.sub(repl, arg)

    def both(self, *args):
        args = [self.subst(a) for a in args]
        return self.ref.call(*args), self.dut.call(*args)

    def compare(self, *args):
        """Sends to both; returns (redis reply, None) if they match, else (redis reply, message)."""
        ref, dut = self.both(*args)
        name = str(args[0]).upper()
        tol = self.TOLERANCE.get(name)
        shown = " ".join(str(self.subst(a))[:60] for a in args)
        if tol is not None and isinstance(ref, int) and ref >= 0:
            ok = isinstance(dut, int) and dut >= 0 and abs(dut - ref) <= tol
        else:
            ok = dut == ref or same_error(ref, dut)
        return ref, None if ok else f"{shown}\n    redis: {ref!r}\n    shoal: {dut!r}"

    def same(self, *args):
        """Asserts that Shoal's reply equals redis-server's; returns the reply."""
        ref, mismatch = self.compare(*args)
        assert mismatch is None, mismatch
        return ref

    def run(self, script):
        """Runs every command of the script, then fails listing every mismatch (not just the
        first: later commands still run on both servers, so their state stays comparable only
        as long as the mismatches had no side effects; read the first one first)."""
        mismatches = []
        for cmd in script:
            if cmd[0] == "SLEEP":
                time.sleep(cmd[1])
                continue
            _, mismatch = self.compare(*cmd)
            if mismatch is not None:
                mismatches.append(mismatch)
        assert not mismatches, f"{len(mismatches)} replies differ from Redis:\n" + "\n".join(
            mismatches)


@pytest.fixture
def diff(shoal, redis_ref):
    d = Differ(redis_ref.port, shoal.proxy.port)
    yield d
    d.close()


def is_noquorum(reply, op=None):
    if not isinstance(reply, Err) or not reply.startswith("NOQUORUM"):
        return False
    return op is None or reply.startswith(f"NOQUORUM {op} ")


def noquorum_text(op, needed, answered):
    return f"NOQUORUM {op} needed {needed} replicas, {answered} answered"


def node_get(node_port, key):
    """What node `node_port` holds for `key`, asked with shoalctl: (returncode, stdout, stderr)."""
    res = harness.shoalctl(node_port, "get", key)
    return res.returncode, res.stdout, res.stderr


def node_holds(node_port, key, value):
    """True if the node holds exactly `value` for `key` (shoalctl prints the value, or (nil))."""
    code, out, _ = node_get(node_port, key)
    return code == 0 and out == value + "\n"


unique = itertools.count()
