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


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory):
    """Two sample rows as `designspace sample` writes them: row 0 for fashion-mnist, row 1 for cifar."""
    from designspace.complexity import complexity
    from designspace.regimes import get_regime
    from designspace.table import spec_row

    rows = []
    for regime in ("fashion-mnist", "cifar"):
        spec = get_space("RegNetX").sample(1, seed=1, flops="0.2M:3M" if regime == "fashion-mnist" else "1M:20M",
                                           regime=regime)[0]
        rows.append(spec_row(spec, complexity([spec], get_regime(regime)), regime))
    folder = tmp_path_factory.mktemp("rows")
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path), rows


def test_train_on_a_sample_row_uses_the_rows_regime(rows_file, capsys):
    path, rows = rows_file
    rc = cli(["train", path, "--row", "0", "--data", "synthetic", "--epochs", "1", "--batch-size", "64",
              "--train-size", "128", "--threads", "1", "--json"])
    metrics = json.loads(capsys.readouterr().out)
    assert rc == 0 and metrics["spec_id"] == rows[0]["id"] and metrics["regime"] == "fashion-mnist"
    rc = cli(["train", path, "--id", rows[0]["id"], "--data", "synthetic", "--epochs", "1", "--batch-size", "64",
              "--train-size", "128", "--threads", "1", "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["spec_id"] == rows[0]["id"]


@pytest.mark.parametrize("argv, needle", [
    (["--row", "1", "--data", "synthetic"], "sampled for the cifar regime"),  # the row's regime, not the data's
    (["--row", "1", "--data-dir", "/nonexistent/cifar"], "cifar"),            # default data: the regime's (cifar10)
    (["--row", "5", "--data", "synthetic"], "--row 5"),
    (["--id", "nope", "--data", "synthetic"], "no row with id nope"),
])
def test_bad_rows_exit_2_in_one_line(rows_file, capsys, argv, needle):
    assert cli(["train", rows_file[0], *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err


def test_binary_spec_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "model.json"
    path.write_bytes(b"\x80\x04\x95binary")
    assert cli(["train", str(path), "--data", "synthetic"]) == 2
    err = capsys.readouterr().err.strip()
    assert "binary" in err and len(err.splitlines()) == 1
