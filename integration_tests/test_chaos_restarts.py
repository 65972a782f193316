"""A short seeded chaos run (issue 6): a client issues SET / DEL / EXPIRE at QUORUM without pause
while one node at a time is killed with SIGKILL and restarted empty on its data dir (so it warms
up). At the end, and during the run, every key's QUORUM read must equal the last acknowledged
write (nil if deleted or expired).

What the cluster promises here, and so what the run respects (README, "Failures"):
- at most one replica unavailable at a time: a node is touched only once the previous one is
  `ready` again (a warming node cannot answer reads, so it counts as unavailable);
- without anti-entropy, a node that restarted empty holds a key again only once it is written or
  read-repaired. So during each warm-up the client reads every key once (a sweep, as any read
  workload would): the replicas that answer are the two others, and the one of them restarted
  before (empty for old keys) is repaired from the third. The sweep must end within the warm-up
  (checked), else the restarted node would answer reads while the other one is still empty.
  Both halves matter (measured with the default seed): without the sweeps all 500 cold keys read
  nil at the end (every node restarted in turn); with --warmup-ms 0, 285 reads were wrong (nil).
- the next node is touched once the proxy has reconnected to the previous one.

Keys: 100 hot ones take the random operations; 500 cold ones are written once before the first
restart (half with a 300 s TTL) and then only read, the data a rolling restart most easily loses.

A write answered NOQUORUM may or may not have been applied on some replica (and may spread by
read-repair later): its key accepts either state until the next acknowledged SET or DEL of it.
Expiry times are known to within the command's round trip; a read near that window accepts both.

SHOAL_CHAOS_SEED picks the run (default fixed); SHOAL_CHAOS_SECONDS its length (default 18; at
least 3 restarts). The warm-up is 3 s, or 5 times a sweep's duration measured before the first
restart when that is longer (sanitized builds are slower).
"""
import os
import random
import threading
import time

import redis

from conftest_proxy import Cluster, client
from test_chaos_rolling_restart import (PROXY_THREADS, restart_node, wait_proxy_linked,
                                        wait_ready)
from test_node_protocol import info

SEED = int(os.environ.get("SHOAL_CHAOS_SEED", "20261203"))
CHAOS_SECONDS = float(os.environ.get("SHOAL_CHAOS_SECONDS", "18"))
MIN_WARMUP_MS = 3000
MIN_RESTARTS = 3
HOT_KEYS = 100  # the random operations' keys
COLD_KEYS = 500  # written once before the first restart, then only read
EXPIRE_SECONDS = (1, 2, 300)
EPSILON = 0.1  # seconds: clock granularity between this process and the proxy (same host)

LIVE, DEAD, EITHER = "live", "dead", "either"


class State:
    """One possible state of a key: a value (None: absent) and its expiry window [lo, hi] in unix
    seconds (None: no expiry)."""

    __slots__ = ("value", "expiry")

    def __init__(self, value=None, expiry=None):
        self.value = value
        self.expiry = expiry

    def at(self, t0, t1):
        """Whether the key is visible for an operation the proxy ran between t0 and t1."""
        if self.value is None:
            return DEAD
        if self.expiry is None or self.expiry[0] > t1 + EPSILON:
            return LIVE
        if self.expiry[1] <= t0 - EPSILON:
            return DEAD
        return EITHER

    def key(self):
        return (self.value, self.expiry)

    def __repr__(self):
        return f"State({self.value!r}, expiry={self.expiry})"


