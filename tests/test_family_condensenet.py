"""CondenseNetV2 (seed 004, spec §4.2-§4.5): golden complexity, SFR init, condensation schedule,
conversion to group conv + index layers (G_t = S and G_t != S), numel / MACs vs closed forms,
constraint validation, spaces and the trainer hook."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from designspace.cli import main
from designspace.complexity import complexity
from designspace.data import synthetic
from designspace.deploy import deploy_checkpoint, load_checkpoint
from designspace.errors import UsageError
from designspace.families.condensenet import cdnv2, condensenet_spec, parse_options, with_options
from designspace.families.condensenet.model import (
    CondensedLGC,
    CondensedSFR,
    LearnedGroupConv,
    SparseFeatureReactivation,
    condense_stage,
    convert,
)
from designspace.models import build
from designspace.models.counting import measure
from designspace.spaces import get_space
from designspace.spec import ModelSpec
from designspace.train import train


def randomize(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(-1, 1)
                m.bias.uniform_(-1, 1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            elif isinstance(m, nn.Conv2d):
                m.weight.normal_(0, 0.3)


# --- golden values (pycls convention, 224x224, 1000 classes) ---------------------------------------
@pytest.mark.parametrize("name,macs,params,width", [
    ("A", 43_145_604, 2_038_444, 800), ("B", 140_470_680, 3_592_662, 1176), ("C", 295_789_576, 6_177_512, 2064)])
def test_golden_cdnv2_complexity(name, macs, params, width):
    spec = cdnv2(name)
    cx = complexity(spec, "imagenet")
    assert (cx["flops"], cx["params"]) == (macs, params)
    assert parse_options(spec).final_width == width
    assert cx["cx_train_flops"] > cx["flops"] and cx["cx_train_params"] > cx["params"]


def test_golden_vectorized_batch_equals_single():
    specs = [cdnv2(n) for n in "ABC"] + [with_options(cdnv2("A"), sfr=0)]
    cx = complexity(specs, "imagenet")
    for i, s in enumerate(specs):
        assert cx["flops"][i] == complexity(s, "imagenet")["flops"]
    assert cx["flops"][3] < cx["flops"][0]  # SFR's extra cost


# --- init and layers -------------------------------------------------------------------------------
def small_cfg(**kw):
    opts = dict(blocks=[2, 2, 2], growth=[8, 8, 16], groups=2, condense=4, sfr=4, stem=16, hswish_from=1, se_from=2)
    opts.update(kw)
    return condensenet_spec(**opts)


def test_sfr_bn_starts_at_gamma_one_and_every_sfr_parameter_learns():
    """The reference's _initialize() leaves every BN (SFR's included) at gamma 1, beta 0; a zero
    gamma/beta SFR BN before a ReLU gets exactly zero gradient on every SFR parameter."""
    spec = small_cfg(hswish_from=3, se_from=3)  # ReLU everywhere: the case where a zero BN is dead
    torch.manual_seed(0)
    net = build(spec, "cifar")
    sfrs = [m for m in net.modules() if isinstance(m, SparseFeatureReactivation)]
    assert sfrs and all(torch.equal(m.norm.weight, torch.ones_like(m.norm.weight)) and
                        torch.equal(m.norm.bias, torch.zeros_like(m.norm.bias)) for m in sfrs)
    net.train()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    nn.functional.cross_entropy(net(x), y).backward()
    for m in sfrs:
        for name, p in m.named_parameters():
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


# --- schedule --------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [2, 4, 8])
@pytest.mark.parametrize("kind", ["lgc", "sfr"])
def test_schedule_events_counts_and_monotone_masks(factor, kind):
    torch.manual_seed(factor)
    layer = (LearnedGroupConv(32, 16, 4, factor, "relu") if kind == "lgc"
             else SparseFeatureReactivation(8, 32, 4, factor, "relu"))
    layer.conv.weight.data.normal_()
    total = 840  # divisible by 2(F - 1): thresholds fall on steps
    events, masks = [], [layer.mask.clone()]
    for step in range(total):
        if layer.advance(step / total):
            events.append(step / total)
            masks.append(layer.mask.clone())
            assert int(layer.count) == len(events) * layer.delta
    assert events == [j / (2 * (factor - 1)) for j in range(1, factor)]
    for a, b in zip(masks, masks[1:]):
        assert torch.all(b <= a) and not torch.equal(a, b)
    per_group = [layer.kept(g).numel() for g in range(4)]
    assert per_group == [32 // factor] * 4
    assert condense_stage(0.0, factor) == 0 and condense_stage(0.5, factor) == factor - 1


@pytest.mark.parametrize("jumps", [[0.5], [0.2, 0.9], [0.01, 0.3, 0.49, 0.7]])
def test_schedule_catch_up_gives_the_same_final_mask_counts(jumps):
    layer = LearnedGroupConv(32, 16, 4, 8, "relu")
    fired = sum(layer.advance(p) for p in jumps)
    assert fired == 7 and int(layer.stage) == 7
    assert [layer.kept(g).numel() for g in range(4)] == [4] * 4


# --- conversion ------------------------------------------------------------------------------------
def condensed(layer):
    layer.advance(1.0)
    randomize(layer)
    return layer.eval()


def test_converted_lgc_equals_masked():
    lgc = condensed(LearnedGroupConv(32, 16, 4, 4, "hswish"))
    x = torch.randn(2, 32, 5, 5)
    with torch.no_grad():
        assert float((CondensedLGC.from_masked(lgc).eval()(x) - lgc(x)).abs().max()) <= 1e-5


@pytest.mark.parametrize("g_t,s", [(4, 4), (8, 8), (2, 4), (4, 8), (8, 4)])
def test_converted_sfr_equals_masked(g_t, s):
    torch.manual_seed(g_t * 10 + s)
    sfr = condensed(SparseFeatureReactivation(8, 32, g_t, s, "relu"))
    x = torch.randn(2, 8, 5, 5)
    conv = CondensedSFR.from_masked(sfr).eval()
    assert tuple(conv.index.index.shape) == (g_t * 32 // s, 32)  # general O' x C index layer
    assert torch.all(conv.index.index.sum(1) == 1)
    with torch.no_grad():
        assert float((conv(x) - sfr(x)).abs().max()) <= 1e-5


@pytest.mark.parametrize("opts", [dict(), dict(sfr=2, sfr_groups=4, groups=4, condense=2), dict(sfr=0)])
def test_whole_network_conversion_and_complexity(opts):
    spec = small_cfg(**opts)
    cx = complexity(spec, "cifar")
    torch.manual_seed(0)
    net = build(spec, "cifar")
    train_count = measure(net, (3, 32, 32))
    assert (train_count["flops"], train_count["params"], train_count["acts"]) == \
           (cx["cx_train_flops"], cx["cx_train_params"], cx["cx_train_acts"])
    net.set_progress(1.0)
    randomize(net)
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = net(x)
    convert(net)
    net.eval()
    with torch.no_grad():
        assert float((net(x) - before).abs().max()) <= 1e-5 * max(1.0, float(before.abs().max()))
    deploy_count = measure(net, (3, 32, 32))
    assert (deploy_count["flops"], deploy_count["params"], deploy_count["acts"]) == \
           (cx["flops"], cx["params"], cx["acts"])


def test_conversion_refuses_unfinished_masks():
    net = build(small_cfg(), "cifar")
    net.set_progress(0.1)
    with pytest.raises(RuntimeError, match="not finished"):
        convert(net)


def test_deploy_checkpoint_condenses(tmp_path):
    spec = small_cfg()
    net = build(spec, "cifar")
    net.set_progress(1.0)
    randomize(net)
    path = tmp_path / "cdn.pt"
    torch.save({"spec": spec.to_dict(), "regime": "cifar", "state_dict": net.state_dict()}, path)
    info = deploy_checkpoint(str(path))
    assert info["form"] == "condensed" and info["params"] == complexity(spec, "cifar")["params"]
    model, _, _, ckpt = load_checkpoint(info["out"])
    assert ckpt["deployed"] == "condensed" and isinstance(model.blocks[0][0].lgc, CondensedLGC)


# --- options and validation ------------------------------------------------------------------------
@pytest.mark.parametrize("bad,needle", [
    (dict(growth=[6, 8, 16]), "block 1 layer 2: C=22"), (dict(condense=3), "condense=3"),
    (dict(blocks=[2, 2]), "same length"), (dict(sfr=1), "sfr"), (dict(colour=1), "unknown"),
    (dict(growth=[8, 8, 12], sfr=8), "block 3")])
def test_constraint_validation_one_line_naming_the_layer(bad, needle):
    with pytest.raises(UsageError, match=needle) as info:
        small_cfg(**bad)
    assert "\n" not in str(info.value)


def test_bad_spec_exits_2_from_the_cli(tmp_path, capsys):
    spec = small_cfg()
    raw = spec.to_dict()
    raw["family"]["condensenetv2"]["growth"] = [8, 8, 6]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    assert main(["describe", str(path), "--regime", "cifar"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "block 3 layer 2: C=54" in err
    assert ModelSpec.from_json(spec.to_json()) == spec  # round trip with family options


# --- spaces and training ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["CondenseNetV2", "CondenseNet"])
def test_spaces_sample_inside_the_deploy_band(name):
    space = get_space(name)
    dr, cx = space.sample_arrays(8, seed=0, flops="20M:40M", regime="cifar")
    specs = space.specs_from(dr)
    assert np.all((cx["flops"] >= 20e6) & (cx["flops"] <= 40e6))
    again = complexity(specs, "cifar")
    assert np.array_equal(again["flops"], cx["flops"]) and np.array_equal(again["cx_train_flops"], cx["cx_train_flops"])
    sfr = {s.family["condensenetv2"]["sfr"] for s in specs}
    assert (sfr == {0}) == (name == "CondenseNet")
    assert len({s.id for s in specs}) == 8


def test_trainer_runs_the_condensation_schedule_and_converts():
    spec = condensenet_spec(blocks=[1, 1], growth=[8, 8], groups=2, condense=4, sfr=4, stem=8,
                            hswish_from=1, se_from=1)
    data = synthetic(64, 32)
    result = train(spec, {"epochs": 1, "batch_size": 16, "condense": {"lasso": 1e-5}}, data, threads=1)
    assert result["status"] == "done"
    info = result["extra"]["condensation"]
    assert info["converted"] and [e[1] for e in info["events"]] == [0.25, 0.5]  # 4 steps: catch-up at 1/6, 2/6


def test_feature_reuse_map_shapes_and_sources():
    from designspace.families.condensenet.model import feature_reuse_map

    net = build(small_cfg(), "cifar")
    net.set_progress(1.0)
    maps = feature_reuse_map(net)
    assert [m.shape for m in maps] == [(2, 3)] * 3
    assert np.isnan(maps[0][0, 1]) and not np.isnan(maps[0][1, 1]) and maps[0][1, 0] > 0


def test_reference_convention_flops_beside_pycls():
    """The README's table counts with utils/tools.py measure_model: 45.87M / 146.47M / 309.74M."""
    for name, ref, pycls in (("A", 45_874_350, 43_145_604), ("B", 146_469_057, 140_470_680),
                             ("C", 309_740_977, 295_789_576)):
        cx = complexity(cdnv2(name), "imagenet")
        assert (cx["cx_reference_flops"], cx["flops"]) == (ref, pycls)
    mixed = complexity([cdnv2("A"), ModelSpec.from_dict({"stages": [{"depth": 1, "width": 8}]})], "imagenet")
    assert "cx_reference_flops" not in mixed  # a family-only column is not invented for other specs


