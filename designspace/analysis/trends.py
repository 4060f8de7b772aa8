"""Trends: error against design parameters, best models' parameters against flops, and the
complexity relations (params ~ flops, acts ~ sqrt(flops)).

The paper's band for "where the best models lie" along a parameter x (RegNet paper, Sec. 3): draw
25% of the (x, error) pairs with replacement, keep the x of the lowest-error pair, repeat many times;
the central 95% of those x values is the band and their median the line.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .efit import stage_arrays

# the paper's design parameters: total depth d, bottleneck ratio b, group width g, width rule w0/wa/wm
PARAMETERS = ("d", "b", "g", "w0", "wa", "wm")


def _active_stage_mean(values, depths) -> np.ndarray:
    """Per model, the mean of a per-stage value over the stages that have blocks."""
    V, D = stage_arrays(values, depths)
    active = D > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(active, V, 0.0).sum(axis=1) / active.sum(axis=1)


def design_parameters(df: pd.DataFrame, fit: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model: space, error, flops, params, acts and the paper's parameters.

    d = total blocks; b, g = the bottleneck ratio and group width (mean over stages that have
    blocks: equal to the shared value in spaces that share them); w0, wa, wm = the RegNet
    parameters the spec was generated from, else those of its e_fit fit (`fit`, from
    `efit.model_efit`), whose e_fit column is added too."""
    out = pd.DataFrame({
        "space": df["space"].to_numpy(), "error": df["error"].to_numpy(np.float64),
        "flops": df["flops"].to_numpy(np.float64), "params": df["params"].to_numpy(np.float64),
        "acts": df["acts"].to_numpy(np.float64), "d": df["d"].to_numpy(np.float64),
        "b": _active_stage_mean(list(df["bottleneck_ratios"]), list(df["depths"])),
        "g": _active_stage_mean(list(df["group_widths"]), list(df["depths"])),
    }, index=df.index)
    for key in ("w0", "wa", "wm"):
        own = df[key].to_numpy(np.float64) if key in df else np.full(len(df), np.nan)
        if fit is not None:
            own = np.where(np.isnan(own), fit[f"fit_{key}"].to_numpy(np.float64), own)
        out[key] = own
    if fit is not None:
        out["e_fit"] = fit["e_fit"].to_numpy(np.float64)
    return out


def best_range(x, error, frac: float = 0.25, n_boot: int = 2000, level: float = 0.95, seed=0) -> dict:
    """The paper's bootstrap band for the x of the best models: {"median", "lo", "hi"}."""
    x = np.asarray(x, np.float64)
    return best_ranges({"x": x}, error, frac, n_boot, level, seed)["x"]


def best_ranges(xs: dict, error, frac: float = 0.25, n_boot: int = 2000, level: float = 0.95, seed=0) -> dict:
    """best_range() of several parameters of the same models at once: {name: {"median", "lo", "hi"}}.

    The subsamples and their best models are drawn once and shared by all parameters (models with a
    missing value of some parameter are dropped for that one, with its own draws)."""
    error = np.asarray(error, np.float64)
    cols = {k: np.asarray(v, np.float64) for k, v in xs.items()}
    ok = np.isfinite(error)
    complete = ok & np.all([np.isfinite(v) for v in cols.values()], axis=0) if cols else ok
    out = {}
    shared = _best_indices(error, complete, frac, n_boot, seed)
    for k, x in cols.items():
        mask = ok & np.isfinite(x)
        idx = shared if np.array_equal(mask, complete) else _best_indices(error, mask, frac, n_boot, seed)
        if idx is None:
            out[k] = {"median": np.nan, "lo": np.nan, "hi": np.nan}
            continue
        lo, med, hi = np.quantile(x[idx], [(1 - level) / 2, 0.5, (1 + level) / 2])
        out[k] = {"median": float(med), "lo": float(lo), "hi": float(hi)}
    return out


def _best_indices(error, mask, frac, n_boot, seed):
    """Index of the lowest-error model in each of n_boot subsamples (frac of the masked models,
    drawn with replacement); None when no model is left."""
    pool = np.flatnonzero(mask)
    if not pool.size:
        return None
    k = max(1, int(round(frac * pool.size)))
    idx = pool[np.random.default_rng(seed).integers(0, pool.size, (n_boot, k))]
    return np.take_along_axis(idx, np.argmin(error[idx], axis=1)[:, None], axis=1)[:, 0]


