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
    """{"flops", "params", "acts", "cx_train_flops", "cx_train_params", "cx_train_acts"} int64 (N,)."""
    col = _columns(cfgs)
    n = len(cfgs)
    g, c1, s, gt, bott = col["groups"], col["condense"], col["sfr"], col["sfr_groups"], col["bottleneck"]
    has_sfr = s > 0
    s_safe = np.where(has_sfr, s, 1)
    h = np.full(n, (regime.im_size - 1) // regime.stem_stride + 1, np.int64)
    stem = col["stem"]
    dep = [9 * regime.channels * stem * h * h, 9 * regime.channels * stem, stem * h * h]
    train = [v.copy() for v in dep]
    ref = dep[0].copy()  # ops in the reference's measure_model convention (see reference_ops)
    c = stem.copy()
    max_layers = int(col["blocks"].max())
    l_idx = np.arange(max_layers)[None, :]
    for b in range(col["blocks"].shape[1]):
        nb, k = col["blocks"][:, b:b + 1], col["growth"][:, b:b + 1]
        live = l_idx < nb  # (N, L)
        cin = c[:, None] + l_idx * k
        hw = (h * h)[:, None]
        bk = bott[:, None] * k
        se = (b >= col["se_from"])[:, None]
        sfr = has_sfr[:, None]
        conv3 = [9 * bk * k // g[:, None] * hw, 9 * bk * k // g[:, None] + 2 * bk, k * hw]
        se_cx = [np.where(se, 2 * k * k, 0), np.where(se, 2 * k * k, 0), np.where(se, 2 * k, 0)]
        lgc_dep = [cin * bk // c1[:, None] * hw, cin * bk // c1[:, None] + 2 * g[:, None] * cin // c1[:, None],
                   bk * hw]
        lgc_train = [cin * bk * hw, cin * bk + 2 * cin, bk * hw]
        rows = gt[:, None] * cin // s_safe[:, None]
        sfr_dep = [np.where(sfr, k * cin // s_safe[:, None] * hw, 0),
                   np.where(sfr, k * cin // s_safe[:, None] + 2 * k, 0),
                   np.where(sfr, rows * hw, 0)]
        sfr_train = [np.where(sfr, k * cin * hw, 0), np.where(sfr, k * cin + 2 * k, 0), np.where(sfr, cin * hw, 0)]
        for tot, parts in ((dep, (lgc_dep, conv3, se_cx, sfr_dep)), (train, (lgc_train, conv3, se_cx, sfr_train))):
            for m in range(3):
                tot[m] = tot[m] + np.where(live, sum(p[m] for p in parts), 0).sum(1)
        # measure_model: LGC act + dense/C1 conv, 3x3 act + conv, SE (pool k h^2, 2 k^2, ReLU k,
        # sigmoid 2k), SFR act + dense/S conv; every activation counts its input's numel
        ref_layer = (cin * hw + cin * bk * hw // c1[:, None] + bk * hw + conv3[0]
                     + np.where(se, k * hw + 2 * k * k + 3 * k, 0)
                     + np.where(sfr, k * hw + k * cin * hw // s_safe[:, None], 0))
        ref = ref + np.where(live, ref_layer, 0).sum(1)
        active = b < col["nblocks"]
        c = np.where(active, c + col["blocks"][:, b] * col["growth"][:, b], c)
        last = b == col["nblocks"] - 1
        ref = ref + np.where(active & ~last, c * (h // 2) * (h // 2) * 4, 0)  # 2x2 avg pool: k^2 per output
        h = np.where(active & ~last, h // 2, h)
    # head: BN, [SE], [fc + h-swish], classifier
    r = np.maximum(col["head_se"], 1)
    has_se = col["head_se"] > 0
    fc, nc = col["fc"], regime.num_classes
    feat = np.where(fc > 0, fc, c)
    head = [np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            2 * c + np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            np.where(has_se, c // r + c, 0) + np.where(fc > 0, fc, 0) + nc]
    # head: ReLU C h^2, AvgPool(h) C h^2, [SE: pool C, 2 C (C/r), ReLU C/r, sigmoid 2C], [fc C fc + h-swish fc],
    # classifier fc classes: Linear weights only
    rs = c // r
    ref = ref + 2 * c * h * h + np.where(has_se, c + 2 * c * rs + rs + 2 * c, 0) \
        + np.where(fc > 0, c * fc + fc, 0) + feat * nc
    out = {}
    for m, name in enumerate(("flops", "params", "acts")):
        out[name] = dep[m] + head[m]
        out[f"cx_train_{name}"] = train[m] + head[m]
    out["cx_reference_flops"] = ref
    return out


def condensenet_complexity(specs: Sequence[ModelSpec], regime) -> dict:
    return condensenet_complexity_arrays([parse_options(s) for s in specs], regime)
