"""`designspace train`: one trial from a spec file, metrics printed; bad input exits 2 in one line."""
import gzip
import json
import struct

import numpy as np
import pytest

from designspace.cli import main as cli
from designspace.spaces import get_space


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    spec = get_space("RegNetX").sample(1, seed=0, flops="0.2M:1M", regime="fashion-mnist")[0]
    path = tmp_path_factory.mktemp("spec") / "spec.json"
    path.write_text(spec.to_json())
    return str(path), spec


def test_train_prints_metrics_as_json(spec_file, capsys):
    path, spec = spec_file
    rc = cli(["train", path, "--data", "synthetic", "--epochs", "1", "--batch-size", "64", "--threads", "1",
              "--json"])
    out = capsys.readouterr().out
    metrics = json.loads(out)
    assert rc == 0 and metrics["status"] == "done" and metrics["spec_id"] == spec.id
    assert 0 <= metrics["error"] <= 100 and metrics["epochs"] == 1 and metrics["images_per_s"] > 0


def test_train_on_idx_files_in_a_data_dir(spec_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        for kind, shape in (("images-idx3", (n, 28, 28)), ("labels-idx1", (n,))):
            arr = rng.integers(0, 10 if kind.startswith("labels") else 256, shape).astype(np.uint8)
            with gzip.open(tmp_path / f"{prefix}-{kind}-ubyte.gz", "wb") as fh:
                fh.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
                         + arr.tobytes())
    rc = cli(["train", spec_file[0], "--data", "fashion-mnist", "--data-dir", str(tmp_path), "--epochs", "1",
              "--batch-size", "32", "--threads", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "top-1 error" in out and "on 64 images" in out


@pytest.mark.parametrize("argv, needle", [
    (["--data", "fashion-mnist", "--data-dir", "/nonexistent/fm"], "train-images-idx3-ubyte.gz"),
    (["--data", "imagenet"], "unknown dataset"),
    (["--data", "synthetic", "--lr", "-1"], "recipe.lr"),
    (["--data", "synthetic", "--regime", "cifar"], "regime cifar"),
])
def test_bad_input_exits_2_in_one_line(spec_file, capsys, argv, needle):
    assert cli(["train", spec_file[0], *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_missing_spec_file(capsys):
    assert cli(["train", "/nonexistent/spec.json", "--data", "synthetic"]) == 2
    assert "spec.json" in capsys.readouterr().err
