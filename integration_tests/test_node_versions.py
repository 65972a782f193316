"""shoal-node at the wire level: the (version, expiry_version) pair of docs/replication.md, and
what the store remembers of versions when it evicts (issue 7, items 1-2).

Frames are encoded by node_wire.py; each test talks to a real node on a free port.
"""
import time

from harness import shoalctl
from node_wire import NodeConnection, hlc_now


def test_the_greater_pair_wins_whole(node):
    v1, e2, v3 = hlc_now(), hlc_now(10), hlc_now(20)
    later = int(time.time() * 1000) + 3_600_000
    with NodeConnection(node.port) as c:
        kind, body = c.put(b"k", b"old", hlc=v1, writer=1)
        assert kind == "PutResponse" and body["applied"]
        assert body["current_expiry_version"] == (v1, 1)  # absent expiry_version = version

        # A Touch (EXPIRE) sets the expiry and its version, never the value version.
        kind, body = c.call("Touch", key=b"k", version=(e2, 2), expire_at_ms=later)
        assert kind == "TouchResponse"
        assert body["found"] and body["applied"] and not body["tombstone"]
        assert body["version"] == (v1, 1)
        assert body["previous_expiry_version"] == (v1, 1)
        kind, body = c.get(b"k")
        assert body["version"] == (v1, 1) and body["expiry_version"] == (e2, 2)
        assert body["expire_at_ms"] == later

        # A Touch not newer than the held expiry version is stale.
        kind, body = c.call("Touch", key=b"k", version=(e2 - 1, 9), expire_at_ms=0)
        assert body["found"] and not body["applied"]
        assert body["previous_expiry_version"] == (e2, 2)

        # A whole-state put of the same value version with the same pair is stale; a newer value
        # version (a client SET the touched replica missed) wins whole: its own (no) expiry.
        kind, body = c.call("Put", key=b"k", value=b"old", version=(v1, 1),
                            expiry_version=(e2, 2), expire_at_ms=later)
        assert not body["applied"]
        assert body["current"] == (v1, 1) and body["current_expiry_version"] == (e2, 2)
        kind, body = c.put(b"k", b"new", hlc=v3, writer=1)
        assert body["applied"] and body["previous_version"] == (v1, 1)
        kind, body = c.get(b"k")
        assert body["value"] == b"new" and body["expire_at_ms"] == 0
        assert body["version"] == (v3, 1) and body["expiry_version"] == (v3, 1)

        # A repair carrying a touched state (v3, e4) beats (v3, v3).
        e4 = hlc_now(30)
        kind, body = c.call("Put", key=b"k", value=b"new", version=(v3, 1),
                            expiry_version=(e4, 4), expire_at_ms=later)
        assert body["applied"] and body["current_expiry_version"] == (e4, 4)
        assert c.get(b"k")[1]["expire_at_ms"] == later

        # An expiry version older than the version is not a state: refused.
        kind, body = c.call("Put", key=b"k", value=b"x", version=(hlc_now(40), 1),
                            expiry_version=(v1, 1))
        assert kind == "Error" and body["code_name"] == "BadRequest"


def test_touch_never_applies_to_a_tombstone(node):
    v = hlc_now()
    with NodeConnection(node.port) as c:
        assert c.call("Put", key=b"d", version=(v, 1), tombstone=True)[1]["applied"]
        kind, body = c.call("Touch", key=b"d", version=(hlc_now(10), 1), expire_at_ms=0)
        assert kind == "TouchResponse"
        assert not body["found"] and not body["applied"] and body["tombstone"]
        assert body["version"] == (v, 1) and body["previous_expiry_version"] == (v, 1)
        kind, body = c.get(b"d")
        assert body["found"] and body["tombstone"] and body["expiry_version"] == (v, 1)
        # Absent: nothing held, nothing created.
        kind, body = c.call("Touch", key=b"nothing", version=(hlc_now(20), 1), expire_at_ms=0)
        assert not body["found"] and not body["tombstone"] and not body["applied"]
        assert not c.get(b"nothing")[1]["found"]


# ---- issue 7, items 1 and 2, as reported (wire level) -----------------------------------------

def test_an_evicted_keys_older_write_is_refused(start_node):
    """Put `live` at V0, again at V1, evict it by filling the shard, put V0: refused (it was
    applied again before the evicted-version floor)."""
    n = start_node("small", extra=("--max-memory", "2mb", "--threads", "1"))
    v0, v1 = hlc_now(), hlc_now(1)
    with NodeConnection(n.port) as c:
        assert c.put(b"live", b"v0", hlc=v0, writer=1)[1]["applied"]
        assert c.put(b"live", b"v1", hlc=v1, writer=1)[1]["applied"]
        r = shoalctl(n.port, "fill", "--count", "6000", "--value-size", "1000")
        assert r.returncode == 0, r.stderr
        assert not c.get(b"live")[1]["found"]
        kind, body = c.put(b"live", b"v0", hlc=v0, writer=1)
        assert kind == "PutResponse" and not body["applied"]
        assert tuple(body["current"]) >= (v1, 1)  # the floor, so a writer can re-stamp above it
        assert not c.get(b"live")[1]["found"]


def test_a_near_limit_value_is_refused_and_the_delete_holds(start_node):
    """--max-memory 1mb --threads 1: DEL gone, a 1,048,400-byte value, an older put of gone. The
    value is refused (TooLarge, one entry takes at most 1/8 of a shard) and the put is stale."""
    n = start_node("tiny", extra=("--max-memory", "1mb", "--threads", "1"))
    v = hlc_now()
    with NodeConnection(n.port) as c:
        assert c.call("Put", key=b"gone", version=(v, 1), tombstone=True)[1]["applied"]
        kind, body = c.put(b"huge", b"h" * 1_048_400, hlc=hlc_now(1), writer=1)
        assert kind == "Error" and body["code_name"] == "TooLarge"
        assert "1/8" in body["message"], body["message"]
        kind, body = c.put(b"gone", b"old", hlc=v - (1 << 16), writer=1)
        assert kind == "PutResponse" and not body["applied"]
        kind, body = c.get(b"gone")
        assert body["found"] and body["tombstone"]
