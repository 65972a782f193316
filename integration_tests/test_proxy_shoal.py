"""Shoal's own commands (SHOAL.CONSISTENCY, SHOAL.LOCATE), conditional writes (NX/XX) on a
healthy cluster, and several proxies in front of one cluster (sidecars of different pods)."""
import socket
import threading
import time

import pytest

import harness
from conftest_proxy import NODE_IDS, client, node_holds, shoal  # noqa: F401
from harness import Err, RespConn, Simple

OK = Simple("OK")


def pair(reply):
    """SHOAL.CONSISTENCY's reply as ('READ', 'WRITE'), whatever string type each level is (its
    third element, the quorum mode, is STRICT unless the test set SLOPPY: test_proxy_hints.py)."""
    assert isinstance(reply, list) and len(reply) == 3, f"expected a 3-element array, got {reply!r}"
    levels = tuple((x.decode() if isinstance(x, bytes) else str(x)).upper() for x in reply)
    assert levels[2] == "STRICT", reply
    return levels[:2]


# ---- SHOAL.CONSISTENCY ------------------------------------------------------------------------

def test_consistency_default_and_set_per_connection(shoal):
    with RespConn(shoal.proxy.port) as a, RespConn(shoal.proxy.port) as b:
        assert pair(a.call("SHOAL.CONSISTENCY")) == ("QUORUM", "QUORUM")
        assert a.call("SHOAL.CONSISTENCY", "ONE", "ALL") == OK
        assert pair(a.call("SHOAL.CONSISTENCY")) == ("ONE", "ALL")
        assert pair(b.call("SHOAL.CONSISTENCY")) == ("QUORUM", "QUORUM"), "leaked to another conn"
        assert a.call("SHOAL.CONSISTENCY", "all") == OK  # one level sets both
        assert pair(a.call("SHOAL.CONSISTENCY")) == ("ALL", "ALL")
        assert a.call("shoal.consistency", "quorum", "one") == OK
        assert pair(a.call("SHOAL.CONSISTENCY")) == ("QUORUM", "ONE")
    with RespConn(shoal.proxy.port) as c:  # a new connection starts from the defaults
        assert pair(c.call("SHOAL.CONSISTENCY")) == ("QUORUM", "QUORUM")


def test_consistency_rejects_bad_levels(shoal):
    with RespConn(shoal.proxy.port) as c:
        for args in (("SHOAL.CONSISTENCY", "TWO"), ("SHOAL.CONSISTENCY", "ONE", "MOST"),
                     ("SHOAL.CONSISTENCY", "", "ONE"),
                     ("SHOAL.CONSISTENCY", "ONE", "ONE", "ONE")):
            reply = c.call(*args)
            assert isinstance(reply, Err) and reply.startswith("ERR"), (args, reply)
        assert pair(c.call("SHOAL.CONSISTENCY")) == ("QUORUM", "QUORUM"), "a bad call changed it"
        assert c.call("PING") == Simple("PONG")


LEVEL = {"ONE": 1, "QUORUM": 2, "ALL": 3}


def test_every_level_serves_on_a_healthy_cluster(shoal):
    with RespConn(shoal.proxy.port) as c:
        for read in LEVEL:
            for write in LEVEL:
                assert c.call("SHOAL.CONSISTENCY", read, write) == OK
                key = f"lvl:{read}:{write}"
                assert c.call("SET", key, f"{read}/{write}") == OK
                if LEVEL[read] + LEVEL[write] > 3:  # R + W > N: the read must see the write
                    assert c.call("GET", key) == f"{read}/{write}".encode(), (read, write)
                    assert c.call("DEL", key) == 1, (read, write)
                    assert c.call("GET", key) is None, (read, write)


def test_consistency_flags_set_the_defaults(shoal):
    proxy = shoal.add_proxy(["--read-consistency", "one", "--write-consistency", "all",
                             "--timeout-ms", "500"])
    with RespConn(proxy.port) as c:
        assert pair(c.call("SHOAL.CONSISTENCY")) == ("ONE", "ALL")
        assert c.call("SET", "flags:k", "v") == OK
        assert c.call("GET", "flags:k") == b"v"


# ---- SHOAL.LOCATE -----------------------------------------------------------------------------

def locate(conn, key):
    reply = conn.call("SHOAL.LOCATE", key)
    assert isinstance(reply, list), f"SHOAL.LOCATE {key}: {reply!r}"
    return [x.decode() if isinstance(x, bytes) else str(x) for x in reply]


