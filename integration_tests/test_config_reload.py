"""SIGHUP re-reads --config in both binaries (common/config/reload.h): the safe keys apply at
once, keys that need a restart are reported and left alone, an invalid file changes nothing and
is logged; the process keeps serving throughout. Flags still override the file."""
import json
import signal
import time

import pytest
import redis

import harness
from test_admin import http, wait_admin

IDS = ("a", "b", "c")


def config_of(admin_port):
    status, _, body = http(admin_port, "/config")
    assert status == 200, body
    return json.loads(body)


def hup(process, count_before):
    """SIGHUP, then wait until the process logged one more reload outcome than before."""
    process.proc.send_signal(signal.SIGHUP)
    harness.wait_until(lambda: reload_lines(process) > count_before, timeout=harness.slow(10))
    assert process.alive()


def reload_lines(process):
    log = harness.read_log(process.log_path)
    return log.count("SIGHUP: reloaded") + log.count("is not valid, nothing changed")


def start_proxy_with_config(tmp_path, nodes, config_path, admin_port):
    """A proxy whose settings come from `config_path` (no --log-level or --timeout-ms flag: flags
    override the file)."""
    port = harness.free_port()
    spec = ",".join(f"{n.name.removeprefix('node-')}=127.0.0.1:{n.port}" for n in nodes)
    args = [str(harness.BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--nodes", spec,
            "--admin", f"127.0.0.1:{admin_port}", "--config", str(config_path)]
    return harness.Process("proxy", args, port, tmp_path / f"proxy-{port}.log")


@pytest.fixture
def cluster(tmp_path):
    ports = {i: harness.free_port() for i in IDS}
    nodes, procs = {}, []
    try:
        for i in IDS:
            nodes[i] = harness.start_node(tmp_path, i, port=ports[i], members=ports,
                                          extra=("--admin", "", "--anti-entropy-interval-ms", "0"))
            procs.append(nodes[i])
        yield nodes, procs
    finally:
        for p in procs:
            p.stop(timeout=5)


def timed_get_at_all(port):
    """(reply or error text, seconds) of a GET at consistency ALL on a new connection."""
    c = redis.Redis(port=port, socket_timeout=harness.slow(30))
    c.execute_command("SHOAL.CONSISTENCY", "ALL", "ALL")
    start = time.monotonic()
    try:
        reply = c.get("reload:k")
    except redis.ResponseError as e:
        reply = str(e)
    return reply, time.monotonic() - start


def test_proxy_reload(cluster, tmp_path):
    nodes, procs = cluster
    config = tmp_path / "proxy.yaml"
    config.write_text("timeout_ms: 4000\nread_consistency: quorum\nlog_level: info\n"
                      "tokens_per_node: 512\n")
    admin = harness.free_port()
    proxy = start_proxy_with_config(tmp_path, list(nodes.values()), config, admin)
    procs.append(proxy)
    wait_admin(admin)
    harness.wait_until(lambda: http(admin, "/readyz")[0] == 200, timeout=harness.slow(10))
    client = redis.Redis(port=proxy.port)
    client.set("reload:k", "v")

    # A hung node: a read at ALL waits the whole --timeout-ms, then NOQUORUM.
    harness.pause(nodes["c"])
    try:
        reply, took = timed_get_at_all(proxy.port)
        assert "NOQUORUM" in reply and took >= 3.5, (reply, took)

        config.write_text("timeout_ms: 300\nread_consistency: one\nwrite_consistency: all\n"
                          "log_level: debug\ntokens_per_node: 256\n")
        hup(proxy, 0)
        log = proxy.log()
        assert "tokens-per-node changed (512 -> 256) but takes effect only at a restart" in log, log
        assert "timeout-ms 4000 -> 300" in log
        cfg = config_of(admin)
        assert (cfg["timeout-ms"], cfg["read-consistency"], cfg["write-consistency"]) == \
            ("300", "one", "all")
        assert cfg["tokens-per-node"] == "512"  # needs a restart: left alone
        assert http(admin, "/loglevel")[2] == "debug\n"
        # New connections take the new defaults; the new timeout bounds every new request.
        fresh = redis.Redis(port=proxy.port)
        assert fresh.execute_command("SHOAL.CONSISTENCY") == [b"ONE", b"ALL", b"STRICT"]
        assert fresh.info()["read_consistency"] == "ONE"
        assert fresh.get("reload:k") == b"v"  # ONE: the two live replicas answer
        reply, took = timed_get_at_all(proxy.port)
        assert "NOQUORUM" in reply and took < 2.5, (reply, took)

        # Invalid files change nothing and say why; the proxy keeps serving.
        for bad, why in (("read_consistency: sometimes\n", "read-consistency"),
                         ("timeout_ms: [1, 2\n", "proxy.yaml"),
                         ("no_such_key: 1\n", "no_such_key")):
            config.write_text("timeout_ms: 100\n" + bad)
            before = reload_lines(proxy)
            hup(proxy, before)
            tail = proxy.log().split("SIGHUP")[-1]
            assert "is not valid, nothing changed" in tail and why in tail, tail
            assert config_of(admin)["timeout-ms"] == "300"
            assert redis.Redis(port=proxy.port).get("reload:k") == b"v"
        config.unlink()
        before = reload_lines(proxy)
        hup(proxy, before)
        assert "is not valid, nothing changed" in proxy.log().split("SIGHUP")[-1]
    finally:
        harness.resume(nodes["c"])


def test_proxy_flags_override_the_reloaded_file(cluster, tmp_path):
    nodes, procs = cluster
    config = tmp_path / "proxy.yaml"
    config.write_text("timeout_ms: 1000\n")
    admin = harness.free_port()
    port = harness.free_port()
    spec = ",".join(f"{i}=127.0.0.1:{n.port}" for i, n in nodes.items())
    proxy = harness.Process("proxy", [str(harness.BIN / "shoal-proxy"), "--listen",
                                      f"127.0.0.1:{port}", "--nodes", spec, "--admin",
                                      f"127.0.0.1:{admin}", "--config", str(config),
                                      "--timeout-ms", "1500"], port, tmp_path / "p.log")
    procs.append(proxy)
    wait_admin(admin)
    config.write_text("timeout_ms: 200\n")
    hup(proxy, 0)
    assert config_of(admin)["timeout-ms"] == "1500"
    assert "nothing to apply" in proxy.log()


def test_node_reload(tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("log_level: info\nanti_entropy_rate: 8mb\nmax_memory: 64mb\n")
    admin = harness.free_port()
    port = harness.free_port()
    node = harness.Process(
        "node-a", [str(harness.BIN / "shoal-node"), "--id", "a", "--listen", f"127.0.0.1:{port}",
                   "--data-dir", str(tmp_path / "d"), "--admin", f"127.0.0.1:{admin}",
                   "--config", str(config)], port, tmp_path / "node.log")
    try:
        wait_admin(admin)
        assert harness.shoalctl(port, "set", "k", "v").returncode == 0
        config.write_text("log_level: debug\nanti_entropy_rate: 1mb\nmax_memory: 128mb\n")
        hup(node, 0)
        cfg = config_of(admin)
        assert (cfg["log-level"], cfg["anti-entropy-rate"], cfg["max-memory"]) == \
            ("debug", str(1 << 20), str(64 << 20)), cfg
        assert http(admin, "/loglevel")[2] == "debug\n"
        assert "max-memory changed" in node.log() and "restart" in node.log()
        assert f"memory_limit_bytes: {64 << 20}\n" in harness.shoalctl(port, "info").stdout
        config.write_text("log_level: loud\n")
        hup(node, 1)
        assert "is not valid, nothing changed" in node.log().split("SIGHUP")[-1]
        assert config_of(admin)["log-level"] == "debug"
        assert harness.shoalctl(port, "get", "k").stdout == "v\n"
    finally:
        node.stop(timeout=5)


def start_node_with_config(tmp_path, node_id, port, members, config_path, admin_port):
    args = [str(harness.BIN / "shoal-node"), "--id", node_id, "--listen", f"127.0.0.1:{port}",
            "--data-dir", str(tmp_path / f"d-{node_id}"), "--warmup-ms", "0",
            "--nodes", harness.member_list(members), "--admin", f"127.0.0.1:{admin_port}",
            "--config", str(config_path)]
    return harness.Process(f"node-{node_id}", args, port, tmp_path / f"node-{node_id}.log")


def node_info(port):
    from test_node_protocol import info
    return info(port)


def test_node_reload_anti_entropy_interval(tmp_path):
    """anti-entropy-interval-ms applies at once: from 0 (on demand only) to 200 ms the rounds
    start, back to 0 they stop; an interval the running --tombstone-grace-ms cannot cover is
    refused whole (the grace changes only at a restart)."""
    ports = {"a": harness.free_port(), "b": harness.free_port()}
    config = tmp_path / "a.yaml"
    config.write_text("anti_entropy_interval_ms: 0\n")
    admin = harness.free_port()
    procs = []
    try:
        procs.append(harness.start_node(tmp_path, "b", port=ports["b"], members=ports,
                                        extra=("--admin", "", "--anti-entropy-interval-ms", "0")))
        a = start_node_with_config(tmp_path, "a", ports["a"], ports, config, admin)
        procs.append(a)
        wait_admin(admin)
        time.sleep(0.5)
        assert node_info(ports["a"])["antientropy_rounds"] == 0

        config.write_text("anti_entropy_interval_ms: 200\n")
        hup(a, 0)
        assert "anti-entropy-interval-ms 0 -> 200" in a.log()
        assert config_of(admin)["anti-entropy-interval-ms"] == "200"
        assert harness.wait_until(lambda: node_info(ports["a"])["antientropy_rounds"] >= 3,
                                  timeout=harness.slow(10)), node_info(ports["a"])

        config.write_text("anti_entropy_interval_ms: 0\n")
        hup(a, 1)
        time.sleep(0.5)  # a round in progress ends
        rounds = node_info(ports["a"])["antientropy_rounds"]
        time.sleep(1.0)
        assert node_info(ports["a"])["antientropy_rounds"] == rounds

        # 1 h fits the graces the file asks for (1 day), not the running one (4 h 2 min).
        config.write_text("anti_entropy_interval_ms: 3600000\ntombstone_grace_ms: 86400000\n"
                          "element_tombstone_grace_ms: 86400000\n")
        hup(a, 2)
        tail = a.log().split("SIGHUP")[-1]
        assert "is not valid, nothing changed" in tail and "a --tombstone-grace-ms" in tail, tail
        assert config_of(admin)["anti-entropy-interval-ms"] == "0"
    finally:
        for p in procs:
            p.stop(timeout=5)


def test_node_reload_hint_replay_rate(tmp_path):
    """hint-replay-rate applies at once: hints trickling to their target at 1 per second drain
    within seconds once the rate is raised."""
    from test_node_hints import hint_put
    from node_wire import NodeConnection

    ports = {"a": harness.free_port(), "b": harness.free_port()}
    config = tmp_path / "b.yaml"
    config.write_text("hint_replay_rate: 1\nanti_entropy_interval_ms: 0\n")
    admin = harness.free_port()
    procs = []
    try:
        holder = start_node_with_config(tmp_path, "b", ports["b"], ports, config, admin)
        procs.append(holder)
        with NodeConnection(ports["b"]) as conn:
            conn.hello()
            for i in range(40):
                name, body = hint_put(conn, "a", b"hinted-%02d" % i)
                assert name == "HintAck" and body["stored"], body
        assert node_info(ports["b"])["hints_pending"] == 40
        procs.append(harness.start_node(tmp_path, "a", port=ports["a"], members=ports,
                                        extra=("--admin", "", "--anti-entropy-interval-ms", "0")))
        assert harness.wait_until(lambda: node_info(ports["b"])["hints_replayed"] >= 1,
                                  timeout=harness.slow(15)), node_info(ports["b"])
        time.sleep(2)
        assert node_info(ports["b"])["hints_pending"] >= 30  # 1 per second

        config.write_text("hint_replay_rate: 100000\nanti_entropy_interval_ms: 0\n")
        hup(holder, 0)
        assert "hint-replay-rate 1 -> 100000" in holder.log()
        assert harness.wait_until(lambda: node_info(ports["b"])["hints_pending"] == 0,
                                  timeout=harness.slow(5)), node_info(ports["b"])
        assert node_info(ports["b"])["hints_replayed"] == 40
    finally:
        for p in procs:
            p.stop(timeout=5)


def test_proxy_reload_client_limits(cluster, tmp_path):
    """max-keys-per-command, client-output-buffer-limit and max-pipeline apply at once, to
    connections already open too."""
    nodes, procs = cluster
    config = tmp_path / "proxy.yaml"
    config.write_text("max_keys_per_command: 100\n")
    admin = harness.free_port()
    proxy = start_proxy_with_config(tmp_path, list(nodes.values()), config, admin)
    procs.append(proxy)
    wait_admin(admin)
    client = redis.Redis(port=proxy.port)
    client.set("big", "x" * 100_000)
    assert client.mget("k1", "k2", "k3") == [None, None, None]

    config.write_text("max_keys_per_command: 2\nclient_output_buffer_limit: 10kb\n"
                      "max_pipeline: 4\n")
    hup(proxy, 0)
    log = proxy.log()
    assert "max-keys-per-command 100 -> 2" in log, log
    cfg = config_of(admin)
    assert (cfg["max-keys-per-command"], cfg["client-output-buffer-limit"],
            cfg["max-pipeline"]) == ("2", str(10 << 10), "4")
    with pytest.raises(redis.ResponseError, match="max-keys-per-command is 2"):
        client.mget("k1", "k2", "k3")  # the connection opened before the reload
    assert client.mget("k1", "k2") == [None, None]
    # A reply larger than the new output limit closes the connection (Redis's behaviour).
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=proxy.port, retry_on_timeout=False).get("big")
    # 50 reads pipelined at once: reading pauses at 4 unanswered ones.
    _, _, before = http(admin, "/metrics")
    with harness.RespConn(proxy.port) as conn:
        conn.send_raw(b"".join(harness.RespConn.encode("GET", f"p{i}") for i in range(50)))
        for _ in range(50):
            assert conn.read_reply() is None
    _, _, after = http(admin, "/metrics")

    def pauses_of(text):
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("shoal_proxy_client_pauses_total"))

    assert pauses_of(after) > pauses_of(before), (pauses_of(before), pauses_of(after))


