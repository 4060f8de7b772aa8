"""Intervals that do not depend on a random seed where such exist, and bootstrap intervals that say
their Monte-Carlo error where they do not.

Every function returns an `Interval`: the point estimate, a function giving the (lo, hi) interval at
any two-sided level (so a decision at a multiplicity-adjusted level re-reads the same interval), the
method in words, and for bootstrap intervals the Monte-Carlo band of each endpoint.

Methods (references in docs/claims.md):
- quantile_interval: the exact distribution-free order-statistic interval for a quantile
  (coverage >= level for any continuous distribution; binomial arithmetic, no resampling).
- quantile_se: the standard error of a sample quantile from two order statistics (Price & Bonett
  2001 for the median, the same construction for any q).
- linear_quantile_interval: a linear contrast of independent arms' quantiles (difference of medians,
  an interaction of four medians), estimate +- t * sqrt(sum c_j^2 se_j^2) (Bonett & Price 2002, who use
  a normal quantile; the order-statistic standard error is itself noisy, and with z the one-sided error
  rate at alpha = 0.001 was measured at 4-7x alpha for 10-40 normal models per arm, so we take Student t
  with min(n) - 1 degrees of freedom: 1.6-2.8x at 0.001, within Monte-Carlo error at 0.05).
- welch_interval (difference of means), mean_interval (t), ratio_interval (ratio of means, delta
  method on the log scale, paired or not), slope_interval (OLS t). Rank correlations and their
  Fisher-z intervals: designspace.stats.rank.
- bootstrap_interval: percentile interval of given replicates; the Monte-Carlo band of an endpoint
  is the range of replicate order statistics that the endpoint's rank could take (+- z_mc binomial
  standard deviations of the rank), distribution-free.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _st

MC_Z = 3.0  # Monte-Carlo band of a bootstrap endpoint: +-3 binomial standard deviations of its rank


@dataclass(frozen=True)
class Interval:
    estimate: float
    at: Callable[[float], tuple[float, float]] = field(repr=False)  # two-sided level -> (lo, hi)
    method: str = ""
    n: dict = field(default_factory=dict)  # arm -> units
    mc_band: Callable[[float], tuple[tuple[float, float], tuple[float, float]]] | None = field(default=None,
                                                                                               repr=False)
    extra: dict = field(default_factory=dict)

    def bounds(self, level: float) -> tuple[float, float]:
        lo, hi = self.at(level)
        return float(lo), float(hi)


def _nan_interval(method: str, n: dict) -> Interval:
    return Interval(float("nan"), lambda level: (float("nan"), float("nan")), method, n)


def normal_quantile(level: float) -> float:
    """The normal quantile z of a central interval at `level` (z = Phi^-1((1 + level) / 2))."""
    return float(_st.norm.ppf((1.0 + level) / 2.0))


def sorted_quantile(sorted_values: np.ndarray, q: float) -> np.ndarray:
    """Quantile q of each row of already-sorted values, numpy's default (linear) definition: the one
    quantile definition the project uses."""
    n = sorted_values.shape[-1]
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[..., lo] * (1.0 - frac) + sorted_values[..., hi] * frac


def quantile(values, q: float) -> float:
    v = np.sort(np.asarray(values, np.float64))
    return float(sorted_quantile(v, q)) if v.size else float("nan")


def order_statistic_ranks(n: int, q: float, level: float) -> tuple[int, int]:
    """1-based ranks (l, u) of the exact interval [x_(l), x_(u)] for quantile q: P(x_(l) <= xi_q) and
    P(x_(u) >= xi_q) each >= 1 - (1 - level) / 2. l = 0 or u = n + 1 means unbounded on that side."""
    alpha = (1.0 - level) / 2.0
    cdf = _st.binom.cdf(np.arange(n + 1), n, q)
    below = np.nonzero(cdf <= alpha)[0]  # P(Bin <= l - 1) <= alpha  <=>  l - 1 in below
    l_rank = int(below[-1]) + 1 if below.size else 0
    above = np.nonzero(cdf >= 1.0 - alpha)[0]  # P(Bin <= u - 1) >= 1 - alpha
    u_rank = int(above[0]) + 1 if above.size else n + 1
    return l_rank, u_rank


def quantile_interval(values, q: float = 0.5) -> Interval:
    """Exact distribution-free order-statistic interval for quantile q of one arm (or of paired
    differences: the sign-test interval for their median)."""
    v = np.sort(np.asarray(values, np.float64))
    v = v[np.isfinite(v)]
    n = int(v.size)
    method = f"exact order-statistic interval for the {q:g} quantile (binomial, distribution-free)"
    if not n:
        return _nan_interval(method, {"a": 0})

    def at(level):
        lo_r, hi_r = order_statistic_ranks(n, q, level)
        lo = v[lo_r - 1] if lo_r >= 1 else -math.inf
        hi = v[hi_r - 1] if hi_r <= n else math.inf
        return float(lo), float(hi)

    return Interval(float(sorted_quantile(v, q)), at, method, {"a": n})


def quantile_se(values, q: float = 0.5) -> float:
    """Standard error of the sample q-quantile from the order statistics about two binomial standard
    deviations either side of it (Price & Bonett 2001 for the median: ranks (n + 1) / 2 -+ sqrt(n)):
    (x_(u) - x_(l)) / (2 z*), where [x_(l), x_(u)] has exact coverage 1 - a* and z* = z_(1 - a*/2).
    nan below 3 values."""
    v = np.sort(np.asarray(values, np.float64))
    v = v[np.isfinite(v)]
    return float(quantile_se_rows(v[None, :], q)[0]) if v.size >= 3 else float("nan")


def linear_quantile_interval(arms: dict, coefs: dict, q: float = 0.5) -> Interval:
    """sum_j c_j * quantile_q(arm_j) over independent arms, with the normal interval of Bonett & Price
    (2002): the variance of each arm's quantile from its order statistics, added."""
    clean = {k: np.asarray(v, np.float64)[np.isfinite(np.asarray(v, np.float64))] for k, v in arms.items()}
    n = {k: int(v.size) for k, v in clean.items()}
    what = "median" if q == 0.5 else f"{q:g} quantile"
    method = (f"Bonett-Price interval for a linear function of independent {what}s (each {what}'s standard "
              "error from its order statistics; Student t with min(n) - 1 df), no resampling")
    if min(n.values()) < 3:
        return _nan_interval(method, n)
    est = sum(c * quantile(clean[k], q) for k, c in coefs.items())
    se = math.sqrt(sum(c * c * quantile_se(clean[k], q) ** 2 for k, c in coefs.items()))
    df = min(n.values()) - 1
    return Interval(float(est), lambda level: _t_bounds(est, se, df, level), method, n, extra={"se": se, "df": df})


