"""shoalctl's cluster commands (ring, locate, status) against a live cluster, for people and
with --json (tools/shoalctl/cluster_commands.h)."""
import json
import subprocess

import pytest
import redis

import harness

IDS = ("a", "b", "c", "d")


def ctl(*args):
    return subprocess.run([str(harness.BIN / "shoalctl"), *args], capture_output=True, text=True,
                          timeout=harness.slow(20))


@pytest.fixture
def cluster(tmp_path):
    ports = {i: harness.free_port() for i in IDS}
    nodes = {}
    proxy = None
    try:
        for i in IDS:
            nodes[i] = harness.start_node(tmp_path, i, port=ports[i], members=ports,
                                          extra=("--admin", "", "--anti-entropy-interval-ms", "0"))
        proxy = harness.start_proxy(tmp_path, list(nodes.values()), extra=("--admin", ""))
        yield nodes, proxy, harness.member_list(ports)
    finally:
        for p in [*nodes.values(), *([proxy] if proxy else [])]:
            p.stop(timeout=5)


def test_ring_shares(cluster):
    nodes, proxy, members = cluster
    r = ctl("ring", "--nodes", members, "--json")
    assert r.returncode == 0, r.stderr
    ring = json.loads(r.stdout)
    assert ring["replicas"] == 3 and ring["tokens_per_node"] == 512
    assert ring["ranges"] == 4 * 512
    assert [m["id"] for m in ring["members"]] == list(IDS)
    assert sum(m["primary_share"] for m in ring["members"]) == pytest.approx(1, abs=1e-4)
    # With 3 replicas of 4 members, members hold 3/4 of the space on average.
    assert sum(m["replica_share"] for m in ring["members"]) == pytest.approx(3, abs=1e-4)
    for m in ring["members"]:
        assert 0.15 < m["primary_share"] < 0.35, m
    r = ctl("ring", "--nodes", members, "--replicas", "2")
    assert r.returncode == 0, r.stderr
    assert "4 members, 512 tokens each, 2048 ranges, 2 replicas per key" in r.stdout
    assert all(i in r.stdout for i in IDS)


def test_locate_matches_the_proxy(cluster):
    nodes, proxy, members = cluster
    client = redis.Redis(port=proxy.port)
    for key in ("user:1", "user:2", "{tag}x", "", "k" * 300):
        r = ctl("locate", key, "--nodes", members, "--json")
        assert r.returncode == 0, r.stderr
        located = json.loads(r.stdout)
        want = [m.decode() for m in client.execute_command("SHOAL.LOCATE", key)]
        assert [m["id"] for m in located["replicas"]] == want, key
        text = ctl("locate", key, "--nodes", members).stdout
        assert f"replica 1: {want[0]} (" in text


def test_status_reports_each_member(cluster):
    nodes, proxy, members = cluster
    client = redis.Redis(port=proxy.port)
    for k in range(30):
        client.set(f"s:{k}", "v")
    r = ctl("status", "--nodes", members, "--json")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)["members"]
    assert [m["id"] for m in status] == list(IDS)
    assert all(m["state"] == "up" and m["ready"] for m in status)
    assert sum(m["keys"] for m in status) == 30 * 3  # three replicas of each key
    assert all(m["memory_limit_bytes"] > m["memory_used_bytes"] > 0 for m in status)
    nodes["d"].kill()
    r = ctl("status", "--nodes", members, "--json", "--timeout-ms", "1000")
    assert r.returncode == 1
    status = {m["id"]: m for m in json.loads(r.stdout)["members"]}
    assert status["d"]["state"] == "down" and status["d"]["error"]
    assert status["a"]["state"] == "up"
    text = ctl("status", "--nodes", members, "--timeout-ms", "1000")
    assert text.returncode == 1
    assert "down" in text.stdout and "ID" in text.stdout


