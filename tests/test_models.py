import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from designspace import build, complexity, get_regime, get_space
from designspace.models.counting import measure

SPACES = ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"]


@pytest.mark.parametrize("regime", ["imagenet", "cifar", "fashion-mnist"])
@pytest.mark.parametrize("name", SPACES)
def test_model_params_equal_analytic_params(name, regime):
    for spec in get_space(name).sample(3, seed=5, regime=regime):
        model = build(spec, regime)
        assert sum(p.numel() for p in model.parameters()) == complexity(spec, regime)["params"]


def _bias_flops(model):
    return sum(m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features
               for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None)


@pytest.mark.parametrize("regime", ["cifar", "fashion-mnist", "imagenet"])
@pytest.mark.parametrize("name", ["AnyNetXA", "AnyNetXE", "RegNetY"])
def test_flops_and_acts_agree_with_the_built_model(name, regime):
    rg = get_regime(regime)
    for spec in get_space(name).sample(2 if regime != "imagenet" else 1, seed=11, regime=regime):
        model = build(spec, regime).eval()
        cx = complexity(spec, regime)
        measured = measure(model, (rg.channels, rg.im_size, rg.im_size))
        assert measured == {"flops": cx["flops"], "params": cx["params"], "acts": cx["acts"]}
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, rg.channels, rg.im_size, rg.im_size))
        # flop_counter counts 2 flops per multiply-add and leaves biases out
        assert counter.get_total_flops() / 2 == cx["flops"] - _bias_flops(model)


def test_block_types_and_head_width():
    from designspace import ModelSpec, StageSpec

    for block in ("vanilla", "res_basic", "res_bottleneck"):
        spec = ModelSpec(stages=(StageSpec(depth=2, width=16, block=block), StageSpec(depth=1, width=32, block=block)),
                         stem_width=8, head_width=64)
        model = build(spec, "cifar")
        rg = get_regime("cifar")
        cx = complexity(spec, "cifar")
        assert measure(model, (3, 32, 32)) == {k: cx[k] for k in ("flops", "params", "acts")}
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, rg.num_classes)


def test_model_trains_a_step():
    spec = get_space("RegNetY").sample(1, regime="fashion-mnist")[0]
    model = build(spec, "fashion-mnist")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
