"""Hashes through the proxy (issue 11; docs/data-model.md): every hash command's replies and errors
compared with a real redis-server (RESP2 and RESP3; field order aside: Shoal lists fields by
name), WRONGTYPE both ways, the per-key limits; then concurrent writers of different fields
through two proxies while one node is stopped (SIGSTOP) and resumed: afterwards every replica,
read directly, holds every acknowledged field."""
import struct
import threading
import time

import harness
import node_wire
from conftest_proxy import Cluster, Differ, diff, redis_ref, shoal, short_tmp_dir  # noqa
from test_proxy_keyspace import stop_until_marked_down
from harness import Err, Map, RespConn, Simple


def test_hash_commands_like_redis(diff):
    diff.run([
        ("HSET", "{h}", "a", "1", "b", "2"),
        ("HSET", "{h}", "a", "10", "c", "3", "c", "4"),
        ("HGET", "{h}", "a"),
        ("HGET", "{h}", "c"),
        ("HGET", "{h}", "none"),
        ("HGET", "{none}", "a"),
        ("HMGET", "{h}", "a", "none", "b"),
        ("HMGET", "{none}", "a", "b"),
        ("HEXISTS", "{h}", "a"),
        ("HEXISTS", "{h}", "zz"),
        ("HEXISTS", "{none}", "a"),
        ("HLEN", "{h}"),
        ("HLEN", "{none}"),
        ("HSTRLEN", "{h}", "a"),
        ("HSTRLEN", "{h}", "zz"),
        ("HSETNX", "{h}", "a", "x"),
        ("HSETNX", "{h}", "d", "x"),
        ("HGET", "{h}", "d"),
        ("HMSET", "{h}", "e", "5", "f", "6"),
        ("HLEN", "{h}"),
        ("HDEL", "{h}", "a", "a", "zz", "b"),
        ("HDEL", "{h}", "zz"),
        ("HDEL", "{none}", "a"),
        ("HLEN", "{h}"),
        ("TYPE", "{h}"),
        ("EXISTS", "{h}"),
        ("HDEL", "{h}", "c", "d", "e", "f"),  # the last fields: the key is gone
        ("EXISTS", "{h}"),
        ("TYPE", "{h}"),
        ("HLEN", "{h}"),
        ("HGETALL", "{h}"),
        ("HSET", "{h}", "again", "1"),
        ("HGETALL", "{h}"),
        ("HSET", "{h}", "odd"),
        ("HSET", "{h}", "a", "1", "b"),
        ("HMSET", "{h}", "a"),
        ("HGET", "{h}"),
        ("HDEL", "{h}"),
        ("HSETNX", "{h}", "a"),
        ("HRANDFIELD", "{none}"),
        ("HRANDFIELD", "{none}", "3"),
        ("HRANDFIELD", "{none}", "-3", "WITHVALUES"),
        ("HRANDFIELD", "{h}", "0"),
        ("HRANDFIELD", "{h}", "x"),
        ("HRANDFIELD", "{h}", "1", "WITHVALUE"),
        ("HRANDFIELD", "{h}", "1", "WITHVALUES", "x"),
        ("HRANDFIELD", "{h}"),
        ("HRANDFIELD", "{h}", "5", "WITHVALUES"),
        ("HRANDFIELD", "{h}", "-2"),
        # Redis's unit/type/hash "HRANDFIELD count overflow", and the bounds around it
        ("HRANDFIELD", "{h}", "-9223372036854770000", "WITHVALUES"),
        ("HRANDFIELD", "{h}", "-9223372036854775808", "WITHVALUES"),
        ("HRANDFIELD", "{h}", "-9223372036854775808"),
        ("HRANDFIELD", "{h}", "-9223372036854775809"),
        ("HRANDFIELD", "{h}", "4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "{h}", "-4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "{none}", "-9223372036854775808", "WITHVALUES"),
        ("HSCAN", "{h}", "0"),
        ("HSCAN", "{none}", "0"),
        ("HSCAN", "{h}", "x"),
        ("HSCAN", "{h}", "0", "COUNT", "0"),
        ("HSCAN", "{h}", "0", "COUNT", "x"),
        ("HSCAN", "{h}", "0", "MATCH"),
        ("HSCAN", "{h}", "0", "TYPE", "string"),
        ("HSCAN", "{h}", "0", "MATCH", "ag*", "COUNT", "100"),
        ("HSCAN", "{h}", "0", "MATCH", "zz*"),
    ])


