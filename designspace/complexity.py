"""Analytic complexity exactly as pycls counts it, vectorized over many specs.

Conventions (pycls ``pycls/models/blocks.py`` ``*_cx``):
- conv k x k, stride s, odd k, padding k//2: h' = (h - 1)//s + 1;
  flops += k*k*c_in*c_out*h'*w' // groups (+ c_out with a bias); params += k*k*c_in*c_out // groups
  (+ c_out); acts += c_out*h'*w'.
- BN: params += 2*C. fc: flops = params = in*out + out; acts += out.
- Nothing for ReLU, residual add, pooling, sigmoid. SE counts its two biased 1x1 convs at 1x1.
Everything is int64 numpy; one pass per stage, vectorized over models.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UsageError
from .regimes import Regime, get_regime
from .spec import BLOCK_TYPES, ModelSpec

VANILLA, RES_BASIC, RES_BOTTLENECK = range(3)
BLOCK_CODE = {name: code for code, name in enumerate(BLOCK_TYPES)}
METRICS = ("flops", "params", "acts")


@dataclass
class SpecArrays:
    """Column form of N specs with S stages (stages padded with depth 0 at the end)."""

    widths: np.ndarray  # (N, S) int64
    depths: np.ndarray  # (N, S) int64
    strides: np.ndarray  # (N, S) int64
    bottleneck_ratios: np.ndarray  # (N, S) float64, the paper's b
    group_widths: np.ndarray  # (N, S) int64
    se_ratios: np.ndarray  # (N, S) float64
    blocks: np.ndarray  # (N, S) int64 block codes
    stem_widths: np.ndarray  # (N,) int64
    head_widths: np.ndarray  # (N,) int64
    stem_strides: np.ndarray | None = None  # (N,) int64, 0 = the regime's; None = all the regime's

    @classmethod
    def from_specs(cls, specs: Sequence[ModelSpec]) -> SpecArrays:
        n = len(specs)
        s = max((len(spec.stages) for spec in specs), default=0)
        ints = {k: np.zeros((n, s), np.int64) for k in ("widths", "depths", "strides", "group_widths", "blocks")}
        floats = {k: np.ones((n, s)) for k in ("bottleneck_ratios", "se_ratios")}
        floats["se_ratios"][:] = 0.0
        ints["widths"][:] = 1
        ints["strides"][:] = 1
        ints["group_widths"][:] = 1
        for i, spec in enumerate(specs):
            for j, st in enumerate(spec.stages):
                ints["widths"][i, j] = st.width
                ints["depths"][i, j] = st.depth
                ints["strides"][i, j] = st.stride
                ints["group_widths"][i, j] = st.group_width
                ints["blocks"][i, j] = BLOCK_CODE[st.block]
                floats["bottleneck_ratios"][i, j] = st.bottleneck_ratio
                floats["se_ratios"][i, j] = st.se_ratio
        return cls(
            **ints,
            **floats,
            stem_widths=np.array([spec.stem_width for spec in specs], np.int64),
            head_widths=np.array([spec.head_width for spec in specs], np.int64),
            stem_strides=np.array([spec.stem_stride for spec in specs], np.int64),
        )


def stem_output_size(arr: SpecArrays, regime: Regime) -> np.ndarray:
    """Spatial size after the 3x3 stem of each spec: (H - 1)//s + 1 with the spec's or the regime's s."""
    n = len(arr.stem_widths)
    s = np.full(n, regime.stem_stride, np.int64)
    if arr.stem_strides is not None:
        s = np.where(arr.stem_strides > 0, arr.stem_strides, s)
    return (regime.im_size - 1) // s + 1


def _conv(c_in, c_out, k, h_out, groups=1, bias=False):
    """(flops, params, acts) of one conv, pycls's integer arithmetic."""
    flops = k * k * c_in * c_out * h_out * h_out // groups + (c_out if bias else 0)
    params = k * k * c_in * c_out // groups + (c_out if bias else 0)
    return flops, params, c_out * h_out * h_out


def _add(total, *parts):
    for part in parts:
        for t, p in zip(total, part):
            t += p


def _bn(width):
    return 0, 2 * width, 0


