"""/metrics after known failures, on both binaries: a hung owner (upstream timeouts per node,
hinted writes and their acks, hints pending on the fallback with bytes and age, sloppy acks),
its return (hints replayed), a repair (anti-entropy keys and bytes), malformed input (protocol
errors). And, with every process logging at debug, no key or value ever reaches a log."""
import socket
import time

import pytest
import redis

import harness
from test_admin import scrape, value, wait_admin

IDS = ("a", "b", "c", "d")
KEY = "audit-key-7f3a"      # prefixes of every key and value written: searched for in the logs
VALUE = "audit-value-9c2e"
TIMEOUT_MS = int(harness.slow(500))


@pytest.fixture
def cluster(tmp_path):
    """Four nodes (N=3: each key has one fallback), each with an admin port; one proxy."""
    ports = {i: harness.free_port() for i in IDS}
    admin = {i: harness.free_port() for i in IDS}
    procs, nodes = [], {}
    try:
        for i in IDS:
            nodes[i] = harness.start_node(
                tmp_path, i, port=ports[i], members=ports,
                extra=("--admin", f"127.0.0.1:{admin[i]}", "--anti-entropy-interval-ms", "0",
                       "--log-level", "debug"))
            procs.append(nodes[i])
        proxy_admin = harness.free_port()
        proxy = harness.start_proxy(tmp_path, list(nodes.values()),
                                    extra=("--admin", f"127.0.0.1:{proxy_admin}", "--timeout-ms",
                                           str(TIMEOUT_MS), "--log-level", "debug"))
        procs.append(proxy)
        for port in (*admin.values(), proxy_admin):
            wait_admin(port)
        yield nodes, admin, proxy, proxy_admin
    finally:
        for p in procs:
            if p.alive():
                harness.resume(p)
            p.stop(timeout=5)


def node_total(admin, name, ids=IDS, **labels):
    """`name` summed over the nodes `ids` (a paused node's endpoint does not answer)."""
    return sum(value(scrape(admin[i])[0], name, **labels) for i in ids)


def keys_with(client, owner, count, tag):
    out, i = [], 0
    while len(out) < count:
        key = f"{KEY}:{tag}:{i}"
        if owner in [m.decode() for m in client.execute_command("SHOAL.LOCATE", key)]:
            out.append(key)
        i += 1
    return out


