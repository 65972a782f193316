"""The node's clock high-water mark survives a crash (issue 7 item 6): the ceiling is persisted
before a version is acknowledged, so kill -9 right after a write cannot make the node forget it.
"""
import time

import harness
from node_wire import NodeConnection, hlc_now
from test_node_protocol import info


def hello_max_hlc(port):
    with NodeConnection(port) as c:
        kind, body = c.call("Hello", protocol_version=1, cluster="shoal", sender_id="t", role=2)
        assert kind == "HelloResponse", body
        return body["max_hlc"]


def test_version_ahead_survives_kill_9(tmp_path):
    port = harness.free_port()
    proc = harness.start_node(tmp_path, "n1", port=port)
    ahead = hlc_now(30_000) + 5  # 30 s ahead, within --max-clock-offset-ms (60 s)
    with NodeConnection(port) as c:
        kind, body = c.call("Put", key=b"k", value=b"v", version=(ahead, 9))
        assert kind == "PutResponse" and body["applied"], body
    proc.proc.kill()  # SIGKILL at once: no clean-stop persistence
    proc.kill()
    proc = harness.start_node(tmp_path, "n1", port=port)
    try:
        assert hello_max_hlc(port) >= ahead
    finally:
        proc.stop()


def test_many_writes_ahead_then_kill_9(tmp_path):
    """Writes from several clocks, each acknowledged one above the other, then a crash."""
    port = harness.free_port()
    proc = harness.start_node(tmp_path, "n1", port=port)
    highest = 0
    with NodeConnection(port) as c:
        for i, offset in enumerate([0, 2_000, 9_000, 20_000, 45_000]):
            v = hlc_now(offset) + i
            kind, body = c.call("Put", key=b"k%d" % i, value=b"v", version=(v, 1))
            assert kind == "PutResponse" and body["applied"], body
            highest = max(highest, v)
        # A Touch's version counts too.
        v = hlc_now(50_000)
        kind, body = c.call("Touch", key=b"k0", version=(v, 1), expire_at_ms=0)
        assert kind == "TouchResponse" and body["applied"], body
        highest = max(highest, v)
    readings = info(port)
    assert readings["clock_ceiling"] >= highest
    assert readings["ceiling_waits"] >= 1
    proc.proc.kill()
    proc.kill()
    proc = harness.start_node(tmp_path, "n1", port=port)
    try:
        assert hello_max_hlc(port) >= highest
    finally:
        proc.stop()


def test_clean_stop_reports_the_exact_max(tmp_path):
    port = harness.free_port()
    proc = harness.start_node(tmp_path, "n1", port=port)
    v = hlc_now(1_000) + 3
    with NodeConnection(port) as c:
        kind, body = c.call("Put", key=b"k", value=b"v", version=(v, 1))
        assert body["applied"]
        # The ceiling on disk is ahead of what the node holds.
        assert info(port)["clock_ceiling"] > v
    proc.stop()
    proc = harness.start_node(tmp_path, "n1", port=port)
    try:
        assert hello_max_hlc(port) == v
    finally:
        proc.stop()


def test_ceiling_stays_ahead_of_the_wall_clock(tmp_path):
    proc = harness.start_node(tmp_path, "n1")
    try:
        first = info(proc.port)["clock_ceiling"]
        assert first >= hlc_now(4_000)
        # Refreshed before the wall clock comes within the refresh distance (2.5 s).
        time.sleep(3.5)
        assert info(proc.port)["clock_ceiling"] >= hlc_now(2_400)
    finally:
        proc.stop()