def mean_interval(values) -> Interval:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    method = "t interval for a mean"
    if n < 2:
        return _nan_interval(method, {"a": n})
    est, se = float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))
    return Interval(est, lambda level: _t_bounds(est, se, n - 1, level), method, {"a": n}, extra={"se": se})


def _t_bounds(est, se, df, level):
    t = float(_st.t.ppf((1 + level) / 2, df)) if df > 0 else math.inf
    return est - t * se, est + t * se


def welch_interval(a, b) -> Interval:
    """mean(a) - mean(b), Welch's t interval (unequal variances)."""
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = {"a": int(a.size), "b": int(b.size)}
    method = "Welch t interval for a difference of means"
    if min(n.values()) < 2:
        return _nan_interval(method, n)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) or 1e-300)
    est = float(a.mean() - b.mean())
    return Interval(est, lambda level: _t_bounds(est, se, df, level), method, n, extra={"se": se})


def ratio_interval(a, b, paired: bool = False) -> Interval:
    """mean(a) / mean(b), delta method on the log scale (with the pairs' covariance when paired)."""
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    if paired:
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
    else:
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = {"a": int(a.size), "b": int(b.size)}
    method = ("ratio of means, delta-method interval on the log scale" + (" over model pairs" if paired else ""))
    if min(n.values()) < 2 or a.mean() <= 0 or b.mean() <= 0:
        return _nan_interval(method, n)
    ma, mb = a.mean(), b.mean()
    var = a.var(ddof=1) / (a.size * ma * ma) + b.var(ddof=1) / (b.size * mb * mb)
    if paired:
        var -= 2 * np.cov(a, b, ddof=1)[0, 1] / (a.size * ma * mb)
    se = math.sqrt(max(var, 0.0))
    log_est = math.log(ma / mb)
    df = (a.size - 1) if paired else (min(a.size, b.size) - 1)

    def at(level):
        lo, hi = _t_bounds(log_est, se, df, level)
        return math.exp(lo), math.exp(hi)

    return Interval(float(ma / mb), at, method, n, extra={"se_log": se})


