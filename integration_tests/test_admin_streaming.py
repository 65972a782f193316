"""Stream progress on /metrics (issue 10; docs/operations.md, docs/membership.md): the counters of
the keys a ring change moves account for every key that moved, once.

Three gossiping nodes hold 600 keys (N=3: each holds all). A fourth joins: every key it now holds
was applied there once, either pulled by its join (`shoal_rebalance_keys_joined_total` on the
joiner) or pushed to it by a previous owner (`shoal_rebalance_keys_pushed_total` on the senders),
and it holds exactly the keys the ring gives it; streaming being Merkle-guided, the join pulled
each once and the previous owners' hand-offs sent nothing. Then a member is killed and removed with
`shoalctl remove`: the survivors push each key a new owner lacks, so the senders' pushed counters
sum to the keys the receivers gained. Anti-entropy is off, so nothing
else moves keys.
"""
import json
from pathlib import Path

import redis

import harness
from harness import free_port, shoalctl, slow, wait_until
from test_admin import scrape, value, wait_admin
from test_membership import SeededCluster, held_by, node_args, states

KEYS = [f"s{i}" for i in range(600)]
EXTRA = ("--anti-entropy-interval-ms", "0", "--join-wait", "1s")


class MeteredCluster(SeededCluster):
    """SeededCluster whose nodes each have their own admin endpoint (self.admin[id])."""

    def __init__(self, tmp_path, ids, extra=EXTRA):
        # Not SeededCluster.__init__: each node gets its own admin endpoint.
        self.tmp = tmp_path
        self.extra = extra
        self.admin, self.procs = {}, {}
        self.ports = {i: free_port() for i in ids}
        self.seeds = ",".join(f"127.0.0.1:{p}" for p in self.ports.values())
        for i in ids:
            self.launch(i)
        for i in ids:
            p = self.procs[i]
            p.wait_ready(timeout=30)
        port = free_port()
        self.proxy = harness.Process(
            "proxy",
            [str(harness.BIN / "shoal-proxy"), "--listen", f"127.0.0.1:{port}", "--seeds",
             f"127.0.0.1:{self.ports[ids[0]]}", "--members-refresh-ms", "200", "--timeout-ms",
             str(int(slow(500))), "--log-level", "info"],
            port, Path(tmp_path) / f"proxy-{port}.log")
        self.client = redis.Redis(port=port, socket_timeout=slow(5))

    def launch(self, node_id, log_suffix=""):
        """Starts node `node_id` (again: same port, data directory and admin endpoint)."""
        port = self.ports.setdefault(node_id, free_port())
        admin = self.admin.setdefault(node_id, free_port())
        args = node_args(self.tmp, node_id, port, self.seeds,
                         (*self.extra, "--admin", f"127.0.0.1:{admin}"))
        self.procs[node_id] = harness.Process(
            f"node-{node_id}", args, port,
            Path(self.tmp) / f"node-{node_id}-{port}{log_suffix}.log", wait=False)

    def metric(self, node_id, name):
        return value(scrape(self.admin[node_id])[0], name)


