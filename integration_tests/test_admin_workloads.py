"""Metrics after known workloads, the ones test_admin.py and test_admin_failures.py leave out:
the proxy's read-repairs, the node's expirations and evictions, and the start-up sync's progress
(keys, bytes, peers) on /metrics, each checked to move by exactly the workload's amount."""
import json
import time

import pytest
import redis

import harness
from test_admin import http, scrape, value, wait_admin

IDS = ("a", "b", "c")


@pytest.fixture
def cluster(tmp_path):
    """Three nodes (N=3: each holds every key; no periodic anti-entropy) and a proxy, each with an
    admin endpoint; yields (nodes, ports, node_admin_ports, proxy, proxy_admin_port)."""
    ports = {i: harness.free_port() for i in IDS}
    admin = {i: harness.free_port() for i in IDS}
    nodes, procs = {}, []
    try:
        for i in IDS:
            nodes[i] = harness.start_node(
                tmp_path, i, port=ports[i], members=ports,
                extra=("--admin", f"127.0.0.1:{admin[i]}", "--anti-entropy-interval-ms", "0"))
            procs.append(nodes[i])
        proxy_admin = harness.free_port()
        proxy = harness.start_proxy(tmp_path, list(nodes.values()),
                                    extra=("--admin", f"127.0.0.1:{proxy_admin}"))
        procs.append(proxy)
        for port in (*admin.values(), proxy_admin):
            wait_admin(port)
        # Every node past its start-up sync (a write at ALL is not counted on a syncing node).
        for port in (*admin.values(), proxy_admin):
            assert harness.wait_until(lambda: http(port, "/readyz")[0] == 200,
                                      timeout=harness.slow(20)), port
        yield nodes, ports, admin, proxy, proxy_admin
    finally:
        for p in procs:
            p.stop(timeout=5)


def total(admin, name, ids=IDS, **labels):
    return sum(value(scrape(admin[i])[0], name, **labels) for i in ids)


def test_read_repairs_sent(cluster):
    """A value newer on one replica than on the two others: one read at ALL repairs the two
    stale replicas (shoal_proxy_read_repairs_total +2), a second read finds nothing to repair."""
    nodes, ports, admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port)
    client.execute_command("SHOAL.CONSISTENCY", "ALL", "ALL")
    keys = [f"rr:{i}" for i in range(5)]
    for k in keys:
        assert client.set(k, "old")
    for k in keys:  # newer, on a only (shoalctl writes one node)
        assert harness.shoalctl(ports["a"], "set", k, "new").stdout == "OK\n"
    before, _ = scrape(proxy_admin)
    for k in keys:
        assert client.get(k) == b"new"
    want = value(before, "shoal_proxy_read_repairs_total") + 2 * len(keys)
    assert harness.wait_until(
        lambda: value(scrape(proxy_admin)[0], "shoal_proxy_read_repairs_total") == want,
        timeout=harness.slow(10)), scrape(proxy_admin)[1]
    for i in ("b", "c"):  # the repairs reached the stale replicas
        assert harness.shoalctl(ports[i], "get", keys[0]).stdout == "new\n"
    for k in keys:
        assert client.get(k) == b"new"
    time.sleep(0.3)
    assert value(scrape(proxy_admin)[0], "shoal_proxy_read_repairs_total") == want


def test_expirations_counted_once_per_replica(cluster):
    nodes, ports, admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port)
    before = total(admin, "shoal_node_expirations_total")
    for i in range(10):
        assert client.set(f"ttl:{i}", "v", px=200)
    time.sleep(0.4)
    for i in range(10):
        assert client.get(f"ttl:{i}") is None
    # 10 keys on 3 replicas: 30 values expired, each counted once (on access or by the sweep).
    assert harness.wait_until(lambda: total(admin, "shoal_node_expirations_total") - before == 30,
                              timeout=harness.slow(10))
    for i in range(10):
        assert client.get(f"ttl:{i}") is None
    assert total(admin, "shoal_node_expirations_total") - before == 30


def test_evictions_make_room_for_every_write(tmp_path):
    """A node over its --max-memory evicts: every key written is held or was evicted."""
    admin = harness.free_port()
    node = harness.start_node(tmp_path, "solo",
                              extra=("--admin", f"127.0.0.1:{admin}", "--max-memory", "2mb",
                                     "--threads", "1"))
    try:
        wait_admin(admin)
        r = harness.shoalctl(node.port, "fill", "--count", "4000", "--value-size", "1kb",
                             "--key-prefix", "ev:", timeout=60)
        assert r.returncode == 0, r.stderr
        samples, _ = scrape(admin)
        evicted = value(samples, "shoal_node_evictions_total")
        held = value(samples, "shoal_node_keys")
        assert evicted > 1000, (evicted, held)
        assert held + evicted == 4000, (held, evicted)
        assert value(samples, "shoal_node_memory_used_bytes") <= value(
            samples, "shoal_node_memory_limit_bytes")
        assert value(samples, "shoal_node_tombstones_evicted_total") == 0
    finally:
        node.stop(timeout=5)


def test_start_up_sync_progress(cluster, tmp_path, request):
    """A node restarted empty pulls the keys it holds from its two peers: the sync's metrics say
    done, 2 of 2 peers, and exactly the keys and bytes the workload wrote."""
    nodes, ports, admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port)
    value_text = "x" * 50
    for i in range(40):
        assert client.set(f"sync:{i:02d}", value_text)
    nodes["c"].stop(timeout=5)
    nodes["c"] = harness.start_node(
        tmp_path, "c", port=ports["c"], members=ports,
        extra=("--admin", f"127.0.0.1:{admin['c']}", "--anti-entropy-interval-ms", "0"))
    request.addfinalizer(lambda: nodes["c"].stop(timeout=5))
    wait_admin(admin["c"])
    assert harness.wait_until(lambda: http(admin["c"], "/readyz")[0] == 200,
                              timeout=harness.slow(20))
    samples, _ = scrape(admin["c"])
    assert value(samples, "shoal_node_sync_state", state="done") == 1
    assert value(samples, "shoal_node_sync_state", state="syncing") == 0
    assert value(samples, "shoal_node_sync_peers") == 2
    assert value(samples, "shoal_node_sync_peers_done") == 2
    # Each peer offers each key's state; c applies the first, the second is not newer.
    assert value(samples, "shoal_node_sync_keys_total") == 40
    assert value(samples, "shoal_node_sync_bytes_total") == 40 * (len("sync:00") + len(value_text))
    assert value(samples, "shoal_node_keys") == 40
    info = json.loads(harness.shoalctl(ports["c"], "info", "--json").stdout)
    assert info["sync_keys"] == 40 and info["sync_state"] == "done"
