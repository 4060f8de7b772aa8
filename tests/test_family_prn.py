"""PRN partial residual (seed-families.md §1.2, §1.7), shared checks of every family space, and
one-line errors for bad family options."""
import json

import pytest
import torch
from torch import nn

from designspace import ModelSpec, StageSpec, build, complexity, get_regime, get_space
from designspace.cli import main
from designspace.families.gradient_paths.models.residual import make_residual_units
from designspace.families.gradient_paths.options import parse_stage
from designspace.families.ode.models import RKBlock
from designspace.models.blocks import make_block
from designspace.models.counting import measure


def randomize_bn(module, seed=0):
    """BN statistics as in §0: γ, β ~ U(-1, 1), μ ~ N(0, 0.1²), σ² ~ U(0.5, 1.5)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 2 - 1)
                m.bias.copy_(torch.rand(m.num_features, generator=g) * 2 - 1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return module


def zero_last_bn(f):
    """Make a residual function output exactly 0 (its last BN: γ = β = 0)."""
    bn = [m for m in f.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    with torch.no_grad():
        bn.weight.zero_()
        bn.bias.zero_()


def check_space(name, regime, n=2, seed=3, flops=None):
    """Sampled specs of a family space: JSON round trip, params == numel, flops/acts == hook counter."""
    rg = get_regime(regime)
    space = get_space(name)
    specs = space.sample(n, seed=seed, regime=regime, flops=flops)
    assert all(s.space == space.name for s in specs)
    assert any(st.family for s in specs for st in s.stages)
    for spec in specs:
        assert ModelSpec.from_json(spec.to_json()) == spec
        cx = complexity(spec, regime)
        lo, hi = flops or rg.default_flops
        assert lo <= cx["flops"] <= hi
        model = build(spec, regime)
        assert measure(model, (rg.channels, rg.im_size, rg.im_size)) == {k: cx[k] for k in ("flops", "params", "acts")}
    return specs


def _stage(**family):
    return StageSpec(depth=1, width=16, stride=1, block="res_basic", family=family)


def test_gamma_one_is_bit_identical_to_the_host_block():
    torch.manual_seed(0)
    for block in ("res_basic", "res_bottleneck"):
        host = randomize_bn(make_block(block, 16, 16, 1, 2.0, 4))
        prn = RKBlock([host.f], host.proj, keep=16)
        x = torch.randn(2, 16, 8, 8)
        for train in (False, True):
            host.train(train), prn.train(train)
            assert torch.equal(prn(x), host(x))


def test_gamma_zero_drops_the_shortcut():
    torch.manual_seed(1)
    host = randomize_bn(make_block("res_basic", 16, 16, 1)).eval()
    prn = RKBlock([host.f], host.proj, keep=0).eval()
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(prn(x), torch.relu(host.f(x)))


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.75])
def test_masked_residual_with_zero_function_passes_the_first_channels(gamma):
    opts = parse_stage(_stage(prn={"partial_ratio": gamma}))
    unit = make_residual_units(opts, "res_basic", 16, 16, 1, 1, 1.0, 1, 0.0)[0].eval()
    zero_last_bn(unit.f[0])
    unit.act = nn.Identity()
    x = torch.randn(2, 16, 6, 6)
    y = unit(x)
    c_r = round(gamma * 16)
    assert torch.equal(y[:, :c_r], x[:, :c_r])
    assert torch.equal(y[:, c_r:], torch.zeros_like(y[:, c_r:]))


@pytest.mark.parametrize("w_in,w_out", [(8, 16), (16, 8)])
def test_asymmetric_residual_adds_a_strided_slice(w_in, w_out):
    opts = parse_stage(_stage(prn={"partial_ratio": 1.0, "shape_change": "slice"}))
    unit = randomize_bn(make_residual_units(opts, "res_basic", w_in, w_out, 2, 1, 1.0, 1, 0.0)[0]).eval()
    unit.act = nn.Identity()
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in unit.modules())  # no projection
    x = torch.randn(2, w_in, 7, 7)
    y, fx = unit(x), unit.f[0](x)
    m = min(w_in, w_out)
    assert y.shape == (2, w_out, 4, 4)
    assert torch.allclose(y[:, :m] - fx[:, :m], x[:, :m, ::2, ::2], atol=1e-6)
    assert torch.equal(y[:, m:], fx[:, m:])


def test_prn_complexity_is_the_host_minus_the_projection_for_slices():
    host = ModelSpec(stages=(StageSpec(depth=3, width=32, block="res_basic"),), stem_width=16)
    proj = ModelSpec(stages=(StageSpec(depth=3, width=32, block="res_basic", family={"prn": {"partial_ratio": 0.5}}),),
                     stem_width=16)
    prn = {"prn": {"partial_ratio": 0.5, "shape_change": "slice"}}
    sliced = ModelSpec(stages=(StageSpec(depth=3, width=32, block="res_basic", family=prn),), stem_width=16)
    a, b, c = (complexity(s, "cifar") for s in (host, proj, sliced))
    assert a == b
    h = 16  # 32x32 input, stride-1 stem, stride-2 stage
    assert a["flops"] - c["flops"] == 16 * 32 * h * h
    assert a["params"] - c["params"] == 16 * 32 + 2 * 32
    assert a["acts"] - c["acts"] == 32 * h * h


@pytest.mark.parametrize("regime", ["cifar", "fashion-mnist"])
@pytest.mark.parametrize("name", ["AnyNetXE+prn", "RegNetX+prn"])
def test_prn_space_specs_build_exactly(name, regime):
    check_space(name, regime, flops=(2e6, 6e6))


@pytest.mark.parametrize("family,message", [
    ({"prn": {"partial_ratio": 1.5}}, "prn.partial_ratio"),
    ({"prn": {"partial_ratio": 0.5, "shape": "proj"}}, "unknown key"),
    ({"csp": {"variant": "fusion_middle"}}, "csp.variant"),
    ({"elan": {"convs": 4, "agg_every": 3, "blocks": 1}}, "must divide"),
    ({"ode": {"scheme": "rk5", "n": 1}}, "ode.scheme"),
    ({"stopgrad": "output"}, "stopgrad"),
    ({"csp": {}, "elan": {}}, "one of csp, elan, osa"),
    ({"csp": {"entry": "block"}, "osa": {"hidden": 8, "convs": 2}}, 'entry "conv"'),
    ({"osa": {"hidden": 8, "convs": 3}}, "multiple of osa.convs"),
    ({"bogus": 1}, "unknown"),
])
def test_bad_family_options_are_one_line_errors(tmp_path, capsys, family, message):
    spec = {"stages": [{"depth": 4, "width": 32, "block": "res_basic", "family": family}], "stem_width": 16}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["describe", str(path), "--regime", "cifar"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert main(["describe", str(path), "--regime", "cifar", "--gradient-paths"]) == 2


def test_describe_shows_each_stage_family(tmp_path, capsys):
    spec = ModelSpec(stages=(StageSpec(depth=2, width=16, block="res_basic", family={"prn": {"partial_ratio": 0.5}}),
                             StageSpec(depth=2, width=32, block="res_basic", family={"stopgrad": "block"})),
                     stem_width=16)
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert main(["describe", str(path), "--regime", "cifar"]) == 0
    out = capsys.readouterr().out
    assert '"partial_ratio": 0.5' in out and '"stopgrad": "block"' in out
    assert f"{complexity(spec, 'cifar')['flops']:,}" in out
