"""Proxy fidelity: does a cheap training budget rank models as an expensive one does?

Two populations that trained the same specs (a proxy sweep with fewer epochs or less data, and a
longer one) are matched by spec id. Reported: Spearman's rho and Kendall's tau-b of the two errors
(designspace.stats.rank) with percentile bootstrap intervals over the matched models (pairs resampled
with replacement), and the top-k overlap |top_k(A) ∩ top_k(B)| / k: the fraction of the expensive run's
k best models that the proxy also puts in its k best.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.intervals import describe_interval
from ..stats.rank import bootstrap_correlations, rank_tests
from ..stats.resample import percentile_bounds


def match_models(models: pd.DataFrame, a: str, b: str, by: str = "context", value: str = "error") -> pd.DataFrame:
    """Models of groups a and b (column `by`) sharing a spec id: [spec_id, space, error_a, error_b]."""
    left = models.loc[models[by] == a, ["spec_id", "space", value]].drop_duplicates("spec_id")
    right = models.loc[models[by] == b, ["spec_id", value]].drop_duplicates("spec_id")
    out = left.merge(right, on="spec_id", suffixes=("_a", "_b"))
    return out.rename(columns={f"{value}_a": "error_a", f"{value}_b": "error_b"})


def rank_correlation(x, y, n_boot: int = 1000, level: float = 0.9, seed=0) -> pd.DataFrame:
    """Spearman rho and Kendall tau-b of x and y with percentile bootstrap intervals (pairs
    resampled; Kendall on the first KENDALL_RESAMPLES replicates), from designspace.stats.rank.
    DataFrame [statistic, estimate, lo, hi, pvalue, n, replicates]; attrs["interval"] states the
    interval method (designspace.stats.intervals.describe_interval)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = x.size
    if n < 3:
        return pd.DataFrame([{"statistic": s, "estimate": np.nan, "lo": np.nan, "hi": np.nan, "pvalue": np.nan,
                              "n": n} for s in ("spearman", "kendall")])
    replicates = bootstrap_correlations(x, y, n_boot, seed)
    rows = []
    for name, (estimate, pvalue) in rank_tests(x, y).items():
        dist = replicates[name]
        ok = dist[np.isfinite(dist)]
        lo, hi = percentile_bounds(ok, level) if ok.size else (np.nan, np.nan)
        rows.append({"statistic": name, "estimate": estimate, "lo": float(lo), "hi": float(hi),
                     "pvalue": pvalue, "n": n, "replicates": int(ok.size)})
    out = pd.DataFrame(rows)
    out.attrs["interval"] = describe_interval("percentile bootstrap", level, n_boot, "model pairs", seed)
    return out


def top_k_overlap(x, y, ks=(5, 10, 20)) -> pd.DataFrame:
    """|top_k(x) ∩ top_k(y)| / k (lowest values are best) for each k <= n: [k, overlap, shared]."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ox, oy = np.argsort(x, kind="stable"), np.argsort(y, kind="stable")
    rows = []
    for k in ks:
        if k > x.size:
            continue
        shared = len(set(ox[:k].tolist()) & set(oy[:k].tolist()))
        rows.append({"k": int(k), "shared": shared, "overlap": shared / k})
    return pd.DataFrame(rows, columns=["k", "shared", "overlap"])


def proxy_fidelity(models: pd.DataFrame, a: str, b: str, by: str = "context", value: str = "error",
                   n_boot: int = 1000, level: float = 0.9, seed=0, ks=None) -> dict:
    """Rank agreement of groups a (e.g. the proxy) and b (the longer run) on their shared specs:
    {"pairs": match_models(), "correlation": rank_correlation(), "overlap": top_k_overlap()}.
    ks default: 5, 10, 20 and 10% / 25% of the shared models."""
    pairs = match_models(models, a, b, by, value)
    n = len(pairs)
    ks = ks or sorted({k for k in (5, 10, 20, max(1, n // 10), max(1, n // 4)) if k <= n})
    corr = rank_correlation(pairs["error_a"], pairs["error_b"], n_boot, level, seed)
    return {"pairs": pairs.assign(a=a, b=b), "correlation": corr.assign(a=a, b=b),
            "overlap": top_k_overlap(pairs["error_a"], pairs["error_b"], ks).assign(a=a, b=b, n=n)}