def test_node_reload_stream_rate(tmp_path):
    """stream-rate applies at once: a node joining at 2 KB/s (minutes for its 200 KB of keys)
    finishes within seconds once the rate is lifted, the wait it was in included."""
    from test_admin import scrape, value
    from test_membership import node_args, start_seeded_nodes, states

    ports = {i: harness.free_port() for i in IDS}
    seeds = ",".join(f"127.0.0.1:{p}" for p in ports.values())
    procs = list(start_seeded_nodes(tmp_path, ports, seeds,
                                    ("--anti-entropy-interval-ms", "0")).values())
    try:
        assert harness.wait_until(lambda: states(ports["a"]) == dict.fromkeys(IDS, "NORMAL"),
                                  timeout=harness.slow(15)), states(ports["a"])
        r = harness.shoalctl(ports["a"], "fill", "--count", "300", "--value-size", "1kb")
        assert r.returncode == 0, r.stderr
        config = tmp_path / "d.yaml"
        config.write_text("stream_rate: 2kb\njoin_wait: 0s\nanti_entropy_interval_ms: 0\n")
        port, admin = harness.free_port(), harness.free_port()
        joiner = harness.Process("node-d", node_args(tmp_path, "d", port, seeds, (
            "--config", str(config), "--admin", f"127.0.0.1:{admin}")), port,
            tmp_path / "node-d.log", wait=False)
        procs.append(joiner)
        joiner.wait_ready(timeout=30)
        wait_admin(admin)

        def streamed():
            return value(scrape(admin)[0], "shoal_rebalance_bytes_streamed_total")
        assert harness.wait_until(lambda: streamed() > 0, timeout=harness.slow(15)), joiner.log()
        time.sleep(2)
        assert states(ports["a"]).get("d") == "JOINING"  # paced: far from done
        assert streamed() < 150 * 1024

        config.write_text("stream_rate: 0\njoin_wait: 0s\nanti_entropy_interval_ms: 0\n")
        hup(joiner, 0)
        assert "stream-rate 2048 -> 0" in joiner.log(), joiner.log()[-2000:]
        assert harness.wait_until(lambda: states(ports["a"]).get("d") == "NORMAL",
                                  timeout=harness.slow(10)), joiner.log()[-2000:]
        gained = value(scrape(admin)[0], "shoal_rebalance_keys_joined_total")
        assert 150 < gained < 300 and value(scrape(admin)[0], "shoal_node_keys") == gained
        assert config_of(admin)["stream-rate"] == "0"
    finally:
        for p in procs:
            p.stop(timeout=5)
