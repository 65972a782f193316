"""Concurrent read-modify-writes through the proxy (issue 11; docs/data-model.md "Concurrent
read-modify-writes"): APPEND, SETRANGE and GETSET are optimistic versioned writes
(Put.if_version_at_most = the version read), read again and recomputed when a replica took
another write first. Concurrent APPENDs through two proxies, while one replica is killed and
restarted empty, each acknowledged one survives exactly once; concurrent GETSETs each return a
different previous value.
RENAME and COPY move a counter as a counter."""
import threading

import harness
import node_wire
from conftest_proxy import Cluster, short_tmp_dir
from harness import RespConn, Simple

TIMEOUT_MS = "300"


def _cluster():
    cluster = Cluster(short_tmp_dir(), members=True,
                      proxy_extra=("--timeout-ms", TIMEOUT_MS, "--threads", "2"),
                      node_extra=("--anti-entropy-interval-ms", "500"))
    cluster.add_proxy(("--timeout-ms", TIMEOUT_MS, "--threads", "2"))
    return cluster


def _hammer(cluster, clients, per_client, command, progress=None):
    """Runs `command(i, k)` -> args on `clients` threads (alternating proxies); returns the
    replies per client (an exception text for a broken connection)."""
    replies = [[] for _ in range(clients)]

    def run(i):
        port = cluster.proxies[i % len(cluster.proxies)].port
        conn = RespConn(port, timeout=harness.slow(10))
        for k in range(per_client):
            try:
                replies[i].append(conn.call(*command(i, k)))
            except Exception as e:  # noqa: BLE001 (a broken connection: note it, reconnect)
                replies[i].append(f"exception {e!r}")
                conn = RespConn(port, timeout=harness.slow(10))
            if progress is not None:
                progress[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    return threads, replies


def test_concurrent_appends_through_two_proxies_with_a_replica_restarted_all_survive():
    cluster = _cluster()
    try:
        key = "rmw:{append}"
        clients, per_client = 4, 60
        progress = [0] * clients
        threads, replies = _hammer(cluster, clients, per_client,
                                   lambda i, k: ("APPEND", key, f"<{i}.{k}>"), progress)
        # A third of the way: node c is killed and the others take the appends; restarted empty
        # at two thirds, it pulls its peers' states: a stale replica the later appends and reads
        # must not be misled by. (Not SIGSTOP: requests queued to a hung node are applied when it
        # resumes, refused attempts included: docs/data-model.md, "Limits".)
        harness.wait_until(lambda: sum(progress) >= clients * per_client // 3,
                           timeout=harness.slow(60))
        cluster.kill("c")
        harness.wait_until(lambda: sum(progress) >= 2 * clients * per_client // 3,
                           timeout=harness.slow(120))
        cluster.restart("c")
        for t in threads:
            t.join(timeout=harness.slow(300))
        acked = {f"<{i}.{k}>" for i in range(clients) for k, r in enumerate(replies[i])
                 if isinstance(r, int)}
        failed = [r for rs in replies for r in rs if not isinstance(r, int)]
        print(f"acknowledged {len(acked)} of {clients * per_client}; failed {len(failed)}: "
              f"{sorted(set(str(f)[:40] for f in failed))}")
        # Refused writes split while c is down wait for anti-entropy (or a GET) to settle.
        assert all(str(f).startswith("TRYAGAIN") or str(f).startswith("NOQUORUM")
                   for f in failed), failed[:5]
        for proxy in cluster.proxies:
            with RespConn(proxy.port) as c:
                value = c.call("GET", key).decode()
                tokens = value.replace(">", ">\n").split()
                for token in acked:
                    assert tokens.count(token) == 1, (token, value)
                assert len(tokens) == len(set(tokens)), value  # nothing twice
        # Each APPEND's reply is the length of a value that held it: lengths grow per client.
        for rs in replies:
            lengths = [r for r in rs if isinstance(r, int)]
            assert lengths == sorted(lengths), lengths
        assert len(acked) >= clients * per_client // 2, failed[:5]
    finally:
        cluster.close()


def test_concurrent_getsets_each_return_a_different_previous_value():
    cluster = _cluster()
    try:
        key = "rmw:{getset}"
        clients, per_client = 4, 50
        threads, replies = _hammer(cluster, clients, per_client,
                                   lambda i, k: ("GETSET", key, f"{i}.{k}"))
        for t in threads:
            t.join(timeout=harness.slow(300))
        failed = [r for rs in replies for r in rs if isinstance(r, str)]
        previous = [r for rs in replies for r in rs if not isinstance(r, str)]
        print(f"acknowledged {len(previous)} of {clients * per_client}; failed {len(failed)}")
        # Some give up under this contention (TRYAGAIN: not acknowledged). Measured 11-39 of 200
        # per run (before acknowledgements waited for every replica and re-stamped above a newer
        # refused write, 4-21, at the price of acknowledged writes that anti-entropy could undo).
        assert len(failed) <= clients * per_client // 4, failed[:5]
        # Every acknowledged GETSET took over from a different value: no value is returned as
        # the previous one twice (the first GETSET of all returns nil).
        values = [p for p in previous if p is not None]
        assert len(values) == len(set(values)), sorted(values)
        assert previous.count(None) <= 1
        with RespConn(cluster.proxy.port) as c:
            last = c.call("GET", key)
        assert last not in values  # the last value set was nobody's previous one
    finally:
        cluster.close()


def _node_value(port, key):
    with node_wire.NodeConnection(port) as n:
        n.hello()
        kind, body = n.call("Get", key=key.encode(), want_value=True)
        assert kind == "GetResponse", body
        if not body.get("found") or body.get("tombstone"):
            return None
        return body.get("value_type", 0), body["value"]


def test_rename_and_copy_keep_a_counter_a_counter():
    cluster = _cluster()
    try:
        with RespConn(cluster.proxy.port) as c:
            for _ in range(5):
                c.call("INCR", "{n}src")
            assert c.call("RENAME", "{n}src", "{n}dst") == Simple("OK")
            assert c.call("COPY", "{n}dst", "{n}copy") == 1
            assert c.call("GET", "{n}dst") == b"5"
            assert c.call("TYPE", "{n}dst") == Simple("string")
        for node in cluster.nodes.values():
            for key in ("{n}dst", "{n}copy"):
                held = _node_value(node.port, key)
                assert held is not None and held[0] == 1, (key, held)  # ValueType Counter
                assert node_wire.decode_counter(held[1]) == 5
            assert _node_value(node.port, "{n}src") is None
        # Still a counter: increments through both proxies merge.
        with RespConn(cluster.proxies[0].port) as a, RespConn(cluster.proxies[1].port) as b:
            assert a.call("INCR", "{n}dst") == 6
            assert b.call("INCRBY", "{n}dst", "10") == 16
            assert a.call("INCR", "{n}copy") == 6
    finally:
        cluster.close()
