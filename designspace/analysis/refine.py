"""Propose the next refinement of a design space from a trained population of it.

The paper designs spaces by adding one constraint at a time (shared b, shared g, growing widths...)
and keeping it when the refined space's error EDF improves. `refine(df)` automates the search for
that constraint: every candidate is a constraint text in the space language (`b == 1`,
`wm >= 2.31`, `w1 <= w2 <= w3 <= w4`), evaluated with designspace.spaces.expr over the columns of
designspace.spaces.columns, so a candidate means here what it means in a space file.

Unit of analysis: models. Repeated trials of one model are averaged first (population.model_table),
so a model trained three times counts once.

Candidates (those that keep every model or none are not refinements and are left out):
- value:     each discrete free parameter (at most `max_levels` distinct values) fixed to each value;
- part:      each continuous free parameter restricted to its lower / upper third and half, cut at the
             population's quantiles (inverted-EDF quantiles, i.e. observed values, rounded to 3
             significant digits for non-integers);
- structure: shared b, shared g, non-decreasing widths, non-decreasing depths (across stages), and
             e_fit (designspace.analysis.efit) in its lower third / half;
- try:       the user's constraints (`tries`).

Statistics of a candidate, on errors in percentage points, comparing the models it keeps against
the rest of the population (negative shift = the refined space has lower errors); plain EDFs, not
complexity-normalized (the population shares one flops band):
- n_kept, share_kept: the models it keeps and their share of the population, an estimate of the
  share of the space (inside the band) that the refinement keeps;
- mean_shift = mean(kept) - mean(rest); q25_shift = q25(kept) - q25(rest), q25 the inverted-EDF lower
  quartile (smallest error e with EDF(e) >= 0.25);
- *_lo, *_hi: percentile bootstrap interval at `level`. Each of `n_boot` replicates redraws the
  population's N models with replacement (seed `seed`); one set of replicates serves all
  candidates, and a candidate's kept / rest groups in a replicate are the redrawn models that do / do
  not satisfy it (so the kept count varies between replicates as it would between populations).
  Means come from the replicates' model counts; q25s are drawn from their exact distribution given
  each replicate's group sizes (`_replicate_quantiles`), which is the same bootstrap, computed faster;
- ks_statistic, ks_pvalue: two-sample Kolmogorov-Smirnov test, kept against rest (scipy ks_2samp;
  exact p-value where n_kept * n_rest <= KS_EXACT_MAX, asymptotic above);
- p_adjusted: ks_pvalue corrected over every tested candidate, Holm's step-down method (controls
  the family-wise error rate: under a null population the chance that any candidate is flagged is
  at most alpha) or Benjamini-Hochberg (`correction="bh"`, scipy false_discovery_control; controls
  the expected share of false discoveries among the flagged).

Rule: a candidate *improves* the space when mean_shift_hi < 0 (the whole interval of the mean shift
lies below zero) AND p_adjusted < alpha. Ranking: tested candidates that improve first, then the
other tested ones, each by mean_shift_hi (the most surely large improvement first), then mean_shift;
skipped candidates last (rank NA). A candidate is skipped, with a warning, when it keeps fewer than
`min_models` models or leaves fewer than `min_models` outside.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..spaces.columns import column_names, table_columns
from ..spaces.expr import parse
from ..stats.decisions import adjust
from ..stats.intervals import edf_quantile
from ..stats.ks import KS_EXACT_MAX, ks_2samp

CORRECTIONS = {"holm": "Holm step-down (family-wise error rate)",
               "bh": "Benjamini-Hochberg (false discovery rate)"}
PARTS = (("lower third", "<=", 1 / 3), ("lower half", "<=", 1 / 2), ("upper half", ">=", 1 / 2),
         ("upper third", ">=", 2 / 3))
EFIT_PARTS = PARTS[:2]
COMPLEXITY = ("flops", "params", "acts")
_CHUNK_ELEMENTS = 2_000_000  # replicate x model counts held at once: bounds memory at ~16 MB per array


# --- statistics ----------------------------------------------------------------------------------
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
    N models with replacement (counts per model); the mean shifts of all candidates are two matrix
    products of those counts, the quantile shifts are drawn given each replicate's group sizes
    (`_replicate_quantiles`). Seeded streams spawned from SeedSequence(seed). Returns two
    (n_boot, K) arrays (NaN where a replicate drew no kept or no other model)."""
    e = sorted_errors
    n, k = masks.shape
    mf = masks.astype(np.float64)
    draws_rng, quantile_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    boot_mean = np.empty((n_boot, k))
    boot_q = np.empty((n_boot, k))
    per = max(1, _CHUNK_ELEMENTS // max(n, 1))
    weighted = mf * e[:, None]
    groups = [(e[masks[:, j]], e[~masks[:, j]]) for j in range(k)]
    for start in range(0, n_boot, per):
        b = min(per, n_boot - start)
        draws = draws_rng.integers(0, n, (b, n))
        counts = np.bincount((draws + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        cf = counts.astype(np.float64)
        drawn_kept = cf @ mf  # (b, K) kept models drawn, with multiplicity
        drawn_rest = n - drawn_kept
        sums = cf @ weighted
        total = cf @ e
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_mean[start:start + b] = sums / drawn_kept - (total[:, None] - sums) / drawn_rest
        for j, (kept, rest) in enumerate(groups):
            boot_q[start:start + b, j] = (_replicate_quantiles(quantile_rng, kept, drawn_kept[:, j], quantile)
                                          - _replicate_quantiles(quantile_rng, rest, drawn_rest[:, j], quantile))
    return boot_mean, boot_q


def _percentiles(replicates: np.ndarray, tails) -> np.ndarray:
    """(2, K) percentiles of each column, ignoring NaN replicates (np.nanquantile is slow, so only
    the columns that hold NaN take it); NaN for a column without replicates."""
    k = replicates.shape[1]
    if replicates.shape[0] == 0:
        return np.full((2, k), np.nan)
    out = np.empty((2, k))
    bad = np.isnan(replicates).any(axis=0)
    out[:, ~bad] = np.quantile(replicates[:, ~bad], tails, axis=0)
    for j in np.flatnonzero(bad):
        finite = replicates[:, j][~np.isnan(replicates[:, j])]
        out[:, j] = np.quantile(finite, tails) if finite.size else np.nan
    return out


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
    tails = [(1 - level) / 2, (1 + level) / 2]
    mean_lo, mean_hi = _percentiles(boot_mean, tails)
    q_lo, q_hi = _percentiles(boot_q, tails)
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


# --- the population ------------------------------------------------------------------------------
@dataclass
class Population:
    """The models of one space, ready for candidates: one row per model, its error and columns."""

    models: pd.DataFrame
    errors: np.ndarray
    columns: dict  # name -> (N,) float64: the space language's columns, plus e_fit when measured
    label: str | None  # the population's space label (its `space` column), or the --space given
    space: object = None  # the DesignSpace, when the label names one
    n_trials: int = 0
    notes: list = field(default_factory=list)  # what was left out and why (also warned)

    def mask(self, text: str) -> np.ndarray:
        """The models satisfying a constraint text (UsageError for unknown columns, bad syntax)."""
        expr = parse(text)
        if not expr.is_boolean:
            raise UsageError(f"{text!r} is not a constraint; write a comparison such as 'wm >= 2'")
        return np.asarray(expr.evaluate(self.columns), bool)


def _finished(df: pd.DataFrame) -> pd.DataFrame:
    if "error" not in df.columns:
        raise UsageError("the population has no 'error' column (expected one error per trial, in %)")
    err = pd.to_numeric(df["error"], errors="coerce")
    ok = err.notna() & np.isfinite(err)
    if "status" in df.columns:
        ok &= df["status"].fillna("done").eq("done")
    out = df[ok].copy()
    out["error"] = err[ok].astype(np.float64)
    return out


def _json_list(v):
    import json

    if not isinstance(v, str):
        return v
    try:
        out = json.loads(v)
    except ValueError:
        out = None
    if not isinstance(out, list):
        raise UsageError(f"a per-stage column holds {v[:40]!r}, not a JSON list")
    return out


def _labels(models: pd.DataFrame, column: str) -> list[str]:
    return sorted(models[column].dropna().astype(str).unique()) if column in models.columns else []


def _resolve_space(models: pd.DataFrame, space):
    """-> (models of one population, its label, its DesignSpace or None, notes).

    A population is a group of population.read_population (the space, prefixed by sweep or source
    where several are read); `space` picks one by that label or by the space's name."""
    from ..spaces import DesignSpace, get_space

    notes = []
    key = "population" if "population" in models.columns else "space"
    labels = _labels(models, key)
    if space is not None:
        wanted = space.name if isinstance(space, DesignSpace) else str(space)
        for column in (key, "space"):
            match = models[column].astype(str).str.lower() == wanted.lower() if column in models.columns else None
            if match is not None and match.any():
                models = models[match.to_numpy()]
                break
        else:
            if len(labels) > 1:
                raise UsageError(f"no models of space {wanted!r}; the population holds: {', '.join(labels)}")
            if labels:
                notes.append(f"the population is labelled {labels[0]!r}; refined as {wanted!r}")
        labels = _labels(models, key) or [wanted]
    if len(labels) > 1:
        raise UsageError(f"the population holds {len(labels)} spaces ({', '.join(labels)}); choose one with --space")
    label = labels[0] if labels else None
    obj = space if isinstance(space, DesignSpace) else None
    names = _labels(models, "space") or ([str(space)] if space is not None else [])
    if obj is None and names:
        try:
            obj = get_space(names[0])
        except UsageError:
            if space is not None and str(space) != names[0]:
                try:
                    obj = get_space(str(space))
                except UsageError:
                    pass
    if obj is None and label is not None:
        notes.append(f"space {names[0] if names else label!r} is not a known space: candidates from every "
                     "varying column")
    return models.reset_index(drop=True), label, obj, notes


def prepare(df: pd.DataFrame, space=None, efit: bool = True, how: str = "mean") -> Population:
    """The population `refine` works on: finished trials, one row per model (repeats aggregated with
    population.model_table), of one space (`space`: a label in the `space` column or a space; needed
    when the population holds several), with the space language's columns and e_fit."""
    from .population import model_table

    trials = _finished(df)
    if "spec_id" not in trials.columns:  # rows as `designspace sample` writes them: the spec id is `id`
        if "id" not in trials.columns:
            raise UsageError("the population has neither a spec_id nor an id column to tell models apart")
        trials["spec_id"] = trials["id"].astype(str)
    if trials.empty:
        raise UsageError("the population holds no finished trial with an error")
    if "space" not in trials.columns and "population" not in trials.columns:  # a table from elsewhere
        trials["space"] = getattr(space, "name", space) or "population"
    for col in ("widths", "depths", "bottleneck_ratios", "group_widths"):
        if col in trials.columns and trials[col].map(lambda v: isinstance(v, str)).any():
            trials[col] = trials[col].map(_json_list)  # lists stored as JSON text (csv, parquet)
    models = model_table(trials, how=how)
    models, label, obj, notes = _resolve_space(models, space)
    cols = table_columns(models)
    if efit:
        if "e_fit" in models.columns:
            cols["e_fit"] = pd.to_numeric(models["e_fit"], errors="coerce").to_numpy(np.float64)
        else:
            from .efit import model_efit

            cols["e_fit"] = model_efit(models)["e_fit"].to_numpy(np.float64)
    n_trials = int(models["n_trials"].sum()) if "n_trials" in models.columns else len(models)
    return Population(models=models, errors=models["error"].to_numpy(np.float64), columns=cols, label=label,
                      space=obj, n_trials=n_trials, notes=notes)


# --- candidates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    text: str  # the constraint, canonical text of the space language
    kind: str  # "value" | "lower third" | ... | "structure" | "try"
    parameter: str  # the column or property it restricts ("" for a user's constraint)


def _expand(name: str) -> list[str]:
    """'d1..d4' -> d1, d2, d3, d4; other names as they are."""
    m = re.fullmatch(r"([A-Za-z_]+)(\d+)\.\.\1(\d+)", name)
    return [f"{m.group(1)}{i}" for i in range(int(m.group(2)), int(m.group(3)) + 1)] if m else [name]


def free_columns(pop: Population) -> list[str]:
    """The columns of the space's free parameters (all varying design columns when the space is
    unknown); complexity is measured, not chosen, so it is never a candidate."""
    if pop.space is not None:
        names = [n for param, _ in pop.space.free_params for n in _expand(param)]
    else:
        names = [n for n in pop.columns if n not in COMPLEXITY and n not in ("stages", "e_fit")]
    return [n for n in dict.fromkeys(names) if n in pop.columns and _varies(pop.columns[n])]


def _varies(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return v.size > 0 and v.min() < v.max()


def _number(v: float, integer: bool) -> str:
    return str(int(round(v))) if integer or float(v).is_integer() else f"{v:.3g}"


def _canonical(text: str) -> str:
    return str(parse(text))


def candidates(pop: Population, tries=(), structural: bool = True, parameters: bool = True,
               max_levels: int = 8) -> list[Candidate]:
    """Every candidate refinement of the population (see the module docstring), tries last.
    parameters / structural: include the value and part candidates / the structural ones."""
    out: list[Candidate] = []
    cols = pop.columns
    for name in free_columns(pop) if parameters else ():
        v = cols[name][np.isfinite(cols[name])]
        levels = np.unique(v)
        if levels.size <= max_levels:
            out += [Candidate(f"{name} == {_number(x, False)}", "value", name) for x in levels]
            continue
        integer = bool(np.all(v == np.round(v)))
        for kind, op, q in PARTS:
            cut = np.quantile(v, q, method="inverted_cdf")
            out.append(Candidate(_canonical(f"{name} {op} {_number(cut, integer)}"), kind, name))
    if structural:
        stages = sorted({int(m.group(1)) for c in cols if (m := re.fullmatch(r"d(\d+)", c))})
        if len(stages) > 1:
            for prefix, op, what in (("b", "==", "shared b"), ("g", "==", "shared g"),
                                     ("w", "<=", "non-decreasing widths"), ("d", "<=", "non-decreasing depths")):
                out.append(Candidate(f" {op} ".join(f"{prefix}{i}" for i in stages), "structure", what))
        if "e_fit" in cols and _varies(cols["e_fit"]):
            v = cols["e_fit"][np.isfinite(cols["e_fit"])]
            for kind, op, q in EFIT_PARTS:
                cut = np.quantile(v, q, method="inverted_cdf")
                out.append(Candidate(f"e_fit <= {cut:.3g}", "structure", f"e_fit {kind}"))
    out += [Candidate(_canonical(t), "try", "") for t in tries]
    seen, unique = set(), []
    for c in out:  # a try repeating an automatic candidate keeps the automatic one's description
        if c.text not in seen:
            seen.add(c.text)
            unique.append(c)
    return unique


# --- the ranked table ----------------------------------------------------------------------------
def rank_candidates(pop: Population, cands: list[Candidate], min_models: int = 20, n_boot: int = 1000,
                    level: float = 0.95, alpha: float = 0.05, correction: str = "holm", seed=0) -> pd.DataFrame:
    """The ranked table of `cands` on `pop` (columns and rule: see the module docstring)."""
    if correction not in CORRECTIONS:
        raise UsageError(f"unknown correction {correction!r}; valid: {', '.join(CORRECTIONS)}")
    n = len(pop.errors)
    masks = np.column_stack([pop.mask(c.text) for c in cands]) if cands else np.zeros((n, 0), bool)
    kept = masks.sum(axis=0)
    # a generated candidate that holds for every model or none is a property of the space, not a
    # refinement of it (shared b in AnyNetXB): left out, and named in the method notes
    trivial = np.array([c.kind != "try" and k in (0, n) for c, k in zip(cands, kept)], bool)
    left_out = [c.text for c, t in zip(cands, trivial) if t]
    cands = [c for c, t in zip(cands, trivial) if not t]
    masks, kept = masks[:, ~trivial], kept[~trivial]
    status = []
    for c, k in zip(cands, kept):
        if k == 0 or k == n:
            status.append("skipped: keeps " + ("no model" if k == 0 else "every model"))
        elif k < min_models or n - k < min_models:
            status.append(f"skipped: {k} models kept, {n - k} left (fewer than {min_models} on one side)")
        else:
            status.append("tested")
    tested = np.array([s == "tested" for s in status], bool)
    if (~tested).any():
        names = ", ".join(f"{c.text!r}" for c, t in zip(cands, tested) if not t)
        warnings.warn(f"refine: {int((~tested).sum())} candidate(s) skipped: {names}", stacklevel=2)
    columns = {
        "candidate": [c.text for c in cands], "kind": [c.kind for c in cands],
        "parameter": [c.parameter for c in cands], "n_kept": kept, "n_rest": n - kept,
        "share_kept": kept / n if n else np.full(len(cands), np.nan),
    }
    stat_names = ["mean_kept", "mean_rest", "mean_shift", "mean_shift_lo", "mean_shift_hi",
                  "q25_kept", "q25_rest", "q25_shift", "q25_shift_lo", "q25_shift_hi",
                  "ks_statistic", "ks_pvalue", "p_adjusted"]
    for name in stat_names:
        columns[name] = np.full(len(cands), np.nan)
    if tested.any():
        st = shift_statistics(pop.errors, masks[:, tested], n_boot=n_boot, level=level, quantile=0.25, seed=seed)
        for name in st.columns.drop(["n_kept", "n_rest"]):
            columns[name.replace("q_", "q25_")][tested] = st[name].to_numpy()
        ks = [ks_2samp(pop.errors[m], pop.errors[~m]) for m in masks[:, tested].T]
        columns["ks_statistic"][tested] = [float(r.statistic) for r in ks]
        columns["ks_pvalue"][tested] = [float(r.pvalue) for r in ks]
        columns["p_adjusted"][tested] = adjust_pvalues(columns["ks_pvalue"][tested], correction)
    with np.errstate(invalid="ignore"):
        columns["improves"] = tested & (columns["mean_shift_hi"] < 0) & (columns["p_adjusted"] < alpha)
    sampler = set(column_names())
    columns["space_constraint"] = np.array([parse(c.text).names <= sampler for c in cands], bool)
    columns["status"] = status
    # improving first, then the other tested ones, each by the interval's upper end; skipped last
    group = np.where(columns["improves"], 0, np.where(tested, 1, 2))
    order = np.lexsort((columns["mean_shift"], columns["mean_shift_hi"], group))
    text = ("candidate", "kind", "parameter", "status")
    table = pd.DataFrame({k: np.asarray(v, dtype=object if k in text else None)[order] for k, v in columns.items()})
    rank = pd.array(np.cumsum(tested[order]), dtype="Int64")
    rank[~tested[order]] = pd.NA
    table.insert(0, "rank", rank)
    table.attrs["method"] = {
        "unit": "models (repeated trials of a model averaged first)",
        "population": {"space": pop.label, "models": n, "trials": pop.n_trials},
        "shift": "statistic(kept) - statistic(rest), error in percentage points; negative = lower error",
        "q25": "inverted-EDF lower quartile (smallest error e with EDF(e) >= 0.25)",
        "interval": f"percentile bootstrap, {n_boot} resamples of the population's models (shared by all "
                    f"candidates), level {level:g}, seed {seed}",
        "ks": f"two-sample Kolmogorov-Smirnov, kept vs rest (scipy.stats.ks_2samp; exact p-value where "
              f"n_kept * n_rest <= {KS_EXACT_MAX}, asymptotic above)",
        "edf": "plain EDF of the models' errors (not complexity-normalized; all models share the flops band)",
        "correction": f"{CORRECTIONS[correction]} over {int(tested.sum())} tested candidates",
        "improves": f"mean_shift_hi < 0 and p_adjusted < {alpha:g}",
        "min_models": min_models,
        "notes": list(pop.notes) + ([f"hold for every model or none, so not refinements here: "
                                     f"{', '.join(left_out)}"] if left_out else []),
    }
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
    `result.attrs["method"]`) and the rule for `improves` are described in the module docstring."""
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


# --- outputs -------------------------------------------------------------------------------------
def best_refinement(table: pd.DataFrame):
    """The top-ranked candidate that improves the space and can be written in a space file (a
    constraint over the sampler's columns; e_fit is measured on trained models, not sampled), or None."""
    ok = table[table["improves"] & table["space_constraint"]]
    return None if ok.empty else ok.iloc[0]


def refined_definition(pop: Population, constraint: str) -> dict:
    """A space file for the population's space refined by `constraint`: {name, base, constraints}
    when the space is known by its name, else its whole resolved definition with the constraint
    appended. The name is the inline form (e.g. AnyNetXB[b==1]), so get_space() of a population
    sampled from it finds the same space. UsageError when the result would not load."""
    from ..spaces import get_space, space_from_dict

    space = pop.space
    if space is None:
        raise UsageError(f"space {pop.label!r} is not a known space; pass --space NAME_OR_FILE to say which "
                         "space the population was sampled from")
    base = space.definition()
    if "params" not in base:
        raise UsageError(f"space {space.name!r} is written as code, not as data; its refinement cannot be a space file")
    name = f"{space.name}-refined"
    # the inline form names it (AnyNetXB[b==1]; a refined inline space gets one more item), so a
    # population sampled from the file is found again by get_space(its label)
    tries = [f"{space.name}[{constraint}]"] + ([f"{space.name[:-1]},{constraint}]"] if space.name.endswith("]") else [])
    for inline in tries:
        try:
            refined = get_space(inline)
        except UsageError:
            continue
        if refined.definition().get("constraints", [])[-1:] == [constraint]:
            name = refined.name
            break
    try:
        by_name = get_space(space.name).definition() == base
    except UsageError:
        by_name = False
    if by_name:
        out = {"name": name, "base": space.name, "constraints": [constraint]}
    else:
        out = {**base, "name": name, "constraints": list(base.get("constraints", [])) + [constraint]}
    space_from_dict(out)  # the file must load; a UsageError here names why
    return out


def plot_refinements(pop: Population, table: pd.DataFrame, top: int = 3):
    """Error EDF of the whole population against the EDFs of the best `top` tested candidates'
    models (the improving ones when any improve); legends give the number of models."""
    from matplotlib.figure import Figure

    from .edf import edf_values, error_grid

    tested = table[table["status"] == "tested"]
    best = tested[tested["improves"]] if tested["improves"].any() else tested
    best = best.head(top)
    grid = error_grid(pop.errors, num=400)
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
    ax.step(grid, edf_values(pop.errors, grid), where="post", color="black", linewidth=2.0,
            label=f"{pop.label or 'population'} (n={len(pop.errors)})")
    for row in best.itertuples():
        kept = pop.errors[pop.mask(row.candidate)]
        ax.step(grid, edf_values(kept, grid), where="post", linewidth=1.6,
                label=f"{row.candidate} (n={len(kept)}; mean shift {row.mean_shift:+.2f})")
    ax.set_xlabel("error (%)")
    ax.set_ylabel("cumulative probability (models)")
    ax.set_ylim(0, 1)
    ax.set_title("Error EDF: population and its best refinements", y=1.0, pad=6)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.92)
    return fig
