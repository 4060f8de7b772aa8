"""Vectorized pycls distributions and the width / bottleneck / group compatibility step."""
from __future__ import annotations

import numpy as np


def _quantize(f: np.ndarray, q: float, op) -> np.ndarray:
    """op(f / q) * q with pycls's decimal result: for q < 1, k / (1/q) is the correctly rounded
    double of the decimal k*q (what pycls's Decimal arithmetic returns), k * q is not."""
    k = op(f / q)
    inv = round(1 / q)
    if q < 1 and abs(inv * q - 1) < 1e-12:
        return k / inv
    return k * q


def log_uniform(rng: np.random.Generator, low: float, high: float, q: float, size) -> np.ndarray:
    """pycls ``log_uniform``: log f ~ U(log(low - min(q, low/2)), log high], then ceil to q."""
    f = np.exp(-rng.uniform(-np.log(high), -np.log(low - min(q, low / 2)), size))
    return _quantize(f, q, np.ceil)


def uniform(rng: np.random.Generator, low: float, high: float, q: float, size) -> np.ndarray:
    """pycls ``uniform``: f ~ U[low, high + q), then floor to q."""
    return _quantize(rng.uniform(low, high + q, size), q, np.floor)


def choice(rng: np.random.Generator, values, size) -> np.ndarray:
    values = np.asarray(values)
    return values[rng.integers(0, len(values), size)]


def ordered_draws(draw, rng: np.random.Generator, m: int) -> np.ndarray:
    """m rows from `draw(rng, k) -> (k, S)` that are non-decreasing, by vectorized rejection.

    Exact: rejection keeps the conditional distribution (sorting independent draws would not)."""
    rows, have = [], 0
    while have < m:
        cand = draw(rng, max(4 * (m - have), 256) * 8)
        ok = cand[np.all(np.diff(cand, axis=1) >= 0, axis=1)]
        rows.append(ok)
        have += len(ok)
    return np.concatenate(rows)[:m]


def ordered_from_pmfs(rng: np.random.Generator, m: int, pmfs) -> np.ndarray:
    """m rows (x_1..x_S) with independent per-stage discrete distributions `pmfs` [(values, probs)],
    conditioned on x_1 <= ... <= x_S: exactly the distribution rejection gives, without rejecting.

    Backward pass: N_S = p_S, N_i(v) = p_i(v) * sum_{u >= v} N_{i+1}(u); then x_1 ~ N_1 and
    x_{i+1} | x_i ~ N_{i+1} restricted to u >= x_i (inverse CDF, vectorized over rows)."""
    from ..errors import UsageError

    support = np.unique(np.concatenate([np.asarray(v) for v, _ in pmfs]))
    s, k = len(pmfs), len(support)
    p = np.zeros((s, k))
    for i, (v, pr) in enumerate(pmfs):
        np.add.at(p[i], np.searchsorted(support, v), pr)
    n = np.empty((s, k))
    n[-1] = p[-1]
    for i in range(s - 2, -1, -1):
        tail = np.cumsum(n[i + 1][::-1])[::-1]
        n[i] = p[i] * tail
        total = n[i].sum()
        if total <= 0:
            raise UsageError("no non-decreasing assignment of the stage values is possible")
        n[i] /= total  # rescaling a row leaves every conditional unchanged
    idx = np.zeros(m, np.int64)
    out = np.empty((m, s), np.int64)
    for i in range(s):
        f = np.concatenate([[0.0], np.cumsum(n[i])])  # f[j] = mass below support[j]
        lo = f[idx]
        t = lo + rng.random(m) * (f[-1] - lo)
        idx = np.clip(np.searchsorted(f, t, side="right") - 1, idx, k - 1)
        out[:, i] = idx
    return support[out]


def adjust_block_compatibility(widths, bottleneck_ratios, group_widths):
    """pycls ``adjust_block_compatibility`` on arrays (b = the paper's ratio; pycls's bm = 1/b).

    v = int(max(1, w*bm)); g = min(g, v); m = lcm(g, bm) if bm > 1 else g;
    v = max(m, round(v/m)*m); w = int(v/bm). Returns (widths, group_widths) int64."""
    w = np.asarray(widths, np.float64)
    bm = 1.0 / np.asarray(bottleneck_ratios, np.float64)
    g = np.asarray(group_widths, np.int64)
    v = np.floor(np.maximum(1.0, w * bm)).astype(np.int64)
    g = np.minimum(g, v)
    inverted = bm > 1
    m = np.where(inverted, np.lcm(g, np.where(inverted, bm, 1).astype(np.int64)), g)
    v = np.maximum(m, np.round(v / m).astype(np.int64) * m)
    w = np.floor(v / bm).astype(np.int64)
    return w, g
