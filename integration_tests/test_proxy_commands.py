"""Every command of issue 3 through shoal-proxy (3 nodes, N=3, QUORUM/QUORUM), compared with a
real redis-server 7: same reply types, same values, same error wording. Commands whose behaviour
is deliberately Shoal's own (SELECT <n>, INFO, COMMAND contents; HELLO 3: test_proxy_resp3.py) are checked against
what a Redis client needs from them."""
import re
import time

import pytest

from conftest_proxy import (CONNECTION_COMMANDS, KEY_COMMANDS, client, diff,  # noqa: F401
                            redis_ref, shoal)
from harness import Err, RespConn, Simple

OK = Simple("OK")

# Each script runs on both servers, command by command; replies must match (see Differ).
SCRIPTS = {
    "ping": [("PING",), ("PING", "hello"), ("PING", ""), ("ping",), ("PiNg", "x"),
             ("PING", "a", "b")],
    "echo": [("ECHO", "hi"), ("ECHO", ""), ("ECHO", "a\r\nb\x00c"), ("ECHO",),
             ("ECHO", "a", "b")],
    "select": [("SELECT", "0"), ("SELECT", "abc"), ("SELECT",), ("SELECT", "0", "1"),
               ("SET", "{k}", "v"), ("SELECT", "0"), ("GET", "{k}")],
    "client_name": [("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "app-1"),
                    ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "has space"),
                    ("CLIENT", "SETNAME", "new\nline"), ("CLIENT", "GETNAME"),
                    ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME"),
                    ("client", "setname", "lower"), ("CLIENT", "GETNAME"), ("CLIENT",)],
    "auth_without_password": [("AUTH", "whatever"), ("AUTH", "default", "whatever"),
                              ("AUTH",), ("PING",)],
    "set_basic": [("SET", "{k}", "v1"), ("GET", "{k}"), ("SET", "{k}", "v2"), ("GET", "{k}"),
                  ("GET", "{missing}"), ("SET", "{k}", ""), ("GET", "{k}"),
                  ("sEt", "{k}", "v3"), ("gEt", "{k}"), ("SET", "", "empty-key"), ("GET", "")],
    "set_nx_xx": [("SET", "{k}", "v1", "NX"), ("SET", "{k}", "v2", "NX"), ("GET", "{k}"),
                  ("SET", "{k}", "v3", "XX"), ("GET", "{k}"), ("SET", "{k2}", "v", "XX"),
                  ("GET", "{k2}"), ("EXISTS", "{k2}"), ("set", "{k2}", "v", "nx"),
                  ("GET", "{k2}"), ("SET", "{k3}", "v", "NX", "EX", "100"), ("TTL", "{k3}"),
                  ("SET", "{k3}", "w", "XX", "PX", "200000"), ("PTTL", "{k3}"),
                  ("GET", "{k3}")],
    "set_get_option": [("SET", "{k}", "v1", "GET"), ("GET", "{k}"), ("SET", "{k}", "v2", "GET"),
                       ("GET", "{k}"), ("SET", "{k}", "v3", "NX", "GET"), ("GET", "{k}"),
                       ("SET", "{k2}", "v", "XX", "GET"), ("GET", "{k2}"),
                       ("SET", "{k}", "v4", "XX", "GET"), ("GET", "{k}"),
                       ("SET", "{k}", "v5", "GET", "EX", "100"), ("TTL", "{k}"),
                       ("SET", "{k}", "v6", "KEEPTTL", "GET"), ("TTL", "{k}"), ("GET", "{k}")],
    "set_expiry_options": [("SET", "{k}", "v", "EX", "100"), ("TTL", "{k}"), ("PTTL", "{k}"),
                           ("SET", "{k}", "v", "PX", "200000"), ("PTTL", "{k}"), ("TTL", "{k}"),
                           ("SET", "{k}", "v", "EXAT", "{now+300}"), ("TTL", "{k}"),
                           ("SET", "{k}", "v", "PXAT", "{pnow+400000}"), ("PTTL", "{k}"),
                           ("SET", "{k}", "v", "ex", "50"), ("TTL", "{k}"),
                           ("SET", "{k}", "plain"), ("TTL", "{k}"), ("GET", "{k}")],
    "set_keepttl": [("SET", "{k}", "v1", "EX", "100"), ("SET", "{k}", "v2", "KEEPTTL"),
                    ("TTL", "{k}"), ("GET", "{k}"), ("SET", "{k}", "v3", "XX", "KEEPTTL"),
                    ("TTL", "{k}"), ("GET", "{k}"), ("SET", "{k2}", "v", "KEEPTTL"),
                    ("TTL", "{k2}"), ("SET", "{k}", "v4"), ("TTL", "{k}")],
    "set_errors": [("SET", "{k}", "v", "EX", "0"), ("SET", "{k}", "v", "EX", "-1"),
                   ("SET", "{k}", "v", "PX", "0"), ("SET", "{k}", "v", "PX", "-5"),
                   ("SET", "{k}", "v", "EXAT", "0"), ("SET", "{k}", "v", "PXAT", "-1"),
                   ("SET", "{k}", "v", "EX", "99999999999999999"),
                   ("SET", "{k}", "v", "EX", "abc"), ("SET", "{k}", "v", "EX", "1.5"),
                   ("SET", "{k}", "v", "PX", "1e3"), ("SET", "{k}", "v", "EX"),
                   ("SET", "{k}", "v", "NX", "XX"), ("SET", "{k}", "v", "XX", "NX"),
                   ("SET", "{k}", "v", "EX", "10", "PX", "100"),
                   ("SET", "{k}", "v", "KEEPTTL", "EX", "10"),
                   ("SET", "{k}", "v", "PX", "10", "KEEPTTL"),
                   ("SET", "{k}", "v", "FOO"),
                   ("SET", "{k}", "v", "NX", "FOO"), ("SET", "{k}"), ("SET",),
                   ("GET", "{k}"), ("EXISTS", "{k}")],
    # Redis accepts a repeated option (the last EX wins); a rare edge case.
    "set_repeated_option": [("SET", "{k}", "v", "EX", "10", "EX", "100"), ("TTL", "{k}"),
                            ("SET", "{k2}", "v"), ("SET", "{k2}", "w", "NX", "NX"),
                            ("GET", "{k2}"), ("SET", "{k3}", "v", "XX", "XX"),
                            ("SET", "{k4}", "v", "GET", "GET")],
    "setex_psetex_setnx": [("SETEX", "{k}", "100", "v"), ("TTL", "{k}"), ("GET", "{k}"),
                           ("PSETEX", "{k}", "200000", "w"), ("PTTL", "{k}"), ("GET", "{k}"),
                           ("SETEX", "{k}", "0", "v"), ("SETEX", "{k}", "-1", "v"),
                           ("SETEX", "{k}", "abc", "v"), ("SETEX", "{k}", "100"),
                           ("PSETEX", "{k}", "0", "v"), ("PSETEX", "{k}", "x", "v"),
                           ("PSETEX", "{k}"), ("GET", "{k}"),
                           ("SETNX", "{n}", "v1"), ("SETNX", "{n}", "v2"), ("GET", "{n}"),
                           ("TTL", "{n}"), ("SETNX", "{n}"), ("SETNX", "{n}", "a", "b")],
    "getdel": [("SET", "{k}", "v"), ("GETDEL", "{k}"), ("GETDEL", "{k}"), ("EXISTS", "{k}"),
               ("GET", "{k}"), ("GETDEL", "{missing}"), ("GETDEL",), ("GETDEL", "{k}", "x")],
    "getex": [("SET", "{k}", "v"), ("GETEX", "{k}"), ("TTL", "{k}"),
              ("GETEX", "{k}", "EX", "100"), ("TTL", "{k}"),
              ("GETEX", "{k}", "PX", "200000"), ("PTTL", "{k}"),
              ("GETEX", "{k}", "EXAT", "{now+300}"), ("TTL", "{k}"),
              ("GETEX", "{k}", "PXAT", "{pnow+400000}"), ("PTTL", "{k}"),
              ("GETEX", "{k}", "PERSIST"), ("TTL", "{k}"), ("GETEX", "{k}", "persist"),
              ("GETEX", "{missing}", "EX", "100"), ("TTL", "{missing}"),
              ("GETEX", "{k}", "EX", "0"), ("GETEX", "{k}", "EX", "-1"),
              ("GETEX", "{k}", "PX", "0"), ("GETEX", "{k}", "EX", "abc"),
              ("GETEX", "{k}", "EX"), ("GETEX", "{k}", "FOO"),
              ("GETEX", "{k}", "PERSIST", "EX", "10"), ("GETEX", "{k}", "EX", "10", "PX", "10"),
              ("GETEX",), ("TTL", "{k}"), ("GET", "{k}")],
    "mset_mget": [("MSET", "{a}", "1", "{b}", "2", "{c}", "3"),
                  ("MGET", "{a}", "{b}", "{c}", "{missing}"), ("MGET", "{a}", "{a}"),
                  ("MGET", "{missing}"), ("MSET", "{a}", "10", "{a}", "11"), ("GET", "{a}"),
                  ("SET", "{b}", "v", "EX", "100"), ("MSET", "{b}", "x"), ("TTL", "{b}"),
                  ("MSET", "{a}"), ("MSET", "{a}", "1", "{b}"), ("MSET",), ("MGET",),
                  ("MGET", "{a}", "{b}", "{c}")],
    "del_unlink": [("MSET", "{a}", "1", "{b}", "2", "{c}", "3", "{d}", "4"),
                   ("DEL", "{a}", "{b}", "{missing}"), ("DEL", "{a}"), ("EXISTS", "{a}", "{b}"),
                   ("UNLINK", "{c}", "{c}"), ("DEL", "{d}", "{d}", "{d}"), ("DEL",), ("UNLINK",),
                   ("MGET", "{a}", "{b}", "{c}", "{d}"), ("SET", "{a}", "back"),
                   ("GET", "{a}"), ("UNLINK", "{a}", "{missing}"), ("GET", "{a}")],
    "exists": [("MSET", "{a}", "1", "{b}", "2"), ("EXISTS", "{a}"),
               ("EXISTS", "{a}", "{a}", "{b}", "{missing}"), ("EXISTS", "{missing}"),
               ("EXISTS", "{a}", "{a}", "{a}"), ("EXISTS",)],
    "expire_family": [("SET", "{k}", "v"), ("EXPIRE", "{k}", "100"), ("TTL", "{k}"),
                      ("EXPIRE", "{missing}", "100"), ("PEXPIRE", "{k}", "200000"),
                      ("PTTL", "{k}"), ("PEXPIRE", "{missing}", "100"),
                      ("EXPIREAT", "{k}", "{now+300}"), ("TTL", "{k}"),
                      ("EXPIREAT", "{missing}", "{now+300}"),
                      ("PEXPIREAT", "{k}", "{pnow+400000}"), ("PTTL", "{k}"),
                      ("PEXPIREAT", "{missing}", "{pnow+400000}"), ("GET", "{k}"),
                      ("EXPIRE", "{k}", "abc"), ("EXPIRE", "{k}", "1.5"), ("EXPIRE", "{k}"),
                      ("PEXPIRE", "{k}", "x"), ("EXPIREAT", "{k}", ""), ("PEXPIREAT", "{k}"),
                      ("EXPIRE",), ("TTL", "{k}")],
    "expire_in_past_deletes": [("SET", "{k}", "v"), ("EXPIRE", "{k}", "0"), ("EXISTS", "{k}"),
                               ("SET", "{k}", "v"), ("EXPIRE", "{k}", "-5"), ("GET", "{k}"),
                               ("SET", "{k}", "v"), ("PEXPIRE", "{k}", "0"), ("GET", "{k}"),
                               ("SET", "{k}", "v"), ("EXPIREAT", "{k}", "1"), ("GET", "{k}"),
                               ("SET", "{k}", "v"), ("PEXPIREAT", "{k}", "{pnow-5000}"),
                               ("GET", "{k}"), ("TTL", "{k}"), ("EXPIRE", "{k}", "-5")],
    "persist_ttl": [("TTL", "{missing}"), ("PTTL", "{missing}"), ("SET", "{k}", "v"),
                    ("TTL", "{k}"), ("PTTL", "{k}"), ("PERSIST", "{k}"),
                    ("EXPIRE", "{k}", "100"), ("PERSIST", "{k}"), ("TTL", "{k}"),
                    ("PERSIST", "{k}"), ("PERSIST", "{missing}"), ("GET", "{k}"), ("PERSIST",),
                    ("TTL",), ("PTTL", "{k}", "x")],
    "touch": [("MSET", "{a}", "1", "{b}", "2"), ("TOUCH", "{a}", "{b}", "{missing}"),
              ("TOUCH", "{a}", "{a}"), ("TOUCH", "{missing}"), ("TOUCH",), ("GET", "{a}")],
    "binary_safe": [("SET", "{k}", "a\r\nb\x00c\xff"), ("GET", "{k}"),
                    ("SET", "{k}\r\n\x00", "v"), ("GET", "{k}\r\n\x00"),
                    ("MGET", "{k}", "{k}\r\n\x00"), ("SET", "{big}", "x" * (1 << 20)),
                    ("GET", "{big}"), ("SET", "{k}", "€ünïcödé"), ("GET", "{k}")],
    "unknown_command": [("foo", "a", "b"), ("FOO",), ("foo", "x" * 200, "y"),
                        ("nosuchcmd", "k", "v", "w"), ("PING",)],
    "wrong_arity": [("GET",), ("GET", "a", "b"), ("SET", "a"), ("SETEX", "a", "1"),
                    ("PSETEX", "a"), ("SETNX", "a"), ("GETDEL",), ("GETEX",), ("MGET",),
                    ("MSET", "a"), ("MSET", "a", "1", "b"), ("DEL",), ("UNLINK",), ("EXISTS",),
                    ("EXPIRE", "a"), ("PEXPIRE", "a"), ("EXPIREAT", "a"), ("PEXPIREAT", "a"),
                    ("PERSIST",), ("TTL",), ("PTTL",), ("TOUCH",), ("ECHO",), ("PING", "a", "b"),
                    ("SELECT",), ("get",), ("Get", "a", "b"), ("PING",)],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_replies_as_redis(diff, name):
    diff.run(SCRIPTS[name])


def test_redis_reference_says_what_the_spec_says(redis_ref):
    """Guards the reference itself: the wordings this suite relies on come from Redis 7."""
    with RespConn(redis_ref.port) as r:
        assert r.call("GET") == Err("ERR wrong number of arguments for 'get' command")
        assert r.call("foo", "a") == Err(
            "ERR unknown command 'foo', with args beginning with: 'a' ")
        assert r.call("SET", "k", "v", "NX", "XX") == Err("ERR syntax error")
        assert r.call("SET", "k", "v", "EX", "0") == Err(
            "ERR invalid expire time in 'set' command")
        assert r.call("EXPIRE", "k", "x") == Err("ERR value is not an integer or out of range")


# EXPIRE's NX|XX|GT|LT options (Redis 7.0). The issue lists EXPIRE without options, so Shoal may
# refuse them; if it does, the refusal must be an error that changes nothing. If it accepts any,
# it must behave exactly as Redis.
EXPIRE_OPTIONS = [("SET", "{k}", "v"), ("EXPIRE", "{k}", "100", "XX"), ("TTL", "{k}"),
                  ("EXPIRE", "{k}", "100", "NX"), ("EXPIRE", "{k}", "200", "NX"),
                  ("TTL", "{k}"), ("EXPIRE", "{k}", "50", "GT"), ("EXPIRE", "{k}", "200", "GT"),
                  ("TTL", "{k}"), ("EXPIRE", "{k}", "300", "LT"), ("EXPIRE", "{k}", "50", "LT"),
                  ("TTL", "{k}"), ("EXPIRE", "{k}", "70", "XX"), ("TTL", "{k}"),
                  ("PEXPIRE", "{k}", "90000", "gt"), ("PTTL", "{k}"),
                  ("EXPIREAT", "{k}", "{now+10}", "GT"), ("TTL", "{k}"),
                  ("PEXPIREAT", "{k}", "{pnow+10000}", "LT"), ("PTTL", "{k}"),
                  ("EXPIRE", "{k}", "10", "NX", "XX"), ("EXPIRE", "{k}", "10", "GT", "LT"),
                  ("EXPIRE", "{k}", "10", "FOO"), ("PERSIST", "{k}"),
                  ("EXPIRE", "{k}", "100", "GT"), ("EXPIRE", "{k}", "100", "LT"),
                  ("TTL", "{k}")]


def test_expire_options_nx_xx_gt_lt(diff):
    diff.same("SET", "{probe}", "v")
    _, dut = diff.both("EXPIRE", "{probe}", "100", "NX")
    if isinstance(dut, Err):
        # Refused: every option form is refused the same way, with no effect on the key.
        for cmd in (("EXPIRE", "{probe}", "100", "XX"), ("EXPIRE", "{probe}", "100", "GT"),
                    ("PEXPIRE", "{probe}", "100000", "LT"),
                    ("EXPIREAT", "{probe}", "{now+100}", "NX"),
                    ("PEXPIREAT", "{probe}", "{pnow+100000}", "XX")):
            reply = diff.dut.call(*[diff.subst(a) for a in cmd])
            assert isinstance(reply, Err) and reply.startswith("ERR"), (cmd, reply)
        assert diff.dut.call("TTL", diff.key("probe")) == -1, "a refused EXPIRE option set a TTL"
        assert diff.dut.call("EXPIRE", diff.key("probe"), "100") == 1  # the basic form works
        return
    diff.run(EXPIRE_OPTIONS)


def test_keys_really_expire(diff):
    """Expiry takes effect: after the time passes the key is gone for every command."""
    diff.run([("SET", "{a}", "v", "PX", "300"), ("SETEX", "{b}", "1", "v"),
              ("PSETEX", "{c}", "300", "v"), ("SET", "{d}", "v"), ("PEXPIRE", "{d}", "300"),
              ("SET", "{e}", "v"), ("GETEX", "{e}", "PX", "300"),
              ("SET", "{f}", "v", "PXAT", "{pnow+400}"), ("SET", "{keep}", "v", "PX", "300"),
              ("PERSIST", "{keep}"), ("GET", "{a}"), ("EXISTS", "{a}", "{c}", "{d}", "{e}"),
              ("SLEEP", 1.2),
              ("GET", "{a}"), ("GET", "{b}"), ("MGET", "{c}", "{d}", "{e}", "{f}", "{keep}"),
              ("EXISTS", "{a}", "{b}", "{c}", "{d}", "{e}", "{f}", "{keep}"),
              ("TTL", "{a}"), ("PTTL", "{d}"), ("TOUCH", "{a}", "{keep}"),
              ("DEL", "{a}", "{b}", "{keep}"), ("PERSIST", "{c}"), ("EXPIRE", "{e}", "100"),
              ("GETDEL", "{f}"), ("SET", "{a}", "again", "NX"), ("GET", "{a}"),
              ("SET", "{b}", "x", "XX"), ("GET", "{b}")])


# ---- connection commands that cannot be compared byte for byte --------------------------------

def test_quit_replies_ok_and_closes(shoal, redis_ref):
    for port in (redis_ref.port, shoal.proxy.port):
        with RespConn(port) as c:
            key = f"quit-{time.time_ns()}"
            # Commands pipelined behind QUIT are not executed.
            c.send_raw(RespConn.encode("QUIT") + RespConn.encode("SET", key, "v"))
            assert c.read_reply() == OK, port
            assert c.is_closed(timeout=2.0), f"port {port} kept the connection open after QUIT"
        with RespConn(port) as c:
            assert c.call("GET", key) is None, f"port {port} ran a command sent after QUIT"


def test_hello_2_is_redis_map_as_array(shoal, redis_ref):
    with RespConn(redis_ref.port) as r, RespConn(shoal.proxy.port) as s:
        ref = r.call("HELLO", "2")
        got = s.call("HELLO", "2")
        assert isinstance(got, list) and len(got) % 2 == 0, got
        ref_map, got_map = dict(zip(ref[::2], ref[1::2])), dict(zip(got[::2], got[1::2]))
        assert list(got_map) == list(ref_map), f"HELLO keys: redis {list(ref_map)}, shoal {got}"
        assert got_map[b"proto"] == 2
        assert got_map[b"id"] == s.call("CLIENT", "ID"), "HELLO id is not this client's CLIENT ID"
        assert re.fullmatch(rb"\d+\.\d+\.\d+", got_map[b"version"]), got_map[b"version"]
        assert got_map[b"mode"] == ref_map[b"mode"] and got_map[b"role"] == ref_map[b"role"]
        assert isinstance(got_map[b"modules"], list)
        # HELLO without a version answers the same map; HELLO 2 SETNAME names the client.
        assert isinstance(s.call("HELLO"), list)
        assert isinstance(s.call("HELLO", "2", "SETNAME", "via-hello"), list)
        assert s.call("CLIENT", "GETNAME") == b"via-hello"
        # Malformed HELLO: same errors as Redis.
        for args in (("HELLO", "abc"), ("HELLO", "2", "BOGUS"), ("HELLO", "4")):
            assert s.call(*args) == r.call(*args), args
        assert s.call("PING") == Simple("PONG")


def test_expiretime_function_flush_like_redis(diff):
    """What Redis's own suites need (scripts/redis-suites.sh): every test group starts with
    FUNCTION FLUSH (Shoal runs no functions: it answers as Redis with none loaded); EXPIRETIME
    and PEXPIRETIME (Redis 7.0) answer the absolute deadline the replicas store."""
    diff.run([
        ("FUNCTION", "FLUSH"), ("FUNCTION", "FLUSH", "ASYNC"), ("FUNCTION", "FLUSH", "sync"),
        ("FUNCTION", "FLUSH", "bogus"), ("FUNCTION", "FLUSH", "a", "b"), ("FUNCTION",),
        ("FUNCTION", "LIST"), ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "x*"),
        ("FUNCTION", "LIST", "LIBRARYNAME"), ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
        ("FUNCTION", "NOSUCH"),
        ("EXPIRETIME", "{e}"), ("PEXPIRETIME", "{e}"), ("SET", "{e}", "v"),
        ("EXPIRETIME", "{e}"), ("PEXPIRETIME", "{e}"),
        ("PEXPIREAT", "{e}", "{pnow+100000}"), ("PEXPIRETIME", "{e}"),
        ("EXPIREAT", "{e}", "{now+100}"), ("EXPIRETIME", "{e}"), ("PEXPIRETIME", "{e}"),
        ("SET", "{e}", "v", "PXAT", "{pnow+100499}"), ("EXPIRETIME", "{e}"),
        ("SET", "{e}", "v", "PXAT", "{pnow+100500}"), ("EXPIRETIME", "{e}"),
        ("EXPIRETIME",), ("PEXPIRETIME", "{e}", "x"), ("TIME", "x"),
    ])
    with RespConn(diff.dut.sock.getpeername()[1]) as s:
        # FUNCTION LOAD is refused: there is nothing to run functions with.
        reply = s.call("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', f)")
        assert isinstance(reply, Err) and "not supported" in reply, reply
        sec, usec = s.call("TIME")
        assert abs(int(sec) - time.time()) < 5 and 0 <= int(usec) < 1_000_000