def block_complexity(block, w_in, w_out, stride, h_in, b, g, se_r):
    """Complexity of one pycls block (arrays broadcast); block is a code array.

    Returns (flops, params, acts, h_out)."""
    h_out = (h_in - 1) // stride + 1
    zero = np.zeros(np.broadcast(w_in, w_out, h_in).shape, np.int64)
    res_total = [zero.copy(), zero.copy(), zero.copy()]  # residual blocks' shortcut
    proj = (w_in != w_out) | (stride != 1)
    _add(res_total, _conv(w_in, w_out, 1, h_out), _bn(w_out))
    res_total = [np.where(proj, t, 0) for t in res_total]

    # X (+SE = Y): 1x1 -> BN -> 3x3 group conv (stride) -> BN [-> SE] -> 1x1 -> BN
    w_b = np.round(w_out * (1.0 / b)).astype(np.int64)  # pycls: round(w_out * bot_mul)
    groups = np.maximum(w_b // g, 1)
    w_se = np.round(w_in * se_r).astype(np.int64)
    bott = [zero.copy(), zero.copy(), zero.copy()]
    _add(
        bott,
        _conv(w_in, w_b, 1, h_in), _bn(w_b),
        _conv(w_b, w_b, 3, h_out, groups), _bn(w_b),
        _conv(w_b, w_out, 1, h_out), _bn(w_out),
    )
    se_fpa = 2 * w_b * w_se + w_se + w_b  # two biased 1x1 convs at 1x1: flops == params
    has_se = w_se > 0
    _add(bott, (np.where(has_se, se_fpa, 0), np.where(has_se, se_fpa, 0), np.where(has_se, w_se + w_b, 0)))

    out = []
    if not np.any(block != RES_BOTTLENECK):  # the common case: skip selecting between block types
        return bott[0] + res_total[0], bott[1] + res_total[1], bott[2] + res_total[2], h_out
    # V and R: 3x3 (stride) -> BN -> 3x3 -> BN
    basic = [zero.copy(), zero.copy(), zero.copy()]
    _add(basic, _conv(w_in, w_out, 3, h_out), _bn(w_out), _conv(w_out, w_out, 3, h_out), _bn(w_out))
    for v, r, x in zip(basic, res_total, bott):
        out.append(np.where(block == VANILLA, v, np.where(block == RES_BASIC, v + r, x + r)))
    return out[0], out[1], out[2], h_out


def complexity_arrays(arr: SpecArrays, regime: str | Regime = "imagenet", per_stage: bool = False) -> dict:
    """Vectorized complexity of the specs in `arr` -> {"flops", "params", "acts"} int64 arrays (N,).

    With per_stage, also "stage_flops"/"stage_params"/"stage_acts" (N, S) and the stem and head parts."""
    rg = get_regime(regime)
    n, s = arr.widths.shape
    h = stem_output_size(arr, rg)
    stem = [np.zeros(n, np.int64) for _ in range(3)]
    _add(stem, _conv(rg.channels, arr.stem_widths, 3, h), _bn(arr.stem_widths))
    stages = [np.zeros((n, s), np.int64) for _ in range(3)]
    w_in = arr.stem_widths.copy()
    for j in range(s):
        d, w, st = arr.depths[:, j], arr.widths[:, j], arr.strides[:, j]
        b, g, se, blk = arr.bottleneck_ratios[:, j], arr.group_widths[:, j], arr.se_ratios[:, j], arr.blocks[:, j]
        f1, p1, a1, h_out = block_complexity(blk, w_in, w, st, h, b, g, se)
        f2, p2, a2, _ = block_complexity(blk, w, w, 1, h_out, b, g, se)
        active = d > 0
        rest = np.maximum(d - 1, 0)
        for total, first, other in zip(stages, (f1, p1, a1), (f2, p2, a2)):
            total[:, j] = np.where(active, first + rest * other, 0)
        h = np.where(active, h_out, h)
        w_in = np.where(active, w, w_in)
    head = [np.zeros(n, np.int64) for _ in range(3)]
    has_head_conv = arr.head_widths > 0
    hc = [np.zeros(n, np.int64) for _ in range(3)]
    _add(hc, _conv(w_in, arr.head_widths, 1, h), _bn(arr.head_widths))
    _add(head, [np.where(has_head_conv, t, 0) for t in hc])
    w_in = np.where(has_head_conv, arr.head_widths, w_in)
    nc = rg.num_classes
    _add(head, (w_in * nc + nc, w_in * nc + nc, np.full(n, nc, np.int64)))
    result = {}
    for name, st_, sg, hd in zip(METRICS, stem, stages, head):
        result[name] = st_ + sg.sum(axis=1) + hd
        if per_stage:
            result[f"stem_{name}"], result[f"stage_{name}"], result[f"head_{name}"] = st_, sg, hd
    return result


def complexity(specs: ModelSpec | Sequence[ModelSpec], regime: str | Regime = "imagenet") -> dict:
    """flops, params and acts of one spec (ints) or of a sequence of specs (int64 arrays).

    flops are multiply-adds, as pycls and the RegNet paper count them."""
    if isinstance(specs, ModelSpec):
        return {k: int(v[0]) for k, v in complexity([specs], regime).items()}
    specs = list(specs)
    check_int64_room(specs, get_regime(regime))
    from .registry import family_complexity  # families register their own closed forms

    return family_complexity(specs, get_regime(regime), complexity_anynet)


INT64_ROOM = 2.0 ** 62


def check_int64_room(specs: Sequence[ModelSpec], regime: Regime) -> None:
    """Refuse (one line) a spec whose costs could leave int64 at this regime: a float64 upper bound,
    per stage (depth + 1) blocks of 12 W^2 multiply-adds per pixel at the widest of its widths W, 16
    times that for family stages (concats up to 4x the width), at the stem's output size."""
    if not specs:
        return
    arr = SpecArrays.from_specs(specs)
    w_b = arr.widths / arr.bottleneck_ratios
    w_in = np.concatenate([arr.stem_widths[:, None], arr.widths[:, :-1]], axis=1).astype(np.float64)
    wide = np.maximum(np.maximum(arr.widths, w_b), w_in)
    h = float(stem_output_size(arr, regime).max(initial=1))
    family = np.array([[bool(st.family) for st in spec.stages] + [False] * (arr.widths.shape[1] - len(spec.stages))
                       for spec in specs], bool).reshape(arr.widths.shape)
    bound = (np.where(family, 16.0, 1.0) * 12.0 * (arr.depths + 1) * wide ** 2).sum(axis=1) * h * h
    bound += 16.0 * np.maximum(arr.head_widths, arr.widths.max(axis=1, initial=1)) ** 2 * h * h
    worst = int(np.argmax(bound))
    if bound[worst] > INT64_ROOM:
        raise UsageError(f"model {specs[worst].id} is too large to cost exactly at regime {regime.name} "
                         f"(about {bound[worst]:.2g} multiply-adds at most; limit {INT64_ROOM:.2g}): "
                         f"make it narrower, shallower or the input smaller")


def complexity_anynet(specs: Sequence[ModelSpec], regime: Regime, per_stage: bool = False) -> dict:
    return complexity_arrays(SpecArrays.from_specs(specs), regime, per_stage)
