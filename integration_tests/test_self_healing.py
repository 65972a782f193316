"""Self-healing with real processes (issue 8, "Tests"): 4 nodes started with the member list, N=3,
one proxy. Each test isolates one healing path by disabling the others, so that it fails when the
path it covers is disabled:

- hinted handoff (sync on start and anti-entropy off): an owner killed, 1000 writes at QUORUM
  hinted to the other nodes, one hint holder killed with kill -9 and restarted on its data dir,
  the owner restarted empty: every key reads back from it directly within 30 s;
- shoalctl repair (hints and periodic anti-entropy off): a node paused with SIGSTOP misses writes
  and deletes; after SIGCONT it still holds the old states until `shoalctl repair` on it, then
  the new values and the tombstones; a deleted key never comes back at ONE, QUORUM or ALL;
- sync on start and anti-entropy (hints off, --hint-window 0): a node restarted empty is
  refilled, by the start-up sync alone or by periodic anti-entropy alone.
"""
import time

import pytest

import harness
from conftest_proxy import Cluster, node_get, node_holds, short_tmp_dir
from harness import RespConn, Simple
from node_wire import NodeConnection, read_frame
from test_proxy_hints import (IDS, PROXY_EXTRA, fallback_of, keys_owned_by, node_info,
                              proxy_info, wait_proxy_sees_down)

OK = Simple("OK")


def healing_cluster(*node_extra):
    """Four nodes that know each other, N=3, and a proxy; returns once every node serves (its
    start-up sync done: a node still syncing does not count toward a write's quorum, which under
    TSan's slowness failed a test's first writes with NOQUORUM)."""
    cluster = Cluster(short_tmp_dir(), ids=IDS, proxy_extra=PROXY_EXTRA, node_extra=node_extra,
                      members=True)
    try:
        for node_id, node in cluster.nodes.items():
            assert harness.wait_until(lambda: node_info(node.port).get("ready") == 1,
                                      timeout=10, interval=0.1), node_id
    except BaseException:
        cluster.close()
        raise
    return cluster


def node_states(port, keys):
    """{key: (found, tombstone, value)} as node `port` holds them, read over the node wire (as a
    node: pipelined Gets, one connection)."""
    out = {}
    with NodeConnection(port, timeout=10) as conn:
        assert conn.hello()[0] == "HelloResponse"
        ids = {}
        for key in keys:
            ids[conn.send("Get", key=key.encode())] = key
        while ids:
            rid, name, body = read_frame(conn.sock)
            key = ids.pop(rid)
            assert name == "GetResponse", (key, name, body)
            out[key] = (body["found"], body["tombstone"], body.get("value"))
    return out


def missing_from(port, expected):
    """The keys of `expected` ({key: value, or None for a tombstone}) that node `port` does not
    hold as expected."""
    held = node_states(port, list(expected))
    wrong = []
    for key, value in expected.items():
        found, tombstone, got = held[key]
        if value is None:
            ok = found and tombstone
        else:
            ok = found and not tombstone and got == value.encode()
        if not ok:
            wrong.append(key)
    return wrong


def wait_proxy_marks_down(conn, node_id, probe_key):
    """Writes `probe_key` at ALL until the proxy's INFO shows `node_id` down (a paused node is
    marked down after consecutive timeouts): from then on the proxy sends it nothing, so no write
    sits in its socket buffer to be applied when it resumes."""
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK

    def down():
        conn.call("SET", probe_key, "probe")
        return "status=down" in str(proxy_info(conn).get(f"node_{node_id}", ""))

    assert harness.wait_until(down, timeout=15, interval=0.05), proxy_info(conn)
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


def set_all(port, items, consistency=("QUORUM", "QUORUM")):
    """SETs every (key, value) through the proxy, pipelined; asserts each is OK."""
    with RespConn(port) as c:
        assert c.call("SHOAL.CONSISTENCY", *consistency) == OK
        c.send_raw(b"".join(RespConn.encode("SET", k, v) for k, v in items))
        for k, _ in items:
            reply = c.read_reply()
            assert reply == OK, (k, reply)


