"""Options of the reference code that the spaces sample: CSP's conv entry, SiLU /
LeakyReLU(0.1) / h-swish, option-A shortcuts and pre-activation blocks (HO-ResNet), VoVNet's
ceil_mode pooling. Each is exact: analytic complexity == the built model's count."""
import numpy as np
import pytest
import torch
from test_family_prn import check_space
from torch import nn

from designspace import ModelSpec, StageSpec, UsageError, build, complexity
from designspace.families.ode.models import ZeroPadShortcut
from designspace.models.counting import measure
from designspace.regimes import get_regime
from designspace.spaces import get_space


def _valid_specs(name, n, seed=0, regime="cifar"):
    space = get_space(name)
    dr = space.draw(np.random.default_rng(seed), n)
    _, ok = space.measure(dr, get_regime(regime))
    return space.specs_from(dr.take(np.flatnonzero(ok)))


def _counted(spec, regime):
    rg = get_regime(regime)
    return measure(build(spec, rg), (rg.channels, rg.im_size, rg.im_size))


def _exact(spec, regime):
    cx = complexity(spec, regime)
    assert _counted(spec, regime) == {k: cx[k] for k in ("flops", "params", "acts")}
    return cx


def test_csp_space_samples_the_conv_entry():
    specs = _valid_specs("ResNetC4+csp", 64)
    entries = {st.family["csp"]["entry"] for s in specs for st in s.stages}
    assert entries == {"block", "conv"}
    for spec in specs[:4]:
        _exact(spec, "cifar")


@pytest.mark.parametrize("kind,module", [("silu", nn.SiLU), ("leaky_relu", nn.LeakyReLU), ("hswish", nn.Hardswish)])
def test_activation_option_swaps_every_relu_and_costs_nothing(kind, module):
    stages = (StageSpec(2, 16, 1, "res_basic"), StageSpec(2, 32, 2, "res_bottleneck", 2.0, 8))
    plain = ModelSpec(stages, stem_width=16, head_width=64)
    spec = ModelSpec(tuple(StageSpec(**{**st.to_dict(), "family": {"act": kind}}) for st in stages),
                     stem_width=16, head_width=64)
    model = build(spec, "cifar")
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    acts = [m for m in model.modules() if isinstance(m, module)]
    assert acts and all(getattr(m, "negative_slope", 0.1) == 0.1 for m in acts)
    assert _exact(spec, "cifar") == complexity(plain, "cifar")
    assert spec.id != plain.id


@pytest.mark.parametrize("name", ["AnyNetXE+act", "ResNetC4+csp+act_silu", "ResNetC4+ode_rk4+act_leaky_relu"])
def test_activation_spaces_build_exactly(name):
    specs = check_space(name, "cifar", flops=(2e6, 8e6))
    assert all(st.family.get("act") for s in specs for st in s.stages if st.depth)


def test_chained_modifiers_keep_both_families():
    spec = _valid_specs("ResNetC4+csp+act_hswish", 16)[0]
    assert all({"csp", "act"} <= set(st.family) for st in spec.stages)


def test_zero_pad_shortcut_is_option_a():
    sc = ZeroPadShortcut(16, 32, 2)
    x = torch.randn(2, 16, 9, 9)
    y = sc(x)
    assert y.shape == (2, 32, 5, 5)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and not y[:, :8].any() and not y[:, 24:].any()


@pytest.mark.parametrize("scheme", ["euler", "ralston2", "rk4"])
def test_ho_resnet_setting_is_exact_and_has_no_projection(scheme):
    specs = check_space(f"ResNetC4+ode_{scheme}_ho", "cifar", flops=(2e6, 8e6))
    for spec in specs:
        assert all(st.family["ode"]["shortcut"] == "zeropad" and st.family["ode"]["block"] == "preact"
                   for st in spec.stages)
        model = build(spec, "cifar")
        assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in model.modules())
        first_f = next(m for m in model.modules() if type(m).__name__ == "PreActBasic")
        assert isinstance(first_f[0], nn.BatchNorm2d)  # pre-activation: BN first


def test_preact_and_zeropad_validation():
    ode = {"scheme": "euler", "n": 1, "block": "preact"}
    with pytest.raises(UsageError, match="res_basic"):
        complexity(ModelSpec((StageSpec(1, 16, 1, "res_bottleneck", family={"ode": ode}),)), "cifar")
    narrowing = ModelSpec((StageSpec(1, 8, 1, "res_basic", family={"ode": {"scheme": "euler", "n": 1,
                                                                             "shortcut": "zeropad"}}),), stem_width=16)
    with pytest.raises(UsageError, match="stage 1"):
        complexity(narrowing, "cifar")


def _osa_net(pool):
    osa = {"hidden": 8, "convs": 2, "transition": True, **({"pool": pool} if pool else {})}
    return ModelSpec(tuple(StageSpec(2, w, 2, "res_basic", family={"osa": osa}) for w in (16, 24, 32, 48)),
                     stem_width=16)


def test_vovnet_ceil_mode_pooling_is_exact():
    """fashion-mnist 28 -> 14 -> 7 -> then 3 (ceil_mode, no padding) instead of 4 (padding 1)."""
    pad, ceil = _osa_net(None), _osa_net("ceil")
    cx_pad, cx_ceil = _exact(pad, "fashion-mnist"), _exact(ceil, "fashion-mnist")
    assert complexity(_osa_net("pad"), "fashion-mnist") == cx_pad  # the default, written or not
    assert cx_ceil["flops"] < cx_pad["flops"] and cx_ceil["params"] == cx_pad["params"]
    pools = [m for m in build(ceil, "fashion-mnist").modules() if isinstance(m, nn.MaxPool2d)]
    assert pools and all(m.ceil_mode and m.padding == 0 for m in pools)


def test_osa_space_samples_ceil_pooling():
    specs = _valid_specs("ResNetC4+osa", 32, regime="fashion-mnist")
    assert {st.family["osa"].get("pool", "pad") for s in specs for st in s.stages} == {"pad", "ceil"}
    check_space("ResNetC4+osa", "fashion-mnist", n=3, flops=(2e6, 8e6))