def test_select_other_database_is_an_error(shoal):
    with RespConn(shoal.proxy.port) as s:
        assert s.call("SET", "select-key", "db0") == OK
        for db in ("1", "15"):
            reply = s.call("SELECT", db)
            assert isinstance(reply, Err) and reply.startswith("ERR"), reply
        # the failed SELECT left the connection on database 0 and open
        assert s.call("GET", "select-key") == b"db0"
        assert s.call("SELECT", "0") == OK


def test_client_setinfo_and_id(shoal):
    with RespConn(shoal.proxy.port) as s, RespConn(shoal.proxy.port) as s2:
        # What redis-py 5 and other clients send on connect (Redis 7.2).
        assert s.call("CLIENT", "SETINFO", "lib-name", "redis-py") == OK
        assert s.call("CLIENT", "SETINFO", "lib-ver", "5.0.1") == OK
        first = s.call("CLIENT", "ID")
        assert isinstance(first, int) and first > 0
        assert s.call("CLIENT", "ID") == first
        other = s2.call("CLIENT", "ID")
        assert isinstance(other, int) and other != first


def test_client_ids_unique_across_many_connections(shoal):
    conns = [RespConn(shoal.proxy.port) for _ in range(24)]  # spread over the worker threads
    try:
        ids = [c.call("CLIENT", "ID") for c in conns]
    finally:
        for c in conns:
            c.close()
    assert all(isinstance(i, int) for i in ids), ids
    assert len(set(ids)) == len(ids), f"duplicate CLIENT IDs: {ids}"


