"""Hinted handoff on the node side (issue 8): HintPut is spooled, never applied to the receiver.

Frames are encoded by node_wire.py. A HintPut carries the intended owner's node id and the whole
Put; the receiver answers HintAck (or an Error) and keeps the hint apart from its own store.
"""
from node_wire import NodeConnection, hlc_now


def hint_put(conn, target, key, value, hlc=None, writer=7, **extra):
    put = {"key": key, "value": value, "version": (hlc or hlc_now(), writer), **extra}
    return conn.call("HintPut", target=target, put=put)


def test_hint_put_is_answered_and_not_applied_to_the_receivers_store(node):
    with NodeConnection(node.port) as conn:
        assert conn.hello()[0] == "HelloResponse"
        name, body = hint_put(conn, "other-node", b"hinted", b"v1")
        assert name in ("HintAck", "Error"), (name, body)
        # The hint is not the receiver's own write: it does not hold the key.
        name, body = conn.get(b"hinted")
        assert name == "GetResponse" and body["found"] is False, body
        # The connection still serves.
        name, body = conn.put(b"own", b"x")
        assert name == "PutResponse" and body["applied"], body
