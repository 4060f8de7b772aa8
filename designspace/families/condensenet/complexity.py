"""CondenseNetV2's closed-form complexity, vectorized over many networks (numpy only).

Complexity (pycls: conv/linear MACs + linear bias; BN params 2C), per layer at h x h with C inputs:
    deploy: MACs h^2 [C bk/C1 + 9 bk k/G3 + k C/S] + [SE 2k^2];
            params 2 G1 C/C1 + C bk/C1 + 2bk + 9 bk k/G3 + 2k + k C/S + [SE 2k^2]
    train (masked dense convs): LGC C bk h^2 MACs, C bk + 2C params; SFR k C h^2 MACs, k C + 2k params.
Network: stem 9 c 2k_0 h_0^2 (no BN) + blocks (h halves at each 2x2 avg-pool transition) + head
(BN 2C, SE 2 C (C/16), fc C fc + fc, classifier). Flops band and EDF normalisation use deploy.
``cx_reference_flops`` is the same network counted as the reference's utils/tools.py `measure_model`
counts it (LGC / SFR as dense / factor, every activation's input numel, pooling k^2 per output, 2 per
sigmoid element, Linear weights only): the numbers of the README table (CDNV2-A/B/C: 45,874,350 /
146,469,057 / 309,740,977, beside pycls's 43,145,604 / 140,470,680 / 295,789,576).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...spec import ModelSpec
from .options import parse_options


def _columns(cfgs):
    """Padded (N, B) arrays of the per-block options and (N,) arrays of the scalar ones."""
    n, b = len(cfgs), max(len(c.blocks) for c in cfgs)
    cols = {"blocks": np.zeros((n, b), np.int64), "growth": np.ones((n, b), np.int64)}
    for i, c in enumerate(cfgs):
        cols["blocks"][i, :len(c.blocks)] = c.blocks
        cols["growth"][i, :len(c.growth)] = c.growth
        cols.setdefault("nblocks", np.zeros(n, np.int64))[i] = len(c.blocks)
    for key in ("groups", "condense", "sfr", "sfr_groups", "bottleneck", "stem", "fc", "se_from", "hswish_from",
                "head_se"):
        cols[key] = np.array([getattr(c, key) for c in cfgs], np.int64)
    return cols


def condensenet_complexity_arrays(cfgs, regime) -> dict:
    """{"flops", "params", "acts", "cx_train_flops", "cx_train_params", "cx_train_acts"} int64 (N,),
    and "cx_reference_flops"; each cost list below is [MACs, params, acts]."""
    col = _columns(cfgs)
    h = np.full(len(cfgs), (regime.im_size - 1) // regime.stem_stride + 1, np.int64)
    c = col["stem"].copy()
    dep = [9 * regime.channels * c * h * h, 9 * regime.channels * c, c * h * h]  # the stem conv, no BN
    train = [v.copy() for v in dep]
    ref = dep[0].copy()  # ops as the reference's measure_model counts them (module docstring)
    for b in range(col["blocks"].shape[1]):
        block_dep, block_train, block_ref = _dense_block(col, b, c, h)
        dep = [t + v for t, v in zip(dep, block_dep)]
        train = [t + v for t, v in zip(train, block_train)]
        ref = ref + block_ref
        c, h, ref = _transition(col, b, c, h, ref)
    head, head_ref = _head(col, c, h, regime.num_classes)
    out = {}
    for m, name in enumerate(("flops", "params", "acts")):
        out[name] = dep[m] + head[m]
        out[f"cx_train_{name}"] = train[m] + head[m]
    out["cx_reference_flops"] = ref + head_ref
    return out


def _dense_block(col: dict, b: int, c, h):
    """Block b's dense layers summed per network (C inputs to the first, h x h): the deploy and the
    training costs, and the reference's flops. Networks with fewer layers (or blocks) add zeros."""
    l_idx = np.arange(int(col["blocks"].max()))[None, :]
    nb, k = col["blocks"][:, b:b + 1], col["growth"][:, b:b + 1]
    live = l_idx < nb  # (N, L)
    cin = c[:, None] + l_idx * k
    hw = (h * h)[:, None]
    bk = col["bottleneck"][:, None] * k
    g = col["groups"][:, None]
    se = (b >= col["se_from"])[:, None]
    conv3 = [9 * bk * k // g * hw, 9 * bk * k // g + 2 * bk, k * hw]
    se_cx = [np.where(se, 2 * k * k, 0), np.where(se, 2 * k * k, 0), np.where(se, 2 * k, 0)]
    lgc_dep, lgc_train = _lgc(col, cin, bk, hw)
    sfr_dep, sfr_train = _sfr(col, cin, k, hw)
    dep = [np.where(live, sum(p[m] for p in (lgc_dep, conv3, se_cx, sfr_dep)), 0).sum(1) for m in range(3)]
    train = [np.where(live, sum(p[m] for p in (lgc_train, conv3, se_cx, sfr_train)), 0).sum(1) for m in range(3)]
    # measure_model: LGC act + dense/C1 conv, 3x3 act + conv, SE (pool k h^2, 2 k^2, ReLU k,
    # sigmoid 2k), SFR act + dense/S conv; every activation counts its input's numel
    sfr, s_safe = _sfr_factor(col)
    ref_layer = (cin * hw + cin * bk * hw // col["condense"][:, None] + bk * hw + conv3[0]
                 + np.where(se, k * hw + 2 * k * k + 3 * k, 0)
                 + np.where(sfr, k * hw + k * cin * hw // s_safe, 0))
    return dep, train, np.where(live, ref_layer, 0).sum(1)


def _lgc(col: dict, cin, bk, hw):
    """The learned group 1x1 conv: condensed (deploy: dense / C1, plus its index of G1 C/C1) and
    masked dense (training)."""
    g, c1 = col["groups"][:, None], col["condense"][:, None]
    dep = [cin * bk // c1 * hw, cin * bk // c1 + 2 * g * cin // c1, bk * hw]
    train = [cin * bk * hw, cin * bk + 2 * cin, bk * hw]
    return dep, train


def _sfr(col: dict, cin, k, hw):
    """Sparse feature reactivation: condensed (deploy: dense / S, its index layer) and masked dense
    (training); zeros where the network has no SFR."""
    sfr, s_safe = _sfr_factor(col)
    rows = col["sfr_groups"][:, None] * cin // s_safe
    dep = [np.where(sfr, k * cin // s_safe * hw, 0), np.where(sfr, k * cin // s_safe + 2 * k, 0),
           np.where(sfr, rows * hw, 0)]
    train = [np.where(sfr, k * cin * hw, 0), np.where(sfr, k * cin + 2 * k, 0), np.where(sfr, cin * hw, 0)]
    return dep, train


def _sfr_factor(col: dict):
    """(N, 1) whether each network has SFR, and its factor S (1 where none, so divisions stay defined)."""
    has_sfr = col["sfr"] > 0
    return has_sfr[:, None], np.where(has_sfr, col["sfr"], 1)[:, None]


def _transition(col: dict, b: int, c, h, ref):
    """After block b: the width grows by its layers' growth; between blocks a 2x2 average pool halves h
    (free in pycls's count, k^2 per output in the reference's)."""
    active = b < col["nblocks"]
    c = np.where(active, c + col["blocks"][:, b] * col["growth"][:, b], c)
    pooled = active & ~(b == col["nblocks"] - 1)
    ref = ref + np.where(pooled, c * (h // 2) * (h // 2) * 4, 0)
    return c, np.where(pooled, h // 2, h), ref


def _head(col: dict, c, h, nc: int):
    """The head on C channels at h x h: BN, [SE], [fc + h-swish], classifier; its costs and the
    reference's flops."""
    r = np.maximum(col["head_se"], 1)
    has_se = col["head_se"] > 0
    fc = col["fc"]
    feat = np.where(fc > 0, fc, c)
    head = [np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            2 * c + np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            np.where(has_se, c // r + c, 0) + np.where(fc > 0, fc, 0) + nc]
    # head: ReLU C h^2, AvgPool(h) C h^2, [SE: pool C, 2 C (C/r), ReLU C/r, sigmoid 2C], [fc C fc + h-swish fc],
    # classifier fc classes: Linear weights only
    rs = c // r
    ref = (2 * c * h * h + np.where(has_se, c + 2 * c * rs + rs + 2 * c, 0)
           + np.where(fc > 0, c * fc + fc, 0) + feat * nc)
    return head, ref


def condensenet_complexity(specs: Sequence[ModelSpec], regime) -> dict:
    return condensenet_complexity_arrays([parse_options(s) for s in specs], regime)