def test_info_passes_client_ready_checks(shoal):
    with RespConn(shoal.proxy.port) as s:
        raw = s.call("INFO")
        assert isinstance(raw, bytes), f"INFO must be a bulk string, got {raw!r}"
        lines = raw.split(b"\r\n")
        assert any(re.fullmatch(rb"redis_version:\d+\.\d+\.\d+", l) for l in lines), raw[:500]
        assert b"loading:0" in lines, raw[:500]
        server = s.call("INFO", "server")
        assert isinstance(server, bytes) and b"redis_version:" in server
    info = client(shoal.proxy.port).info()  # redis-py's own INFO parser
    assert info["loading"] == 0 and "redis_version" in info


def _command_table(port):
    with RespConn(port) as c:
        table = c.call("COMMAND")
        count = c.call("COMMAND", "COUNT")
    assert isinstance(table, list), table
    return {entry[0].decode().lower(): entry for entry in table}, count, len(table)


def test_command_and_command_count(shoal, redis_ref):
    ref, _, _ = _command_table(redis_ref.port)
    got, count, n = _command_table(shoal.proxy.port)
    assert count == n, f"COMMAND COUNT {count} but COMMAND lists {n}"
    missing = [c for c in CONNECTION_COMMANDS + KEY_COMMANDS if c not in got]
    assert not missing, f"COMMAND lacks {missing}"
    for name in CONNECTION_COMMANDS + KEY_COMMANDS:
        # name, arity, flags, first key, last key, step: clients route and validate with these.
        ref_e, got_e = ref[name], got[name]
        assert [got_e[1], got_e[3], got_e[4], got_e[5]] == [ref_e[1], ref_e[3], ref_e[4],
                                                            ref_e[5]], (
            f"COMMAND {name}: redis arity/first/last/step "
            f"{[ref_e[1], ref_e[3], ref_e[4], ref_e[5]]}, shoal {got_e[1:6]}")
    # Commands Shoal does not serve should not be advertised.
    assert "zadd" not in got and "lpush" not in got


