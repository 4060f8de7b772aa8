"""High-order ODE stacking (seed-families.md §2.2-§2.4): tableaus, reductions, wiring, fair complexity, LM."""

import pytest
import torch
from test_family_prn import check_space, randomize_bn, zero_last_bn
from torch import nn

from designspace import ModelSpec, StageSpec, UsageError, build, complexity
from designspace.families.gradient_paths.models.residual import make_residual_units
from designspace.families.gradient_paths.options import parse_stage
from designspace.families.ode.models import LMStage, RKBlock
from designspace.families.ode.tableaus import SCHEMES, TABLEAUS, order_conditions, stages_of
from designspace.models.blocks import make_block

RK = list(TABLEAUS)


@pytest.mark.parametrize("scheme", RK)
def test_tableau_order_conditions(scheme):
    conds = order_conditions(scheme)
    assert len(conds) == {1: 1, 2: 2, 3: 4, 4: 8}[stages_of(scheme)]
    assert all(abs(v) <= 1e-12 for v in conds.values()), conds


@pytest.mark.parametrize("block", ["res_basic", "res_bottleneck"])
def test_euler_is_bit_identical_to_the_host_block(block):
    torch.manual_seed(0)
    host = randomize_bn(make_block(block, 8, 16, 2, 1.0, 4, 0.25))
    euler = RKBlock([host.f], host.proj)
    x = torch.randn(2, 8, 9, 9)
    for train in (False, True):
        host.train(train), euler.train(train)
        assert torch.equal(euler(x), host(x))