def _bin_edges(x: np.ndarray, num_bins: int, log: bool) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi <= lo:
        return np.array([lo - 0.5, hi + 0.5])
    if log and lo > 0:
        return np.geomspace(lo, hi, num_bins + 1)
    return np.linspace(lo, hi, num_bins + 1)


def _binned(x: np.ndarray, y: np.ndarray, num_bins: int, log: bool | None) -> pd.DataFrame:
    distinct = np.unique(x)
    if distinct.size <= num_bins:  # few distinct values (b, g): one bin per value
        centres, which = distinct, np.searchsorted(distinct, x)
        lo_e = hi_e = distinct
    else:
        log = bool(log if log is not None else (x.min() > 0 and x.max() / x.min() > 8))
        edges = _bin_edges(x, num_bins, log)
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, num_bins - 1)
        centres = np.sqrt(edges[:-1] * edges[1:]) if log else (edges[:-1] + edges[1:]) / 2
        lo_e, hi_e = edges[:-1], edges[1:]
    # per-bin statistics with numpy (a pandas groupby per parameter and space costs more than the data)
    order = np.lexsort((y, which))  # by bin, then error
    wb, ys = which[order], y[order]
    present, start, count = np.unique(wb, return_index=True, return_counts=True)
    mid = start + (count - 1) / 2.0
    median = (ys[np.floor(mid).astype(np.int64)] + ys[np.ceil(mid).astype(np.int64)]) / 2.0
    return pd.DataFrame({"x": np.asarray(centres)[present], "lo_edge": np.asarray(lo_e)[present],
                         "hi_edge": np.asarray(hi_e)[present], "n": count,
                         "mean": np.add.reduceat(ys, start) / count, "median": median, "best": ys[start]})


_BIN_COLUMNS = ["x", "lo_edge", "hi_edge", "n", "mean", "median", "best"]


def error_trend(df: pd.DataFrame, param: str, value: str = "error", num_bins: int = 8, log: bool | None = None,
                n_boot: int = 2000, seed=0) -> tuple[pd.DataFrame, dict]:
    """Error against one parameter: binned statistics and the best-model band.

    Parameters with few distinct values (b, g) get one bin per value. Returns (bins, band): bins is a
    DataFrame with columns x (bin centre or value), lo_edge, hi_edge, n, mean, median, best;
    band is best_range() of the parameter."""
    data = df[[param, value]].dropna()
    x, y = data[param].to_numpy(np.float64), data[value].to_numpy(np.float64)
    band = best_range(x, y, n_boot=n_boot, seed=seed)
    if not x.size:
        return pd.DataFrame(columns=_BIN_COLUMNS), band
    return _binned(x, y, num_bins, log), band