def test_usage_errors_and_help():
    r = ctl("--help")
    assert r.returncode == 0
    for command in ("ring", "locate KEY", "status"):
        assert command in r.stdout
    r = ctl("ring")
    assert r.returncode == 2 and "--nodes" in r.stderr
    r = ctl("locate", "--nodes", "a=127.0.0.1:1")
    assert r.returncode == 2
    r = ctl("ring", "--nodes", "a=127.0.0.1:1", "--replicas", "0")
    assert r.returncode == 2 and "--replicas" in r.stderr
    r = ctl("ring", "--nodes", "garbage")
    assert r.returncode == 2
    r = ctl("get", "k", "--json")
    assert r.returncode == 2 and "does not apply" in r.stderr


def node_ctl(node, *args):
    return ctl("--node", f"127.0.0.1:{node.port}", *args)


def test_key_and_node_commands_on_a_live_cluster(cluster):
    """get/set/del/info/repair/fill against members of a running cluster, with --json where it
    applies: a value written to one replica only reaches the others through repair."""
    nodes, proxy, members = cluster
    owners = json.loads(ctl("locate", "ctl:k", "--nodes", members, "--json").stdout)["replicas"]
    first, others = nodes[owners[0]["id"]], [nodes[m["id"]] for m in owners[1:]]
    r = node_ctl(first, "set", "ctl:k", "v1")
    assert (r.returncode, r.stdout) == (0, "OK\n"), r.stderr
    assert node_ctl(first, "get", "ctl:k").stdout == "v1\n"
    for n in others:
        assert node_ctl(n, "get", "ctl:k").stdout == "(nil)\n"
    info = json.loads(node_ctl(first, "info", "--json").stdout)
    assert info["keys"] == 1 and info["ready"] == 1 and info["sync_state"] == "done"
    text = node_ctl(first, "info").stdout
    assert "keys: 1\n" in text
    r = node_ctl(first, "repair", "--json")
    assert r.returncode == 0, r.stderr
    repaired = json.loads(r.stdout)
    assert repaired["peers"] == 3 and repaired["error"] == ""
    assert repaired["keys_repaired"] == 2 and repaired["bytes_repaired"] > 0  # the two others
    for n in others:
        assert node_ctl(n, "get", "ctl:k").stdout == "v1\n"
    assert redis.Redis(port=proxy.port).get("ctl:k") == b"v1"
    r = node_ctl(first, "del", "ctl:k")
    assert r.stdout == "(integer) 1\n"
    assert node_ctl(first, "del", "ctl:k").stdout == "(integer) 0\n"
    assert node_ctl(first, "get", "ctl:k").stdout == "(nil)\n"
    r = node_ctl(first, "repair")
    assert r.returncode == 0 and "keys_repaired: 2\n" in r.stdout, (r.stdout, r.stderr)
    assert redis.Redis(port=proxy.port).get("ctl:k") is None
    r = node_ctl(first, "fill", "--count", "50", "--key-prefix", "f:")
    assert r.returncode == 0, r.stderr
    after = json.loads(node_ctl(first, "info", "--json").stdout)
    assert (after["keys"], after["tombstones"]) == (51, 1)  # keys counts the tombstone


# Each command with its positional arguments (where --help would be data: `get --help` reads the
# key "--help") and what its help's first line shows.
HELP = {
    "get": (["k"], "get KEY"), "set": (["k", "v"], "set KEY VALUE"), "del": (["k"], "del KEY"),
    "info": ([], "info [--json]"), "repair": ([], "repair [--json]"), "members": ([], "members"),
    "fill": ([], "fill --count N"), "ring": ([], "ring --nodes"),
    "locate": (["k"], "locate KEY --nodes"), "status": ([], "status --nodes"),
}


@pytest.mark.parametrize("command", sorted(HELP))
def test_every_command_has_help(command):
    positional, synopsis = HELP[command]
    r = ctl(command, *positional, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: shoalctl ") and synopsis in r.stdout.splitlines()[0]
    assert r.stdout != ctl("--help").stdout