def test_locate_three_distinct_nodes_stable(shoal):
    with RespConn(shoal.proxy.port) as a, RespConn(shoal.proxy.port) as b:
        orders = set()
        for i in range(200):
            key = f"loc:{i}"
            ids = locate(a, key)
            assert len(ids) == 3 and len(set(ids)) == 3 and set(ids) == set(NODE_IDS), (key, ids)
            assert locate(a, key) == ids and locate(b, key) == ids, f"{key} moved"
            orders.add(tuple(ids))
        # The ring spreads keys: with 200 keys every node is first for some of them.
        assert {o[0] for o in orders} == set(NODE_IDS), orders


def test_locate_honours_hash_tags(shoal):
    with RespConn(shoal.proxy.port) as c:
        firsts = set()
        for i in range(50):
            group = locate(c, f"{{user{i}}}.name")
            assert locate(c, f"{{user{i}}}.email") == group
            assert locate(c, f"x{{user{i}}}y") == group
            firsts.add(group[0])
        assert len(firsts) > 1, "every hash tag landed first on the same node"


def test_locate_same_from_every_proxy(shoal):
    other = shoal.add_proxy(["--timeout-ms", "500"])
    with RespConn(shoal.proxy.port) as a, RespConn(other.port) as b:
        for i in range(50):
            assert locate(a, f"ring:{i}") == locate(b, f"ring:{i}")


def test_locate_with_two_replicas(shoal):
    proxy = shoal.add_proxy(["--replicas", "2", "--timeout-ms", "500"])
    with RespConn(proxy.port) as two, RespConn(shoal.proxy.port) as three:
        for i in range(50):
            key = f"rep2:{i}"
            ids = locate(two, key)
            assert len(ids) == 2 and len(set(ids)) == 2, ids
            # the preference list is a prefix of the N=3 one (same ring)
            assert ids == locate(three, key)[:2]


def test_locate_arity(shoal):
    with RespConn(shoal.proxy.port) as c:
        reply = c.call("SHOAL.LOCATE")
        assert reply == Err("ERR wrong number of arguments for 'shoal.locate' command"), reply


def test_write_reaches_every_replica(shoal):
    """A QUORUM write is acknowledged by 2, but all 3 owners hold it shortly after."""
    r = client(shoal.proxy.port)
    with RespConn(shoal.proxy.port) as c:
        keys = [f"everywhere:{i}" for i in range(10)]
        for k in keys:
            assert r.set(k, f"val-{k}") is True
        for k in keys:
            for node_id in locate(c, k):
                port = shoal.node_port(node_id)
                assert harness.wait_until(lambda: node_holds(port, k, f"val-{k}"), timeout=5), (
                    f"node {node_id} never got {k}: {harness.shoalctl(port, 'get', k)}")


def test_replicas_two_stores_on_two_nodes_only(shoal):
    proxy = shoal.add_proxy(["--replicas", "2", "--timeout-ms", "500"])
    with RespConn(proxy.port) as c:
        key = "only-two"
        owners = locate(c, key)
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("SET", key, "two-copies") == OK
        for node_id in NODE_IDS:
            port = shoal.node_port(node_id)
            if node_id in owners:
                assert node_holds(port, key, "two-copies"), node_id
            else:
                time.sleep(0.3)
                assert not node_holds(port, key, "two-copies"), f"{node_id} is not an owner"


# ---- several proxies, one cluster -------------------------------------------------------------

def test_writes_through_one_proxy_read_through_another(shoal):
    other = shoal.add_proxy(["--timeout-ms", "500"])
    p1, p2 = client(shoal.proxy.port), client(other.port)
    for i in range(100):
        assert p1.set(f"xp:{i}", f"one-{i}") is True
    assert p2.mget([f"xp:{i}" for i in range(100)]) == [f"one-{i}" for i in range(100)]
    # Alternate writers on one key: the last acknowledged write wins everywhere.
    for i in range(20):
        (p1 if i % 2 else p2).set("xp:shared", f"w{i}")
        time.sleep(0.01)
    assert p1.get("xp:shared") == "w19" and p2.get("xp:shared") == "w19"
    assert p2.delete("xp:shared") == 1
    assert p1.get("xp:shared") is None


# ---- conditional writes on a healthy cluster -------------------------------------------------

