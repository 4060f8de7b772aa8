"""Untrusted files run no code: a crafted CIFAR batch and a crafted checkpoint write no marker file
and are refused in one line (exit 2 through the CLI); real batches and checkpoints still load."""
import os
import pickle

import numpy as np
import pytest
import torch

from designspace.cli import main as cli
from designspace.data import load_cifar10
from designspace.errors import UsageError
from designspace.models import build
from designspace.safeload import load_numpy_pickle, read_checkpoint, save_checkpoint
from designspace.spaces import get_space


class Payload:
    """Unpickling this calls os.system, which writes the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def write_batches(directory, poison=None):
    rng = np.random.default_rng(0)
    os.makedirs(directory, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [1, 2, 3, 4],
                 b"filenames": [b"a.png"] * 4}
        if poison is not None and name == "data_batch_3":
            batch[b"batch_label"] = poison
        with open(os.path.join(directory, name), "wb") as fh:
            pickle.dump(batch, fh, protocol=2 if name == "test_batch" else 4)


def test_real_numpy_pickles_load_in_every_protocol():
    arr = np.arange(12, dtype=np.int64).reshape(3, 4)
    for proto in (2, 3, 4, 5):
        back = load_numpy_pickle(__import__("io").BytesIO(pickle.dumps({b"x": arr, "y": [b"z", 1.5]}, proto)))
        assert np.array_equal(back[b"x"], arr) and back[b"x"].dtype == np.int64 and back["y"] == [b"z", 1.5]


def test_crafted_cifar_batch_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "marker"
    write_batches(tmp_path / "ok")
    assert load_cifar10(str(tmp_path / "ok")).train_x.shape == (20, 3, 32, 32)
    write_batches(tmp_path / "evil", poison=Payload(marker))
    with pytest.raises(UsageError, match="data_batch_3 is refused.*posix.system|data_batch_3 is refused"):
        load_cifar10(str(tmp_path / "evil"))
    assert not marker.exists()
    spec = tmp_path / "spec.json"
    spec.write_text(get_space("RegNetX").sample(1, seed=0, flops="0.2M:2M", regime="cifar")[0].to_json())
    assert cli(["train", str(spec), "--data", "cifar10", "--data-dir", str(tmp_path / "evil")]) == 2
    err = capsys.readouterr().err.strip()
    assert "refused" in err and len(err.splitlines()) == 1 and not marker.exists()


@pytest.mark.parametrize("dtype_name", ["O", "V8"])
def test_object_and_void_arrays_are_refused(dtype_name):
    arr = np.array([1, "x"], dtype=object) if dtype_name == "O" else np.zeros(2, dtype="V8")
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_numpy_pickle(__import__("io").BytesIO(pickle.dumps(arr, 2)))


def test_crafted_checkpoint_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"spec": {"stages": []}, "regime": "cifar", "state_dict": {}, "x": Payload(marker)}, path)
    with pytest.raises(UsageError, match="refused"):
        read_checkpoint(str(path))
    assert cli(["deploy", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "refused" in err and len(err.splitlines()) == 1
    assert not marker.exists()


def test_checkpoint_round_trip(tmp_path):
    spec = get_space("RegNetX").sample(1, seed=0, flops="0.2M:2M", regime="cifar")[0]
    model = build(spec, "cifar")
    path = save_checkpoint(str(tmp_path / "m.pt"), spec, "cifar", model.state_dict(), epochs=1.0)
    ckpt = read_checkpoint(path)
    assert ckpt["spec"] == spec.to_dict() and ckpt["epochs"] == 1.0
    assert all(torch.equal(ckpt["state_dict"][k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("content", [b"", b"garbage" * 50, b"PK\x03\x04" + bytes(64)])
def test_garbage_checkpoint_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    assert cli(["deploy", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.pt" in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("payload, needle", [
    ({"spec": {"stages": "abc"}, "regime": "cifar", "state_dict": {}}, "bad spec"),
    ({"spec": {"stages": [{"depth": 1, "width": 10**9}]}, "regime": "cifar", "state_dict": {}}, "width': must be <="),
    ({"spec": {"stages": [{"depth": 1, "width": 8}]}, "regime": "mars", "state_dict": {}}, "bad spec"),
    ({"spec": [], "regime": "cifar", "state_dict": {}}, "spec must be a dict"),
    ([1, 2, 3], "must hold a dict"),
])
def test_wrong_checkpoint_contents_are_one_line(tmp_path, capsys, payload, needle):
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    assert cli(["deploy", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
