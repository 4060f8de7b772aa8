"""Family options keep their JSON form and spec ids through the one-package-per-family move: golden
ids (and complexities) of one hand-written spec per family, computed before the move."""

import json

import pytest

from designspace import ModelSpec, complexity

SPECS = {
    "prn": {
        "stages": [
            {
                "depth": 2,
                "width": 32,
                "block": "res_basic",
                "family": {"prn": {"partial_ratio": 0.5, "shape_change": "proj"}},
            }
        ]
    },
    "csp": {
        "stages": [
            {
                "depth": 3,
                "width": 64,
                "block": "res_bottleneck",
                "bottleneck_ratio": 2.0,
                "group_width": 8,
                "family": {"csp": {"variant": "fusion_last", "split_ratio": 0.5, "split": "conv", "entry": "block"}},
            }
        ]
    },
    "elan": {
        "stages": [
            {
                "depth": 4,
                "width": 64,
                "block": "res_basic",
                "family": {
                    "elan": {
                        "partial_ratio": 0.25,
                        "hidden_ratio": 1.0,
                        "convs": 4,
                        "agg_every": 2,
                        "blocks": 1,
                        "transition": True,
                        "entry": "mp",
                    }
                },
            }
        ]
    },
    "osa": {
        "stages": [
            {
                "depth": 5,
                "width": 64,
                "block": "res_basic",
                "family": {"osa": {"hidden": 16, "convs": 5, "transition": "last"}},
            }
        ]
    },
    "stopgrad": {"stages": [{"depth": 2, "width": 16, "block": "res_basic", "family": {"stopgrad": "residual"}}]},
    "ode": {"stages": [{"depth": 4, "width": 16, "block": "res_basic", "family": {"ode": {"scheme": "rk4", "n": 1}}}]},
    "rep": {
        "stages": [{"depth": 1, "width": 16, "block": "res_basic"}],
        "family": {"rep": {"branches": [0, 1, 2], "internal_mult": 1}},
    },
    "condensenetv2": {
        "stages": [],
        "family": {
            "condensenetv2": {
                "blocks": [1, 1, 4, 6, 8],
                "growth": [8, 8, 16, 32, 64],
                "groups": 8,
                "condense": 8,
                "sfr": 8,
                "fc": 828,
            }
        },
    },
}

GOLDEN = {  # id, cifar flops, cifar params (computed with the code before the restructure)
    "prn": ("234b4a8fbf4b2447", 10584394, 39466),
    "csp": ("2e3fe033e67cfa4d", 5997194, 19306),
    "elan": ("0f1ef878698e1977", 5800586, 19658),
    "osa": ("25f4f97eb27e0634", 6259338, 22858),
    "stopgrad": ("83eba411e1bb4318", 3965098, 13290),
    "ode": ("028eea1a825cd9e5", 6324394, 22634),
    "rep": ("092ab6c8ec422f62", 2785450, 8618),
    "condensenetv2": ("d5a6c8ddc392208f", 4216734, 1217734),
}


# (space, band) -> (spec id, flops, params) of sample(n, seed=7, regime="fashion-mnist"), computed before
# the ODE package left the stage package (gradient_paths): the sampler dimensions, their RNG use and
# the stage kernel's costs stay the same.
SAMPLED = {
    ("ResNetC4+ode_rk4_ho", "2M:40M"): [
        ("a4413d04ce7ccb60", 21374738, 406170),
        ("51c149f22295e89d", 34676450, 1285066),
        ("6d2b6ead2092461f", 4923818, 56410),
    ],
    ("ResNetC12+ode_suppress", "2M:40M"): [
        ("136a2ec7f4ad411b", 7589114, 194698),
        ("6ebd7de20830a762", 14612138, 169402),
        ("db2c75ea101a1dc7", 29205074, 1549258),
    ],
    ("ResNetC12+ode_lm", "2M:40M"): [
        ("2e87e80f33b703c5", 7589114, 194731),
        ("fa3c9d69805cbf26", 14612138, 169435),
        ("cb5a5aba2438f79a", 29205074, 1549291),
    ],
    ("DownsampleC8+ode_euler", "100M:130M"): [
        ("d2e2826c5d96f204", 115719050, 593226),
        ("9986f70d72c2f469", 116860554, 597450),
    ],
    ("RegNetX+ode", "2M:40M"): [
        ("86f0d0b51d6efe88", 10023458, 1034754),
        ("2519a87e5de17fd1", 6474074, 257458),
        ("d043fab11a26dba5", 15950474, 1527258),
    ],
    ("ResNetC8+stopgrad_residual", "2M:40M"): [
        ("c4803d71a07da0ca", 5119226, 129418),
        ("9ac4d3354875b7b1", 9801386, 113338),
        ("8972a658b2174e82", 19270226, 1016458),
    ],
    ("ResNetC24+elan", "2M:40M"): [
        ("7effc14f71783c6c", 12278430, 213506),
        ("e2c39c28e3555da9", 4842938, 57674),
        ("bb2afe359a8a5d22", 12473650, 460178),
    ],
    ("ResNetC4+osa_csp", "2M:40M"): [
        ("bafe0790e2d6f3f7", 5275154, 115250),
        ("a7e2c13f89149e41", 11286562, 337506),
        ("d54d0045e1f3cacb", 2317994, 26314),
    ],
    ("AnyNetXE+csp", "2M:40M"): [
        ("fffed9e4cd9940f5", 12577994, 1314022),
        ("9043befdb6fdb08e", 24686222, 4428868),
        ("82c3b2fa1202c318", 27037322, 3109546),
    ],
    ("AnyNetXE+prn+act_silu", "2M:40M"): [
        ("ee38eed0dc6f0de7", 12439586, 2157390),
        ("b9fd6ab46851fc2e", 2660938, 125226),
        ("b75bbf62f673fc66", 9918146, 2059530),
    ],
}


@pytest.mark.parametrize("space,band", sorted(SAMPLED))
def test_family_spaces_sample_the_same_specs(space, band):
    from designspace.spaces import get_space

    want = SAMPLED[(space, band)]
    specs = get_space(space).sample(len(want), seed=7, regime="fashion-mnist", flops=band)
    cx = complexity(specs, "fashion-mnist")
    assert [(s.id, int(f), int(p)) for s, f, p in zip(specs, cx["flops"], cx["params"])] == want


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
import designspace.families.common, designspace.families.hosts
import designspace.families.ode, designspace.families.ode.options, designspace.families.ode.complexity
import designspace.families.ode.samplers, designspace.families.ode.tableaus
import designspace.families.gradient_paths, designspace.families.gradient_paths.options
import designspace.families.gradient_paths.complexity, designspace.families.gradient_paths.samplers
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
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