def test_failure_metrics_and_no_keys_in_logs(cluster):
    nodes, admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port)
    hung = "d"
    strict = keys_with(client, hung, 20, "s")
    sloppy = keys_with(client, hung, 10, "y")
    p0, _ = scrape(proxy_admin)
    stored0 = node_total(admin, "shoal_node_hints_stored_total")

    # d hangs: every write of a key it owns times out there once, and is hinted to the fallback.
    harness.pause(nodes[hung])
    pipe = client.pipeline(transaction=False)
    for k in strict:
        pipe.set(k, f"{VALUE}:{k}")
    assert pipe.execute() == [True] * len(strict)  # the two other owners make QUORUM
    assert harness.wait_until(lambda: value(scrape(proxy_admin)[0], "shoal_proxy_hint_acks_total")
                              - value(p0, "shoal_proxy_hint_acks_total") >= len(strict),
                              timeout=harness.slow(15))
    p1, _ = scrape(proxy_admin)
    # Each of d's requests failed; at least --down-after-timeouts (3) of them by timing out
    # (then d is marked down, and the requests still in flight may fail as such).
    assert value(p1, "shoal_proxy_upstream_failures_total", node=hung) - value(
        p0, "shoal_proxy_upstream_failures_total", node=hung) == len(strict)
    timeouts = value(p1, "shoal_proxy_upstream_timeouts_total", node=hung) - value(
        p0, "shoal_proxy_upstream_timeouts_total", node=hung)
    assert 3 <= timeouts <= len(strict), timeouts
    for other in set(IDS) - {hung}:
        assert value(p1, "shoal_proxy_upstream_timeouts_total", node=other) == 0, other
        assert value(p1, "shoal_proxy_upstream_failures_total", node=other) == 0, other
    for name in ("shoal_proxy_hinted_writes_total", "shoal_proxy_hint_acks_total"):
        assert value(p1, name) - value(p0, name) == len(strict), name
    assert value(p1, "shoal_proxy_sloppy_acks_total") == 0
    live = [i for i in IDS if i != hung]
    assert node_total(admin, "shoal_node_hints_stored_total", live) - stored0 == len(strict)
    assert sum(value(scrape(admin[i])[0], "shoal_node_hints_pending") for i in live) == len(strict)
    assert sum(value(scrape(admin[i])[0], "shoal_node_hints_pending_bytes") for i in live) > 0

    # Sloppy ALL: once d is known down, each write's stored hint stands in for its ack.
    c2 = redis.Redis(port=proxy.port)
    assert c2.execute_command("SHOAL.CONSISTENCY", "QUORUM", "ALL", "SLOPPY") == b"OK"
    assert harness.wait_until(lambda: value(scrape(proxy_admin)[0], "shoal_proxy_upstream_up",
                                            node=hung) == 0, timeout=harness.slow(15))
    p2, _ = scrape(proxy_admin)
    for k in sloppy:
        assert c2.set(k, f"{VALUE}:{k}") is True
    p3, _ = scrape(proxy_admin)
    assert value(p3, "shoal_proxy_sloppy_acks_total") - value(p2, "shoal_proxy_sloppy_acks_total") \
        == len(sloppy)
    assert value(p3, "shoal_proxy_hinted_writes_total") - value(
        p2, "shoal_proxy_hinted_writes_total") == len(sloppy)
    total = len(strict) + len(sloppy)
    time.sleep(1.1)  # the oldest hint is now over a second old
    assert max(value(scrape(admin[i])[0], "shoal_node_hints_oldest_age_seconds")
               for i in live) >= 1

    # d is back: the fallbacks replay every hint to it.
    replayed0 = node_total(admin, "shoal_node_hints_replayed_total", live)
    harness.resume(nodes[hung])
    assert harness.wait_until(
        lambda: node_total(admin, "shoal_node_hints_replayed_total", live) - replayed0 == total,
        timeout=harness.slow(30), interval=0.2)
    assert node_total(admin, "shoal_node_hints_pending") == 0
    assert node_total(admin, "shoal_node_hints_expired_total") == 0
    assert node_total(admin, "shoal_node_hints_refused_total") == 0

    # A value written on one replica only: a repair from it copies it to the two others.
    (key,) = keys_with(client, "a", 1, "r")
    assert harness.shoalctl(nodes["a"].port, "set", key, f"{VALUE}:r").returncode == 0
    a0, _ = scrape(admin["a"])
    r = harness.shoalctl(nodes["a"].port, "repair")
    assert r.returncode == 0, r.stderr
    a1, _ = scrape(admin["a"])
    assert value(a1, "shoal_node_antientropy_repairs_total") - value(
        a0, "shoal_node_antientropy_repairs_total") == 1
    assert value(a1, "shoal_node_antientropy_rounds_total") - value(
        a0, "shoal_node_antientropy_rounds_total") == 1  # periodic rounds are off
    assert value(a1, "shoal_node_antientropy_keys_repaired_total") - value(
        a0, "shoal_node_antientropy_keys_repaired_total") == 2
    assert value(a1, "shoal_node_antientropy_repaired_bytes_total") - value(
        a0, "shoal_node_antientropy_repaired_bytes_total") >= 2 * (len(key) + len(VALUE))

    # Malformed input: the proxy and a node each close the connection and count it.
    p4, _ = scrape(proxy_admin)
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(b"*1\r\n$-5\r\n")
        assert b"Protocol error" in s.recv(1000)
    assert harness.wait_until(
        lambda: value(scrape(proxy_admin)[0], "shoal_proxy_protocol_errors_total")
        - value(p4, "shoal_proxy_protocol_errors_total") == 1)
    b0, _ = scrape(admin["b"])
    with socket.create_connection(("127.0.0.1", nodes["b"].port)) as s:
        s.sendall((16).to_bytes(4, "little") + b"\xff" * 16)
        s.settimeout(harness.slow(5))
        try:
            while s.recv(1000):
                pass
        except OSError:  # reset, or no close within the timeout (then the count below fails)
            pass
    assert harness.wait_until(lambda: value(scrape(admin["b"])[0],
                                            "shoal_node_protocol_errors_total")
                              - value(b0, "shoal_node_protocol_errors_total") == 1)

    # Audit: at debug level, through timeouts, hints, replay, repair and bad input, no process
    # logged a key or a value.
    for p in (*nodes.values(), proxy):
        log = open(p.log_path, errors="replace").read()
        assert log, p.name
        assert KEY not in log and VALUE not in log, (p.name, [
            line for line in log.splitlines() if KEY in line or VALUE in line][:3])
