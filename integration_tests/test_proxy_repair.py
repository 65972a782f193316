"""Read-repair: a node restarted empty is refilled by reads through the proxy. Checked on the
node itself with shoalctl, and, independently of shoalctl, by reading through the proxy at ONE
once the repaired node is the only one left."""
import time

import pytest

import harness
from conftest_proxy import Cluster, node_get, node_holds
from harness import RespConn, Simple

OK = Simple("OK")
N_KEYS = 40


@pytest.fixture
def cluster(tmp_path):
    # The node timeout grows with slow(): under TSan a node can take longer than 200 ms to answer,
    # and a write at ALL would then fail for a replica that is only slow.
    c = Cluster(tmp_path, proxy_extra=("--timeout-ms", str(int(harness.slow(200))), "--threads", "2"))
    yield c
    c.close()


def write_everywhere(conn, prefix, n):
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
    for i in range(n):
        assert conn.call("SET", f"{prefix}:{i}", f"value-{i}") == OK
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


def restart_empty_and_wait(cluster, conn, node_id):
    cluster.restart(node_id)
    # Wait until the proxy talks to the node again: a write at ALL needs all three.
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
    ok = harness.wait_until(lambda: conn.call("SET", "repair:probe", "p") == OK, timeout=10,
                            interval=0.2)
    assert ok, f"the proxy did not reconnect to restarted node {node_id}"
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


def test_read_repair_refills_restarted_node(cluster):
    with RespConn(cluster.proxy.port) as c:
        write_everywhere(c, "rr", N_KEYS)
        port = cluster.node_port("c")
        assert node_holds(port, "rr:0", "value-0"), f"shoalctl cannot see rr:0: {node_get(port, 'rr:0')}"
        restart_empty_and_wait(cluster, c, "c")
        assert not node_holds(port, "rr:1", "value-1"), "node c did not come back empty"
        for i in range(N_KEYS):
            assert c.call("GET", f"rr:{i}") == f"value-{i}".encode()
        for i in range(N_KEYS):
            key, value = f"rr:{i}", f"value-{i}"
            assert harness.wait_until(lambda: node_holds(port, key, value), timeout=5), (
                f"node c was not repaired for {key}: {node_get(port, key)}")


def test_read_repair_visible_through_proxy_at_one(cluster):
    with RespConn(cluster.proxy.port) as c:
        write_everywhere(c, "rp", N_KEYS)
        restart_empty_and_wait(cluster, c, "b")
        # Reads at QUORUM answer from the others and repair b after replying.
        assert c.call("MGET", *(f"rp:{i}" for i in range(N_KEYS))) == [
            f"value-{i}".encode() for i in range(N_KEYS)]
        for i in range(N_KEYS):
            assert c.call("GET", f"rp:{i}") == f"value-{i}".encode()
        harness.wait_until(lambda: False, timeout=1.0)  # let the repairs land
        cluster.kill("a")
        cluster.kill("c")
        assert c.call("SHOAL.CONSISTENCY", "ONE", "ONE") == OK
        got = [c.call("GET", f"rp:{i}") for i in range(N_KEYS)]
        missing = [i for i in range(N_KEYS) if got[i] != f"value-{i}".encode()]
        assert not missing, f"node b (the only one left) lacks {len(missing)} keys: {missing[:10]}"


def test_deletes_stay_deleted_across_restart_and_repair(cluster):
    """A node that was down during a delete and comes back must not resurrect the key, and
    reads repair it with the values that remain."""
    with RespConn(cluster.proxy.port) as c:
        write_everywhere(c, "rd", 5)
        cluster.kill("a")
        assert c.call("DEL", "rd:0", "rd:1") == 2  # a misses the deletes
        restart_empty_and_wait(cluster, c, "a")
        assert c.call("GET", "rd:0") is None
        assert c.call("MGET", "rd:1", "rd:2") == [None, b"value-2"]
        harness.wait_until(lambda: False, timeout=1.0)
        cluster.kill("b")
        cluster.kill("c")
        assert c.call("SHOAL.CONSISTENCY", "ONE", "ONE") == OK
        assert c.call("GET", "rd:0") is None
        assert c.call("GET", "rd:2") == b"value-2"


def test_expired_overwrite_does_not_resurrect_the_older_value(cluster):
    """A replica that missed a newer write with a TTL still holds the older value. Once the newer
    one expires, the others hold a tombstone of its version (not nothing), so the read answers nil
    and repair spreads the tombstone instead of the stale value."""
    with RespConn(cluster.proxy.port) as c:
        assert c.call("SET", "k", "v1") == Simple("OK")
        owners = [x.decode() for x in c.call("SHOAL.LOCATE", "k")]
        missed = cluster.nodes[owners[2]]
        # v1 was acknowledged by two replicas; the third applies it a moment later (under TSan
        # possibly after the pause below): it must hold v1 before it is paused.
        assert harness.wait_until(lambda: node_holds(missed.port, "k", "v1"), timeout=10)
        harness.pause(missed)
        try:
            # Writes that time out on the paused node (--down-after-timeouts, 3 in a row) mark it
            # down, so the next write skips it (requests already in its socket are still applied
            # when it resumes: v1 again).
            for _ in range(3):
                assert c.call("SET", "k", "v1") == Simple("OK")
            time.sleep(harness.slow(0.5))  # the three time out (the node timeout is slow(200) ms)
            assert c.call("SET", "k", "v2", "PX", "800") == Simple("OK")  # 2 of 3 replicas
        finally:
            harness.resume(missed)
        assert node_holds(missed.port, "k", "v1")  # the stale replica
        time.sleep(1.2)  # v2 has expired everywhere it was written
        for _ in range(3):
            assert c.call("GET", "k") is None
        # Repair reached the stale replica with the tombstone: v1 is gone there too.
        assert harness.wait_until(lambda: node_get(missed.port, "k")[1] == "(nil)\n", timeout=3)
        assert c.call("SHOAL.CONSISTENCY", "ONE") == Simple("OK")
        assert c.call("GET", "k") is None
