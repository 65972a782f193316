"""Pipelining and bulk commands through the proxy: thousands of commands in flight, replies in
order, multi-key commands split per key and reassembled, a client that sends faster than it
reads (backpressure must pause it, not deadlock or drop)."""
import threading

from conftest_proxy import client, shoal  # noqa: F401
from harness import Err, RespConn, Simple


def test_pipeline_5000_set_then_5000_get(shoal):
    r = client(shoal.proxy.port)
    pipe = r.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"pl:{i}", f"value-{i}")
    assert pipe.execute() == [True] * 5000
    pipe = r.pipeline(transaction=False)
    for i in range(5000):
        pipe.get(f"pl:{i}")
    assert pipe.execute() == [f"value-{i}" for i in range(5000)]


def test_pipeline_mixed_commands_in_order_with_errors(shoal):
    r = client(shoal.proxy.port)
    pipe = r.pipeline(transaction=False)
    expected = []
    for i in range(1000):
        key = f"plm:{i}"
        pipe.set(key, i, ex=1000)
        expected.append(True)
        pipe.execute_command("GET")  # wrong arity in the middle: only its own reply is an error
        expected.append("arity")
        pipe.get(key)
        expected.append(str(i))
        pipe.exists(key, key, f"plm:none:{i}")
        expected.append(2)
        pipe.echo(f"e{i}")
        expected.append(f"e{i}")
        pipe.delete(key)
        expected.append(1)
        pipe.get(key)
        expected.append(None)
    got = pipe.execute(raise_on_error=False)
    assert len(got) == len(expected)
    for n, (g, e) in enumerate(zip(got, expected)):
        if e == "arity":
            assert "wrong number of arguments for 'get' command" in str(g), (n, g)
        else:
            assert g == e, f"reply {n}: expected {e!r}, got {g!r}"


def test_mset_mget_1000_keys(shoal):
    r = client(shoal.proxy.port)
    mapping = {f"bulk:{i}": f"v{i}-" + "x" * (i % 50) for i in range(1000)}
    assert r.mset(mapping) is True
    keys = list(mapping)
    assert r.mget(keys) == [mapping[k] for k in keys]
    # Order is the request's, not the ring's; missing keys are nil in place.
    mixed = [k for pair in zip(keys[::-1], (f"bulk:none:{i}" for i in range(1000))) for k in pair]
    assert r.mget(mixed) == [mapping.get(k) for k in mixed]
    assert r.exists(*keys) == 1000
    assert r.touch(*keys) == 1000
    assert r.delete(*keys[:500], *(f"bulk:none:{i}" for i in range(10))) == 500
    assert r.unlink(*keys) == 500
    assert r.mget(keys[:10]) == [None] * 10


def test_raw_flood_while_reading(shoal):
    """20000 commands written as fast as possible while replies are read concurrently."""
    n = 20000
    with RespConn(shoal.proxy.port, timeout=30) as c:
        payload = b"".join(RespConn.encode("SET", f"flood:{i}", str(i)) +
                           RespConn.encode("GET", f"flood:{i}") for i in range(n))
        writer = threading.Thread(target=c.send_raw, args=(payload,))
        writer.start()
        for i in range(n):
            assert c.read_reply() == Simple("OK"), i
            assert c.read_reply() == str(i).encode(), i
        writer.join()


def test_big_values_pipelined_with_backpressure(shoal):
    """32 MiB of SETs in one pipeline on a healthy cluster: the proxy may pause the client but
    must not deadlock, drop or reorder. Its node timeout is generous (5 s) because this checks
    backpressure, not node latency: on a loaded 2-core machine 96 MiB of replica writes queued at
    once can exceed the default 1 s and get the (healthy) nodes declared down."""
    proxy = shoal.add_proxy(["--timeout-ms", "5000"])
    value = b"v" * (1 << 20)
    n = 32
    with RespConn(proxy.port, timeout=60) as c:
        payload = b"".join(RespConn.encode("SET", f"bigpl:{i}", value) for i in range(n))
        writer = threading.Thread(target=c.send_raw, args=(payload,))
        writer.start()
        replies = [c.read_reply() for _ in range(n)]
        writer.join()
        assert replies == [Simple("OK")] * n
        assert c.call("GET", f"bigpl:{n - 1}") == value
        assert isinstance(c.call("DEL", *(f"bigpl:{i}" for i in range(n))), int)


def test_many_clients_concurrently(shoal):
    """16 connections (spread over the worker threads), each with its own keys."""
    errors = []

    def work(t):
        try:
            r = client(shoal.proxy.port)
            for i in range(150):
                key = f"conc:{t}:{i}"
                assert r.set(key, f"{t}-{i}") is True
                assert r.get(key) == f"{t}-{i}"
            pipe = r.pipeline(transaction=False)
            for i in range(150):
                pipe.get(f"conc:{t}:{i}")
            assert pipe.execute() == [f"{t}-{i}" for i in range(150)]
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {t}: {e!r}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_pipeline_after_error_keeps_connection(shoal):
    with RespConn(shoal.proxy.port) as c:
        c.send_raw(RespConn.encode("nosuch", "x") + RespConn.encode("SET", "ple:k", "v") +
                   RespConn.encode("GET", "ple:k"))
        assert c.read_reply() == Err("ERR unknown command 'nosuch', with args beginning with: 'x' ")
        assert c.read_reply() == Simple("OK")
        assert c.read_reply() == b"v"
