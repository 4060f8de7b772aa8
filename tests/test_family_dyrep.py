"""DyRep (seed 003, spec §3.4, §3.5): saliency, Rep / Dep exactness, the cut rule, nesting limit,
optimizer rebuild, deploy to the base network's shapes, and the trainer hook."""
import copy

import pytest
import torch
from torch import nn

from designspace.data import synthetic
from designspace.errors import UsageError
from designspace.families.dyrep import adjusts_after, parse_dyrep
from designspace.families.dyrep.model import (
    DyRep,
    branch_weights,
    count_training_graph,
    cut_branches,
    is_candidate,
    rebuild_optimizer,
)
from designspace.families.rep.dbb import DiverseBranchBlock
from designspace.spec import ModelSpec, StageSpec
from designspace.train import Recipe, train


def randomize_bn(module):
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.weight.uniform_(-1, 1)
                bn.bias.uniform_(-1, 1)
                bn.running_mean.normal_(0, 0.1)
                bn.running_var.uniform_(0.5, 1.5)


def toy(dtype=torch.float32, seed=0):
    """conv-BN-ReLU x 2 (a 3x3 stride-2 group conv that changes width, then a same-shape 3x3)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Sequential(nn.Conv2d(4, 8, 3, 2, 1, groups=2, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
        nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    randomize_bn(net)
    return net.to(dtype)


def batches(dtype=torch.float32):
    gen = torch.Generator().manual_seed(1)
    return lambda: torch.randn(8, 4, 10, 10, generator=gen, dtype=dtype)


def max_diff(model, before, x):
    model.eval()
    with torch.no_grad():
        return float((model(x) - before).abs().max())


def test_cut_rule_example():
    w = [0.05, 0.5, -1, 1, 0.03, 0.6, -1]
    valid = torch.tensor([0.05, 0.5, 0.03, 0.6], dtype=torch.float64)
    assert abs(float(valid.std()) - 0.297) < 1e-3 and abs(float(valid.mean()) - 0.295) < 1e-9
    assert cut_branches(w) == {0, 4}
    assert cut_branches([0.05, 0.06, -1, 1, -1, -1, -1]) == set()  # std <= 0.02: keep all
    assert cut_branches([0.05, -1, -1, 1, -1, -1, -1]) == set()  # one branch: no spread to judge


def test_saliency_is_running_mean_of_signed_grad_times_weight():
    net = toy()
    dy = DyRep(net)
    manual = {}
    for step in range(2):
        net.zero_grad()
        net(batches()()).square().mean().backward()
        dy.record()
        for name, m in net.named_modules():
            if is_candidate(name, m):
                manual.setdefault(name, []).append(float((m.weight.grad * m.weight).sum().detach()))
    got = dy.mean_saliency()
    assert set(got) == {"0.0", "1.0"}
    for name, values in manual.items():
        assert got[name] == pytest.approx(sum(values) / 2, rel=1e-6)
    top = max(got, key=got.get)
    assert dy.grow() == [top] and isinstance(net.get_submodule(top), DiverseBranchBlock)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-9)])
def test_rep_preserves_eval_output(dtype, tol):
    net = toy(dtype)
    x = batches(dtype)()
    net.eval()
    with torch.no_grad():
        before = net(x)
    dy = DyRep(net, recal_batches=5)
    for name in ("0.0", "1.0"):
        dbb = dy.grow_conv(name, batches(dtype))
        assert max_diff(net, before, x) <= tol
    assert net[1][0].branches == (0, 1, 2, 3, 4, 5, 6)  # same shape: every branch
    assert net[0][0].branches == (0, 1, 2, 3, 4, 5)  # width change and stride 2: no identity
    bn_new = dbb.dbb_1x1.bn
    assert bn_new.weight[0].item() == pytest.approx(0.01)  # last BN of a new branch
    assert float(bn_new.running_var.mean()) != 1.0  # recalibrated


def test_dep_preserves_eval_output_and_cuts():
    net = toy()
    x = batches()()
    dy = DyRep(net, recal_batches=2)
    dbb = dy.grow_conv("1.0", batches())
    with torch.no_grad():  # "training" made some branches strong, some weak
        for i, g in zip((0, 1, 2, 4, 5, 6), (0.05, 0.5, 0.6, 0.03, 0.6, 0.4)):
            dbb.branch(i).last_bn.weight.fill_(g)
        dbb.dbb_kxk.bn.weight.fill_(1.0)
        randomize_bn(dbb.dbb_1x1_kxk)
        dbb.dbb_1x1_kxk.bn2.weight.fill_(0.5)
    assert cut_branches(branch_weights(dbb)) == {0, 4}
    net.eval()
    with torch.no_grad():
        before = net(x)
    cuts = dy.cut()
    assert cuts == [("1.0", [0, 4])]
    assert dbb.branches == (1, 2, 3, 5, 6) and not hasattr(dbb, "dbb_1x1")
    assert max_diff(net, before, x) <= 1e-5


def test_nesting_limit():
    net = toy()
    dy = DyRep(net, recal_batches=0)
    dy.grow_conv("1.0", None)
    names = {n for n, _ in dy.candidates()}
    assert {"1.0.dbb_kxk.conv", "1.0.dbb_1x1_kxk.conv2"} <= names
    dy.grow_conv("1.0.dbb_kxk.conv", None)
    names = {n for n, _ in dy.candidates()}
    assert not any(n.count("dbb") >= 2 for n in names)
    assert "1.0.dbb_kxk.conv.dbb_kxk.conv" not in names


def test_optimizer_rebuild_drops_removed_params_and_state():
    net = toy()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(batches()()).square().mean().backward()
    opt.step()
    dy = DyRep(net, recal_batches=0)
    dbb = dy.grow_conv("1.0", None)
    with torch.no_grad():
        for i, g in zip((0, 1, 2, 4, 5, 6), (0.05, 0.5, 0.6, 0.03, 0.6, 0.4)):
            dbb.branch(i).last_bn.weight.fill_(g)
    removed = [p for p in dbb.dbb_1x1.parameters()]
    dy.cut()
    rebuild_optimizer(opt, net)
    live = {id(p) for p in net.parameters()}
    in_groups = [p for g in opt.param_groups for p in g["params"]]
    assert {id(p) for p in in_groups} == live and len(in_groups) == len(live)
    assert all(id(p) in live for p in opt.state)
    assert not any(id(p) in {id(q) for q in opt.state} for p in removed)
    names = [n for n, _ in sorted(net.named_parameters())]
    by_id = {id(p): n for n, p in net.named_parameters()}
    assert [by_id[id(p)] for p in opt.param_groups[0]["params"]] == names  # sorted by name
    net(batches()()).square().mean().backward()
    opt.step()  # new params start with empty momentum and train


def test_rep_dep_deploy_gives_the_base_network_shapes():
    net = toy()
    base_shapes = {k: v.shape for k, v in copy.deepcopy(net).state_dict().items()}
    x = batches()()
    dy = DyRep(net, recal_batches=2)
    for name in ("0.0", "1.0", "1.0.dbb_kxk.conv"):
        dy.grow_conv(name, batches())
    dy.cut()
    net.eval()
    with torch.no_grad():
        before = net(x)
    dy.deploy()
    assert {k: v.shape for k, v in net.state_dict().items()} == base_shapes
    assert not any(isinstance(m, DiverseBranchBlock) for m in net.modules())
    assert max_diff(net, before, x) <= 1e-5


def test_training_graph_count_grows_with_branches():
    net = toy()
    before = count_training_graph(net, (4, 10, 10))
    DyRep(net, recal_batches=0).grow_conv("1.0", None)
    after = count_training_graph(net, (4, 10, 10))
    assert after["flops"] > before["flops"] and after["params"] > before["params"]


def test_bad_dyrep_options_are_usage_errors():
    for bad in ({"metric": "magic"}, {"interval": 0}, {"branches": [9]}, {"nope": 1}, "yes"):
        with pytest.raises(UsageError):
            Recipe.from_dict({"epochs": 2, "dyrep": bad})
    assert parse_dyrep({}, 10)["interval"] == 1 and parse_dyrep({}, 10)["stop"] == 8.0  # proxy schedule
    assert parse_dyrep({}, 40)["interval"] == 5
    assert "dyrep" not in Recipe().to_dict()  # unset options leave trial ids unchanged


def test_trainer_runs_dyrep_schedule_and_records_cx_train():
    spec = ModelSpec((StageSpec(1, 8, 1, "res_basic"), StageSpec(1, 16, 2, "res_basic")), stem_width=8)
    data = synthetic(64, 32)
    recipe = {"epochs": 3, "batch_size": 16, "dyrep": {"interval": 1, "stop": 2, "recal_batches": 2}}
    result = train(spec, recipe, data, threads=1)
    assert result["status"] == "done"
    info = result["extra"]["dyrep"]
    assert len(info["cx_train_per_epoch"]) == 3 and len(info["events"]) == 2  # after epochs 1 and 2
    assert info["cx_train_per_epoch"][2] > info["cx_train_per_epoch"][0]
    assert result["cx_train"] == round(info["cx_train_total"] / 3)


def test_a_dyrep_sweep_trial_stores_its_training_cost(tmp_path):
    from designspace.store import load, write_trial
    from designspace.sweep import run_trial

    spec = ModelSpec((StageSpec(1, 8, 1, "res_basic"), StageSpec(1, 16, 2, "res_basic")), stem_width=8)
    recipe = {"epochs": 2, "batch_size": 16, "dyrep": {"interval": 1, "stop": 2, "recal_batches": 2}}
    trial = {"trial_id": "t1", "sweep": "s", "space": "toy", "spec_id": spec.id, "spec": spec.to_json(),
             "regime": "fashion-mnist", "dataset": "synthetic", "recipe": recipe, "seed": 0, "flops": 1, "params": 1,
             "acts": 1, "cx_train": 1}
    row = run_trial(trial, recipe, synthetic(64, 32), threads=1)
    assert row["status"] == "done" and row["cx_train"] > 1
    write_trial(str(tmp_path / "r.db"), row)
    stored = load(str(tmp_path / "r.db")).iloc[0]
    assert stored["cx_train"] == row["cx_train"]
    assert len(stored["extra"]["dyrep"]["cx_train_per_epoch"]) == 2  # load() returns extra as a dict


@pytest.mark.parametrize("epochs,expected", [(10, [1, 2, 3, 4, 5, 6, 7, 8]), (8, [1, 2, 3, 4, 5, 6, 7]),
                                             (40, [5, 10, 15, 20, 25, 30])])
def test_schedule_is_the_references(epochs, expected):
    """hunto/image_classification_sota tools/train.py: after 0-based epoch e, adjust when
    e < E_max and (e + 1) % t == 0; with E = 10 (t = 1, E_max = 8) that is 8 adjustments, the last
    one after epoch 8 (E_max a multiple of t)."""
    opts = parse_dyrep({}, epochs)
    assert [c for c in range(1, epochs + 1) if adjusts_after(c, opts)] == expected


def test_dep_reinitialises_the_branches_of_a_nested_kxk_dbb():
    """Dep of a DBB whose kxk conv is itself a DBB re-initialises that DBB's branches (the reference's
    `_reset_dbb` of the kxk) and keeps the eval output."""
    net = toy()
    x = batches()()
    dy = DyRep(net, recal_batches=0)
    outer = dy.grow_conv("1.0", None)
    inner = dy.grow_conv("1.0.dbb_kxk.conv", None)
    with torch.no_grad():
        randomize_bn(inner)
        for i, g in zip((0, 1, 2, 4, 5, 6), (0.05, 0.5, 0.6, 0.03, 0.6, 0.4)):
            outer.branch(i).last_bn.weight.fill_(g)
        outer.dbb_kxk.bn.weight.fill_(1.0)
        for i in inner.branches:
            inner.branch(i).last_bn.weight.fill_(0.7)  # no cut inside: equal weights
    net.eval()
    with torch.no_grad():
        before = net(x)
    assert dy.cut() == [("1.0", [0, 4])]
    assert outer.dbb_kxk.conv is inner
    for i in inner.branches:
        if i == 3:
            continue
        bns = [m for m in inner.branch(i).modules() if isinstance(m, nn.BatchNorm2d)]
        assert float(bns[-1].weight.detach().max()) == float(bns[-1].weight.detach().min()) == pytest.approx(0.01)
        assert all(float(bn.running_var.min()) == 1.0 and float(bn.bias.abs().max()) == 0 for bn in bns)
    assert float(outer.dbb_1x1_kxk.bn2.weight.max()) == 0.5  # the outer's kept branches are not touched
    assert max_diff(net, before, x) <= 1e-5


def test_bn_recalibration_batches_are_augmented_like_training(monkeypatch):
    """The reference recalibrates on batches of the training loader, augmentation included."""
    import designspace.registry as hooks_module

    seen = {}
    real = hooks_module.make_train_hooks

    def spy(spec, recipe, model, ctx):
        seen["ctx"] = ctx
        return real(spec, recipe, model, ctx)

    monkeypatch.setattr(hooks_module, "make_train_hooks", spy)
    spec = ModelSpec((StageSpec(1, 8, 1, "res_basic"),), stem_width=8)
    data = synthetic(64, 32)
    for augment in (False, True):
        train(spec, {"epochs": 1, "batch_size": 16, "augment": augment}, data, threads=1)
        batch = seen["ctx"].sample_batch().float()
        mean, std = torch.tensor(data.mean).view(1, -1, 1, 1), torch.tensor(data.std).view(1, -1, 1, 1)
        raw = torch.round((batch * std + mean) * 255).flatten(1)  # back to the stored uint8 pixels
        images = torch.as_tensor(data.train_x).float().flatten(1)
        stored = sum(bool((images == row).all(1).any()) for row in raw)
        assert (stored == len(raw)) == (not augment)
