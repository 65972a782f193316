"""Membership by gossip (issue 9, docs/membership.md) with real processes: three nodes that find
each other from --seeds, a proxy that knows only one seed, the member listing of shoalctl and
SHOAL.MEMBERS, a node killed seen DOWN within seconds and NORMAL again once restarted with the same
id, and the flags' errors.

Zones: four nodes in two zones with N=2 put every key's two replicas in different zones. Failure:
with --dead-after 5s a killed node is DOWN within seconds, REMOVED after 5 s, and the surviving
owners copy its keys so that every key is again on N live owners (checked on each owner directly).
`shoalctl remove` does the same at once; `shoalctl decommission` hands a node's keys to their next
owners and stops it.
"""
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

import harness
from harness import BIN, free_port, shoalctl, slow, wait_until
from node_wire import NodeConnection
from test_admin import scrape, value, wait_admin
from test_node_hints import hint_put
from test_node_protocol import info

GOSSIP_MS = 200
IDS = ["a", "b", "c"]


def members(port):
    """{id: row} from `shoalctl members` on node `port` (row: dict of the table's columns), or {}
    when the command fails."""
    out = shoalctl(port, "members")
    if out.returncode != 0:
        return {}
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    header_at = next(i for i, l in enumerate(lines) if l.startswith("ID"))
    names = lines[header_at].split()
    rows = {}
    for line in lines[header_at + 1:]:
        cells = line.split()
        row = dict(zip(names, cells))
        rows[row["ID"]] = row
    return rows


def states(port):
    return {i: r["STATE"] for i, r in members(port).items()}


def proxy_members(client):
    """SHOAL.MEMBERS as {id: {field: value}}."""
    out = {}
    for entry in client.execute_command("SHOAL.MEMBERS"):
        fields = {entry[i].decode(): entry[i + 1].decode() for i in range(0, len(entry), 2)}
        out[fields["id"]] = fields
    return out


def node_args(tmp_path, node_id, port, seeds, extra=(), zone=None):
    data_dir = Path(tmp_path) / f"node-{node_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    return [str(BIN / "shoal-node"), "--id", node_id, "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(data_dir), "--log-level", "info", "--warmup-ms", "0",
            "--seeds", seeds, "--gossip-interval-ms", str(GOSSIP_MS),
            "--zone", zone or f"zone-{node_id}", *extra]


def start_seeded_nodes(tmp_path, ports, seeds, extra=(), zones=None):
    procs = {}
    for node_id, port in ports.items():
        args = node_args(tmp_path, node_id, port, seeds, extra,
                         zone=zones[node_id] if zones else None)
        procs[node_id] = harness.Process(f"node-{node_id}", args, port,
                                         Path(tmp_path) / f"node-{node_id}-{port}.log", wait=False)
    for p in procs.values():
        p.wait_ready(timeout=30)
    return procs


