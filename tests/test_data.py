"""Dataset loaders: tiny files in the real formats (idx gz, CIFAR pickle) written to tmp dirs."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from designspace.data import load_cifar10, load_dataset, load_fashion_mnist, read_idx, synthetic
from designspace.errors import UsageError


def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.tobytes())


@pytest.fixture
def fmnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return tmp_path


def test_fashion_mnist_reads_idx_gz(fmnist_dir):
    data = load_fashion_mnist(str(fmnist_dir))
    assert data.train_x.shape == (12, 1, 28, 28) and data.test_x.shape == (5, 1, 28, 28)
    assert str(data.train_x.dtype) == "torch.uint8" and str(data.train_y.dtype) == "torch.int64"
    raw = read_idx(str(fmnist_dir / "train-images-idx3-ubyte.gz"))
    assert np.array_equal(data.train_x[:, 0].numpy(), raw)
    assert np.array_equal(data.test_y.numpy(), read_idx(str(fmnist_dir / "t10k-labels-idx1-ubyte.gz")))


def test_fashion_mnist_env_var_overrides_default(fmnist_dir, monkeypatch):
    monkeypatch.setenv("DESIGNSPACE_FASHION_MNIST", str(fmnist_dir))
    assert load_dataset("fashion-mnist").train_x.shape[0] == 12


def test_missing_file_names_it_and_the_package(tmp_path):
    with pytest.raises(UsageError) as info:
        load_fashion_mnist(str(tmp_path))
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("damage", ["truncate_payload", "not_gzip", "bad_magic"])
def test_corrupt_idx_is_a_usage_error_naming_the_file(fmnist_dir, damage):
    path = fmnist_dir / "train-images-idx3-ubyte.gz"
    if damage == "truncate_payload":
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
        with gzip.open(path, "wb") as fh:
            fh.write(raw[:-10])
    elif damage == "not_gzip":
        path.write_bytes(b"this is not gzip at all")
    else:
        with gzip.open(path, "wb") as fh:
            fh.write(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz.*corrupt"):
        load_fashion_mnist(str(fmnist_dir))


def write_cifar(directory, n=4, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": name.encode()}
        with open(os.path.join(directory, name), "wb") as fh:
            pickle.dump(batch, fh)
        batches[name] = batch
    return batches


def test_cifar10_reads_pickle_batches(tmp_path):
    batches = write_cifar(tmp_path / "cifar-10-batches-py")
    data = load_cifar10(str(tmp_path / "cifar-10-batches-py"))
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
    first = batches["data_batch_1"][b"data"][0]
    assert np.array_equal(data.train_x[0].numpy().reshape(-1), first)  # rows are CHW planes, R then G then B
    assert data.test_y.tolist() == batches["test_batch"][b"labels"]


def test_cifar10_env_and_errors(tmp_path, monkeypatch):
    directory = tmp_path / "c"
    write_cifar(directory)
    monkeypatch.setenv("DESIGNSPACE_CIFAR10", str(directory))
    assert load_dataset("cifar10").train_x.shape[0] == 20
    (directory / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="data_batch_3 is corrupt"):
        load_cifar10(str(directory))
    os.remove(directory / "data_batch_3")
    with pytest.raises(UsageError, match="data_batch_3 not found.*cifar-10-python"):
        load_cifar10(str(directory))


def test_synthetic_is_seeded_and_subset_is_fixed():
    a, b, c = synthetic(seed=3), synthetic(seed=3), synthetic(seed=4)
    assert (a.train_x == b.train_x).all() and (a.train_y == b.train_y).all()
    assert not (a.train_x == c.train_x).all()
    s1, s2 = a.subset(100, 50), a.subset(100, 50)
    assert s1.train_x.shape[0] == 100 and s1.test_x.shape[0] == 50
    assert (s1.train_x == s2.train_x).all() and (s1.train_y == s2.train_y).all()
    assert a.subset(None, None) is not None and a.subset(10_000).train_x.shape[0] == 512


def test_dataset_pickles_through_numpy():
    data = synthetic(train_size=20, test_size=10)
    back = pickle.loads(pickle.dumps(data))
    assert (back.train_x == data.train_x).all() and back.mean == data.mean and back.name == "synthetic"


def test_unknown_dataset():
    with pytest.raises(UsageError, match="unknown dataset"):
        load_dataset("mnist-ish")


def test_imagefolder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (40, 30), (i * 100, 50, 200)).save(tmp_path / split / cls / f"{i}.png")
    data = load_dataset("imagefolder", str(tmp_path), image_size=32)
    assert data.train_x.shape == (4, 3, 32, 32) and data.num_classes == 2
    assert sorted(data.train_y.tolist()) == [0, 0, 1, 1]
