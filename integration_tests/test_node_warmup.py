"""Warm-up after a restart (issue 6 item 4, node side): a node whose data directory shows that
it served before answers Get and Touch with Error NotReady for --warmup-ms after start, applies
Puts, and reports readiness in info. A brand-new data directory is a new node: no warm-up.
"""
import time

import pytest

import harness
from node_wire import NodeConnection, hlc_now
from test_node_protocol import info


def test_restarted_node_refuses_reads_during_warmup(tmp_path):
    port = harness.free_port()
    first = harness.start_node(tmp_path, "n1", port=port, warmup_ms=5000)
    try:
        # A brand-new data dir: serving reads at once, despite --warmup-ms.
        with NodeConnection(port) as c:
            kind, body = c.call("Get", key=b"k")
            assert kind == "GetResponse", body
        assert info(port)["ready"] == 1
    finally:
        first.stop()
    second = harness.start_node(tmp_path, "n1", port=port, warmup_ms=5000)
    try:
        with NodeConnection(port) as c:
            for message, fields in [("Get", {"key": b"k"}),
                                    ("Touch", {"key": b"k", "version": (hlc_now(), 1),
                                               "expire_at_ms": 0})]:
                kind, body = c.call(message, **fields)
                assert kind == "Error" and body["code_name"] == "NotReady", (message, body)
            # Puts are applied during the warm-up; the connection keeps serving.
            kind, body = c.call("Put", key=b"k", value=b"v", version=(hlc_now(), 1))
            assert kind == "PutResponse" and body["applied"], body
            # ... and say so: a put applied while warming up does not count toward W.
            assert body.get("not_ready") is True, body
            # Keys of the other shard too (the check is made before a request changes threads).
            for i in range(8):
                kind, body = c.call("Get", key=b"other-%d" % i)
                assert kind == "Error" and body["code_name"] == "NotReady"
        readings = info(port)
        assert readings["ready"] == 0
        assert 0 < readings["warmup_remaining_ms"] <= 5000
        assert readings["not_ready_rejections"] >= 10
        # After the warm-up, reads are answers again.
        deadline = time.time() + 10
        while info(port)["ready"] != 1:
            assert time.time() < deadline, "still warming up"
            time.sleep(0.2)
        with NodeConnection(port) as c:
            kind, body = c.call("Get", key=b"k")
            assert kind == "GetResponse" and body["value"] == b"v", body
            kind, body = c.call("Put", key=b"k2", value=b"v", version=(hlc_now(), 1))
            assert kind == "PutResponse" and body["applied"], body
            assert not body.get("not_ready"), body
    finally:
        second.stop()


def test_warmup_zero_serves_at_once_after_restart(tmp_path):
    port = harness.free_port()
    harness.start_node(tmp_path, "n1", port=port, warmup_ms=0).stop()
    proc = harness.start_node(tmp_path, "n1", port=port, warmup_ms=0)
    try:
        with NodeConnection(port) as c:
            kind, body = c.call("Get", key=b"k")
            assert kind == "GetResponse", body
        assert info(port)["ready"] == 1
    finally:
        proc.stop()


def test_restart_after_kill_also_warms_up(tmp_path):
    port = harness.free_port()
    first = harness.start_node(tmp_path, "n1", port=port, warmup_ms=60000)
    first.kill()
    proc = harness.start_node(tmp_path, "n1", port=port, warmup_ms=60000)
    try:
        with NodeConnection(port) as c:
            kind, body = c.call("Get", key=b"k")
            assert kind == "Error" and body["code_name"] == "NotReady", body
    finally:
        proc.stop()
