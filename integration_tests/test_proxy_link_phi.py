"""The proxy's own phi-accrual view of each node link (issue 9; docs/membership.md, "The proxy's
view of its links"): a hung node (SIGSTOP) is suspected from the silence of its link, shown
`link: down` with its `link_phi` above --phi-threshold in SHOAL.MEMBERS, INFO and /metrics, and
skipped, so that reads and writes at QUORUM do not wait for it; once it answers again it is back.

The proxy runs with a request timeout (3 s) and --down-after-timeouts (1000) so large that only
the phi detector can explain a quick skip."""
import contextlib
import json
import time
import urllib.request

import pytest

import harness
from conftest_proxy import Cluster, client

TIMEOUT_MS = 3000
THRESHOLD = 8.0


@pytest.fixture
def cluster(tmp_path):
    admin = harness.free_port()
    c = Cluster(tmp_path, proxy_extra=("--timeout-ms", str(TIMEOUT_MS), "--threads", "2",
                                       "--down-after-timeouts", "1000",
                                       "--admin", f"127.0.0.1:{admin}"))
    c.admin = admin
    yield c
    c.close()


def members(r):
    """SHOAL.MEMBERS as {id: {field: value}}."""
    out = {}
    for entry in r.execute_command("SHOAL.MEMBERS"):
        fields = dict(zip(entry[::2], entry[1::2]))
        out[fields["id"]] = fields
    return out


def info_node(r, node_id):
    """INFO's node_<id> line (address=...,status=...,phi=...), as redis-py parses it: a dict."""
    return r.info()[f"node_{node_id}"]


def admin_get(admin_port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}{path}",
                                timeout=harness.slow(10)) as resp:
        return resp.read().decode()


def admin_members(admin_port):
    """The proxy's GET /members (static membership) as {id: member}."""
    return {m["id"]: m for m in json.loads(admin_get(admin_port, "/members"))["members"]}


def metric(admin_port, name, node):
    """One sample of the proxy's /metrics page."""
    text = admin_get(admin_port, "/metrics")
    prefix = f'{name}{{node="{node}"}} '
    return float(next(l for l in text.splitlines() if l.startswith(prefix))[len(prefix):])


def test_a_hung_node_is_suspected_skipped_and_back_when_it_answers(cluster):
    r = client(cluster.proxy.port)
    r.execute_command("SHOAL.CONSISTENCY", "ALL", "ALL")
    for i in range(30):
        assert r.set(f"k:{i}", f"v{i}")
    # Idle links are pinged and answer: low phi, every link up.
    time.sleep(0.5)
    rows = members(r)
    assert {i: f["link"] for i, f in rows.items()} == {"a": "up", "b": "up", "c": "up"}, rows
    assert all(float(f["link_phi"]) < 1 for f in rows.values()), rows

    harness.pause(cluster.nodes["c"])
    try:
        paused = time.monotonic()
        # No client traffic: the pings' silence alone gets c suspected (~0.5 s at the default
        # --link-ping-ms 100), long before any request could time out.
        assert harness.wait_until(lambda: members(r)["c"]["link"] == "down", timeout=5,
                                  interval=0.02), members(r)
        suspected_after = time.monotonic() - paused
        rows = members(r)
        assert float(rows["c"]["link_phi"]) > THRESHOLD, rows
        assert rows["a"]["link"] == rows["b"]["link"] == "up", rows
        assert info_node(r, "c")["status"] == "down"
        assert float(info_node(r, "c")["phi"]) > THRESHOLD
        assert metric(cluster.admin, "shoal_proxy_upstream_phi", "c") > THRESHOLD
        assert metric(cluster.admin, "shoal_proxy_upstream_up", "c") == 0
        assert metric(cluster.admin, "shoal_proxy_upstream_phi", "a") < THRESHOLD
        listed = admin_members(cluster.admin)
        assert listed["c"]["state"] == "down" and listed["c"]["link_phi"] > THRESHOLD, listed
        assert listed["a"]["state"] == "up" and listed["a"]["link_phi"] < THRESHOLD, listed
        assert suspected_after < harness.slow(2), suspected_after

        # Skipped: QUORUM reads and writes are answered by a and b without waiting for c (a
        # request sent to c would wait TIMEOUT_MS, and c is the value replica of a third of
        # the reads).
        r.execute_command("SHOAL.CONSISTENCY", "QUORUM", "QUORUM")
        start = time.monotonic()
        slowest = 0.0
        for i in range(30):
            t = time.monotonic()
            assert r.get(f"k:{i}") == f"v{i}"
            assert r.set(f"k:{i}", f"w{i}")
            slowest = max(slowest, time.monotonic() - t)
        took = time.monotonic() - start
        assert slowest < TIMEOUT_MS / 1000 / 2, f"slowest read+write took {slowest:.2f}s"
        assert took < harness.slow(3), f"60 operations took {took:.2f}s"
        # And no request to it timed out: it was skipped, not waited for.
        assert int(r.info()["node_request_timeouts"]) == 0
        # Still suspected, not marked down by timeouts or a failed connection.
        assert members(r)["c"]["link"] == "down"
        assert "node c at" in cluster.proxy.log() and "is suspected" in cluster.proxy.log()
        assert "consecutive requests timed out" not in cluster.proxy.log()
    finally:
        harness.resume(cluster.nodes["c"])
    resumed = time.monotonic()
    # Its first answer (to the ping waiting in its socket) brings it back at once.
    assert harness.wait_until(lambda: members(r)["c"]["link"] == "up", timeout=5,
                              interval=0.02), members(r)
    back_after = time.monotonic() - resumed
    assert float(members(r)["c"]["link_phi"]) < THRESHOLD
    assert "node c at" in cluster.proxy.log() and "answers again" in cluster.proxy.log()
    assert back_after < harness.slow(2), back_after
    r.execute_command("SHOAL.CONSISTENCY", "ALL", "ALL")
    for i in range(30):
        assert r.get(f"k:{i}") == f"w{i}"  # read at ALL: c answers again (repaired if stale)
    assert r.set("after", "x")
    print(f"suspected after {suspected_after:.2f}s, in service {back_after:.3f}s after SIGCONT")