def test_hints_survive_a_holder_kill_9_and_refill_an_owner_restarted_empty():
    # Sync on start and anti-entropy off: only hints can bring the owner's keys back.
    cluster = healing_cluster("--sync-timeout-ms", "0", "--anti-entropy-interval-ms", "0")
    try:
        dead = "b"
        with RespConn(cluster.proxy.port) as c:
            keys = keys_owned_by(c, "hk", [dead], 1000)
            holders = {k: fallback_of(c, k) for k in keys}
            cluster.kill(dead)
            wait_proxy_sees_down(c, keys_owned_by(c, "probe", [dead], 1)[0])
            before = proxy_info(c)
        expected = {k: f"value-{k}" for k in keys}
        set_all(cluster.proxy.port, expected.items())
        with RespConn(cluster.proxy.port) as c:
            sent = proxy_info(c)["hinted_writes"] - before["hinted_writes"]
            assert sent >= len(keys), sent
            # A hint's ack may come after the client's OK (the two live owners made W).
            assert harness.wait_until(
                lambda: proxy_info(c)["hint_acks"] - before["hint_acks"] >= sent, timeout=15), (
                proxy_info(c), before, sent)
        pending = {h: node_info(cluster.node_port(h))["hints_pending"] for h in set(holders.values())}
        assert sum(pending.values()) >= len(keys), pending
        for h in set(holders.values()):
            assert pending[h] >= sum(1 for k in keys if holders[k] == h), (h, pending)

        # kill -9 the holder with the most hints and restart it on its data dir: it still has
        # every hint it acknowledged.
        holder = max(pending, key=pending.get)
        cluster.restart(holder)
        assert node_info(cluster.node_port(holder))["hints_pending"] == pending[holder]

        # The owner restarted empty gets every key back by replay, within 30 s.
        started = time.time()
        port = cluster.restart(dead).port
        assert node_info(port)["sync_state"] == "off"
        assert harness.wait_until(lambda: not missing_from(port, expected), timeout=30,
                                  interval=0.25), (
            f"{len(missing_from(port, expected))} keys missing on {dead} after 30 s; "
            f"hints pending: {[node_info(cluster.node_port(h)).get('hints_pending') for h in pending]}")
        elapsed = time.time() - started
        # And shoalctl, the operator's tool, reads them from the owner too (a sample).
        for k in keys[::50]:
            assert node_holds(port, k, expected[k]), (k, node_get(port, k))
        assert harness.wait_until(
            lambda: all(node_info(cluster.node_port(h))["hints_pending"] == 0 for h in pending),
            timeout=15), "hints still pending after the owner has every key"
        print(f"owner refilled by hints in {elapsed:.1f} s")
    finally:
        cluster.close()


def repair(port):
    """shoalctl repair on node `port`: {peers, keys_repaired, bytes_repaired}."""
    res = harness.shoalctl(port, "repair", timeout=60)
    assert res.returncode == 0, (res.stdout, res.stderr)
    out = {}
    for line in res.stdout.splitlines():
        name, _, value = line.partition(": ")
        out[name] = int(value)
    return out