def error_trends(df: pd.DataFrame, params=PARAMETERS, by: str = "space", value: str = "error", num_bins: int = 8,
                 n_boot: int = 2000, seed=0, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """error_trend for every parameter and space: (tidy bins [by, parameter, ...], tidy bands
    [by, parameter, median, lo, hi], the central `level` of the best-range draws; the paper's 95%
    by default). `df` is a design_parameters() frame."""
    bins, bands = [], []
    for name, group in df.groupby(by, sort=True):
        present = [p for p in params if p in group and group[p].notna().any()]
        ranges = best_ranges({p: group[p] for p in present}, group[value], n_boot=n_boot, level=level, seed=seed)
        for p in present:
            data = group[[p, value]].dropna()
            if data.empty:
                continue
            b = _binned(data[p].to_numpy(np.float64), data[value].to_numpy(np.float64), num_bins, None)
            bins.append(b.assign(**{by: name, "parameter": p}))
            bands.append({by: name, "parameter": p, **ranges[p]})
    bins_df = pd.concat(bins, ignore_index=True) if bins else pd.DataFrame(columns=[*_BIN_COLUMNS, by, "parameter"])
    return bins_df, pd.DataFrame(bands, columns=[by, "parameter", "median", "lo", "hi"])


def best_model_trends(df: pd.DataFrame, params=PARAMETERS, by: str = "space", num_bins: int = 6,
                      top: int = 1) -> pd.DataFrame:
    """Parameters of the best `top` models in each flops bin (log-spaced over the data's range),
    per space: tidy DataFrame [by, flops_bin, flops, error, <params>]."""
    edges = _bin_edges(df["flops"].to_numpy(np.float64), num_bins, log=True)
    which = np.clip(np.searchsorted(edges, df["flops"].to_numpy(np.float64), side="right") - 1, 0, len(edges) - 2)
    cols = [by, "flops", "error", *[p for p in params if p in df]]
    ranked = df.assign(flops_bin=which).sort_values("error", kind="stable")
    best = ranked.groupby([by, "flops_bin"], sort=True).head(top)
    return best[[by, "flops_bin", *cols[1:]]].sort_values([by, "flops_bin", "error"]).reset_index(drop=True)


def linear_fit(x, y) -> dict:
    """Least-squares line y = slope * x + intercept with its r^2 and n."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        return {"slope": np.nan, "intercept": np.nan, "r2": np.nan, "n": int(x.size)}
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    tot = np.sum((y - y.mean()) ** 2)
    return {"slope": float(slope), "intercept": float(intercept),
            "r2": float(1 - np.sum(resid**2) / tot) if tot > 0 else 1.0, "n": int(x.size)}


def complexity_fits(df: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """The paper's complexity relations: params against flops and acts against sqrt(flops), each a
    linear fit; one row per relation (and per group `by` if given) with slope, intercept, r2, n."""
    groups = [("all", df)] if by is None else list(df.groupby(by, sort=True))
    rows = []
    for name, g in groups:
        f = g["flops"].to_numpy(np.float64)
        rows.append({"group": name, "relation": "params ~ flops", **linear_fit(f, g["params"])})
        rows.append({"group": name, "relation": "acts ~ sqrt(flops)", **linear_fit(np.sqrt(f), g["acts"])})
    return pd.DataFrame(rows)


def flops_bins(flops, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-spaced flops bins over the data's range: (bin index per model, edges)."""
    f = np.asarray(flops, np.float64)
    edges = _bin_edges(f, num_bins, log=True)
    which = np.clip(np.searchsorted(edges, f, side="right") - 1, 0, len(edges) - 2)
    return which, edges


def best_model_bands(df: pd.DataFrame, params=PARAMETERS, by: str = "space", num_bins: int = 6,
                     min_models: int = 8, frac: float = 0.25, n_boot: int = 500, level: float = 0.9,
                     seed=0) -> pd.DataFrame:
    """Where the best models lie, per log-spaced flops bin (shared by all groups) and group: the
    paper's best-range estimate (best_ranges: the parameter of the best model of 25% subsamples)
    with its central `level` bootstrap band, for every parameter. Bins with fewer than `min_models`
    models of a group are skipped for it (the `n` column says how many each estimate used).
    Tidy DataFrame [by, flops_bin, flops_lo, flops_hi, flops, n, parameter, median, lo, hi]."""
    which, edges = flops_bins(df["flops"], num_bins)
    rows = []
    present = [p for p in params if p in df and df[p].notna().any()]
    for name, idx in df.groupby(by, sort=True).indices.items():
        for b in np.unique(which[idx]):
            sel = idx[which[idx] == b]
            if len(sel) < min_models:
                continue
            g = df.iloc[sel]
            ranges = best_ranges({p: g[p] for p in present}, g["error"], frac, n_boot, level, seed=(seed, int(b)))
            for p in present:
                rows.append({by: name, "flops_bin": int(b), "flops_lo": edges[b], "flops_hi": edges[b + 1],
                             "flops": float(np.sqrt(edges[b] * edges[b + 1])), "n": len(sel), "parameter": p,
                             **ranges[p]})
    return pd.DataFrame(rows, columns=[by, "flops_bin", "flops_lo", "flops_hi", "flops", "n", "parameter",
                                       "median", "lo", "hi"])


def best_complexity_fits(df: pd.DataFrame, by: str = "space", num_bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's Fig. 12 relations fitted on the best models: the lowest-error model of each group
    in each log-spaced flops bin (pooled over groups and regimes), then params ~ flops and
    acts ~ sqrt(flops). Returns (fits [group, relation, slope, intercept, r2, n], the best models)."""
    which, _ = flops_bins(df["flops"], num_bins)
    ranked = df.assign(flops_bin=which).sort_values("error", kind="stable")
    best = ranked.groupby([by, "flops_bin"], sort=True).head(1).sort_values([by, "flops"]).reset_index(drop=True)
    fits = complexity_fits(best)
    fits["group"] = "best per flops bin"
    return fits, best[[by, "flops_bin", "flops", "params", "acts", "error"]]
