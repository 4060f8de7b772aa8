"""The two-sample Kolmogorov-Smirnov test and distance, one definition for analysis, refine and claims."""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as _st

from .intervals import Interval, _nan_interval

KS_EXACT_MAX = 250_000  # n_a * n_b up to which the p-value is exact (its cost grows with the product)


def ks_2samp(a, b):
    """scipy.stats.ks_2samp: the exact p-value while n_a * n_b <= KS_EXACT_MAX, the asymptotic
    (Kolmogorov distribution) above, where it is accurate and the exact one costs ~0.1 s a test."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return _st.ks_2samp(a, b, method="exact" if a.size * b.size <= KS_EXACT_MAX else "asymp")


def ks_distance_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sup |F_a - F_b| of each pair of rows (bootstrap replicates), evaluated at every value either holds."""
    out = np.empty(a.shape[0])
    sa, sb = np.sort(a, axis=1), np.sort(b, axis=1)
    for r in range(a.shape[0]):  # one searchsorted per replicate: O(B (n log n)), no (B, n, G) block
        grid = np.concatenate([sa[r], sb[r]])
        fa = np.searchsorted(sa[r], grid, side="right") / sa.shape[1]
        fb = np.searchsorted(sb[r], grid, side="right") / sb.shape[1]
        out[r] = np.max(np.abs(fa - fb))
    return out


@functools.lru_cache(maxsize=1024)  # scipy inverts kstwo numerically (~10 ms); judges and simulations repeat (n, level)
def band_half_width(n: int, coverage: float) -> float:
    """The half-width e of the exact Kolmogorov band: P(sup |F_n - F| <= e) = coverage for n values of a
    continuous F (scipy's kstwo, Simard & L'Ecuyer 2011); for a discrete F the band covers more."""
    return float(_st.kstwo.ppf(coverage, n))


def distance_interval(a, b):
    """The KS distance D = sup |F_a - F_b| with a distribution-free interval (schema 3): by the triangle
    inequality |D - D_n| <= e_a + e_b whenever both arms' Kolmogorov bands hold, so
    [D_n - e_a - e_b, D_n + e_a + e_b] (clipped to [0, 1]) misses D with probability at most that of a
    band failing. Each arm's band is taken at coverage sqrt((1 + level) / 2), so that the two hold
    together with probability (1 + level) / 2 and each side of the interval misses at most (1 - level) / 2
    of the time, as a one-sided decision at alpha needs. Exact arithmetic, no resampling, conservative
    (a bootstrap of D, whose plug-in estimate is biased upward, covered 65% at a nominal 90%)."""
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = {"a": int(a.size), "b": int(b.size)}
    method = "Kolmogorov-band interval for the KS distance (exact, distribution-free, conservative; no resampling)"
    if not (a.size and b.size):
        return _nan_interval(method, n)
    test = ks_2samp(a, b)
    d = float(test.statistic)

    def at(level):
        per_arm = math.sqrt((1.0 + level) / 2.0)
        half = band_half_width(int(a.size), per_arm) + band_half_width(int(b.size), per_arm)
        return max(0.0, d - half), min(1.0, d + half)

    return Interval(d, at, method, n, extra={"pvalue": float(test.pvalue)})
