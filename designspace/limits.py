"""Bounds on user input that would otherwise run out of memory or time, and the safe name charset:
the one source of each limit, which the schemas (designspace.schema, designspace.fields) and checks below
state. Plain data: importing it does not import pydantic.

Every check raises a one-line UsageError naming the key, the value and the limit.
"""
from __future__ import annotations

import re

from .errors import UsageError
from .fields import Bound

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_IMAGES = 100_000_000  # recipe train_size / test_size: far above any in-memory dataset this tool trains on
MAX_BATCH = 65_536  # batch_size, eval_batch_size
MAX_EPOCHS = 10_000  # epochs, warmup_epochs
# Stages of a spec or a space: 16 keeps every closed-form complexity inside int64 (224 x 224 at stride 1,
# 16 stages of MAX_DEPTH bottleneck blocks at MAX_WIDTH stay below 2^62), and no network here has more.
MAX_STAGES = 16
MAX_DEPTH = 1_000  # blocks per stage
MAX_WIDTH = 16_384  # stage / stem / head / group / bottleneck width
MAX_STRIDE = 16
MAX_BOOT = 20000  # bootstrap replicates; beyond this the bootstrap's memory (replicates x models) is the limit
MAX_SEED = 2**32 - 1  # numpy and torch seeds
SEED = Bound(int, ge=0, le=MAX_SEED)  # a seed of sampling, training or the bootstrap (schema.Seed in schemas)
MAX_PARAMS = 2_000_000_000  # a model past this cannot be built in memory on one machine
MAX_MODELS = 1_000_000  # models per space in a sweep
MAX_REPEATS = 1_000  # training seeds per model in a sweep
MAX_TIMEOUT = 7 * 24 * 3600.0  # seconds a trial may run
MAX_CPUS = 4096  # CPUs one trial asks Ray for
MAX_GPUS = 64  # GPUs one trial asks Ray for
MAX_CONFIG_BYTES = 1_000_000  # a sweep config, suite, space or spec file; YAML aliases are refused separately


def check_name(value, key: str = "name") -> str:
    """A name that is safe as a path component and a store key: letters, digits, '.', '_', '-'."""
    if not isinstance(value, str) or not NAME_RE.match(value) or value in (".", ".."):
        raise UsageError(f"{key} must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or "
                         f"digit), got {value!r}")
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