class Model:
    """Every key's possible states after the acknowledged (and NOQUORUM) operations so far."""

    def __init__(self, keys):
        self.states = {k: [State()] for k in keys}
        self.partial = set()  # keys with a NOQUORUM write not yet superseded

    @staticmethod
    def _dedup(states):
        seen = {}
        for s in states:
            seen.setdefault(s.key(), s)
        return list(seen.values())

    def possible(self, key, t0, t1):
        """The replies a GET run between t0 and t1 may give."""
        out = set()
        for s in self.states[key]:
            vis = s.at(t0, t1)
            if vis in (LIVE, EITHER):
                out.add(s.value)
            if vis in (DEAD, EITHER):
                out.add(None)
        return out

    def existed(self, key, t0, t1):
        """The replies (1 / 0) a command that reports whether the key existed may give."""
        out = set()
        for s in self.states[key]:
            vis = s.at(t0, t1)
            if vis in (LIVE, EITHER):
                out.add(1)
            if vis in (DEAD, EITHER):
                out.add(0)
        return out

    def write(self, key, new_state, acknowledged):
        if acknowledged:
            self.states[key] = [new_state]
            self.partial.discard(key)
        else:
            self.states[key] = self._dedup(self.states[key] + [new_state])
            self.partial.add(key)

    def expire(self, key, seconds, t0, t1, acknowledged):
        after = []
        for s in self.states[key]:
            vis = s.at(t0, t1)
            if vis in (LIVE, EITHER):
                after.append(State(s.value, (t0 + seconds, t1 + seconds)))
            if vis in (DEAD, EITHER):
                after.append(State())
            # A touch not acknowledged, or one that a replica holding a NOQUORUM write may have
            # missed, leaves the untouched state possible too.
            if not acknowledged or key in self.partial:
                after.append(s)
        self.states[key] = self._dedup(after)
        if not acknowledged:
            self.partial.add(key)


class Client(threading.Thread):
    """Writes every cold key once (half of them with a long TTL), then issues random SET / DEL /
    EXPIRE on the hot keys at QUORUM until stopped; sweeps every key on request."""

    def __init__(self, port, hot, cold, seed):
        super().__init__(daemon=True)
        self.r = client(port, socket_timeout=10)
        self.hot = hot
        self.cold = cold
        self.keys = hot + cold
        self.rng = random.Random(seed)
        self.model = Model(self.keys)
        self.cold_written = threading.Event()
        self.stop = threading.Event()
        self.sweep_requested = threading.Event()
        self.sweep_done = threading.Event()
        self.acknowledged = 0
        self.noquorum = 0
        self.sweeps = 0
        self.sweep_reads = 0
        self.mismatches = []  # (what, key, reply, expected)
        self.error = None
        self.seq = 0

    def run(self):
        try:
            for i, key in enumerate(self.cold):
                self.set(key)
                if i % 2:
                    self.expire(key, 300)
            self.cold_written.set()
            while not self.stop.is_set():
                if self.sweep_requested.is_set():
                    self.sweep_requested.clear()
                    self.sweep()
                    self.sweep_done.set()
                self.one_op()
        except Exception as e:  # reported by the test
            self.error = repr(e)

    def call(self, *args):
        """(reply, t0, t1); reply is an Exception for an error reply."""
        t0 = time.time()
        try:
            reply = self.r.execute_command(*args)
        except redis.exceptions.ResponseError as e:
            reply = e
        return reply, t0, time.time()

    def noquorum_reply(self, reply, op):
        if isinstance(reply, redis.exceptions.ResponseError):
            if str(reply).startswith("NOQUORUM"):
                self.noquorum += 1
                return True
            self.mismatches.append((op, None, str(reply), "a reply, not an error"))
            return True
        return False

    def one_op(self):
        key = self.rng.choice(self.hot)
        roll = self.rng.random()
        if roll < 0.5:
            self.set(key)
        elif roll < 0.7:
            self.delete(key)
        else:
            self.expire(key, self.rng.choice(EXPIRE_SECONDS))

    def set(self, key):
        self.seq += 1
        value = f"{key}#{self.seq}"
        reply, t0, t1 = self.call("SET", key, value)
        if self.noquorum_reply(reply, "SET"):
            self.model.write(key, State(value), acknowledged=False)
            return
        if reply is not True:  # redis-py's reading of +OK
            self.mismatches.append(("SET", key, reply, "OK"))
        self.acknowledged += 1
        self.model.write(key, State(value), acknowledged=True)

    def delete(self, key):
        reply, t0, t1 = self.call("DEL", key)
        if self.noquorum_reply(reply, "DEL"):
            self.model.write(key, State(), acknowledged=False)
            return
        expected = self.model.existed(key, t0, t1)
        if reply not in expected:
            self.mismatches.append(("DEL", key, reply, expected))
        self.acknowledged += 1
        self.model.write(key, State(), acknowledged=True)

    def expire(self, key, seconds):
        reply, t0, t1 = self.call("EXPIRE", key, seconds)
        if self.noquorum_reply(reply, "EXPIRE"):
            self.model.expire(key, seconds, t0, t1, acknowledged=False)
            return
        expected = self.model.existed(key, t0, t1)
        if reply not in expected:
            self.mismatches.append(("EXPIRE", key, reply, expected))
        self.acknowledged += 1
        self.model.expire(key, seconds, t0, t1, acknowledged=True)

    def check_get(self, key, what):
        reply, t0, t1 = self.call("GET", key)
        if isinstance(reply, redis.exceptions.ResponseError):
            self.mismatches.append((what, key, str(reply), "a value or nil"))
            return
        expected = self.model.possible(key, t0, t1)
        if reply not in expected:
            self.mismatches.append((what, key, reply, expected))

    def sweep(self):
        for key in self.keys:
            self.check_get(key, "sweep GET")
            self.sweep_reads += 1
        self.sweeps += 1

    def final_check(self):
        """Every key's GET, and its TTL where every possible state agrees on it."""
        for key in self.keys:
            self.check_get(key, "final GET")
            states = self.model.states[key]
            reply, t0, t1 = self.call("TTL", key)
            vis = {s.at(t0, t1 + 1) for s in states}
            if vis == {LIVE} and all(s.expiry is None for s in states):
                ok = reply == -1
            elif vis == {LIVE} and all(s.expiry[0] > t1 + 100 for s in states):
                ok = isinstance(reply, int) and reply > 100
            elif vis == {DEAD}:
                ok = reply == -2
            else:
                continue
            if not ok:
                self.mismatches.append(("final TTL", key, reply, states))


