"""Redis's own test suites against a Shoal cluster (scripts/redis-suites.sh), when a Redis source
checkout is given in $SHOAL_REDIS_SRC (nothing is downloaded; skipped otherwise). The counts
must not fall below those recorded in the README ("Redis's own test suites"), and every suite
must run to its end."""
import os
import re
import subprocess

import pytest

import harness

REDIS_SRC = os.environ.get("SHOAL_REDIS_SRC", "")
# Passed tests per suite, measured with the 7.0.15 suites (README).
BASELINE = {"unit/type/string": 61, "unit/type/incr": 21, "unit/type/hash": 70, "unit/type/set": 91,
            "unit/expire": 57, "unit/keyspace": 33}


@pytest.mark.skipif(not REDIS_SRC, reason="set SHOAL_REDIS_SRC to a Redis source checkout")
def test_redis_suites_pass_at_least_the_recorded_counts(tmp_path):
    env = dict(os.environ, SHOAL_BIN=str(harness.BIN), SHOAL_SUITE_LOGS=str(tmp_path))
    res = subprocess.run([str(harness.ROOT / "scripts" / "redis-suites.sh"), REDIS_SRC,
                          *BASELINE], capture_output=True, text=True, env=env,
                         timeout=harness.slow(1800))
    assert res.returncode == 0, res.stdout + res.stderr
    passed = {m.group(1): int(m.group(2))
              for m in re.finditer(r"^(unit/\S+)\s+(\d+)\s", res.stdout, re.M)}
    for suite, floor in BASELINE.items():
        assert passed.get(suite, 0) >= floor, (suite, res.stdout)
