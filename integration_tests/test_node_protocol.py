"""shoal-node at the wire level: pipelining, error replies and garbage on the port.

Frames are encoded by node_wire.py (hand-made FlatBuffers, checked against the node's verifier).
"""
import random
import socket
import struct
import time

import pytest

import harness
from harness import shoalctl
from node_wire import NodeConnection, encode, encode_raw, hlc_now, read_frame


def info(port):
    r = shoalctl(port, "info")
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        name, _, value = line.partition(": ")
        out[name] = int(value) if value.isdigit() else value
    return out


def assert_closed_by_node(sock, timeout=3.0):
    """The node closes the connection: reads end (EOF or reset) without a reply."""
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            break
        if not data:
            return
    pytest.fail("the node did not close the connection")


def assert_serves(port):
    with NodeConnection(port) as c:
        kind, body = c.put(b"health", b"ok")
        assert kind == "PutResponse" and body["applied"]
        kind, body = c.get(b"health")
        assert kind == "GetResponse" and body["value"] == b"ok"


def wait_for_log(proc, text, timeout=3.0):
    deadline = time.time() + harness.slow(timeout)  # (longer for sanitized binaries)
    while time.time() < deadline:
        if text in proc.log():
            return True
        time.sleep(0.05)
    return False


# ---- requests and replies ----------------------------------------------------------------------

def test_hello_reports_node_and_max_hlc(node):
    with NodeConnection(node.port) as c:
        kind, body = c.hello()
        assert kind == "HelloResponse"
        assert body["node_id"] == "n1"
        assert body["protocol_version"] == 1
        assert body["shards"] == 2
        written = hlc_now() + 5
        assert c.put(b"k", b"v", hlc=written)[1]["applied"]
        kind, body = c.hello()
        assert body["max_hlc"] >= written


def test_pipelined_requests_are_all_answered_by_id(node):
    """5000 puts in one write, then 5000 gets: every response comes back with its request's id,
    whichever shard thread executed it (possibly out of order). Thousands in flight also cross
    the per-connection cap on cross-shard requests, so the connection pauses and resumes."""
    keys = [f"pipe:{i}".encode() for i in range(5000)]
    with NodeConnection(node.port) as c:
        version = hlc_now()
        burst = b"".join(encode("Put", 1000 + i, key=k, value=b"value-" + k, version=(version, 1))
                         for i, k in enumerate(keys))
        c.sock.sendall(burst)
        replies = {}
        for _ in keys:
            rid, kind, body = read_frame(c.sock)
            assert kind == "PutResponse" and body["applied"], body
            replies[rid] = body
        assert sorted(replies) == [1000 + i for i in range(len(keys))]

        burst = b"".join(encode("Get", 10000 + i, key=k) for i, k in enumerate(keys))
        c.sock.sendall(burst)
        order = []
        for _ in keys:
            rid, kind, body = read_frame(c.sock)
            assert kind == "GetResponse"
            assert body["value"] == b"value-" + keys[rid - 10000]
            order.append(rid)
        assert sorted(order) == [10000 + i for i in range(len(keys))]
    assert info(node.port)["cross_shard_requests"] > 0


def test_older_version_is_not_applied(node):
    with NodeConnection(node.port) as c:
        now = hlc_now()
        assert c.put(b"lww", b"new", hlc=now + 10)[1]["applied"]
        kind, body = c.put(b"lww", b"old", hlc=now)
        assert kind == "PutResponse"
        assert not body["applied"]
        assert body["current"] == (now + 10, 99)
        assert c.get(b"lww")[1]["value"] == b"new"
    assert info(node.port)["stale_writes"] == 1


def test_touch_sets_expiry(node):
    with NodeConnection(node.port) as c:
        now = hlc_now()
        assert c.put(b"t", b"v", hlc=now)[1]["applied"]
        expire = int(time.time() * 1000) + 200
        kind, body = c.call("Touch", key=b"t", version=(now + 1, 99), expire_at_ms=expire,
                            want_value=True)
        assert kind == "TouchResponse"
        assert body["found"] and body["applied"] and body["value"] == b"v"
        time.sleep(0.3)
        expired = c.get(b"t")[1]
        assert expired["tombstone"], "an expired value reads as a tombstone of its version"


def test_clock_skew_is_refused_and_counted(node):
    with NodeConnection(node.port) as c:
        kind, body = c.put(b"future", b"v", hlc=hlc_now(10 * 60 * 1000))
        assert kind == "Error" and body["code_name"] == "ClockSkew"
        assert "ahead" in body["message"]
        # Within the allowed offset (60 s by default) is fine.
        assert c.put(b"future", b"v", hlc=hlc_now(30 * 1000))[1]["applied"]
        assert not c.get(b"future")[1]["tombstone"]
    assert info(node.port)["clock_skew_rejections"] == 1


