"""ELAN blocks and stages, the MP entry, and the VoVNet OSA baseline (seed-families.md §1.4, §1.6)."""
import pytest
import torch
from test_family_prn import check_space, randomize_bn

from designspace import ModelSpec, Regime, StageSpec, build, complexity
from designspace.families.gradient_paths.models.elan import ELANBlock, MPEntry, elan_concat_indices
from designspace.families.gradient_paths.models.osa import OSAModule
from designspace.models.counting import measure

TINY = Regime("tiny8", 8, 3, 10, 1, (0, 1e9))  # 8x8 inputs, stride-1 stem


def test_worked_example_block():
    block = ELANBlock(32, 64, 16, 16, 4, 2)
    assert measure(block, (32, 8, 8)) == {"flops": 917_504, "params": 14_656, "acts": 10_240}


def test_worked_example_through_the_vectorized_kernel():
    elan = {"partial_ratio": 0.25, "hidden_ratio": 1.0, "convs": 4, "agg_every": 2, "blocks": 1}
    spec = ModelSpec(stages=(StageSpec(depth=4, width=64, stride=1, family={"elan": elan}),), stem_width=32)
    cx = complexity(spec, TINY)
    stem_flops, stem_params, stem_acts = 9 * 3 * 32 * 64, 9 * 3 * 32 + 64, 32 * 64
    head = 64 * 10 + 10
    assert cx["flops"] == stem_flops + 917_504 + head
    assert cx["params"] == stem_params + 14_656 + head
    assert cx["acts"] == stem_acts + 10_240 + 10


@pytest.mark.parametrize("m,r,expected", [(4, 2, [4, 2, 0]), (2, 1, [2, 1, 0]), (6, 3, [6, 3, 0])])
def test_concat_indices_and_order(m, r, expected):
    assert elan_concat_indices(m, r) == expected
    c_p, c_h = 16, 8
    block = randomize_bn(ELANBlock(24, 64, c_p, c_h, m, r, transition=False)).eval()
    assert block.w_out == 2 * c_p + (m // r) * c_h
    x = torch.randn(2, 24, 6, 6)
    hs = [block.h0(x)]
    for conv in block.convs:
        hs.append(conv(hs[-1]))
    expected_cat = torch.cat([hs[j] for j in expected] + [block.a(x)], dim=1)
    assert torch.equal(block(x), expected_cat)
    with_t = ELANBlock(24, 64, c_p, c_h, m, r)
    assert with_t.transition[0].in_channels == 2 * c_p + (m // r) * c_h


@pytest.mark.parametrize("C,H", [(16, 8), (32, 7)])
def test_mp_entry_closed_form(C, H):
    H2 = (H - 1) // 2 + 1
    mp = MPEntry(C)
    assert mp(torch.randn(1, C, H, H)).shape == (1, C, H2, H2)
    assert measure(mp, (C, H, H)) == {"flops": int(C * C * (H * H / 2 + 2.75 * H2 * H2)),
                                      "params": 13 * C * C // 4 + 3 * C, "acts": int(C * (H * H / 2 + H2 * H2))}


@pytest.mark.parametrize("transition", [True, False])
def test_osa_module_closed_form(transition):
    C_in, c_h, m, C_out, HW = 24, 16, 3, 48, 36
    mod = OSAModule(C_in, c_h, m, C_out if transition else None)
    flops = HW * (9 * C_in * c_h + 9 * (m - 1) * c_h ** 2 + ((C_in + m * c_h) * C_out if transition else 0))
    assert measure(mod, (C_in, 6, 6))["flops"] == flops
    assert mod.w_out == (C_out if transition else C_in + m * c_h)


def test_transitions_off_hand_on_their_concat_width():
    elan = {"partial_ratio": 0.25, "hidden_ratio": 0.5, "convs": 4, "agg_every": 1, "blocks": 2, "transition": False,
            "entry": "conv"}
    spec = ModelSpec(stages=(
        StageSpec(depth=8, width=64, family={"elan": elan}),
        StageSpec(depth=6, width=32, family={"osa": {"hidden": 16, "convs": 3, "transition": "none"}}),
        StageSpec(depth=6, width=48, family={"osa": {"hidden": 8, "convs": 3, "transition": "last"}})), stem_width=16)
    model = build(spec, "cifar")
    c_p, c_h = 16, 8
    assert model.stages[0].w_out == 2 * c_p + 4 * c_h
    assert model.stages[1].w_out == 2 * c_p + 4 * c_h + 2 * 3 * 16
    assert model.stages[2].w_out == 48
    cx = complexity(spec, "cifar")
    assert measure(model, (3, 32, 32)) == {k: cx[k] for k in ("flops", "params", "acts")}


@pytest.mark.parametrize("name,regime", [("AnyNetXE+elan", "cifar"), ("RegNetX+elan", "fashion-mnist"),
                                         ("AnyNetXE+osa", "fashion-mnist"), ("ResNetC4+osa_planned", "cifar")])
def test_elan_and_osa_space_specs_build_exactly(name, regime):
    check_space(name, regime, flops=(2e6, 8e6))


def test_csp_over_transition_free_osa_modules():
    fam = {"csp": {"variant": "fusion_first", "split": "conv", "split_ratio": 0.5, "entry": "conv"},
           "osa": {"hidden": 8, "convs": 3, "transition": "none"}}
    spec = ModelSpec(stages=(StageSpec(depth=6, width=32, family=fam),), stem_width=16)
    model = build(spec, "cifar")
    stage = model.stages[0]
    c_b, c_p = 16, 16
    assert stage.fuse[0].in_channels == c_b + 2 * 3 * 8 + c_p  # body concat width grows per module
    cx = complexity(spec, "cifar")
    assert measure(model, (3, 32, 32)) == {k: cx[k] for k in ("flops", "params", "acts")}


@pytest.mark.parametrize("name", ["ResNetC8+osa_csp", "AnyNetXE+osa_csp"])
def test_cspvovnet_space_specs_build_exactly(name):
    specs = check_space(name, "fashion-mnist", flops=(3e6, 8e6))
    assert all(st.family["osa"]["transition"] == "none" and st.family["csp"]["entry"] == "conv"
               for s in specs for st in s.stages)