class Linear(nn.Module):
    """F(z) = M z on channels (a shared 1x1 conv without bias)."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, z):
        return torch.einsum("oc,nchw->nohw", self.weight, z)


def _linear_block(scheme, M, suppress=1.0):
    block = RKBlock([Linear(M) for _ in range(stages_of(scheme))], None, scheme, suppress)
    block.act = nn.Identity()
    return block


def _taylor(M, s):
    out, term = torch.eye(len(M), dtype=M.dtype), torch.eye(len(M), dtype=M.dtype)
    for m in range(1, s + 1):
        term = term @ M / m
        out = out + term
    return out


@pytest.mark.parametrize("scheme", RK)
def test_linear_reduction_gives_the_stability_polynomial(scheme):
    s = stages_of(scheme)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64)
    lam = torch.eye(4, dtype=torch.float64) * -0.7  # scalar λ
    M = torch.randn(4, 4, generator=g, dtype=torch.float64) * 0.5  # random small matrix
    for A in (lam, M):
        y = _linear_block(scheme, A)(x)
        expected = torch.einsum("oc,nchw->nohw", _taylor(A, s), x)
        assert torch.allclose(y, expected, atol=1e-9, rtol=0)


def _scaled_last_bn(f, h):
    with torch.no_grad():
        bn = [m for m in f.modules() if isinstance(m, nn.BatchNorm2d)][-1]
        bn.weight.mul_(h)
        bn.bias.mul_(h)
    return f


@pytest.mark.parametrize("scheme", ["ralston2", "kutta3", "rk4"])
def test_suppression_scales_inner_states_only_and_is_no_bn_rescale(scheme):
    """Scaling every a_ij and b_i by h equals scaling each F's last BN (gamma, beta) by h: a mere
    reparameterization. Suppression scales the a_ij only, which no BN rescale reproduces."""
    import copy

    torch.manual_seed(4)
    s, h = stages_of(scheme), 0.5
    fs = [randomize_bn(make_block("res_basic", 16, 16, 1), seed=i).f for i in range(s)]
    x = torch.randn(2, 16, 6, 6)
    suppressed = RKBlock(copy.deepcopy(fs), None, scheme, h)
    rescaled = RKBlock([_scaled_last_bn(copy.deepcopy(f), h) for f in fs], None, scheme)
    old_form = RKBlock(copy.deepcopy(fs), None, scheme, h)
    old_form.b = [h * v for v in old_form.b]  # the former suppression: b_i scaled too
    for train in (False, True):
        for m in (suppressed, rescaled, old_form):
            m.train(train)
        assert torch.allclose(old_form(x), rescaled(x), atol=1e-5)
        assert (suppressed(x) - rescaled(x)).abs().max() > 1e-2
    assert suppressed.b == list(TABLEAUS[scheme][1])
    assert suppressed.a[1][0] == h * TABLEAUS[scheme][0][0][0]


def test_suppression_needs_inner_states():
    for scheme in ("euler", "lm"):
        with pytest.raises(UsageError, match="inner states"):
            parse_stage(StageSpec(depth=2, width=16, block="res_basic",
                                  family={"ode": {"scheme": scheme, "n": 2, "suppress": 0.5}}))


@pytest.mark.parametrize("scheme", RK)
def test_zero_functions_reduce_to_the_shortcut(scheme):
    s = stages_of(scheme)
    opts = parse_stage(StageSpec(depth=s, width=16, block="res_basic", family={"ode": {"scheme": scheme, "n": 1}}))
    block = randomize_bn(make_residual_units(opts, "res_basic", 8, 16, 2, s, 1.0, 1, 0.0)[0]).eval()
    for f in block.f:
        zero_last_bn(f)
    x = torch.randn(2, 8, 8, 8)
    assert torch.equal(block(x), torch.relu(block.proj(x)))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_sub_function_receives_gradient(scheme):
    s = stages_of(scheme)
    opts = parse_stage(StageSpec(depth=2 * s, width=16, block="res_basic", family={"ode": {"scheme": scheme, "n": 2}}))
    torch.manual_seed(2)
    stage = randomize_bn(make_residual_units(opts, "res_basic", 8, 16, 2, 2 * s, 1.0, 1, 0.0))
    stage(torch.randn(4, 8, 8, 8)).square().sum().backward()
    convs = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 * 2 * s + 1  # two convs per sub-function + the projection
    assert all(c.weight.grad is not None and c.weight.grad.abs().sum() > 0 for c in convs)


def _ode_spec(scheme, n, block="res_basic", suppress=None):
    s = stages_of(scheme)
    ode = {"scheme": scheme, "n": n} | ({"suppress": suppress} if suppress else {})
    fam = {} if scheme is None else {"ode": ode}
    return ModelSpec(stages=(StageSpec(depth=s * n, width=16, block=block, family=fam),
                             StageSpec(depth=s * n, width=32, block=block, group_width=8, family=fam)), stem_width=8)


@pytest.mark.parametrize("scheme", ["euler", "heun2", "kutta3", "rk4", "gill4"])
@pytest.mark.parametrize("block", ["res_basic", "res_bottleneck"])
def test_rk_complexity_equals_euler_of_s_times_n(scheme, block):
    s, n = stages_of(scheme), 2
    rk = _ode_spec(scheme, n, block, suppress=0.5 if s > 1 else None)
    euler = ModelSpec(stages=tuple(StageSpec(**{**st.to_dict(), "family": {}}) for st in rk.stages), stem_width=8)
    assert all(st.depth == s * n for st in rk.stages)
    assert complexity(rk, "cifar") == complexity(euler, "cifar")
    numel = [sum(p.numel() for p in build(x, "cifar").parameters()) for x in (rk, euler)]
    assert numel[0] == numel[1] == complexity(rk, "cifar")["params"]


def test_lm_with_zero_k_is_the_plain_resnet():
    torch.manual_seed(3)
    blocks = [randomize_bn(make_block("res_basic", 8 if i == 0 else 16, 16, 2 if i == 0 else 1), seed=i)
              for i in range(4)]
    plain = nn.Sequential(*blocks).eval()
    lm = LMStage(RKBlock([blocks[0].f], blocks[0].proj), [b.f for b in blocks[1:]]).eval()
    with torch.no_grad():
        lm.k.zero_()
    x = torch.randn(2, 8, 9, 9)
    assert torch.equal(lm(x), plain(x))


class Scale(nn.Module):
    def __init__(self, lam):
        super().__init__()
        self.lam = lam

    def forward(self, z):
        return self.lam * z


def test_lm_recursion_with_linear_functions():
    lam = 0.3
    lm = LMStage(RKBlock([Scale(lam)], None), [Scale(lam) for _ in range(5)]).double()
    lm.first.act, lm.act = nn.Identity(), nn.Identity()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    u_prev, u = x, (1 + lam) * x
    for k in lm.k.detach():
        u, u_prev = (1 - k + lam) * u + k * u_prev, u
    assert torch.allclose(lm(x), u, atol=1e-12)


def test_lm_adds_one_parameter_per_block():
    lm, euler = _ode_spec("lm", 3), _ode_spec("euler", 3)
    assert complexity(lm, "cifar")["params"] - complexity(euler, "cifar")["params"] == 2 * (3 - 1)
    assert sum(p.numel() for p in build(lm, "cifar").parameters()) == complexity(lm, "cifar")["params"]


def test_ode_depth_must_be_s_times_n():
    ode = {"ode": {"scheme": "rk4", "n": 1}}
    bad = ModelSpec(stages=(StageSpec(depth=5, width=16, block="res_basic", family=ode),))
    with pytest.raises(UsageError, match="s\\*n"):
        complexity(bad, "cifar")


@pytest.mark.parametrize("name", ["AnyNetXE+ode", "RegNetY+ode_rk4", "ResNetC4+ode_suppress", "ResNetC4+ode_lm"])
def test_ode_space_specs_build_exactly(name):
    specs = check_space(name, "cifar", flops=(3e6, 8e6))
    for spec in specs:
        for st in spec.stages:
            assert st.depth == stages_of(st.family["ode"]["scheme"]) * st.family["ode"]["n"]
