"""Fixtures for the node integration tests (test_node*.py).

`node` is a shoal-node started on a free port for one test (2 shards, default flags), stopped
afterwards; `start_node` starts more (or with other flags), all stopped at the end of the test.
The proxy tests keep their fixtures in conftest_proxy.py.
"""
import pytest

import harness


@pytest.fixture
def start_node(tmp_path):
    started = []

    def start(node_id="n1", extra=()):
        proc = harness.start_node(tmp_path, node_id, extra=tuple(extra))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.alive():
            proc.stop()
        else:
            proc.kill()


@pytest.fixture
def node(start_node):
    return start_node("n1")
