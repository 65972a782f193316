"""Node failures seen through the proxy (N=3, --timeout-ms 200): one node down changes nothing
at QUORUM; two down gives NOQUORUM at QUORUM but service at ONE; a hung node (SIGSTOP) costs
about one timeout, not one per request; nodes that come back are used again.

Timing is never asserted tightly: only that a batch of operations finishes far below what it
would take if every operation waited for the timeout."""
import time

import pytest

import harness
from conftest_proxy import Cluster, client, is_noquorum, node_holds, noquorum_text
from harness import Err, RespConn, Simple

OK = Simple("OK")
# The proxy's node timeout, and below the bounds that prove it is not waited on every request:
# all grow with slow() together (a sanitized node is slower to answer, not down).
TIMEOUT_MS = int(harness.slow(200))


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path, proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "2"))
    yield c
    c.close()


def fill(conn, prefix, n, consistency=("QUORUM", "QUORUM")):
    assert conn.call("SHOAL.CONSISTENCY", *consistency) == OK
    conn.send_raw(b"".join(RespConn.encode("SET", f"{prefix}:{i}", f"v{i}") for i in range(n)))
    replies = [conn.read_reply() for _ in range(n)]
    assert replies == [OK] * n, [r for r in replies if r != OK][:3]
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


def read_all(conn, prefix, n):
    return [conn.call("GET", f"{prefix}:{i}") for i in range(n)]


def expected(n):
    return [f"v{i}".encode() for i in range(n)]


def test_one_node_down_reads_and_writes_at_quorum(cluster):
    with RespConn(cluster.proxy.port) as c:
        fill(c, "before", 300)
        cluster.kill("b")
        start = time.monotonic()
        assert read_all(c, "before", 300) == expected(300), "an acknowledged write was lost"
        for i in range(300):
            assert c.call("SET", f"during:{i}", f"v{i}") == OK, i
        assert read_all(c, "during", 300) == expected(300)
        assert c.call("MGET", "before:0", "during:1", "nokey") == [b"v0", b"v1", None]
        assert c.call("DEL", "before:0", "during:0") == 2
        assert c.call("MGET", "before:0", "during:0") == [None, None]
        assert c.call("SET", "nx:k", "v", "NX") == OK
        assert c.call("EXPIRE", "nx:k", "100") == 1 and c.call("TTL", "nx:k") > 0
        elapsed = time.monotonic() - start
        # ~905 sequential ops; at one timeout each this would take ~180 s.
        assert elapsed < 30, f"905 operations with one node down took {elapsed:.1f}s"
        # ALL cannot be met with a node down; the error says so.
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        set_reply = c.call("SET", "all:k", "v")
        get_reply = c.call("GET", "before:1")
        assert is_noquorum(set_reply, "write") and is_noquorum(get_reply, "read")
        # "a write may still be stored on some of them": here on both live replicas, which the
        # error must count.
        for node_id in ("a", "c"):
            port = cluster.node_port(node_id)
            assert harness.wait_until(lambda: node_holds(port, "all:k", "v"), timeout=3), node_id
        assert (set_reply, get_reply) == (Err(noquorum_text("write", 3, 2)),
                                          Err(noquorum_text("read", 3, 2)))


def test_redis_py_client_unaffected_by_one_node_down(cluster):
    r = client(cluster.proxy.port)
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"py:{i}", i)
    assert pipe.execute() == [True] * 1000
    cluster.kill("a")
    assert r.mget([f"py:{i}" for i in range(1000)]) == [str(i) for i in range(1000)]
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"py2:{i}", i)
    assert pipe.execute() == [True] * 1000
    assert r.mget([f"py2:{i}" for i in range(1000)]) == [str(i) for i in range(1000)]


def test_two_nodes_down_noquorum_at_quorum_service_at_one(cluster):
    with RespConn(cluster.proxy.port) as c, RespConn(cluster.proxy.port) as q:
        fill(c, "k", 100, consistency=("QUORUM", "ALL"))  # every node holds every key
        cluster.kill("a")
        cluster.kill("c")
        start = time.monotonic()
        get_reply = c.call("GET", "k:1")
        set_reply = c.call("SET", "k:1", "new")
        assert is_noquorum(get_reply, "read") and is_noquorum(set_reply, "write"), (
            get_reply, set_reply)
        for args in (("MGET", "k:1", "k:2"), ("EXISTS", "k:1"), ("TTL", "k:1"),
                     ("GETDEL", "k:3"), ("GETEX", "k:4", "EX", "10")):
            reply = c.call(*args)
            assert is_noquorum(reply), (args, reply)
        for args in (("DEL", "k:5"), ("SETEX", "k:6", "10", "v"), ("MSET", "k:7", "x"),
                     ("EXPIRE", "k:8", "10"), ("PERSIST", "k:9"), ("SETNX", "zz", "v")):
            reply = c.call(*args)
            assert is_noquorum(reply, "write"), (args, reply)
        for i in range(100):
            assert is_noquorum(q.call("GET", f"k:{i}"), "read")
        # 112 refused ops; at one timeout each this would take > 22 s.
        elapsed = time.monotonic() - start
        assert elapsed < 10, f"NOQUORUM answers took {elapsed:.1f}s in total"
        # ONE gives service from the survivor, on this connection only.
        assert c.call("SHOAL.CONSISTENCY", "ONE", "ONE") == OK
        values = read_all(c, "k", 100)
        assert values[10:] == expected(100)[10:], "ONE did not serve the survivor's data"
        assert c.call("SET", "one:new", "fresh") == OK
        assert c.call("GET", "one:new") == b"fresh"
        assert c.call("DEL", "one:new") == 1
        assert is_noquorum(q.call("GET", "k:50"), "read"), "ONE leaked to another connection"
        assert c.call("PING") == Simple("PONG") and q.call("PING") == Simple("PONG")
        # The error says how many replicas answered: the survivor did (and stored the SET).
        assert (get_reply, set_reply) == (Err(noquorum_text("read", 2, 1)),
                                          Err(noquorum_text("write", 2, 1)))


