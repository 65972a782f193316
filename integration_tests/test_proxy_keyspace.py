"""Keyspace commands through the proxy (issue 11): TYPE, DBSIZE, KEYS, SCAN, RANDOMKEY, compared
with a real redis-server where Redis defines the reply, and the ring traversal's guarantee with a
replica that cannot answer: a key present for the whole scan is returned at least once."""
import pytest

import harness
from conftest_proxy import Cluster, diff, redis_ref, shoal, short_tmp_dir  # noqa: F401
from harness import Err, RespConn, Simple
from test_proxy_hints import proxy_info

OK = Simple("OK")
TIMEOUT_MS = int(harness.slow(200))


def scan_all(conn, *options, limit=100000):
    """Every key a full SCAN returns (a list: duplicates kept) and the number of calls."""
    cursor, keys, calls = b"0", [], 0
    while True:
        reply = conn.call("SCAN", cursor, *options)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, batch = reply
        keys += batch
        calls += 1
        assert calls < limit
        if cursor == b"0":
            return keys, calls


def test_type_dbsize_keys_randomkey_like_redis(diff):
    diff.run([
        ("FLUSHALL",),
        ("DBSIZE",),
        ("RANDOMKEY",),
        ("KEYS", "*"),
        ("SET", "{a}", "1"),
        ("TYPE", "{a}"),
        ("TYPE", "{missing}"),
        ("DBSIZE",),
        ("RANDOMKEY",),
        ("KEYS", "{a}"),
        ("KEYS", "nomatch*"),
        ("DEL", "{a}"),
        ("TYPE", "{a}"),
        ("DBSIZE",),
        ("RANDOMKEY",),
        ("DBSIZE", "x"),
        ("KEYS",),
        ("TYPE",),
        ("RANDOMKEY", "x"),
        ("SCAN",),
        ("SCAN", "abc"),
        ("SCAN", " 1"),
        ("SCAN", "0", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "x"),
        ("SCAN", "0", "MATCH"),
        ("SCAN", "0", "FOO", "bar"),
        ("SCAN", "0", "TYPE", "hash"),
        ("SCAN", "0", "TYPE", "list", "COUNT", "5"),
    ])


def test_keys_and_scan_find_the_same_keys_as_redis(diff):
    p = diff.prefix
    keys = [f"{p}:k{i}" for i in range(300)] + [f"{p}:user_1", f"{p}:user_22", f"{p}:other"]
    diff.both("FLUSHALL")
    for k in keys:
        diff.both("SET", k, "v")
    for pattern in (f"{p}:*", f"{p}:user_*", f"{p}:user_?", f"{p}:k1[0-2]*", f"{p}:oth\\er",
                    f"{p}:k[^1]?"):
        ref, dut = diff.both("KEYS", pattern)
        assert isinstance(dut, list), dut
        assert sorted(dut) == sorted(ref), pattern
        assert len(set(dut)) == len(dut), f"KEYS {pattern} returned a key twice"
    assert diff.same("DBSIZE") == len(keys)
    expected = {k.encode() for k in keys}
    # Each key once per replica read (N - W + 1: two at QUORUM writes; duplicates only across
    # calls); with writes at ALL, one replica per key: each key once.
    found, calls = scan_all(diff.dut, "COUNT", "50")
    assert set(found) == expected and len(found) <= 2 * len(keys)
    found, _ = scan_all(diff.dut, "COUNT", "100000")
    assert sorted(found) == sorted(expected), "one call: no duplicates"
    assert diff.dut.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
    found, calls = scan_all(diff.dut, "COUNT", "50")
    assert set(found) == expected
    assert len(found) == len(keys), "a healthy ring returns each key once"
    found, _ = scan_all(diff.dut, "MATCH", f"{p}:user_*", "COUNT", "1000")
    assert sorted(found) == sorted(k.encode() for k in keys if "user" in k)
    for t in ("string", "STRING"):
        found, _ = scan_all(diff.dut, "TYPE", t)
        assert len(found) == len(keys), t
    found, _ = scan_all(diff.dut, "TYPE", "hash")
    assert found == []
    assert diff.dut.call("RANDOMKEY") in expected
    assert diff.dut.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


