"""How applications reach the proxy: TCP and a Unix socket at the same time, redis-cli, and
AUTH with --requirepass (compared with a redis-server that has the same password)."""
import subprocess

import pytest
import redis

import harness
from conftest_proxy import Differ, client, short_tmp_dir, shoal  # noqa: F401
from harness import Err, RespConn, Simple

PASSWORD = "s3cret-pass"
OK = Simple("OK")


@pytest.fixture(scope="module")
def unix_proxy(shoal):
    sock = short_tmp_dir() / "shoal.sock"
    proxy = shoal.add_proxy(["--unix", str(sock), "--timeout-ms", "500"])
    harness.wait_until(sock.exists, timeout=5)
    return proxy, sock


@pytest.fixture(scope="module")
def auth_proxy(shoal):
    return shoal.add_proxy(["--requirepass", PASSWORD, "--timeout-ms", "500"])


@pytest.fixture(scope="module")
def auth_redis(tmp_path_factory):
    proc = harness.start_redis(tmp_path_factory.mktemp("redis-auth"),
                               extra=["--requirepass", PASSWORD])
    yield proc
    proc.stop()


@pytest.fixture
def auth_diff(auth_redis, auth_proxy):
    d = Differ(auth_redis.port, auth_proxy.port)
    yield d
    d.close()


# ---- Unix socket -----------------------------------------------------------------------------

def test_unix_socket_and_tcp_at_once(unix_proxy):
    proxy, sock = unix_proxy
    assert sock.is_socket(), f"--unix {sock} did not create a socket"
    via_unix = redis.Redis(unix_socket_path=str(sock), decode_responses=True, socket_timeout=10)
    via_tcp = client(proxy.port)
    assert via_unix.ping() is True
    assert via_unix.set("fe:unix", "from-unix") is True
    assert via_tcp.get("fe:unix") == "from-unix"
    assert via_tcp.set("fe:tcp", "from-tcp", ex=100) is True
    assert via_unix.get("fe:tcp") == "from-tcp"
    assert 99 <= via_unix.ttl("fe:tcp") <= 100
    pipe = via_unix.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"fe:u:{i}", i)
    assert pipe.execute() == [True] * 500
    assert via_tcp.mget([f"fe:u:{i}" for i in range(500)]) == [str(i) for i in range(500)]


def test_unix_socket_raw_and_errors(unix_proxy):
    _, sock = unix_proxy
    with RespConn(unix_path=sock) as c:
        assert c.call("PING") == Simple("PONG")
        assert c.call("GET") == Err("ERR wrong number of arguments for 'get' command")
        c.send_raw(b"*2\r\n$abc\r\n")
        data, closed = c.read_all_until_close(2.0)
        assert data.startswith(b"-ERR Protocol error") and closed, (data, closed)
    with RespConn(unix_path=sock) as c:  # the socket still serves
        assert c.call("ECHO", "still") == b"still"


def test_redis_cli_tcp_and_unix(unix_proxy):
    proxy, sock = unix_proxy

    def cli(*args):
        res = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, res.stderr
        return res.stdout.removesuffix("\n")

    assert cli("-p", str(proxy.port), "set", "fe:cli", "b") == "OK"
    assert cli("-p", str(proxy.port), "get", "fe:cli") == "b"
    assert cli("-s", str(sock), "get", "fe:cli") == "b"
    assert cli("-s", str(sock), "ping") == "PONG"
    assert cli("-p", str(proxy.port), "ttl", "fe:cli") == "-1"
    assert cli("-p", str(proxy.port), "mget", "fe:cli", "fe:nokey") == "b\n"
    assert cli("-p", str(proxy.port), "del", "fe:cli") == "1"
    assert cli("-p", str(proxy.port), "get", "fe:cli") == ""
    # redis-cli fetches COMMAND DOCS for hints in interactive mode; in batch mode it must work
    # from stdin too.
    res = subprocess.run(["redis-cli", "-p", str(proxy.port)], input="set fe:stdin x\nget fe:stdin\n",
                         capture_output=True, text=True, timeout=10)
    assert res.stdout.split() == ["OK", "x"], res


# ---- AUTH ------------------------------------------------------------------------------------