def test_nx_xx_sequential_semantics(shoal):
    with RespConn(shoal.proxy.port) as c:
        assert c.call("SET", "cw:a", "first", "NX") == OK
        assert c.call("SET", "cw:a", "second", "NX") is None
        assert c.call("SETNX", "cw:a", "third") == 0
        assert c.call("SET", "cw:b", "x", "XX") is None
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        # Every replica agrees (a read at ALL asks all three).
        assert c.call("GET", "cw:a") == b"first"
        assert c.call("GET", "cw:b") is None
        assert c.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
        assert c.call("SET", "cw:a", "replaced", "XX") == OK
        assert c.call("GET", "cw:a") == b"replaced"
        assert c.call("DEL", "cw:a") == 1
        assert c.call("SET", "cw:a", "x", "XX") is None  # a tombstone is not a value
        assert c.call("SET", "cw:a", "after-delete", "NX") == OK
        assert c.call("GET", "cw:a") == b"after-delete"
        assert c.call("SET", "cw:ttl", "short", "PX", "200") == OK
        time.sleep(0.5)
        assert c.call("SET", "cw:ttl", "x", "XX") is None  # expired is absent
        assert c.call("SETNX", "cw:ttl", "fresh") == 1
        assert c.call("GET", "cw:ttl") == b"fresh"
    for node_id in NODE_IDS:  # no replica stored the refused XX write
        assert not node_holds(shoal.node_port(node_id), "cw:b", "x")


def test_nx_race_has_a_winner_and_converges(shoal):
    """Concurrent SET NX from many clients. Under replication NX is evaluated per replica and is
    not linearizable (README), so more than one client may be told OK, and a loser's value may
    even stay. What must hold: someone wins, the value left is one that was written, and every
    replica converges on it."""
    keys = [f"race:{i}" for i in range(20)]
    winners = {k: [] for k in keys}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def contender(t):
        r = client(shoal.proxy.port)
        barrier.wait()
        for k in keys:
            try:
                won = r.set(k, f"t{t}", nx=True)
            except Exception:  # noqa: BLE001 (a lost race may be reported as an error)
                won = False
            if won:
                with lock:
                    winners[k].append(f"t{t}")

    threads = [threading.Thread(target=contender, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with RespConn(shoal.proxy.port) as c:
        assert c.call("SHOAL.CONSISTENCY", "ALL", "QUORUM") == OK
        for k in keys:
            assert winners[k], f"no SET NX on {k} succeeded"
            value = c.call("GET", k)  # a read at ALL also repairs any replica that differs
            assert value in {f"t{t}".encode() for t in range(8)}, (k, value)
            for node_id in locate(c, k):
                port = shoal.node_port(node_id)
                assert harness.wait_until(lambda: node_holds(port, k, value.decode()), 5), (
                    f"{k}: node {node_id} did not converge on {value!r}: "
                    f"{harness.shoalctl(port, 'get', k)}")


def test_fewer_nodes_than_replicas_never_hangs(shoal, tmp_path):
    """One node and --replicas 3 (the default) or 2, as on a developer's laptop: the proxy may
    refuse to start with a clear error, or serve, or answer NOQUORUM, but every command must get
    a reply."""
    started = []
    try:
        for extra in ((), ("--replicas", "2")):
            try:
                proxy = harness.start_proxy(tmp_path, [shoal.nodes["a"]],
                                            extra=("--timeout-ms", "500", *extra))
            except RuntimeError as e:  # refused to start: fine if it says why
                assert "replica" in str(e).lower(), f"refused to start without saying why: {e}"
                continue
            started.append(proxy)
            for cmd in (("SET", "lonely", "v"), ("GET", "lonely"), ("DEL", "lonely")):
                with RespConn(proxy.port, timeout=5) as c:
                    try:
                        c.call(*cmd)
                    except (TimeoutError, socket.timeout):
                        pytest.fail(f"1 node, {' '.join(extra) or 'default --replicas 3'}: "
                                    f"{' '.join(cmd)} got no reply within 5 s")
    finally:
        for proxy in started:
            proxy.stop()


def test_keys_over_the_protocol_limit_get_a_clear_error(shoal):
    """Keys longer than 512 KiB are refused by the proxy itself, in every key position, and the
    connection keeps serving."""
    long_key = "k" * (512 * 1024 + 1)
    with RespConn(shoal.proxy.port) as c:
        for cmd in (("SET", long_key, "v"), ("GET", long_key), ("MSET", "a", "1", long_key, "2"),
                    ("DEL", "a", long_key), ("EXPIRE", long_key, "10")):
            reply = c.call(*cmd)
            assert isinstance(reply, Err) and reply.startswith("ERR key is too long"), cmd[0]
        assert c.call("GET", "a") is None  # the refused MSET wrote nothing
        edge = "k" * (512 * 1024)
        assert c.call("SET", edge, "v") == OK
        assert c.call("GET", edge) == b"v"
