"""Test-only plugin families, installed the way any plugin is (docs/families.md): a module plus its
*.dist-info with a `designspace.families` entry point, in a folder put on the path. Nothing in
designspace/ knows them; tests/conftest.py writes them once per session (`test_plugins`), puts the
folder on the PYTHONPATH of the private Ray clusters (`ray_cluster`) and registers a family in the
test process for one test (`explode_family`).

explode: a wrapper family (model option {"explode": {}}) whose build raises RuntimeError, and the
space modifier +explode that puts the option on every model of a space. A trial of such a model
fails for real, as a family with a bug in its builder would: the sweep must store it as `failed`
and go on with the others."""
import textwrap
from pathlib import Path

EXPLODE_MODULE = "explode_family"
EXPLODE_MESSAGE = "explode family: this network cannot be built"

EXPLODE = textwrap.dedent(f'''
    """explode: networks that cannot be built (test-only plugin family of tests/plugin_families.py).

    Model option {{"explode": {{}}}}; a wrapper family: its complexity is the spec's without the option,
    its build raises RuntimeError. The space modifier +explode puts the option on every model."""
    import dataclasses

    from designspace.complexity import complexity
    from designspace.registry import Family, register_family
    from designspace.spaces import WrappedSpace, register_modifier
    from designspace.spec import FrozenDict

    KEY = "explode"


    def base(spec):
        return dataclasses.replace(spec, family=FrozenDict({{x: v for x, v in spec.family.items() if x != KEY}}))


    def explode_complexity(specs, regime):
        return complexity([base(s) for s in specs], regime)


    def explode_build(spec, regime):
        raise RuntimeError(f"{EXPLODE_MESSAGE} (spec {{spec.id}})")


    register_family(Family(name=KEY, kind="wrapper", keys=(KEY,), complexity=explode_complexity,
                           build=explode_build, description="test-only: build raises RuntimeError"))


    class ExplodeSpace(WrappedSpace):
        def __init__(self, base):  # the base's draws and costs: the option changes no cost
            super().__init__(base, KEY, "; every model fails to build (test-only)")

        def with_options(self, spec, i, dr):
            return dataclasses.replace(spec, family=FrozenDict({{**spec.family.thaw(), KEY: {{}}}}))


    register_modifier(KEY, ExplodeSpace)
''')

PLUGINS = {EXPLODE_MODULE: ("explode", EXPLODE)}  # module -> (entry point name, source)


def write_distribution(root, module: str, entry: str, source: str) -> Path:
    """`module`.py plus its dist-info declaring `entry` in the designspace.families group, under root."""
    root = Path(root)
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[designspace.families]\n{entry} = {module}\n")
    return root


def write_plugins(root) -> Path:
    """Every test plugin of this file under root (one folder to put on the path)."""
    for module, (entry, source) in PLUGINS.items():
        write_distribution(root, module, entry, source)
    return Path(root)