def test_hincrby_like_redis(diff):
    diff.run([
        ("HINCRBY", "{h}", "n", "5"),
        ("HINCRBY", "{h}", "n", "-7"),
        ("HGET", "{h}", "n"),
        ("HSTRLEN", "{h}", "n"),
        ("HSET", "{h}", "s", "10"),
        ("HINCRBY", "{h}", "s", "1"),
        ("HGET", "{h}", "s"),
        ("HSET", "{h}", "s", "3"),  # HSET supersedes the counter field
        ("HINCRBY", "{h}", "s", "1"),
        ("HSET", "{h}", "t", "abc"),
        ("HINCRBY", "{h}", "t", "1"),
        ("HINCRBY", "{h}", "n", "x"),
        ("HINCRBY", "{h}", "n", "1.5"),
        ("HSET", "{h}", "big", "9223372036854775807"),
        ("HINCRBY", "{h}", "big", "1"),
        ("HINCRBY", "{h}", "n", "-9223372036854775808"),
        ("HINCRBY", "{h}", "n", "-9223372036854775808"),
        ("HINCRBYFLOAT", "{h}", "f", "10.5"),
        ("HINCRBYFLOAT", "{h}", "f", "0.1"),
        ("HGET", "{h}", "f"),
        ("HINCRBYFLOAT", "{h}", "f", "-5.0e3"),
        ("HINCRBY", "{h}", "f", "1"),
        ("HINCRBYFLOAT", "{h}", "t", "1"),
        ("HINCRBYFLOAT", "{h}", "f", "x"),
        ("HINCRBYFLOAT", "{h}", "f", "inf"),
        ("HINCRBYFLOAT", "{h}", "f", "nan"),
        ("HINCRBYFLOAT", "{h}", "i", "7"),
        ("HINCRBY", "{h}", "i", "3"),
        ("HGET", "{h}", "i"),
        ("HDEL", "{h}", "n"),
        ("HINCRBY", "{h}", "n", "2"),  # a removed counter field starts again from 0
        ("HGET", "{h}", "n"),
        ("DEL", "{h}"),
        ("HINCRBY", "{h}", "n", "1"),
        ("HLEN", "{h}"),
    ])


def test_wrongtype_both_ways_like_redis(diff):
    diff.run([
        ("SET", "{s}", "v"),
        ("HSET", "{s}", "a", "1"),
        ("HGET", "{s}", "a"),
        ("HGETALL", "{s}"),
        ("HLEN", "{s}"),
        ("HINCRBY", "{s}", "a", "1"),
        ("HRANDFIELD", "{s}"),
        ("HSCAN", "{s}", "0"),
        ("INCR", "{c}"),
        ("HSET", "{c}", "a", "1"),
        ("HSET", "{h}", "a", "1"),
        ("GET", "{h}"),
        ("STRLEN", "{h}"),
        ("APPEND", "{h}", "x"),
        ("GETRANGE", "{h}", "0", "1"),
        ("SETRANGE", "{h}", "0", "x"),
        ("GETSET", "{h}", "x"),
        ("GETDEL", "{h}"),
        ("INCR", "{h}"),
        ("INCRBYFLOAT", "{h}", "1"),
        ("SET", "{h}", "x", "GET"),
        ("GETEX", "{h}"),
        ("MGET", "{h}", "{s}"),
        ("TYPE", "{h}"),
        ("HLEN", "{h}"),
        ("SET", "{h}", "plain"),  # SET replaces any type
        ("GET", "{h}"),
        ("TYPE", "{h}"),
        ("HSET", "{e}", "a", "1"),
        ("EXPIRE", "{e}", "100"),
        ("TTL", "{e}"),
        ("HSET", "{e}", "b", "2"),
        ("TTL", "{e}"),  # HSET keeps the TTL
        ("PERSIST", "{e}"),
        ("RENAME", "{e}", "{e2}"),
        ("HGET", "{e2}", "b"),
        ("TYPE", "{e2}"),
        ("COPY", "{e2}", "{e3}"),
        ("HLEN", "{e3}"),
        ("EXISTS", "{e}"),
    ])


