"""Helpers the built-in family packages share (not a family: it registers nothing).

Option validators on the declarative layer (designspace.schema), each raising a one-line ``UsageError``
that names ``<option>.<key>``, and the per-model draw of sampler dimensions. numpy only: option parsing and
sampling never import torch.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, create_model

from ..errors import UsageError
from ..limits import MAX_DEPTH
from ..schema import STRICT, Flag, Integer, Number, check, validate
from ..spaces.common import choice as _draw


def option_fields(name: str, value: Any, defaults: dict) -> dict:
    """A mapping option with keys from `defaults` only, missing keys filled in from them."""
    if not isinstance(value, Mapping):
        raise UsageError(f"family option {name} must be a mapping, got {value!r}")
    return validate(_options_model(name, tuple(defaults.items())), dict(value), f"family option {name}").model_dump()


@cache
def _options_model(name: str, defaults: tuple):
    return create_model(f"{name}_options", __config__=STRICT, **{k: (Any, v) for k, v in defaults})


def choice(name, key, value, valid):
    return check(_choice(tuple(valid)), value, f"{name}.{key}")


def ratio(name, key, value, lo, hi, lo_open=True, hi_open=False) -> float:
    return check(_ratio(lo, hi, lo_open, hi_open), value, f"{name}.{key}")


def count(name, key, value, minimum=1, maximum=MAX_DEPTH) -> int:
    return check(_count(minimum, maximum), value, f"{name}.{key}")


def flag(name, key, value) -> bool:
    return check(Flag, value, f"{name}.{key}")


# The types the helpers check against, made once per bound (schema.check caches a validator per type).
@cache
def _choice(valid: tuple):
    return Literal[valid]


@cache
def _ratio(lo, hi, lo_open, hi_open):
    return Annotated[Number, Field(**{"gt" if lo_open else "ge": lo, "lt" if hi_open else "le": hi})]


@cache
def _count(minimum, maximum):
    return Annotated[Integer, Field(ge=minimum, le=maximum)]


def per_model(rng: np.random.Generator, values, m: int, s: int) -> np.ndarray:
    """(m, s): one of `values` per model, shared by its s stages."""
    return np.repeat(_draw(rng, values, (m, 1)), s, axis=1)