def test_command_docs(shoal):
    with RespConn(shoal.proxy.port) as s:
        docs = s.call("COMMAND", "DOCS")
        assert isinstance(docs, list) and len(docs) % 2 == 0 and docs, docs
        names = {n.decode().lower() for n in docs[::2]}
        assert {"get", "set"} <= names, names
        one = s.call("COMMAND", "DOCS", "get")
        assert isinstance(one, list) and len(one) == 2 and one[0].lower() == b"get", one
        assert isinstance(one[1], list) and len(one[1]) % 2 == 0, one
        assert s.call("PING") == Simple("PONG")


def test_commands_shoal_does_not_serve_are_unknown(shoal):
    """The issue: any other command gets Redis's unknown-command error, connection stays open."""
    with RespConn(shoal.proxy.port) as s:
        assert s.call("ZADD", "z", "1", "m") == Err(
            "ERR unknown command 'ZADD', with args beginning with: 'z' '1' 'm' ")
        assert s.call("lpush", "l", "v") == Err(
            "ERR unknown command 'lpush', with args beginning with: 'l' 'v' ")
        assert s.call("LRANGE") == Err(
            "ERR unknown command 'LRANGE', with args beginning with: ")
        assert s.call("PING") == Simple("PONG")


def test_redis_py_client_roundtrip(shoal):
    r = client(shoal.proxy.port)
    assert r.ping() is True
    assert r.set("pyk", "v", ex=100) is True
    assert r.get("pyk") == "v" and 99 <= r.ttl("pyk") <= 100
    assert r.set("pyk", "w", nx=True) is None
    assert r.set("pyk", "w", xx=True, get=True) == "v"
    assert r.getex("pyk", persist=True) == "w" and r.ttl("pyk") == -1
    assert r.mset({"pya": "1", "pyb": "2"}) is True
    assert r.mget("pya", "pyb", "pyzz") == ["1", "2", None]
    assert r.exists("pya", "pyb", "pyzz") == 2
    assert r.delete("pya", "pyb", "pyzz") == 2
    assert r.getdel("pyk") == "w" and r.get("pyk") is None
    assert r.client_setname("py") is True and r.client_getname() == "py"
    assert r.echo("e") == "e"


