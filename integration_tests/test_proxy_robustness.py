"""One misbehaving client (or running out of descriptors) must not stop the proxy serving the
others. Each test here once wedged a worker or dropped replies (found in review)."""
import os
import socket
import subprocess

import pytest

import harness
from conftest_proxy import Cluster
from harness import RespConn, Simple


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """A cluster whose proxy has a single worker, so a wedged worker wedges every client."""
    cluster = Cluster(tmp_path_factory.mktemp("robust"),
                      proxy_extra=("--timeout-ms", "500", "--threads", "1"))
    yield cluster
    cluster.close()


def recv_all(sock, timeout=3.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def others_are_served(port):
    with RespConn(port) as c:
        return c.call("PING") == Simple("PONG") and c.call("SET", "robust:k", "v") == Simple("OK")


@pytest.mark.parametrize("payload,reply", [
    # A protocol error followed by more bytes than one read takes.
    (b"*1\r\n$x\r\n" + b"g" * 200_000, b"-ERR Protocol error: invalid bulk length\r\n"),
    # QUIT followed by a long pipeline: nothing after QUIT is executed.
    (b"QUIT\r\n" + b"PING\r\n" * 40_000, b"+OK\r\n"),
], ids=["protocol-error", "quit"])  # short ids: pytest puts the id in the environment
def test_unread_bytes_after_close_do_not_wedge_the_worker(one_worker, payload, reply):
    port = one_worker.proxy.port
    bad = socket.create_connection(("127.0.0.1", port))
    bad.sendall(payload)
    assert recv_all(bad) == reply  # and then the proxy closes the connection
    assert others_are_served(port)
    bad.close()
    assert others_are_served(port)


@pytest.mark.parametrize("payload,expected", [
    (b"PING\r\n", b"+PONG\r\n"),
    (b"SET robust:h b\r\nGET robust:h\r\n", b"+OK\r\n$1\r\nb\r\n"),
    (b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$8\r\nrobust:h\r\n", b"+PONG\r\n$1\r\nb\r\n"),
], ids=["inline", "pipeline", "multibulk"])
def test_half_closed_client_gets_its_replies(one_worker, payload, expected):
    """`printf 'PING\\r\\n' | nc -N host port`: the client shuts down its sending side at once."""
    s = socket.create_connection(("127.0.0.1", one_worker.proxy.port))
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    assert recv_all(s) == expected
    s.close()


def test_out_of_file_descriptors_pauses_accepting_only(tmp_path):
    cluster = Cluster(tmp_path, proxy_extra=("--timeout-ms", "500", "--threads", "1"))
    try:
        proxy = cluster.proxy
        served = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(5)]
        subprocess.run(["prlimit", "--pid", str(proxy.proc.pid), "--nofile=40:40"], check=True)
        extra = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(60)]
        for s in served:  # connections accepted before the limit keep being served
            s.sendall(b"PING\r\n")
            s.settimeout(3)
            assert s.recv(100) == b"+PONG\r\n"
        # The condition is logged, not once per failed accept.
        assert harness.wait_until(lambda: "pausing accepts" in proxy.log(), timeout=3)
        assert os.path.getsize(proxy.log_path) < 100_000
        for s in extra:
            s.close()
        for s in served:
            s.close()
        assert harness.wait_until(lambda: others_are_served(proxy.port), timeout=5)
    finally:
        cluster.close()
