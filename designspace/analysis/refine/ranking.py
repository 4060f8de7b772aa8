"""The ranked table of refinement candidates: which candidates are tested, their statistics, the rule
that says a candidate improves the space, the order, and the method in words."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...errors import UsageError
from ...spaces.columns import column_names
from ...spaces.expr import parse
from ...stats.intervals import describe_interval
from ...stats.ks import KS_EXACT_MAX, ks_2samp
from .constraints import Candidate, candidates
from .population import Population, prepare
from .shifts import CORRECTIONS, adjust_pvalues, shift_statistics

STATISTIC_COLUMNS = ("mean_kept", "mean_rest", "mean_shift", "mean_shift_lo", "mean_shift_hi",
                     "q25_kept", "q25_rest", "q25_shift", "q25_shift_lo", "q25_shift_hi",
                     "ks_statistic", "ks_pvalue", "p_adjusted")
TEXT_COLUMNS = ("candidate", "kind", "parameter", "status")


def _drop_trivial(cands: list[Candidate], masks: np.ndarray, n: int):
    """A generated candidate that holds for every model or none is a property of the space, not a
    refinement of it (shared b in AnyNetXB): left out, and named in the method notes. A user's try
    stays (and is skipped, saying why). -> (candidates, masks, models kept by each, texts left out)."""
    kept = masks.sum(axis=0)
    trivial = np.array([c.kind != "try" and k in (0, n) for c, k in zip(cands, kept)], bool)
    left_out = [c.text for c, t in zip(cands, trivial) if t]
    return [c for c, t in zip(cands, trivial) if not t], masks[:, ~trivial], kept[~trivial], left_out


def _statuses(cands: list[Candidate], kept: np.ndarray, n: int, min_models: int) -> list[str]:
    """"tested", or "skipped: ..." saying why (keeps every model or none, or too few on one side);
    the skipped are warned about."""
    status = []
    for c, k in zip(cands, kept):
        if k == 0 or k == n:
            status.append("skipped: keeps " + ("no model" if k == 0 else "every model"))
        elif k < min_models or n - k < min_models:
            status.append(f"skipped: {k} models kept, {n - k} left (fewer than {min_models} on one side)")
        else:
            status.append("tested")
    skipped = [c.text for c, s in zip(cands, status) if s != "tested"]
    if skipped:
        names = ", ".join(f"{t!r}" for t in skipped)
        warnings.warn(f"refine: {len(skipped)} candidate(s) skipped: {names}", stacklevel=3)
    return status


def _statistics(pop: Population, masks: np.ndarray, tested: np.ndarray, n_boot: int, level: float,
                correction: str, seed) -> dict:
    """STATISTIC_COLUMNS for every candidate (NaN for the skipped): shifts with their bootstrap
    intervals, the KS test kept vs rest, and its p-value adjusted over the tested candidates."""
    columns = {name: np.full(masks.shape[1], np.nan) for name in STATISTIC_COLUMNS}
    if not tested.any():
        return columns
    st = shift_statistics(pop.errors, masks[:, tested], n_boot=n_boot, level=level, quantile=0.25, seed=seed)
    for name in st.columns.drop(["n_kept", "n_rest"]):
        columns[name.replace("q_", "q25_")][tested] = st[name].to_numpy()
    ks = [ks_2samp(pop.errors[m], pop.errors[~m]) for m in masks[:, tested].T]
    columns["ks_statistic"][tested] = [float(r.statistic) for r in ks]
    columns["ks_pvalue"][tested] = [float(r.pvalue) for r in ks]
    columns["p_adjusted"][tested] = adjust_pvalues(columns["ks_pvalue"][tested], correction)
    return columns


def _ordered(columns: dict, tested: np.ndarray) -> pd.DataFrame:
    """The table, improving candidates first, then the other tested ones, each by the interval's upper
    end (then the shift); skipped last, without a rank."""
    group = np.where(columns["improves"], 0, np.where(tested, 1, 2))
    order = np.lexsort((columns["mean_shift"], columns["mean_shift_hi"], group))
    table = pd.DataFrame({k: np.asarray(v, dtype=object if k in TEXT_COLUMNS else None)[order]
                          for k, v in columns.items()})
    rank = pd.array(np.cumsum(tested[order]), dtype="Int64")
    rank[~tested[order]] = pd.NA
    table.insert(0, "rank", rank)
    return table


def method(pop: Population, *, n_boot: int, level: float, seed, alpha: float, correction: str, n_tested: int,
           min_models: int, left_out=()) -> dict:
    """The method of a ranked table in words (its attrs["method"]); the interval as
    designspace.stats.intervals.describe_interval states every interval method."""
    return {
        "unit": "models (repeated trials of a model averaged first)",
        "population": {"space": pop.label, "models": len(pop.errors), "trials": pop.n_trials},
        "shift": "statistic(kept) - statistic(rest), error in percentage points; negative = lower error",
        "q25": "inverted-EDF lower quartile (smallest error e with EDF(e) >= 0.25)",
        "interval": describe_interval("percentile bootstrap", level, n_boot, "models", seed),
        "resampling": "each replicate redraws the population's models with replacement; one set of "
                      "replicates serves every candidate",
        "ks": f"two-sample Kolmogorov-Smirnov, kept vs rest (scipy.stats.ks_2samp; exact p-value where "
              f"n_kept * n_rest <= {KS_EXACT_MAX}, asymptotic above)",
        "edf": "plain EDF of the models' errors (not complexity-normalized; all models share the flops band)",
        "correction": f"{CORRECTIONS[correction]} over {n_tested} tested candidates",
        "improves": f"mean_shift_hi < 0 and p_adjusted < {alpha:g}",
        "min_models": min_models,
        "notes": list(pop.notes) + ([f"hold for every model or none, so not refinements here: "
                                     f"{', '.join(left_out)}"] if left_out else []),
    }


def rank_candidates(pop: Population, cands: list[Candidate], min_models: int = 20, n_boot: int = 1000,
                    level: float = 0.95, alpha: float = 0.05, correction: str = "holm", seed=0) -> pd.DataFrame:
    """The ranked table of `cands` on `pop` (columns and rule: see designspace.analysis.refine)."""
    if correction not in CORRECTIONS:
        raise UsageError(f"unknown correction {correction!r}; valid: {', '.join(CORRECTIONS)}")
    n = len(pop.errors)
    masks = np.column_stack([pop.mask(c.text) for c in cands]) if cands else np.zeros((n, 0), bool)
    cands, masks, kept, left_out = _drop_trivial(cands, masks, n)
    status = _statuses(cands, kept, n, min_models)
    tested = np.array([s == "tested" for s in status], bool)
    columns = {
        "candidate": [c.text for c in cands], "kind": [c.kind for c in cands],
        "parameter": [c.parameter for c in cands], "n_kept": kept, "n_rest": n - kept,
        "share_kept": kept / n if n else np.full(len(cands), np.nan),
        **_statistics(pop, masks, tested, n_boot, level, correction, seed),
    }
    with np.errstate(invalid="ignore"):
        columns["improves"] = tested & (columns["mean_shift_hi"] < 0) & (columns["p_adjusted"] < alpha)
    sampler = set(column_names())
    columns["space_constraint"] = np.array([parse(c.text).names <= sampler for c in cands], bool)
    columns["status"] = status
    table = _ordered(columns, tested)
    table.attrs["method"] = method(pop, n_boot=n_boot, level=level, seed=seed, alpha=alpha, correction=correction,
                                   n_tested=int(tested.sum()), min_models=min_models, left_out=left_out)
    return table


def refine(df: pd.DataFrame, space=None, tries=(), *, min_models: int = 20, n_boot: int = 1000,
           level: float = 0.95, alpha: float = 0.05, correction: str = "holm", seed=0,
           parameters: bool = True, structural: bool = True, efit: bool = True, max_levels: int = 8,
           how: str = "mean") -> pd.DataFrame:
    """Rank candidate refinements of the space a trained population was sampled from.

    df: trials (a store's `load()` or a tidy table with sample's columns plus `error`); repeats of
    a model are aggregated with `how` (population.model_table). space: which space's models to
    refine (a label of the `space` column, or a DesignSpace) when the population holds several;
    its free parameters give the value/part candidates. tries: extra constraint texts.
    parameters, structural, efit: include the free-parameter candidates, the structural ones, and
    e_fit among them (e_fit costs ~1 s per 10,000 models; a table's own `e_fit` column is used).
    Returns one row per candidate, best first; the columns, the statistics (with their method in
    `result.attrs["method"]`) and the rule for `improves` are described in designspace.analysis.refine."""
    if min_models < 2:
        raise UsageError(f"min_models must be at least 2, got {min_models}")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise UsageError("level and alpha must lie strictly between 0 and 1")
    pop = prepare(df, space=space, efit=efit and structural, how=how)
    for note in pop.notes:
        warnings.warn(f"refine: {note}", stacklevel=2)
    cands = candidates(pop, tries=tries, structural=structural, parameters=parameters, max_levels=max_levels)
    return rank_candidates(pop, cands, min_models=min_models, n_boot=n_boot, level=level, alpha=alpha,
                           correction=correction, seed=seed)