def slope_interval(x, y) -> Interval:
    x, y = (np.asarray(v, np.float64) for v in (x, y))
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    method = "least-squares slope, t interval"
    if n < 3 or np.ptp(x) == 0:
        return _nan_interval(method, {"a": n})
    fit = _st.linregress(x, y)
    est, se = float(fit.slope), float(fit.stderr)
    return Interval(est, lambda level: _t_bounds(est, se, n - 2, level), method, {"a": n},
                    extra={"r2": float(fit.rvalue ** 2)})


def bootstrap_interval(estimate: float, replicates, n: dict, what: str = "") -> Interval:
    """Percentile interval of bootstrap replicates, with each endpoint's Monte-Carlo band: the endpoint
    at level L is the replicate of rank k = B (1 -+ L) / 2; another seed puts it, with ~99.7%
    probability, between the replicates of ranks k -+ 3 sqrt(B p (1 - p))."""
    reps = np.sort(np.asarray(replicates, np.float64))
    reps = reps[np.isfinite(reps)]
    b = int(reps.size)
    method = f"percentile bootstrap{(' ' + what) if what else ''}, {b} resamples (Monte-Carlo error reported)"
    if not b:
        return _nan_interval(method, n)

    def rank_value(p):
        return float(sorted_quantile(reps, min(max(p, 0.0), 1.0)))

    def at(level):
        return rank_value((1 - level) / 2), rank_value((1 + level) / 2)

    def band(level):
        out = []
        for p in ((1 - level) / 2, (1 + level) / 2):
            half = MC_Z * math.sqrt(max(p * (1 - p), 1.0 / b) / b)
            out.append((rank_value(p - half), rank_value(p + half)))
        return tuple(out)

    return Interval(float(estimate), at, method, n, mc_band=band, extra={"resamples": b})


