"""Hinted handoff on the node side (issue 8): a node spools the HintPuts it receives (never
applying them to its own store), durably, and replays them to their target when it answers.

Frames are encoded by node_wire.py. A HintPut carries the intended owner's node id and the whole
Put; the receiver answers HintAck{stored} (or an Error for a malformed one).
"""
import time

import pytest

import harness
from node_wire import NodeConnection, hlc_now
from test_admin import scrape, value, wait_admin
from test_node_protocol import info


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        if p.alive():
            p.stop()
        else:
            p.kill()


def start(tmp_path, procs, node_id, port, members=None, extra=()):
    p = harness.start_node(tmp_path, node_id, port=port, members=members, extra=tuple(extra))
    procs.append(p)
    return p


def hint_put(conn, target, key, value=b"v", hlc=None, writer=7, **extra):
    put = {"key": key, "value": value, "version": (hlc or hlc_now(), writer), **extra}
    return conn.call("HintPut", target=target, put=put)


def wait_until(what, predicate, timeout=30.0):
    deadline = time.time() + harness.slow(timeout)  # (longer for sanitized binaries)
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_standalone_node_refuses_hints_and_never_applies_them(node):
    with NodeConnection(node.port) as conn:
        assert conn.hello()[0] == "HelloResponse"
        name, body = hint_put(conn, "other-node", b"hinted", b"v1")
        assert name == "HintAck" and body["stored"] is False, body
        assert "--nodes" in body["reason"], body
        # The hint is not the receiver's own write: it does not hold the key.
        name, body = conn.get(b"hinted")
        assert name == "GetResponse" and body["found"] is False, body
        # The connection still serves.
        name, body = conn.put(b"own", b"x")
        assert name == "PutResponse" and body["applied"], body


def test_hints_survive_kill_9_and_reach_their_target_version_exact(tmp_path, procs):
    pa, pb = harness.free_port(), harness.free_port()
    members = {"a": pa, "b": pb}
    admin = ["--admin", f"127.0.0.1:{harness.free_port()}"]
    holder = start(tmp_path, procs, "b", pb, members, extra=admin)
    base = hlc_now()
    far = int(time.time() * 1000) + 3_600_000
    expected = {}
    with NodeConnection(pb) as conn:
        conn.hello()
        for i in range(300):
            key = b"key-%03d" % i
            # Versions deliberately not in key order; every fourth a tombstone, every third with
            # an expiry, every fifth with an expiry version newer than its value version.
            version = (base + ((i * 7919) % 300) * 65536, 100 + i)
            fields = {}
            if i % 3 == 0:
                fields["expire_at_ms"] = far + i
            expiry_version = version
            if i % 5 == 0:
                expiry_version = (version[0] + 3, version[1])
                fields["expiry_version"] = expiry_version
            tombstone = i % 4 == 0
            if tombstone:
                fields["tombstone"] = True
            payload = b"" if tombstone else b"value-%d" % i
            name, body = hint_put(conn, "a", key, payload, hlc=version[0], writer=version[1],
                                  **fields)
            assert name == "HintAck" and body["stored"] is True, (i, name, body)
            expected[key] = (payload, version, expiry_version, fields.get("expire_at_ms", 0),
                             tombstone)
        # Not applied to the holder's own store.
        assert conn.get(b"key-001")[1]["found"] is False
    readings = info(pb)
    assert readings["hints_pending"] == 300
    assert readings["hints_stored"] == 300
    assert readings["hints_pending_bytes"] > 300 * 40
    assert readings["hints_replayed"] == 0
    # Each HintPut waited for its HintAck: the writer made each durable in a write of its own.
    admin_port = int(admin[1].rsplit(":", 1)[1])
    wait_admin(admin_port)
    samples, _ = scrape(admin_port)
    assert value(samples, "shoal_node_hints_stored_total") == 300
    assert value(samples, "shoal_node_hint_writes_total") == 300
    assert value(samples, "shoal_node_hint_write_largest_group") == 1

    # kill -9 the holder: every acknowledged hint is on disk.
    holder.kill()
    holder = start(tmp_path, procs, "b", pb, members, extra=admin)
    readings = info(pb)
    assert readings["hints_pending"] == 300, readings
    assert readings["hints_oldest_age_ms"] >= 0
    # The target is down: the replayer tries, fails and opens no session.
    wait_admin(admin_port)
    wait_until("a failed delivery counted",
               lambda: value(scrape(admin_port)[0], "shoal_node_hint_replay_failures_total") >= 1)
    assert value(scrape(admin_port)[0], "shoal_node_hint_replay_sessions_total") == 0

    # The target comes up (empty): the holder delivers every hint and forgets them.
    start(tmp_path, procs, "a", pa, members)
    wait_until("hints delivered", lambda: info(pb)["hints_pending"] == 0)
    readings = info(pb)
    assert readings["hints_replayed"] == 300
    assert readings["hints_pending_bytes"] == 0
    samples, _ = scrape(admin_port)
    assert value(samples, "shoal_node_hints_replayed_total") == 300
    assert value(samples, "shoal_node_hints_stored_total") == 0  # counted since this start
    # At least the session that delivered; another only after a failure closed one.
    sessions = value(samples, "shoal_node_hint_replay_sessions_total")
    assert 1 <= sessions <= value(samples, "shoal_node_hint_replay_failures_total") + 1, samples
    with NodeConnection(pa) as conn:
        conn.hello()
        for key, (payload, version, expiry_version, expire_at_ms, tombstone) in expected.items():
            name, body = conn.get(key)
            assert name == "GetResponse" and body["found"], (key, body)
            assert body["version"] == version, (key, body)
            assert body["expiry_version"] == expiry_version, (key, body)
            assert body["tombstone"] is tombstone, (key, body)
            if not tombstone:
                assert body["value"] == payload, (key, body)
                assert body["expire_at_ms"] == expire_at_ms, (key, body)


