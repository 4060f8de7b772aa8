"""Bounds on user input that would otherwise run out of memory or time, and the safe name charset.

Every check raises a one-line UsageError naming the key, the value and the limit.
"""
from __future__ import annotations

import math
import re

from .errors import UsageError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_IMAGES = 10_000_000  # train_size / test_size: far above any in-memory dataset this tool trains on
MAX_BATCH = 65_536
MAX_EPOCHS = 10_000
MAX_BOOT = 20000  # bootstrap replicates; beyond this the bootstrap's memory (replicates x models) is the limit
MAX_SEED = 2**32 - 1  # numpy and torch seeds
MAX_PARAMS = 2_000_000_000  # a model past this cannot be built in memory on one machine
MAX_CONFIG_BYTES = 1_000_000  # a sweep config or spec file; YAML aliases are refused separately


def check_name(value, key: str = "name") -> str:
    """A name that is safe as a path component and a store key: letters, digits, '.', '_', '-'."""
    if not isinstance(value, str) or not NAME_RE.match(value) or value in (".", ".."):
        raise UsageError(f"{key} must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or "
                         f"digit), got {value!r}")
    return value


def check_finite(value, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def check_int(value, key: str, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or \
            (maximum is not None and value > maximum):
        bound = f">= {minimum}" + (f" and <= {maximum:,}" if maximum is not None else "")
        raise UsageError(f"{key} must be an integer {bound}, got {value!r}")
    return value


def estimate_params(spec) -> int:
    """A quick upper-bound-ish count of a spec's weights (exact counts live in complexity.py): enough
    to refuse a model that cannot be built before torch tries to allocate it."""
    total = spec.stem_width * 27 + spec.head_width * 1024
    w_in = spec.stem_width
    for st in spec.stages:
        inner = max(int(st.width / st.bottleneck_ratio), 1)
        per_block = w_in * inner + 9 * inner * inner + inner * st.width + w_in * st.width
        total += per_block + max(st.depth - 1, 0) * (2 * st.width * inner + 9 * inner * inner)
        w_in = st.width
    return int(total)


def check_spec(spec, where: str = "spec", max_params: int = MAX_PARAMS) -> None:
    """Refuse specs that cannot be built or trained: widths a group width does not divide, and
    sizes past `max_params` weights."""
    for i, st in enumerate(spec.stages, 1):
        if st.depth == 0 or st.block != "res_bottleneck" or st.family:
            continue  # family stages have their own conventions, checked by their modules
        w_b = int(round(st.width / st.bottleneck_ratio))  # as models/blocks.py builds it
        groups = max(w_b // st.group_width, 1)
        if w_b % groups:
            raise UsageError(f"{where}: stage {i} bottleneck width {w_b} (width {st.width} / b "
                             f"{st.bottleneck_ratio:g}) cannot be split into groups of width {st.group_width}")
    n = estimate_params(spec)
    if n > max_params:
        raise UsageError(f"{where}: the model would have about {n:.3g} weights (limit {max_params:.3g}); "
                         "check its widths and depths")