@pytest.fixture(params=[("a", "b", "c"), ("a", "b", "c", "d")], ids=["3-nodes", "4-nodes"])
def cluster(request):
    c = Cluster(short_tmp_dir(), ids=request.param,
                proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1",
                             "--replicas", "3"))
    yield c
    c.close()


def stop_until_marked_down(cluster, conn, node_id):
    """SIGSTOP the node, then write at ALL until the proxy marks it down."""
    harness.pause(cluster.nodes[node_id])
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK

    def down():
        conn.call("SET", "probe:down", "p")
        return "status=down" in str(proxy_info(conn).get(f"node_{node_id}", ""))

    assert harness.wait_until(down, timeout=15, interval=0.05), proxy_info(conn)
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


@pytest.mark.parametrize("stopped", ["a", "b"])
def test_scan_and_keys_return_every_key_while_a_replica_is_stopped(cluster, stopped):
    """Node `stopped` (SIGSTOP) cannot answer: its part of the ring is read from the other
    replicas, so every key written before is still returned (SCAN at least once, KEYS once)."""
    with RespConn(cluster.proxy.port) as c:
        keys = {f"sc:{i}".encode() for i in range(400)}
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
        for k in keys:
            assert c.call("SET", k, "v") == OK
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
        # Each key once per reader: N - W + 1 of its replicas (twice at QUORUM writes, once at
        # ALL), on a healthy ring; a call's batch holds no duplicate.
        healthy, _ = scan_all(c, "COUNT", "100")
        assert set(healthy) == keys and len(healthy) <= 2 * len(keys)
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
        healthy, _ = scan_all(c, "COUNT", "100")
        assert sorted(healthy) == sorted(keys), "each key exactly once (ALL writes)"
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
        stop_until_marked_down(cluster, c, stopped)
        found, _ = scan_all(c, "MATCH", "sc:*", "COUNT", "100")
        missing = keys - set(found)
        assert not missing, f"{len(missing)} keys missing, e.g. {sorted(missing)[:3]}"
        listed = c.call("KEYS", "sc:*")
        assert sorted(listed) == sorted(keys)
        assert c.call("RANDOMKEY") in keys | {b"probe:down"}
        # DBSIZE is an estimate: the stopped replica's count is missing, never more than written.
        size = c.call("DBSIZE")
        assert isinstance(size, int) and 0 < size <= len(keys) + 1, size
        harness.resume(cluster.nodes[stopped])


def wait_proxy_reaches_all(conn):
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
    assert harness.wait_until(lambda: conn.call("SET", "probe:up", "p") == OK, timeout=10,
                              interval=0.1), "the proxy did not reach every node again"
    assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK


def test_scan_and_keys_return_keys_a_replica_missed(cluster):
    """Node a (first in every preference list of the 3-node ring) is stopped while keys are
    written at QUORUM, then serves again without them (no hints, no anti-entropy here). SCAN and
    KEYS still return every key: each key is read from N - W + 1 of its replicas, one of which
    holds it. (Reading one replica per key returned none of them from a.)"""
    with RespConn(cluster.proxy.port) as c:
        stop_until_marked_down(cluster, c, "a")
        keys = {f"miss:{i}".encode() for i in range(300)}
        for k in keys:
            assert c.call("SET", k, "v") == OK
        harness.resume(cluster.nodes["a"])
        wait_proxy_reaches_all(c)
        port_a = cluster.node_port("a")
        owned_by_a = [k for k in keys if b"a" in c.call("SHOAL.LOCATE", k)]
        held = [k for k in owned_by_a
                if harness.shoalctl(port_a, "get", k.decode()).stdout != "(nil)\n"]
        assert owned_by_a and not held, f"a holds {len(held)} of the {len(owned_by_a)} it owns"
        found, _ = scan_all(c, "MATCH", "miss:*", "COUNT", "50")
        missing = keys - set(found)
        assert not missing, f"{len(missing)} keys missing, e.g. {sorted(missing)[:3]}"
        assert sorted(c.call("KEYS", "miss:*")) == sorted(keys)


