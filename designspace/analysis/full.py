"""The full analysis of a population: `analyze(data, settings) -> AnalysisResult`.

One call computes every table, every figure's data and the notes that the report and the dashboard
show (designspace.analysis.result describes the result). The unit of every statistic is the model:
repeated trials of one spec are combined first (population.model_table).

With an `executor` (a concurrent.futures executor, e.g. a process pool), the independent parts (e_fit
and the tables built on it; the ranking; each EDF's bootstrap bands; the KS tests; the search
efficiency) run there as separate jobs; the result does not depend on it. The jobs that need only
numbers (error, flops, the population) are handed over before the stores' specs are parsed into
per-stage columns, which only e_fit and the tables built here need: a worker runs them meanwhile.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..pool import as_completed
from ..store import flatten_specs
from .edf import choose_bins, edf, error_grid, group_weights
from .efit import THRESHOLDS, model_efit, split_by_depth
from .fidelity import proxy_fidelity
from .figures import figure_builders
from .population import model_table, pooled_std, read_population
from .provenance import describe_sources
from .result import AnalysisResult, Note, Settings, frozen
from .search import search_efficiency
from .stats import edf_bands, ks_pairs, rank_spaces
from .trends import best_complexity_fits, best_model_bands, design_parameters, error_trends

BY = "population"  # the column an analysis compares: the space, prefixed by sweep/source when several
# e_fit is fitted in two parts from this many models on (the longest job: with a pool its parts run side by
# side, and the figures built on it start sooner). The split depends on the population's size only, never on
# the executor, so that a report cannot depend on how many processes drew it
EFIT_SPLIT_MIN_MODELS = 4000
MIN_SHARED_SPECS = 5  # proxy fidelity: the two budgets must share at least this many specs
# the result's tables in a fixed order, however its parts finished (summary.json and data/ list them so)
TABLE_ORDER = ("ks_pairs", "edf_bands", "edf_normalized_bands", "search", "ranking", "repeats", "top_models",
               "fidelity_pairs", "fidelity_correlation", "fidelity_overlap", "models", "efit_summary", "trend_bins",
               "trend_bands", "best_bands", "complexity_fits", "best_models", "notes")
# what the e_fit tables need of a model (the rest stays in the caller: no spec texts to pickle)
_MODEL_COLUMNS = ("space", "trial_id", "spec_id", "regime", "n_trials", "error", "flops", "params", "acts", "d",
                  "widths", "depths", "bottleneck_ratios", "group_widths", "w0", "wa", "wm")


def analyze(data, settings: Settings | None = None, *, sweeps: Sequence[str] | None = None, by: str | None = None,
            executor=None, on_figure=None, **overrides) -> AnalysisResult:
    """Analyse a population -> AnalysisResult.

    data: a result store or table path, a list of them, or a DataFrame of trials (store columns)
    or of models (model_table's output: has n_trials). settings: Settings, or keyword overrides of
    its fields (e.g. n_boot=200). sweeps: which sweeps of the stores (see read_population; default
    settings.sweeps). by: the column to compare (default population where present, else space).
    on_figure: called with each drawable FigureData as soon as the tables behind it exist (with an
    executor, while other parts still run: a caller can start drawing it). Raises UsageError (one
    line) for sources without finished trials."""
    settings = (settings or Settings.of(overrides)).validate()
    sources: tuple[str, ...] = ()
    populations: list[dict] = []
    if isinstance(data, pd.DataFrame):
        if "n_trials" in data:
            models, n_trials = data, int(data.attrs.get("trials", data["n_trials"].sum()))
        else:
            models, n_trials = _models_of(data, ["the table"], settings), len(data)
            populations = describe_sources(data)
    else:
        sources = tuple(os.fspath(s) for s in ([data] if isinstance(data, (str, os.PathLike)) else data))
        # the stores' specs stay JSON text here: they are parsed once per model, after the jobs that
        # need none were handed over (_analyze_models)
        trials = read_population(list(sources), list(sweeps or settings.sweeps) or None, executor,
                                 flatten=False)
        models, n_trials = _models_of(trials, sources, settings), len(trials)
        populations = describe_sources(trials)
        del trials
    return _analyze_models(models, settings, by, executor, on_figure, sources, tuple(populations), n_trials)


def _models_of(trials: pd.DataFrame, sources, settings: Settings) -> pd.DataFrame:
    where = ", ".join(sources)
    if trials.empty:
        raise UsageError(f"{where} holds no trials")
    models = model_table(trials, how=settings.aggregate)
    if models.empty:
        raise UsageError(f"{where} holds {len(trials)} trials but none finished (status 'done' with an error)")
    return models


def _analyze_models(models, s: Settings, by, executor, on_figure, sources, populations,
                    n_trials) -> AnalysisResult:
    by = by or (BY if BY in models else "space")
    if by not in models:
        models = models.assign(**{by: models["space"]})
    models = models.reset_index(drop=True)
    # what every job but e_fit needs: a few numeric columns (cheap to send to a worker process)
    slim = models[[c for c in dict.fromkeys((by, "space", "error", "flops", "params", "n_trials")) if c in models]]
    n_of = models.groupby(by, sort=True).size().to_dict()
    grid = error_grid(models["error"])
    column, bins, notes = _normalization(models, slim, s, by, grid)
    nb, br = (bins["num_bins"], bins["bin_range"]) if column is not None else (None, None)
    # the jobs first: a pool's worker starts on the numeric ones while this process parses the specs,
    # then on e_fit's while this process builds what needs no job
    submitted = _submit(_numeric_jobs(slim, s, by, column, nb, br, grid), executor)
    models = _with_stage_columns(models, sources, executor)
    cols = [c for c in dict.fromkeys((by, *_MODEL_COLUMNS, *(c for c in models.columns
                                                              if re.fullmatch(r"[wdbg]\d+", str(c)))))
            if c in models]  # w1.., d1..: the stages as numbers
    efit_jobs, efit_parts = _efit_jobs(models, cols, s, by, executor)
    submitted |= _submit(efit_jobs, executor)
    completed = _completed(submitted, executor)
    t: dict[str, pd.DataFrame] = {"top_models": _top_models(models, s, by, n_of)}
    pair, fidelity_missing = proxy_pair(models)
    builders = figure_builders(s, by, n_of, bins if column is not None else None, column, fidelity_missing,
                               fidelity=pair is not None)
    figures: dict = {}

    def emit_ready_figures():
        for name, (needs, build) in builders.items():
            if name not in figures and all(k in t for k in needs):
                figures[name] = build(t)
                if on_figure is not None and figures[name].drawn:
                    on_figure(figures[name])

    emit_ready_figures()  # after the jobs were submitted: a pool takes them before any figure
    fits = []
    for name, value in completed:
        if name == "efit":
            t.update(value)
        elif name.startswith("efit:"):  # a part of the population's fits: the tables once all are in
            fits.append(value)
            if len(fits) == len(efit_parts):
                t.update(tables_from_fit(models[cols], pd.concat(fits).sort_index(), s, by))
        elif name == "ranking":
            t["ranking"] = _ranking(value, models, slim, by, column, nb, br)
            t["repeats"], repeats_note = _repeats(models, t["ranking"], by)
        elif name == "ks_pairs":
            t[name] = value
        else:  # edf_bands, edf_normalized_bands, search
            t[name] = value.assign(n=lambda d: d[by].map(n_of))
        emit_ready_figures()
    notes.append(repeats_note)
    if pair is not None:
        fid = proxy_fidelity(models, pair[0], pair[1], n_boot=s.n_boot, level=s.level, seed=s.seed)
        t["fidelity_pairs"], t["fidelity_correlation"], t["fidelity_overlap"] = \
            fid["pairs"], fid["correlation"], fid["overlap"]
    t["notes"] = pd.DataFrame([{"kind": n.kind, "text": n.text} for n in notes], columns=["kind", "text"])
    emit_ready_figures()
    tables = {k: t[k] for k in TABLE_ORDER if k in t} | {k: v for k, v in t.items() if k not in TABLE_ORDER}
    return AnalysisResult(
        settings=s, by=by, sources=sources, populations=populations, n_trials=int(n_trials),
        n_done=int(models["n_trials"].sum()), n_models=int(len(models)), tables=frozen(tables),
        figures=frozen({name: figures[name] for name in builders}), notes=tuple(notes),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _normalization(models, slim, s: Settings, by, grid) -> tuple:
    """(the complexity column EDFs are normalized by, or None; its bins; the notes saying so)."""
    column = None if s.normalize == "none" else s.normalize
    notes: list[Note] = []
    bins = None
    if column is not None:
        bins = choose_bins(models, column, by, s.max_bins, s.min_per_bin)
        notes += [Note("warning", w) for w in bins["warnings"]]
        lo, hi = bins["bin_range"]
        notes.append(Note("setting", f"normalized EDF: {bins['num_bins']} equal-width {column} bins over the "
                          f"spaces' common range [{lo:.4g}, {hi:.4g}], at least {s.min_per_bin} models of every "
                          f"space per bin required (requested at most {s.max_bins} bins)"))
        try:  # edf refuses an empty bin (as nds asserts); the curves themselves are the bands' estimates
            edf(slim, by=by, normalize=column, num_bins=bins["num_bins"], bin_range=bins["bin_range"], grid=grid[:1])
        except ValueError as exc:  # a space with an empty bin even at one bin: no models in the common range
            notes.append(Note("warning", str(exc)))
            column = None
    if column is None and s.search_weights == "normalized":
        notes.append(Note("warning", "random-search efficiency draws uniformly: no complexity normalization is "
                          "available (--normalize none, or no common range)"))
    return column, bins, notes


def _with_stage_columns(models: pd.DataFrame, sources, executor) -> pd.DataFrame:
    """The models with their specs' per-stage columns (store.flatten_specs: widths, depths, w1.., d1..)
    where they have specs but not those columns yet: stores' models, read without them so that the
    numeric jobs start sooner (and each model's spec is parsed once, however many trials it has)."""
    if "spec" not in models or "widths" in models:
        return models
    try:
        return flatten_specs(models, executor)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"{', '.join(sources) or 'the table'}: cannot read its models' specs "
                         f"({type(exc).__name__}: {exc})") from None


def _efit_jobs(models, cols, s: Settings, by, executor) -> tuple[dict, list | None]:
    """e_fit's jobs {name: callable} and the row groups e_fit is fitted in (None: one job fits it and
    builds its tables; a large population is fitted in parts, which an executor runs side by side)."""
    if len(models) >= EFIT_SPLIT_MIN_MODELS:
        efit_parts, pad_to = split_by_depth(list(models["depths"]))
        return {f"efit:{k}": partial(model_efit, models.iloc[rows][["widths", "depths"]], metric=s.efit,
                                     pad_to=pad_to) for k, rows in enumerate(efit_parts)}, efit_parts
    return {"efit": partial(model_tables, models[cols], s, by)}, None


def _numeric_jobs(slim, s: Settings, by, column, nb, br, grid) -> dict:
    """The jobs {name: callable} that need only the models' numbers (slim): the short ranking, then the
    longest first (a pool takes them in this order)."""
    search_weights = s.search_weights if column is not None else "uniform"
    return {
        "ranking": partial(rank_spaces, slim, by=by, level=s.level),
        **({"edf_normalized_bands": partial(edf_bands, slim, by=by, normalize=column, num_bins=nb, bin_range=br,
                                            grid=grid, n_boot=s.n_boot, level=s.level, seed=s.seed)}
           if column is not None else {}),
        "edf_bands": partial(edf_bands, slim, by=by, grid=grid, n_boot=s.n_boot, level=s.level, seed=s.seed),
        "ks_pairs": partial(ks_pairs, slim, by=by),
        "search": partial(search_efficiency, slim, by=by, level=s.level, weights=search_weights,
                          normalize=column or "flops", num_bins=nb, bin_range=br),
    }


def _top_models(models, s: Settings, by, n_of) -> pd.DataFrame:
    """Each population's `s.top` lowest-error models, with how many models it has."""
    top = models.sort_values("error", kind="stable").groupby(by, sort=True).head(s.top)
    top = top[[c for c in (by, "space", "trial_id", "spec_id", "error", "n_trials", "flops", "widths", "depths")
               if c in models]]
    return top.assign(n_models=top[by].map(n_of)).reset_index(drop=True)


def _ranking(ranking: pd.DataFrame, models, slim, by, column, nb, br) -> pd.DataFrame:
    """rank_spaces' table with each population's space, its trials and (normalized) its median
    under the complexity-normalized weights."""
    ranking.insert(2, "space", ranking[by].map(models.groupby(by)["space"].first()).to_numpy())
    ranking.insert(4, "trials", ranking[by].map(models.groupby(by)["n_trials"].sum()).to_numpy())
    if column is not None:
        w = group_weights(slim, column, by, nb, br)
        ranking["median_normalized"] = ranking[by].map(
            {name: weighted_median(slim["error"].to_numpy()[idx], w[idx])
             for name, idx in slim.groupby(by, sort=True).indices.items()}).to_numpy()
    return ranking


def _submit(jobs: dict, executor) -> dict:
    """Jobs {name: callable} handed to the executor now, in their order: {future: name}; without an
    executor {callable: name}, to be run here one by one as _completed is iterated."""
    if executor is None:
        return {job: name for name, job in jobs.items()}
    return {executor.submit(job): name for name, job in jobs.items()}


def _completed(submitted: dict, executor):
    """An iterator of (name, result) of _submit's jobs as each finishes (without an executor, as each
    is run)."""
    if executor is None:
        return ((name, job()) for job, name in submitted.items())
    return ((submitted[f], f.result()) for f in as_completed(submitted, executor))


def model_tables(models: pd.DataFrame, s: Settings, by: str) -> dict[str, pd.DataFrame]:
    """The tables that need every model's e_fit: models (design parameters with e_fit), efit_summary,
    the trends, best-model bands and complexity fits. A module-level function, so a process pool
    can run it."""
    return tables_from_fit(models, model_efit(models, metric=s.efit), s, by)


def tables_from_fit(models: pd.DataFrame, fit: pd.DataFrame, s: Settings, by: str) -> dict[str, pd.DataFrame]:
    """model_tables given every model's fit (model_efit's table, on the models' index)."""
    t: dict[str, pd.DataFrame] = {}
    params = design_parameters(models, fit)
    if by != "space":
        params.insert(0, by, models[by].to_numpy())
    params.insert(0, "spec_id", models["spec_id"].to_numpy())
    params.insert(0, "trial_id", models["trial_id"].to_numpy())
    params["n_trials"] = models["n_trials"].to_numpy()
    # what `analyze` needs to read data/models.csv back as a table: the model's identity and its
    # stages as numbers (w1.., d1.., b1.., g1..: far cheaper to write than lists as JSON text)
    for col in ("regime", *(c for c in models.columns if re.fullmatch(r"[wdbg]\d+", str(c)))):
        if col in models:
            params[col] = models[col].to_numpy()
    for prefix, col in (("w", "widths"), ("d", "depths"), ("b", "bottleneck_ratios"), ("g", "group_widths")):
        if col in models and f"{prefix}1" not in params:
            stages = pd.DataFrame([list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in models[col]])
            for i in stages.columns:
                params[f"{prefix}{i + 1}"] = stages[i].to_numpy()
    t["models"] = params
    thresholds = THRESHOLDS if s.efit == "logratio" else {k: v**2 for k, v in THRESHOLDS.items()}
    agg = {"n": ("e_fit", "size"), "median": ("e_fit", "median"), "mean": ("e_fit", "mean")}
    summary = params.groupby(by)[["e_fit"]].agg(**agg).reset_index()
    for k, v in thresholds.items():
        summary[f"within_{k}"] = summary[by].map(params.assign(_b=params["e_fit"] < v).groupby(by)["_b"].mean())
    t["efit_summary"] = summary
    t["trend_bins"], t["trend_bands"] = error_trends(params, by=by, seed=s.seed, level=s.level)
    t["best_bands"] = best_model_bands(params, by=by, n_boot=min(s.n_boot, 500), level=s.level, seed=s.seed)
    t["complexity_fits"], t["best_models"] = best_complexity_fits(params, by=by)
    return t


def _repeats(models, ranking, by) -> tuple[pd.DataFrame, Note]:
    """The seed-to-seed spread per population, and a note comparing it with the gaps between spaces."""
    spread = pooled_std(models, by=by)
    overall = pooled_std(models)
    med = ranking.set_index(by)["median"]
    gaps = np.abs(np.diff(med.to_numpy()))
    spread["median_error"] = spread[by].map(med).to_numpy()
    if not np.isfinite(overall):
        return spread, Note("repeats", "no model was trained more than once: the seed-to-seed spread is unknown, "
                            "so gaps between spaces cannot be compared with it")
    gap_text = (f"; the gaps between consecutive spaces' median errors are {', '.join(f'{g:.3g}' for g in gaps)} "
                f"points ({np.sum(gaps > 2 * overall)} of {len(gaps)} exceed twice the spread)") if len(gaps) else ""
    return spread, Note("repeats", f"seed-to-seed spread (per-model std of repeated trainings, pooled over "
                        f"{int((models['n_trials'] > 1).sum())} models with repeats): {overall:.3g} error "
                        f"points{gap_text}")


def proxy_pair(models: pd.DataFrame):
    """The two contexts (sweeps or sources) to compare for proxy fidelity, cheaper first, and None;
    or (None, why not) when exactly two contexts share too few specs; (None, None) otherwise."""
    if "context" not in models:
        return None, None
    contexts = [c for c in pd.unique(models["context"]) if c]
    if len(contexts) != 2:
        return None, None
    shared = set(models.loc[models["context"] == contexts[0], "spec_id"]) & \
        set(models.loc[models["context"] == contexts[1], "spec_id"])
    if len(shared) < MIN_SHARED_SPECS:
        return None, (f"{contexts[0]} and {contexts[1]} trained {len(shared)} of the same specs; comparing their "
                      f"ranks needs at least {MIN_SHARED_SPECS}.")

    def budget(c):
        rec = models.loc[models["context"] == c, "recipe"].iloc[0] if "recipe" in models else None
        if isinstance(rec, dict):
            return float(rec.get("epochs", 0) or 0) * float(rec.get("train_size", 1) or 1)
        return 0.0

    return tuple(sorted(contexts, key=budget)), None


def weighted_median(e, w) -> float:
    order = np.argsort(e, kind="stable")
    cum = np.cumsum(w[order])
    if not len(cum) or cum[-1] <= 0:
        return float("nan")
    return float(e[order][np.searchsorted(cum, 0.5 * cum[-1])])