def test_seeded_kill9_restarts_keep_acknowledged_writes(tmp_path):
    rng = random.Random(SEED)
    cluster = Cluster(tmp_path, proxy_extra=("--timeout-ms", "500", "--threads",
                                             str(PROXY_THREADS)))
    worker = Client(cluster.proxy.port, [f"hot:{i}" for i in range(HOT_KEYS)],
                    [f"cold:{i}" for i in range(COLD_KEYS)], SEED + 1)
    restarts = []
    try:
        worker.start()
        assert worker.cold_written.wait(timeout=60) and worker.error is None, worker.error
        started = time.monotonic()
        worker.sweep_requested.set()
        assert worker.sweep_done.wait(timeout=60), worker.error
        warmup_ms = max(MIN_WARMUP_MS, int(5000 * (time.monotonic() - started)))
        deadline = time.monotonic() + CHAOS_SECONDS
        previous = None
        while ((time.monotonic() < deadline or len(restarts) < MIN_RESTARTS) and
               worker.is_alive()):
            node_id = rng.choice([n for n in sorted(cluster.nodes) if n != previous])
            cluster.kill(node_id)
            time.sleep(rng.uniform(0.2, 1.2))  # writes go on; the node misses them
            started = time.monotonic()
            restart_node(cluster, node_id, warmup_ms)
            worker.sweep_done.clear()
            worker.sweep_requested.set()
            assert worker.sweep_done.wait(timeout=warmup_ms / 1000), (
                f"a sweep outlasted the warm-up; client error: {worker.error}")
            swept_in = time.monotonic() - started
            assert info(cluster.node_port(node_id))["ready"] == 0, (
                f"the sweep ended {swept_in:.1f}s after the restart, past the warm-up")
            wait_ready(cluster.node_port(node_id), timeout=warmup_ms / 1000 + 10)
            wait_proxy_linked(cluster.node_port(node_id))  # the proxy can use it again
            restarts.append(f"{node_id}(sweep {swept_in:.2f}s)")
            time.sleep(rng.uniform(0.0, 0.5))
            previous = node_id
        worker.stop.set()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the client did not stop"
        assert worker.error is None, worker.error
        worker.final_check()
        partial = len(worker.model.partial)
        summary = (f"seed {SEED}: {worker.acknowledged} operations acknowledged, "
                   f"{worker.noquorum} NOQUORUM, {len(restarts)} kill -9/restarts "
                   f"(warm-up {warmup_ms} ms) "
                   f"[{' '.join(restarts)}], {worker.sweeps} sweeps ({worker.sweep_reads} reads) "
                   f"+ {len(worker.keys)} final reads, {partial} keys left uncertain by NOQUORUM, "
                   f"{len(worker.mismatches)} mismatches")
        print("\n" + summary)
        assert worker.acknowledged > 1000, summary
        assert not worker.mismatches, summary + "\n" + "\n".join(
            f"  {what} {key}: got {reply!r}, expected {expected!r}"
            for what, key, reply, expected in worker.mismatches[:20])
    finally:
        worker.stop.set()
        worker.join(timeout=30)
        cluster.close()