@pytest.fixture
def seeded(tmp_path):
    ports = {i: free_port() for i in IDS}
    # One seed by number, one by name: a name is resolved like any other.
    seeds = f"127.0.0.1:{ports['a']},localhost:{ports['b']}"
    procs = start_seeded_nodes(tmp_path, ports, seeds)
    proxy_port = free_port()
    proxy = harness.Process(
        "proxy",
        [str(BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{proxy_port}", "--seeds",
         f"127.0.0.1:{ports['c']}", "--members-refresh-ms", "200", "--timeout-ms", "500",
         "--log-level", "info"],
        proxy_port, Path(tmp_path) / f"proxy-{proxy_port}.log")
    yield {"ports": ports, "procs": procs, "proxy": proxy, "seeds": seeds, "tmp": tmp_path}
    proxy.stop()
    for p in procs.values():
        p.stop()


def test_three_nodes_and_a_proxy_from_seeds(seeded):
    ports, procs, proxy = seeded["ports"], seeded["procs"], seeded["proxy"]
    # Every node sees every node NORMAL, with its zone.
    for node_id, port in ports.items():
        assert wait_until(lambda: states(port) == {i: "NORMAL" for i in IDS}, timeout=15), (
            node_id, members(port), procs[node_id].log())
    rows = members(ports["a"])
    assert {i: rows[i]["ZONE"] for i in IDS} == {i: f"zone-{i}" for i in IDS}
    assert {i: rows[i]["ADDRESS"] for i in IDS} == {i: f"127.0.0.1:{p}" for i, p in ports.items()}

    client = redis.Redis(port=proxy.port, socket_timeout=slow(5))
    assert wait_until(lambda: set(proxy_members(client)) == set(IDS), timeout=10), proxy.log()
    listed = proxy_members(client)
    assert {i: listed[i]["state"] for i in IDS} == {i: "NORMAL" for i in IDS}
    for key in range(300):
        assert client.set(f"k{key}", f"v{key}")
    for key in range(300):
        assert client.get(f"k{key}") == f"v{key}".encode()
    # The proxy routes as the nodes' ring: each key is on its owners.
    owners = client.execute_command("SHOAL.LOCATE", "k1")
    assert len(owners) == 3 and {o.decode() for o in owners} == set(IDS)

    # kill -9 c: every other node and the proxy see it DOWN within seconds.
    procs["c"].kill()
    killed = time.time()
    for node_id in ["a", "b"]:
        assert wait_until(lambda: states(ports[node_id]).get("c") == "DOWN", timeout=10), (
            members(ports[node_id]))
    took = time.time() - killed
    assert took < slow(10), took
    assert float(members(ports["a"])["c"]["PHI"]) > 8
    assert wait_until(lambda: proxy_members(client)["c"]["state"] == "DOWN", timeout=5)
    # DOWN is not removed: c stays in the ring, and QUORUM still works with two of three.
    assert {o.decode() for o in client.execute_command("SHOAL.LOCATE", "k1")} == set(IDS)
    for key in range(300, 400):
        assert client.set(f"k{key}", f"v{key}")
    for key in range(0, 400, 7):
        assert client.get(f"k{key}") == f"v{key}".encode()

    # c restarts with the same id, on its data dir: NORMAL again everywhere, no operator step,
    # with a higher incarnation (it refuted its previous life's record).
    old_incarnation = int(members(ports["a"])["c"]["INCARNATION"])
    procs["c"] = harness.Process(
        "node-c", node_args(seeded["tmp"], "c", ports["c"], seeded["seeds"]), ports["c"],
        Path(seeded["tmp"]) / f"node-c-{ports['c']}-restarted.log")
    for node_id in IDS:
        assert wait_until(lambda: states(ports[node_id]) == {i: "NORMAL" for i in IDS},
                          timeout=15), (node_id, members(ports[node_id]))
    assert int(members(ports["a"])["c"]["INCARNATION"]) > old_incarnation
    assert wait_until(lambda: proxy_members(client)["c"]["state"] == "NORMAL", timeout=5)
    for key in range(0, 400, 3):
        assert client.get(f"k{key}") == f"v{key}".encode()


def test_members_of_a_node_with_static_membership(tmp_path):
    ports = {"x": free_port(), "y": free_port()}
    x = harness.start_node(tmp_path, "x", port=ports["x"], members=ports)
    try:
        rows = members(ports["x"])
        assert set(rows) == {"x", "y"}
        assert {r["STATE"] for r in rows.values()} == {"NORMAL"}
        out = shoalctl(ports["x"], "members")
        assert "membership: static (--nodes)" in out.stdout
    finally:
        x.stop()


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "127.0.0.1:1", "--nodes", "n=127.0.0.1:2"], "--seeds and --nodes"),
    (["--seeds", "nowhere"], "--seeds: "),
    (["--seeds", "127.0.0.1:1", "--phi-threshold", "0"], "--phi-threshold"),
    (["--seeds", "127.0.0.1:1", "--gossip-interval-ms", "5"], "--gossip-interval-ms"),
])
def test_node_flag_errors(tmp_path, extra, message):
    out = subprocess.run([str(BIN / "shoal-node"), "--id", "n", "--listen", "127.0.0.1:0",
                          "--data-dir", str(tmp_path), *extra],
                         capture_output=True, text=True, timeout=slow(10))
    assert out.returncode == 2, out
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "127.0.0.1:1", "--nodes", "n=127.0.0.1:2"], "--seeds and --nodes"),
    (["--seeds", "127.0.0.1"], "--seeds: "),
    ([], "--nodes or --seeds"),
    (["--nodes", "n=127.0.0.1:2", "--phi-threshold", "0"], "--phi-threshold must be a number"),
    (["--nodes", "n=127.0.0.1:2", "--phi-threshold", "high"], "--phi-threshold must be a number"),
    (["--nodes", "n=127.0.0.1:2", "--link-ping-ms", "-1"], "--link-ping-ms must be between"),
])
def test_proxy_flag_errors(extra, message):
    out = subprocess.run([str(BIN / "shoal-proxy"), "--listen", "127.0.0.1:0", *extra],
                         capture_output=True, text=True, timeout=slow(10))
    assert out.returncode == 2, out
    assert message in out.stderr, out.stderr


