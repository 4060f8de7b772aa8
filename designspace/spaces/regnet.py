"""RegNet: the quantized linear width generator (the RegNetX / RegNetY spaces are data, builtin.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .common import adjust_block_compatibility

if TYPE_CHECKING:
    from ..spec import ModelSpec


def generate_regnet(w0, wa, wm, d, q: int = 8):
    """Per-block widths of RegNets, vectorized over N parameter sets (pycls ``generate_regnet``).

    u_j = w0 + wa*j (0 <= j < d); s_j = round(log(u_j / w0) / log(wm)); w_j = round(w0*wm^s_j / q)*q.
    Returns (block_widths (N, max d) int64 with 0 past each d, levels s_j (N, max d) with -1 past d,
    num_stages (distinct widths), total_stages (max level + 1))."""
    w0, wa, wm = (np.atleast_1d(np.asarray(x, np.float64)) for x in (w0, wa, wm))
    d = np.atleast_1d(np.asarray(d, np.int64))
    j = np.arange(int(d.max()) if d.size else 0)
    valid = j[None, :] < d[:, None]
    u = j[None, :] * wa[:, None] + w0[:, None]
    ks = np.round(np.log(u / w0[:, None]) / np.log(wm[:, None]))
    ws = (np.round(w0[:, None] * np.power(wm[:, None], ks) / q) * q).astype(np.int64)
    ks = np.where(valid, ks, -1).astype(np.int64)
    ws = np.where(valid, ws, 0)
    changes = (np.sum(valid[:, 1:] & (ws[:, 1:] != ws[:, :-1]), axis=1) if ws.shape[1] > 1
               else np.zeros(len(d), np.int64))
    num_stages = np.where(d > 0, 1 + changes, 0)
    total_stages = ks.max(axis=1, initial=-1) + 1
    return ws, ks, num_stages, total_stages


def _levels(w0, wa, wm, j):
    """The generator's quantized level of block j (same float arithmetic as generate_regnet)."""
    return np.round(np.log((j * wa + w0) / w0) / np.log(wm))


def regnet_stage_arrays(w0, wa, wm, d, num_stages: int, q: int = 8):
    """Stage widths and depths of N RegNets with `num_stages` levels, in O(N * S) (no per-block
    matrix) and exactly as generate_regnet + runs of equal width would give them.

    Level i starts at the first block j with round(log(u_j / w0) / log(wm)) >= i; the closed form
    j = ceil((wm^(i - 1/2) - 1) * w0 / wa) is corrected by evaluating the generator's own formula
    at its neighbours, so floating-point ties go the generator's way. Returns (widths (N, S),
    depths (N, S), ok (N,)): ok where every level is used, the top level is S - 1 and the S level
    widths are distinct (what pycls keeps)."""
    w0, wa, wm = (np.asarray(x, np.float64) for x in (w0, wa, wm))
    d = np.asarray(d, np.int64)
    s = num_stages
    first = np.zeros((len(d), s + 1), np.int64)
    first[:, s] = d
    with np.errstate(all="ignore"):
        for i in range(1, s):
            j0 = np.ceil((np.power(wm, i - 0.5) - 1) * w0 / wa)
            j = np.clip(np.nan_to_num(j0, nan=1, posinf=2 ** 40), 1, np.maximum(d, 1)).astype(np.int64)
            for _ in range(2):  # back while the block before is already at level >= i
                j = np.where((j > 1) & (_levels(w0, wa, wm, j - 1) >= i), j - 1, j)
            for _ in range(2):  # forward while this block is still below level i
                j = np.where(_levels(w0, wa, wm, j) < i, j + 1, j)
            first[:, i] = np.minimum(j, d)
        top = _levels(w0, wa, wm, d - 1)
        levels = np.arange(s)
        widths = (np.round(w0[:, None] * np.power(wm[:, None], levels[None, :]) / q) * q).astype(np.int64)
    depths = np.diff(first, axis=1)
    ok = (top == s - 1) & np.all(depths > 0, axis=1)
    if s > 1:
        ok &= np.all(np.diff(widths, axis=1) != 0, axis=1)
    return widths, depths, ok


def regnet_stages(d: int, w0: float, wa: float, wm: float, q: int = 8) -> tuple[list[int], list[int]]:
    """Stage widths and depths (runs of equal block width) of one RegNet."""
    ws = generate_regnet(w0, wa, wm, d, q)[0][0][:d]
    widths, depths = np.unique(ws, return_counts=True)  # block widths are non-decreasing
    return widths.tolist(), depths.tolist()


class RegNetSpace:
    """The RegNetX ranges (the paper's: d < 64, w0, wa <= 256, 1.5 <= wm <= 3), for code that reads
    them (analysis.efit). The space itself is data: builtin.py's RegNetX definition."""

    depth_range = (1, 63)
    w0_range = (8, 256)
    wa_range = (1.0, 256.0)
    wm_range = (1.5, 3.0)


def regnet_spec(d: int, w0: float, wa: float, wm: float, group_width: int, bottleneck_ratio: float = 1.0,
                se_ratio: float = 0.0, stem_width: int = 32, space: str = "") -> ModelSpec:
    """The ModelSpec of one RegNet (any number of stages), widths and groups made compatible."""
    from ..errors import UsageError
    from ..spec import ModelSpec, StageSpec

    if not (d >= 1 and w0 > 0 and wa >= 0 and wm > 1 and group_width >= 1 and bottleneck_ratio > 0):
        raise UsageError("RegNet needs d >= 1, w0 > 0, wa >= 0, wm > 1, g >= 1, b > 0")
    if w0 % 8:
        raise UsageError(f"RegNet w0 must be a multiple of 8, got {w0:g}")
    widths, depths = regnet_stages(int(d), w0, wa, wm)
    n = len(widths)
    widths, groups = adjust_block_compatibility(widths, [bottleneck_ratio] * n, [group_width] * n)
    stages = tuple(
        StageSpec(depth=int(dd), width=int(w), stride=2, block="res_bottleneck",
                  bottleneck_ratio=bottleneck_ratio, group_width=int(g), se_ratio=se_ratio)
        for dd, w, g in zip(depths, widths, groups)
    )
    meta = {"d": int(d), "w0": w0, "wa": wa, "wm": wm, "sampled_group_width": int(group_width),
            "sampled_bottleneck_ratio": float(bottleneck_ratio)}
    if space:
        meta["space"] = space
    return ModelSpec(stages=stages, stem_width=stem_width, meta=meta)