def _sorted_pairs(reply):
    if isinstance(reply, Map):
        reply = [x for kv in reply for x in kv]
    return sorted(zip(reply[::2], reply[1::2]))


def test_unordered_replies_like_redis(diff):
    diff.same("HSET", "{h}", *[x for i in range(20) for x in (f"f{i}", f"v{i}")])
    diff.same("HINCRBY", "{h}", "n", "41")
    ref, got = diff.both("HGETALL", "{h}")
    assert _sorted_pairs(got) == _sorted_pairs(ref)
    for cmd in ("HKEYS", "HVALS"):
        ref, got = diff.both(cmd, "{h}")
        assert sorted(got) == sorted(ref), cmd
    ref, got = diff.both("HSCAN", "{h}", "0", "MATCH", "f1*")
    assert got[0] == b"0" and _sorted_pairs(got[1]) == _sorted_pairs(ref[1])
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(20)}
    fields[b"n"] = b"41"
    c = diff.dut
    got = c.call("HRANDFIELD", diff.key("h"), "5")
    assert len(got) == 5 and len(set(got)) == 5 and set(got) <= set(fields)
    got = c.call("HRANDFIELD", diff.key("h"), "50")
    assert sorted(got) == sorted(fields)
    got = c.call("HRANDFIELD", diff.key("h"), "-50", "WITHVALUES")
    assert len(got) == 100
    assert all(fields[f] == v for f, v in zip(got[::2], got[1::2]))
    assert c.call("HRANDFIELD", diff.key("h")) in fields


def test_resp3_replies_like_redis(shoal, redis_ref):
    d = Differ(redis_ref.port, shoal.proxy.port)
    try:
        for conn in (d.ref, d.dut):
            assert isinstance(conn.call("HELLO", "3"), Map)
        d.run([
            ("HSET", "{h}", "a", "1"),
            ("HGETALL", "{h}"),  # a map
            ("HGETALL", "{none}"),
            ("HGET", "{h}", "none"),  # "_"
            ("HMGET", "{h}", "a", "none"),
            ("HRANDFIELD", "{h}", "1", "WITHVALUES"),  # pairs nested in RESP3
            ("HRANDFIELD", "{h}", "-2", "WITHVALUES"),
            ("HRANDFIELD", "{none}"),
            ("HINCRBYFLOAT", "{h}", "f", "1.5"),
            ("HSCAN", "{h}", "0", "MATCH", "a"),
        ])
    finally:
        d.close()


def test_limits_on_fields_and_bytes():
    cluster = Cluster(short_tmp_dir(),
                      proxy_extra=("--max-elements-per-key", "3", "--max-bytes-per-key", "300"))
    try:
        with RespConn(cluster.proxy.port) as c:
            assert c.call("HSET", "lim", "a", "1", "b", "2", "c", "3") == 3
            err = c.call("HSET", "lim", "d", "4")
            assert isinstance(err, harness.Err) and "--max-elements-per-key (3)" in err, err
            assert c.call("HSET", "lim", "a", "x") == 0  # overwriting adds no field
            err = c.call("HSET", "lim", "a", "y" * 400)
            assert isinstance(err, harness.Err) and "--max-bytes-per-key (300)" in err, err
            assert c.call("HLEN", "lim") == 3 and c.call("HGET", "lim", "a") == b"x"
            assert c.call("PING") == harness.Simple("PONG")  # the proxy keeps serving
    finally:
        cluster.close()


