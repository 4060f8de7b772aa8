"""Random-search efficiency: the best error expected after drawing m models from a space.

Closed form from order statistics of the observed population. Sort its n errors e_(1) <= ... <= e_(n)
and let C_i be the total weight of the i best models (weights sum to 1; uniform: C_i = i/n). Drawing m
models with replacement, each model with its weight's probability, all m are worse than e_(i) with
probability (1 - C_i)^m, so

    P(best = e_(i)) = (1 - C_{i-1})^m - (1 - C_i)^m,   E[best of m] = sum_i e_(i) P(best = e_(i)).

nds (Radosavovic et al. 2019, its NAS notebook) draws with the complexity-normalized EDF weights
(`random.choices(errs, cum_weights=cumsum(ws), k=m)`), so that a space is not rewarded for sampling
more expensive models; that is the default of `search_efficiency` (weights="normalized"), with
uniform draws as the option. The band is the central `level` interval of the distribution of the
best-of-m error: where a single random search with m models lands.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .edf import DEFAULT_BINS, choose_bins, group_weights


def best_of_m(errors, m, level: float = 0.9, weights=None) -> pd.DataFrame:
    """Distribution of the best error among m random draws from `errors` (each drawn with
    probability proportional to `weights`; default uniform), for each m in `m`.

    Returns a DataFrame with columns m, expected, median, lo, hi (lo/hi: the central `level`
    interval of the best-of-m error)."""
    errors = np.asarray(errors, np.float64)
    order = np.argsort(errors, kind="stable")
    e = errors[order]
    n = e.size
    w = np.full(n, 1.0 / max(n, 1)) if weights is None else np.asarray(weights, np.float64)[order]
    cum = np.concatenate([[0.0], np.cumsum(w)])
    cum = np.clip(cum / cum[-1], 0.0, 1.0)
    m = np.atleast_1d(np.asarray(m, np.float64))
    # survival[k, i]: probability that all m_k draws are worse than e_(i) = (1 - C_i)^m
    survival = np.power(1.0 - cum[None, :], m[:, None])
    p = survival[:, :-1] - survival[:, 1:]
    cdf = 1.0 - survival[:, 1:]  # P(best <= e_(i))

    def quantile(q):
        idx = np.minimum((cdf < q - 1e-12).sum(axis=1), n - 1)
        return e[idx]

    return pd.DataFrame({"m": m.astype(np.int64), "expected": p @ e, "median": quantile(0.5),
                         "lo": quantile((1 - level) / 2), "hi": quantile((1 + level) / 2)})


def search_efficiency(df: pd.DataFrame, by: str = "space", value: str = "error", max_models: int | None = None,
                      num: int = 40, level: float = 0.9, weights: str = "normalized", normalize: str = "flops",
                      num_bins: int | None = None, bin_range=None) -> pd.DataFrame:
    """best_of_m for each space on a shared log-spaced m grid 1..max_models (default: the largest
    space's size).

    weights: "normalized" draws each model with its complexity-normalized weight (column
    `normalize`, `num_bins` bins over `bin_range`, as the normalized EDF; num_bins None: chosen by
    choose_bins, its warnings issued as Python warnings), "uniform" draws every model alike. Tidy DataFrame with
    columns [by, m, expected, median, lo, hi, weights]."""
    if weights not in ("normalized", "uniform"):
        raise ValueError(f"weights must be 'normalized' or 'uniform', got {weights!r}")
    max_models = int(max_models or df.groupby(by).size().max())
    m = np.unique(np.round(np.geomspace(1, max(max_models, 1), num)).astype(np.int64))
    if weights == "normalized" and num_bins is None:
        chosen = choose_bins(df, normalize, by, DEFAULT_BINS, bin_range=bin_range)
        for text in chosen["warnings"]:
            warnings.warn(text, stacklevel=2)
        num_bins, bin_range = chosen["num_bins"], chosen["bin_range"]
    w = group_weights(df, normalize if weights == "normalized" else None, by, num_bins or DEFAULT_BINS, bin_range)
    parts = [best_of_m(df[value].to_numpy()[idx], m, level, w[idx]).assign(**{by: name})
             for name, idx in df.groupby(by, sort=True).indices.items()]
    out = pd.concat(parts, ignore_index=True)
    out["weights"] = weights
    return out[[by, "m", "expected", "median", "lo", "hi", "weights"]]
