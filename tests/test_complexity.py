import json
import os

import numpy as np
import pytest
from pycls_regnet_zoo import REGNET_ZOO

from designspace import complexity, get_space
from designspace.complexity import SpecArrays, complexity_arrays
from designspace.spaces.regnet import regnet_spec

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "regnet_zoo_subset.json")


def _zoo_subset():
    if not os.path.exists(SHARED):
        pytest.skip("../shared/reference is not beside this checkout")
    with open(SHARED) as fh:
        return json.load(fh)


def test_reference_zoo_subset_matches_exactly():
    for model in _zoo_subset():
        c = model["config"]
        spec = regnet_spec(c["DEPTH"], c["W0"], c["WA"], c["WM"], c["GROUP_W"], 1 / c["BOT_MUL"],
                           c["SE_R"] if c["SE_ON"] else 0.0)
        assert spec.widths == model["widths"], model["name"]
        assert spec.depths == model["depths"], model["name"]
        assert spec.group_widths == model["group_widths"], model["name"]
        assert [b for b in spec.bottleneck_ratios] == [1 / b for b in model["bot_muls"]]
        cx = complexity(spec, "imagenet")
        got, want = (cx["flops"], cx["params"], cx["acts"]), (model["flops"], model["params"], model["acts"])
        assert got == want, model["name"]


@pytest.mark.parametrize("name", sorted(REGNET_ZOO))
def test_whole_pycls_regnet_zoo_matches_exactly(name):
    d, w0, wa, wm, g, se, flops, params, acts = REGNET_ZOO[name]
    cx = complexity(regnet_spec(d, w0, wa, wm, g, 1.0, 0.25 if se else 0.0), "imagenet")
    assert (cx["flops"], cx["params"], cx["acts"]) == (flops, params, acts)


def test_batch_equals_one_at_a_time_for_mixed_specs():
    specs = []
    for name in ("AnyNetXA", "AnyNetXC", "RegNetX", "RegNetY"):
        specs += get_space(name).sample(5, seed=1, regime="cifar")
    batch = complexity(specs, "cifar")
    for i, spec in enumerate(specs):
        single = complexity(spec, "cifar")
        assert all(single[k] == batch[k][i] for k in ("flops", "params", "acts"))


def test_per_stage_parts_sum_to_totals():
    specs = get_space("AnyNetXB").sample(10, seed=2)
    cx = complexity_arrays(SpecArrays.from_specs(specs), "imagenet", per_stage=True)
    for m in ("flops", "params", "acts"):
        np.testing.assert_array_equal(cx[f"stem_{m}"] + cx[f"stage_{m}"].sum(1) + cx[f"head_{m}"], cx[m])


def test_hand_computed_tiny_model():
    # stem 3x3 3->8 s2 at 32px -> 16px; one R block 8->16 s2 -> 8px; fc 16->10
    from designspace import ModelSpec, StageSpec

    spec = ModelSpec(stages=(StageSpec(depth=1, width=16, stride=2, block="res_basic"),), stem_width=8)
    cx = complexity(spec, "cifar")  # cifar stem has stride 1: 32px
    stem = 9 * 3 * 8 * 32 * 32
    proj = 8 * 16 * 16 * 16
    a = 9 * 8 * 16 * 16 * 16
    b = 9 * 16 * 16 * 16 * 16
    fc = 16 * 10 + 10
    assert cx["flops"] == stem + proj + a + b + fc
    assert cx["params"] == (27 * 8 + 16) + (8 * 16 + 32) + (9 * 8 * 16 + 32) + (9 * 16 * 16 + 32) + fc
    assert cx["acts"] == 8 * 32 * 32 + 3 * 16 * 16 * 16 + 10