def test_all_nodes_down_is_an_error_not_a_hang(cluster):
    with RespConn(cluster.proxy.port) as c:
        assert c.call("SET", "x", "v") == OK
        for node_id in ("a", "b", "c"):
            cluster.kill(node_id)
        assert c.call("GET", "x") == Err(noquorum_text("read", 2, 0))
        assert c.call("SHOAL.CONSISTENCY", "ONE", "ONE") == OK
        assert c.call("GET", "x") == Err(noquorum_text("read", 1, 0))
        assert c.call("SET", "x", "v") == Err(noquorum_text("write", 1, 0))
        assert c.call("PING") == Simple("PONG")
    assert cluster.proxy.alive()


def test_hung_nodes_cost_one_timeout_not_one_per_request(cluster):
    with RespConn(cluster.proxy.port) as c:
        fill(c, "h", 50, consistency=("QUORUM", "ALL"))
        harness.pause(cluster.nodes["c"])
        try:
            start = time.monotonic()
            # One hung replica: QUORUM is met by the other two without waiting for it.
            assert read_all(c, "h", 50) == expected(50)
            for i in range(50):
                assert c.call("SET", f"h:{i}", f"w{i}") == OK
            one_hung = time.monotonic() - start
            assert one_hung < 10, f"100 ops with one hung node took {one_hung:.1f}s"
            harness.pause(cluster.nodes["b"])
            start = time.monotonic()
            replies = [c.call("GET", f"h:{i}") for i in range(50)]
            assert all(is_noquorum(r, "read") for r in replies), replies[:3]
            two_hung = time.monotonic() - start
            # Waiting the full 200 ms on every request would take 10 s.
            assert two_hung < harness.slow(5), f"50 reads with two hung nodes took {two_hung:.1f}s"
            assert c.call("SHOAL.CONSISTENCY", "ONE", "ONE") == OK
            start = time.monotonic()
            assert read_all(c, "h", 50) == [f"w{i}".encode() for i in range(50)]
            assert time.monotonic() - start < harness.slow(5)
        finally:
            harness.resume(cluster.nodes["b"])
            harness.resume(cluster.nodes["c"])
        # Back to normal once they answer again (reconnect with backoff).
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        ok = harness.wait_until(lambda: c.call("SET", "h:after", "v") == OK, timeout=10,
                                interval=0.2)
        assert ok, "writes at ALL never succeeded after the hung nodes resumed"
        assert c.call("GET", "h:7") == b"w7"
        # Node a answered every one of those reads.
        wrong = sorted({r for r in replies if r != Err(noquorum_text("read", 2, 1))})
        assert not wrong, f"expected {noquorum_text('read', 2, 1)!r} every time, got {wrong}"


def test_killed_node_restarted_is_used_again(cluster):
    with RespConn(cluster.proxy.port) as c:
        fill(c, "r", 20)
        cluster.kill("a")
        assert c.call("SET", "r:while-down", "v") == OK
        cluster.restart("a")
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
        ok = harness.wait_until(lambda: c.call("SET", "r:back", "v") == OK, timeout=10,
                                interval=0.2)
        assert ok, "the proxy never used the restarted node again"
        assert read_all(c, "r", 20) == expected(20)
        assert c.call("GET", "r:while-down") == b"v"


def test_rolling_failure_keeps_every_acked_write(cluster):
    """At most one replica down at a time: every acknowledged write stays readable at QUORUM."""
    acked = {}
    with RespConn(cluster.proxy.port) as c:
        for round_, victim in enumerate(("a", "b", "c")):
            cluster.kill(victim)
            for i in range(100):
                key = f"roll:{round_}:{i}"
                if c.call("SET", key, f"{victim}{i}") == OK:
                    acked[key] = f"{victim}{i}".encode()
            for key, value in acked.items():
                assert c.call("GET", key) == value, f"{key} lost with {victim} down"
            cluster.restart(victim)  # back empty
            ok = harness.wait_until(
                lambda: c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK and
                c.call("SET", f"roll:probe:{round_}", "p") == OK, timeout=10, interval=0.2)
            assert ok, f"node {victim} did not come back into service"
            assert c.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
        assert len(acked) == 300, f"only {len(acked)} of 300 writes were acknowledged"
        for key, value in acked.items():
            assert c.call("GET", key) == value, key