def test_config_get_answers_only_what_shoal_honours_and_set_is_refused(diff):
    """CONFIG GET: none of Redis's parameters is Shoal's, so every one answers an empty list (as
    Redis does for a name it does not have), never a value Shoal would not honour; CONFIG SET is
    refused with a reason; wrong arities and unknown subcommands as Redis 7.0."""
    diff.run([
        ("CONFIG", "GET", "no-such-parameter"),
        ("CONFIG", "GET"),
        ("CONFIG", "FOO"),
        ("CONFIG",),
        ("CONFIG", "SET", "maxmemory"),
    ])
    dut = diff.dut
    assert dut.call("CONFIG", "GET", "hash-max-ziplist-value") == []
    assert dut.call("CONFIG", "GET", "*") == []
    reply = dut.call("CONFIG", "SET", "set-max-intset-entries", "1")
    assert reply == Err("ERR CONFIG SET is not supported by Shoal: shoal-proxy and shoal-node "
                        "take their settings from flags and YAML files (SIGHUP reloads them)")
    assert dut.call("CONFIG", "RESETSTAT").startswith("ERR CONFIG RESETSTAT is not supported")


def test_object_encoding_names_how_shoal_holds_the_value(diff):
    """OBJECT ENCODING: Shoal's own encodings (docs/data-model.md): a string is "raw" (the bytes
    as written), a counter "pncounter", a hash or set "elements" (per-element versions); a missing
    key nil and the errors as Redis 7.0; the other subcommands are refused."""
    diff.run([
        ("OBJECT", "ENCODING", "{missing}"),
        ("OBJECT", "ENCODING"),
        ("OBJECT", "FOO", "{k}"),
        ("OBJECT",),
    ])
    dut = diff.dut
    for cmd in (("SET", "{s}", "v"), ("INCR", "{n}"), ("HSET", "{h}", "f", "1"), ("SADD", "{t}", "m")):
        dut.call(*[diff.subst(a) for a in cmd])
    enc = lambda name: dut.call("OBJECT", "ENCODING", diff.key(name))  # noqa: E731
    assert (enc("s"), enc("n"), enc("h"), enc("t")) == (b"raw", b"pncounter", b"elements",
                                                         b"elements")
    dut.call("HDEL", diff.key("h"), "f")
    assert enc("h") is None  # an emptied hash is no key
    assert dut.call("OBJECT", "FREQ", diff.key("s")) == Err(
        "ERR OBJECT FREQ is not supported by Shoal (only OBJECT ENCODING)")
