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
    # members --json of a static node: the --nodes list, each member NORMAL.
    r = node_ctl(first, "members", "--json")
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert listing["source"] == "static" and listing["listed_by"] == owners[0]["id"]
    assert [(m["id"], m["state"]) for m in listing["members"]] == [(i, "NORMAL") for i in IDS]
    # remove on a static node: refused, with the reason on stderr (membership is --nodes).
    r = node_ctl(first, "remove", "b", "--json")
    assert r.returncode == 1 and r.stdout == "" and "need gossip" in r.stderr, r


# Each command with its positional arguments (where --help would be data: `get --help` reads the
# key "--help") and what its help's first line shows.
HELP = {
    "get": (["k"], "get KEY"), "set": (["k", "v"], "set KEY VALUE"), "del": (["k"], "del KEY"),
    "info": ([], "info [--json]"), "repair": ([], "repair [--json]"), "members": ([], "members [--json]"),
    "remove": (["x"], "remove ID [--json]"), "decommission": ([], "decommission [--json]"),
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


@pytest.fixture
def seeded(tmp_path, request):
    """Three nodes a, b, c that find each other from --seeds (a and b), and a proxy that knows
    only c."""
    ports = {i: harness.free_port() for i in ("a", "b", "c")}
    admin = {i: harness.free_port() for i in ("a", "b", "c", "proxy")}
    seeds = f"127.0.0.1:{ports['a']},127.0.0.1:{ports['b']}"
    nodes, proxy = {}, None
    try:
        for i, port in ports.items():
            (tmp_path / f"node-{i}").mkdir()
            nodes[i] = harness.Process(
                f"node-{i}",
                [str(harness.BIN / "shoal-node"), "--id", i, "--listen", f"127.0.0.1:{port}",
                 "--data-dir", str(tmp_path / f"node-{i}"), "--warmup-ms", "0", "--seeds", seeds,
                 "--gossip-interval-ms", "200", "--anti-entropy-interval-ms", "0",
                 "--admin", f"127.0.0.1:{admin[i]}"],
                port, tmp_path / f"node-{i}.log", wait=False)
        for n in nodes.values():
            n.wait_ready(timeout=30)
        proxy_port = harness.free_port()
        proxy = harness.Process(
            "proxy", [str(harness.BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{proxy_port}",
                      "--seeds", f"127.0.0.1:{ports['c']}", "--members-refresh-ms", "200",
                      "--timeout-ms", "500", "--admin", f"127.0.0.1:{admin['proxy']}"],
            proxy_port, tmp_path / "proxy.log")
        request.node.admin = admin
        yield nodes, proxy, ports, seeds
    finally:
        for p in [*nodes.values(), *([proxy] if proxy else [])]:
            p.stop(timeout=5)


def status_json(*args):
    r = ctl("status", *args, "--json", "--timeout-ms", "1000")
    return r.returncode, (json.loads(r.stdout) if r.stdout else None), r.stderr


def test_status_ring_and_locate_from_seeds(seeded):
    """status, ring and locate given only --seeds: the member table comes from the first seed
    that answers (a dead first seed is passed over), every member is asked, its gossip state is
    shown, and the ring is the one the proxy routes with."""
    nodes, proxy, ports, seeds = seeded
    dead = harness.free_port()
    from_seeds = ("--seeds", f"127.0.0.1:{dead},127.0.0.1:{ports['b']}")

    def all_normal():
        code, out, _ = status_json(*from_seeds)
        return code == 0 and [m.get("member_state") for m in out["members"]] == ["NORMAL"] * 3

    assert harness.wait_until(all_normal, timeout=harness.slow(15)), status_json(*from_seeds)
    client = redis.Redis(port=proxy.port, socket_timeout=harness.slow(5))
    assert harness.wait_until(lambda: len(client.execute_command("SHOAL.LOCATE", "x")) == 3,
                              timeout=harness.slow(10))
    for k in range(30):
        assert client.set(f"s:{k}", "v")
    code, out, err = status_json(*from_seeds)
    assert code == 0, err
    assert out["listed_by"] == f"127.0.0.1:{ports['b']}" and out["listed_by_id"] == "b"
    status = out["members"]
    assert [m["id"] for m in status] == ["a", "b", "c"]
    assert [m["address"] for m in status] == [f"127.0.0.1:{ports[i]}" for i in "abc"]
    assert all(m["state"] == "up" and m["ready"] for m in status)
    assert sum(m["keys"] for m in status) == 30 * 3
    text = ctl("status", *from_seeds)
    assert text.returncode == 0, text.stderr
    assert "member table of b" in text.stdout and "MEMBER" in text.stdout
    assert text.stdout.count("NORMAL") == 3

    # ring and locate from the seeds: as from the equivalent --nodes list, as the proxy routes.
    listed = ",".join(f"{i}=127.0.0.1:{ports[i]}" for i in "abc")
    by_seeds = ctl("ring", *from_seeds, "--json")
    assert by_seeds.returncode == 0, by_seeds.stderr
    assert json.loads(by_seeds.stdout) == json.loads(ctl("ring", "--nodes", listed, "--json").stdout)
    for key in ("user:1", "{t}z", ""):
        r = ctl("locate", key, *from_seeds, "--json")
        assert r.returncode == 0, r.stderr
        want = [m.decode() for m in client.execute_command("SHOAL.LOCATE", key)]
        assert [m["id"] for m in json.loads(r.stdout)["replicas"]] == want

    # c killed: the seed sees it DOWN; status says so, cannot reach it, and exits 1.
    nodes["c"].kill()

    def c_down():
        code, out, _ = status_json(*from_seeds)
        return code == 1 and out["members"][2]["member_state"] == "DOWN"

    assert harness.wait_until(c_down, timeout=harness.slow(15)), status_json(*from_seeds)
    code, out, _ = status_json(*from_seeds)
    c = out["members"][2]
    assert c["id"] == "c" and c["state"] == "down" and c["error"]
    assert [m["state"] for m in out["members"][:2]] == ["up", "up"]
    # DOWN members stay in the ring.
    assert [m["id"] for m in json.loads(ctl("ring", *from_seeds, "--json").stdout)["members"]] \
        == ["a", "b", "c"]


def test_seeds_errors():
    r = ctl("status", "--seeds", f"127.0.0.1:{harness.free_port()}", "--timeout-ms", "500")
    assert r.returncode == 1 and "cannot read the member table" in r.stderr, r.stderr
    r = ctl("status", "--seeds", "127.0.0.1:1", "--nodes", "a=127.0.0.1:1")
    assert r.returncode == 2 and "--nodes" in r.stderr and "--seeds" in r.stderr
    r = ctl("ring", "--seeds", "no-port")
    assert r.returncode == 2 and "--seeds" in r.stderr
    r = ctl("get", "k", "--seeds", "127.0.0.1:1")
    assert r.returncode == 2 and "does not apply" in r.stderr


def admin_json(port, path):
    from test_admin import http
    status, _, body = http(port, path)
    assert status == 200, body
    return json.loads(body)


def test_admin_members_and_ring_of_a_gossiping_cluster(seeded, request, tmp_path):
    """GET /members on a node and on a proxy of a --seeds cluster lists the member table (state,
    phi, incarnation...; the proxy adds its link to each), GET /ring the ring it forms now; a
    killed member turns DOWN there and stays in the ring. promtool accepts the node's /metrics
    (gossip metrics included)."""
    import shutil
    from test_admin import http, scrape, value, wait_admin
    nodes, proxy, ports, seeds = seeded
    admin = request.node.admin
    for port in admin.values():
        wait_admin(port)

    def states(port):
        return {m["id"]: m["state"] for m in admin_json(port, "/members")["members"]}

    for who in ("a", "b", "c", "proxy"):
        assert harness.wait_until(lambda: states(admin[who]) == dict.fromkeys("abc", "NORMAL"),
                                  timeout=harness.slow(15)), admin_json(admin[who], "/members")
    listing = admin_json(admin["a"], "/members")
    assert listing["source"] == "gossip" and listing["listed_by"] == "a"
    a = listing["members"][0]
    assert (a["id"], a["address"], a["phi"]) == ("a", f"127.0.0.1:{ports['a']}", 0)
    assert a["incarnation"] >= 1 and a["heartbeat"] >= 1
    assert harness.wait_until(
        lambda: [m["link"] for m in admin_json(admin["proxy"], "/members")["members"]]
        == ["up"] * 3, timeout=harness.slow(10))
    # shoalctl members --json is the node's /members (phi, heartbeats and ages move on).
    r = ctl("--node", f"127.0.0.1:{ports['a']}", "members", "--json")
    assert r.returncode == 0, r.stderr
    by_ctl, by_admin = json.loads(r.stdout), admin_json(admin["a"], "/members")
    stable = ("id", "address", "zone", "state", "incarnation")
    assert {k: by_ctl[k] for k in ("source", "listed_by")} == {"source": "gossip",
                                                               "listed_by": "a"}
    assert [{k: m[k] for k in stable} for m in by_ctl["members"]] == [
        {k: m[k] for k in stable} for m in by_admin["members"]]
    for who in ("a", "b", "proxy"):
        ring = admin_json(admin[who], "/ring")
        assert [m["id"] for m in ring["members"]] == ["a", "b", "c"], (who, ring)

    if shutil.which("promtool") is not None:
        text = http(admin["a"], "/metrics")[2]
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr

    nodes["c"].kill()
    for who in ("a", "b"):
        assert harness.wait_until(lambda: states(admin[who])["c"] == "DOWN",
                                  timeout=harness.slow(15)), admin_json(admin[who], "/members")
        c = admin_json(admin[who], "/members")["members"][2]
        assert c["phi"] > 1 and c["last_heard_ms"] > 500, c
        # The same judgement on /metrics: one state series per member, c's DOWN with its phi.
        samples, _ = scrape(admin[who])
        assert value(samples, "shoal_gossip_member_state", member="c", state="DOWN") == 1
        assert value(samples, "shoal_gossip_member_state", member="c") == 1
        assert value(samples, "shoal_gossip_member_state", member="a", state="NORMAL") == 1
        assert value(samples, "shoal_gossip_member_phi", member="c") > 8
        assert value(samples, "shoal_gossip_member_phi", member=who) == 0
        assert value(samples, "shoal_gossip_exchanges_total") >= 1  # c turned NORMAL by them
        # DOWN is not removed.
        assert samples[("shoal_gossip_members_removed_total", frozenset())] == 0
        assert [m["id"] for m in admin_json(admin[who], "/ring")["members"]] == ["a", "b", "c"]
    assert harness.wait_until(lambda: states(admin["proxy"])["c"] == "DOWN",
                              timeout=harness.slow(10))
