"""Helpers the built-in family packages share (not a family: it registers nothing).

Option validators, each raising a one-line ``UsageError`` that names ``<option>.<key>``, and the
per-model draw of sampler dimensions. numpy only: option parsing and sampling never import torch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from ..spaces.common import choice as _draw
from ..spec import MAX_DEPTH


def option_fields(name: str, value: Any, defaults: dict) -> dict:
    """A mapping option with keys from `defaults` only, missing keys filled in from them."""
    if not isinstance(value, dict) and not hasattr(value, "keys"):
        raise UsageError(f"family option {name} must be a mapping, got {value!r}")
    value = dict(value)
    unknown = set(value) - set(defaults)
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(sorted(unknown))} in family option {name}; "
                         f"valid: {', '.join(defaults)}")
    return {**defaults, **value}


def choice(name, key, value, valid):
    if value not in valid:
        raise UsageError(f"{name}.{key} must be one of {', '.join(map(str, valid))}, got {value!r}")
    return value


def ratio(name, key, value, lo, hi, lo_open=True, hi_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name}.{key} must be a number, got {value!r}")
    bad = (value <= lo if lo_open else value < lo) or (value >= hi if hi_open else value > hi)
    if bad:
        span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise UsageError(f"{name}.{key} must be in {span}, got {value!r}")
    return float(value)


def count(name, key, value, minimum=1, maximum=MAX_DEPTH) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise UsageError(f"{name}.{key} must be an integer in {minimum}..{maximum:,}, got {value!r}")
    return value


def flag(name, key, value) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name}.{key} must be true or false, got {value!r}")
    return value


def per_model(rng: np.random.Generator, values, m: int, s: int) -> np.ndarray:
    """(m, s): one of `values` per model, shared by its s stages."""
    return np.repeat(_draw(rng, values, (m, 1)), s, axis=1)
