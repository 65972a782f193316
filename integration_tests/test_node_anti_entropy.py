"""Anti-entropy digests at the wire level (issue 8): DigestRequest / KeyVersionsRequest.

Two nodes a and b form a cluster with N=2, so every key is shared by both: given the same writes
they must agree on the Merkle root whatever their shard counts; one more write on one side makes
exactly one leaf (slice) differ, and KeyVersions of that slice lists the extra key.
"""
import time

import pytest

import harness
from node_wire import NodeConnection, hlc_now, read_frame
from test_node_protocol import info

SLICES = 4096


def start_pair(tmp_path, a_extra=(), b_extra=(), interval_ms=0):
    """Nodes a (1 shard) and b (3 shards) in one two-member cluster, N=2 (a list of Process)."""
    members = {"a": harness.free_port(), "b": harness.free_port()}
    procs = []
    try:
        for node_id, threads, extra in (("a", 1, a_extra), ("b", 3, b_extra)):
            procs.append(harness.start_node(
                tmp_path, node_id, port=members[node_id], members=members,
                extra=("--replicas", "2", "--threads", str(threads),
                       "--anti-entropy-interval-ms", str(interval_ms), *extra)))
        # Both serve before a test writes: a node's start-up sync still running (for seconds under
        # TSan) would pull the test's writes itself, and anti-entropy would have nothing to do.
        for node_id, port in members.items():
            assert wait_until(lambda: info(port).get("ready") == 1, timeout=10), node_id
    except Exception:
        for p in procs:
            p.stop()
        raise
    return members, procs


@pytest.fixture
def pair(tmp_path):
    """Nodes a (1 shard) and b (3 shards) in one two-member cluster, N=2, no anti-entropy."""
    members, procs = start_pair(tmp_path)
    yield members
    for p in procs:
        p.stop()


def digests(conn, peer, level, first=0, count=SLICES):
    kind, body = conn.call("DigestRequest", peer=peer, level=level, first=first, count=count)
    assert kind == "DigestResponse", body
    assert body["level"] == level and body["first"] == first
    return body["hashes"]


def key_versions(conn, peer, slices):
    kind, body = conn.call("KeyVersionsRequest", peer=peer, slices=slices)
    assert kind == "KeyVersionsResponse", body
    return body["entries"] or []


