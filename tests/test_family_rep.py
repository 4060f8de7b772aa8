"""Structural re-parameterization (seed 003, spec §3.2, §3.3, §3.5): DBB transforms, exact fusion,
guards, closed-form complexity, the rep wrapper family, the rep space modifier and `deploy`."""
import itertools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from designspace.cli import main
from designspace.complexity import complexity
from designspace.deploy import deploy_checkpoint
from designspace.errors import UsageError
from designspace.families.rep import base_conv_bn_cx, deploy_conv_cx, rep_conv_cx, strip_rep, with_rep
from designspace.families.rep.dbb import (
    BNAndPad,
    DiverseBranchBlock,
    RepVGGBlock,
    init_branch_weights,
    switch_to_deploy,
    trans_I_fuse_bn,
    trans_III_1x1_kxk,
    trans_V_avg,
    trans_VI_pad,
)
from designspace.models import build
from designspace.models.counting import measure
from designspace.spaces import get_space
from designspace.spec import ModelSpec, StageSpec


def randomize_bn(module, gen=None):
    """Spec §0: gamma, beta ~ U(-1, 1), mu ~ N(0, 0.1^2), var ~ U(0.5, 1.5)."""
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.weight.uniform_(-1, 1, generator=gen)
                bn.bias.uniform_(-1, 1, generator=gen)
                bn.running_mean.normal_(0, 0.1, generator=gen)
                bn.running_var.uniform_(0.5, 1.5, generator=gen)


def make_dbb(c_in, c_out, k, s, g, branches, mult=1, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    m = DiverseBranchBlock(c_in, c_out, k, s, groups=g, branches=branches, internal_mult=mult).to(dtype)
    init_branch_weights(m)
    randomize_bn(m)
    return m.eval()


def fusion_error(m, c_in, h=9, dtype=torch.float64):
    x = torch.randn(2, c_in, h, h, dtype=dtype)
    with torch.no_grad():
        return float((m(x) - m.fused_conv()(x)).abs().max())


# --- per-transform unit tests ----------------------------------------------------------------------
def test_transform_I_conv_bn():
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=True).double()
    bn = nn.BatchNorm2d(6).double()
    randomize_bn(bn)
    bn.eval()
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    w, b = trans_I_fuse_bn(conv.weight, conv.bias, bn)
    assert torch.allclose(bn(conv(x)), F.conv2d(x, w, b, padding=1), atol=1e-12)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_transform_III_sequential_1x1_kxk_with_groups(groups):
    c_in, d, c_out = 8, 12, 8
    k1, b1 = torch.randn(d, c_in // groups, 1, 1, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
    k2, b2 = torch.randn(c_out, d // groups, 3, 3, dtype=torch.float64), torch.randn(c_out, dtype=torch.float64)
    x = torch.randn(2, c_in, 6, 6, dtype=torch.float64)
    # no padding: the interior identity holds without BN-pad
    seq = F.conv2d(F.conv2d(x, k1, b1, groups=groups), k2, b2, groups=groups)
    w, b = trans_III_1x1_kxk(k1, b1, k2, b2, groups)
    assert torch.allclose(seq, F.conv2d(x, w, b, groups=groups), atol=1e-10)


@pytest.mark.parametrize("groups", [1, 2, 8])
def test_transform_V_avg_pool_as_conv(groups):
    x = torch.randn(2, 8, 7, 7, dtype=torch.float64)
    kernel = trans_V_avg(8, 3, groups, x)
    pooled = F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=True)
    assert torch.allclose(pooled, F.conv2d(x, kernel, stride=2, padding=1, groups=groups), atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 3), (3, 1), (1, 1)])
