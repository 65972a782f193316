"""RESP3 (HELLO 3) through shoal-proxy (3 nodes, N=3, QUORUM/QUORUM), compared with a real
redis-server 7.0 speaking RESP3 on the same commands: the same reply types byte for byte (a
RESP3 null is "_", not "$-1"; LCS IDX a map; COMMAND INFO's flags sets; INFO a verbatim string),
the same HELLO errors. Debian's redis-py (4.3) cannot speak RESP3 (protocol=3 came with redis-py
5), so these tests use the raw client of harness.py, which keeps RESP3's types apart, and
redis-cli -3 as a real client."""
import subprocess

import pytest

from conftest_proxy import Differ, redis_ref, shoal  # noqa: F401
from harness import NULL3, Map, RespConn, Set3, Simple, Verbatim


def hello3(conn):
    reply = conn.call("HELLO", "3")
    assert isinstance(reply, Map), reply
    return reply.dict()


@pytest.fixture
def diff3(shoal, redis_ref):
    d = Differ(redis_ref.port, shoal.proxy.port)
    hello3(d.ref)
    hello3(d.dut)
    yield d
    d.close()


def test_hello_3_answers_a_map_and_switches_the_connection(shoal, redis_ref):
    with RespConn(redis_ref.port) as r, RespConn(shoal.proxy.port) as s:
        ref, got = r.call("HELLO", "3"), s.call("HELLO", "3")
        assert isinstance(got, Map), got
        assert [k for k, _ in got] == [k for k, _ in ref], (got, ref)
        fields = got.dict()
        assert fields[b"proto"] == 3
        assert fields[b"id"] == s.call("CLIENT", "ID")
        assert fields[b"mode"] == b"standalone" and fields[b"role"] == b"master"
        assert type(fields[b"modules"]) is type(ref.dict()[b"modules"])
        # Now RESP3: a missing key is "_"; HELLO without a version keeps RESP3.
        assert s.call("GET", "resp3:none") is NULL3
        assert hello3(s)[b"proto"] == 3
        # HELLO 2 goes back: the reply is an array again, and nulls are "$-1".
        back = s.call("HELLO", "2")
        assert isinstance(back, list) and type(back) is list, back
        assert dict(zip(back[::2], back[1::2]))[b"proto"] == 2
        assert s.call("GET", "resp3:none") is None


def test_hello_errors_match_redis(shoal, redis_ref):
    d = Differ(redis_ref.port, shoal.proxy.port)
    try:
        d.run([("HELLO", "1"), ("HELLO", "4"), ("HELLO", "-3"), ("HELLO", "abc"),
               ("HELLO", "99999999999999999999"), ("HELLO", "3", "BOGUS"),
               ("HELLO", "3", "AUTH", "default"), ("HELLO", "3", "SETNAME"),
               ("HELLO", "3", "SETNAME", "a b"), ("HELLO", "2", "SETNAME", "ok", "BOGUS"),
               # every error above left the connection in RESP2
               ("GET", "{none}"), ("CLIENT", "GETNAME")])
    finally:
        d.close()


def test_reply_types_in_resp3_match_redis(diff3):
    diff3.run([
        ("GET", "{a}"), ("SET", "{a}", "v"), ("SET", "{a}", "w", "NX"), ("SET", "{a}", "x", "GET"),
        ("SET", "{b}", "y", "XX", "GET"), ("SET", "{b}", "y", "XX"), ("GET", "{a}"),
        ("MGET", "{a}", "{b}", "{c}"), ("GETDEL", "{b}"), ("GETEX", "{b}", "EX", "10"),
        ("GETSET", "{b}", "z"), ("GETSET", "{b}", "zz"), ("TTL", "{a}"), ("TTL", "{none}"),
        ("EXISTS", "{a}", "{c}"), ("TYPE", "{a}"), ("TYPE", "{none}"), ("STRLEN", "{a}"),
        ("GETRANGE", "{a}", "0", "-1"), ("APPEND", "{a}", "yz"), ("SETNX", "{a}", "q"),
        ("SET", "{l1}", "ohmytext"), ("SET", "{l2}", "mynewtext"),
        ("LCS", "{l1}", "{l2}"), ("LCS", "{l1}", "{l2}", "LEN"), ("LCS", "{l1}", "{l2}", "IDX"),
        ("LCS", "{l1}", "{l2}", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
        ("KEYS", "{l1}"), ("KEYS", "{none}*"), ("COMMAND", "INFO", "nosuchcommand"),
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "n3"), ("CLIENT", "GETNAME"),
        ("DEL", "{a}", "{b}", "{none}"), ("GET", "{a}"), ("ECHO", "x"), ("PING",),
        ("PING", "y"), ("SELECT", "0"), ("GET",), ("NOSUCHCMD", "x"),
    ])


