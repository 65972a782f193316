"""Replication correctness through the proxy (issue 6, docs/replication.md): a replica that missed
writes never brings old data back, conditional writes decide once on the resolved state, and a
proxy whose clock is behind another's still wins with later writes.

Each test makes one replica miss a write the way the issue does: SIGSTOP until the proxy stops
sending to it (its link times out), or a restart with an empty memory."""
import os
import time
from pathlib import Path

import pytest

import harness
import node_wire
from conftest_proxy import Cluster, node_get, node_holds
from harness import RespConn, Simple

OK = Simple("OK")
# The proxy's node timeout; a sanitized node is slower to answer (slow()), not down.
TIMEOUT_MS = int(harness.slow(200))
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path, proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1"))
    yield c
    c.close()


def info_field(info, name):
    """An integer field of INFO's reply (0 when absent)."""
    for line in info.split(b"\r\n"):
        if line.startswith(name.encode() + b":"):
            return int(line.split(b":", 1)[1])
    return 0


def consistency(conn, read, write):
    assert conn.call("SHOAL.CONSISTENCY", read, write) == OK


def wait_all_up(conn, warming=0):
    """Until a write at ALL reaches every node: the proxy talks to every node again. With
    `warming` nodes warming up, the write fails only because those applied it without being
    counted (a warming replica's put is not an acknowledgement)."""
    consistency(conn, "QUORUM", "ALL")

    def reached():
        reply = conn.call("SET", "probe:all", "p")
        if warming == 0:
            return reply == OK
        return (str(reply).startswith("NOQUORUM")
                and f"{3 - warming} answered ({warming} warming up" in str(reply))

    ok = harness.wait_until(reached, timeout=10, interval=0.1)
    assert ok, "the proxy did not reach every node again"
    consistency(conn, "QUORUM", "QUORUM")


def stop_until_dropped(cluster, conn, node_id):
    """SIGSTOP a node, then let one request to it time out so that the proxy stops sending to it
    (a request already in its socket would otherwise be applied when it resumes)."""
    harness.pause(cluster.nodes[node_id])
    assert conn.call("SET", "probe:stop", "p") == OK  # two others answer; the third times out
    time.sleep(3 * TIMEOUT_MS / 1000)


def resume(cluster, conn, node_id):
    harness.resume(cluster.nodes[node_id])
    wait_all_up(conn)


def node_has_expiry_versions(port):
    """Whether the node keeps a Touch's expiry version apart from the value version (the
    store-versions change); without it a Touch re-versions a stale value on the node itself,
    which no proxy can undo."""
    with node_wire.NodeConnection(port) as n:
        n.hello()
        v = node_wire.hlc_now()
        n.put(b"probe:expiry-version", b"x", hlc=v, writer=5)
        n.call("Touch", key=b"probe:expiry-version", version=(v + 1, 5), expire_at_ms=0)
        _, body = n.get(b"probe:expiry-version")
        return tuple(body.get("expiry_version") or ()) == (v + 1, 5)


def needs_expiry_versions(cluster):
    if not node_has_expiry_versions(cluster.node_port("a")):
        pytest.xfail("the node store does not keep expiry versions yet (store-versions)")


# ---- #2: EXPIRE/PEXPIRE*/PERSIST/GETEX/SET KEEPTTL on a replica that missed the last write ------

