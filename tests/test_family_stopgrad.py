"""Stop-gradient variants (seed-families.md §1.5, §1.7): forward unchanged, gradients cut as stated."""
import pytest
import torch
from test_family_prn import check_space, randomize_bn, zero_last_bn
from torch import nn

from designspace import ModelSpec, StageSpec, build, complexity
from designspace.families.ode.models import RKBlock


def _spec(variant, depth=3, width=16, stride=2, stem=8):
    fam = {"stopgrad": variant}
    return ModelSpec(stages=(StageSpec(depth=depth, width=width, stride=stride, block="res_basic", family=fam),
                             StageSpec(depth=2, width=24, block="res_bottleneck", group_width=8, family=fam)),
                     stem_width=stem)


def _models(variants, **kw):
    torch.manual_seed(0)
    ref = randomize_bn(build(_spec("none", **kw), "cifar"))
    out = []
    for v in variants:
        m = build(_spec(v, **kw), "cifar")
        m.load_state_dict(ref.state_dict())
        out.append(m)
    return out


def test_forward_is_bit_identical_to_none():
    x = torch.randn(4, 3, 32, 32)
    none, residual, block = _models(["none", "residual", "block"])
    for train in (False, True):
        outs = []
        for m in (none, residual, block):
            m.train(train)
            outs.append(m(x))
        assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    plain = ModelSpec(stages=tuple(StageSpec(**{**s.to_dict(), "family": {}}) for s in _spec("none").stages),
                      stem_width=8)
    assert all(complexity(_spec(v), "cifar") == complexity(plain, "cifar") for v in ("none", "residual", "block"))


def _zero_functions(model):
    for unit in model.modules():
        if isinstance(unit, RKBlock):
            for f in unit.f:
                zero_last_bn(f)


@pytest.mark.parametrize("variant,cut", [("residual", True), ("none", False)])
def test_residual_with_zero_functions_passes_no_gradient_upstream(variant, cut):
    (model,) = _models([variant])
    model.eval()
    _zero_functions(model)
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    model(x).square().sum().backward()
    upstream = [x.grad] + [p.grad for p in model.stem.parameters()]
    zero = all(g is not None and not g.any() for g in upstream)
    assert zero == cut


@pytest.mark.parametrize("variant,same", [("block", True), ("none", False)])
def test_block_variant_gives_every_block_the_same_output_gradient(variant, same):
    (model,) = _models([variant], width=8, stride=1)  # identity shortcuts in stage 1
    model.eval()
    stage = model.stages[0]
    ys = []

    def keep(_mod, _inp, out):
        out.retain_grad()
        ys.append(out)

    for unit in stage:
        unit.act = nn.Identity()
        unit.register_forward_hook(keep)
    model(torch.randn(2, 3, 32, 32)).square().sum().backward()
    grads = [y.grad for y in ys]
    assert len(grads) == 3
    assert all(torch.equal(g, grads[-1]) for g in grads) == same


@pytest.mark.parametrize("name", ["AnyNetXE+stopgrad", "ResNetC4+stopgrad_residual"])
def test_stopgrad_space_specs_build_exactly(name):
    specs = check_space(name, "cifar", flops=(3e6, 8e6))
    assert all(st.family["stopgrad"] in ("none", "residual", "block") for s in specs for st in s.stages)