def test_pipelined_hello_3_changes_only_later_replies(shoal):
    """A GET waits for the nodes while the HELLO behind it is answered at once: the GET's reply
    is still written in the protocol it was sent in."""
    with RespConn(shoal.proxy.port) as s:
        s.send_raw(RespConn.encode("GET", "resp3:pipe") + RespConn.encode("HELLO", "3") +
                   RespConn.encode("GET", "resp3:pipe") + RespConn.encode("HELLO", "2") +
                   RespConn.encode("MGET", "resp3:pipe", "resp3:pipe2"))
        assert s.read_reply() is None
        assert isinstance(s.read_reply(), Map)
        assert s.read_reply() is NULL3
        assert type(s.read_reply()) is list
        assert s.read_reply() == [None, None]


def test_command_info_docs_info_in_resp3(shoal, redis_ref):
    with RespConn(redis_ref.port) as r, RespConn(shoal.proxy.port) as s:
        hello3(r)
        hello3(s)
        ref, got = r.call("COMMAND", "INFO", "get"), s.call("COMMAND", "INFO", "get")
        assert [type(x) for x in got[0]] == [type(x) for x in ref[0]], (got, ref)
        assert isinstance(got[0][2], Set3) and Simple("readonly") in got[0][2]
        ref, got = r.call("COMMAND", "DOCS", "get"), s.call("COMMAND", "DOCS", "get")
        assert isinstance(got, Map) and [k for k, _ in got] == [b"get"], got
        assert isinstance(got[0][1], Map) and isinstance(ref[0][1], Map)
        assert got[0][1].dict()[b"group"] == ref[0][1].dict()[b"group"]
        assert s.call("COMMAND", "DOCS", "nosuchcommand") == r.call("COMMAND", "DOCS", "nosuch")
        everything = s.call("COMMAND", "DOCS")
        assert isinstance(everything, Map) and len(everything) == s.call("COMMAND", "COUNT")
        for name in ("INFO",):
            ref, got = r.call(name), s.call(name)
            assert isinstance(got, Verbatim) and got.format == ref.format == "txt", got[:80]
            assert b"redis_version:" in got
        got = s.call("CLIENT", "INFO")
        assert isinstance(got, Verbatim) and b" resp=3" in got, got
        assert isinstance(r.call("CLIENT", "INFO"), Verbatim)


def test_keyspace_commands_in_resp3(shoal, redis_ref):
    """RANDOMKEY of an empty keyspace is a RESP3 null; SCAN and KEYS stay arrays. (This module's
    cluster is its own: FLUSHALL here disturbs no other module.)"""
    d = Differ(redis_ref.port, shoal.proxy.port)
    try:
        hello3(d.ref)
        hello3(d.dut)
        d.run([("FLUSHALL",), ("RANDOMKEY",), ("DBSIZE",), ("KEYS", "*"), ("SCAN", "0"),
               ("SET", "{k}", "v"), ("RANDOMKEY",), ("SCAN", "0", "MATCH", "{k}"),
               ("FLUSHALL",), ("RANDOMKEY",)])
    finally:
        d.close()


def test_redis_cli_dash_3_prints_what_it_prints_for_redis(shoal, redis_ref):
    """redis-cli -3: a real RESP3 client renders Shoal's replies as it renders Redis's."""

    def cli(port, *args):
        res = subprocess.run(["redis-cli", "-3", "--no-raw", "-p", str(port), *args],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, res.stderr
        return res.stdout

    for port in (redis_ref.port, shoal.proxy.port):
        cli(port, "set", "resp3:cli1", "ohmytext")
        cli(port, "set", "resp3:cli2", "mynewtext")
    for args in (("get", "resp3:cli1"), ("get", "resp3:cli-none"),
                 ("mget", "resp3:cli1", "resp3:cli-none"),
                 ("lcs", "resp3:cli1", "resp3:cli2", "idx", "withmatchlen"),
                 ("set", "resp3:cli1", "x", "nx"), ("ttl", "resp3:cli1"), ("hello", "4")):
        assert cli(shoal.proxy.port, *args) == cli(redis_ref.port, *args), args