def test_stream_counters_account_for_every_key_moved(tmp_path):
    ids = ["a", "b", "c"]
    cluster = MeteredCluster(tmp_path, ids)
    try:
        cluster.wait_all_normal(ids)
        for key in KEYS:
            assert cluster.client.set(key, "v" + key)
        for i in ids:  # QUORUM acknowledged: wait for the third replica of every key
            assert wait_until(lambda: held_by(cluster.ports[i], KEYS) == set(KEYS),
                              timeout=slow(10)), i
            wait_admin(cluster.admin[i])
        pushed0 = {i: cluster.metric(i, "shoal_rebalance_keys_pushed_total") for i in ids}
        stale0 = {i: cluster.metric(i, "shoal_rebalance_keys_stale_total") for i in ids}
        handoffs0 = {i: cluster.metric(i, "shoal_rebalance_handoffs_total") for i in ids}

        # d joins: it pulls the ranges it gains, then turns NORMAL.
        cluster.launch("d")
        d = cluster.procs["d"]
        d.wait_ready(timeout=30)
        wait_admin(cluster.admin["d"])
        everyone = ids + ["d"]
        cluster.wait_all_normal(everyone)
        assert wait_until(lambda: "d" in {o for k in KEYS[:60] for o in cluster.owners(k)},
                          timeout=slow(10))
        gained = [k for k in KEYS if "d" in cluster.owners(k)]
        assert 0.6 * len(KEYS) < len(gained) < 0.9 * len(KEYS), len(gained)  # about 3/4

        def join_moved():
            return cluster.metric("d", "shoal_rebalance_keys_joined_total") + sum(
                cluster.metric(i, "shoal_rebalance_keys_pushed_total") - pushed0[i]
                for i in ids)
        # The previous owners' pushes after d turned NORMAL come within a gossip interval or two.
        assert wait_until(lambda: join_moved() == len(gained), timeout=slow(10)), (
            join_moved(), len(gained))
        assert held_by(cluster.ports["d"], KEYS) == set(gained)
        assert cluster.metric("d", "shoal_node_keys") == len(gained)
        # d pulled every key it owns before it turned NORMAL, each once (Merkle-guided: after
        # the pull from one member, the slices it shares with the next compare equal where they
        # overlap). The previous owners then handed the ring change off (each compared its pair
        # with d): nothing differed, so none sent d a key, not even one refused as stale.
        assert cluster.metric("d", "shoal_rebalance_keys_joined_total") == len(gained)
        assert wait_until(lambda: all(cluster.metric(i, "shoal_rebalance_handoffs_total")
                                      > handoffs0[i] for i in ids), timeout=slow(10))
        assert sum(cluster.metric(i, "shoal_rebalance_keys_stale_total") - stale0[i]
                   for i in ids) == 0
        assert sum(cluster.metric(i, "shoal_rebalance_keys_pushed_total") - pushed0[i]
                   for i in ids) == 0
        # Each gained key's bytes moved exactly once.
        gained_bytes = sum(len(k) + len("v" + k) for k in gained)
        streamed = cluster.metric("d", "shoal_rebalance_bytes_streamed_total")
        assert streamed == gained_bytes, (streamed, gained_bytes)

        # c dies and is removed at once: with three members left and N=3 each survivor owns every
        # key. a and b still hold every key (a node keeps the keys it stops owning), d only those
        # it gained: the survivors push d each key it lacks (the others refuse theirs as stale).
        survivors = ["a", "b", "d"]
        lacking = sum(len(set(KEYS) - held_by(cluster.ports[i], KEYS)) for i in survivors)
        assert lacking == len(KEYS) - len(gained)
        before = {i: {n: cluster.metric(i, n) for n in
                      ("shoal_rebalance_keys_pushed_total", "shoal_node_keys")}
                  for i in survivors}
        cluster.procs["c"].kill()
        out = shoalctl(cluster.ports["a"], "remove", "c", "--json")
        assert out.returncode == 0, out
        assert "REMOVED" in json.loads(out.stdout)["message"], out.stdout
        for i in survivors:
            assert wait_until(lambda: states(cluster.ports[i]).get("c") == "REMOVED",
                              timeout=slow(10)), i
        # a marked c REMOVED (the operator's removal, through one of its shards); b and d only
        # learned it by gossip.
        assert cluster.metric("a", "shoal_gossip_members_removed_total") == 1
        assert cluster.metric("b", "shoal_gossip_members_removed_total") == 0
        assert cluster.metric("d", "shoal_gossip_members_removed_total") == 0

        def gains(name):
            return sum(cluster.metric(i, name) - before[i][name] for i in survivors)
        assert wait_until(lambda: gains("shoal_node_keys") == lacking,
                          timeout=slow(15)), (gains("shoal_node_keys"), lacking)
        assert wait_until(lambda: gains("shoal_rebalance_keys_pushed_total") == lacking,
                          timeout=slow(5)), (gains("shoal_rebalance_keys_pushed_total"), lacking)
        for i in survivors:
            assert held_by(cluster.ports[i], KEYS) == set(KEYS), i
            assert cluster.metric(i, "shoal_node_keys") == len(KEYS), i
        assert cluster.metric("d", "shoal_rebalance_failures_total") == 0
    finally:
        cluster.close()