def test_scan_and_keys_return_keys_past_a_replica_restarted_empty():
    """Node a restarts empty and, with no warm-up, answers its scans at once: its empty store
    does not hide the keys the other replicas hold."""
    c = Cluster(short_tmp_dir(), proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1"))
    try:
        with RespConn(c.proxy.port) as conn:
            keys = {f"empty:{i}".encode() for i in range(200)}
            for k in keys:
                assert conn.call("SET", k, "v") == OK
            c.restart("a")  # --warmup-ms 0: serves at once, holding nothing
            wait_proxy_reaches_all(conn)
            assert harness.shoalctl(c.node_port("a"), "get", "empty:1").stdout == "(nil)\n"
            found, _ = scan_all(conn, "COUNT", "100")
            assert keys <= set(found), f"{len(keys - set(found))} keys missing"
            assert sorted(conn.call("KEYS", "empty:*")) == sorted(keys)
    finally:
        c.close()


def test_scan_skips_a_node_restarted_empty_until_it_has_synced():
    """A node restarted empty answers its scans NotReady while warming up: its part of the ring
    comes from the other replicas, not from its empty store."""
    c = Cluster(short_tmp_dir(), node_extra=("--warmup-ms", "60000"),
                proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1"))
    try:
        with RespConn(c.proxy.port) as conn:
            keys = {f"w:{i}".encode() for i in range(200)}
            for k in keys:
                assert conn.call("SET", k, "v") == OK
            c.restart("a")  # empty, and warming up for a minute (its data dir served before)
            found, _ = scan_all(conn, "COUNT", "100")
            assert keys <= set(found)
            assert sorted(conn.call("KEYS", "w:*")) == sorted(keys)
    finally:
        c.close()


def test_type_reads_the_newest_state_past_a_stale_replica():
    """Node a misses a DEL (stopped meanwhile): TYPE at QUORUM and ALL says none, never string."""
    c = Cluster(short_tmp_dir(), proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1"))
    try:
        with RespConn(c.proxy.port) as conn:
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
            assert conn.call("SET", "t:1", "v") == OK
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
            stop_until_marked_down(c, conn, "a")
            assert conn.call("DEL", "t:1") == 1
            harness.resume(c.nodes["a"])
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
            assert harness.wait_until(lambda: conn.call("SET", "probe:up", "p") == OK, timeout=10)
            for level in ("QUORUM", "ALL"):
                assert conn.call("SHOAL.CONSISTENCY", level, "QUORUM") == OK
                assert conn.call("TYPE", "t:1") == Simple("none"), level
    finally:
        c.close()


def test_rename_renamenx_copy_like_redis(diff):
    diff.run([
        ("SET", "{src}", "v", "EX", "100"),
        ("RENAME", "{src}", "{dst}"),
        ("EXISTS", "{src}"),
        ("GET", "{dst}"),
        ("TTL", "{dst}"),  # the source's TTL goes with it
        ("RENAME", "{src}", "{dst}"),
        ("RENAME", "{dst}", "{dst}"),
        ("RENAME", "{missing}", "{missing}"),
        ("SET", "{other}", "o"),
        ("RENAMENX", "{dst}", "{other}"),
        ("RENAMENX", "{dst}", "{fresh}"),
        ("MGET", "{dst}", "{fresh}", "{other}"),
        ("RENAMENX", "{fresh}", "{fresh}"),
        ("RENAMENX", "{missing}", "{x}"),
        ("SET", "{dst}", "d"),
        ("RENAME", "{other}", "{dst}"),  # overwrites
        ("GET", "{dst}"),
        ("COPY", "{dst}", "{copy}"),
        ("COPY", "{dst}", "{copy}"),
        ("SET", "{dst}", "d2"),
        ("COPY", "{dst}", "{copy}", "REPLACE"),
        ("MGET", "{dst}", "{copy}"),
        ("COPY", "{dst}", "{copy2}", "DB", "0"),
        ("GET", "{copy2}"),
        ("COPY", "{missing}", "{copy3}"),
        ("COPY", "{dst}", "{dst}"),
        ("COPY", "{dst}", "{c}", "DB", "x"),
        ("COPY", "{dst}", "{c}", "DB", "16"),
        ("COPY", "{dst}", "{c}", "FOO"),
        ("COPY", "{dst}", "{c}", "DB"),
        ("RENAME", "{a}"),
        ("RENAMENX", "{a}", "{b}", "{c}"),
        ("COPY", "{a}"),
    ])


def test_rename_and_copy_read_the_newest_state_past_a_stale_replica():
    """Node a missed `DEL src` and `SET taken` (stopped meanwhile): RENAME says no such key,
    RENAMENX and COPY see the destination taken, at QUORUM whichever replicas answer first."""
    c = Cluster(short_tmp_dir(), proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1"))
    try:
        with RespConn(c.proxy.port) as conn:
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
            for i in range(10):
                assert conn.call("SET", f"rn:src{i}", "v") == OK
                assert conn.call("SET", f"rn:live{i}", "w") == OK
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
            stop_until_marked_down(c, conn, "a")
            for i in range(10):
                assert conn.call("DEL", f"rn:src{i}") == 1
                assert conn.call("SET", f"rn:taken{i}", "t") == OK
            harness.resume(c.nodes["a"])
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
            assert harness.wait_until(lambda: conn.call("SET", "probe:up", "p") == OK, timeout=10)
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
            for i in range(10):
                reply = conn.call("RENAME", f"rn:src{i}", f"rn:dst{i}")
                assert reply == Err("ERR no such key"), reply
                assert conn.call("EXISTS", f"rn:dst{i}") == 0
                assert conn.call("RENAMENX", f"rn:live{i}", f"rn:taken{i}") == 0
                assert conn.call("COPY", f"rn:live{i}", f"rn:taken{i}") == 0
                assert conn.call("GET", f"rn:taken{i}") == b"t"
                assert conn.call("COPY", f"rn:live{i}", f"rn:taken{i}", "REPLACE") == 1
                assert conn.call("RENAME", f"rn:live{i}", f"rn:moved{i}") == OK
            assert conn.call("SHOAL.CONSISTENCY", "ALL", "QUORUM") == OK
            for i in range(10):
                assert conn.call("MGET", f"rn:live{i}", f"rn:moved{i}", f"rn:taken{i}") == [
                    None, b"w", b"w"]
    finally:
        c.close()


def test_emptied_hash_and_set_are_no_keys_like_redis(diff):
    """A hash whose fields are all removed, and a set whose members are, is no key (Redis deletes
    it with its last element), although the nodes still hold its element tombstones: every
    keyspace command answers as redis-server does for a missing key. Writes at ALL, so that
    DBSIZE (live values summed over the nodes / N) is exact when it is read."""
    assert diff.dut.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
    diff.run([
        ("FLUSHALL",),
        ("HSET", "{h}", "a", "1", "b", "2"),
        ("EXPIRE", "{h}", "100"),
        ("SADD", "{s}", "x", "y"),
        ("DBSIZE",),
        ("HDEL", "{h}", "a", "b"),
        ("SREM", "{s}", "x"),
        ("SPOP", "{s}"),
        ("EXISTS", "{h}", "{s}"),
        ("TYPE", "{h}"),
        ("TYPE", "{s}"),
        ("TTL", "{h}"),
        ("PTTL", "{s}"),
        ("EXPIRETIME", "{h}"),
        ("DBSIZE",),
        ("KEYS", "*"),
        ("SCAN", "0", "COUNT", "1000"),
        ("SCAN", "0", "TYPE", "hash", "COUNT", "1000"),
        ("RANDOMKEY",),
        ("EXPIRE", "{h}", "100"),
        ("PERSIST", "{s}"),
        ("TOUCH", "{h}", "{s}"),
        ("RENAME", "{h}", "{h2}"),
        ("RENAMENX", "{s}", "{s2}"),
        ("COPY", "{h}", "{h3}"),
        ("EXISTS", "{h2}", "{s2}", "{h3}"),
        ("DEL", "{h}", "{s}"),
        ("UNLINK", "{h}"),
        ("SET", "{h}", "v", "NX"),
        ("GET", "{h}"),
        ("DEL", "{h}"),
        ("SADD", "{s}", "z"),
        ("SET", "{s}", "v", "XX", "GET"),
        ("DBSIZE",),
    ])
    # An emptied key refilled through another command family comes back as that key only.
    diff.run([
        ("HSET", "{h}", "f", "1"),
        ("HDEL", "{h}", "f"),
        ("HSET", "{h}", "g", "2"),
        ("TYPE", "{h}"),
        ("TTL", "{h}"),
        ("KEYS", "{h}"),
        ("DEL", "{h}", "{s}"),
        ("DBSIZE",),
        ("RANDOMKEY",),
    ])
    assert diff.dut.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