def _touch_commands(now_ms):
    return [
        (("PERSIST", "{k}"), 0, 0),  # v2 has no TTL
        (("EXPIRE", "{k}", "1000"), 0, 1),
        (("PEXPIRE", "{k}", "1000000"), 0, 1),
        (("EXPIREAT", "{k}", str(now_ms // 1000 + 1000)), 0, 1),
        (("PEXPIREAT", "{k}", str(now_ms + 1_000_000)), 0, 1),
        (("GETEX", "{k}", "EX", "1000"), None, b"v2"),
        (("GETEX", "{k}", "PERSIST"), None, b"v2"),
        (("EXPIRE", "{k}", "1000", "NX"), 0, 1),
        (("EXPIRE", "{k}", "1000", "GT"), 0, 0),
        (("EXPIRE", "{k}", "1000", "LT"), 0, 1),
        (("EXPIRE", "{k}", "1000", "XX"), 0, 0),
    ]


@pytest.mark.parametrize("missed", ["DEL", "SET"])
def test_touch_family_never_revives_what_a_stale_replica_holds(cluster, missed):
    """SET k v1; node a misses `DEL k` (or `SET k v2`); the touch command; reads then answer the
    acknowledged state every time (issue 6 #2)."""
    needs_expiry_versions(cluster)
    with RespConn(cluster.proxy.port) as c:
        commands = _touch_commands(int(time.time() * 1000))
        keys = [f"touch:{missed}:{i}" for i in range(len(commands))]
        consistency(c, "QUORUM", "ALL")
        for k in keys:
            assert c.call("SET", k, "v1") == OK
        consistency(c, "QUORUM", "QUORUM")
        stop_until_dropped(cluster, c, "a")
        for k in keys:
            assert c.call(*(("DEL", k) if missed == "DEL" else ("SET", k, "v2"))) in (1, OK)
        resume(cluster, c, "a")
        for k, (cmd, after_del, after_set) in zip(keys, commands):
            args = [a.replace("{k}", k) for a in cmd]
            want = after_del if missed == "DEL" else after_set
            assert c.call(*args) == want, (args, missed)
        expected = None if missed == "DEL" else b"v2"
        for k, (cmd, _, _) in zip(keys, commands):
            got = [c.call("GET", k) for _ in range(10)]
            assert got == [expected] * 10, (cmd, missed, got)


def test_set_keepttl_on_a_replica_that_had_lost_the_key(cluster):
    """SET k v1 EX 1000; node c restarted empty; SET k v2 KEEPTTL: every replica holds v2 with
    the TTL (issue 6 #2: c used to store v2 without expiry under the others' version)."""
    with RespConn(cluster.proxy.port) as c:
        consistency(c, "QUORUM", "ALL")
        assert c.call("SET", "kt", "v1", "EX", "1000") == OK
        cluster.restart("c")
        wait_all_up(c)
        consistency(c, "QUORUM", "ALL")
        assert c.call("SET", "kt", "v2", "KEEPTTL") == OK
        for node_id in ("a", "b", "c"):
            with node_wire.NodeConnection(cluster.node_port(node_id)) as n:
                n.hello()
                _, body = n.get(b"kt")
                assert body.get("value") == b"v2", (node_id, body)
                assert body.get("expire_at_ms", 0) > time.time() * 1000 + 900_000, (node_id, body)


# ---- #1: version-only reads never repair with an empty value ------------------------------------

@pytest.mark.parametrize("command", ["EXISTS", "TTL", "PTTL", "TOUCH"])
def test_version_only_reads_never_repair_an_empty_value(cluster, command):
    with RespConn(cluster.proxy.port) as c:
        consistency(c, "QUORUM", "ALL")
        assert c.call("SET", "vo", "hello") == OK
        cluster.restart("c")
        wait_all_up(c)
        for _ in range(5):
            assert c.call(command, "vo") not in (0, -2), command
        time.sleep(0.3)  # repairs are sent after the reply
        code, out, _ = node_get(cluster.node_port("c"), "vo")
        assert code == 0 and out != "\n", f"node c holds an empty value after {command}: {out!r}"
        consistency(c, "ONE", "ONE")
        got = {c.call("GET", "vo") for _ in range(20)}
        assert b"" not in got, got


# ---- #5: SET NX / SETNX / SET XX / SET GET / GETDEL decide once on the resolved state ------------

def test_set_nx_after_a_replica_restarted_empty(cluster):
    """SET k v1; restart one replica empty; SET k v2 NX: nil, and reads keep v1 (issue 6 #5)."""
    with RespConn(cluster.proxy.port) as c:
        keys = [f"nx:{i}" for i in range(10)]
        consistency(c, "QUORUM", "ALL")
        for k in keys:
            assert c.call("SET", k, "v1") == OK
        cluster.restart("c")
        wait_all_up(c)
        for k in keys:
            assert c.call("SET", k, "v2", "NX") is None, k
            assert c.call("SETNX", k, "v3") == 0, k
        time.sleep(0.3)
        consistency(c, "ONE", "QUORUM")
        for k in keys:
            got = {c.call("GET", k) for _ in range(10)}
            assert got <= {b"v1", None}, (k, got)  # c may answer nil (not repaired), never v2
        consistency(c, "QUORUM", "QUORUM")
        for k in keys:
            assert c.call("GET", k) == b"v1"


def test_conditional_writes_against_a_replica_that_missed_a_delete(cluster):
    """Node a misses DEL: SET XX, SET GET, GETDEL and SETNX answer from the resolved state."""
    with RespConn(cluster.proxy.port) as c:
        consistency(c, "QUORUM", "ALL")
        for k in ("xx", "get", "getdel", "setnx"):
            assert c.call("SET", f"cw:{k}", "v1") == OK
        consistency(c, "QUORUM", "QUORUM")
        stop_until_dropped(cluster, c, "a")
        for k in ("xx", "get", "getdel", "setnx"):
            assert c.call("DEL", f"cw:{k}") == 1
        resume(cluster, c, "a")
        assert c.call("SET", "cw:xx", "v2", "XX") is None
        assert c.call("SET", "cw:get", "v2", "GET") is None
        assert c.call("GETDEL", "cw:getdel") is None
        assert c.call("SETNX", "cw:setnx", "v2") == 1
        for _ in range(5):
            assert c.call("GET", "cw:xx") is None
            assert c.call("GET", "cw:get") == b"v2"
            assert c.call("GET", "cw:getdel") is None
            assert c.call("GET", "cw:setnx") == b"v2"


# ---- #3: a proxy whose clock is behind another's --------------------------------------------------

def start_fast_proxy(cluster, offset="+30s"):
    port = harness.free_port()
    spec = ",".join(f"{n.name.removeprefix('node-')}=127.0.0.1:{n.port}"
                    for n in cluster.nodes.values())
    args = ["env", f"LD_PRELOAD={FAKETIME_LIB}", f"FAKETIME={offset}", "FAKETIME_DONT_RESET=1",
            "FAKETIME_DONT_FAKE_MONOTONIC=1", str(harness.BIN / "shoal-proxy"),
            "--listen", f"127.0.0.1:{port}", "--nodes", spec, "--timeout-ms", "500"]
    proc = harness.Process("proxy-fast", args, port, Path(cluster.tmp) / f"proxy-fast-{port}.log")
    cluster.proxies.append(proc)
    return proc


@pytest.mark.skipif(not os.path.exists(FAKETIME_LIB), reason="Debian package faketime")
def test_writes_of_a_proxy_with_a_slower_clock_win(cluster):
    """A proxy 30 s ahead writes 20 keys, a normal proxy then writes them: the second writes are
    acknowledged and must be what reads return (issue 6 #3)."""
    fast = start_fast_proxy(cluster)
    with RespConn(fast.port) as f, RespConn(cluster.proxy.port) as c:
        for i in range(20):
            assert f.call("SET", f"skew:{i}", "fast") == OK
        for i in range(20):
            assert c.call("SET", f"skew:{i}", "slow") == OK
        assert [c.call("GET", f"skew:{i}") for i in range(20)] == [b"slow"] * 20
        assert [f.call("GET", f"skew:{i}") for i in range(20)] == [b"slow"] * 20
        assert info_field(c.call("INFO"), "stale_write_retries") >= 1


# ---- #4: a node restarted empty and warming up never counts toward a quorum -----------------------

def restart_warming(cluster, node_id, warmup_ms):
    old = cluster.nodes[node_id]
    old.kill()
    cluster.nodes[node_id] = harness.start_node(cluster.tmp, node_id, port=old.port,
                                                warmup_ms=warmup_ms)


def test_warming_replicas_never_answer_reads_and_are_repaired(cluster):
    """Restart c, then a, with b up throughout (issue 6 #4): QUORUM reads never answer nil for an
    acknowledged key (NOQUORUM instead while two replicas warm up), and reads during the warm-up
    refill the warming replica."""
    warmup_ms = 6000
    keys = [f"warm:{i}" for i in range(30)]
    with RespConn(cluster.proxy.port) as c:
        consistency(c, "QUORUM", "ALL")
        for k in keys:
            assert c.call("SET", k, k) == OK
        restart_warming(cluster, "c", warmup_ms)
        started = time.monotonic()
        wait_all_up(c, warming=1)  # writes are applied during the warm-up
        for k in keys:
            assert c.call("GET", k) == k.encode(), k  # a and b answer; c is repaired
        restart_warming(cluster, "a", warmup_ms)
        # Until the proxy reaches a again: the write is applied by b and by both warming nodes
        # (not counted: NOQUORUM), or c's warm-up has ended (OK).
        ok = harness.wait_until(
            lambda: (lambda r: r == OK or "(2 warming up" in str(r))(c.call("SET", "probe:a", "p")),
            timeout=5, interval=0.1)
        assert ok
        if time.monotonic() - started < warmup_ms / 1000 - 1:
            for k in keys:  # only b can answer: never a nil for an acknowledged key
                reply = c.call("GET", k)
                assert reply == k.encode() or str(reply).startswith("NOQUORUM"), (k, reply)
        not_ready = info_field(c.call("INFO"), "not_ready_replies")
    # After c's warm-up it holds what the reads repaired while it was warming up.
    time.sleep(max(0.0, warmup_ms / 1000 - (time.monotonic() - started)) + 0.2)
    port = cluster.node_port("c")
    missing = [k for k in keys if not node_holds(port, k, k)]
    assert not missing, f"node c was not repaired during its warm-up: {missing[:5]}"
    assert not_ready > 0


def test_put_applied_by_a_warming_replica_is_not_an_acknowledgement(cluster):
    """A node restarted empty applies writes during its warm-up but answers reads NotReady: a
    write acknowledged by it and one other replica would be on one of the two replicas a later
    QUORUM read hears from. With c warming and b stopped, a QUORUM write has one real ack: it
    fails (NOQUORUM) instead of being acknowledged; with b back it succeeds (simulation seed
    20743 found the lost write this allowed)."""
    with RespConn(cluster.proxy.port) as c:
        consistency(c, "QUORUM", "QUORUM")
        assert c.call("SET", "warm-ack:probe", "x") == OK
        restart_warming(cluster, "c", 60_000)
        wait_all_up(c, warming=1)
        before = info_field(c.call("INFO"), "not_ready_replies")
        harness.pause(cluster.nodes["b"])
        try:
            replies = [c.call("SET", f"warm-ack:{i}", "v") for i in range(10)]
        finally:
            harness.resume(cluster.nodes["b"])
        for r in replies:
            assert str(r).startswith("NOQUORUM write needed 2 replicas, 1 answered (1 warming up"), r
        assert info_field(c.call("INFO"), "not_ready_replies") >= before + 10
        ok = harness.wait_until(lambda: c.call("SET", "warm-ack:after", "v") == OK, timeout=10,
                                interval=0.1)
        assert ok, "the write did not succeed once b answered again"
