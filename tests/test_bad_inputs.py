"""Bad input that used to escape as a traceback: one line on stderr naming the problem, exit 2."""
import json

import numpy as np
import pytest

from designspace.cli import main as cli
from designspace.errors import UsageError

GOOD_STAGE = {"depth": 1, "width": 16, "stride": 2, "block": "res_basic"}


def one_line_exit_2(argv, capsys, *needles):
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("command", [["describe"], ["train", "--data", "synthetic", "--epochs", "0.01"]])
def test_a_spec_whose_stages_is_a_string(tmp_path, capsys, command):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"stages": "abc", "stem_width": 16}))
    one_line_exit_2([command[0], str(path), *command[1:]], capsys, "'stages'", "must be a list")


@pytest.mark.parametrize("command", [["describe"], ["train", "--data", "synthetic", "--epochs", "0.01"]])
@pytest.mark.parametrize("where", ["top", "meta"])
def test_a_deeply_nested_json_spec(tmp_path, capsys, command, where):
    deep = "[" * 100_000 + "]" * 100_000
    text = deep if where == "top" else json.dumps({"stages": [GOOD_STAGE]})[:-1] + f', "meta": {{"a": {deep}}}}}'
    path = tmp_path / "spec.json"
    path.write_text(text)
    one_line_exit_2([command[0], str(path), *command[1:]], capsys, "nests too deeply")


def test_describe_of_a_table_with_several_rows_asks_which(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert cli(["sample", "--space", "RegNetX", "-n", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    one_line_exit_2(["describe", str(out)], capsys, "holds 3 models", "--row N (0..2)", "--id ID")
    first = json.loads(out.read_text().splitlines()[1])
    assert cli(["describe", str(out), "--row", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first["id"]
    assert cli(["describe", str(out), "--id", first["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == first["id"]


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_train_of_a_table_with_several_rows_asks_which(tmp_path, capsys, ext):
    out = tmp_path / f"s.{ext}"
    assert cli(["sample", "--space", "RegNetX", "-n", "3", "--regime", "fashion-mnist", "--flops", "0.2M:3M",
                "--out", str(out)]) == 0
    capsys.readouterr()
    train = ["--data", "synthetic", "--epochs", "0.01", "--threads", "1", "--json"]
    one_line_exit_2(["train", str(out), *train], capsys, "holds 3 models", "--row N (0..2)", "--id ID")
    assert capsys.readouterr().out == ""  # refused before any training
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()] if ext == "jsonl" else None
    assert cli(["train", str(out), "--row", "2", *train]) == 0
    picked = json.loads(capsys.readouterr().out)["spec_id"]
    assert ids is None or picked == ids[2]
    assert cli(["train", str(out), "--id", picked, *train]) == 0
    assert json.loads(capsys.readouterr().out)["spec_id"] == picked


def test_train_of_a_one_row_table_needs_no_row(tmp_path, capsys):
    out = tmp_path / "one.jsonl"
    assert cli(["sample", "--space", "RegNetX", "-n", "1", "--regime", "fashion-mnist", "--flops", "0.2M:3M",
                "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli(["train", str(out), "--data", "synthetic", "--epochs", "0.01", "--threads", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec_id"] == json.loads(out.read_text())["id"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from designspace.models import build
    from designspace.safeload import save_checkpoint
    from designspace.spec import ModelSpec

    spec = ModelSpec.from_dict({"stages": [GOOD_STAGE], "stem_width": 8})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(str(path), spec, "cifar", build(spec, "cifar").state_dict(), error=50.0)
    return path


@pytest.mark.parametrize("out, needle", [("missing/sub/model.pt", "does not exist"), (".", "is a directory")])
def test_deploy_out_into_a_missing_folder_or_onto_a_directory(tmp_path, capsys, checkpoint, out, needle):
    before = sorted(p.name for p in tmp_path.iterdir())
    one_line_exit_2(["deploy", str(checkpoint), "--out", str(tmp_path / out)], capsys, "--out", needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _image_folder(root, mode):
    from PIL import Image

    rng = np.random.default_rng(0)
    bands = len(mode)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 255, (12, 12, bands), dtype=np.uint8)
                Image.fromarray(pixels.squeeze(-1) if bands == 1 else pixels, mode).save(folder / f"{i}.png")
    return root


def test_an_image_folder_of_two_channel_images(tmp_path, capsys):
    from designspace.data import load_dataset

    root = _image_folder(tmp_path / "la", "LA")  # grey + alpha: two bands per pixel
    for channels in (1, 3):
        data = load_dataset("imagefolder", str(root), channels=channels, image_size=8)
        assert data.train_x.shape[1:] == (channels, 8, 8)
    with pytest.raises(UsageError, match="option 'channels': must be one of 1, 3, got 2"):
        load_dataset("imagefolder", str(root), channels=2)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"name: t\nspaces: [RegNetX]\nmodels_per_space: 1\nregime: cifar\nstore: {tmp_path}/r.db\n"
                   f"dataset: {{name: imagefolder, dir: {root}, channels: 2}}\n")
    one_line_exit_2(["sweep", str(cfg)], capsys, "dataset", "channels", "must be one of 1, 3")
    assert not (tmp_path / "r.db").exists()
