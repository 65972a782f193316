"""Membership by gossip (issue 9, docs/membership.md) with real processes: three nodes that find
each other from --seeds, a proxy that knows only one seed, the member listing of shoalctl and
SHOAL.MEMBERS, a node killed seen DOWN within seconds and NORMAL again once restarted with the same
id, and the flags' errors.
"""
import subprocess
import time
from pathlib import Path

import pytest
import redis

import harness
from harness import BIN, free_port, shoalctl, slow, wait_for_port, wait_until

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


def node_args(tmp_path, node_id, port, seeds, extra=()):
    data_dir = Path(tmp_path) / f"node-{node_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    return [str(BIN / "shoal-node"), "--id", node_id, "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(data_dir), "--log-level", "info", "--warmup-ms", "0",
            "--seeds", seeds, "--gossip-interval-ms", str(GOSSIP_MS), "--zone", f"zone-{node_id}",
            *extra]


class Launched(harness.Process):
    """A Process started without waiting for its port (nodes from seeds start together)."""

    def __init__(self, name, args, port, log_path):
        self.name = name
        self.args = args
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)


def start_seeded_nodes(tmp_path, ports, seeds):
    procs = {}
    for node_id, port in ports.items():
        procs[node_id] = Launched(f"node-{node_id}", node_args(tmp_path, node_id, port, seeds),
                                  port, Path(tmp_path) / f"node-{node_id}-{port}.log")
    for p in procs.values():
        wait_for_port(p.port, timeout=30, proc=p.proc, log=p.log_path)
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
])
def test_proxy_flag_errors(extra, message):
    out = subprocess.run([str(BIN / "shoal-proxy"), "--listen", "127.0.0.1:0", *extra],
                         capture_output=True, text=True, timeout=slow(10))
    assert out.returncode == 2, out
    assert message in out.stderr, out.stderr