def test_replayed_hint_older_than_the_targets_state_is_not_applied_but_forgotten(tmp_path,
                                                                                 procs):
    pa, pb = harness.free_port(), harness.free_port()
    members = {"a": pa, "b": pb}
    start(tmp_path, procs, "a", pa, members)
    start(tmp_path, procs, "b", pb, members)
    newer = hlc_now()
    with NodeConnection(pa) as conn:
        assert conn.put(b"k", b"newer", hlc=newer, writer=1)[1]["applied"]
    with NodeConnection(pb) as conn:
        name, body = hint_put(conn, "a", b"k", b"older", hlc=newer - 65536, writer=1)
        assert name == "HintAck" and body["stored"], body
    wait_until("hint replayed", lambda: info(pb)["hints_replayed"] == 1)
    assert info(pb)["hints_pending"] == 0
    with NodeConnection(pa) as conn:
        body = conn.get(b"k")[1]
        assert body["value"] == b"newer" and body["version"] == (newer, 1), body


def test_spool_full_refuses_and_counts(tmp_path, procs):
    pa, pb = harness.free_port(), harness.free_port()
    members = {"a": pa, "b": pb}
    admin = harness.free_port()
    start(tmp_path, procs, "b", pb, members,
          extra=["--hint-max-bytes", "300", "--admin", f"127.0.0.1:{admin}"])
    with NodeConnection(pb) as conn:
        name, body = hint_put(conn, "a", b"k1", b"x" * 150)
        assert name == "HintAck" and body["stored"] is True, body
        name, body = hint_put(conn, "a", b"k2", b"x" * 150)
        assert name == "HintAck" and body["stored"] is False, body
        assert "--hint-max-bytes" in body["reason"], body
    readings = info(pb)
    assert readings["hints_refused"] == 1
    assert readings["hints_pending"] == 1
    # The same counts on /metrics.
    wait_admin(admin)
    samples, _ = scrape(admin)
    assert value(samples, "shoal_node_hints_refused_total") == 1
    assert value(samples, "shoal_node_hints_stored_total") == 1
    assert value(samples, "shoal_node_hints_pending") == 1
    assert value(samples, "shoal_node_hints_pending_bytes") >= 150


def test_hint_window_zero_disables_hints(tmp_path, procs):
    pa, pb = harness.free_port(), harness.free_port()
    members = {"a": pa, "b": pb}
    start(tmp_path, procs, "b", pb, members, extra=["--hint-window", "0"])
    with NodeConnection(pb) as conn:
        name, body = hint_put(conn, "a", b"k1")
        assert name == "HintAck" and body["stored"] is False, body
        assert "--hint-window 0" in body["reason"], body
    readings = info(pb)
    assert readings["hints_refused"] == 1
    assert readings["hints_pending"] == 0


def test_bad_hints_are_refused_and_the_connection_keeps_serving(tmp_path, procs):
    pa, pb = harness.free_port(), harness.free_port()
    members = {"a": pa, "b": pb}
    admin = harness.free_port()
    start(tmp_path, procs, "b", pb, members, extra=["--admin", f"127.0.0.1:{admin}"])
    past = int(time.time() * 1000) - 1000
    with NodeConnection(pb) as conn:
        for target, extra, why in [("b", {}, "this node itself"),
                                   ("", {}, "no target"),
                                   ("a", {"condition": 1}, "conditional")]:
            name, body = hint_put(conn, target, b"k", **extra)
            assert name == "Error" and body["code_name"] == "BadRequest", (target, body)
            assert why in body["message"], body
        name, body = conn.call("HintPut", target="a")
        assert name == "Error" and "no put" in body["message"], body
        name, body = hint_put(conn, "nobody", b"k")
        assert name == "HintAck" and body["stored"] is False, body
        assert "not a member" in body["reason"], body
        name, body = hint_put(conn, "a", b"k", expire_at_ms=past)
        assert name == "HintAck" and body["stored"] is False and "expiry" in body["reason"], body
        name, body = hint_put(conn, "a", b"k", hlc=hlc_now(offset_ms=3_600_000))
        assert name == "Error" and body["code_name"] == "ClockSkew", body
        assert conn.put(b"own", b"x")[1]["applied"]
    readings = info(pb)
    assert readings["hints_pending"] == 0
    assert readings["hints_expired"] == 1
    wait_admin(admin)
    assert value(scrape(admin)[0], "shoal_node_hints_expired_total") == 1
