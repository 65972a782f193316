"""Node semantics a client would notice: conditions on writes (Put and Touch), and the shoalctl
tool's handling of its arguments and of large pipelines."""
import time

import pytest

import node_wire
from harness import shoalctl
from node_wire import NodeConnection, hlc_now


def test_put_with_an_unknown_condition_is_refused_not_applied(node):
    with NodeConnection(node.port) as c:
        assert c.put(b"cond", b"a", hlc=hlc_now())[1]["applied"]
        # 7 is no PutCondition: a node must not treat it as Always and overwrite.
        kind, body = c.put(b"cond", b"b", hlc=hlc_now(5), condition=7)
        assert kind == "Error" and body["code_name"] == "BadRequest"
        assert "condition" in body["message"]
        assert c.get(b"cond")[1]["value"] == b"a"
        # The known conditions still work on the same connection.
        kind, body = c.put(b"cond", b"c", hlc=hlc_now(10), condition=1)  # IfAbsent
        assert kind == "PutResponse" and body["condition_failed"] and not body["applied"]
        kind, body = c.put(b"cond", b"d", hlc=hlc_now(15), condition=2)  # IfPresent
        assert kind == "PutResponse" and body["applied"]
        assert c.get(b"cond")[1]["value"] == b"d"


# ---- shoalctl ----------------------------------------------------------------------------------

def test_shoalctl_help_in_a_value_slot_is_data(node):
    r = shoalctl(node.port, "set", "k", "-h")
    assert (r.returncode, r.stdout) == (0, "OK\n"), r.stderr
    assert shoalctl(node.port, "get", "k").stdout == "-h\n"
    r = shoalctl(node.port, "set", "--help", "v")  # the key slot
    assert (r.returncode, r.stdout) == (0, "OK\n"), r.stderr
    assert shoalctl(node.port, "get", "--help").stdout == "v\n"
    # `--` still makes what follows literal.
    assert shoalctl(node.port, "set", "--", "k2", "--x").returncode == 0
    assert shoalctl(node.port, "get", "k2").stdout == "--x\n"
    # As a flag it is still help, and nothing is written.
    for args in (["-h"], ["--help", "set", "k", "v"], ["get", "k", "--help"], ["set", "k", "v", "-h"]):
        r = shoalctl(node.port, *args)
        assert r.returncode == 0 and r.stdout.startswith("usage:"), args
    assert shoalctl(node.port, "get", "k").stdout == "-h\n"


@pytest.mark.parametrize("timeout", ["0", "-5", "2147483648", "4294967297", "9223372036854775807"])
def test_shoalctl_timeout_out_of_range_is_a_usage_error(node, timeout):
    r = shoalctl(node.port, "--timeout-ms", timeout, "get", "k")
    assert r.returncode == 2
    assert "--timeout-ms" in r.stderr and "2147483647" in r.stderr


def test_shoalctl_largest_timeout_is_accepted(node):
    r = shoalctl(node.port, "--timeout-ms", "2147483647", "set", "k", "v")
    assert (r.returncode, r.stdout) == (0, "OK\n"), r.stderr


def test_shoalctl_ttl_that_would_overflow_is_a_usage_error(node):
    for ttl in ("9223372036854775000", "9223372036854775807", "0"):
        r = shoalctl(node.port, "set", "k", "v", "--ttl-ms", ttl)
        assert r.returncode == 2 and "--ttl-ms" in r.stderr, (ttl, r.stderr)
        r = shoalctl(node.port, "fill", "--count", "1", "--ttl-ms", ttl)
        assert r.returncode == 2 and "--ttl-ms" in r.stderr, (ttl, r.stderr)
    assert shoalctl(node.port, "get", "k").stdout == "(nil)\n"
    # A reasonable TTL still works and the value is there.
    assert shoalctl(node.port, "set", "k", "v", "--ttl-ms", "60000").returncode == 0
    assert shoalctl(node.port, "get", "k").stdout == "v\n"


def test_shoalctl_fill_with_a_window_larger_than_the_nodes_output_limit_completes(node):
    # 600,000 puts in flight: their responses exceed what the node buffers before it stops
    # reading, so shoalctl must take responses while it is still sending.
    r = shoalctl(node.port, "fill", "--pipeline", "600000", "--count", "600000",
                 "--value-size", "1", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fill: 600000 puts") and "not applied" not in r.stdout
    assert shoalctl(node.port, "get", "fill:599999").stdout == "a\n"


# ---- Touch conditions (EXPIRE NX | XX | GT | LT) on the wire -----------------------------------

def test_touch_conditions_judge_the_held_expiry(node):
    conds = node_wire.TOUCH_CONDITIONS
    later = int(time.time() * 1000) + 3_600_000
    with NodeConnection(node.port) as c:
        assert c.put(b"k", b"v", hlc=hlc_now())[1]["applied"]  # no TTL
        # GT on a key without TTL: no expiry is infinite, never less than the new one.
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(5), 1), expire_at_ms=later,
                            condition=conds["IfGreater"])
        assert kind == "TouchResponse"
        assert body["found"] and not body["applied"] and body["condition_failed"]
        assert c.get(b"k")[1]["expire_at_ms"] == 0
        # NX on a key without TTL applies.
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(10), 1), expire_at_ms=later,
                            condition=conds["IfNoExpiry"])
        assert body["found"] and body["applied"] and not body["condition_failed"]
        assert c.get(b"k")[1]["expire_at_ms"] == later
        # Now it has a TTL: NX fails, GT with a later expiry applies.
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(15), 1), expire_at_ms=later + 1,
                            condition=conds["IfNoExpiry"])
        assert not body["applied"] and body["condition_failed"]
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(20), 1), expire_at_ms=later + 2,
                            condition=conds["IfGreater"])
        assert body["applied"] and not body["condition_failed"]
        assert c.get(b"k")[1]["expire_at_ms"] == later + 2
        # A plain Touch (no condition field) still decodes condition_failed as false.
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(25), 1), expire_at_ms=0)
        assert body["applied"] and body["condition_failed"] is False
        # An unknown condition is refused.
        kind, body = c.call("Touch", key=b"k", version=(hlc_now(30), 1), expire_at_ms=later,
                            condition=9)
        assert kind == "Error" and body["code_name"] == "BadRequest"
        assert c.get(b"k")[1]["expire_at_ms"] == 0