def test_describe_prints_the_reference_flops(tmp_path, capsys):
    path = tmp_path / "a.json"
    path.write_text(cdnv2("A").to_json())
    assert main(["describe", str(path)]) == 0
    assert "reference_flops 45,874,350" in capsys.readouterr().out


def test_e004_arms_compare_the_same_architectures():
    from pathlib import Path

    import yaml

    twin, v2 = get_space("CondenseNetTwin"), get_space("CondenseNetV2")
    dr_t, cx_t = twin.sample_arrays(6, seed=0, flops="3M:8M", regime="fashion-mnist")
    dr_v, cx_v = v2.sample_arrays(6, seed=0, flops="3M:8M", regime="fashion-mnist")
    twins, v2s = twin.specs_from(dr_t), v2.specs_from(dr_v)
    assert [t.id for t in twins] == [with_options(s, sfr=0).id for s in v2s]
    assert all(t.family["condensenetv2"]["sfr"] == 0 for t in twins)
    assert np.array_equal(cx_t["flops"], complexity(twins, "fashion-mnist")["flops"])
    assert np.all(cx_t["flops"] < cx_v["flops"])  # SFR's small extra cost
    root = Path(__file__).resolve().parent.parent / "experiments"
    for name in ("seed004_a_sfr_vs_condensenet", "seed004_b_sfr_factors"):
        assert yaml.safe_load((root / f"{name}.yaml").read_text())["spaces"] == ["CondenseNetTwin", "CondenseNetV2"]
