"""Loading files that may come from anyone, without running code from them.

- `load_numpy_pickle(fh)`: a pickle of dicts, lists, tuples, bytes, str, numbers and numeric numpy
  arrays (the CIFAR-10 python batches). The unpickler never imports a callable named in the file:
  the few globals such a pickle names (numpy's array and dtype reconstructors, ``_codecs.encode`` for
  bytes) map to small functions of this module that only accept numeric dtypes and raw bytes.
  Anything else is refused before it is called.
- `save_checkpoint` / `read_checkpoint`: model checkpoints as plain containers of tensors, strings
  and numbers, read with ``torch.load(weights_only=True)`` (torch's own restricted unpickler).
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import UsageError

NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats: never object or void dtypes


class _ArrayClassToken:
    """Stands for numpy.ndarray inside a pickle; it is not callable."""


_NDARRAY = _ArrayClassToken()


def _numeric_dtype(obj, align=False, copy=True) -> np.dtype:
    if not isinstance(obj, (str, bytes)):
        raise pickle.UnpicklingError(f"refusing a numpy dtype built from {type(obj).__name__}")
    name = obj.decode("ascii", "replace") if isinstance(obj, bytes) else obj
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise pickle.UnpicklingError(f"refusing numpy dtype {name!r}") from None
    if dtype.kind not in NUMERIC_KINDS:
        raise pickle.UnpicklingError(f"refusing numpy dtype {name!r} (only numeric arrays are read)")
    return dtype


def _reconstruct(cls, shape, typecode):
    """numpy's ndarray reconstructor: an empty numeric array whose __setstate__ (numpy's own,
    given a dtype from _numeric_dtype and raw bytes) fills it."""
    if cls is not _NDARRAY:
        raise pickle.UnpicklingError("refusing an array of a class other than numpy.ndarray")
    return np.empty(0, np.uint8)


def _frombuffer(buf, dtype, shape, order="C"):
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_KINDS:
        raise pickle.UnpicklingError("refusing an array without a numeric dtype")
    if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)):
        raise pickle.UnpicklingError("refusing an array built from something other than bytes")
    return np.frombuffer(buf, dtype).reshape(shape, order=order)


def _encode(text, encoding="utf-8"):
    """``_codecs.encode``, which protocol-2 pickles use for bytes: str to latin-1 bytes only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode of anything but latin-1 text")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _numeric_dtype,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not plain data)") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id")


def load_numpy_pickle(fh, encoding: str = "bytes") -> Any:
    """Unpickle plain data and numeric numpy arrays from a binary file; raises pickle.UnpicklingError
    (or ValueError/TypeError from malformed array state) for anything else."""
    return _NumpyOnlyUnpickler(fh, encoding=encoding).load()


# --- checkpoints ---
CHECKPOINT_KEYS = ("spec", "regime", "state_dict")


def save_checkpoint(path: str, spec, regime: str, state_dict: Mapping, **extra) -> str:
    """Write {spec (dict), regime (name), state_dict (tensors), **extra (str/number)} for `deploy`."""
    import torch

    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    payload = {"spec": spec.to_dict() if hasattr(spec, "to_dict") else dict(spec), "regime": str(regime),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, **extra}
    tmp = f"{path}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a reader never sees half a checkpoint
    return path


def read_checkpoint(path: str) -> dict:
    """A checkpoint dict, read without running code from the file; one-line UsageError otherwise."""
    import torch

    if not os.path.isfile(path):
        raise UsageError(f"checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise UsageError(f"checkpoint {path} is refused: it holds more than tensors and plain data "
                         f"({first[:160]})") from None
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read checkpoint {path}: {first[:160]}") from None
    if not isinstance(ckpt, Mapping) or not set(CHECKPOINT_KEYS) <= set(ckpt):
        raise UsageError(f"checkpoint {path} must hold a dict with {', '.join(CHECKPOINT_KEYS)}")
    if not isinstance(ckpt["spec"], Mapping) or not isinstance(ckpt["regime"], str) \
            or not isinstance(ckpt["state_dict"], Mapping) \
            or not all(isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values()):
        raise UsageError(f"checkpoint {path}: spec must be a dict, regime a name and state_dict tensors")
    return dict(ckpt)


def spec_from_checkpoint(ckpt: Mapping, path: str):
    """The checkpoint's ModelSpec, checked to be buildable at a size its own state_dict accounts for
    (a garbage spec with width 1e9 must not allocate terabytes before load_state_dict complains)."""
    from .limits import check_spec
    from .regimes import get_regime
    from .spec import ModelSpec

    try:
        spec = ModelSpec.from_dict(ckpt["spec"])
        get_regime(ckpt["regime"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"checkpoint {path} holds a bad spec: {str(exc).splitlines()[0][:160]}") from None
    stored = sum(int(v.numel()) for v in ckpt["state_dict"].values())
    check_spec(spec, f"checkpoint {path}", max_params=max(10 * stored, 1_000_000))
    return spec
