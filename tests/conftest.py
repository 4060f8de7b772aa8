import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, os.path.dirname(__file__))  # shared test facts (pycls_regnet_zoo)


# one private Ray cluster per test module that asks for it (the sweep tests)

@pytest.fixture(scope="module")
def ray_cluster():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    from designspace.sweep import _start_ray

    _start_ray(None)
    yield ray
    ray.shutdown()
