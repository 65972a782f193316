"""Bytes on the client port: malformed RESP gets Redis's protocol error and the connection is
closed, other clients never notice; inline commands and byte-by-byte input work as on Redis.
Every input is sent to a real redis-server too and the raw bytes replied are compared."""
import socket
import threading
import time

import pytest

import harness
from conftest_proxy import client, redis_ref, shoal  # noqa: F401
from harness import RespConn, Simple

# Inputs Redis rejects with "-ERR Protocol error: ..." and then closes the connection.
MALFORMED = {
    "bad_bulk_length": b"*2\r\n$abc\r\n",
    "bad_multibulk_length": b"*abc\r\n",
    "expected_dollar": b"*1\r\nx3\r\nabc\r\n",
    "huge_bulk_length": b"*1\r\n$999999999999\r\n",
    "huge_multibulk_length": b"*99999999999\r\n",
    "negative_bulk_length": b"*1\r\n$-5\r\n",
    "unbalanced_quotes_inline": b'set "a b\r\n',
    "too_big_inline": b"a" * 70000,
    "too_big_bulk_count_string": b"*1\r\n$" + b"1" * 70000,
    "valid_then_garbage": b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nECHO\r\n*x\r\n",
    "second_arg_bad": b"*2\r\n$3\r\nGET\r\n$\r\n",
}

# Inputs Redis accepts (or waits on); the proxy must answer the same bytes and stay connected.
ACCEPTED = {
    "inline_ping": b"PING\r\n",
    "inline_lf_only": b"PING\n",
    "inline_set_get": b"SET proto:inline hello\r\nGET proto:inline\r\n",
    "inline_quotes": b'SET proto:q "a b\\x41"\r\nGET proto:q\r\nSET proto:q2 \'c d\'\r\nGET proto:q2\r\n',
    "empty_lines_skipped": b"\r\n\r\n\nPING\r\n",
    "null_multibulk_skipped": b"*-1\r\nPING\r\n",
    "zero_multibulk_skipped": b"*0\r\nPING\r\n",
    "incomplete_command_waits": b"*1\r\n$3\r\nab",
    "incomplete_header_waits": b"*2\r\n$3\r\nGET\r\n$1",
    "mixed_pipeline": b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO there\r\n",
}


def exchange(port, data, timeout=1.0):
    with RespConn(port) as c:
        c.send_raw(data)
        return c.read_all_until_close(timeout)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_gets_protocol_error_and_close(shoal, redis_ref, name):
    data = MALFORMED[name]
    ref_bytes, ref_closed = exchange(redis_ref.port, data)
    assert ref_closed and b"-ERR Protocol error" in ref_bytes  # the reference behaves as assumed
    got_bytes, got_closed = exchange(shoal.proxy.port, data)
    assert got_bytes == ref_bytes, f"redis replied {ref_bytes!r}, shoal replied {got_bytes!r}"
    assert got_closed, "shoal kept the connection open after a protocol error"
    assert shoal.proxy.alive()


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_input_same_bytes_as_redis(shoal, redis_ref, name):
    data = ACCEPTED[name]
    ref_bytes, ref_closed = exchange(redis_ref.port, data, timeout=0.5)
    got_bytes, got_closed = exchange(shoal.proxy.port, data, timeout=0.5)
    assert not ref_closed
    assert got_bytes == ref_bytes, f"redis replied {ref_bytes!r}, shoal replied {got_bytes!r}"
    assert not got_closed, "shoal closed a connection Redis keeps open"


def test_other_clients_unaffected_by_garbage(shoal):
    r = client(shoal.proxy.port)
    assert r.set("proto:survivor", "alive") is True
    # A second client is half way through a command when the garbage arrives elsewhere.
    half = RespConn(shoal.proxy.port)
    full = RespConn.encode("SET", "proto:half", "done")
    half.send_raw(full[:9])
    for data in MALFORMED.values():
        exchange(shoal.proxy.port, data, timeout=0.3)
    half.send_raw(full[9:])
    assert half.read_reply() == Simple("OK")
    half.close()
    assert r.get("proto:survivor") == "alive"
    assert r.get("proto:half") == "done"
    assert shoal.proxy.alive()


def test_many_garbage_connections_concurrently(shoal):
    """Garbage from many connections at once, while a well-behaved client keeps working."""
    errors = []

    def spam():
        try:
            for data in list(MALFORMED.values()) * 2:
                exchange(shoal.proxy.port, data, timeout=0.5)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=spam) for _ in range(6)]
    for t in threads:
        t.start()
    r = client(shoal.proxy.port)
    for i in range(200):
        assert r.set(f"proto:conc:{i}", str(i)) is True
        assert r.get(f"proto:conc:{i}") == str(i)
    for t in threads:
        t.join()
    assert not errors, errors
    assert shoal.proxy.alive()


def test_commands_split_at_every_byte(shoal, redis_ref):
    """A pipeline trickling in one byte per segment gets the same replies as Redis."""
    data = (RespConn.encode("SET", "proto:trickle", "a\r\nb") + RespConn.encode("GET", "proto:trickle")
            + b"ECHO inline\r\n" + RespConn.encode("MGET", "proto:trickle", "proto:nokey")
            + RespConn.encode("DEL", "proto:trickle"))
    replies = []
    for port in (redis_ref.port, shoal.proxy.port):
        with RespConn(port) as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                c.send_raw(data[i:i + 1])
                time.sleep(0.001)
            replies.append([c.read_reply() for _ in range(5)])
    assert replies[1] == replies[0]


def test_large_value_in_many_reads(shoal):
    """A 4 MiB value sent in 64 KiB pieces with pauses is stored whole. Through a proxy of its own
    with a generous node timeout: writing 4 MiB to three nodes took 0.3 to 4.6 s on a loaded
    2-core machine (the module's 500 ms timeout then answered NOQUORUM), and this test is about
    reading a command in pieces, not about node latency."""
    value = bytes(range(256)) * (4 * 4096)
    data = RespConn.encode("SET", "proto:big", value)
    proxy = shoal.add_proxy(("--timeout-ms", str(int(harness.slow(10_000))), "--threads", "1"))
    with RespConn(proxy.port) as c:
        for i in range(0, len(data), 65536):
            c.send_raw(data[i:i + 65536])
            time.sleep(0.002)
        assert c.read_reply() == Simple("OK")
        assert c.call("GET", "proto:big") == value
