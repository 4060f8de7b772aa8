"""The statistics of refinement candidates: how the errors of the models a candidate keeps differ from
the rest's (mean and inverted-EDF quantile shifts with percentile bootstrap intervals, all candidates
on one set of replicates), and the multiplicity adjustment of their KS p-values."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import UsageError
from ...stats import resample
from ...stats.decisions import adjust
from ...stats.intervals import edf_quantile

CORRECTIONS = {"holm": "Holm step-down (family-wise error rate)",
               "bh": "Benjamini-Hochberg (false discovery rate)"}


def _replicate_quantiles(rng: np.random.Generator, values: np.ndarray, totals: np.ndarray, q: float) -> np.ndarray:
    """Inverted-EDF quantile q of bootstrap replicates of a group, drawn from its exact distribution.

    values: the group's n errors, ascending; totals: (b,) how many of the group's models each
    replicate drew (m). Given m, the draws are m uniform picks among the n models, and the t-th
    smallest pick (t = ceil(q m)) is model floor(n U) with U the t-th smallest of m uniforms, i.e.
    U ~ Beta(t, m - t + 1). So a replicate's quantile costs one Beta draw instead of a sort or a
    cumulative sum over its m draws. NaN where m = 0."""
    out = np.full(totals.shape, np.nan)
    n = values.size
    ok = totals > 0
    if n == 0 or not ok.any():
        return out
    m = totals[ok]
    t = np.maximum(np.ceil(q * m), 1)
    u = rng.beta(t, m - t + 1)
    out[ok] = values[np.minimum((n * u).astype(np.int64), n - 1)]
    return out


def bootstrap_shifts(sorted_errors: np.ndarray, masks: np.ndarray, n_boot: int, quantile: float = 0.25,
                     seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the mean shift and the quantile shift of every candidate.

    sorted_errors: (N,) ascending; masks: (N, K) bool in the same order. Each replicate redraws the
    N models with replacement (designspace.stats.resample, in chunks that bound memory; counts per
    model); the mean shifts of all candidates are two matrix products of those counts, the quantile
    shifts are drawn given each replicate's group sizes (`_replicate_quantiles`). Seeded streams
    spawned from SeedSequence(seed). Returns two (n_boot, K) arrays (NaN where a replicate drew no
    kept or no other model)."""
    e = sorted_errors
    n, k = masks.shape
    mf = masks.astype(np.float64)
    draws_rng, quantile_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    boot_mean = np.empty((n_boot, k))
    boot_q = np.empty((n_boot, k))
    weighted = mf * e[:, None]
    groups = [(e[masks[:, j]], e[~masks[:, j]]) for j in range(k)]
    start = 0
    for (draws,) in resample.chunks(draws_rng, (n,), n_boot, chunk=resample.chunk_size(n)):
        b = draws.shape[0]
        cf = resample.counts(draws, n).astype(np.float64)
        drawn_kept = cf @ mf  # (b, K) kept models drawn, with multiplicity
        drawn_rest = n - drawn_kept
        sums = cf @ weighted
        total = cf @ e
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_mean[start:start + b] = sums / drawn_kept - (total[:, None] - sums) / drawn_rest
        for j, (kept, rest) in enumerate(groups):
            boot_q[start:start + b, j] = (_replicate_quantiles(quantile_rng, kept, drawn_kept[:, j], quantile)
                                          - _replicate_quantiles(quantile_rng, rest, drawn_rest[:, j], quantile))
        start += b
    return boot_mean, boot_q


def shift_statistics(errors, masks, n_boot: int = 1000, level: float = 0.95, quantile: float = 0.25,
                     seed=0) -> pd.DataFrame:
    """Shift of the error distribution of the models each mask keeps against the rest.

    errors: (N,) one error per model; masks: (N, K) bool, one column per candidate. Returns one row
    per candidate: n_kept, n_rest, mean_kept, mean_rest, mean_shift (+ _lo, _hi), q_kept, q_rest,
    q_shift (+ _lo, _hi), with percentile bootstrap intervals over `n_boot` replicates of the N
    models (see the module docstring). All candidates share the replicates; the means of all
    candidates come out of two matrix products per chunk of replicates."""
    e = np.asarray(errors, np.float64)
    masks = np.asarray(masks, bool).reshape(e.size, -1)
    order = np.argsort(e, kind="stable")
    e, masks = e[order], masks[order]
    n, k = masks.shape
    mf = masks.astype(np.float64)
    n_kept = masks.sum(axis=0)
    n_rest = n - n_kept
    with np.errstate(invalid="ignore", divide="ignore"):
        kept_sum = e @ mf
        mean_kept, mean_rest = kept_sum / n_kept, (e.sum() - kept_sum) / n_rest
    members = [(np.flatnonzero(masks[:, j]), np.flatnonzero(~masks[:, j])) for j in range(k)]
    q_kept = np.array([edf_quantile(e[kept], quantile) for kept, _ in members])
    q_rest = np.array([edf_quantile(e[rest], quantile) for _, rest in members])

    boot_mean, boot_q = bootstrap_shifts(e, masks, n_boot, quantile, seed)
    mean_lo, mean_hi = resample.percentile_bounds(boot_mean, level, omit_nan=True)
    q_lo, q_hi = resample.percentile_bounds(boot_q, level, omit_nan=True)
    return pd.DataFrame({
        "n_kept": n_kept, "n_rest": n_rest, "mean_kept": mean_kept, "mean_rest": mean_rest,
        "mean_shift": mean_kept - mean_rest, "mean_shift_lo": mean_lo, "mean_shift_hi": mean_hi,
        "q_kept": q_kept, "q_rest": q_rest, "q_shift": q_kept - q_rest, "q_shift_lo": q_lo, "q_shift_hi": q_hi,
    })


def adjust_pvalues(pvalues, method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values: "holm" (step-down, family-wise error rate) or "bh"
    (Benjamini-Hochberg), from the statistics core (designspace.stats.decisions.adjust)."""
    p = np.asarray(pvalues, np.float64)
    if method not in CORRECTIONS:
        raise UsageError(f"unknown correction {method!r}; valid: {', '.join(CORRECTIONS)}")
    return adjust(p, method)
