"""Error EDFs of design spaces, plain and complexity-normalized.

The paper compares design spaces by the empirical distribution function (EDF) of the errors of
models sampled from them: F(e) = fraction of models with error <= e. Because two spaces can
sample complexity differently, the normalized EDF reweights models so that every complexity bin
counts equally, as in facebookresearch/nds ("On Network Design Spaces for Visual Recognition",
Radosavovic et al. 2019, `compute_norm_ws`): equal-width bins over a complexity range shared by the
compared spaces, each bin weighs 1/B, shared equally by the models inside it. nds asserts that no
bin is empty; so do we: `choose_bins` picks the bin count so that every space has at least k models
in every bin of the spaces' common range (fewer bins, with a warning, when the requested count
cannot), and `edf` refuses a normalized EDF with an empty bin instead of renormalizing each space
over a different complexity mix. Models outside the common range get weight 0 (counted and named
by `choose_bins`).

All functions take plain arrays or a tidy DataFrame with columns `space`, `error` (percent) and
`flops`, and return arrays or tidy DataFrames.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BINS = 10
MIN_PER_BIN = 3  # models each space needs in every bin (the default k of choose_bins)


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


def common_range(df: pd.DataFrame, column: str = "flops", by: str = "space") -> tuple[float, float]:
    """The complexity range every group covers: (largest group minimum, smallest group maximum)."""
    g = df.groupby(by, sort=True)[column]
    return float(g.min().max()), float(g.max().min())


def choose_bins(df: pd.DataFrame, column: str = "flops", by: str = "space", max_bins: int = DEFAULT_BINS,
                min_per_bin: int = MIN_PER_BIN, bin_range=None) -> dict:
    """Bins for the normalized EDF shared by all groups `by`: equal-width bins of `column` over the
    groups' common range (or `bin_range`), as many as possible up to `max_bins` such that every group
    has at least `min_per_bin` models in every bin.

    Returns {"num_bins", "bin_range", "min_per_bin", "outside": {group: models outside the range},
    "counts": {group: per-bin counts}, "warnings": [one-line texts]}. With fewer bins than
    `max_bins`, or when even one bin cannot hold `min_per_bin` models of some group (then 1 bin),
    the warnings say so; nothing is dropped without a warning."""
    lo, hi = common_range(df, column, by) if bin_range is None else tuple(map(float, bin_range))
    c = df[column].to_numpy(np.float64)
    codes, names = pd.factorize(df[by], sort=True)
    warnings = []
    if not hi >= lo:  # the groups' ranges do not overlap
        warnings.append(f"the {by}s share no {column} range (largest minimum {lo:.4g} > smallest maximum "
                        f"{hi:.4g}); the normalized EDF is not comparable and uses each model's own bin")
        lo, hi = float(np.nanmin(c)), float(np.nanmax(c))
    chosen, counts = 1, None
    for b in range(max(int(max_bins), 1), 0, -1):
        bins = complexity_bins(c, b, (lo, hi))
        inside = bins >= 0
        table = np.zeros((len(names), b), np.int64)
        np.add.at(table, (codes[inside], bins[inside]), 1)
        if table.min() >= min_per_bin or b == 1:
            chosen, counts = b, table
            break
    if chosen < max_bins:
        if counts.min() >= min_per_bin:
            warnings.append(f"normalized EDF: {chosen} {column} bins instead of {max_bins}, so that every {by} "
                            f"has at least {min_per_bin} models per bin")
        else:
            short = [f"{n} ({int(counts[i].min())})" for i, n in enumerate(names) if counts[i].min() < min_per_bin]
            warnings.append(f"normalized EDF: fewer than {min_per_bin} models in the common {column} range for "
                            f"{', '.join(map(str, short))}; one bin, so it equals the plain EDF over that range")
    bins = complexity_bins(c, chosen, (lo, hi))
    outside = {str(n): int(np.sum((codes == i) & (bins < 0))) for i, n in enumerate(names)}
    out_text = [f"{n}: {k}" for n, k in outside.items() if k]
    if out_text:
        warnings.append(f"normalized EDF: models outside the common {column} range [{lo:.4g}, {hi:.4g}] get "
                        f"weight 0 ({', '.join(out_text)})")
    return {"num_bins": int(chosen), "bin_range": (lo, hi), "min_per_bin": int(min_per_bin), "column": column,
            "outside": outside, "counts": {str(n): counts[i].tolist() for i, n in enumerate(names)},
            "warnings": warnings}


def group_weights(df: pd.DataFrame, column: str | None, by: str = "space", num_bins: int = DEFAULT_BINS,
                  bin_range=None) -> np.ndarray:
    """Per row, its normalized weight within its group (each group's weights sum to 1); uniform
    1/n when `column` is None."""
    w = np.zeros(len(df))
    for _, idx in df.groupby(by, sort=True).indices.items():
        if column is None:
            w[idx] = 1.0 / len(idx)
        else:
            w[idx] = normalized_weights(df[column].to_numpy(np.float64)[idx], num_bins, bin_range)
    return w


def edf(df: pd.DataFrame, by: str = "space", value: str = "error", normalize: str | None = None,
        num_bins: int = DEFAULT_BINS, bin_range=None, grid=None) -> pd.DataFrame:
    """EDF of `value` for each group `by`, on a grid shared by all groups.

    normalize: None for the plain EDF, or a complexity column (e.g. "flops") for the normalized EDF
    over `num_bins` equal-width bins of `bin_range` (default: the groups' common range, see
    `common_range`; `choose_bins` picks a count every group fills). A group with an empty bin raises
    ValueError (as nds asserts) rather than being renormalized over the bins it has. Returns a tidy
    DataFrame with columns [by, value, "cdf"]."""
    grid = error_grid(df[value]) if grid is None else np.asarray(grid, np.float64)
    if normalize is not None and bin_range is None:
        bin_range = common_range(df, normalize, by)
    parts = []
    for name, group in df.groupby(by, sort=True):
        w = None
        if normalize is not None:
            bins = complexity_bins(group[normalize].to_numpy(), num_bins, bin_range)
            counts = np.bincount(bins[bins >= 0], minlength=num_bins)
            if np.any(counts == 0):
                raise ValueError(f"normalized EDF: {by} {name} has no model in {normalize} bin(s) "
                                 f"{np.flatnonzero(counts == 0).tolist()} of {num_bins}; use fewer bins "
                                 f"(choose_bins picks a count every {by} fills)")
            w = normalized_weights_from_bins(bins, num_bins)
        parts.append(pd.DataFrame({by: name, value: grid, "cdf": edf_values(group[value].to_numpy(), grid, w)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[by, value, "cdf"])
