"""The cluster-secret handshake (schemas/shoal.fbs Hello/HelloResponse/Auth) at the wire level.

Proofs are computed here with Python's hmac, independently of common/auth/.
"""
import hashlib
import hmac
import os
import subprocess

import pytest

import harness
from harness import shoalctl
from node_wire import NodeConnection, hlc_now, read_frame
from test_node_protocol import assert_closed_by_node

SECRET = b"s3cret-for-tests"
CLUSTER = "shoal"


def proof(label, secret, nonce, ident, cluster=CLUSTER):
    msg = label + nonce + ident.encode() + cluster.encode()
    return hmac.new(secret, msg, hashlib.sha256).digest()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "cluster-secret"
    path.write_bytes(SECRET + b"\n")  # the trailing newline is not part of the secret
    return path


@pytest.fixture
def secure_node(start_node, secret_file):
    return start_node("n1", extra=["--cluster-secret-file", str(secret_file)])


def hello(conn, nonce, sender="tester"):
    kind, body = conn.call("Hello", protocol_version=1, cluster=CLUSTER, sender_id=sender,
                           role=2, nonce=nonce)
    assert kind == "HelloResponse", body
    return body


def test_request_before_auth_is_refused_and_closed(secure_node):
    # No Hello at all.
    with NodeConnection(secure_node.port) as c:
        kind, body = c.call("Get", key=b"k")
        assert kind == "Error" and body["code_name"] == "Unauthenticated", body
        assert_closed_by_node(c.sock)
    # Hello, then a request without Auth; the frames pipelined behind it are not served.
    with NodeConnection(secure_node.port) as c:
        body = hello(c, os.urandom(16))
        assert body["auth_required"] is True
        c.send("Put", key=b"k", value=b"v", version=(hlc_now(), 1))
        c.send("Get", key=b"k")
        _, kind, body = read_frame(c.sock)
        assert kind == "Error" and body["code_name"] == "Unauthenticated", body
        assert_closed_by_node(c.sock)
    # Info is a request like any other.
    with NodeConnection(secure_node.port) as c:
        hello(c, os.urandom(16))
        kind, body = c.call("Info")
        assert kind == "Error" and body["code_name"] == "Unauthenticated"
        assert_closed_by_node(c.sock)


def test_correct_auth_is_served(secure_node):
    nonce = os.urandom(16)
    with NodeConnection(secure_node.port) as c:
        body = hello(c, nonce, sender="proxy-7")
        assert body["auth_required"] is True
        assert len(body["challenge"]) >= 16
        # The node proves the secret for our nonce and its id.
        assert body["node_proof"] == proof(b"shoal-node", SECRET, nonce, "n1")
        kind, resp = c.call("Auth",
                            proof=proof(b"shoal-peer", SECRET, body["challenge"], "proxy-7"))
        assert kind == "AuthResponse" and resp["ok"] is True, resp
        kind, resp = c.call("Put", key=b"k", value=b"v", version=(hlc_now(), 1))
        assert kind == "PutResponse" and resp["applied"]
        kind, resp = c.call("Get", key=b"k")
        assert kind == "GetResponse" and resp["value"] == b"v"
    # Every connection gets its own challenge.
    with NodeConnection(secure_node.port) as c1, NodeConnection(secure_node.port) as c2:
        assert hello(c1, nonce)["challenge"] != hello(c2, nonce)["challenge"]


@pytest.mark.parametrize("bad", ["wrong-secret", "other-sender", "old-challenge", "empty",
                                 "before-hello"])
def test_wrong_proof_is_refused_and_closed(secure_node, bad):
    with NodeConnection(secure_node.port) as c:
        if bad == "before-hello":
            kind, body = c.call("Auth", proof=b"\0" * 32)
        else:
            challenge = hello(c, os.urandom(16), sender="proxy-7")["challenge"]
            if bad == "wrong-secret":
                p = proof(b"shoal-peer", b"another secret", challenge, "proxy-7")
            elif bad == "other-sender":
                p = proof(b"shoal-peer", SECRET, challenge, "proxy-8")
            elif bad == "old-challenge":
                # A proof for the first Hello's challenge after a second Hello replaced it.
                p = proof(b"shoal-peer", SECRET, challenge, "proxy-7")
                hello(c, os.urandom(16), sender="proxy-7")
            else:
                p = b""
            kind, body = c.call("Auth", proof=p)
        assert kind == "Error" and body["code_name"] == "Unauthenticated", body
        assert_closed_by_node(c.sock)
    r = shoalctl(secure_node.port, "--cluster-secret-file", os.devnull, "info")
    assert r.returncode == 2 and "is empty" in r.stderr, r.stderr


def test_shoalctl_with_and_without_the_secret(secure_node, secret_file, tmp_path):
    r = shoalctl(secure_node.port, "--cluster-secret-file", str(secret_file), "set", "a", "1")
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stderr
    r = shoalctl(secure_node.port, "--cluster-secret-file", str(secret_file), "info")
    assert r.returncode == 0 and "auth_failures: 0" in r.stdout, r.stdout
    r = shoalctl(secure_node.port, "get", "a")
    assert r.returncode == 1 and "requires a cluster secret" in r.stderr, r.stderr
    wrong = tmp_path / "wrong"
    wrong.write_text("not the secret\n")
    r = shoalctl(secure_node.port, "--cluster-secret-file", str(wrong), "get", "a")
    assert r.returncode == 1 and "different cluster secret" in r.stderr, r.stderr


def test_node_without_secret_needs_no_auth(node, secret_file):
    with NodeConnection(node.port) as c:
        body = hello(c, os.urandom(16))
        assert body["auth_required"] is False
        assert not body["challenge"] and not body["node_proof"]
        assert body["max_frame_size"] == 64 << 20
        kind, resp = c.call("Get", key=b"k")
        assert kind == "GetResponse"
    # A tool holding a secret refuses a node that cannot prove it.
    r = shoalctl(node.port, "--cluster-secret-file", str(secret_file), "info")
    assert r.returncode == 1 and "did not prove the cluster secret" in r.stderr, r.stderr


@pytest.mark.parametrize("contents,message", [(None, "No such file"), (b"\n", "is empty")])
def test_bad_secret_file_stops_the_node(tmp_path, contents, message):
    path = tmp_path / "secret"
    if contents is not None:
        path.write_bytes(contents)
    args = [str(harness.BIN / "shoal-node"), "--id", "n1", "--listen",
            f"127.0.0.1:{harness.free_port()}", "--data-dir", str(tmp_path / "d"),
            "--cluster-secret-file", str(path)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, r
    assert "--cluster-secret-file" in r.stderr and message in r.stderr, r.stderr
