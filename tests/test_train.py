"""The trainer: repeatable with a seed, sane metrics, NaN -> diverged, recipe validation."""
import math

import pytest
import torch

from designspace.data import synthetic
from designspace.errors import UsageError
from designspace.spaces import get_space
from designspace.train import Recipe, augment_batch, lr_at, train


@pytest.fixture(scope="module")
def spec():
    return get_space("AnyNetXA").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0]


@pytest.fixture(scope="module")
def data():
    return synthetic(train_size=256, test_size=128, seed=0)


def test_same_seed_same_numbers(spec, data):
    recipe = {"epochs": 1, "batch_size": 64}
    a = train(spec, recipe, data, seed=1, threads=1)
    b = train(spec, recipe, data, seed=1, threads=1)
    c = train(spec, recipe, data, seed=2, threads=1)
    assert a["status"] == b["status"] == "done"
    assert a["error"] == b["error"] and a["train_loss"] == b["train_loss"]
    assert c["train_loss"] != a["train_loss"]


def test_metrics_are_sane(spec, data):
    m = train(spec, {"epochs": 2, "batch_size": 64, "augment": True, "warmup_epochs": 0.5}, data, seed=0, threads=1)
    assert m["status"] == "done" and m["message"] is None
    assert 0.0 <= m["error"] <= 100.0
    assert math.isfinite(m["train_loss"]) and m["train_loss"] > 0
    assert m["epochs"] == 2 and m["steps"] == 8
    assert m["images_per_s"] > 0 and m["seconds"] > 0 and m["device"].startswith("cpu")
    assert m["train_size"] == 256 and m["test_size"] == 128


def test_subset_sizes_are_honoured(spec, data):
    m = train(spec, {"epochs": 1, "batch_size": 32, "train_size": 64, "test_size": 40}, data, seed=0, threads=1)
    assert (m["train_size"], m["test_size"], m["steps"]) == (64, 40, 2)


def test_learns_something(spec):
    # A learnable dataset and enough steps: far better than the 90% error of guessing.
    easy = synthetic(train_size=1024, test_size=256, seed=0, noise=0.2)
    m = train(spec, {"epochs": 4, "batch_size": 64, "lr": 0.1}, easy, seed=0, threads=1)
    assert m["error"] < 60, m


def test_huge_lr_diverges(spec, data):
    m = train(spec, {"epochs": 1, "batch_size": 32, "lr": 1e6}, data, seed=0, threads=1)
    assert m["status"] == "diverged" and m["error"] is None
    assert "non-finite" in m["message"]


def test_a_family_whose_build_raises_fails_only_its_own_specs(spec, data, explode_family):
    # The same architecture with the test plugin's explode option (tests/plugin_families.py).
    boom = get_space("AnyNetXA+explode").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0]
    assert boom.family == {"explode": {}} and boom.stages == spec.stages and boom.id != spec.id
    with pytest.raises(RuntimeError, match="explode family: this network cannot be built"):
        train(boom, {}, data, threads=1)
    assert train(spec, {"train_size": 64}, data, threads=1)["status"] == "done"


def test_recipe_validation():
    with pytest.raises(UsageError, match="recipe.learning_rate"):
        Recipe.from_dict({"learning_rate": 0.1})
    with pytest.raises(UsageError, match="recipe.lr"):
        Recipe.from_dict({"lr": -1})
    with pytest.raises(UsageError, match="recipe.batch_size"):
        Recipe.from_dict({"batch_size": "big"})
    assert Recipe.from_dict({"epochs": 2}).epochs == 2.0
    r = Recipe()
    assert (r.lr, r.momentum, r.nesterov, r.weight_decay, r.label_smoothing) == (0.05, 0.9, True, 5e-5, 0.0)


def test_regime_mismatch_is_a_usage_error(spec):
    cifar_like = synthetic(train_size=16, test_size=8, image_size=32, channels=3)
    with pytest.raises(UsageError, match="regime fashion-mnist"):
        train(spec, {}, cifar_like, regime="fashion-mnist")


def test_lr_schedule():
    assert lr_at(0, 100, 0, 0.1, 0.1) == pytest.approx(0.1)
    assert lr_at(50, 100, 0, 0.1, 0.1) == pytest.approx(0.05)
    assert lr_at(99, 100, 0, 0.1, 0.1) < 0.001
    assert lr_at(0, 100, 10, 0.1, 0.1) == pytest.approx(0.01)  # warm-up starts at factor * lr
    assert lr_at(10, 100, 10, 0.1, 0.1) == pytest.approx(lr_at(10, 100, 0, 0.1, 0.1))


def test_augment_batch_crops_and_flips():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.uint8).view(2, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = augment_batch(x, 0, g)  # no padding: each image is itself or its mirror
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(2))
    out = augment_batch(x, 2, g)
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert not all(torch.equal(augment_batch(x, 2, g), x) for _ in range(5))
