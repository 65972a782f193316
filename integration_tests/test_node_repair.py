"""`shoalctl --node H:P repair` (issue 8): the node runs one anti-entropy round now, in both
directions (it pushes what it holds newer and pulls what each peer holds newer), and answers with
the peers compared and the keys and bytes repaired once the round has ended. It runs even with
--anti-entropy-interval-ms 0 (no periodic rounds). A standalone node answers that it has no peers.
"""
import subprocess

import harness
from node_wire import NodeConnection, hlc_now, read_frame
from test_node_anti_entropy import SLICES, digests, key_versions, start_pair
from test_node_protocol import info
from test_node_sync import wait_synced


def parse(stdout):
    out = {}
    for line in stdout.splitlines():
        name, _, value = line.partition(": ")
        out[name] = int(value)
    return out


def quiet_pair(tmp_path):
    """start_pair with no periodic anti-entropy, once both nodes' start-up sync has ended (so that
    it cannot bring over what the test writes)."""
    members, procs = start_pair(tmp_path, interval_ms=0)
    for port in members.values():
        wait_synced(port)
    return members, procs


def test_standalone_node_refuses_repair_clearly(node):
    res = harness.shoalctl(node.port, "repair")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert res.stdout == ""
    assert "no cluster members (--nodes)" in res.stderr, res.stderr
    with NodeConnection(node.port) as conn:
        conn.hello()
        name, body = conn.call("Repair")
        assert name == "RepairResponse" and body["ok"] is False, body
        assert conn.put(b"k", b"v")[1]["applied"]  # still serving


def test_repair_with_interval_zero_pushes_and_pulls(tmp_path):
    members, procs = quiet_pair(tmp_path)
    try:
        with NodeConnection(members["a"]) as a, NodeConnection(members["b"]) as b:
            base = hlc_now()
            for i in range(100):
                assert a.put(f"on-a:{i}".encode(), b"A" * 10, hlc=base + i, writer=1)[1]["applied"]
                assert b.put(f"on-b:{i}".encode(), b"B" * 10, hlc=base + i, writer=2)[1]["applied"]
            # A delete only b saw, of a key both hold.
            for conn in (a, b):
                assert conn.put(b"gone", b"x", hlc=base + 500, writer=1)[1]["applied"]
            assert b.call("Put", key=b"gone", tombstone=True,
                          version=(base + 600, 2))[1]["applied"]
            assert digests(a, "b", 0) != digests(b, "a", 0)
            assert info(members["a"])["antientropy_rounds"] == 0  # no periodic round

            res = harness.shoalctl(members["a"], "repair")
            assert res.returncode == 0, (res.stdout, res.stderr)
            result = parse(res.stdout)
            assert result["peers"] == 1
            # 100 pushed to b, 100 + the tombstone pulled from b.
            assert result["keys_repaired"] == 201, result
            assert result["bytes_repaired"] >= 200 * 10, result
            assert digests(a, "b", 0) == digests(b, "a", 0)
            assert key_versions(a, "b", list(range(SLICES))) == \
                key_versions(b, "a", list(range(SLICES)))
            name, body = a.get(b"gone")
            assert body["found"] and body["tombstone"], body
            readings = info(members["a"])
            assert readings["antientropy_repairs"] == 1 and readings["antientropy_rounds"] == 1

            # Nothing left to do.
            res = harness.shoalctl(members["a"], "repair")
            assert res.returncode == 0 and parse(res.stdout)["keys_repaired"] == 0, res.stdout
    finally:
        for p in procs:
            p.stop()


def test_concurrent_repairs_are_all_answered(tmp_path):
    members, procs = quiet_pair(tmp_path)
    try:
        with NodeConnection(members["a"]) as a:
            base = hlc_now()
            for i in range(50):
                a.put(f"k:{i}".encode(), b"v", hlc=base + i, writer=1)
            a.hello()
            # Pipelined on one connection, and one more from shoalctl at the same time.
            ids = {a.send("Repair"), a.send("Repair")}
            tool = subprocess.Popen([str(harness.BIN / "shoalctl"), "--node",
                                     f"127.0.0.1:{members['a']}", "repair"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            results = []
            while ids:
                rid, name, body = read_frame(a.sock)
                assert name == "RepairResponse", body
                ids.remove(rid)
                results.append(body)
            out, err = tool.communicate(timeout=60)
            assert tool.returncode == 0, (out, err)
        assert all(r["ok"] and r["peers"] == 1 for r in results), results
        # Requests that arrive together are served by one round; one arriving during a round
        # waits for it and gets the next one. Either way each key was pushed once.
        assert sum(r["keys_repaired"] for r in results) + parse(out)["keys_repaired"] >= 50
        readings = info(members["a"])
        assert 1 <= readings["antientropy_repairs"] <= 3, readings
        assert readings["antientropy_keys_repaired"] == 50, readings
    finally:
        for p in procs:
            p.stop()


def test_repair_with_a_peer_down_names_it_and_fails(tmp_path):
    members, procs = quiet_pair(tmp_path)
    try:
        procs[1].kill()
        res = harness.shoalctl(members["a"], "repair")
        assert res.returncode == 1, (res.stdout, res.stderr)
        assert parse(res.stdout)["peers"] == 0
        assert "1 of 1 peers not repaired: b: " in res.stderr, res.stderr
        assert info(members["a"])["antientropy_errors"] >= 1
    finally:
        procs[0].stop()


def test_repair_answer_waits_for_the_round_not_the_connection(tmp_path):
    """A client that sends Repair and closes before the answer does not disturb the node."""
    members, procs = quiet_pair(tmp_path)
    try:
        with NodeConnection(members["a"]) as a:
            a.hello()
            a.send("Repair")
        res = harness.shoalctl(members["a"], "repair")
        assert res.returncode == 0, (res.stdout, res.stderr)
        assert info(members["a"])["antientropy_repairs"] >= 1
    finally:
        for p in procs:
            p.stop()
