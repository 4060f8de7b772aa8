"""Error EDFs of design spaces, plain and complexity-normalized.

The paper compares design spaces by the empirical distribution function (EDF) of the errors of
models sampled from them: F(e) = fraction of models with error <= e. Because two spaces can
sample complexity differently, the normalized EDF reweights models so that every complexity bin
(equal-width bins of flops over a shared range) counts equally, as in facebookresearch/nds
("On Network Design Spaces for Visual Recognition", Radosavovic et al. 2019): within a bin, models
share the bin's weight equally. Bins left empty by a space are dropped for that space (nds asserts
they do not occur; we renormalize over the occupied bins so the EDF still ends at 1).

All functions take plain arrays or a tidy DataFrame with columns `space`, `error` (percent) and
`flops`, and return arrays or tidy DataFrames.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BINS = 10


def edf_values(values, grid, weights=None) -> np.ndarray:
    """Weighted EDF of `values` evaluated at `grid`: F(x) = sum of weights of values <= x.

    weights default to 1/n each; they are normalized to sum to 1."""
    values = np.asarray(values, np.float64)
    grid = np.asarray(grid, np.float64)
    if values.size == 0:
        return np.full(grid.shape, np.nan)
    w = np.full(values.size, 1.0 / values.size) if weights is None else np.asarray(weights, np.float64)
    order = np.argsort(values, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    cum /= cum[-1]
    return cum[np.searchsorted(values[order], grid, side="right")]


def complexity_bins(complexity, num_bins: int = DEFAULT_BINS, bin_range=None) -> np.ndarray:
    """Index (0..num_bins-1) of each model's equal-width complexity bin over `bin_range`
    (default: min..max of `complexity`); the top edge belongs to the last bin, values outside the
    range get -1."""
    c = np.asarray(complexity, np.float64)
    finite = np.isfinite(c)  # a model without a complexity belongs to no bin
    if bin_range is None:
        lo, hi = (float(np.min(c[finite])), float(np.max(c[finite]))) if finite.any() else (0.0, 0.0)
    else:
        lo, hi = map(float, bin_range)
    inside = finite & (c >= lo) & (c <= hi)
    if hi <= lo:  # all models of one complexity: a single bin
        return np.where(inside, 0, -1)
    idx = np.floor((np.where(inside, c, lo) - lo) / (hi - lo) * num_bins).astype(np.int64)
    idx = np.minimum(idx, num_bins - 1)  # the top edge belongs to the last bin
    return np.where(inside, idx, -1)


def normalized_weights(complexity, num_bins: int = DEFAULT_BINS, bin_range=None) -> np.ndarray:
    """Weights that make every occupied complexity bin count equally (nds ``compute_norm_ws``).

    w_i = 1 / (count of model i's bin) / (number of occupied bins); models outside `bin_range`
    get weight 0. The weights sum to 1."""
    return normalized_weights_from_bins(complexity_bins(complexity, num_bins, bin_range), num_bins)


def normalized_weights_from_bins(bins, num_bins: int) -> np.ndarray:
    """normalized_weights() from bin indices (-1: outside every bin, weight 0)."""
    bins = np.asarray(bins, np.int64)
    inside = bins >= 0
    counts = np.bincount(bins[inside], minlength=num_bins)
    occupied = np.count_nonzero(counts)
    w = np.zeros(bins.shape, np.float64)
    if occupied:
        w[inside] = 1.0 / counts[bins[inside]] / occupied
    return w


def error_grid(errors, num: int = 200, pad: float = 0.02) -> np.ndarray:
    """`num` evenly spaced error values spanning `errors` (plus a small margin): the x-axis shared by
    the EDFs of several spaces."""
    e = np.asarray(errors, np.float64)
    e = e[np.isfinite(e)]
    lo, hi = float(e.min()), float(e.max())
    margin = pad * max(hi - lo, 1e-9)
    return np.linspace(lo - margin, hi + margin, num)


def edf(df: pd.DataFrame, by: str = "space", value: str = "error", normalize: str | None = None,
        num_bins: int = DEFAULT_BINS, bin_range=None, grid=None) -> pd.DataFrame:
    """EDF of `value` for each group `by`, on a grid shared by all groups.

    normalize: None for the plain EDF, or a complexity column (e.g. "flops") for the normalized EDF;
    the bins span that column over all groups together (or `bin_range`) so every space is weighted
    against the same bins. Returns a tidy DataFrame with columns [by, value, "cdf"]."""
    grid = error_grid(df[value]) if grid is None else np.asarray(grid, np.float64)
    if normalize is not None and bin_range is None:
        bin_range = (float(df[normalize].min()), float(df[normalize].max()))
    parts = []
    for name, group in df.groupby(by, sort=True):
        w = None if normalize is None else normalized_weights(group[normalize].to_numpy(), num_bins, bin_range)
        parts.append(pd.DataFrame({by: name, value: grid, "cdf": edf_values(group[value].to_numpy(), grid, w)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[by, value, "cdf"])