# ---- zones, failure, removal, decommission ----------------------------------------------------

class SeededCluster:
    """Nodes from seeds (every node's port is a seed) and one proxy from one seed."""

    def __init__(self, tmp_path, ids, node_extra=(), zones=None, proxy_extra=()):
        self.tmp = tmp_path
        self.ports = {i: free_port() for i in ids}
        self.seeds = ",".join(f"127.0.0.1:{p}" for p in self.ports.values())
        self.procs = start_seeded_nodes(tmp_path, self.ports, self.seeds, node_extra, zones)
        port = free_port()
        self.proxy = harness.Process(
            "proxy",
            [str(BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--seeds",
             f"127.0.0.1:{self.ports[ids[0]]}", "--members-refresh-ms", "200", "--timeout-ms",
             str(int(slow(500))), "--log-level", "info", *proxy_extra],
            port, Path(tmp_path) / f"proxy-{port}.log")
        self.client = redis.Redis(port=port, socket_timeout=slow(5))

    def close(self):
        self.proxy.stop()
        for p in self.procs.values():
            if p.alive():
                p.stop()

    def wait_all_normal(self, ids):
        for node_id in ids:
            assert wait_until(lambda: states(self.ports[node_id]) == {i: "NORMAL" for i in ids},
                              timeout=15), (node_id, members(self.ports[node_id]))
        # The proxy's ring too (its listing may still have some JOINING: a cluster being created).
        # SHOAL.MEMBERS shows a listing only once the ring it forms is what the workers route with.
        assert wait_until(lambda: {i: f["state"] for i, f in proxy_members(self.client).items()
                                   if i in ids} == {i: "NORMAL" for i in ids}, timeout=10), (
            proxy_members(self.client))
        assert set(ids) <= {o for k in range(64) for o in self.owners(f"~{k}")}, (
            [self.owners(f"~{k}") for k in range(4)])

    def owners(self, key):
        return [o.decode() for o in self.client.execute_command("SHOAL.LOCATE", key)]


def held_by(port, keys):
    """The keys of `keys` that node `port` holds a live value of (asked directly)."""
    with NodeConnection(port) as c:
        c.hello()
        out = set()
        for key in keys:
            name, body = c.get(key.encode())
            if name == "GetResponse" and body.get("found") and not body.get("tombstone"):
                out.add(key)
        return out


def ring_flag(port):
    """The --nodes list (ID=HOST:PORT@ZONE) of the ring members node `port` lists (neither
    JOINING nor REMOVED)."""
    return ",".join(f"{i}={r['ADDRESS']}@{r['ZONE']}" for i, r in sorted(members(port).items())
                    if r["STATE"] not in ("JOINING", "REMOVED"))


def located(nodes_flag, key):
    """The key's owners as `shoalctl locate` computes them from a member list."""
    out = subprocess.run([str(BIN / "shoalctl"), "locate", key, "--nodes", nodes_flag, "--json"],
                         capture_output=True, text=True, timeout=slow(10))
    assert out.returncode == 0, out.stderr
    return [r["id"] for r in json.loads(out.stdout)["replicas"]]


def missing_replicas(cluster, keys, exclude=(), check=None):
    """[(key, owner)] for every key not held by one of its owners (per the proxy's ring).
    check(n, key, owners), when given, is called for the nth key first."""
    by_owner = {}
    for n, key in enumerate(keys):
        owners = cluster.owners(key)
        assert not set(owners) & set(exclude), (key, owners)
        if check is not None:
            check(n, key, owners)
        for o in owners:
            by_owner.setdefault(o, []).append(key)
    missing = []
    for o, ks in by_owner.items():
        got = held_by(cluster.ports[o], ks)
        missing += [(k, o) for k in ks if k not in got]
    return missing


def test_zones_distinct_first(tmp_path):
    """Two zones of two nodes, N=2: every key has one replica in each zone (the plain ring walk
    would put about a third of the keys on two nodes of one zone)."""
    zones = {"a": "z1", "b": "z1", "c": "z2", "d": "z2"}
    cluster = SeededCluster(tmp_path, list(zones), node_extra=("--replicas", "2"), zones=zones,
                            proxy_extra=("--replicas", "2"))
    try:
        cluster.wait_all_normal(list(zones))
        assert {i: r["ZONE"] for i, r in members(cluster.ports["a"]).items()} == zones
        assert {i: f["zone"] for i, f in proxy_members(cluster.client).items()} == zones
        for i in range(300):
            owners = cluster.owners(f"z{i}")
            assert len(owners) == 2 and {zones[o] for o in owners} == {"z1", "z2"}, (i, owners)
            assert cluster.client.set(f"z{i}", "v")
        # The nodes' rings agree with the proxy's: each key is on the two owners it names.
        assert wait_until(lambda: not missing_replicas(cluster, [f"z{i}" for i in range(300)]),
                          timeout=10)
    finally:
        cluster.close()


def test_dead_node_removed_and_its_keys_replicated(tmp_path):
    """--dead-after 5s: a killed node is DOWN within seconds, REMOVED 5 s later, and every key is
    again on N=3 live owners (each owner asked directly)."""
    ids = ["a", "b", "c", "d"]
    cluster = SeededCluster(tmp_path, ids, node_extra=("--dead-after", "5s"))
    try:
        cluster.wait_all_normal(ids)
        keys = [f"k{i}" for i in range(500)]
        for key in keys:
            assert cluster.client.set(key, "v" + key)
        assert wait_until(lambda: not missing_replicas(cluster, keys), timeout=10)
        lost = [k for k in keys if "d" in cluster.owners(k)]
        assert len(lost) > 200  # d held about 3/4 of them

        cluster.procs["d"].kill()
        killed = time.time()
        survivors = ["a", "b", "c"]
        for node_id in survivors:
            assert wait_until(lambda: states(cluster.ports[node_id]).get("d") == "DOWN",
                              timeout=slow(10)), members(cluster.ports[node_id])
        down_after = time.time() - killed
        assert down_after < slow(5), down_after
        for node_id in survivors:
            assert wait_until(lambda: states(cluster.ports[node_id]).get("d") == "REMOVED",
                              timeout=slow(15)), members(cluster.ports[node_id])
        removed_after = time.time() - killed
        assert removed_after >= 5, removed_after
        # The proxy routes around it, and its keys are on three live owners again.
        assert wait_until(lambda: "d" not in cluster.owners(lost[0]), timeout=5)
        assert wait_until(lambda: not missing_replicas(cluster, keys, exclude=("d",)),
                          timeout=slow(20)), missing_replicas(cluster, keys, exclude=("d",))[:10]
        # Each key's owners as shoalctl locates them from a survivor's member table: three live
        # ones, each holding it (asked directly).
        assert not every_key_on_its_owners(cluster, keys, survivors)
        for key in keys[::5]:
            assert cluster.client.get(key) == ("v" + key).encode()
    finally:
        cluster.close()


def decommission(cluster, node_id, others):
    """`shoalctl decommission` to `node_id`: it answers LEAVING, exits 0 (within 30 s), and every
    one of `others` then lists it REMOVED."""
    out = shoalctl(cluster.ports[node_id], "decommission")
    assert out.returncode == 0 and "LEAVING" in out.stdout, out
    assert wait_until(lambda: not cluster.procs[node_id].alive(), timeout=slow(30)), (
        cluster.procs[node_id].log())
    assert cluster.procs[node_id].proc.returncode == 0
    for other in others:
        assert wait_until(lambda: states(cluster.ports[other]).get(node_id) == "REMOVED",
                          timeout=10), members(cluster.ports[other])


def test_remove_at_once_and_decommission(tmp_path):
    """shoalctl remove ID: REMOVED at once (and refuted by a live member); shoalctl
    decommission: the node hands its keys over, leaves the member table's ring and exits."""
    ids = ["a", "b", "c", "d"]
    cluster = SeededCluster(tmp_path, ids)
    try:
        cluster.wait_all_normal(ids)
        keys = [f"k{i}" for i in range(400)]
        for key in keys:
            assert cluster.client.set(key, "v" + key)
        assert wait_until(lambda: not missing_replicas(cluster, keys), timeout=10)

        # Errors: an unknown member, this node itself.
        out = shoalctl(cluster.ports["a"], "remove", "nobody")
        assert out.returncode == 1 and "no member 'nobody'" in out.stderr, out
        out = shoalctl(cluster.ports["a"], "remove", "a")
        assert out.returncode == 1 and "cannot remove itself" in out.stderr, out

        # A live member removed by mistake refutes it and stays NORMAL.
        out = shoalctl(cluster.ports["a"], "remove", "b")
        assert out.returncode == 0, out
        cluster.wait_all_normal(ids)

        # Decommission d: LEAVING, keys handed over, REMOVED, the process exits.
        decommission(cluster, "d", ["a", "b", "c"])
        assert wait_until(lambda: "d" not in {o for k in keys[:50] for o in cluster.owners(k)},
                          timeout=5)
        assert not missing_replicas(cluster, keys, exclude=("d",))
        for key in keys[::4]:
            assert cluster.client.get(key) == ("v" + key).encode()
    finally:
        cluster.close()


def preload(client, keys, value=lambda key: "v" + key):
    """Sets each key to value(key) (QUORUM, pipelined by 500)."""
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(keys):
        pipe.set(key, value(key))
        if i % 500 == 499 or i == len(keys) - 1:
            assert all(pipe.execute())


class QuorumLoad:
    """A writer and a reader at QUORUM (the proxy's default) through the proxy on `port`, in two
    threads, while a test changes the membership. The writer sets new keys (`prefix` + a number),
    each to value(key), and records those acknowledged (`written`); the reader reads the
    preloaded `keys` and, every third read, one of the acknowledged ones, and records every answer
    that is not value(key) (`wrong`: nil for a written key, or another value). Redis errors go to
    `errors`. `pause`: seconds the writer waits after each write (0: as fast as it can, some
    thousands per second). Use as a context manager: the threads run inside the block."""

    def __init__(self, port, keys, value=lambda key: "v" + key, prefix="w", pause=0):
        self.port, self.keys, self.value, self.prefix = port, keys, value, prefix
        self.pause = pause
        self.stop = threading.Event()
        self.wrong, self.errors, self.written, self.reads = [], [], [], 0
        self.threads = [threading.Thread(target=self._reader), threading.Thread(target=self._writer)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def _reader(self):
        c = redis.Redis(port=self.port, socket_timeout=slow(5))
        i = 0
        while not self.stop.is_set():
            if i % 3 == 2 and self.written:
                key = self.written[(i * 104729) % len(self.written)]
            else:
                key = self.keys[(i * 7919) % len(self.keys)]
            i += 1
            try:
                got = c.get(key)
            except redis.RedisError as e:
                self.errors.append(str(e))
                continue
            self.reads += 1
            if got != self.value(key).encode():
                self.wrong.append((key, got))

    def _writer(self):
        c = redis.Redis(port=self.port, socket_timeout=slow(5))
        i = 0
        while not self.stop.is_set():
            key = f"{self.prefix}{i}"
            i += 1
            try:
                if c.set(key, self.value(key)):
                    self.written.append(key)
            except redis.RedisError as e:
                self.errors.append(str(e))
            if self.pause:
                time.sleep(self.pause)

    def check(self, client, min_reads=100, every=10):
        """No wrong read, no error, at least `min_reads` reads; then every `every`th acknowledged
        key reads back (through `client`)."""
        assert not self.wrong, self.wrong[:10]
        assert self.reads > min_reads, self.reads
        assert not self.errors, self.errors[:5]
        for key in self.written[::every]:
            assert client.get(key) == self.value(key).encode(), key


def every_key_on_its_owners(cluster, keys, ids, located_every=1):
    """Each key's three owners as the proxy routes it (SHOAL.LOCATE), for every `located_every`th
    key checked against `shoalctl locate` from a member's table (which must form the ring of
    `ids`). Returns [(key, owner)] for each owner that does not hold the key (asked directly)."""
    nodes_flag = ring_flag(cluster.ports[ids[0]])
    assert sorted(n.split("=")[0] for n in nodes_flag.split(",")) == sorted(ids), nodes_flag

    def check(n, key, owners):
        assert len(owners) == 3 and set(owners) <= set(ids), (key, owners)
        if n % located_every == 0:
            assert located(nodes_flag, key) == owners, key
    return missing_replicas(cluster, keys, check=check)


def test_join_under_quorum_load(tmp_path):
    """10,000 keys on 3 nodes; a 4th node joins while a writer and a reader run at QUORUM: it is
    JOINING (proxies do not read from it) until it has pulled its ranges, then NORMAL; no read
    returns nil (or another value) for a written key (the 10,000 and those the writer wrote), and
    afterwards the new node holds about its share (3/4 with N=3 of 4) of the keys."""
    ids = ["a", "b", "c"]
    cluster = SeededCluster(tmp_path, ids)
    try:
        cluster.wait_all_normal(ids)
        keys = [f"j{i}" for i in range(10_000)]
        preload(cluster.client, keys)

        with QuorumLoad(cluster.proxy.port, keys) as load:
            time.sleep(1)
            port = free_port()
            cluster.ports["d"] = port
            cluster.procs["d"] = harness.Process(
                "node-d", node_args(tmp_path, "d", port, cluster.seeds, ("--join-wait", "3s")),
                port, Path(tmp_path) / f"node-d-{port}.log", wait=False)
            cluster.procs["d"].wait_ready(timeout=30)
            sample = keys[::10]
            # JOINING: known to the cluster and the proxy, but no read goes to it.
            assert wait_until(lambda: proxy_members(cluster.client).get("d", {}).get("state")
                              == "JOINING", timeout=slow(3)), proxy_members(cluster.client)
            assert states(cluster.ports["a"]).get("d") == "JOINING", members(cluster.ports["a"])
            assert "d" not in {o for k in sample[:40] for o in cluster.owners(k)}
            cluster.wait_all_normal(ids + ["d"])
            assert wait_until(lambda: "d" in {o for k in sample[:40] for o in cluster.owners(k)},
                              timeout=10)
            # d pulled the keys it gained before it turned NORMAL.
            assert not missing_replicas(cluster, sample), missing_replicas(cluster, sample)[:10]
            assert "join: done" in cluster.procs["d"].log()
            time.sleep(1)
        load.check(cluster.client)
        held = len(held_by(port, keys))
        assert 0.65 * len(keys) < held < 0.85 * len(keys), held
    finally:
        cluster.close()



def test_decommission_under_quorum_load(tmp_path):
    """Issue 9's "decommission a node under the same load": 4 nodes, 2,000 keys, a writer and a
    reader at QUORUM through the proxy while d is decommissioned: no read returns nil or another
    value, no request fails, d turns REMOVED everywhere and exits 0, and afterwards every key (the
    2,000 and every one the writer wrote) is on its three owners among a, b and c."""
    ids = ["a", "b", "c", "d"]
    cluster = SeededCluster(tmp_path, ids)
    try:
        cluster.wait_all_normal(ids)
        keys = [f"q{i}" for i in range(2000)]
        preload(cluster.client, keys)
        assert wait_until(lambda: not missing_replicas(cluster, keys[::10]), timeout=10)
        with QuorumLoad(cluster.proxy.port, keys, pause=0.005) as load:
            time.sleep(1)
            decommission(cluster, "d", ["a", "b", "c"])
            time.sleep(1)
        load.check(cluster.client)
        assert len(load.written) > 100, len(load.written)
        everything = keys + load.written
        left = ["a", "b", "c"]
        assert wait_until(lambda: not every_key_on_its_owners(cluster, everything, left, 10),
                          timeout=slow(10)), every_key_on_its_owners(cluster, everything, left,
                                                                      10)[:10]
    finally:
        cluster.close()


def test_decommission_hands_off_its_hints(tmp_path):
    """A decommissioned node hands off the hints it holds before it leaves: those for a live
    member to that member, those for a member that does not answer to the key's other owners.
    The node replays hints at 1 per second, so without the hand-off almost all would be lost.
    shoal_rebalance_hints_handed_off_total counts them: scraped after the hand-off (the node
    REMOVED in its own table) and before the node exits."""
    ids = ["a", "b", "c", "d"]
    cluster = SeededCluster(tmp_path, ids, node_extra=(
        "--hint-replay-rate", "1", "--anti-entropy-interval-ms", "0"))
    try:
        cluster.wait_all_normal(ids)
        # Nodes started together may each start with a ring of their own (docs/membership.md,
        # "Limits"): restarted, d holds a hint for any member.
        cluster.procs["d"].stop()
        port = cluster.ports["d"]
        admin = free_port()
        cluster.procs["d"] = harness.Process(
            "node-d", node_args(tmp_path, "d", port, cluster.seeds, (
                "--hint-replay-rate", "1", "--anti-entropy-interval-ms", "0",
                "--admin", f"127.0.0.1:{admin}")),
            port, Path(tmp_path) / f"node-d-{port}-2.log", wait=False)
        cluster.procs["d"].wait_ready(timeout=30)
        cluster.wait_all_normal(ids)
        for_b = [f"hb{i}".encode() for i in range(150)]
        for_c = [f"hc{i}".encode() for i in range(150)]
        with NodeConnection(cluster.ports["d"]) as conn:
            conn.hello()
            for target, keys in (("b", for_b), ("c", for_c)):
                for key in keys:
                    name, body = hint_put(conn, target, key, b"v" + key)
                    assert name == "HintAck" and body["stored"] is True, (key, name, body)
        assert info(cluster.ports["d"])["hints_pending"] > 250
        # c stops for good (not removed): its hints go to the keys' other owners.
        cluster.procs["c"].kill()
        wait_admin(admin)
        before, _ = scrape(admin)
        pending = value(before, "shoal_node_hints_pending")
        started = time.time()
        out = shoalctl(cluster.ports["d"], "decommission")
        assert out.returncode == 0, out
        # d stays up a moment (>= 1 s) once REMOVED in its own table, after the hand-off.
        after = None
        deadline = time.time() + slow(60)
        while cluster.procs["d"].alive() and time.time() < deadline:
            try:
                samples, _ = scrape(admin)
            except OSError:
                break
            if value(samples, "shoal_gossip_member_state", member="d", state="REMOVED") == 1:
                after = samples
            time.sleep(0.05)
        elapsed = time.time() - started
        assert wait_until(lambda: not cluster.procs["d"].alive(), timeout=slow(60)), (
            cluster.procs["d"].log())
        assert cluster.procs["d"].proc.returncode == 0
        assert after is not None, "no scrape of d between its hand-off and its exit"
        assert value(after, "shoal_node_hints_pending") == 0
        handed = value(after, "shoal_rebalance_hints_handed_off_total")
        # Each hint left once, counted replayed whoever delivered it (twice when the replayer
        # and the hand-off both sent it: harmless, and rare at 1 hint/s); the replayer's share
        # is what it could send at 1 hint per second since `before`.
        removed = value(after, "shoal_node_hints_replayed_total") - value(
            before, "shoal_node_hints_replayed_total")
        assert removed >= pending, (removed, pending)
        assert handed <= pending, (handed, pending)
        assert 0 <= removed - handed <= elapsed + 2, (removed, handed, elapsed)
        assert handed >= len(for_c)  # c is dead: only the hand-off delivers its hints
        log = cluster.procs["d"].log()
        assert f"decommission: {int(handed)} hints handed off" in log, log[-2000:]
        keys_b = {k.decode() for k in for_b}
        keys_c = {k.decode() for k in for_c}
        assert held_by(cluster.ports["b"], keys_b) == keys_b
        # With a, b and c left and N=3, every key's owners are a, b and c.
        for port in (cluster.ports["a"], cluster.ports["b"]):
            assert held_by(port, keys_c) == keys_c
    finally:
        cluster.close()


def values_held(port, keys):
    """{key: value} of the live values node `port` holds of `keys` (asked directly)."""
    with NodeConnection(port) as c:
        c.hello()
        out = {}
        for key in keys:
            name, body = c.get(key.encode())
            if name == "GetResponse" and body.get("found") and not body.get("tombstone"):
                out[key] = body.get("value")
        return out


def test_restarted_node_syncs_from_members_it_joined_after(tmp_path):
    """A --seeds cluster grown one node at a time (a alone, then b, then c: a's and b's first
    rings lack c), keys written at QUORUM, c killed (-9), more writes it misses (overwrites and
    new keys), c restarted with its id (empty: the store is memory only). Its start-up sync must
    be accepted by a and b, whose repair rings follow the member table (it was refused as "not a
    member" when they kept the ring they started with), and c, read directly, must hold every
    acknowledged key at its last acknowledged value."""
    ids = ["a", "b", "c"]
    ports = {i: free_port() for i in ids}
    seeds = ",".join(f"127.0.0.1:{p}" for p in ports.values())
    procs = {}
    proxy = None
    try:
        for n, node_id in enumerate(ids):
            procs.update(start_seeded_nodes(tmp_path, {node_id: ports[node_id]}, seeds))
            started = ids[:n + 1]
            for i in started:
                assert wait_until(
                    lambda: states(ports[i]) == {j: "NORMAL" for j in started},
                    timeout=slow(20)), (i, members(ports[i]))
        port = free_port()
        proxy = harness.Process(
            "proxy",
            [str(BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--seeds",
             f"127.0.0.1:{ports['a']}", "--members-refresh-ms", "200", "--timeout-ms",
             str(int(slow(500))), "--log-level", "info"],
            port, Path(tmp_path) / f"proxy-{port}.log")
        client = redis.Redis(port=port, socket_timeout=slow(5))
        assert wait_until(lambda: {i: f["state"] for i, f in proxy_members(client).items()}
                          == {i: "NORMAL" for i in ids}, timeout=10), proxy_members(client)

        acked = {}
        for i in range(600):
            assert client.set(f"r{i}", f"v{i}")  # QUORUM (the proxy's default)
            acked[f"r{i}"] = f"v{i}"
        procs["c"].kill()
        # c missed these: overwrites of a third of the keys, and new keys.
        for i in range(0, 600, 3):
            assert client.set(f"r{i}", f"w{i}")
            acked[f"r{i}"] = f"w{i}"
        for i in range(600, 800):
            assert client.set(f"r{i}", f"v{i}")
            acked[f"r{i}"] = f"v{i}"

        log = Path(tmp_path) / f"node-c-{ports['c']}-restarted.log"
        procs["c"] = harness.Process(
            "node-c", node_args(tmp_path, "c", ports["c"], seeds), ports["c"], log)

        def synced():
            state = info(ports["c"])
            return state.get("sync_state") == "done" and state

        # Well before --sync-timeout-ms (its end would say "partial").
        assert wait_until(synced, timeout=slow(20)), (info(ports["c"]), procs["c"].log())
        state = info(ports["c"])
        assert state["sync_peers"] == 2 and state["sync_peers_done"] == 2, state
        assert state["sync_peers_down"] == 0, state
        # The 600 keys written before the kill reach c only by the sync (hints cover the writes
        # it missed while down).
        assert state["sync_keys"] >= 600, state
        assert "not a member" not in procs["c"].log()
        # N=3 of 3: c owns every key; read directly, it holds each at its acknowledged value.
        held = values_held(ports["c"], list(acked))
        wrong = {k: (held.get(k), v) for k, v in acked.items() if held.get(k) != v.encode()}
        assert not wrong, (len(wrong), list(wrong.items())[:5])
    finally:
        if proxy is not None:
            proxy.stop()
        for p in procs.values():
            if p.alive():
                p.stop()
