"""Power by simulation: how often an interval decides, for n units per arm drawn from a population.

Shared by `designspace power` (a suite's parts, from a pilot) and `designspace calibrate` (a budget's
spread). The populations are smoothed bootstraps of observed values (or normal draws), so a statistic
of n draws converges to the population's value; intervals are computed for all simulated samples at
once (rows).
"""
from __future__ import annotations

import numpy as np

from . import best_of
from . import intervals as iv
from .decisions import HOLDS, rule

MIN_UNITS = 3
MAX_N = 50_000

POPULATION = 100_000  # units drawn once from the smoothed pilot; simulations resample this population


def smoothed_population(values: dict, paired: bool, rng, size: int = POPULATION, keep_variance: bool = False) -> dict:
    """A large population from the pilot's values (a smoothed bootstrap: each draw jittered by a normal
    kernel of Silverman's bandwidth), so a statistic of n draws converges to the population's value
    instead of jumping between the pilot's few order statistics. Paired values are jittered jointly,
    with the pairs' covariance at the arms' smallest relative bandwidth, so the jitter leaves their
    differences as tight as the pilot's. keep_variance: draws scaled about the pilot's mean back to its
    (co)variance (the shrunk smoothed bootstrap, Silverman 1986, 6.4.1): the kernel alone adds the
    bandwidth's variance, which makes a plan from a few dozen models ~10-20% too large."""
    arrays = {k: np.asarray(v, np.float64) for k, v in values.items()}
    if paired:
        x = np.column_stack(list(arrays.values()))
        h = min(_bandwidth(v) / v.std(ddof=1) if _bandwidth(v) else 0.0 for v in arrays.values())
        jitter = rng.multivariate_normal(np.zeros(x.shape[1]), np.atleast_2d(np.cov(x, rowvar=False)), size,
                                         check_valid="ignore", method="eigh")
        pop = x[rng.integers(0, len(x), size)] + h * jitter
        if keep_variance:
            pop = x.mean(axis=0) + (pop - x.mean(axis=0)) / np.sqrt(1.0 + h * h)
        return {k: pop[:, j] for j, k in enumerate(arrays)}
    out = {}
    for k, v in arrays.items():
        bandwidth = _bandwidth(v)
        out[k] = v[rng.integers(0, len(v), size)] + bandwidth * rng.standard_normal(size)
        if keep_variance and bandwidth:
            out[k] = v.mean() + (out[k] - v.mean()) / np.sqrt(1.0 + (bandwidth / v.std(ddof=1)) ** 2)
    return out


def _bandwidth(v: np.ndarray) -> float:
    """Silverman's bandwidth 0.9 min(sd, IQR / 1.34) n^(-1/5) (0 when the sample has no spread)."""
    iqr = np.subtract(*np.percentile(v, [75, 25])) / 1.34
    spread = min(v.std(ddof=1), iqr) if iqr > 0 else v.std(ddof=1)
    return float(0.9 * spread * len(v) ** -0.2) if np.isfinite(spread) and spread > 0 else 0.0


def plant(name: str, population: dict, params: dict, paired: bool, target: float, rng, estimate) -> dict:
    """The population moved so its statistic (`estimate(population)`) equals `target`: a shift of arm a
    (a scale for a ratio)."""
    truth = estimate(population)
    out = dict(population)
    key = "ab" if "ab" in population else "a"
    out[key] = population[key] * (target / truth) if name == "mean_ratio" else population[key] + (target - truth)
    return out


def bounds_rows(name: str, draws: dict, params: dict, paired: bool, level: float):
    """The part's interval bounds for every simulated sample at once (rows)."""
    if name in ("median_diff", "paired_median_diff", "quantile_diff"):
        q = float(params.get("q", 0.5))
        if paired:
            return iv.quantile_rows(draws["a"] - draws["b"], q, level)
        return iv.linear_quantile_rows(draws, {"a": 1, "b": -1}, q, level)
    if name == "mean_diff":
        return iv.mean_rows(draws["a"] - draws["b"], level) if paired else iv.welch_rows(draws["a"], draws["b"], level)
    if name == "mean_ratio":
        return iv.ratio_rows(draws["a"], draws["b"], paired, level)
    if name == "interaction":
        coefs = {"ab": 1, "cd": -1} if paired else {"a": 1, "b": -1, "c": -1, "d": 1}
        return iv.linear_quantile_rows(draws, coefs, 0.5, level)
    if name == "median":
        return iv.quantile_rows(draws["a"], 0.5, level)
    if name == "best_of_m_diff":  # schema 3's jackknife t interval (stats.best_of)
        return best_of.diff_rows(draws["a"], draws["b"], int(params["m"]), level)
    return iv.mean_rows(draws["a"], level)  # mean


def decision_rate(name: str, values: dict, params: dict, paired: bool, n: int, expect: str, ref: float,
                  margin: float, alpha: float, simulations: int, rng) -> float:
    """Share of `simulations` draws of n units per arm whose interval at 1 - 2 alpha reads 'holds'."""
    level = 1.0 - 2.0 * alpha
    hits = 0
    for size in _batches(simulations, n):
        if paired:
            idx = rng.integers(0, len(next(iter(values.values()))), (size, n))
            draws = {k: v[idx] for k, v in values.items()}
        else:
            draws = {k: v[rng.integers(0, len(v), (size, n))] for k, v in values.items()}
        lo, hi = bounds_rows(name, draws, params, paired, level)
        hits += sum(rule(a, b, expect, ref, margin) == HOLDS for a, b in zip(lo, hi))
    return hits / simulations


def _batches(total: int, n: int, cells: int = 4_000_000):
    """Row counts whose (rows x n) draws stay within `cells` values per arm."""
    step = max(1, cells // max(n, 1))
    while total > 0:
        yield min(step, total)
        total -= step


def search_n(rate, target: float) -> tuple[int | None, float | None]:
    """The smallest n (from a doubling then bisection search) whose decision rate reaches the target."""
    lo, hi = MIN_UNITS, MIN_UNITS
    cache = {}

    def at(n):
        if n not in cache:
            cache[n] = rate(n)
        return cache[n]

    while at(hi) < target:
        lo, hi = hi, hi * 2
        if hi > MAX_N:
            return None, at(lo)
    while hi - lo > max(1, lo // 20):
        mid = (lo + hi) // 2
        if at(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi, at(hi)