def test_bad_requests_get_errors_and_the_connection_stays(node):
    with NodeConnection(node.port) as c:
        kind, body = c.call("Get")  # no key
        assert kind == "Error" and body["code_name"] == "BadRequest"
        kind, body = c.call("Put", key=b"k", value=b"v")  # no version
        assert kind == "Error" and body["code_name"] == "BadRequest"
        kind, body = c.call("Get", key=b"k" * (512 * 1024 + 1))
        assert kind == "Error" and body["code_name"] == "BadRequest"
        assert "512" in body["message"]
        kind, body = c.call("GetResponse", found=True)  # a response type sent as a request
        assert kind == "Error" and body["code_name"] == "Unsupported"
        # A union type this node has never heard of (a later protocol's message).
        c.sock.sendall(encode_raw(77, 4242, "Info"))
        rid, kind, body = read_frame(c.sock)
        assert (rid, kind, body["code_name"]) == (4242, "Error", "Unsupported")
        assert c.put(b"k", b"still here")[1]["applied"]
    stats = info(node.port)
    assert stats["bad_requests"] == 3 and stats["unsupported_requests"] == 2


def test_value_over_the_frame_limit_is_refused_and_the_connection_kept(start_node):
    n = start_node("frames", extra=("--max-frame-size", "64kb"))
    with NodeConnection(n.port) as c:
        assert c.put(b"small", b"x" * 60000)[1]["applied"]
        kind, body = c.call("Put", key=b"big", value=b"x" * 70000, version=(hlc_now(), 1))
        assert kind == "Error" and body["code_name"] == "TooLarge", body
        assert c.put(b"small2", b"x")[1]["applied"]
    assert wait_for_log(n, "frame too large")
    assert_serves(n.port)


def test_wrong_cluster_closes_the_connection(node):
    with NodeConnection(node.port) as c:
        kind, body = c.hello(cluster="elsewhere")
        assert kind == "Error" and body["code_name"] == "WrongCluster"
        assert_closed_by_node(c.sock)
    assert info(node.port)["wrong_cluster"] == 1


# ---- garbage on the port -----------------------------------------------------------------------

def test_corrupt_envelope_closes_the_connection(node):
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(struct.pack("<I", 32) + bytes([0xAB]) * 32)
        assert_closed_by_node(s)
    assert wait_for_log(node, "frame fails verification")
    assert "127.0.0.1:" in node.log()  # the peer is named
    assert_serves(node.port)


def test_valid_frames_then_garbage(node):
    """Requests before the bad frame are answered; the bad frame closes the connection."""
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        good = encode("Put", 1, key=b"g", value=b"v", version=(hlc_now(), 1))
        s.sendall(good + struct.pack("<I", 16) + b"\xff" * 16)
        rid, kind, body = read_frame(s)
        assert (rid, kind, body["applied"]) == (1, "PutResponse", True)
        assert_closed_by_node(s)
    assert_serves(node.port)


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes(node, seed):
    rng = random.Random(seed)
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8192))))
        s.shutdown(socket.SHUT_WR)  # a prefix that promises more than was sent ends at EOF
        assert_closed_by_node(s)
    assert_serves(node.port)


def test_truncated_frame_then_close(node):
    frame = encode("Put", 9, key=b"cut", value=b"v" * 1000, version=(hlc_now(), 1))
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(frame[:len(frame) // 2])
    assert wait_for_log(node, "ended in the middle of a frame")
    assert_serves(node.port)
    with NodeConnection(node.port) as c:
        assert not c.get(b"cut")[1]["found"]


def test_client_gone_with_requests_in_flight(node):
    """Clients that vanish while their cross-shard requests are executing do no harm."""
    for round_ in range(20):
        s = socket.create_connection(("127.0.0.1", node.port))
        version = hlc_now()
        s.sendall(b"".join(encode("Put", i, key=f"gone:{round_}:{i}".encode(), value=b"x" * 100,
                                  version=(version, 1)) for i in range(300)))
        s.close()
    assert_serves(node.port)
    deadline = time.time() + 3
    while info(node.port)["connections"] != 1 and time.time() < deadline:  # 1: info's own
        time.sleep(0.05)
    assert info(node.port)["connections"] == 1


def test_half_closed_client_still_gets_answers(node):
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        version = hlc_now()
        s.sendall(b"".join(encode("Put", i, key=f"half:{i}".encode(), value=b"v",
                                  version=(version, 1)) for i in range(50)))
        s.shutdown(socket.SHUT_WR)
        got = sorted(read_frame(s)[0] for _ in range(50))
        assert got == list(range(50))
        assert_closed_by_node(s)


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


def test_a_peer_that_does_not_read_is_paused_not_buffered(start_node):
    """300 pipelined reads of a 1 MiB value, none read back for a while: the node stops handling
    that connection's frames once 16 MiB of responses wait, instead of building 300 MiB; when the
    peer reads, every response arrives."""
    n = start_node("slow", extra=("--threads", "1"))
    value = bytes(range(256)) * 4096
    with NodeConnection(n.port) as c:
        assert c.put(b"big", value)[1]["applied"]
        rss_before = proc_rss(n.proc.pid)
        c.sock.sendall(b"".join(encode("Get", 100 + i, key=b"big") for i in range(300)))
        time.sleep(1.0)
        grown = proc_rss(n.proc.pid) - rss_before
        if harness.rss_is_measurable():  # (not under a sanitizer: its shadow memory, quarantine)
            assert grown < 64 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"
        c.sock.settimeout(harness.slow(10))
        ids = []
        for _ in range(300):
            rid, kind, body = read_frame(c.sock)
            assert kind == "GetResponse" and body["value"] == value
            ids.append(rid)
        assert sorted(ids) == list(range(100, 400))
        assert c.get(b"big")[1]["found"]
