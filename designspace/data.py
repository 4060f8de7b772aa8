"""Datasets held in memory: uint8 images (N, C, H, W) and int64 labels, train and test splits.

Training reads batches straight out of these tensors by a random permutation (see train/epoch.py), so
there is no per-sample Python work and no DataLoader. Loaders:
- ``fashion-mnist``: the idx ``*-ubyte.gz`` files (Debian package ``dataset-fashion-mnist``);
- ``cifar10``: the python-pickle directory ``cifar-10-batches-py`` (data_batch_1..5, test_batch), read by
  a restricted unpickler (designspace.safeload) that admits plain data and numeric numpy arrays only;
- ``imagefolder``: ``DIR/train/CLASS/*.png`` and ``DIR/test/CLASS/*`` (``val/`` also accepted), via PIL;
- ``synthetic``: seeded class-dependent patterns plus noise, for tests (learnable, so error < 90%).
A regime NAME@SIZE trains the same images resized to SIZE (``fit_to_regime``), the paper's resolution test.
A missing or corrupt file raises a one-line UsageError naming the file and how to get it.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field

from .errors import UsageError
from .limits import MAX_SEED
from .safeload import load_numpy_pickle
from .schema import STRICT, Integer, Number, validate

if TYPE_CHECKING:
    import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "DESIGNSPACE_FASHION_MNIST"
CIFAR10_ENV = "DESIGNSPACE_CIFAR10"
FASHION_MNIST_HINT = ("install it with `sudo apt-get install dataset-fashion-mnist`, or point --data-dir / "
                      f"${FASHION_MNIST_ENV} at a directory holding the *-ubyte.gz files")
CIFAR10_HINT = ("download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, extract it and point "
                f"--data-dir / ${CIFAR10_ENV} at the cifar-10-batches-py directory")

# Per-channel statistics of the training sets (0..1 scale), used to normalise inside the trainer.
FASHION_MNIST_STATS = ((0.2860,), (0.3530,))
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
# The regime each dataset is trained in (designspace.regimes).
DATASET_REGIME = {"fashion-mnist": "fashion-mnist", "cifar10": "cifar", "synthetic": "fashion-mnist",
                  "imagefolder": "cifar"}
DATASETS = tuple(DATASET_REGIME)
REGIME_DATASET = {"fashion-mnist": "fashion-mnist", "cifar": "cifar10"}  # the dataset a regime trains on by default


@dataclass
class Dataset:
    """Train and test splits as uint8 (N, C, H, W) and int64 (N,) torch tensors."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: tuple
    std: tuple
    num_classes: int = 10

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_x.shape[1:])

    def subset(self, train_size: int | None = None, test_size: int | None = None, seed: int = 0) -> Dataset:
        """A fixed random subset of each split (the same for every trial: seed is the data seed)."""
        import torch

        def take(x, y, n, salt):
            if n is None or n >= len(x):
                return x, y
            g = torch.Generator().manual_seed(seed * 1000 + salt)
            idx = torch.randperm(len(x), generator=g)[:n].sort().values
            return x[idx].contiguous(), y[idx].contiguous()

        train_x, train_y = take(self.train_x, self.train_y, train_size, 1)
        test_x, test_y = take(self.test_x, self.test_y, test_size, 2)
        return Dataset(self.name, train_x, train_y, test_x, test_y, self.mean, self.std, self.num_classes)

    def __reduce__(self):
        # Pickle as numpy arrays: Ray stores numpy buffers once in shared memory and hands every
        # task a zero-copy view, where torch tensors would be copied into each worker.
        arrays = tuple(t.numpy() for t in (self.train_x, self.train_y, self.test_x, self.test_y))
        return _dataset_from_arrays, (self.name, arrays, self.mean, self.std, self.num_classes)

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={tuple(self.train_x.shape)}, test={tuple(self.test_x.shape)}, "
                f"classes={self.num_classes})")


def _dataset_from_arrays(name, arrays, mean, std, num_classes) -> Dataset:
    import torch

    with warnings.catch_warnings():  # views of Ray's read-only shared memory; the trainer never writes them
        warnings.simplefilter("ignore", UserWarning)
        tensors = [torch.from_numpy(a) for a in arrays]
    return Dataset(name, *tensors, mean, std, num_classes)


