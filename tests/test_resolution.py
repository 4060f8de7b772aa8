"""Input resolution (a regime NAME@SIZE): the same images resized, in the trainer, the sweep and the CLI."""
import json

import pytest
import torch

from designspace.cli import main as cli
from designspace.complexity import complexity
from designspace.data import fit_to_regime, resized, synthetic
from designspace.errors import UsageError
from designspace.spaces import get_space
from designspace.sweep import load_sweep_data, parse_config
from designspace.train import train


@pytest.fixture(scope="module")
def data():
    return synthetic(train_size=96, test_size=40, seed=3)


@pytest.mark.parametrize("size", [14, 20, 36, 56])
def test_resized_keeps_labels_and_resamples_every_image(data, size):
    out = resized(data, size)
    assert out.train_x.shape == (96, 1, size, size) and out.test_x.shape == (40, 1, size, size)
    assert out.train_x.dtype == torch.uint8 and out.name == data.name and out.mean == data.mean
    assert torch.equal(out.train_y, data.train_y) and torch.equal(out.test_y, data.test_y)
    # Bilinear resampling keeps an image's mean brightness within a level or two (rounding, edges).
    before, after = data.train_x.float().mean((1, 2, 3)), out.train_x.float().mean((1, 2, 3))
    assert (before - after).abs().max() < 3.0


def test_resizing_a_constant_image_changes_nothing_and_up_then_down_is_close(data):
    flat = synthetic(train_size=8, test_size=4, seed=0)
    flat.train_x[:] = 77
    assert (resized(flat, 36).train_x == 77).all() and (resized(flat, 20).train_x == 77).all()
    ramp = torch.arange(28).view(1, 1, 28, 1) * 4 + torch.arange(28).view(1, 1, 1, 28) * 3
    flat.train_x[:] = ramp.to(torch.uint8)  # a smooth image: resampling it up and down returns it
    back = resized(resized(flat, 56), 28).train_x.float()[..., 2:-2, 2:-2]  # (the border is clamped)
    assert (back - flat.train_x.float()[..., 2:-2, 2:-2]).abs().max() <= 1.0
    assert not torch.equal(resized(data, 20).train_x[:, :, :20, :20], data.train_x[:, :, :20, :20])


def test_fit_to_regime_resizes_only_when_the_regime_asks(data):
    assert fit_to_regime(data, "fashion-mnist") is data
    assert fit_to_regime(data, "fashion-mnist@28") is data  # @28 is fashion-mnist itself
    assert fit_to_regime(data, "fashion-mnist@20").shape == (1, 20, 20)
    with pytest.raises(UsageError, match="regime cifar needs"):
        fit_to_regime(data, "cifar")  # 1 channel: never silently made into 3
    with pytest.raises(UsageError, match="regime cifar@40 needs"):
        fit_to_regime(data, "cifar@40")
    with pytest.raises(UsageError, match="regime fashion-mnist needs"):
        fit_to_regime(resized(data, 20), "fashion-mnist")  # a size the regime did not ask for


def test_training_at_another_resolution_builds_for_it(data):
    spec = get_space("RegNetX").sample(1, seed=0, flops="0.2M:2M", regime="fashion-mnist@20")[0]
    assert complexity(spec, "fashion-mnist@20")["flops"] < complexity(spec, "fashion-mnist")["flops"]
    recipe = {"epochs": 1, "batch_size": 32}
    small = train(spec, recipe, data, regime="fashion-mnist@20", threads=1)
    same = train(spec, recipe, resized(data, 20), regime="fashion-mnist@20", threads=1)
    native = train(spec, recipe, data, regime="fashion-mnist", threads=1)
    assert small["status"] == "done" and 0 <= small["error"] <= 100
    assert small["error"] == same["error"] and small["train_loss"] == same["train_loss"]  # resized in train
    assert small["train_loss"] != native["train_loss"]


def test_a_sweep_at_name_at_size_loads_resized_images_once(tmp_path):
    raw = {"name": "res", "store": str(tmp_path / "r.db"), "spaces": ["RegNetX"], "models_per_space": 2,
           "flops": "0.2M:2M", "regime": "fashion-mnist@36", "recipe": {"epochs": 1, "train_size": 64, "test_size": 32},
           "dataset": {"name": "synthetic", "train_size": 128, "test_size": 64}}
    loaded = load_sweep_data(parse_config(raw))
    assert loaded.train_x.shape == (64, 1, 36, 36) and loaded.test_x.shape == (32, 1, 36, 36)
    raw.update(regime="cifar@36", store=str(tmp_path / "c.db"))
    with pytest.raises(UsageError, match="regime cifar@36 needs"):
        load_sweep_data(parse_config(raw))
    assert not (tmp_path / "c.db").exists()


def test_cli_trains_a_row_sampled_at_another_resolution(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    assert cli(["sample", "--space", "RegNetX", "-n", "2", "--flops", "0.2M:2M", "--regime", "fashion-mnist@20",
                "--out", str(rows)]) == 0
    rc = cli(["train", str(rows), "--row", "1", "--data", "synthetic", "--epochs", "1", "--batch-size", "64",
              "--threads", "1", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    metrics = json.loads(out.out.strip().splitlines()[-1])
    assert metrics["regime"] == "fashion-mnist@20" and metrics["status"] == "done"