def test_paused_node_gets_missed_writes_and_deletes_from_repair_and_deletes_stay_deleted():
    # No hints and no periodic anti-entropy: after SIGCONT only the repair can heal the node.
    cluster = healing_cluster("--hint-window", "0", "--anti-entropy-interval-ms", "0")
    try:
        paused = "c"
        with RespConn(cluster.proxy.port) as c:
            keys = keys_owned_by(c, "pk", [paused], 90)
            probe = keys_owned_by(c, "probe", [paused], 1)[0]
        updated, deleted, added = keys[:30], keys[30:60], keys[60:]
        # Written to every owner before the pause.
        set_all(cluster.proxy.port, [(k, "old") for k in updated + deleted], ("QUORUM", "ALL"))
        port = cluster.node_port(paused)
        assert not missing_from(port, {k: "old" for k in updated + deleted})

        harness.pause(cluster.nodes[paused])
        with RespConn(cluster.proxy.port) as c:
            wait_proxy_marks_down(c, paused, probe)
        set_all(cluster.proxy.port, [(k, "new") for k in updated + added])
        with RespConn(cluster.proxy.port) as c:
            for k in deleted:
                assert c.call("DEL", k) == 1, k
        harness.resume(cluster.nodes[paused])

        expected = {**{k: "new" for k in updated + added}, **{k: None for k in deleted}}
        # Back, but nothing told it what it missed.
        assert len(missing_from(port, expected)) == len(expected)
        assert harness.wait_until(lambda: node_info(port).get("ready") == 1, timeout=10)

        result = repair(port)
        assert result["peers"] == len(IDS) - 1, result
        assert result["keys_repaired"] >= len(expected), result
        assert result["bytes_repaired"] > 0, result
        assert missing_from(port, expected) == []
        readings = node_info(port)
        assert readings["antientropy_repairs"] == 1, readings
        # Every replica agrees now: a second repair has nothing to do.
        assert repair(port)["keys_repaired"] == 0

        # A deleted key never comes back, at any consistency level (reads repair too).
        with RespConn(cluster.proxy.port) as c:
            # The proxy marked the paused node down; ALL needs it marked up again (its probe
            # runs on the proxy's schedule, later under load than the repair above).
            assert harness.wait_until(
                lambda: "status=down" not in str(proxy_info(c).get(f"node_{paused}", "")),
                timeout=30, interval=0.1), proxy_info(c)
            for level in ("ONE", "QUORUM", "ALL"):
                assert c.call("SHOAL.CONSISTENCY", level, "QUORUM") == OK
                for _ in range(3):
                    for k in deleted:
                        assert c.call("GET", k) is None, (level, k)
                    for k in updated[:10]:
                        assert c.call("GET", k) == b"new", (level, k)
        # Nor after a repair run from each of the other nodes.
        for other in IDS:
            if other != paused:
                repair(cluster.node_port(other))
        for node_id in IDS:
            held = node_states(cluster.node_port(node_id), deleted)
            assert all(not found or tombstone for found, tombstone, _ in held.values()), node_id
    finally:
        cluster.close()


@pytest.mark.parametrize("path", ["sync", "anti-entropy"])
def test_without_hints_a_node_restarted_empty_is_refilled(path):
    """--hint-window 0: writes to a dead owner are not hinted. The owner restarted empty is
    refilled by the start-up sync alone (periodic anti-entropy off), or by periodic anti-entropy
    alone (sync on start off)."""
    if path == "sync":
        extra = ("--hint-window", "0", "--anti-entropy-interval-ms", "0")
    else:
        extra = ("--hint-window", "0", "--sync-timeout-ms", "0",
                 "--anti-entropy-interval-ms", "200")
    cluster = healing_cluster(*extra)
    try:
        dead = "b"
        with RespConn(cluster.proxy.port) as c:
            keys = keys_owned_by(c, "rk", [dead], 400)
        before_kill, after_kill = keys[:200], keys[200:]
        # Some keys written while all were up (then deleted while b is dead), others while b is
        # dead.
        set_all(cluster.proxy.port, [(k, "early") for k in before_kill])
        cluster.kill(dead)
        with RespConn(cluster.proxy.port) as c:
            wait_proxy_sees_down(c, keys_owned_by(c, "probe", [dead], 1)[0])
            for k in before_kill[:50]:
                assert c.call("DEL", k) == 1, k
        set_all(cluster.proxy.port, [(k, "late") for k in after_kill])
        refused = sum(node_info(cluster.node_port(n))["hints_refused"] for n in IDS if n != dead)
        assert refused >= len(after_kill), refused

        port = cluster.restart(dead).port
        expected = {**{k: None for k in before_kill[:50]},
                    **{k: "early" for k in before_kill[50:]},
                    **{k: "late" for k in after_kill}}
        if path == "sync":
            assert harness.wait_until(lambda: node_info(port).get("sync_state") == "done",
                                      timeout=30, interval=0.1), node_info(port)
            assert missing_from(port, expected) == []
        else:
            assert node_info(port)["sync_state"] == "off"
            assert harness.wait_until(lambda: not missing_from(port, expected), timeout=30,
                                      interval=0.25), len(missing_from(port, expected))
        for n in IDS:
            assert node_info(cluster.node_port(n)).get("hints_pending", 0) == 0, n
    finally:
        cluster.close()
