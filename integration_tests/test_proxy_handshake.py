"""The proxy checks whom it talks to (issue 6, item 9): a process on a member's address that
answers as another node or another cluster, or that cannot prove the cluster secret, is refused
(logged, counted in INFO, treated as down) and never receives a request; with the right secret
everything works, including requests sent while the handshake is still going on."""
import pytest

import harness
from harness import Err, RespConn, Simple
from test_admin import scrape, value, wait_admin

OK = Simple("OK")
SECRET = b"proxy-handshake-secret"


def info_node(port, node_id):
    with RespConn(port) as c:
        text = c.call("INFO").decode()
    for line in text.split("\r\n"):
        if line.startswith(f"node_{node_id}:"):
            return dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split(","))
    raise AssertionError(f"INFO has no node_{node_id}")


class Procs:
    def __init__(self):
        self.procs = []

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def close(self):
        for p in reversed(self.procs):
            p.stop()


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.close()


def write_secret(tmp_path, name, secret):
    path = tmp_path / name
    path.write_bytes(secret + b"\n")
    return path


@pytest.mark.parametrize("impostor_args,reason", [
    (("x",), "answers as node 'x' of cluster 'shoal', expected node 'c' of cluster 'shoal'"),
    (("c", "--cluster", "other"), "does not match this node's cluster 'other'"),
], ids=["other-id", "other-cluster"])
def test_impostor_on_a_members_address_is_refused(tmp_path, procs, impostor_args, reason):
    a = procs.add(harness.start_node(tmp_path, "a"))
    b = procs.add(harness.start_node(tmp_path, "b"))
    node_id, *extra = impostor_args
    impostor = procs.add(harness.start_node(tmp_path / "impostor", node_id, extra=extra))
    impostor.name = "node-c"  # the proxy is told that c lives at the impostor's address
    admin = harness.free_port()
    proxy = procs.add(harness.start_proxy(tmp_path, [a, b, impostor],
                                          extra=("--timeout-ms", "500",
                                                 "--admin", f"127.0.0.1:{admin}")))
    with RespConn(proxy.port) as c:
        # Sent as soon as the proxy accepts clients: nothing may reach the impostor, not even
        # requests queued behind the first handshake.
        c.send_raw(b"".join(RespConn.encode("SET", f"imp:{i}", "v") for i in range(50)))
        assert [c.read_reply() for _ in range(50)] == [OK] * 50
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        reply = c.call("GET", "imp:1")
        assert isinstance(reply, Err) and reply.startswith("NOQUORUM read needed 3"), reply
    for i in range(50):
        got = harness.shoalctl(impostor.port, *extra, "get", f"imp:{i}")
        assert got.stdout == "(nil)\n", got
    # /metrics counts the refusals of every worker's link to c; INFO reports the same sum (read
    # after: the links keep retrying, so it may have grown).
    wait_admin(admin)
    samples, _ = scrape(admin)
    refused = value(samples, "shoal_proxy_upstream_handshake_refusals_total", node="c",
                    reason="identity")
    assert refused >= 1, samples
    assert samples[("shoal_proxy_upstream_handshake_refusals_total",
                    frozenset({("node", "c"), ("reason", "auth")}))] == 0
    assert samples[("shoal_proxy_upstream_handshake_refusals_total",
                    frozenset({("node", "a"), ("reason", "identity")}))] == 0
    node = info_node(proxy.port, "c")
    assert node["status"] == "down" and int(node["identity_refusals"]) >= refused, node
    assert int(node["auth_refusals"]) == 0, node
    assert reason in proxy.log()
    assert "refusing node c at" in proxy.log()


def test_real_node_back_on_the_address_is_used_again(tmp_path, procs):
    a = procs.add(harness.start_node(tmp_path, "a"))
    b = procs.add(harness.start_node(tmp_path, "b"))
    impostor = harness.start_node(tmp_path / "impostor", "x")
    impostor.name = "node-c"
    proxy = procs.add(harness.start_proxy(tmp_path, [a, b, impostor],
                                          extra=("--timeout-ms", "500")))
    assert info_node(proxy.port, "c")["status"] == "down"
    port = impostor.port
    impostor.stop()
    procs.add(harness.start_node(tmp_path, "c", port=port))
    with RespConn(proxy.port) as c:
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert harness.wait_until(lambda: c.call("SET", "back", "v") == OK, timeout=10,
                                  interval=0.2)
    assert info_node(proxy.port, "c")["status"] == "up"


@pytest.mark.parametrize("node_secret,proxy_secret,reason", [
    (SECRET, b"another-secret", "holds a different cluster secret"),
    (SECRET, None, "requires a cluster secret"),
    (None, SECRET, "did not prove the cluster secret"),
], ids=["wrong-secret", "proxy-without-secret", "node-without-secret"])
def test_wrong_secret_is_refused(tmp_path, procs, node_secret, proxy_secret, reason):
    node_extra = ()
    if node_secret is not None:
        node_extra = ("--cluster-secret-file", str(write_secret(tmp_path, "node.key", node_secret)))
    proxy_extra = ("--timeout-ms", "500")
    if proxy_secret is not None:
        proxy_extra += ("--cluster-secret-file",
                        str(write_secret(tmp_path, "proxy.key", proxy_secret)))
    nodes = [procs.add(harness.start_node(tmp_path, n, extra=node_extra)) for n in "abc"]
    proxy = procs.add(harness.start_proxy(tmp_path, nodes, extra=proxy_extra))
    with RespConn(proxy.port) as c:
        assert c.call("SET", "sec:k", "v") == Err("NOQUORUM write needed 2 replicas, 0 answered")
    for n in nodes:
        args = ("--cluster-secret-file", str(tmp_path / "node.key")) if node_secret else ()
        assert harness.shoalctl(n.port, *args, "get", "sec:k").stdout == "(nil)\n"
    for n in "abc":
        node = info_node(proxy.port, n)
        assert node["status"] == "down" and int(node["auth_refusals"]) >= 1, node
    assert reason in proxy.log()


def test_right_secret_works(tmp_path, procs):
    key = str(write_secret(tmp_path, "cluster.key", SECRET))
    nodes = [procs.add(harness.start_node(tmp_path, n, extra=("--cluster-secret-file", key)))
             for n in "abc"]
    proxy = procs.add(harness.start_proxy(tmp_path, nodes,
                                          extra=("--cluster-secret-file", key, "--threads", "2")))
    with RespConn(proxy.port) as c:
        c.send_raw(b"".join(RespConn.encode("SET", f"ok:{i}", f"v{i}") for i in range(100)))
        assert [c.read_reply() for _ in range(100)] == [OK] * 100
        assert c.call("SHOAL.CONSISTENCY", "ALL", "ALL") == OK
        assert c.call("MGET", "ok:0", "ok:99") == [b"v0", b"v99"]
    for n in "abc":
        node = info_node(proxy.port, n)
        assert node == {"address": node["address"], "status": "up", "phi": node["phi"],
                        "identity_refusals": "0", "auth_refusals": "0"}
        assert float(node["phi"]) < 8, node  # this proxy's suspicion of the node: low