BEFORE_AUTH = [("GET", "{k}"), ("SET", "{k}", "v"), ("PING",), ("ECHO", "x"), ("MGET", "{k}"),
               ("DEL", "{k}"), ("EXISTS", "{k}"), ("TTL", "{k}"), ("CLIENT", "ID"),
               ("SELECT", "0"), ("HELLO", "2"),
               ("AUTH", "wrong"), ("AUTH", "default", "wrong"), ("AUTH", "nobody", PASSWORD),
               ("AUTH",), ("AUTH", "a", "b", "c"), ("GET", "{k}"),
               ("HELLO", "2", "AUTH", "default", "wrong"), ("GET", "{k}"),
               ("AUTH", PASSWORD), ("SET", "{k}", "v"), ("GET", "{k}"), ("AUTH", "wrong"),
               ("GET", "{k}"), ("PING",)]


def test_auth_replies_match_redis(auth_diff):
    auth_diff.run(BEFORE_AUTH)


def test_auth_wording_exact(auth_proxy):
    with RespConn(auth_proxy.port) as c:
        assert c.call("GET", "fe:auth") == Err("NOAUTH Authentication required.")
        assert c.call("SHOAL.LOCATE", "fe:auth") == Err("NOAUTH Authentication required.")
        assert c.call("SHOAL.CONSISTENCY", "ONE") == Err("NOAUTH Authentication required.")
        assert c.call("AUTH", "wrong") == Err(
            "WRONGPASS invalid username-password pair or user is disabled.")
        assert c.call("GET", "fe:auth") == Err("NOAUTH Authentication required.")
        assert c.call("AUTH", PASSWORD) == OK
        assert c.call("SET", "fe:auth", "v") == OK


def test_auth_with_username_default(auth_proxy):
    with RespConn(auth_proxy.port) as c:
        assert c.call("AUTH", "default", PASSWORD) == OK
        assert c.call("GET", "fe:auth2") is None


def test_hello_2_auth(auth_proxy, auth_redis):
    with RespConn(auth_proxy.port) as c, RespConn(auth_redis.port) as r:
        got = c.call("HELLO", "2", "AUTH", "default", PASSWORD)
        ref = r.call("HELLO", "2", "AUTH", "default", PASSWORD)
        assert isinstance(got, list) and got[::2] == ref[::2], (got, ref)
        assert c.call("SET", "fe:hello-auth", "v") == OK
        assert c.call("GET", "fe:hello-auth") == b"v"
    with RespConn(auth_proxy.port) as c:
        got = c.call("HELLO", "2", "AUTH", "default", PASSWORD, "SETNAME", "app")
        assert isinstance(got, list), got
        assert c.call("CLIENT", "GETNAME") == b"app"


def test_redis_py_with_and_without_password(auth_proxy):
    good = client(auth_proxy.port, password=PASSWORD)
    assert good.set("fe:py-auth", "v") is True and good.get("fe:py-auth") == "v"
    bad = client(auth_proxy.port, password="nope")
    with pytest.raises(redis.exceptions.RedisError, match="WRONGPASS|invalid username-password"):
        bad.get("fe:py-auth")
    none = client(auth_proxy.port)
    with pytest.raises(redis.exceptions.AuthenticationError, match="Authentication required"):
        none.get("fe:py-auth")


def test_auth_is_per_connection(auth_proxy):
    with RespConn(auth_proxy.port) as a, RespConn(auth_proxy.port) as b:
        assert a.call("AUTH", PASSWORD) == OK
        assert a.call("PING") == Simple("PONG")
        assert b.call("PING") == Err("NOAUTH Authentication required.")


def test_proxy_without_requirepass_needs_no_auth(shoal):
    with RespConn(shoal.proxy.port) as c:
        assert c.call("SET", "fe:open", "v") == OK


# ---- --config FILE ---------------------------------------------------------------------------

def test_config_file_keys_and_flag_override(shoal, tmp_path):
    """Every flag is also a YAML key; a flag given on the command line wins over the file."""
    config = tmp_path / "proxy.yaml"
    config.write_text(f"requirepass: {PASSWORD}\n"
                      "read-consistency: all\n"
                      "write_consistency: one\n"
                      "timeout-ms: 500\n")
    proxy = shoal.add_proxy(["--config", str(config), "--read-consistency", "one"])
    with RespConn(proxy.port) as c:
        assert c.call("GET", "fe:cfg") == Err("NOAUTH Authentication required.")
        assert c.call("AUTH", PASSWORD) == OK
        levels = c.call("SHOAL.CONSISTENCY")
        assert [x.decode().upper() if isinstance(x, bytes) else str(x).upper()
                for x in levels] == ["ONE", "ONE", "STRICT"], levels
