"""Family options keep their JSON form and spec ids through the one-package-per-family move: golden
ids (and complexities) of one hand-written spec per family, computed before the move."""
import json

import pytest

from designspace import ModelSpec, complexity

SPECS = {
    "prn": {"stages": [{"depth": 2, "width": 32, "block": "res_basic", "family": {"prn": {"partial_ratio": 0.5, "shape_change": "proj"}}}]},
    "csp": {"stages": [{"depth": 3, "width": 64, "block": "res_bottleneck", "bottleneck_ratio": 2.0, "group_width": 8,
                        "family": {"csp": {"variant": "fusion_last", "split_ratio": 0.5, "split": "conv", "entry": "block"}}}]},
    "elan": {"stages": [{"depth": 4, "width": 64, "block": "res_basic", "family": {"elan": {"partial_ratio": 0.25, "hidden_ratio": 1.0, "convs": 4, "agg_every": 2, "blocks": 1, "transition": True, "entry": "mp"}}}]},
    "osa": {"stages": [{"depth": 5, "width": 64, "block": "res_basic", "family": {"osa": {"hidden": 16, "convs": 5, "transition": "last"}}}]},
    "stopgrad": {"stages": [{"depth": 2, "width": 16, "block": "res_basic", "family": {"stopgrad": "residual"}}]},
    "ode": {"stages": [{"depth": 4, "width": 16, "block": "res_basic", "family": {"ode": {"scheme": "rk4", "n": 1}}}]},
    "rep": {"stages": [{"depth": 1, "width": 16, "block": "res_basic"}], "family": {"rep": {"branches": [0, 1, 2], "internal_mult": 1}}},
    "condensenetv2": {"stages": [], "family": {"condensenetv2": {"blocks": [1, 1, 4, 6, 8], "growth": [8, 8, 16, 32, 64], "groups": 8, "condense": 8, "sfr": 8, "fc": 828}}},
}

GOLDEN = {  # id, cifar flops, cifar params (computed with the code before the restructure)
    "prn": ("234b4a8fbf4b2447", 10584394, 39466), "csp": ("2e3fe033e67cfa4d", 5997194, 19306),
    "elan": ("0f1ef878698e1977", 5800586, 19658), "osa": ("25f4f97eb27e0634", 6259338, 22858),
    "stopgrad": ("83eba411e1bb4318", 3965098, 13290), "ode": ("028eea1a825cd9e5", 6324394, 22634),
    "rep": ("092ab6c8ec422f62", 2785450, 8618), "condensenetv2": ("d5a6c8ddc392208f", 4216734, 1217734),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_family_specs_keep_their_json_and_ids(name):
    spec = ModelSpec.from_dict(SPECS[name])
    assert json.loads(spec.to_json())["family"] == SPECS[name].get("family", {})
    assert ModelSpec.from_json(spec.to_json()) == spec
    cx = complexity(spec, "cifar")
    assert (spec.id, cx["flops"], cx["params"]) == GOLDEN[name]


def test_sampling_and_costing_family_spaces_never_imports_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys
from designspace.spaces import get_space
from designspace import complexity
for name, band in [("AnyNetXE+csp", "2M:8M"), ("ResNetC4+elan", "2M:30M"), ("ResNetC4+osa_csp", "2M:30M"),
                   ("ResNetC4+ode_rk4_ho", "2M:30M"), ("AnyNetXE+act", "2M:8M"), ("RegNetX+rep", "2M:8M"),
                   ("CondenseNetV2", "3M:8M"), ("CondenseNetTwin", "3M:8M")]:
    space = get_space(name)
    complexity(space.sample(2, seed=0, regime="fashion-mnist", flops=band), "fashion-mnist")
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