@contextlib.contextmanager
def node_c_paused(tmp_path, *proxy_extra):
    """A cluster whose proxy runs with `proxy_extra` (one worker), a key written, then node c
    SIGSTOPped for the block; yields (cluster, redis-py client). The caller may resume c."""
    c = Cluster(tmp_path, proxy_extra=("--threads", "1", *proxy_extra))
    try:
        r = client(c.proxy.port)
        assert r.set("k", "v")
        harness.pause(c.nodes["c"])
        try:
            yield c, r
        finally:
            harness.resume(c.nodes["c"])
    finally:
        c.close()


def test_link_ping_0_turns_the_detector_off(tmp_path):
    with node_c_paused(tmp_path, "--timeout-ms", str(TIMEOUT_MS), "--link-ping-ms", "0") as (_, r):
        # An idle link is not pinged, so nothing is owed and nothing suspected.
        time.sleep(1.5)
        rows = members(r)
        assert rows["c"]["link"] == "up" and float(rows["c"]["link_phi"]) == 0, rows


def test_a_lasting_suspicion_marks_the_node_down_and_the_link_reconnects(tmp_path):
    """A suspected node gets no requests that could time out, so a dead connection (a partition
    drops packets without a reset) would only heal through TCP's retransmits of the ping: after
    --down-after-timeouts x --timeout-ms of silence the link is failed and reconnects."""
    with node_c_paused(tmp_path, "--timeout-ms", "300", "--down-after-timeouts", "2") as (c, r):
        assert harness.wait_until(lambda: "while suspected" in c.proxy.log(), timeout=5), (
            c.proxy.log()[-2000:])
        log = c.proxy.log()
        # Suspected first (phi), then marked down by the lasting silence, not by timeouts.
        assert log.index("is suspected") < log.index("while suspected")
        assert "consecutive requests timed out" not in log
        assert members(r)["c"]["link"] == "down"
        assert info_node(r, "c")["status"] == "down"
        harness.resume(c.nodes["c"])
        # A reconnection's Hello is answered: in service again.
        assert harness.wait_until(lambda: members(r)["c"]["link"] == "up", timeout=10), members(r)
        r.execute_command("SHOAL.CONSISTENCY", "ALL", "ALL")
        assert r.set("k", "w") and r.get("k") == "w"
