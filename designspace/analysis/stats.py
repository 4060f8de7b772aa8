"""Bootstrap confidence bands and intervals, two-sample KS tests, and the ranking table of spaces
(exact intervals: designspace.stats.intervals).

Bootstraps are vectorized: all replicates of one population are drawn at once as multinomial counts
(for EDF bands) or index matrices (for statistics), so 1000 replicates of a 2500-model space cost
milliseconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import resample
from ..stats.intervals import mean_interval, quantile_interval, sorted_quantile
from ..stats.ks import ks_2samp
from .edf import DEFAULT_BINS, complexity_bins, normalized_weights_from_bins

# name -> quantile of the error distribution (None: the mean); "best" is the lowest error
STATISTICS = {"best": 0.0, "q10": 0.10, "q25": 0.25, "median": 0.5, "mean": None}


def bootstrap_edf(values, grid, complexity=None, num_bins: int = DEFAULT_BINS, bin_range=None,
                  n_boot: int = 1000, level: float = 0.9, band: str = "pointwise", seed=0) -> pd.DataFrame:
    """EDF of `values` at `grid` with a bootstrap confidence band.

    With `complexity` the EDF is the normalized one: every replicate recomputes the per-bin weights
    from its own resampled bin counts. band="pointwise": percentile interval at each grid point
    (covers F(x) at any one x with probability ~level); band="simultaneous": F_hat +/- c with c the
    level-quantile of the replicates' largest deviation (covers the whole curve with probability
    ~level). Returns a DataFrame with columns grid value "x", "cdf" (the estimate), "lo", "hi"."""
    if band not in ("pointwise", "simultaneous"):
        raise ValueError(f"band must be 'pointwise' or 'simultaneous', got {band!r}")
    values = np.asarray(values, np.float64)
    grid = np.asarray(grid, np.float64)
    n, g = values.size, grid.size
    # A value v adds its weight to F(x) for every grid point x >= v, so a replicate's curve is a
    # cumulative sum over grid intervals of the weight its draws put in each interval. Models in the
    # same cell (grid interval, and complexity bin when normalized) weigh the same in every
    # replicate, so a resample of n models is, exactly in distribution, multinomial counts over
    # the occupied cells: cost O(B x cells) instead of O(B x n) (cells <= bins x grid points).
    interval = np.searchsorted(grid, values, side="left")  # first grid index with x >= v (g: none)
    rng = np.random.default_rng(seed)
    if complexity is not None:
        k = max(num_bins, 1)
        bins = complexity_bins(np.asarray(complexity, np.float64), num_bins, bin_range)
        base_w = normalized_weights_from_bins(bins, k)
        cell = np.where(bins >= 0, bins, k) * (g + 1) + interval  # bin k: outside the bin range
    else:
        base_w, cell = np.full(n, 1.0 / n), interval
    cells, freq = np.unique(cell, return_counts=True)
    counts = rng.multinomial(n, freq / n, size=n_boot).astype(np.float64) if n else np.zeros((n_boot, 0))
    cell_interval = cells % (g + 1)
    if complexity is not None:
        cell_bin = cells // (g + 1)
        # (B, k) models per bin: cells are sorted by bin (np.unique), so each bin is a run of columns
        first = np.flatnonzero(np.r_[True, cell_bin[1:] != cell_bin[:-1]])
        per_bin = np.zeros((n_boot, k + 1))
        if cells.size:
            per_bin[:, cell_bin[first]] = np.add.reduceat(counts, first, axis=1)
        per_bin = per_bin[:, :k]
        occupied = np.count_nonzero(per_bin, axis=1)
        inv = np.divide(1.0, per_bin * occupied[:, None], out=np.zeros_like(per_bin), where=per_bin > 0)
        inv = np.hstack([inv, np.zeros((n_boot, 1))])  # column k: outside the bin range, weight 0
        counts *= inv[:, cell_bin]
    rep = np.arange(n_boot)[:, None] * (g + 1)
    hist = np.bincount((rep + cell_interval[None, :]).ravel(), weights=counts.ravel(),
                       minlength=n_boot * (g + 1)).reshape(n_boot, g + 1)
    hist = np.vstack([np.bincount(interval, weights=base_w, minlength=g + 1), hist])  # row 0: the estimate
    cum = np.cumsum(hist, axis=1)
    curves = np.divide(cum[:, :g], cum[:, -1:], out=np.full((n_boot + 1, g), np.nan), where=cum[:, -1:] > 0)
    est, reps = curves[0], curves[1:]
    if band == "pointwise":
        lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0)
    else:
        c = np.quantile(np.abs(reps - est).max(axis=1), level)
        lo, hi = np.clip(est - c, 0, 1), np.clip(est + c, 0, 1)
    return pd.DataFrame({"x": grid, "cdf": est, "lo": lo, "hi": hi})


def bootstrap_statistics(values, statistics=tuple(STATISTICS), n_boot: int = 1000, level: float = 0.9,
                         seed=0) -> pd.DataFrame:
    """Point estimate and percentile bootstrap interval of error statistics of one population (models
    resampled with designspace.stats.resample).

    statistics: names from STATISTICS ("best" = lowest error, "q10", "q25", "median", "mean").
    Returns a DataFrame with columns "statistic", "estimate", "lo", "hi"."""
    values = np.sort(np.asarray(values, np.float64))
    reps = np.sort(values[resample.indices(seed, values.size, n_boot)], axis=1)
    rows = []
    for name in statistics:
        q = STATISTICS[name]
        if q is None:
            est, dist = values.mean(), reps.mean(axis=1)
        else:
            est, dist = sorted_quantile(values[None, :], q)[0], sorted_quantile(reps, q)
        lo, hi = resample.percentile_bounds(dist, level)
        rows.append({"statistic": name, "estimate": float(est), "lo": float(lo), "hi": float(hi)})
    return pd.DataFrame(rows)


def ks_test(a, b) -> dict:
    """Two-sample Kolmogorov-Smirnov test: {"statistic": sup |F_a - F_b|, "pvalue"} (designspace.stats.ks)."""
    res = ks_2samp(a, b)
    return {"statistic": float(res.statistic), "pvalue": float(res.pvalue)}


def ks_pairs(df: pd.DataFrame, by: str = "space", value: str = "error") -> pd.DataFrame:
    """KS test for every pair of groups: tidy DataFrame [a, b, statistic, pvalue]."""
    groups = {k: g[value].to_numpy() for k, g in df.groupby(by, sort=True)}
    names = list(groups)
    rows = [{"a": a, "b": b, **ks_test(groups[a], groups[b])}
            for i, a in enumerate(names) for b in names[i + 1:]]
    return pd.DataFrame(rows, columns=["a", "b", "statistic", "pvalue"])


def rank_spaces(df: pd.DataFrame, by: str = "space", value: str = "error", level: float = 0.9) -> pd.DataFrame:
    """One row per space, best (lowest median error) first.

    Columns: rank, space, n, and for each statistic in STATISTICS its estimate and central `level`
    interval (<stat>, <stat>_lo, <stat>_hi): for the quantiles (q10, q25, median) the exact
    distribution-free order-statistic interval (binomial ranks), for the mean Student's t; no
    resampling, so no interval moves with a seed. "best" (the lowest error) has no interval
    (NaN): no distribution-free one exists for a sample minimum, and its bootstrap is inconsistent.
    An unbounded end (too few models for the level) is NaN too. ks_vs_best / ks_p_vs_best: KS
    test against the top-ranked space (NaN for that space itself). A space whose EDF lies to the
    right (higher errors) has a higher median and ranks lower; the KS p-value says whether the gap
    is noise."""
    rows = []
    for name, group in df.groupby(by, sort=True):
        v = np.sort(group[value].to_numpy(np.float64))
        v = v[np.isfinite(v)]
        row = {by: name, "n": len(group)}
        for stat, q in STATISTICS.items():
            if stat == "best":
                est, lo, hi = (v[0] if v.size else np.nan), np.nan, np.nan
            else:
                interval = mean_interval(v) if q is None else quantile_interval(v, q)
                lo, hi = interval.bounds(level)
                est = float(v.mean()) if q is None and v.size else interval.estimate  # a lone model has a mean
            row[stat], row[f"{stat}_lo"], row[f"{stat}_hi"] = (float(x) if np.isfinite(x) else np.nan
                                                               for x in (est, lo, hi))
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(["median", "mean"], kind="stable").reset_index(drop=True)
    top = df.loc[df[by] == table.loc[0, by], value].to_numpy()
    ks = [ks_test(top, df.loc[df[by] == name, value].to_numpy()) if i else {"statistic": np.nan, "pvalue": np.nan}
          for i, name in enumerate(table[by])]
    table["ks_vs_best"] = [k["statistic"] for k in ks]
    table["ks_p_vs_best"] = [k["pvalue"] for k in ks]
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def edf_bands(df: pd.DataFrame, by: str = "space", value: str = "error", normalize: str | None = None,
              num_bins: int = DEFAULT_BINS, bin_range=None, grid=None, n_boot: int = 1000, level: float = 0.9,
              band: str = "pointwise", seed=0) -> pd.DataFrame:
    """bootstrap_edf for every group of a DataFrame, named as `edf` names its output: tidy
    [by, value, cdf, lo, hi] on a shared grid (normalize: a complexity column for the normalized
    EDF over `num_bins` bins of `bin_range`; default None, the plain EDF)."""
    from .edf import error_grid

    grid = error_grid(df[value]) if grid is None else np.asarray(grid, np.float64)
    parts = []
    for i, (name, g) in enumerate(df.groupby(by, sort=True)):
        cx = None if normalize is None else g[normalize].to_numpy(np.float64)
        s = (seed, i) if normalize is None else (seed, i, 1)
        b = bootstrap_edf(g[value].to_numpy(np.float64), grid, complexity=cx, num_bins=num_bins, bin_range=bin_range,
                          n_boot=n_boot, level=level, band=band, seed=s)
        parts.append(b.rename(columns={"x": value}).assign(**{by: name}))
    cols = [by, value, "cdf", "lo", "hi"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