def decode_elements(body):
    """{name: value} of the live elements of a hash or set body (common/typed/elements.h); a
    counter field as its integer sum (integer parts only)."""
    assert body[0] in (2, 3), body[:1]  # 3: with the 16-byte floor after the digest
    header = 13 if body[0] == 2 else 29
    (count,) = struct.unpack_from("<I", body, header - 4)
    at, out = header, {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", body, at)
        name = bytes(body[at + 4:at + 4 + n])
        at += 4 + n + 16
        kind = body[at]
        (vs,) = struct.unpack_from("<I", body, at + 1)
        value = bytes(body[at + 5:at + 5 + vs])
        at += 5 + vs
        if kind == 0:
            out[name] = value
        elif kind == 2:
            out[name] = str(node_wire.decode_counter(value)).encode()
    return out


def node_body(port, key):
    """The hash or set body one node holds for `key` (its own, no merge); None if none."""
    with node_wire.NodeConnection(port) as n:
        n.hello()
        kind, body = n.call("Get", key=key.encode(), want_value=True)
        assert kind == "GetResponse", body
        if not body.get("found") or body.get("tombstone") or body.get("value_type", 0) not in (2, 3):
            return None
        return body["value"]


def node_elements(port, key):
    """The live elements one node holds for `key` (its own body, no merge); None if no hash/set."""
    body = node_body(port, key)
    return None if body is None else decode_elements(body)


def concurrent_writers_with_a_node_stopped(write, check_key, expected_of):
    """Writers through two proxies (write(conn, writer, i) -> True when acknowledged) while node
    b is stopped (SIGSTOP) and resumed; then every replica must hold every acknowledged element
    (expected_of(acked): {name: value}, value None for an element that must be absent)."""
    tmp = short_tmp_dir()
    cluster = Cluster(tmp, members=True,
                      proxy_extra=("--timeout-ms", str(int(harness.slow(300))), "--threads", "2"),
                      node_extra=("--anti-entropy-interval-ms", "500"))
    try:
        cluster.add_proxy(("--timeout-ms", str(int(harness.slow(300))), "--threads", "2"))
        writers, per_writer = 6, 150
        acked = [[] for _ in range(writers)]
        done = [0] * writers
        errors = []

        def run(w):
            port = cluster.proxies[w % 2].port
            conn = RespConn(port, timeout=harness.slow(10))
            for i in range(per_writer):
                try:
                    if write(conn, w, i):
                        acked[w].append(i)
                    else:
                        errors.append((w, i))
                except Exception as e:  # noqa: BLE001 a broken connection: a new one
                    errors.append(repr(e))
                    conn = RespConn(port, timeout=harness.slow(10))
                done[w] += 1
            conn.close()

        threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        total = writers * per_writer
        harness.wait_until(lambda: sum(done) >= total // 4, timeout=harness.slow(120))
        stopped = cluster.nodes["b"]
        harness.pause(stopped)
        harness.wait_until(lambda: sum(done) >= 3 * total // 4, timeout=harness.slow(120))
        harness.resume(stopped)
        for t in threads:
            t.join(timeout=harness.slow(300))
        n_acked = sum(len(a) for a in acked)
        print(f"acknowledged {n_acked} of {total}; errors {len(errors)}: {errors[:3]}")
        assert n_acked >= total // 2, errors[:5]
        expected = expected_of(acked)
        ports = [cluster.node_port(n) for n in cluster.nodes]

        def wrong(p):
            held = node_elements(p, check_key) or {}
            return [k for k, v in expected.items() if held.get(k) != v]

        ok = harness.wait_until(lambda: not any(wrong(p) for p in ports),
                                timeout=harness.slow(60))
        assert ok, {p: wrong(p)[:5] for p in ports}
    finally:
        cluster.close()


def test_concurrent_fields_through_two_proxies_with_a_node_stopped():
    key = "hash:{sessions}"

    def write(conn, w, i):
        return conn.call("HSET", key, f"w{w}:f{i}", f"v{i}") == 1

    concurrent_writers_with_a_node_stopped(
        write, key,
        lambda acked: {f"w{w}:f{i}".encode(): f"v{i}".encode()
                       for w, ids in enumerate(acked) for i in ids})


OK = Simple("OK")


def raw_elements(port, key):
    """(floor (hlc, writer), {name: kind}) of the body one node holds for `key`, tombstones
    included (kind 0 value, 1 tombstone, 2 counter); None when it holds no hash or set."""
    raw = node_body(port, key)
    if raw is None:
        return None
    assert raw[0] == 3, raw[:1]
    floor = struct.unpack_from("<QQ", raw, 9)
    (count,) = struct.unpack_from("<I", raw, 25)
    at, out = 29, {}
    for _ in range(count):
        (size,) = struct.unpack_from("<I", raw, at)
        name = bytes(raw[at + 4:at + 4 + size])
        at += 4 + size + 16
        out[name] = raw[at]
        (vs,) = struct.unpack_from("<I", raw, at + 1)
        at += 5 + vs
    return floor, out


def test_a_replica_that_missed_an_hdel_past_the_grace_cannot_bring_the_field_back():
    """Node c is stopped (SIGSTOP, marked down first) while `HDEL k a` is acknowledged by a and b,
    and stays stopped past --element-tombstone-grace-ms: a and b purge the tombstone (their
    body's floor rises). Resumed, c still holds `a`. For one key anti-entropy (`shoalctl repair`
    on c: both ways) meets the bodies, for the other a read at ALL merges c's body with theirs:
    either way the floor drops `a`, on every replica, and no read shows it again."""
    cluster = Cluster(short_tmp_dir(), members=True,
                      proxy_extra=("--timeout-ms", str(int(harness.slow(300))), "--threads", "1"),
                      node_extra=("--hint-window", "0", "--anti-entropy-interval-ms", "0",
                                  "--element-tombstone-grace-ms", str(int(harness.slow(1500)))))
    keys = ["purge:{ae}", "purge:{read}"]
    try:
        with RespConn(cluster.proxy.port) as conn:
            ports = {n: cluster.node_port(n) for n in cluster.nodes}
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "ALL") == OK
            for key in keys:
                assert conn.call("HSET", key, "a", "1", "b", "2") == 2
            assert conn.call("SHOAL.CONSISTENCY", "QUORUM", "QUORUM") == OK
            both = {b"a": b"1", b"b": b"2"}
            assert all(node_elements(ports["c"], k) == both for k in keys)
            # Marked down first, so that no HDEL waits in its socket for its resume.
            stop_until_marked_down(cluster, conn, "c")
            for key in keys:
                assert conn.call("HDEL", key, "a") == 1

            def purged(p, key):
                held = raw_elements(p, key)
                return held is not None and held[0] != (0, 0) and b"a" not in held[1]

            assert harness.wait_until(
                lambda: all(purged(ports[n], k) for n in "ab" for k in keys),
                timeout=harness.slow(20)), {k: raw_elements(ports["a"], k) for k in keys}
            harness.resume(cluster.nodes["c"])
            # c holds `a` live: it never saw the HDEL (no hints, no periodic anti-entropy).
            assert all(node_elements(ports["c"], k) == both for k in keys)
            # The read path: at ALL the proxy merges c's body (holding `a`) with a's and b's (their
            # floor): `a` is not answered, and c is repaired with the merged body.
            assert conn.call("SHOAL.CONSISTENCY", "ALL", "QUORUM") == OK
            assert harness.wait_until(lambda: conn.call("HGETALL", keys[1]) == [b"b", b"2"],
                                      timeout=harness.slow(10)), conn.call("HGETALL", keys[1])
            assert harness.wait_until(lambda: node_elements(ports["c"], keys[1]) == {b"b": b"2"},
                                      timeout=harness.slow(10)), raw_elements(ports["c"], keys[1])
            assert node_elements(ports["c"], keys[0]) == both  # untouched so far
            # The anti-entropy path: one round from c, both ways.
            repair = harness.shoalctl(ports["c"], "repair")
            assert repair.returncode == 0, repair.stderr
            assert all(node_elements(p, keys[0]) == {b"b": b"2"} for p in ports.values()), {
                n: raw_elements(p, keys[0]) for n, p in ports.items()}
            for n, p in ports.items():  # the same state everywhere: the floor, no `a`
                assert raw_elements(p, keys[0]) == raw_elements(ports["a"], keys[0]), n
            for _ in range(3):
                for key in keys:
                    assert conn.call("HGETALL", key) == [b"b", b"2"]
                    assert conn.call("HEXISTS", key, "a") == 0
    finally:
        cluster.close()


def test_small_hscan_sscan_and_novalues_like_redis(diff):
    """Small hashes and sets (Redis's listpack and intset encodings) come whole, cursor 0,
    whatever COUNT says, in both; the options are judged after the key (a missing key answers the
    empty scan). NOVALUES is Redis 7.4's (the reference here is 7.0): checked literally below."""
    diff.run([
        ("HSET", "{h}", "a", "1", "b", "2", "c", "3"),
        ("HSCAN", "{h}", "0", "COUNT", "1"),
        ("HSCAN", "{h}", "0", "MATCH", "[ab]", "COUNT", "1"),
        ("HSCAN", "{none}", "0", "COUNT", "0"),
        ("HSCAN", "{none}", "x"),
        ("SADD", "{s}", "1", "2", "3"),
        ("SSCAN", "{s}", "0", "COUNT", "1"),
        ("SSCAN", "{s}", "0", "MATCH", "2"),
        ("SSCAN", "{s}", "0", "TYPE", "set"),
        ("SSCAN", "{none}", "0", "FOO"),
        ("HSCAN", "{s}", "0"),
    ])
    h, s = diff.key("h"), diff.key("s")
    dut = diff.dut
    assert dut.call("HSCAN", h, "0", "NOVALUES") == [b"0", [b"a", b"b", b"c"]]
    assert dut.call("HSCAN", h, "0", "MATCH", "c", "NOVALUES", "COUNT", "5") == [b"0", [b"c"]]
    assert dut.call("SSCAN", s, "0", "NOVALUES") == Err(
        "ERR NOVALUES option can only be used in HSCAN")
    assert dut.call("SSCAN", diff.key("none"), "0", "NOVALUES") == [b"0", []]


def scan_elements(conn, command, key, *options):
    """Every page of an HSCAN/SSCAN walk: (elements returned, list; number of calls)."""
    cursor, out, calls = b"0", [], 0
    while True:
        cursor, batch = conn.call(command, key, cursor, *options)
        out += batch
        calls += 1
        assert calls < 10000
        if cursor == b"0":
            return out, calls


def test_big_hscan_and_sscan_are_paged_and_return_every_element(shoal):
    """Past 128 elements HSCAN/SSCAN answer pages of about COUNT with a cursor that says where the
    walk is (a hash of the next element's name): every element once on a quiet hash, and every
    element present for the whole scan at least once while others are added and removed between
    the calls (Redis's guarantee)."""
    with RespConn(shoal.proxy.port) as c:
        key, skey = "bigscan:{h}", "bigscan:{s}"
        fields = [f"f{i}" for i in range(1000)]
        for i in range(0, 1000, 100):
            args = []
            for f in fields[i:i + 100]:
                args += [f, f"v{f}"]
            assert c.call("HSET", key, *args) == 100
            assert c.call("SADD", skey, *fields[i:i + 100]) == 100
        flat, calls = scan_elements(c, "HSCAN", key, "COUNT", "10")
        pairs = dict(zip(flat[0::2], flat[1::2]))
        assert len(flat) == 2000 and len(pairs) == 1000, "each field once on a quiet hash"
        assert pairs == {f.encode(): f"v{f}".encode() for f in fields}
        assert 90 <= calls <= 101, calls
        names, calls = scan_elements(c, "HSCAN", key, "COUNT", "100", "NOVALUES")
        assert sorted(names) == sorted(f.encode() for f in fields) and calls <= 11
        members, _ = scan_elements(c, "SSCAN", skey, "COUNT", "25")
        assert sorted(members) == sorted(f.encode() for f in fields)
        matched, _ = scan_elements(c, "SSCAN", skey, "MATCH", "f1??", "COUNT", "50")
        assert sorted(matched) == sorted(f"f{i}".encode() for i in range(100, 200))
        # Churn between the calls: fields f0..f499 stay, others are removed, new ones added.
        cursor, seen, calls, added = b"0", set(), 0, 0
        while True:
            cursor, batch = c.call("HSCAN", key, cursor, "COUNT", "20")
            seen.update(batch[0::2])
            calls += 1
            for j in range(3):
                victim = f"f{500 + (calls * 3 + j) % 500}"
                c.call("HDEL", key, victim)
                c.call("HSET", key, f"new{added}", "x")
                added += 1
            if cursor == b"0":
                break
        missing = {f"f{i}".encode() for i in range(500)} - seen
        assert not missing, f"{len(missing)} stable fields never returned, e.g. {sorted(missing)[:3]}"
