"""Sync on restart (issue 8): a node started with the member list (--nodes) pulls, from every
peer, the states of the keys they share that are newer than its own (Merkle-guided: only the
differing slices are listed and fetched) before it answers reads; meanwhile reads from proxies and
tools answer NotReady and writes are applied. A node restarted empty is whole again without any
client reading its keys, deletes included (as tombstones)."""
import time

import harness
from conftest_proxy import Cluster, client, node_holds, short_tmp_dir
from node_wire import NodeConnection
from test_admin import scrape, value, wait_admin
from test_node_protocol import info

KEYS = 400


def wait_synced(port, timeout=30):
    assert harness.wait_until(lambda: info(port)["sync_state"] in ("done", "partial"),
                              timeout=timeout, interval=0.1), info(port)
    return info(port)


def node_state(port, key):
    """(found, tombstone, value) held by the node, read at the wire level as another node (a
    tool's reads would be refused while the node syncs)."""
    with NodeConnection(port) as c:
        c.hello()
        name, body = c.get(key)
    assert name == "GetResponse", (name, body)
    return body["found"], body["tombstone"], body.get("value")


def test_node_restarted_empty_pulls_every_key_and_tombstone_before_serving():
    cluster = Cluster(short_tmp_dir(), members=True)
    try:
        for node_id in cluster.nodes:
            assert wait_synced(cluster.node_port(node_id))["sync_state"] == "done"
        r = client(cluster.proxy.port)
        pipe = r.pipeline(transaction=False)
        for i in range(KEYS):
            pipe.set(f"k:{i}", f"v{i}")
        for i in range(0, KEYS, 10):
            pipe.set(f"t:{i}", "expiring", px=600_000)
        assert all(pipe.execute())
        assert r.delete(*[f"k:{i}" for i in range(0, KEYS, 4)]) == KEYS // 4

        node = cluster.restart("c")
        state = wait_synced(node.port)
        assert state["sync_state"] == "done", state
        assert state["ready"] == 1
        assert state["sync_peers_done"] == state["sync_peers"] == 2
        # Each key is on every node (3 nodes, N=3): all of them were pulled, tombstones included.
        assert state["sync_keys"] >= KEYS + KEYS // 10, state
        for i in range(KEYS):
            found, tombstone, value = node_state(node.port, f"k:{i}")
            if i % 4 == 0:
                assert found and tombstone, (i, found, tombstone)
            else:
                assert found and not tombstone and value == f"v{i}".encode(), (i, value)
        # The expiry came with the value.
        assert node_holds(node.port, "t:0", "expiring")
        with NodeConnection(node.port) as c:
            c.hello()
            _, body = c.get("t:0")
        assert body["expire_at_ms"] > time.time() * 1000 + 500_000, body
    finally:
        cluster.close()


def test_sync_skips_a_peer_that_is_not_running():
    """A peer whose address refuses connections holds nothing (stores are memory only): the
    restarted node pulls from the others and serves at once."""
    cluster = Cluster(short_tmp_dir(), members=True)
    try:
        r = client(cluster.proxy.port)
        assert r.set("one", "1")
        cluster.kill("a")
        admin = harness.free_port()
        node = cluster.restart("c", extra=("--admin", f"127.0.0.1:{admin}"))
        state = wait_synced(node.port, timeout=10)
        assert state["sync_state"] == "done", state
        assert state["sync_peers_done"] == 2 and state["sync_peers_down"] == 1, state
        # The same counts on /metrics.
        wait_admin(admin)
        samples, _ = scrape(admin)
        assert value(samples, "shoal_node_sync_peers") == 2
        assert value(samples, "shoal_node_sync_peers_done") == 2
        assert value(samples, "shoal_node_sync_peers_down") == 1
        assert node_holds(node.port, "one", "1")  # pulled from b
        assert "sync: a is not running" in node.log()
    finally:
        cluster.close()


def test_sync_waits_for_a_paused_peer_until_the_timeout():
    """A peer that accepts connections but does not answer (SIGSTOP) may hold newer states: the
    restarted node keeps answering NotReady while it retries, then serves what it pulled from
    the others (sync_state partial)."""
    cluster = Cluster(short_tmp_dir(), members=True,
                      node_extra=("--sync-timeout-ms", "3000"))
    try:
        r = client(cluster.proxy.port)
        assert r.set("one", "1")
        harness.pause(cluster.nodes["a"])
        node = cluster.restart("c")
        seen = info(node.port)
        assert seen["sync_state"] == "syncing" and seen["ready"] == 0, seen
        res = harness.shoalctl(node.port, "get", "one")
        assert res.returncode != 0 and "NotReady" in res.stderr, (res.stdout, res.stderr)
        state = wait_synced(node.port)
        assert state["sync_state"] == "partial", state
        assert state["sync_peers_done"] == 1 and state["sync_peers_down"] == 0, state
        assert state["ready"] == 1
        assert node_holds(node.port, "one", "1")  # pulled from b
        assert "gave up after --sync-timeout-ms 3000 on peers a" in node.log()
    finally:
        cluster.close()


def test_standalone_node_does_not_sync():
    tmp = short_tmp_dir()
    node = harness.start_node(tmp, "solo")
    try:
        state = info(node.port)
        assert state["sync_state"] == "off" and state["ready"] == 1, state
    finally:
        node.stop()
