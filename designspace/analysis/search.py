"""Random-search efficiency: the best error expected after drawing m models from a space.

Closed form from order statistics of the observed population. Sort its n errors e_(1) <= ... <= e_(n).
Drawing m models uniformly with replacement, the best of them is e_(i) or better with probability
1 - (1 - i/n)^m, so

    P(best = e_(i)) = (1 - (i-1)/n)^m - (1 - i/n)^m,   E[best of m] = sum_i e_(i) P(best = e_(i)).

The band is the central `level` interval of that distribution of the best-of-m error: where a
single random search with m models lands. A design space that is "easier to search" reaches a low
expected best error with fewer models.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def best_of_m(errors, m, level: float = 0.9) -> pd.DataFrame:
    """Distribution of the best error among m random draws from `errors`, for each m in `m`.

    Returns a DataFrame with columns m, expected, median, lo, hi (lo/hi: the central `level`
    interval of the best-of-m error)."""
    e = np.sort(np.asarray(errors, np.float64))
    n = e.size
    m = np.atleast_1d(np.asarray(m, np.float64))
    i = np.arange(n + 1, dtype=np.float64)
    # survival[k, i]: probability that all m_k draws are worse than e_(i) = (1 - i/n)^m
    survival = np.power(1.0 - i[None, :] / n, m[:, None])
    p = survival[:, :-1] - survival[:, 1:]
    cdf = 1.0 - survival[:, 1:]  # P(best <= e_(i))

    def quantile(q):
        idx = np.minimum((cdf < q - 1e-12).sum(axis=1), n - 1)
        return e[idx]

    return pd.DataFrame({"m": m.astype(np.int64), "expected": p @ e, "median": quantile(0.5),
                         "lo": quantile((1 - level) / 2), "hi": quantile((1 + level) / 2)})


def search_efficiency(df: pd.DataFrame, by: str = "space", value: str = "error", max_models: int | None = None,
                      num: int = 40, level: float = 0.9) -> pd.DataFrame:
    """best_of_m for each space on a shared log-spaced m grid 1..max_models (default: the largest
    space's size). Tidy DataFrame with columns [by, m, expected, median, lo, hi]."""
    max_models = int(max_models or df.groupby(by).size().max())
    m = np.unique(np.round(np.geomspace(1, max(max_models, 1), num)).astype(np.int64))
    parts = [best_of_m(g[value].to_numpy(), m, level).assign(**{by: name})
             for name, g in df.groupby(by, sort=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[[by, "m", "expected", "median", "lo", "hi"]]
