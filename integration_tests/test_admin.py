"""The admin HTTP endpoint of both binaries (--admin HOST:PORT, common/admin/): Prometheus
metrics that move by the right amounts after a known workload, `promtool check metrics` on both
outputs (when the Debian package `prometheus` is installed), and every endpoint's status codes.
"""
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
import redis

import harness

IDS = ("a", "b", "c")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http(port, path, method="GET", data=None):
    """(status, headers, body text) of one request to 127.0.0.1:port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=harness.slow(10)) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def wait_admin(port):
    """The admin endpoint starts just after the data port (the harness waits for that one)."""
    def up():
        try:
            return http(port, "/healthz")[0] == 200
        except OSError:
            return False
    harness.wait_until(up, timeout=harness.slow(10))


def scrape(port):
    """{(name, frozenset(labels)): value} of a /metrics page (and the raw text)."""
    status, headers, text = http(port, "/metrics")
    assert status == 200, text
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, text


def value(samples, name, **labels):
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def cluster(tmp_path):
    """Three nodes (members of each other, no periodic anti-entropy) and one proxy, each with an
    admin endpoint on a free port; yields (nodes, node_admin_ports, proxy, proxy_admin_port)."""
    ports = {i: harness.free_port() for i in IDS}
    admin = {i: harness.free_port() for i in IDS}
    nodes = {}
    procs = []
    try:
        for i in IDS:
            nodes[i] = harness.start_node(
                tmp_path, i, port=ports[i], members=ports,
                extra=("--admin", f"127.0.0.1:{admin[i]}", "--anti-entropy-interval-ms", "0"))
            procs.append(nodes[i])
        proxy_admin = harness.free_port()
        proxy = harness.start_proxy(tmp_path, list(nodes.values()),
                                    extra=("--admin", f"127.0.0.1:{proxy_admin}",
                                           "--requirepass", "s3cret-pass", "--timeout-ms", "2000"))
        procs.append(proxy)
        for port in (*admin.values(), proxy_admin):
            wait_admin(port)
        harness.wait_until(lambda: http(proxy_admin, "/readyz")[0] == 200, timeout=harness.slow(10))
        yield nodes, admin, proxy, proxy_admin
    finally:
        for p in procs:
            p.stop(timeout=5)


def test_metrics_move_by_the_workload(cluster):
    nodes, node_admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port, password="s3cret-pass")
    p_before, _ = scrape(proxy_admin)
    n_before = {i: scrape(node_admin[i])[0] for i in IDS}
    writes, reads, misses = 40, 25, 5
    for k in range(writes):
        assert client.set(f"metrics:{k}", "v" * 10) is True
    for k in range(reads):
        assert client.get(f"metrics:{k}") == b"v" * 10
    for k in range(misses):
        assert client.get(f"absent:{k}") is None
    with pytest.raises(redis.ResponseError):
        client.execute_command("NOSUCHCOMMAND", "x")
    p_after, _ = scrape(proxy_admin)
    n_after = {i: scrape(node_admin[i])[0] for i in IDS}

    name = "shoal_proxy_requests_total"
    assert delta(p_before, p_after, name, command="set", consistency="quorum", result="ok") == writes
    assert delta(p_before, p_after, name, command="get", consistency="quorum",
                 result="ok") == reads + misses
    assert delta(p_before, p_after, name, command="unknown", consistency="none",
                 result="error") == 1
    assert delta(p_before, p_after, "shoal_proxy_request_duration_seconds_count",
                 **{"class": "write"}) == writes
    assert delta(p_before, p_after, "shoal_proxy_request_duration_seconds_count",
                 **{"class": "read"}) == reads + misses
    # N=3 over 3 nodes: every write and every read goes to all three replicas, one request each.
    for i in IDS:
        assert delta(p_before, p_after, "shoal_proxy_upstream_requests_total",
                     node=i) == writes + reads + misses, i
        assert value(p_after, "shoal_proxy_upstream_failures_total", node=i) == 0
        assert value(p_after, "shoal_proxy_upstream_up", node=i) == 1
        # A gauge set by each worker's tick (every 50 ms at most), not on the request path.
        assert harness.wait_until(lambda: value(scrape(proxy_admin)[0],
                                                "shoal_proxy_upstream_connections", node=i) >= 1,
                                  timeout=harness.slow(5)), i
    assert value(p_after, "shoal_proxy_client_connections") >= 1
    # Three more clients: the gauge and the accepted counter move by three; closed, back down.
    extra = [redis.Redis(port=proxy.port, password="s3cret-pass") for _ in range(3)]
    for c in extra:
        assert c.ping()
    opened, _ = scrape(proxy_admin)
    assert delta(p_after, opened, "shoal_proxy_client_connections") == 3
    assert delta(p_after, opened, "shoal_proxy_client_connections_accepted_total") == 3
    for c in extra:
        c.connection_pool.disconnect()  # redis-py 4.3's close() keeps the pool's connection
    assert harness.wait_until(lambda: value(scrape(proxy_admin)[0],
                                            "shoal_proxy_client_connections")
                              == value(p_after, "shoal_proxy_client_connections"),
                              timeout=harness.slow(5))
    assert value(p_after, "shoal_proxy_quorum_failures_total") == 0

    for i in IDS:
        b, a = n_before[i], n_after[i]
        assert delta(b, a, "shoal_node_requests_total", type="Put") == writes, i
        assert delta(b, a, "shoal_node_requests_total", type="Get") == reads + misses, i
        assert delta(b, a, "shoal_node_request_duration_seconds_count", type="Put") == writes, i
        assert value(a, "shoal_node_keys") == writes, i  # every node holds every key (N=3)
        assert value(a, "shoal_node_memory_used_bytes") > 0
        assert value(a, "shoal_node_memory_limit_bytes") > value(a, "shoal_node_memory_used_bytes")
        assert value(a, "shoal_node_ready") == 1
        assert value(a, "shoal_node_hints_pending") == 0
        assert value(a, "shoal_node_sync_state", state="done") + value(
            a, "shoal_node_sync_state", state="off") == 1

    # INFO and /metrics read the same registry.
    info = client.info()  # counts itself; nothing else runs before the next scrape
    assert info["total_commands_processed"] == value(scrape(proxy_admin)[0],
                                                     "shoal_proxy_commands_processed_total")
    node_info = harness.shoalctl(nodes["a"].port, "info")
    assert node_info.returncode == 0, node_info.stderr
    assert re.search(rf"^keys\s*[:=]?\s*{writes}\s*$", node_info.stdout, re.M), node_info.stdout


def test_build_info_and_promtool(cluster, tmp_path):
    nodes, node_admin, proxy, proxy_admin = cluster
    redis.Redis(port=proxy.port, password="s3cret-pass").set("k", "v")
    for port in (proxy_admin, node_admin["a"]):
        samples, text = scrape(port)
        build = [ls for (n, ls), v in samples.items() if n == "shoal_build_info" and v == 1]
        assert len(build) == 1, text
        labels = dict(build[0])
        assert labels["version"] == "0.1.0"
        assert re.fullmatch(r"[0-9a-f]{7,40}|unknown", labels["revision"]), labels
        # Naming: one prefix, counters end in _total, no key ever appears as a label value.
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, metric, kind = line.split()
                assert metric.startswith("shoal_"), line
                assert (kind == "counter") == metric.endswith("_total"), line
        assert 'key="' not in text
        if shutil.which("promtool") is None:
            continue
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus): exposition not linted")


def test_endpoint_status_codes(cluster):
    nodes, node_admin, proxy, proxy_admin = cluster
    for port in (proxy_admin, node_admin["b"]):
        assert http(port, "/healthz")[:3:2] == (200, "ok\n")
        assert http(port, "/readyz")[0] == 200
        status, headers, body = http(port, "/config")
        assert status == 200 and headers["Content-Type"] == "application/json"
        config = json.loads(body)
        assert config["admin"] == f"127.0.0.1:{port}"
        status, _, body = http(port, "/ring")
        ring = json.loads(body)
        assert status == 200 and ring["replicas"] == 3
        assert [m["id"] for m in ring["members"]] == list(IDS)
        assert sum(m["primary_share"] for m in ring["members"]) == pytest.approx(1, abs=1e-4)
        for m in ring["members"]:  # 3 replicas on 3 nodes: each holds the whole space
            assert m["replica_share"] == pytest.approx(1, abs=1e-4)
        status, _, body = http(port, "/members")
        members = json.loads(body)["members"]
        assert status == 200 and [m["id"] for m in members] == list(IDS)
        assert http(port, "/nope")[0] == 404
        status, headers, _ = http(port, "/metrics", method="POST", data=b"")
        assert status == 405 and headers["Allow"] == "GET"
        status, headers, _ = http(port, "/loglevel", method="PUT", data=b"")
        assert status == 405 and set(headers["Allow"].split(", ")) == {"GET", "POST"}
        assert http(port, "/loglevel")[2] == "info\n"
        assert http(port, "/loglevel?level=debug", method="POST", data=b"")[:3:2] == (200,
                                                                                     "debug\n")
        assert http(port, "/loglevel")[2] == "debug\n"
        assert http(port, "/loglevel?level=loud", method="POST", data=b"")[0] == 400
        assert http(port, "/loglevel")[2] == "debug\n"
    # The proxy's password is masked, never shown.
    _, _, body = http(proxy_admin, "/config")
    assert json.loads(body)["requirepass"] == "<set>"
    assert "s3cret-pass" not in body
    assert json.loads(http(proxy_admin, "/members")[2])["members"][0]["state"] == "up"


def test_proxy_not_ready_without_a_quorum(cluster):
    nodes, node_admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port, password="s3cret-pass")
    nodes["a"].kill()
    nodes["b"].kill()
    # The proxy marks a node down once it cannot reach it; then no range has 2 of 3 replicas.
    def down():
        try:
            client.get("x")
        except redis.ResponseError:
            pass
        return http(proxy_admin, "/readyz")[0] == 503
    harness.wait_until(down, timeout=harness.slow(15))
    status, _, body = http(proxy_admin, "/readyz")
    assert status == 503 and "not ready" in body, body
    samples, _ = scrape(proxy_admin)
    assert value(samples, "shoal_proxy_upstream_up", node="a") == 0
    assert value(samples, "shoal_proxy_upstream_up", node="c") == 1
    assert value(samples, "shoal_proxy_ready") == 0
    # Each write that cannot reach a quorum is one quorum failure and one noquorum SET.
    for k in range(4):
        with pytest.raises(redis.ResponseError, match="NOQUORUM"):
            client.set(f"noquorum:{k}", "v")
    after, _ = scrape(proxy_admin)
    assert delta(samples, after, "shoal_proxy_quorum_failures_total") == 4
    assert delta(samples, after, "shoal_proxy_requests_total", command="set",
                 result="noquorum") == 4
    assert http(proxy_admin, "/healthz")[0] == 200  # alive all the same


def test_node_not_ready_while_warming_up(tmp_path):
    port = harness.free_port()
    data = tmp_path / "warm"
    node = harness.start_node(data, "w1", extra=("--admin", f"127.0.0.1:{port}"))
    node.stop()  # the data directory now holds a clock file: the next start warms up
    node = harness.start_node(data, "w1",
                              extra=("--admin", f"127.0.0.1:{port}", "--warmup-ms", "60000"))
    try:
        wait_admin(port)
        status, _, body = http(port, "/readyz")
        assert status == 503 and "warming up" in body, body
        assert http(port, "/healthz")[0] == 200
        assert value(scrape(port)[0], "shoal_node_ready") == 0
    finally:
        node.stop()


def test_admin_flag_errors(tmp_path):
    busy = harness.free_port()
    node = harness.start_node(tmp_path, "x1", extra=("--admin", f"127.0.0.1:{busy}"))
    try:
        # An explicit address in use is a start failure (exit 1), with the address named.
        r = subprocess.run([str(harness.BIN / "shoal-proxy"), "--listen",
                            f"127.0.0.1:{harness.free_port()}", "--nodes",
                            f"x1=127.0.0.1:{node.port}", "--admin", f"127.0.0.1:{busy}"],
                           capture_output=True, text=True, timeout=harness.slow(20))
        assert r.returncode == 1, r.stderr
        assert f"127.0.0.1:{busy}" in r.stderr
    finally:
        node.stop()
    for binary, args in (("shoal-node", ["--id", "y"]), ("shoal-proxy", ["--nodes", "y=h:1"])):
        r = subprocess.run([str(harness.BIN / binary), *args, "--admin", "nonsense",
                            "--check-config"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and "--admin" in r.stderr, (binary, r.stderr)
        r = subprocess.run([str(harness.BIN / binary), *args, "--log-format", "xml",
                            "--check-config"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and "--log-format" in r.stderr, (binary, r.stderr)
        # --check-config validates a file too: 0 for a valid one, 2 naming the bad key.
        config = tmp_path / f"{binary}.yaml"
        config.write_text("log_level: debug\nlog_format: json\nadmin: 127.0.0.1:9\n")
        r = subprocess.run([str(harness.BIN / binary), *args, "--config", str(config),
                            "--check-config"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, (binary, r.stderr)
        config.write_text("log_level: loud\n")
        r = subprocess.run([str(harness.BIN / binary), *args, "--config", str(config),
                            "--check-config"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and "log-level" in r.stderr, (binary, r.stderr)


def test_json_logs(tmp_path):
    node = harness.start_node(tmp_path, "j1", extra=("--log-format", "json", "--admin", ""))
    proxy = harness.start_proxy(tmp_path, [node], extra=("--log-format", "json", "--admin", "",
                                                         "--replicas", "1"))
    proxy.stop()
    node.stop()
    for process, logger in ((node, "shoal-node"), (proxy, "shoal-proxy")):
        lines = [l for l in process.log().splitlines() if l.strip()]
        assert lines
        for line in lines:
            record = json.loads(line)
            assert set(record) >= {"time", "level", "logger", "msg"}, record
            assert record["logger"] == logger


# The metrics issue 10 asks for (docs/operations.md lists them): each must be exported and charted
# on the dashboard. Histograms by their _bucket series.
DASHBOARD_REQUIRED = (
    # proxy
    "shoal_proxy_requests_total", "shoal_proxy_request_duration_seconds_bucket",
    "shoal_proxy_quorum_failures_total", "shoal_proxy_read_repairs_total",
    "shoal_proxy_hinted_writes_total", "shoal_proxy_sloppy_acks_total",
    "shoal_proxy_upstream_connections", "shoal_proxy_upstream_timeouts_total",
    "shoal_proxy_upstream_failures_total", "shoal_proxy_upstream_phi",
    "shoal_proxy_client_connections",
    "shoal_proxy_protocol_errors_total",
    # node
    "shoal_node_keys", "shoal_node_memory_used_bytes", "shoal_node_memory_limit_bytes",
    "shoal_node_evictions_total", "shoal_node_expirations_total", "shoal_node_requests_total",
    "shoal_node_request_duration_seconds_bucket", "shoal_node_hints_pending",
    "shoal_node_hints_pending_bytes", "shoal_node_hints_oldest_age_seconds",
    "shoal_node_hints_replayed_total", "shoal_node_hints_expired_total",
    "shoal_node_hints_refused_total", "shoal_node_antientropy_rounds_total",
    "shoal_node_antientropy_keys_repaired_total",
    # gossip, and stream progress (joins, ring-change pushes, hint hand-off, start-up sync)
    "shoal_gossip_member_state", "shoal_gossip_member_phi", "shoal_gossip_exchanges_total",
    "shoal_gossip_exchange_failures_total", "shoal_rebalance_keys_joined_total",
    "shoal_rebalance_keys_pushed_total", "shoal_rebalance_bytes_streamed_total",
    "shoal_rebalance_hints_handed_off_total", "shoal_rebalance_failures_total",
    "shoal_node_sync_keys_total", "shoal_node_sync_peers_done",
    # both
    "shoal_build_info",
)


def test_dashboard_queries_name_real_metrics(cluster, tmp_path):
    """k8s/grafana-dashboard.json charts every metric issue 10 asks for and only metrics the
    binaries export (a static cluster, and a node started with --seeds for the gossip and
    rebalance families), in valid PromQL."""
    nodes, node_admin, proxy, proxy_admin = cluster
    client = redis.Redis(port=proxy.port, password="s3cret-pass")
    client.set("k", "v")  # series appear on first use
    client.get("k")
    gossip_port, gossip_admin = harness.free_port(), harness.free_port()
    gossiping = harness.start_node(tmp_path / "gossip", "g", port=gossip_port, extra=(
        "--seeds", f"127.0.0.1:{gossip_port}", "--gossip-interval-ms", "200",
        "--admin", f"127.0.0.1:{gossip_admin}"))
    try:
        wait_admin(gossip_admin)
        exported = set()
        for port in (proxy_admin, node_admin["a"], gossip_admin):
            samples, _ = scrape(port)
            for name, _labels in samples:
                exported.add(name)
    finally:
        gossiping.stop()
    dashboard = json.loads((harness.ROOT / "k8s" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    charted = set()
    for expr in exprs:
        for name in re.findall(r"\b(shoal_[a-z_]+)", expr):
            assert name in exported, f"{name} (in {expr!r}) is not exported"
            charted.add(name)
    for name in DASHBOARD_REQUIRED:
        assert name in exported, f"{name} is not exported"
    assert sorted(set(DASHBOARD_REQUIRED) - charted) == []
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed: PromQL of the dashboard not parsed")
    rules = tmp_path / "rules.yaml"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(exprs):
        expr = expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace(
            "$instance", ".*")
        lines += [f"      - record: dashboard:expr{i}", f"        expr: {json.dumps(expr)}"]
    rules.write_text("\n".join(lines) + "\n")
    r = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
