import os
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, os.path.dirname(__file__))  # shared test facts (pycls_regnet_zoo, plugin_families)


@pytest.fixture(scope="session")
def test_plugins(tmp_path_factory):
    """A folder with the test-only plugin distributions of tests/plugin_families.py (not on any path
    by itself: `ray_cluster` and `explode_family` put it there)."""
    from plugin_families import write_plugins

    return write_plugins(tmp_path_factory.mktemp("plugins"))


# one private Ray cluster per test module that asks for it (the sweep tests)

@pytest.fixture(scope="module")
def ray_cluster(test_plugins):
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    from designspace.sweep.session import start_ray

    # The workers of a private cluster inherit this environment: with the test plugins on their
    # PYTHONPATH they find them through their entry points like any installed plugin. A plugin's
    # options are used only by the tests that register it in this process too (`explode_family`).
    plugins = str(test_plugins)
    os.environ["PYTHONPATH"] = os.pathsep.join([plugins, *(p for p in os.environ.get("PYTHONPATH", "").split(
        os.pathsep) if p)])
    try:
        start_ray(None)
        yield ray
    finally:
        ray.shutdown()
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in os.environ["PYTHONPATH"].split(os.pathsep)
                                                   if p and p != plugins)


@pytest.fixture
def explode_family(test_plugins, monkeypatch):
    """The test plugin `explode` (tests/plugin_families.py) loaded through its entry point in this
    process for one test; the registry and the space modifiers are as they were afterwards."""
    from importlib.metadata import entry_points

    from plugin_families import EXPLODE_MODULE

    from designspace import registry, spaces

    registry.load_families()  # built-ins and installed plugins first, into the dicts restored below
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    monkeypatch.setattr(registry, "_OWNER", dict(registry._OWNER))
    monkeypatch.setattr(spaces, "_MODIFIERS", dict(spaces._MODIFIERS))
    monkeypatch.syspath_prepend(str(test_plugins))
    monkeypatch.delitem(sys.modules, EXPLODE_MODULE, raising=False)
    (ep,) = [ep for ep in entry_points(group=registry.ENTRY_POINT_GROUP) if ep.value == EXPLODE_MODULE]
    ep.load()
    yield registry.families()["explode"]
    sys.modules.pop(EXPLODE_MODULE, None)
