"""Frames over --max-frame-size (issue 7 item 7): answered TooLarge with their request id, their
bytes skipped, and the frames pipelined behind them served on the same connection.
"""
import socket
import struct
import time

from node_wire import NodeConnection, encode, hlc_now, read_frame
from test_node_protocol import assert_closed_by_node, assert_serves, info


def test_oversized_put_between_pipelined_gets_all_answered(start_node):
    """The issue's repro: --max-frame-size 4kb; Get, 5 KB Put, Get pipelined."""
    n = start_node("frames", extra=("--max-frame-size", "4kb"))
    with NodeConnection(n.port) as c:
        c.sock.sendall(encode("Get", 1, key=b"a") +
                       encode("Put", 2, key=b"big", value=b"x" * 5000, version=(hlc_now(), 1)) +
                       encode("Get", 3, key=b"b"))
        got = {}
        for _ in range(3):
            rid, kind, body = read_frame(c.sock)
            got[rid] = (kind, body)
        assert got[1][0] == "GetResponse"
        assert got[2][0] == "Error" and got[2][1]["code_name"] == "TooLarge", got[2]
        assert "4096" in got[2][1]["message"], got[2]
        assert got[3][0] == "GetResponse"
        # Still serving on the same connection.
        assert c.put(b"small", b"ok")[1]["applied"]
        assert c.get(b"big")[1]["found"] is False
    assert info(n.port)["frames_too_large"] == 1
    assert info(n.port)["protocol_errors"] == 0


def test_large_frame_trickled_in_is_skipped_without_buffering(start_node):
    n = start_node("frames", extra=("--max-frame-size", "64kb"))
    big = encode("Put", 77, key=b"big", value=b"y" * (8 << 20), version=(hlc_now(), 1))
    with NodeConnection(n.port, timeout=30) as c:
        # The prefix and a few bytes first (less than the id needs to be read), then the rest.
        c.sock.sendall(big[:6])
        time.sleep(0.2)
        for i in range(6, len(big), 1 << 20):
            c.sock.sendall(big[i:i + (1 << 20)])
        c.sock.sendall(encode("Get", 78, key=b"k"))
        assert read_frame(c.sock)[:2] == (77, "Error")
        assert read_frame(c.sock)[:2] == (78, "GetResponse")
    # The helloed limit is the one enforced.
    with NodeConnection(n.port) as c:
        kind, body = c.call("Hello", protocol_version=1, cluster="shoal", sender_id="t", role=2)
        assert body["max_frame_size"] == 64 * 1024


def test_oversized_garbage_without_request_id_is_answered_then_closed(node):
    with NodeConnection(node.port) as bystander:
        assert bystander.put(b"before", b"1")[1]["applied"]
        with socket.create_connection(("127.0.0.1", node.port)) as s:
            s.sendall(struct.pack("<I", 0xFFFFFFF0) + b"\x00" * 600)
            s.settimeout(3)
            rid, kind, body = read_frame(s)
            assert (rid, kind, body["code_name"]) == (0, "Error", "TooLarge")
            assert_closed_by_node(s)
        assert bystander.get(b"before")[1]["value"] == b"1"
    assert_serves(node.port)
    assert info(node.port)["protocol_errors"] == 1
