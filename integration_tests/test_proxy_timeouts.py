"""Requests time out one by one (issue 6, item 7): one slow answer fails only its own request;
a node is marked down only when it refuses or closes connections, or after a run of
--down-after-timeouts consecutive timeouts.

Before, the first request past --timeout-ms failed the whole node connection (every request in
flight on it) and marked the node down for every worker until it reconnected."""
import select
import threading
import time
from types import SimpleNamespace

import pytest

import harness
from conftest_proxy import is_noquorum, noquorum_text
from fault_relay import FaultRelay
from harness import Err, RespConn, Simple

OK = Simple("OK")
TIMEOUT_MS = 1000
SLOW = b"SLOW-ANSWER-MARKER"


class Setup:
    """Nodes a, b, c; the proxy reaches c through a FaultRelay that holds back c's answers
    containing SLOW for 3 s (three timeouts). The proxy's phi detector is off."""

    def __init__(self, tmp):
        self.nodes = {n: harness.start_node(tmp, n) for n in ("a", "b", "c")}
        self.relay = FaultRelay(self.nodes["c"].port, SLOW, delay_s=3.0)
        via_relay = SimpleNamespace(name="node-c", port=self.relay.port)
        self.proxy = harness.start_proxy(
            tmp, [self.nodes["a"], self.nodes["b"], via_relay],
            extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "1",
                   "--down-after-timeouts", "3",
                   # The per-request timeouts alone: the proxy's phi detector would skip the
                   # paused node after ~0.5 s (test_proxy_link_phi.py tests it).
                   "--link-ping-ms", "0"))

    def close(self):
        self.proxy.stop()
        self.relay.close()
        for node in self.nodes.values():
            harness.resume(node)
            node.stop()


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    yield s
    s.close()


def info(port):
    with RespConn(port) as c:
        text = c.call("INFO").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def node_c_up(port):
    return "status=up" in info(port)["node_c"].split(",")


def test_one_slow_answer_fails_only_its_request(setup):
    port = setup.proxy.port
    with RespConn(port) as c, RespConn(port) as other:
        for conn in (c, other):
            assert conn.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("SET", "slow", SLOW) == OK  # PutResponse holds no value: not held back
        for i in range(20):
            assert c.call("SET", f"fast:{i}", f"v{i}") == OK
        # A read asks one replica (rotating) for the value and the others for versions only, so
        # c's answer carries the value, and is held back past the timeout, only when c is the
        # value replica: send GET slow until that happens (a quick answer means it was not).
        replies = []
        for _ in range(20):
            c.send_raw(RespConn.encode("GET", "slow"))
            readable, _, _ = select.select([c.sock], [], [], 0.3)
            if not readable:
                break
            assert c.read_reply() == SLOW
        else:
            pytest.fail("c was never asked for the value in 20 reads")
        # c's answer to this GET is held back past the timeout: at ALL the read fails, while the
        # other connection's requests to the same node, sent before, during and after that
        # timeout on the same node connection, are all answered.
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            i = len(replies) % 20
            replies.append((i, other.call("GET", f"fast:{i}")))
        assert c.read_reply() == Err(noquorum_text("read", 3, 2))
        wrong = [(i, r) for i, r in replies if r != f"v{i}".encode()]
        assert not wrong, f"{len(wrong)} of {len(replies)} reads failed: {wrong[:3]}"
        assert setup.relay.delayed == 1
        # The node was not marked down, and the next requests to it succeed at once.
        assert node_c_up(port)
        assert c.call("GET", "fast:3") == b"v3"
        assert c.call("SET", "fast:4", "w4") == OK
        assert int(info(port)["node_request_timeouts"]) >= 1


def test_node_paused_for_a_moment_is_not_marked_down(setup):
    port = setup.proxy.port
    with RespConn(port) as c:
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("SET", "p:1", "v1") == OK
        harness.pause(setup.nodes["c"])
        try:
            # One request to the paused node times out; at QUORUM the others answer.
            assert c.call("GET", "p:1") == Err(noquorum_text("read", 3, 2))
            assert c.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
            assert c.call("GET", "p:1") == b"v1"
            assert c.call("SET", "p:2", "v2") == OK
        finally:
            harness.resume(setup.nodes["c"])
        # Two timeouts so far, fewer than --down-after-timeouts: the node is still in service
        # and, once resumed, answers at ALL straight away (no reconnect, no backoff).
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("GET", "p:1") == b"v1"
        assert c.call("GET", "p:2") == b"v2"
        assert node_c_up(port)


def test_a_run_of_timeouts_marks_the_node_down(setup):
    port = setup.proxy.port
    with RespConn(port) as c:
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("SET", "r:1", "v1") == OK
        harness.pause(setup.nodes["c"])
        try:
            for _ in range(3):
                assert c.call("GET", "r:1") == Err(noquorum_text("read", 3, 2))
            assert not node_c_up(port)
            assert "3 consecutive requests timed out" in setup.proxy.log()
            # Down: requests no longer wait for it.
            start = time.monotonic()
            for _ in range(10):
                assert is_noquorum(c.call("GET", "r:1"), "read")
            assert time.monotonic() - start < TIMEOUT_MS / 1000 * 3
        finally:
            harness.resume(setup.nodes["c"])
        assert harness.wait_until(lambda: c.call("GET", "r:1") == b"v1", timeout=10,
                                  interval=0.1)
        assert node_c_up(port)
