"""GET /debug/pprof/profile?seconds=N on both binaries' admin endpoints (common/admin/
cpu_profile.h): a CPU profile in gperftools' format that `google-pprof` reads (when installed),
taken while the process serves; bad arguments are 400, a second profile at once 503."""
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest
import redis

import harness
from test_admin import cluster, http  # noqa: F401  (the fixture)

# gperftools' CPU profile header: five 64-bit words 0, 3, 0, period, 0 (legacy binary format).
MAGIC = (0).to_bytes(8, "little") + (3).to_bytes(8, "little") + (0).to_bytes(8, "little")


def fetch_profile(port, seconds):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={seconds}",
                                timeout=harness.slow(seconds + 20)) as r:
        return r.status, r.headers["Content-Type"], r.read()


def busy(proxy_port, stop):
    c = redis.Redis(port=proxy_port, password="s3cret-pass")  # test_admin's cluster
    i = 0
    while not stop.is_set():
        c.set(f"prof:{i % 500}", "x" * 100)
        c.get(f"prof:{i % 500}")
        i += 1


@pytest.mark.parametrize("which", ["node", "proxy"])
def test_cpu_profile_under_load(cluster, tmp_path, which):  # noqa: F811
    nodes, admin, proxy, proxy_admin = cluster
    port = admin["a"] if which == "node" else proxy_admin
    binary = harness.BIN / ("shoal-node" if which == "node" else "shoal-proxy")
    stop = threading.Event()
    load = threading.Thread(target=busy, args=(proxy.port, stop))
    load.start()
    try:
        status, ctype, body = fetch_profile(port, 2)
    finally:
        stop.set()
        load.join()
    assert status == 200 and ctype == "application/octet-stream"
    assert len(body) > 40 and body.startswith(MAGIC), body[:40]
    profile = tmp_path / "cpu.prof"
    profile.write_bytes(body)
    pprof = shutil.which("google-pprof") or shutil.which("pprof")
    if pprof is None:
        pytest.skip("google-pprof not installed (Debian package google-perftools)")
    r = subprocess.run([pprof, "--text", str(binary), str(profile)], capture_output=True,
                       text=True, timeout=harness.slow(120))
    assert r.returncode == 0, r.stderr
    # At least one sample, attributed to the binary's own functions or its libraries.
    assert "Total:" in r.stdout and "samples" in r.stdout, r.stdout[:2000]


def test_profile_arguments_and_one_at_a_time(cluster):  # noqa: F811
    nodes, admin, proxy, proxy_admin = cluster
    for bad in ("0", "61", "x", "-1", "1.5"):
        status, _, body = http(proxy_admin, f"/debug/pprof/profile?seconds={bad}")
        assert status == 400 and "seconds must be 1 to 60" in body, (bad, status, body)
    assert http(proxy_admin, "/debug/pprof/profile?seconds=1", method="POST")[0] == 405
    results = []
    first = threading.Thread(target=lambda: results.append(fetch_profile(admin["b"], 3)))
    first.start()
    time.sleep(1)  # the first request has reached the node (it runs for 3 s)
    status, _, body = http(admin["b"], "/debug/pprof/profile?seconds=1")
    first.join()
    assert status == 503 and "being taken already" in body, (status, body)
    assert results and results[0][0] == 200
    # The endpoint still answers while nothing is profiled.
    assert http(admin["b"], "/healthz")[0] == 200
