"""The expected best (lowest) of m random draws, E[min of m], estimated without bias and given a
seed-free interval: schema 3's method for a claim's `best_of_m_diff`.

Estimator. The U-statistic: the mean, over all m-subsets of the n models, of the subset's minimum,
sum_i w_i x_(i) with w_i = C(n - i, m - 1) / C(n, m) (the chance that x_(i) is the lowest of m models
drawn without replacement). It is unbiased for E[min of m] under any distribution (Hoeffding 1948).
The plug-in estimate that schemas 1 and 2 use (m draws *with* replacement from the sample) is biased
towards the median, and a percentile bootstrap of it inherits that bias: measured at 40 models per arm,
best-of-8 arms with standard deviations 2 and 3 covered 86% at a nominal 90%.

Interval. Jackknife standard error of each arm's U-statistic (Arvesen 1969: consistent for
U-statistics), added over independent arms, with Student t at Welch-Satterthwaite degrees of
freedom in which each arm counts its *effective* number of models, the Kish size 1 / sum w_i^2: the
estimate rests on the lowest ~n / m models, and the jackknife variance is only as steady as they are.
At m = 1 every weight is 1 / n and the interval is Welch's t for a difference of means exactly.
Measured (2,000 repetitions, 90%): normal arms of 20-200 models, m 2-32, equal and unequal spreads,
and skewed (lognormal) arms cover 0.89-0.95 (tests/test_claims_coverage.py checks the suites' sizes).
No resampling, so no seed.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special as _sp
from scipy import stats as _st

from .intervals import Interval, _nan_interval

MIN_ARM = 3  # an arm needs at least this many models (and at least m) for an interval


def u_weights(n: int, m: int) -> np.ndarray:
    """w_i = C(n - i, m - 1) / C(n, m), i = 1..n: the chance that the i-th lowest of n values is the
    lowest of m drawn without replacement (sums to 1; zero where fewer than m - 1 values lie above)."""
    i = np.arange(1, n + 1)
    ok = n - i >= m - 1
    k = np.where(ok, n - i, m - 1)  # keeps gammaln's arguments positive where the weight is zero anyway
    log_w = (_sp.gammaln(k + 1) - _sp.gammaln(m) - _sp.gammaln(k - m + 2)
             - (_sp.gammaln(n + 1) - _sp.gammaln(m + 1) - _sp.gammaln(n - m + 1)))
    return np.where(ok, np.exp(log_w), 0.0)


def effective_size(n: int, m: int) -> float:
    """Kish's effective number of models behind the estimate: 1 / sum w_i^2 (n at m = 1)."""
    return float(1.0 / np.sum(u_weights(n, m) ** 2))


def estimate_rows(rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(U-statistic, jackknife variance) of E[min of m] for each row of a (R, n) matrix, n >= m + 1.
    Leaving out the k-th lowest value, the remaining n - 1 keep their order, so every leave-one-out
    estimate comes from two running sums of the sorted row: O(n) a row, no (n, n) block."""
    s = np.sort(rows, axis=1)
    r, n = s.shape
    est = s @ u_weights(n, m)
    w1 = u_weights(n - 1, m)
    below = np.concatenate([np.zeros((r, 1)), np.cumsum(s[:, :-1] * w1, axis=1)], axis=1)  # values left of k
    above = np.cumsum((s[:, 1:] * w1)[:, ::-1], axis=1)[:, ::-1]  # values right of k, one rank lower
    loo = below + np.concatenate([above, np.zeros((r, 1))], axis=1)
    var = (n - 1) / n * np.sum((loo - loo.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return est, var


def _welch_df(va, vb, ea: float, eb: float):
    """Welch-Satterthwaite degrees of freedom with each arm's effective size."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (va + vb) ** 2 / np.maximum(va ** 2 / (ea - 1) + vb ** 2 / (eb - 1), 1e-300)


def _usable(n: int, m: int) -> bool:
    return n >= max(MIN_ARM, m + 1)


METHOD = ("jackknife t interval of the unbiased (U-statistic) estimates, Welch df from each arm's effective "
          "size (no resampling)")


def diff_interval(a, b, m: int) -> Interval:
    """E[min of m](a) - E[min of m](b) over independent arms, with the jackknife t interval."""
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = {"a": int(a.size), "b": int(b.size)}
    m = int(m)
    if not (_usable(a.size, m) and _usable(b.size, m)):
        return _nan_interval(METHOD, n)
    (ea, va), (eb, vb) = (tuple(float(x[0]) for x in estimate_rows(v[None], m)) for v in (a, b))
    se = math.sqrt(va + vb)
    df = float(_welch_df(va, vb, effective_size(a.size, m), effective_size(b.size, m)))
    est = ea - eb

    def at(level):
        t = float(_st.t.ppf((1 + level) / 2, df)) if se > 0 else 0.0
        return est - t * se, est + t * se

    return Interval(est, at, METHOD, n, extra={"se": se, "df": df, "m": m})


def diff_rows(a: np.ndarray, b: np.ndarray, m: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """diff_interval's bounds for each row of (R, n_a) and (R, n_b) matrices (power simulations)."""
    m = int(m)
    if not (_usable(a.shape[1], m) and _usable(b.shape[1], m)):  # too few models: an interval that decides nothing
        return np.full(len(a), -np.inf), np.full(len(a), np.inf)
    (ea, va), (eb, vb) = estimate_rows(a, m), estimate_rows(b, m)
    se = np.sqrt(va + vb)
    df = _welch_df(va, vb, effective_size(a.shape[1], m), effective_size(b.shape[1], m))
    t = _st.t.ppf((1 + level) / 2, df)
    est = ea - eb
    return est - t * se, est + t * se