def _make(name, train_x, train_y, test_x, test_y, mean, std, num_classes=10) -> Dataset:
    import torch

    def tensor(a, dtype):  # owned, writable, contiguous (np.frombuffer views are read-only)
        return torch.from_numpy(np.require(a, dtype, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"]))

    return Dataset(name, tensor(train_x, np.uint8), tensor(train_y, np.int64), tensor(test_x, np.uint8),
                   tensor(test_y, np.int64), mean, std, num_classes)


def training_dataset(data: str | None, regime: str | None, sampled_for: str | None, where: str = "spec") -> str:
    """The dataset a model trains on: `data` where given, else the one that trains `regime` (given) or
    `sampled_for` (the regime its row was sampled for). A row sampled for one regime trains on another
    regime's dataset only when the regime is given too: its network (and complexity) changes."""
    from .regimes import base_name

    wanted = regime or sampled_for
    if data is None and wanted is not None and base_name(wanted) not in REGIME_DATASET:
        raise UsageError(f"no built-in dataset trains the {wanted} regime; pass --data (e.g. imagefolder) "
                         f"and --data-dir")
    name = data or REGIME_DATASET.get(base_name(wanted or ""), "fashion-mnist")
    own = base_name(sampled_for or "")  # NAME@SIZE trains NAME's dataset, resized
    if regime is None and sampled_for and DATASET_REGIME.get(name, own) != own:
        raise UsageError(f"{where}: the row was sampled for the {sampled_for} regime, but --data {name} "
                         f"trains the {DATASET_REGIME[name]} regime; pass --regime {DATASET_REGIME[name]} "
                         f"to build it for that dataset (its complexity changes)")
    return name


def load_dataset(name: str, data_dir: str | None = None, **options) -> Dataset:
    """The dataset called `name` (fashion-mnist | cifar10 | imagefolder | synthetic) in memory."""
    key = str(name).lower().replace("_", "-")
    key = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10",
           "cifar": "cifar10"}.get(key, key)
    if key == "fashion-mnist":
        _no_options(key, options)
        return load_fashion_mnist(data_dir)
    if key == "cifar10":
        _no_options(key, options)
        return load_cifar10(data_dir)
    if key == "imagefolder":
        return load_imagefolder(data_dir, **options)
    if key == "synthetic":
        return synthetic(**options)
    raise UsageError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def _no_options(name, options):
    if options:
        raise UsageError(f"dataset {name} takes no option {sorted(options)[0]!r}")


# --- Fashion-MNIST (idx format, gzip) ---
def read_idx(path: str, hint: str = FASHION_MNIST_HINT) -> np.ndarray:
    """One idx file (``.gz`` or plain): magic 0x0000 08 NDIM (ubyte), big-endian int32 dims, data."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise UsageError(f"dataset file {path} not found; {hint}") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"dataset file {path} is corrupt ({exc}); {hint}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise UsageError(f"dataset file {path} is corrupt (not an unsigned-byte idx file); {hint}")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(dims)):
        raise UsageError(f"dataset file {path} is corrupt (dims {dims} need {int(np.prod(dims))} bytes, "
                         f"found {len(raw) - start}); {hint}")
    return np.frombuffer(raw, np.uint8, offset=start).reshape(dims)


def _find(directory: str, filename: str) -> str:
    """`filename` in `directory`, also accepting the uncompressed name (without .gz)."""
    path = os.path.join(directory, filename)
    plain = path.removesuffix(".gz")
    return plain if not os.path.exists(path) and os.path.exists(plain) else path


def load_fashion_mnist(data_dir: str | None = None) -> Dataset:
    directory = data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR
    split = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte.gz"))
        y = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte.gz"))
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UsageError(f"Fashion-MNIST {part} files in {directory} do not match (images {x.shape}, "
                             f"labels {y.shape}); {FASHION_MNIST_HINT}")
        if y.size and y.max() > 9:
            raise UsageError(f"Fashion-MNIST {part} labels in {directory} are corrupt (label {y.max()} > 9)")
        split[part] = (x[:, None], y)
    return _make("fashion-mnist", *split["train"], *split["test"], *FASHION_MNIST_STATS)


# --- CIFAR-10 (python pickle batches) ---
def _read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            batch = load_numpy_pickle(fh, encoding="bytes")
    except FileNotFoundError:
        raise UsageError(f"dataset file {path} not found; {CIFAR10_HINT}") from None
    except pickle.UnpicklingError as exc:
        if "refusing" in str(exc):
            raise UsageError(f"dataset file {path} is refused: {exc}; a CIFAR-10 batch holds only arrays, "
                             "lists and bytes") from None
        raise UsageError(f"dataset file {path} is corrupt ({type(exc).__name__}); {CIFAR10_HINT}") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"dataset file {path} is corrupt ({type(exc).__name__}); {CIFAR10_HINT}") from None
    try:
        data = np.asarray(batch[b"data"], np.uint8)
        labels = np.asarray(batch[b"labels"], np.int64)
        images = data.reshape(len(data), 3, 32, 32)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"dataset file {path} is corrupt (not a CIFAR-10 batch: {exc}); {CIFAR10_HINT}") from None
    if len(images) != len(labels) or (labels.size and not 0 <= labels.min() <= labels.max() <= 9):
        raise UsageError(f"dataset file {path} is corrupt (labels do not match images); {CIFAR10_HINT}")
    return images, labels


def load_cifar10(data_dir: str | None = None) -> Dataset:
    directory = data_dir or os.environ.get(CIFAR10_ENV) or os.path.join("data", "cifar-10-batches-py")
    if not os.path.isdir(directory):
        raise UsageError(f"CIFAR-10 directory {directory} not found; {CIFAR10_HINT}")
    parts = [_read_cifar_batch(os.path.join(directory, f"data_batch_{i}")) for i in range(1, 6)]
    test_x, test_y = _read_cifar_batch(os.path.join(directory, "test_batch"))
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    return _make("cifar10", train_x, train_y, test_x, test_y, *CIFAR10_STATS)


# --- image folders (optional, needs PIL) ---
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class ImageFolderOptions(BaseModel):
    """Options of an image folder: every image is converted to `channels` (1: grey, 3: RGB) and resized."""
    model_config = STRICT
    image_size: Annotated[Integer, Field(ge=1, le=1024)] = 32
    channels: Literal[1, 3] = 3


def load_imagefolder(data_dir: str | None, image_size: int = 32, channels: int = 3) -> Dataset:
    """DIR/train/CLASS/IMAGE and DIR/test/CLASS/IMAGE (or val/), resized to image_size squared."""
    validate(ImageFolderOptions, {"image_size": image_size, "channels": channels}, "imagefolder dataset",
             noun="option")
    try:
        from PIL import Image
    except ImportError:
        raise UsageError("the imagefolder dataset needs Pillow: pip install pillow") from None
    if not data_dir or not os.path.isdir(data_dir):
        raise UsageError(f"imagefolder needs --data-dir DIR with train/ and test/ class folders; got {data_dir!r}")
    test_name = "test" if os.path.isdir(os.path.join(data_dir, "test")) else "val"
    classes = sorted(d.name for d in os.scandir(os.path.join(data_dir, "train")) if d.is_dir()) \
        if os.path.isdir(os.path.join(data_dir, "train")) else []
    if not classes or not os.path.isdir(os.path.join(data_dir, test_name)):
        raise UsageError(f"imagefolder {data_dir} needs train/CLASS/ and test/CLASS/ (or val/) folders")
    mode = {1: "L", 3: "RGB"}[channels]

    def read(split):
        xs, ys = [], []
        for label, cls in enumerate(classes):
            folder = os.path.join(data_dir, split, cls)
            for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                if not entry.lower().endswith(IMAGE_EXTS):
                    continue
                path = os.path.join(folder, entry)
                try:
                    with Image.open(path) as im:
                        im = im.convert(mode).resize((image_size, image_size))
                        xs.append(np.asarray(im, np.uint8).reshape(image_size, image_size, channels))
                except OSError as exc:
                    raise UsageError(f"image {path} is unreadable ({exc})") from None
                ys.append(label)
        if not xs:
            raise UsageError(f"imagefolder {data_dir}/{split} holds no images")
        return np.stack(xs).transpose(0, 3, 1, 2), np.asarray(ys)

    train_x, train_y = read("train")
    test_x, test_y = read(test_name)
    mean = tuple(float(m) for m in train_x.mean(axis=(0, 2, 3)) / 255)
    std = tuple(float(s) or 1.0 for s in train_x.std(axis=(0, 2, 3)) / 255)
    return _make("imagefolder", train_x, train_y, test_x, test_y, mean, std, num_classes=len(classes))


# --- synthetic ---
def check_synthetic_options(**options) -> None:
    """One-line UsageError for an option that is not a bounded positive integer (or finite noise), or a
    dataset too large to make in memory."""
    opts = validate(SyntheticOptions, options, "synthetic dataset", noun="option")
    images = opts.train_size + opts.test_size
    if images * opts.channels * opts.image_size ** 2 > MAX_SYNTHETIC_BYTES:
        raise UsageError(f"synthetic dataset of {images} images of {opts.channels}x{opts.image_size}x"
                         f"{opts.image_size} needs more than {MAX_SYNTHETIC_BYTES / 1e9:g} GB; make it smaller")


MAX_SYNTHETIC_IMAGES = 1_000_000
MAX_SYNTHETIC_BYTES = 200_000_000  # uint8 pixels (each split is made in float64 first: 8x that, briefly)


class SyntheticOptions(BaseModel):
    model_config = STRICT
    train_size: Annotated[Integer, Field(ge=1, le=MAX_SYNTHETIC_IMAGES)] = 512
    test_size: Annotated[Integer, Field(ge=1, le=MAX_SYNTHETIC_IMAGES)] = 256
    image_size: Annotated[Integer, Field(ge=1, le=512)] = 28
    channels: Annotated[Integer, Field(ge=1, le=4)] = 1
    num_classes: Annotated[Integer, Field(ge=1, le=100_000)] = 10
    seed: Annotated[Integer, Field(ge=0, le=MAX_SEED)] = 0
    noise: Number = 0.35


def synthetic(train_size: int = 512, test_size: int = 256, image_size: int = 28, channels: int = 1,
              num_classes: int = 10, seed: int = 0, noise: float = 0.35) -> Dataset:
    """Seeded class-dependent images: a smooth template per class plus pixel noise."""
    check_synthetic_options(train_size=train_size, test_size=test_size, image_size=image_size, channels=channels,
                            num_classes=num_classes, seed=seed, noise=noise)
    rng = np.random.default_rng(seed)
    coarse = rng.random((num_classes, channels, 4, 4))
    reps = -(-image_size // 4)
    templates = np.kron(coarse, np.ones((reps, reps)))[..., :image_size, :image_size]

    def split(n):
        y = rng.integers(0, num_classes, n)
        x = templates[y] + noise * rng.standard_normal((n, channels, image_size, image_size))
        return np.clip(x * 255, 0, 255).astype(np.uint8), y

    (train_x, train_y), (test_x, test_y) = split(train_size), split(test_size)
    stats = ((0.5,) * channels, (0.3,) * channels)
    return _make("synthetic", train_x, train_y, test_x, test_y, *stats, num_classes=num_classes)


# --- input resolution: the paper's resolution test trains the same images at another size ---
RESIZE_CHUNK = 8192  # images per interpolate call: bounds the float copy (8192 x 3 x 224^2 x 4 B = 4.9 GB at most)


def resized(data: Dataset, size: int) -> Dataset:
    """`data` with every image resampled to size x size: bilinear (half-pixel centres), antialiased when
    shrinking so that fine detail is averaged rather than aliased, rounded back to uint8. The labels,
    statistics and name stay (the dataset is the same; only its sampling grid changes)."""
    import torch
    import torch.nn.functional as F

    def resample(x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (size, size):
            return x
        out = torch.empty((len(x), x.shape[1], size, size), dtype=torch.uint8)
        for start in range(0, len(x), RESIZE_CHUNK):
            part = x[start:start + RESIZE_CHUNK].float()
            part = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False,
                                 antialias=size < x.shape[-1])
            out[start:start + RESIZE_CHUNK] = part.round_().clamp_(0, 255).to(torch.uint8)
        return out

    return Dataset(data.name, resample(data.train_x), data.train_y, resample(data.test_x), data.test_y,
                   data.mean, data.std, data.num_classes)


def fit_to_regime(data: Dataset, regime) -> Dataset:
    """`data` as `regime` trains it. A regime NAME@SIZE (designspace.regimes) asks for another input size
    than the dataset's: the images are resized to it (see `resized`). Anything else that differs (channels,
    classes, or a size the regime did not ask for) is a one-line UsageError: a dataset is never silently
    resampled to fit a regime it was not chosen for."""
    from .regimes import base_name, get_regime

    rg = get_regime(regime)
    channels, height, width = data.shape
    asked_size = base_name(rg.name) != rg.name  # get_regime names NAME@SIZE only when SIZE is not NAME's own
    if (channels, height, width) == (rg.channels, rg.im_size, rg.im_size) and data.num_classes == rg.num_classes:
        return data
    if channels == rg.channels and data.num_classes == rg.num_classes and height == width and asked_size:
        return resized(data, rg.im_size)
    raise UsageError(f"dataset {data.name} has images {data.shape} and {data.num_classes} classes; regime "
                     f"{rg.name} needs {(rg.channels, rg.im_size, rg.im_size)} and {rg.num_classes} (a regime "
                     f"NAME@SIZE resizes square images of the right channels and classes)")


# --- identity of the data a trial trains on ---
FINGERPRINT_BYTES = 1 << 20  # hash the first MB of each file: cheap, and any re-export changes it


def _resolve_dir(key: str, data_dir: str | None) -> str | None:
    if key == "fashion-mnist":
        return data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR
    if key == "cifar10":
        return data_dir or os.environ.get(CIFAR10_ENV) or os.path.join("data", "cifar-10-batches-py")
    return data_dir


def dataset_files(name: str, data_dir: str | None = None) -> list[str]:
    """The files a dataset is read from (none for synthetic); a missing one is a one-line UsageError."""
    key = {"cifar": "cifar10", "cifar-10": "cifar10"}.get(name, name)
    directory = _resolve_dir(key, data_dir)
    if key == "fashion-mnist":
        paths = [_find(directory, f"{p}-{k}-ubyte.gz") for p in ("train", "t10k")
                 for k in ("images-idx3", "labels-idx1")]
        hint = FASHION_MNIST_HINT
    elif key == "cifar10":
        if not os.path.isdir(directory):
            raise UsageError(f"CIFAR-10 directory {directory} not found; {CIFAR10_HINT}")
        paths = [os.path.join(directory, f"data_batch_{i}") for i in range(1, 6)]
        paths.append(os.path.join(directory, "test_batch"))
        hint = CIFAR10_HINT
    elif key == "imagefolder":
        if not directory or not os.path.isdir(directory):
            raise UsageError(f"imagefolder needs --data-dir DIR with train/ and test/ class folders; got {directory!r}")
        paths = []
        for split in ("train", "test", "val"):
            root = os.path.join(directory, split)
            for folder, _, files in sorted(os.walk(root)):
                paths += [os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTS)]
        return paths
    else:
        return []
    for path in paths:
        if not os.path.isfile(path):
            raise UsageError(f"dataset file {path} not found; {hint}")
    return paths


def dataset_fingerprint(name: str, data_dir: str | None = None) -> str:
    """A short hash of the dataset's files: for idx/pickle files their size and first MB, for an
    image folder the list of (relative path, size). Part of every trial id, so a trial trained on
    other data never counts as already done. Synthetic data is defined by its options alone."""
    key = {"cifar": "cifar10", "cifar-10": "cifar10"}.get(name, name)
    paths = dataset_files(key, data_dir)
    digest = hashlib.sha256(key.encode())
    base = _resolve_dir(key, data_dir) or ""
    for path in paths:
        size = os.path.getsize(path)
        digest.update(f"{os.path.relpath(path, base)}\0{size}\0".encode())
        if key != "imagefolder":
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read(FINGERPRINT_BYTES)).digest())
    return digest.hexdigest()[:16] if paths else ""