def test_transform_VI_pad_1xk_kx1(shape):
    kernel = torch.randn(4, 4, *shape, dtype=torch.float64)
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    direct = F.conv2d(x, kernel, padding=(shape[0] // 2, shape[1] // 2))
    assert torch.allclose(direct, F.conv2d(x, trans_VI_pad(kernel, 3), padding=1), atol=1e-12)


# --- fusion exactness ------------------------------------------------------------------------------
OPTIONAL = (0, 1, 2, 4, 5, 6)
ALL_SUBSETS = [s for r in range(7) for s in itertools.combinations(OPTIONAL, r)]


@pytest.mark.parametrize("subset", ALL_SUBSETS)
def test_every_branch_subset_fuses_exactly_float64(subset):
    m = make_dbb(8, 8, 3, 1, 2, subset, mult=2)
    assert fusion_error(m, 8) <= 1e-9


@pytest.mark.parametrize("k,s,g,c_in,c_out", [
    (k, s, g, ci, co) for k in (3, 5) for s in (1, 2) for g in (1, 2, "dw") for ci, co in ((8, 8), (8, 16))
    if not (g == "dw" and ci != co)])
def test_fusion_sweep_kernels_strides_groups(k, s, g, c_in, c_out):
    groups = c_in if g == "dw" else g
    m64 = make_dbb(c_in, c_out, k, s, groups, OPTIONAL, 2)
    assert fusion_error(m64, c_in) <= 1e-9
    m32 = make_dbb(c_in, c_out, k, s, groups, OPTIONAL, 1, dtype=torch.float32)
    assert fusion_error(m32, c_in, dtype=torch.float32) <= 1e-5


def test_depthwise_avg_branch_has_no_1x1_and_fuses():
    m = make_dbb(8, 8, 3, 2, 8, (2,))
    assert m.dbb_avg.conv is None
    assert fusion_error(m, 8) <= 1e-9


def test_repvgg_block_fuses():
    torch.manual_seed(0)
    blk = RepVGGBlock(8, 8).double()
    randomize_bn(blk)
    blk.eval()
    assert blk.rep.branches == (0, 3, 6)
    x = torch.randn(2, 8, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(blk(x), blk.deploy()(x), atol=1e-9)
    assert RepVGGBlock(8, 16, stride=2).rep.branches == (0, 3)  # no identity when the shape changes


def test_recursive_kernel_extraction_nested_dbb():
    m = make_dbb(8, 8, 3, 1, 1, (0, 1, 6))
    inner_kxk = make_dbb(8, 8, 3, 1, 1, (0, 1, 2, 4, 5, 6), seed=1)
    inner_conv2 = DiverseBranchBlock(16 // 2, 8, 3, 1, padding=0, branches=OPTIONAL).double()
    init_branch_weights(inner_conv2)
    randomize_bn(inner_conv2)
    assert inner_conv2.branches == (1, 2, 3)  # padding 0: only 1, 2, 3 (DyRep rule)
    m.dbb_kxk.conv = inner_kxk
    m.dbb_1x1_kxk.conv2 = inner_conv2.eval()
    assert fusion_error(m, 8) <= 1e-9
    switch_to_deploy(m)  # deepest first; the outer DBB (no parent Sequential) stays a module
    assert isinstance(m.dbb_kxk.conv, nn.Conv2d) and isinstance(m.dbb_1x1_kxk.conv2, nn.Conv2d)


# --- guards: what must NOT be exact ---------------------------------------------------------------
def test_guard_zero_padding_instead_of_bnpad_breaks_fusion():
    m = make_dbb(8, 8, 3, 1, 1, (1,))
    assert fusion_error(m, 8) <= 1e-9
    fused = m.fused_conv()
    pad_layer = m.dbb_1x1_kxk.bn1
    assert isinstance(pad_layer, BNAndPad)
    m.dbb_1x1_kxk.bn1 = nn.Sequential(pad_layer.bn, nn.ZeroPad2d(1))  # zero pad, not BN's zero-input value
    x = torch.randn(2, 8, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert float((m(x) - fused(x)).abs().max()) > 1e-3


def test_guard_avg_pool_without_count_include_pad_breaks_fusion():
    m = make_dbb(8, 8, 3, 1, 8, (2,))
    assert fusion_error(m, 8) <= 1e-9
    fused = m.fused_conv()
    m.dbb_avg.avg = nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)
    x = torch.randn(2, 8, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert float((m(x) - fused(x)).abs().max()) > 1e-3


def test_guard_train_mode_differs_from_fused():
    m = make_dbb(8, 8, 3, 1, 1, OPTIONAL)
    fused = m.fused_conv()
    m.train()
    x = torch.randn(4, 8, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        assert float((m(x) - fused(x)).abs().max()) > 1e-3  # batch statistics: not a fixed linear map


# --- closed-form complexity ------------------------------------------------------------------------
def test_dbb_worked_example():
    """§3.3: original DBB {0, 1, 2, 3}, C_in = C_out = 16, k = 3, s = 1, g = 1, D = 16, 8x8."""
    flops, params, _ = rep_conv_cx(16, 16, 3, 8, 1, 1, {0, 1, 2})
    assert (int(flops), int(params)) == (344_064, 5_568)
    d_flops, d_params = deploy_conv_cx(16, 16, 3, 8, 1, 1)
    assert int(d_params) == 2_320
    # the note's 148,480 counts the bias per output pixel; pycls adds c_out once
    assert int(d_flops) == 147_456 + 16 and 147_456 + 16 * 64 == 148_480
    m = DiverseBranchBlock(16, 16, 3, branches=(0, 1, 2))
    counted = measure(m, (16, 8, 8))
    assert (counted["flops"], counted["params"]) == (344_064, 5_568)
    assert sum(p.numel() for p in m.fused_conv().parameters()) == 2_320


def test_dbb_on_a_depthwise_conv_follows_the_reference():
    """DingXiaoH/DiverseBranchBlock on a depthwise conv (groups >= c_out): no 1x1 branch 0, branch 1
    at internal width 2C through a plain 1x1, branch 2 without its 1x1. C = 16, k = 3, 8x8, g = 16."""
    m = DiverseBranchBlock(16, 16, 3, groups=16, branches=(0, 1, 2))
    assert m.branches == (1, 2, 3)
    assert m.dbb_1x1_kxk.conv1.out_channels == 32 and type(m.dbb_1x1_kxk.conv1) is nn.Conv2d
    counted = measure(m, (16, 8, 8))
    assert (counted["flops"], counted["params"]) == (29_696, 624)
    flops, params, acts = rep_conv_cx(16, 16, 3, 8, 1, 16, {0, 1, 2})
    assert (int(flops), int(params), int(acts)) == (counted["flops"], counted["params"], counted["acts"])
    init_branch_weights(m)
    randomize_bn(m)
    m.double().eval()
    assert fusion_error(m, 16) <= 1e-9
    # RepVGG's set keeps its 1x1 on depthwise convs (rbr_1x1 is unconditional in RepVGG)
    assert RepVGGBlock(16, 16, groups=16).rep.branches == (0, 3, 6)
    assert int(rep_conv_cx(16, 16, 3, 8, 1, 16, {0, 6})[1]) == sum(
        p.numel() for p in RepVGGBlock(16, 16, groups=16).parameters())


def test_bn_pad_value_is_detached():
    """Both references pad with `bn.bias.data + bn.weight.data * ...`: no gradient flows into gamma
    and beta through the padded border."""
    layer = BNAndPad(4, 1)
    randomize_bn(layer)
    layer.eval()
    out = layer(torch.randn(2, 4, 5, 5))
    border = out.sum() - out[:, :, 1:-1, 1:-1].sum()
    border.backward()
    assert layer.bn.weight.grad is None or float(layer.bn.weight.grad.abs().max()) == 0
    assert layer.bn.bias.grad is None or float(layer.bn.bias.grad.abs().max()) == 0


@pytest.mark.parametrize("c_in,c_out,k,s,g,subset,mult", [
    (8, 8, 3, 1, 1, OPTIONAL, 1), (8, 16, 3, 2, 2, OPTIONAL, 2), (8, 8, 5, 1, 8, (1, 2, 6), 2),
    (16, 8, 3, 1, 4, (0, 4, 5), 1), (8, 8, 3, 2, 8, (2, 6), 1)])
def test_numel_and_macs_equal_closed_form(c_in, c_out, k, s, g, subset, mult):
    m = DiverseBranchBlock(c_in, c_out, k, s, groups=g, branches=subset, internal_mult=mult)
    counted = measure(m, (c_in, 10, 10))
    flops, params, acts = rep_conv_cx(c_in, c_out, k, 10, s, g, set(subset), mult)
    assert (counted["flops"], counted["params"], counted["acts"]) == (flops, params, acts)
    base = base_conv_bn_cx(c_in, c_out, k, 10, s, g)
    assert params > base[1]


def _spec(block="res_bottleneck", rep=None, stage_rep=None):
    fam = {"rep": stage_rep} if stage_rep else {}
    stages = (StageSpec(1, 16, 1, block, 1.0, 8), StageSpec(2, 32, 2, block, 2.0, 8, family=fam))
    return ModelSpec(stages, stem_width=8, family={"rep": rep} if rep else {})


@pytest.mark.parametrize("block", ["vanilla", "res_basic", "res_bottleneck"])
def test_rep_family_train_and_deploy_complexity_match_built_models(block):
    spec = _spec(block, rep={"branches": [0, 1, 2, 4, 5, 6], "internal_mult": 2},
                 stage_rep={"branches": [0, 6]})
    cx = complexity(spec, "cifar")
    base = complexity(strip_rep(spec), "cifar")
    assert {k: cx[k] for k in ("flops", "params", "acts")} == base
    counted = measure(build(spec, "cifar"), (3, 32, 32))
    assert (cx["cx_train_flops"], cx["cx_train_params"], cx["cx_train_acts"]) == \
           (counted["flops"], counted["params"], counted["acts"])
    assert cx["cx_train_params"] > cx["params"]


def test_rep_spec_json_round_trip():
    spec = _spec(rep={"branches": [0, 1], "internal_mult": 1})
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert ModelSpec.from_json(spec.to_json()).id == spec.id


@pytest.mark.parametrize("bad", [{"branches": [7]}, {"branches": "012"}, {"internal_mult": 3},
                                 {"branch": [0]}, [0, 1]])
def test_bad_rep_options_are_usage_errors(bad):
    with pytest.raises(UsageError):
        complexity([_spec(rep=bad)], "cifar")


# --- whole-network deploy --------------------------------------------------------------------------
def test_deploy_shapes_equal_base_network_and_outputs_match(tmp_path):
    spec = _spec("res_basic", rep={"branches": [0, 1, 2, 4, 5, 6]})
    torch.manual_seed(0)
    model = build(spec, "cifar")
    randomize_bn(model)
    path = tmp_path / "model.pt"
    torch.save({"spec": spec.to_dict(), "regime": "cifar", "state_dict": model.state_dict()}, path)
    info = deploy_checkpoint(str(path))
    assert info["form"] == "rep-fused" and info["max_abs_diff"] < 1e-4
    saved = torch.load(info["out"], weights_only=False)
    base = build(ModelSpec.from_dict(saved["spec"]), "cifar")
    base.load_state_dict(saved["state_dict"])  # strict: the base network's exact shapes
    assert ModelSpec.from_dict(saved["spec"]) == strip_rep(spec)
    assert sum(p.numel() for p in base.parameters()) == complexity(spec, "cifar")["params"]
    model.eval()
    base.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert float((model(x) - base(x)).abs().max()) <= 1e-4 * max(1.0, float(model(x).abs().max()))


def test_deploy_cli_and_errors(tmp_path, capsys):
    spec = _spec(rep={"branches": [0, 6]})
    model = build(spec, "cifar")
    path = tmp_path / "m.pt"
    torch.save({"spec": spec.to_dict(), "regime": "cifar", "state_dict": model.state_dict()}, path)
    assert main(["deploy", str(path), "--out", str(tmp_path / "d.pt")]) == 0
    assert "rep-fused" in capsys.readouterr().out
    assert main(["deploy", str(tmp_path / "d.pt")]) == 2  # already deployed
    assert main(["deploy", str(tmp_path / "missing.pt")]) == 2
    plain = strip_rep(spec)
    torch.save({"spec": plain.to_dict(), "regime": "cifar", "state_dict": build(plain, "cifar").state_dict()},
               tmp_path / "p.pt")
    assert main(["deploy", str(tmp_path / "p.pt")]) == 2  # nothing to fuse
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "error" in err


# --- the space modifier ----------------------------------------------------------------------------
def test_rep_modifier_samples_branch_sets_inside_the_deploy_band():
    space = get_space("RegNetX+rep")
    dr, cx = space.sample_arrays(20, seed=0, flops="20M:40M", regime="cifar")
    specs = space.specs_from(dr)
    assert all(20e6 <= f <= 40e6 for f in cx["flops"])
    assert np.all(cx["cx_train_flops"] >= cx["flops"])
    subsets = {tuple(s.family["rep"]["branches"]) for s in specs}
    assert len(subsets) > 5
    again = complexity(specs, "cifar")
    assert np.array_equal(again["cx_train_params"], cx["cx_train_params"])
    assert all(s.meta["space"] == "RegNetX+rep" for s in specs)
    assert with_rep(strip_rep(specs[0]), specs[0].family["rep"]["branches"],
                    specs[0].family["rep"]["internal_mult"]).id == specs[0].id


def test_bad_rep_option_exits_2_from_the_cli(tmp_path, capsys):
    raw = _spec(rep={"branches": [0, 1]}).to_dict()
    raw["family"]["rep"]["internal_mult"] = 4
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    assert main(["describe", str(path), "--regime", "cifar"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal_mult" in err
    assert main(["sample", "--space", "RegNetX+rep_nope", "-n", "1"]) == 2


def test_identity_based_1x1_starts_as_identity_and_fuses():
    from designspace.families.rep.dbb import IdentityBasedConv1x1

    m = DiverseBranchBlock(8, 8, 3, groups=2, branches=(1,), identity_1x1=True).double()
    init_branch_weights(m)
    conv1 = m.dbb_1x1_kxk.conv1
    assert isinstance(conv1, IdentityBasedConv1x1) and float(conv1.weight.detach().abs().max()) == 0
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    assert torch.equal(conv1(x), x)  # W = 0: the 1x1 is the identity
    assert sum(p.numel() for p in conv1.parameters()) == 8 * 4  # I is a buffer
    with torch.no_grad():
        conv1.weight.normal_()
    randomize_bn(m)
    m.eval()
    assert fusion_error(m, 8) <= 1e-9
    assert not isinstance(DiverseBranchBlock(8, 8, 3, branches=(1,), internal_mult=2,
                                             identity_1x1=True).dbb_1x1_kxk.conv1, IdentityBasedConv1x1)
