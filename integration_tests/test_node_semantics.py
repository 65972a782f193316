"""Node semantics a client would notice: conditions on writes, and the shoalctl tool's handling of
its arguments and of large pipelines."""
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
