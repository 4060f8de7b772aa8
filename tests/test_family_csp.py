"""CSP stage (seed-families.md §1.3, §1.6, §1.7): variants, widths, concat order, closed form."""
import itertools

import pytest
import torch
from test_family_prn import check_space, randomize_bn

from designspace import ModelSpec, StageSpec, UsageError, build, complexity, get_regime
from designspace.families.gradient_paths.models.csp import CSPStage
from designspace.families.gradient_paths.options import parse_stage
from designspace.models.counting import measure


def _stage(width=32, depth=3, block="res_basic", **csp):
    return StageSpec(depth=depth, width=width, block=block, bottleneck_ratio=2 if block == "res_bottleneck" else 1,
                     group_width=4, family={"csp": csp})


@pytest.mark.parametrize("variant,split,entry,block", list(itertools.product(
    ["csp", "fusion_first", "fusion_last"], ["conv", "slice"], ["block", "conv"], ["res_basic", "res_bottleneck"])))
def test_every_variant_outputs_the_stage_width_and_matches_its_closed_form(variant, split, entry, block):
    st = _stage(40, 3, block, variant=variant, split=split, entry=entry, split_ratio=0.5)
    stage = CSPStage(st, parse_stage(st), 16)
    assert stage(torch.randn(2, 16, 9, 9)).shape == (2, 40, 5, 5)
    spec = ModelSpec(stages=(st, _stage(64, 2, block, variant=variant, split=split, entry=entry)), stem_width=16)
    for regime in ("cifar", "fashion-mnist"):
        rg = get_regime(regime)
        cx = complexity(spec, regime)
        assert measure(build(spec, regime), (rg.channels, rg.im_size, rg.im_size)) == \
            {k: cx[k] for k in ("flops", "params", "acts")}


@pytest.mark.parametrize("split", ["conv", "slice"])
def test_concat_order_is_block_path_then_bypass(split):
    st = _stage(32, 3, variant="fusion_last", split=split, split_ratio=0.25)
    stage = randomize_bn(CSPStage(st, parse_stage(st), 16)).eval()
    c_b, c_p = stage.c_b, stage.c_p
    assert (c_b, c_p) == ((8, 24) if split == "conv" else (8, 24))
    x = torch.randn(2, 16, 8, 8)
    e = stage.entry(x)
    p = stage.split_p(e) if split == "conv" else e[:, :c_p]
    q = stage.split_b(e) if split == "conv" else e[:, c_p:]
    out = stage(x)
    assert torch.equal(out[:, : 32 - c_p], stage.transition(stage.body(q)))
    assert torch.equal(out[:, 32 - c_p:], p)


def test_widths_and_transition_inputs():
    for variant, ratio, split in itertools.product(["csp", "fusion_first"], [0.25, 0.5, 0.75], ["conv", "slice"]):
        st = _stage(64, 2, variant=variant, split=split, split_ratio=ratio)
        stage = CSPStage(st, parse_stage(st), 32)
        c_b = max(8, int(ratio * 64 / 8 + 0.5) * 8)
        c_p = max(8, int((1 - ratio) * 64 / 8 + 0.5) * 8) if split == "conv" else 64 - c_b
        assert (stage.c_b, stage.c_p) == (c_b, c_p)
        assert stage.fuse[0].in_channels == c_b + c_p and stage.fuse[0].out_channels == 64
        assert (stage.transition is not None) == (variant == "csp")


def test_x_block_path_is_made_group_compatible():
    st = _stage(40, 2, "res_bottleneck", split="slice", split_ratio=0.5, entry="conv")  # no X block at width 40
    st = StageSpec(**{**st.to_dict(), "bottleneck_ratio": 1.0, "group_width": 16})
    stage = CSPStage(st, parse_stage(st), 16)
    assert stage.c_b == 32 and stage.c_p == 8  # round8(20) = 24 -> 32 (a multiple of g = 16)
    for conv in stage.body.modules():
        if isinstance(conv, torch.nn.Conv2d) and conv.groups > 1:
            assert conv.in_channels // conv.groups == 16


def test_closed_form_of_a_csp_stage():
    # entry block + conv split + 2 body blocks + csp fusion, basic blocks, at 16x16 (cifar, stage stride 2)
    C, c_b, c_p, HW = 32, 16, 16, 16 * 16
    st = _stage(C, 3, variant="csp", split="conv", split_ratio=0.5)
    host = StageSpec(depth=1, width=C, block="res_basic")
    head_and_stem = complexity(ModelSpec(stages=(host,), stem_width=16), "cifar")
    flops = (head_and_stem["flops"] + HW * C * (c_b + c_p) + 2 * (2 * 9 * c_b * c_b * HW)
             + HW * (c_b * c_b + (c_b + c_p) * C))
    params = (head_and_stem["params"] + C * (c_b + c_p) + 2 * (c_b + c_p) + 2 * (2 * 9 * c_b * c_b + 2 * 2 * c_b)
              + c_b * c_b + 2 * c_b + (c_b + c_p) * C + 2 * C)
    cx = complexity(ModelSpec(stages=(st,), stem_width=16), "cifar")
    assert (cx["flops"], cx["params"]) == (flops, params)


def test_csp_composes_with_residual_options():
    fam = {"csp": {"variant": "fusion_first", "split": "slice"}, "ode": {"scheme": "heun2", "n": 2}}
    spec = ModelSpec(stages=(StageSpec(depth=5, width=32, block="res_basic", family=fam),
                             StageSpec(depth=3, width=48, block="res_basic",
                                       family={"csp": {}, "prn": {"partial_ratio": 0.5}, "stopgrad": "block"})),
                     stem_width=16)
    cx = complexity(spec, "cifar")
    assert measure(build(spec, "cifar"), (3, 32, 32)) == {k: cx[k] for k in ("flops", "params", "acts")}


def test_too_narrow_stage_is_a_usage_error():
    spec = ModelSpec(stages=(_stage(8, 2, split="slice", split_ratio=0.75),))
    with pytest.raises(UsageError, match="too narrow"):
        complexity(spec, "cifar")


@pytest.mark.parametrize("name,regime", [("AnyNetXE+csp", "cifar"), ("RegNetX+csp_fusion_last", "fashion-mnist"),
                                         ("ResNetC4+csp", "cifar")])
def test_csp_space_specs_build_exactly(name, regime):
    check_space(name, regime, flops=(2e6, 6e6))
