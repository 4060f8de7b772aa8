"""The two-sample Kolmogorov-Smirnov test and distance, one definition for analysis, refine and claims."""
from __future__ import annotations

import numpy as np
from scipy import stats as _st

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