def test_same_writes_same_root_and_one_extra_write_one_leaf(pair):
    with NodeConnection(pair["a"]) as a, NodeConnection(pair["b"]) as b:
        empty_root = digests(a, "b", 0)
        assert empty_root == digests(b, "a", 0)
        base = hlc_now()
        for i in range(300):
            key = f"key:{i}".encode()
            for conn in (a, b):
                kind, body = conn.put(key, b"v%d" % i, hlc=base + i, writer=7)
                assert kind == "PutResponse" and body["applied"], body
        # Some deletes and a touched expiry, identical on both.
        for i in range(0, 300, 10):
            for conn in (a, b):
                kind, body = conn.call("Put", key=f"key:{i}".encode(), tombstone=True,
                                       version=(base + 1000 + i, 7))
                assert body["applied"], body
        root_a = digests(a, "b", 0)
        assert root_a == digests(b, "a", 0)
        assert root_a != empty_root
        assert digests(a, "b", 1) == digests(b, "a", 1)
        assert len(digests(a, "b", 1)) == 16
        assert len(digests(a, "b", 2)) == 256

        kind, body = a.put(b"extra", b"only-on-a", hlc=base + 5000, writer=7)
        assert body["applied"]
        assert digests(a, "b", 0) != digests(b, "a", 0)
        leaves_a, leaves_b = digests(a, "b", 3), digests(b, "a", 3)
        assert len(leaves_a) == SLICES
        differing = [s for s in range(SLICES) if leaves_a[s] != leaves_b[s]]
        assert len(differing) == 1, differing
        # The inner levels differ exactly above that leaf.
        level2_a, level2_b = digests(a, "b", 2), digests(b, "a", 2)
        assert [i for i in range(256) if level2_a[i] != level2_b[i]] == [differing[0] // 16]

        on_a = key_versions(a, "b", differing)
        on_b = key_versions(b, "a", differing)
        extra = [e for e in on_a if e["key"] == b"extra"]
        assert len(extra) == 1
        assert extra[0]["version"] == (base + 5000, 7)
        assert extra[0]["expiry_version"] == (base + 5000, 7)
        assert not extra[0]["tombstone"]
        assert [e for e in on_a if e["key"] != b"extra"] == on_b

        # All slices at once: every key listed once, sorted by slice then key, tombstones too.
        everything = key_versions(a, "b", list(range(SLICES)))
        keys = [e["key"] for e in everything]
        assert len(keys) == len(set(keys)) == 301
        assert sum(1 for e in everything if e["tombstone"]) == 30
        assert len(key_versions(b, "a", list(range(SLICES)))) == 300


def test_expiry_is_not_a_difference(pair):
    with NodeConnection(pair["a"]) as a, NodeConnection(pair["b"]) as b:
        base = hlc_now()
        expire_at = int(time.time() * 1000) + 300
        for i in range(50):
            for conn in (a, b):
                kind, body = conn.put(f"ttl:{i}".encode(), b"v", hlc=base + i, writer=3,
                                      expire_at_ms=expire_at)
                assert body["applied"], body
        root = digests(a, "b", 0)
        time.sleep(0.5)
        # Reading on a turns its expired values into tombstones at once; b's expire on their own.
        for i in range(50):
            kind, body = a.get(f"ttl:{i}".encode())
            assert kind == "GetResponse" and body["tombstone"], body
        assert digests(a, "b", 0) == root == digests(b, "a", 0)
        listed = key_versions(a, "b", list(range(SLICES)))
        assert len(listed) == 50 and all(e["tombstone"] for e in listed)


def test_refusals(pair, tmp_path):
    with NodeConnection(pair["a"]) as a:
        for fields, why in (
                (dict(peer="zz", level=0, first=0, count=1), "not a member"),
                (dict(peer="a", level=0, first=0, count=1), "itself"),
                (dict(peer="b", level=4, first=0, count=1), "level out of range"),
                (dict(peer="b", level=1, first=16, count=1), "first node out of range"),
                (dict(peer="b", level=1, first=0, count=0), "no node")):
            kind, body = a.call("DigestRequest", **fields)
            assert kind == "Error" and body["code_name"] == "BadRequest", body
            assert why in body["message"], body
        kind, body = a.call("KeyVersionsRequest", peer="b", slices=[4096])
        assert kind == "Error" and body["code_name"] == "BadRequest", body
        kind, body = a.call("KeyVersionsRequest", peer="b", slices=[])
        assert kind == "Error" and body["code_name"] == "BadRequest", body
        # The connection keeps serving.
        assert len(digests(a, "b", 1, 3, 100)) == 13

    standalone = harness.start_node(tmp_path, "solo")
    try:
        with NodeConnection(standalone.port) as s:
            for message, fields in (("DigestRequest", dict(peer="b", level=0, count=1)),
                                    ("KeyVersionsRequest", dict(peer="b", slices=[1]))):
                kind, body = s.call(message, **fields)
                assert kind == "Error" and body["code_name"] == "Unsupported", body
                assert "--nodes" in body["message"]
            kind, body = s.put(b"k", b"v")
            assert body["applied"]
    finally:
        standalone.stop()


def test_get_of_an_evicted_key_reports_its_floor(tmp_path):
    node = harness.start_node(tmp_path, "small", extra=("--max-memory", "1048576", "--threads", "1"))
    try:
        with NodeConnection(node.port) as c:
            base = hlc_now()
            kind, body = c.put(b"first", b"x" * 1000, hlc=base, writer=5)
            assert body["applied"]
            for i in range(3000):  # three times the limit: "first" is evicted
                c.put(f"fill:{i}".encode(), b"y" * 1000, hlc=base + 1 + i, writer=5)
            kind, body = c.get(b"first")
            assert kind == "GetResponse" and not body["found"], body
            assert body["floor_version"] is not None and body["floor_version"] >= (base, 5)
            kind, body = c.get(b"never-written-key")
            assert not body["found"]
    finally:
        node.stop()


# ---- the driver: periodic rounds (--anti-entropy-interval-ms) ----------------------------------

def wait_until(predicate, timeout=15.0):
    deadline = time.time() + harness.slow(timeout)  # (longer for sanitized binaries)
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_anti_entropy_pushes_what_a_peer_missed(tmp_path):
    members, procs = start_pair(tmp_path, interval_ms=200)
    try:
        with NodeConnection(members["a"]) as a, NodeConnection(members["b"]) as b:
            base = hlc_now()
            expire_at = int(time.time() * 1000) + 3_600_000
            # Written on both: the same states (refused as stale if a round pushed it first).
            for i in range(100):
                for conn in (a, b):
                    kind, body = conn.put(f"both:{i}".encode(), b"v", hlc=base + i, writer=4)
                    assert body["current"] == (base + i, 4), body
            # Missed by b: values (some with an expiry and a newer expiry_version), tombstones.
            for i in range(200):
                extra = {}
                if i % 3 == 1:
                    extra = dict(expire_at_ms=expire_at, expiry_version=(base + 10_000 + i, 9))
                if i % 3 == 2:
                    kind, body = a.call("Put", key=f"a:{i}".encode(), tombstone=True,
                                        version=(base + 1000 + i, 4))
                else:
                    kind, body = a.put(f"a:{i}".encode(), b"value-%d" % i, hlc=base + 1000 + i,
                                       writer=4, **extra)
                assert body["applied"], body
            # Newer on b: b pushes it to a.
            assert b.put(b"both:5", b"newer-on-b", hlc=base + 20_000, writer=4)[1]["applied"]

            def converged():
                return digests(a, "b", 0) == digests(b, "a", 0)

            assert wait_until(converged), (info(members["a"]), info(members["b"]))
            for i in range(200):
                want = a.get(f"a:{i}".encode())[1]
                got = b.get(f"a:{i}".encode())[1]
                assert got["found"], i
                for field in ("tombstone", "value", "version", "expiry_version", "expire_at_ms"):
                    assert got[field] == want[field], (i, field, got, want)
            assert a.get(b"both:5")[1]["value"] == b"newer-on-b"
            info_a, info_b = info(members["a"]), info(members["b"])
            # Each of the 201 differences (a's 200 keys, b's newer both:5) is repaired once, by
            # whichever round finds it first: a's round pushes it (counted on a) or b's round pulls
            # it (counted on b); when a node runs slowly (TSan) b's rounds may do all of it. Plus any
            # "both" key a round pushed between the two writes.
            repaired = info_a["antientropy_keys_repaired"] + info_b["antientropy_keys_repaired"]
            assert 201 <= repaired <= 401, (info_a, info_b)
            assert (info_a["antientropy_bytes_repaired"]
                    + info_b["antientropy_bytes_repaired"]) > 200 * 3

            # Agreeing replicas cost one summary node per round, no key exchange.
            before = info(members["a"])
            time.sleep(harness.slow(1.0))
            after = info(members["a"])
            rounds = after["antientropy_rounds"] - before["antientropy_rounds"]
            assert rounds >= 2
            assert after["antientropy_summary_nodes"] - before["antientropy_summary_nodes"] \
                == rounds
            assert after["antientropy_slices_exchanged"] == before["antientropy_slices_exchanged"]
            assert after["antientropy_keys_repaired"] == before["antientropy_keys_repaired"]
            # ... one DigestRequest per round and peer, about a hundred bytes each way.
            requests = after["antientropy_digest_requests"] - before["antientropy_digest_requests"]
            assert requests == rounds, (before, after)
            digest_bytes = after["antientropy_digest_bytes"] - before["antientropy_digest_bytes"]
            assert 0 < digest_bytes <= 400 * rounds, (before, after)
    finally:
        for p in procs:
            p.stop()


def test_keys_a_peer_evicted_are_not_sent_back(tmp_path):
    """b holds 1 MiB and evicts; a holds everything. a must not push b's evicted keys back (b
    would refuse them), nor keep exchanging those slices every round."""
    members, procs = start_pair(tmp_path, b_extra=("--max-memory", "3mb"), interval_ms=200)
    try:
        with NodeConnection(members["a"]) as a, NodeConnection(members["b"]) as b:
            base = hlc_now()
            for i in range(6000):
                for conn in (a, b):
                    conn.send("Put", key=f"k:{i}".encode(), value=b"x" * 1000,
                              version=(base + i, 4))
            for conn in (a, b):
                for _ in range(6000):
                    read_put_response(conn)  # applied, or refused: a round pushed it first
            assert info(members["b"])["evictions"] > 1000
            # Rounds already running during the fill may still push what b had not yet received
            # or had just evicted (thousands under TSan, where a round outlasts the fill by
            # seconds); b refuses those as stale. Count from the point where every round of both
            # nodes began after the fill (each node's rounds run one after the other).
            rounds = {n: info(members[n])["antientropy_rounds"] for n in ("a", "b")}
            assert wait_until(lambda: all(info(members[n])["antientropy_rounds"] >= rounds[n] + 2
                                          for n in ("a", "b")), timeout=30)
            stale_after_fill = info(members["b"])["stale_writes"]

            def settled():
                i = info(members["a"])
                return i["antientropy_keys_skipped_floor"] > 1000 and i["antientropy_rounds"] >= 3

            assert wait_until(settled, timeout=30), info(members["a"])
            before = info(members["a"])
            time.sleep(1.0)
            after = info(members["a"])
            assert after["antientropy_rounds"] - before["antientropy_rounds"] >= 2
            # Nothing sent, nothing exchanged again: the differences are settled.
            assert after["antientropy_keys_repaired"] == before["antientropy_keys_repaired"]
            assert after["antientropy_slices_exchanged"] == before["antientropy_slices_exchanged"]
            assert after["antientropy_keys_skipped_floor"] == before["antientropy_keys_skipped_floor"]
            assert digests(a, "b", 0) != digests(b, "a", 0)  # they do differ: b evicted
            # b was not offered the states it evicted (it would have refused them as stale, and
            # every round would offer them again); at most a few pushes raced with the fill.
            assert info(members["b"])["stale_writes"] - stale_after_fill < 50
    finally:
        for p in procs:
            p.stop()


def read_put_response(conn):
    _, kind, body = read_frame(conn.sock)
    assert kind == "PutResponse", body


def test_a_node_restarted_empty_is_refilled(tmp_path):
    members, procs = start_pair(tmp_path, interval_ms=200)
    try:
        with NodeConnection(members["a"]) as a, NodeConnection(members["b"]) as b:
            base = hlc_now()
            for i in range(500):
                for conn in (a, b):
                    conn.put(f"r:{i}".encode(), b"value-%d" % i, hlc=base + i, writer=4)
            kind, body = a.call("Put", key=b"r:7", tombstone=True, version=(base + 1000, 4))
            assert body["applied"]
            wanted = key_versions(a, "b", list(range(SLICES)))
            assert len(wanted) == 500
        procs[1].kill()
        # Restarted on its data dir: it warms up (reads answer NotReady) and is refilled meanwhile.
        procs[1] = harness.start_node(tmp_path, "b", port=members["b"], members=members,
                                      extra=("--replicas", "2", "--threads", "3",
                                             "--anti-entropy-interval-ms", "200",
                                             "--warmup-ms", "60000"))
        with NodeConnection(members["a"]) as a, NodeConnection(members["b"]) as b:
            assert wait_until(lambda: digests(a, "b", 0) == digests(b, "a", 0)), info(members["a"])
            assert info(members["b"])["ready"] == 0  # refilled during its warm-up
            assert key_versions(b, "a", list(range(SLICES))) == wanted
    finally:
        for p in procs:
            p.stop()