# --- the same intervals for many samples at once (rows), for power and error-rate simulations ---------
def quantile_rows(rows: np.ndarray, q: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """quantile_interval's bounds for each row of a (R, n) matrix."""
    s = np.sort(rows, axis=1)
    n = s.shape[1]
    lo_r, hi_r = order_statistic_ranks(n, q, level)
    lo = s[:, lo_r - 1] if lo_r >= 1 else np.full(len(s), -np.inf)
    hi = s[:, hi_r - 1] if hi_r <= n else np.full(len(s), np.inf)
    return lo, hi


def quantile_se_rows(sorted_rows: np.ndarray, q: float) -> np.ndarray:
    """quantile_se for each row of an already-sorted (R, n >= 3) matrix: the one implementation of it."""
    n = sorted_rows.shape[1]
    half = 2.0 * math.sqrt(n * q * (1 - q))
    l_rank = max(1, int(round(n * q + 0.5 - half)))
    u_rank = min(n, int(round(n * q + 0.5 + half)))
    if u_rank <= l_rank:
        l_rank, u_rank = max(1, l_rank - 1), min(n, u_rank + 1)
    coverage = float(_st.binom.cdf(u_rank - 1, n, q) - _st.binom.cdf(l_rank - 1, n, q))
    z_star = float(_st.norm.ppf((1 + coverage) / 2))
    if not z_star > 0:
        return np.full(len(sorted_rows), np.nan)
    return (sorted_rows[:, u_rank - 1] - sorted_rows[:, l_rank - 1]) / (2 * z_star)


def linear_quantile_rows(arms: dict, coefs: dict, q: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """linear_quantile_interval's bounds for each row (arms: name -> (R, n_arm) matrices)."""
    est, var = 0.0, 0.0
    for k, c in coefs.items():
        s = np.sort(arms[k], axis=1)
        est = est + c * sorted_quantile(s, q)
        var = var + c * c * quantile_se_rows(s, q) ** 2
    df = min(arms[k].shape[1] for k in coefs) - 1
    half = float(_st.t.ppf((1 + level) / 2, df)) * np.sqrt(var)
    return est - half, est + half


def welch_rows(a: np.ndarray, b: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    va, vb = a.var(axis=1, ddof=1) / a.shape[1], b.var(axis=1, ddof=1) / b.shape[1]
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / np.maximum(va ** 2 / (a.shape[1] - 1) + vb ** 2 / (b.shape[1] - 1), 1e-300)
    t = _st.t.ppf((1 + level) / 2, df)
    est = a.mean(axis=1) - b.mean(axis=1)
    return est - t * se, est + t * se


def mean_rows(a: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    se = a.std(axis=1, ddof=1) / math.sqrt(a.shape[1])
    t = float(_st.t.ppf((1 + level) / 2, a.shape[1] - 1))
    est = a.mean(axis=1)
    return est - t * se, est + t * se


def ratio_rows(a: np.ndarray, b: np.ndarray, paired: bool, level: float) -> tuple[np.ndarray, np.ndarray]:
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    var = a.var(axis=1, ddof=1) / (a.shape[1] * ma * ma) + b.var(axis=1, ddof=1) / (b.shape[1] * mb * mb)
    if paired:
        cov = ((a - ma[:, None]) * (b - mb[:, None])).sum(axis=1) / (a.shape[1] - 1)
        var = var - 2 * cov / (a.shape[1] * ma * mb)
    df = (a.shape[1] - 1) if paired else (min(a.shape[1], b.shape[1]) - 1)
    t = float(_st.t.ppf((1 + level) / 2, df))
    with np.errstate(invalid="ignore", divide="ignore"):
        centre, se = np.log(ma / mb), np.sqrt(np.maximum(var, 0))
    return np.exp(centre - t * se), np.exp(centre + t * se)


# --- quantile definitions, and how an interval method is stated -------------------------------------------
def edf_quantile(sorted_values: np.ndarray, q: float) -> float:
    """The inverted-EDF quantile of sorted values: the smallest v with EDF(v) >= q. refine uses this
    definition (not sorted_quantile's interpolation) because its bootstrap draws it exactly from a Beta."""
    n = sorted_values.size
    return float(sorted_values[max(int(np.ceil(q * n)) - 1, 0)]) if n else float("nan")


def describe_interval(method: str, level: float, resamples: int | None = None, unit: str = "models",
                      seed=None) -> str:
    """An interval method stated one way wherever it is reported (analyze's report, refine, fidelity):
    its level, its name, its unit and either its resamples (and seed) or that it is exact, e.g.
    "90% percentile bootstrap interval over models (1,000 resamples, seed 0)" or
    "90% order-statistic interval over models (exact, no resampling)"."""
    how = "exact, no resampling" if resamples is None else \
        f"{resamples:,} resamples" + ("" if seed is None else f", seed {seed}")
    return f"{level * 100:g}% {method} interval over {unit} ({how})"
