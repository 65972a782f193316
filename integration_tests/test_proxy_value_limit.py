"""Values larger than the nodes accept (issue 7, item 7, proxy half): every node advertises its
--max-frame-size in HelloResponse; the proxy refuses a write whose Put frame would not fit, before
anything is sent, with a clear error, and keeps serving. MSET is refused whole: no key of it is
written. Before this, the nodes answered TooLarge and the client saw NOQUORUM."""
import pytest
import redis

from conftest_proxy import Cluster, client, node_get, short_tmp_dir

LIMIT = 4096  # bytes, each node's --max-frame-size


@pytest.fixture(scope="module")
def small_frames():
    cluster = Cluster(short_tmp_dir(), node_extra=("--max-frame-size", "4kb"))
    yield cluster
    cluster.close()


def assert_too_large(exc, size):
    text = str(exc.value)
    assert text.startswith(f"value too large: {size} bytes, the storage nodes accept at most "), \
        text
    assert f"(node --max-frame-size {LIMIT})" in text, text


@pytest.mark.parametrize("command", [
    lambda r, k, v: r.set(k, v),
    lambda r, k, v: r.set(k, v, nx=True),
    lambda r, k, v: r.setex(k, 100, v),
    lambda r, k, v: r.psetex(k, 100000, v),
    lambda r, k, v: r.setnx(k, v),
], ids=["set", "set-nx", "setex", "psetex", "setnx"])
def test_write_larger_than_the_nodes_accept_is_refused_up_front(small_frames, command):
    r = client(small_frames.proxy.port)
    with pytest.raises(redis.ResponseError) as exc:
        command(r, "big", "x" * 5000)
    assert_too_large(exc, 5000)
    assert r.get("big") is None
    for node_id in small_frames.nodes:
        code, out, _ = node_get(small_frames.node_port(node_id), "big")
        assert code == 0 and out == "(nil)\n", (node_id, out)
    # The connection keeps serving, and a value that fits is written.
    assert command(r, "big", "y" * 3000)
    assert r.get("big") == "y" * 3000
    r.delete("big")


def test_mset_with_one_value_too_large_writes_nothing(small_frames):
    r = client(small_frames.proxy.port)
    with pytest.raises(redis.ResponseError) as exc:
        r.mset({"m-small": "s", "m-big": "x" * 6000, "m-other": "o"})
    assert_too_large(exc, 6000)
    assert r.mget("m-small", "m-big", "m-other") == [None, None, None]
    assert r.mset({"m-small": "s", "m-other": "o"})
    assert r.mget("m-small", "m-other") == ["s", "o"]


def test_limit_counts_the_key(small_frames):
    """The frame carries the key too: a long key leaves less room for the value."""
    r = client(small_frames.proxy.port)
    key = "k" * 2000
    with pytest.raises(redis.ResponseError) as exc:
        r.set(key, "v" * 2500)
    text = str(exc.value)
    largest = int(text.split("accept at most ")[1].split(" ")[0])
    assert largest < LIMIT - 2000, text
    assert r.set(key, "v" * largest)
    assert r.get(key) == "v" * largest
