"""Rank correlations: Spearman's rho and Kendall's tau-b, their intervals, and their bootstrap.

- spearman, kendall, rank_tests: point estimates (scipy.stats), rank_tests with p-values. With
  `strata` (a label per unit) Kendall's tau is the size-weighted mean of the strata's taus, Spearman's
  rho the Pearson correlation of ranks centred within each stratum and pooled (one degree of freedom
  lost per extra stratum).
- spearman_interval: Fisher z with the Bonett-Wright variance (1 + r^2 / 2) / (n - 3) (Bonett & Wright
  2000). kendall_interval: Fisher z with the variance 0.437 / (n - 4) (Fieller, Hartley & Pearson 1957).
  Neither resamples, so neither moves with a seed.
- spearman_rows: rho of each row of (B, n) matrices (bootstrap replicates), vectorized.
- bootstrap_correlations: percentile-bootstrap replicates of both, pairs resampled
  (designspace.stats.resample), for the correlations of proxy fidelity.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as _st

from . import resample
from .intervals import Interval, normal_quantile

SPEARMAN_METHOD = "Fisher-z interval with the Bonett-Wright variance"
KENDALL_METHOD = "Fisher-z interval with the variance 0.437 / (n - 4) (Fieller et al. 1957)"
KENDALL_RESAMPLES = 400  # Kendall's tau costs O(n log n) per replicate in scipy: a few hundred bound the cost


def _finite_pairs(x, y, strata=None):
    x, y = (np.asarray(v, np.float64) for v in (x, y))
    ok = np.isfinite(x) & np.isfinite(y)
    groups = None if strata is None else np.asarray(strata)[ok]
    return x[ok], y[ok], groups


def spearman(x, y) -> float:
    """Spearman's rho of x and y (NaN below 3 values or for a constant column)."""
    x, y = (np.asarray(v, np.float64) for v in (x, y))
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(_st.spearmanr(x, y).statistic)


def kendall(x, y, strata=None) -> float:
    """Kendall's tau-b of x and y; with strata, the mean of the taus of the strata holding at least 3
    units, weighted by their sizes (NaN when none has a finite tau)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if strata is None:
        return float(_st.kendalltau(x, y).statistic)
    strata = np.asarray(strata)
    taus, weights = [], []
    for s in np.unique(strata):
        m = strata == s
        if m.sum() >= 3:
            t = _st.kendalltau(x[m], y[m]).statistic
            if np.isfinite(t):
                taus.append(t)
                weights.append(m.sum())
    return float(np.average(taus, weights=weights)) if taus else float("nan")


def rank_tests(x, y) -> dict[str, tuple[float, float]]:
    """{"spearman": (rho, p), "kendall": (tau-b, p)}: scipy's estimates with their two-sided p-values
    against no association."""
    sp, kt = _st.spearmanr(x, y), _st.kendalltau(x, y)
    return {"spearman": (float(sp.statistic), float(sp.pvalue)), "kendall": (float(kt.statistic), float(kt.pvalue))}


def fisher_z(r: float, variance: float) -> Callable[[float], tuple[float, float]]:
    """level -> (lo, hi): the interval tanh(atanh(r) -+ z_level sqrt(variance)) of a correlation r."""
    z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))

    def at(level):
        half = normal_quantile(level) * math.sqrt(variance)
        return math.tanh(z - half), math.tanh(z + half)

    return at


def correlation_interval(r: float, n_eff: float, spearman_variance: bool = True) -> Callable:
    """level -> (lo, hi) for a correlation r over n_eff units: Fisher z, with the Bonett-Wright variance
    (1 + r^2 / 2) / (n - 3) for Spearman's rho (1 / (n - 3) for Pearson's r)."""
    return fisher_z(r, ((1 + r * r / 2) if spearman_variance else 1.0) / max(n_eff - 3, 1e-9))


def _nan(method: str, n: int) -> Interval:
    return Interval(float("nan"), lambda level: (float("nan"), float("nan")), method, {"a": n})


def _n_strata(groups, size: int) -> int:
    return 1 if groups is None or not size else int(np.unique(groups).size)


def spearman_interval(x, y, strata=None) -> Interval:
    """Spearman's rho of x and y with its Fisher-z interval (Bonett-Wright variance); with `strata`
    ranks are taken and centred within each stratum and pooled, as for a within-space fidelity."""
    x, y, g = _finite_pairs(x, y, strata)
    groups = np.zeros(x.size, int) if g is None else np.unique(g, return_inverse=True)[1]
    rx, ry = np.empty(x.size), np.empty(x.size)
    for k in np.unique(groups):
        m = groups == k
        rx[m] = _st.rankdata(x[m]) - (m.sum() + 1) / 2
        ry[m] = _st.rankdata(y[m]) - (m.sum() + 1) / 2
    n_groups = int(np.unique(groups).size)
    method = ("Spearman rank correlation" + (" within strata (ranks centred per stratum, pooled)" if n_groups > 1
                                             else "") + f", {SPEARMAN_METHOD}")
    denom = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    if x.size < 4 or denom == 0:
        return _nan(method, int(x.size))
    r = float((rx * ry).sum() / denom)
    n_eff = x.size - (n_groups - 1)
    return Interval(r, correlation_interval(r, n_eff), method, {"a": int(x.size)}, extra={"n_eff": n_eff})


def kendall_interval(x, y, strata=None) -> Interval:
    """Kendall's tau-b of x and y (with strata: their size-weighted mean, see `kendall`) with the Fisher-z
    interval of variance 0.437 / (n_eff - 4), n_eff the pairs less one per extra stratum."""
    x, y, g = _finite_pairs(x, y, strata)
    n_groups = _n_strata(g, x.size)
    method = ("Kendall rank correlation (tau-b)" + (" within strata (size-weighted mean)" if n_groups > 1 else "")
              + f", {KENDALL_METHOD}")
    tau = kendall(x, y, g) if x.size >= 2 else float("nan")
    if not np.isfinite(tau):
        return _nan(method, int(x.size))
    n_eff = x.size - (n_groups - 1)
    return Interval(tau, fisher_z(tau, 0.437 / max(n_eff - 4, 1e-9)), method, {"a": int(x.size)},
                    extra={"n_eff": n_eff})


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of (B, n) matrices: the Pearson correlation of the rows' average
    ranks (ties share their mean rank); NaN for a row with a constant column."""
    rx, ry = _st.rankdata(x, axis=-1), _st.rankdata(y, axis=-1)
    rx -= rx.mean(axis=-1, keepdims=True)
    ry -= ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=-1) / np.sqrt((rx ** 2).sum(axis=-1) * (ry ** 2).sum(axis=-1))


def bootstrap_correlations(x, y, resamples: int, seed=0,
                           kendall_resamples: int = KENDALL_RESAMPLES) -> dict[str, np.ndarray]:
    """Bootstrap replicates of Spearman's rho and Kendall's tau-b, model pairs resampled with replacement
    (one index matrix from designspace.stats.resample); Kendall on the first `kendall_resamples` of the
    same replicates. {"spearman": (resamples,), "kendall": (min(resamples, kendall_resamples),)},
    NaN where a replicate drew a constant column."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    idx = resample.indices(seed, x.size, resamples)
    rho = spearman_rows(x[idx], y[idx])
    tau = np.array([_st.kendalltau(x[i], y[i]).statistic for i in idx[:min(resamples, kendall_resamples)]])
    return {"spearman": rho, "kendall": tau}
