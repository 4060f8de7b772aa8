"""report.html + summary.json from result stores or tables: `designspace analyze SOURCE...`.

`analyze(models, settings)` computes every table (plain DataFrames: the numbers behind each
figure) on one row per model (`designspace.analysis.population.model_table`), `make_figures(tables,
out_dir)` draws them, `write_report(sources, out_dir)` does both and writes a self-contained
report.html (figures embedded as 150-dpi PNG), summary.json, the PNGs and the numbers behind them
(data/*.csv; `figure_from_csv` redraws any figure from those files alone).
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from . import analysis as A
from .analysis.edf import group_weights
from .analysis.efit import METRICS, THRESHOLDS
from .analysis.fidelity import proxy_fidelity
from .analysis.population import model_table, pooled_std, read_population
from .errors import UsageError

DEFAULT_BOOT = 1000
from .limits import MAX_BOOT  # noqa: E402  (also read by `analyze`'s parser, which must not import pandas)
FORK_EFIT_FROM = 500  # models; below this a forked e_fit costs more than it saves
LEVEL = 0.9
BY = "population"  # the column an analysis compares: the space, prefixed by sweep/source when several


@dataclass(frozen=True)
class Settings:
    """Everything that changes a report's numbers besides its data (all stated in the report)."""

    normalize: str = "flops"  # flops | params | none: the complexity the normalized EDF controls
    max_bins: int = 10  # normalized EDF: at most this many equal-width bins over the common range ...
    min_per_bin: int = 3  # ... with at least this many models of every space in every bin
    search_weights: str = "normalized"  # random-search draws: normalized (nds) | uniform
    n_boot: int = DEFAULT_BOOT
    level: float = LEVEL
    seed: int = 0
    efit: str = "logratio"  # logratio (the paper's mean log-ratio) | squared
    aggregate: str = "mean"  # how repeated trials of one model are combined: mean | median | min
    top: int = 20  # models per space in the widths figure
    sweeps: tuple = field(default_factory=tuple)

    def validate(self) -> "Settings":
        if self.normalize not in ("flops", "params", "none"):
            raise UsageError(f"--normalize must be flops, params or none, got {self.normalize!r}")
        if self.search_weights not in ("normalized", "uniform"):
            raise UsageError(f"--search-weights must be normalized or uniform, got {self.search_weights!r}")
        if self.efit not in METRICS:
            raise UsageError(f"--efit must be one of {', '.join(METRICS)}, got {self.efit!r}")
        if not 10 <= self.n_boot <= MAX_BOOT:
            raise UsageError(f"--bootstrap needs 10 to {MAX_BOOT} replicates, got {self.n_boot:g}")
        if not 1 <= self.max_bins <= 100:
            raise UsageError(f"--bins needs 1 to 100 bins, got {self.max_bins}")
        if not 1 <= self.min_per_bin <= 1000:
            raise UsageError(f"--min-per-bin needs 1 to 1000, got {self.min_per_bin}")
        if not 1 <= self.top <= 1000:
            raise UsageError(f"--top needs 1 to 1000, got {self.top}")
        return self


# figure file -> (title, caption template); the order of the report. Captions are filled from the
# data (counts, bins, settings) by _caption.
FIGURES = {
    "edf.png": "Error EDFs",
    "edf_normalized.png": "Complexity-normalized EDFs",
    "top_widths.png": "Widths of the best models",
    "efit.png": "e_fit against error",
    "trends_error.png": "Error against design parameters",
    "trends_best.png": "Best models against flops",
    "complexity.png": "Complexity relations of the best models",
    "search.png": "Random-search efficiency",
    "fidelity.png": "Proxy fidelity",
}

# which tables hold the numbers behind each figure (written as CSV beside the figures)
FIGURE_DATA = {
    "edf.png": ["edf", "edf_bands"], "edf_normalized.png": ["edf_normalized", "edf_normalized_bands"],
    "top_widths.png": ["top_models"], "efit.png": ["models"],
    "trends_error.png": ["trend_bins", "trend_bands"], "trends_best.png": ["best_bands"],
    "complexity.png": ["models", "complexity_fits", "best_models"], "search.png": ["search"],
    "fidelity.png": ["fidelity_pairs", "fidelity_correlation"],
}


def load_done(path: str, sweeps=None) -> pd.DataFrame:
    """The finished trials of one source; UsageError (one line, exit 2) when there are none."""
    trials = read_population([path], sweeps)
    return _finished(trials, [path])


def _finished(trials: pd.DataFrame, sources) -> pd.DataFrame:
    where = ", ".join(sources)
    if trials.empty:
        raise UsageError(f"{where} holds no trials")
    done = A.done_trials(trials)
    if done.empty:
        raise UsageError(f"{where} holds {len(trials)} trials but none finished (status 'done' with an error)")
    return done


def _freeze_for_fork():
    """Move every live object out of the garbage collector's reach before a fork, so that a forked
    child's collections do not touch (and copy-on-write copy) the parent's tables."""
    import gc

    gc.collect()
    gc.freeze()


def _unfreeze():
    import gc

    gc.unfreeze()  # the parent collects as before once its children are forked


def _send_result(conn, fn, args, then):
    try:
        value = fn(*args)
        conn.send((True, value))
    except BaseException:  # noqa: BLE001 - the parent recomputes and raises it there
        conn.send((False, None))
        return
    finally:
        conn.close()
    if then is not None:
        then(value)  # after the parent has its result (e.g. draw figures from it); its exit code tells


class _Forked:
    """fn(*args) computed in a forked process while the caller goes on; result() returns it, or
    computes it in the caller if the child failed (so errors surface with their traceback). With
    `then`, the child goes on to run then(result) once the caller has the result; join() waits for
    it and says whether it succeeded."""

    def __init__(self, fn, *args, then=None):
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.fn, self.args = fn, args
        _freeze_for_fork()
        self.conn, child_end = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_send_result, args=(child_end, fn, args, then), daemon=True)
        self.proc.start()
        _unfreeze()
        child_end.close()
        self.ok = False

    def result(self):
        try:
            self.ok, value = self.conn.recv()
        except EOFError:
            self.ok, value = False, None
        if not self.ok:
            self.proc.join()
            return self.fn(*self.args)
        return value

    def join(self) -> bool:
        self.proc.join()
        return self.ok and self.proc.exitcode == 0


def _efit(models, metric):
    return A.model_efit(models, metric=metric)


def _model_tables(models: pd.DataFrame, s: "Settings", by: str) -> dict[str, pd.DataFrame]:
    """The tables that need every model's e_fit: models (design parameters), efit_summary, the
    trends, best-model bands and complexity fits (computed in a forked process when workers > 1)."""
    t: dict[str, pd.DataFrame] = {}
    fit = _efit(models, s.efit)
    params = A.design_parameters(models, fit)
    if by != "space":
        params.insert(0, by, models[by].to_numpy())
    params.insert(0, "trial_id", models["trial_id"].to_numpy())
    params["n_trials"] = models["n_trials"].to_numpy()
    # what `analyze` needs to read data/models.csv back as a table: the model's identity and stages
    for col in ("spec_id", "regime", "widths", "depths", "bottleneck_ratios", "group_widths"):
        if col in models:
            params[col] = models[col].to_numpy()
    t["models"] = params
    thr = THRESHOLDS if s.efit == "logratio" else {k: v**2 for k, v in THRESHOLDS.items()}
    agg = {"n": ("e_fit", "size"), "median": ("e_fit", "median"), "mean": ("e_fit", "mean")}
    summary = params.groupby(by)[["e_fit"]].agg(**agg).reset_index()
    for k, v in thr.items():
        summary[f"within_{k}"] = summary[by].map(params.assign(_b=params["e_fit"] < v).groupby(by)["_b"].mean())
    t["efit_summary"] = summary
    t["trend_bins"], t["trend_bands"] = A.error_trends(params, by=by, seed=s.seed)
    t["best_bands"] = A.best_model_bands(params, by=by, n_boot=min(s.n_boot, 500), level=s.level, seed=s.seed)
    t["complexity_fits"], t["best_models"] = A.best_complexity_fits(params, by=by)
    return t


def _proxy_pair(models: pd.DataFrame):
    """The two contexts (sweeps or sources) to compare for proxy fidelity, cheaper first, or None:
    exactly two contexts sharing at least 5 specs."""
    if "context" not in models:
        return None
    contexts = [c for c in pd.unique(models["context"]) if c]
    if len(contexts) != 2:
        return None
    shared = set(models.loc[models["context"] == contexts[0], "spec_id"]) & \
        set(models.loc[models["context"] == contexts[1], "spec_id"])
    if len(shared) < 5:
        return None

    def budget(c):
        rec = models.loc[models["context"] == c, "recipe"].iloc[0] if "recipe" in models else None
        if isinstance(rec, dict):
            return float(rec.get("epochs", 0) or 0) * float(rec.get("train_size", 1) or 1)
        return 0.0

    return tuple(sorted(contexts, key=budget))


def analyze(df: pd.DataFrame, settings: Settings | None = None, workers: int | None = None, by: str | None = None,
            **overrides) -> dict[str, pd.DataFrame]:
    """Every analysis of the report -> {table name: DataFrame}, and tables["notes"] holds the
    warnings and choices (bins, ...) as rows [kind, text].

    df: trials (aggregated here with model_table) or a model table (has n_trials). Every statistic
    counts models. settings: Settings (or keyword overrides of its fields, e.g. n_boot=200).
    With workers > 1 (default: see _default_workers) e_fit and the tables built on it run in a
    forked process while the other tables are computed; the results do not depend on workers."""
    tables, job = _analyze(df, settings, workers, by, None, **overrides)
    if job is not None:
        job.join()  # the child has nothing left to do once its tables came back: reap it
    return tables


def _analyze(df, settings, workers, by, child_then, **overrides):
    """analyze(); the forked process (if any) goes on to run child_then(its tables) once this one
    has them (write_report: their CSV files and figures). Returns (tables, the forked job or None)."""
    settings = (settings or Settings(**{k: v for k, v in overrides.items() if k in Settings.__dataclass_fields__}))
    settings = settings.validate()
    models = df if "n_trials" in df else model_table(df, how=settings.aggregate)
    by = by or (BY if BY in models else "space")
    if by not in models:
        models = models.assign(**{by: models["space"]})
    models = models.reset_index(drop=True)
    workers = _resolve_workers(workers)
    efit_job = _Forked(_model_tables, models, settings, by, then=child_then) \
        if workers > 1 and len(models) >= FORK_EFIT_FROM else None
    s = settings
    notes: list[dict] = []
    counts = models.groupby(by, sort=True).size()
    n_of = counts.to_dict()
    grid = A.error_grid(models["error"])
    t: dict[str, pd.DataFrame] = {}

    ranking = A.rank_spaces(models, by=by, n_boot=s.n_boot, level=s.level, seed=s.seed)
    space_of = models.groupby(by)["space"].first()
    ranking.insert(2, "space", ranking[by].map(space_of).to_numpy())
    ranking.insert(4, "trials", ranking[by].map(models.groupby(by)["n_trials"].sum()).to_numpy())
    t["ks_pairs"] = A.ks_pairs(models, by=by)
    t["edf"] = A.edf(models, by=by, grid=grid).assign(n=lambda d: d[by].map(n_of))
    t["edf_bands"] = A.edf_bands(models, by=by, grid=grid, n_boot=s.n_boot, level=s.level, seed=s.seed)

    column = None if s.normalize == "none" else s.normalize
    bins = None
    if column is not None:
        bins = A.choose_bins(models, column, by, s.max_bins, s.min_per_bin)
        notes += [{"kind": "warning", "text": w} for w in bins["warnings"]]
        lo, hi = bins["bin_range"]
        notes.append({"kind": "setting", "text": f"normalized EDF: {bins['num_bins']} equal-width {column} bins over "
                      f"the spaces' common range [{lo:.4g}, {hi:.4g}], at least {s.min_per_bin} models of every "
                      f"space per bin required (requested at most {s.max_bins} bins)"})
        nb, br = bins["num_bins"], bins["bin_range"]
        try:
            t["edf_normalized"] = A.edf(models, by=by, normalize=column, num_bins=nb, bin_range=br, grid=grid)
        except ValueError as exc:  # a space with an empty bin even at one bin: no models in the common range
            notes.append({"kind": "warning", "text": str(exc)})
            column = None
        if column is not None:
            t["edf_normalized"]["n"] = t["edf_normalized"][by].map(n_of)
            t["edf_normalized_bands"] = A.edf_bands(models, by=by, normalize=column, num_bins=nb, bin_range=br,
                                                    grid=grid, n_boot=s.n_boot, level=s.level, seed=s.seed)
            w = group_weights(models, column, by, nb, br)
            ranking["median_normalized"] = ranking[by].map(
                {name: _weighted_median(models["error"].to_numpy()[idx], w[idx])
                 for name, idx in models.groupby(by, sort=True).indices.items()}).to_numpy()
    search_weights = s.search_weights if column is not None else "uniform"
    if column is None and s.search_weights == "normalized":
        notes.append({"kind": "warning", "text": "random-search efficiency draws uniformly: no complexity "
                      "normalization is available (--normalize none, or no common range)"})
    t["search"] = A.search_efficiency(models, by=by, level=s.level, weights=search_weights,
                                      normalize=column or "flops",
                                      num_bins=bins["num_bins"] if column else None,
                                      bin_range=bins["bin_range"] if column else None)
    t["search"]["n"] = t["search"][by].map(n_of)
    t["ranking"] = ranking

    # repeats: the seed-to-seed spread against the gaps between spaces
    spread = pooled_std(models, by=by)
    overall = pooled_std(models)
    med = ranking.set_index(by)["median"]
    gaps = np.abs(np.diff(med.to_numpy()))
    spread["median_error"] = spread[by].map(med).to_numpy()
    t["repeats"] = spread
    if np.isfinite(overall):
        gap_text = (f"; the gaps between consecutive spaces' median errors are {', '.join(f'{g:.3g}' for g in gaps)} "
                    f"points ({np.sum(gaps > 2 * overall)} of {len(gaps)} exceed twice the spread)") if len(gaps) else ""
        notes.append({"kind": "repeats", "text": f"seed-to-seed spread (per-model std of repeated trainings, "
                      f"pooled over {int((models['n_trials'] > 1).sum())} models with repeats): {overall:.3g} "
                      f"error points{gap_text}"})
    else:
        notes.append({"kind": "repeats", "text": "no model was trained more than once: the seed-to-seed spread "
                      "is unknown, so gaps between spaces cannot be compared with it"})

    t.update(efit_job.result() if efit_job is not None else _model_tables(models, s, by))
    cols = [c for c in (by, "space", "trial_id", "spec_id", "error", "n_trials", "flops", "widths", "depths")
            if c in models]
    top = models.sort_values("error", kind="stable").groupby(by, sort=True).head(s.top)[cols]
    t["top_models"] = top.assign(n_models=top[by].map(n_of)).reset_index(drop=True)

    pair = _proxy_pair(models)
    if pair is not None:
        fid = proxy_fidelity(models, pair[0], pair[1], n_boot=s.n_boot, level=s.level, seed=s.seed)
        t["fidelity_pairs"], t["fidelity_correlation"], t["fidelity_overlap"] = \
            fid["pairs"], fid["correlation"], fid["overlap"]
    t["notes"] = pd.DataFrame(notes, columns=["kind", "text"])
    return t, efit_job


def _weighted_median(e, w) -> float:
    order = np.argsort(e, kind="stable")
    cum = np.cumsum(w[order])
    if not len(cum) or cum[-1] <= 0:
        return float("nan")
    return float(e[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _decode_lists(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("widths", "depths"):
        if col in df and len(df) and isinstance(df[col].iloc[0], str):
            df = df.assign(**{col: df[col].map(json.loads)})
    return df


def _figure_builders(by: str = BY, metric: str = "logratio"):
    from . import plots as P

    return {
        "edf.png": lambda t: P.plot_edfs(t["edf"], t["edf_bands"], by=by, title="Error EDF (models)"),
        "edf_normalized.png": lambda t: P.plot_edfs(t["edf_normalized"], t["edf_normalized_bands"], by=by,
                                                    title="Complexity-normalized error EDF"),
        "top_widths.png": lambda t: P.plot_top_widths(_decode_lists(t["top_models"]), top=10**9, by=by),
        "efit.png": lambda t: P.plot_efit(t["models"], by=by, metric=metric),
        "trends_error.png": lambda t: P.plot_error_trends(t["trend_bins"], t["trend_bands"], by=by),
        "trends_best.png": lambda t: P.plot_best_model_bands(t["best_bands"], by=by),
        "complexity.png": lambda t: P.plot_complexity(t["models"], t["complexity_fits"], t["best_models"], by=by),
        "search.png": lambda t: P.plot_search(t["search"], by=by),
        "fidelity.png": lambda t: P.plot_fidelity(t["fidelity_pairs"], t["fidelity_correlation"]),
    }


# The tables computed in the forked process (see _model_tables), and the figures it draws from them in
# write_report while this process draws the rest: balanced on 2 cores (the models table's CSV and
# these three figures against the other tables and figures).
MODEL_TABLES = ("models", "efit_summary", "trend_bins", "trend_bands", "best_bands", "complexity_fits", "best_models")
MODEL_FIGURES = ["trends_best.png", "efit.png", "trends_error.png"]

# the most expensive figures first, so that a round-robin split between processes is balanced
_COST_ORDER = ["trends_error.png", "top_widths.png", "efit.png", "complexity.png", "trends_best.png",
               "search.png", "edf.png", "edf_normalized.png", "fidelity.png"]


def figures_of(tables) -> list[str]:
    """The figures these tables support (the normalized EDF needs a normalization, fidelity two budgets)."""
    return [n for n in FIGURES if all(k in tables for k in FIGURE_DATA[n])]


def _by_of(tables) -> str:
    return BY if any(BY in t.columns for t in tables.values() if isinstance(t, pd.DataFrame)) else "space"


def _draw(names, tables, out_dir, metric):
    from . import plots as P

    builders = _figure_builders(_by_of(tables), metric)
    for name in names:
        P.save(builders[name](tables), os.path.join(out_dir, name))


def _default_workers() -> int:
    """2 processes where fork exists and the machine is not oversubscribed, else 1.

    Measured on 2 cores, 10,000 trials: at load ~2, two processes took 4.3-5.7 s against 6.2-6.8 s
    for one; at load 5-9 (other jobs saturating the cores) two took 20-28 s against 14-20 s, the
    forked workers only adding copy-on-write and scheduling overhead."""
    import multiprocessing as mp
    import sys

    cores = os.cpu_count() or 1
    if cores < 2 or "fork" not in mp.get_all_start_methods():
        return 1
    if any(m in sys.modules for m in ("ipykernel", "ray", "grpc")):
        return 1  # forking a kernel, or a process that ran a Ray sweep (gRPC threads), is not worth the risk
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return 2 if busy < cores + 1 else 1


def _resolve_workers(workers: int | None) -> int:
    import multiprocessing as mp

    if workers is None:
        return _default_workers()
    return max(1, int(workers)) if "fork" in mp.get_all_start_methods() else 1


def make_figures(tables: dict[str, pd.DataFrame], out_dir: str, workers: int | None = None,
                 metric: str = "logratio", meanwhile=None, skip=()) -> list[str]:
    """Draw every figure the tables support into out_dir (PNG, 150 dpi); returns the file names.

    Drawing is most of a report's time and matplotlib is single-threaded, so with workers > 1
    (default: see _default_workers) forked processes draw part of the figures from the parent's
    tables (no pickling); they take the most expensive figures, since this process also runs
    `meanwhile()` (e.g. writing the CSV files) before drawing its share. A figure a child failed to
    write is drawn again here, so its error surfaces normally. skip: figures drawn elsewhere."""
    names = [n for n in figures_of(tables) if n not in skip]
    order = [n for n in _COST_ORDER if n in names]
    workers = _resolve_workers(workers)
    children = []
    if workers > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        _freeze_for_fork()
        for k in range(workers - 1):
            proc = ctx.Process(target=_draw, args=(order[k::workers], tables, out_dir, metric), daemon=True)
            proc.start()
            children.append((proc, order[k::workers]))
        _unfreeze()
    if meanwhile is not None:
        meanwhile()
    _draw(order[workers - 1::workers] if children else order, tables, out_dir, metric)
    for proc, part in children:
        proc.join()
        missing = [n for n in part if proc.exitcode != 0 or not os.path.exists(os.path.join(out_dir, n))]
        if missing:
            _draw(missing, tables, out_dir, metric)
    return names


def figure_from_csv(name: str, data_dir: str, metric: str = "logratio"):
    """Redraw figure `name` from the CSV files of a report's data/ folder alone (the numbers behind
    it); returns the matplotlib Figure."""
    tables = {k: pd.read_csv(os.path.join(data_dir, f"{k}.csv")) for k in FIGURE_DATA[name]}
    return _figure_builders(_by_of(tables), metric)[name](tables)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return _jsonable(df.to_dict(orient="records"))


def describe_sources(trials: pd.DataFrame, sources) -> list[dict]:
    """What a reader needs to check a report, per source and sweep: dataset, regime, recipe, epochs,
    trials, and the spaces' full definitions (the store's sweeps.spaces column where present, else
    the registered space's definition(), else None)."""
    out = []
    keys = [k for k in ("source", "sweep") if k in trials]
    for key, g in trials.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        src = key[0]
        sweep = key[1] if len(key) > 1 and key[1] == key[1] else None
        recipe = next((r for r in g["recipe"] if isinstance(r, dict)), None) if "recipe" in g else None
        spaces = sorted(g["space"].astype(str).unique())
        stored = _stored_spaces(src, sweep)
        definitions = {sp: stored.get(sp) if sp in stored else _registered_definition(sp) for sp in spaces}
        out.append({
            "source": src, "sweep": sweep,
            "dataset": _uniq(g, "dataset"), "regime": _uniq(g, "regime"),
            "recipe": recipe,
            "epochs": recipe["epochs"] if isinstance(recipe, dict) and "epochs" in recipe else _uniq(g, "epochs"),
            "trials": int(len(g)), "finished": int((g["status"] == "done").sum()) if "status" in g else int(len(g)),
            "spaces": spaces, "definitions": definitions,
        })
    return out


def _uniq(g, col):
    if col not in g:
        return None
    vals = [v for v in pd.unique(g[col].dropna())]
    return vals[0] if len(vals) == 1 else (vals or None)


def _stored_spaces(path: str, sweep) -> dict:
    """{space label: definition} from a store's sweeps.spaces column, when the store has one."""
    import contextlib
    import sqlite3

    from .store import open_read_only

    if sweep is None or not os.path.isfile(path) or os.path.splitext(path)[1].lower() in (".csv", ".parquet",
                                                                                          ".jsonl", ".json"):
        return {}
    try:
        with contextlib.closing(open_read_only(path)) as con:
            cols = [r[1] for r in con.execute("PRAGMA table_info(sweeps)")]
            if "spaces" not in cols:
                return {}
            row = con.execute("SELECT spaces FROM sweeps WHERE name = ?", (sweep,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}
    except (sqlite3.Error, ValueError):
        return {}


def _registered_definition(name: str):
    try:
        from .spaces import get_space

        space = get_space(name)
        return space.definition() if hasattr(space, "definition") else None
    except Exception:  # noqa: BLE001 - an unknown or user-defined space: the report says "not available"
        return None


def summarize(tables: dict[str, pd.DataFrame], sources, n_trials: int, figures: list[str], settings: Settings,
              described: list[dict]) -> dict:
    """The machine-readable summary written to summary.json."""
    by = _by_of(tables)
    at = {}
    search = tables["search"]
    for name, g in tables["models"].groupby(by):
        sub = search[search[by] == name]
        m = sorted({k for k in (1, 10, 100) if k <= len(g)} | {int(sub["m"].max())})
        rows = sub[sub["m"].isin(m)]
        at[name] = {str(int(r.m)): {"expected": r.expected, "lo": r.lo, "hi": r.hi} for r in rows.itertuples()}
    notes = tables["notes"]
    out = {
        "sources": [os.path.abspath(s) for s in sources],
        "db": os.path.abspath(sources[0]),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n_trials": n_trials, "n_done": int(tables["models"]["n_trials"].sum()),
        "n_models": int(len(tables["models"])), "unit": "model (repeated trials aggregated: "
                                                          f"{settings.aggregate} error)",
        "bootstrap_level": settings.level, "settings": asdict(settings),
        "best_space": tables["ranking"][by].iloc[0],
        "ranking": _records(tables["ranking"]), "ks_pairs": _records(tables["ks_pairs"]),
        "efit": _records(tables["efit_summary"]), "complexity_fits": _records(tables["complexity_fits"]),
        "trend_bands": _records(tables["trend_bands"]), "repeats": _records(tables["repeats"]),
        "warnings": notes.loc[notes["kind"] == "warning", "text"].tolist(),
        "notes": _records(notes),
        "expected_best_error": at,  # {space: {m: best error among m random models}}
        "populations": described,
        "figures": figures, "tables": {k: f"data/{k}.csv" for k in tables},
    }
    if "fidelity_correlation" in tables:
        out["fidelity"] = {"correlation": _records(tables["fidelity_correlation"]),
                           "overlap": _records(tables["fidelity_overlap"])}
    return _jsonable(out)


def _fmt_p(v) -> str:
    if v is None or v != v:
        return ""
    if v == 0:
        return "< 1e-300"  # below double precision: the test cannot say more
    return f"{v:.2e}"


def _table_html(df: pd.DataFrame, digits: int = 3) -> str:
    def num(v):
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        return f"{v:.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"

    shown = df.copy()
    for col in shown.columns:
        if "pvalue" in col or col.startswith("ks_p"):
            shown[col] = shown[col].map(_fmt_p)
    return shown.to_html(index=False, float_format=num, border=0, classes="tbl", na_rep="", escape=True)


def _caption(name: str, tables, settings: Settings) -> str:
    by = _by_of(tables)
    lvl = f"{settings.level:.0%}"
    models = tables["models"]
    n = models.groupby(by).size()
    notes = tables["notes"]
    bins_note = next((t for t in notes["text"] if t.startswith("normalized EDF:") and "bins over" in t), "")
    if name == "edf.png":
        return (f"Empirical distribution of the top-1 error of the models of each space (n in the legend; "
                f"repeated trainings of a model averaged into one), with a {lvl} pointwise bootstrap band "
                f"(models resampled). Higher and further left is better.")
    if name == "edf_normalized.png":
        return (f"As above, with every model weighted so that each complexity bin counts equally (nds): "
                f"{bins_note[len('normalized EDF: '):]}. Bootstrap replicates recompute the weights.")
    if name == "top_widths.png":
        top = tables["top_models"].groupby(by).size()
        shown = ", ".join(f"{k}: {int(v)} of {int(n[k])}" for k, v in top.items())
        return (f"Per-block widths of the lowest-error models of each space ({shown}); y axes shared. Dashed: "
                f"w_j = a (j + 1) fitted (least squares in log width) to the models shown; the paper's "
                f"48 (j + 1) is its fit for 400MF ImageNet models and need not hold here.")
    if name == "efit.png":
        d = ("mean_j |log w_j - log ŵ_j|, the paper's mean log-ratio" if settings.efit == "logratio"
             else "mean_j (log w_j - log ŵ_j)^2, the squared variant")
        return (f"e_fit = {d}, of the best quantized linear (RegNet) fit of each model's per-block widths at "
                f"fixed depth; e_fit < log(1.1) = 0.095 means widths within about 10% of the fit on average.")
    if name == "trends_error.png":
        return ("Binned median error per space; bars along the top: 95% bootstrap interval of where each "
                "space's best model lies (best of 25% subsamples, the paper's band), dot: its median. w0, wa, "
                "wm of non-RegNet models come from their e_fit fit.")
    if name == "trends_best.png":
        return (f"Where the best models lie at each complexity: in each log-spaced flops bin (shared by all "
                f"spaces; bins with fewer than 8 models of a space skipped), the best-range estimate (best "
                f"model of 25% subsamples) of each parameter, line: its median, band: its central {lvl} "
                f"bootstrap interval. Log flops axis.")
    if name == "complexity.png":
        fits = tables["complexity_fits"]
        k = int(fits["n"].iloc[0]) if len(fits) else 0
        return (f"params against flops and activations against sqrt(flops) (the paper's Fig. 12): all models "
                f"faint; circled: the lowest-error model of each space in each of 10 log-spaced flops bins "
                f"({k} models); lines: least-squares fits on those best models.")
    if name == "search.png":
        w = tables["search"]["weights"].iloc[0]
        how = ("each model drawn with its complexity-normalized weight (as nds)" if w == "normalized"
               else "models drawn uniformly")
        return (f"Expected best error among m models drawn at random with replacement ({how}; closed form from "
                f"order statistics), with the central {lvl} interval of the best-of-m error (dotted edges).")
    if name == "fidelity.png":
        pairs = tables["fidelity_pairs"]
        return (f"Each of the {len(pairs)} specs trained under both budgets: error with {pairs['a'].iloc[0]} "
                f"against error with {pairs['b'].iloc[0]}. Title: Spearman ρ and Kendall τ with {lvl} bootstrap "
                f"intervals (pairs resampled).")
    return ""


def _definition_html(defn) -> str:
    if defn is None:
        return "<em>definition not available (not a registered space, and the store does not record it)</em>"
    return f"<pre>{html.escape(json.dumps(defn, indent=1, sort_keys=True, default=str))}</pre>"


def render_html(tables: dict[str, pd.DataFrame], summary: dict, images: dict[str, bytes],
                settings: Settings) -> str:
    """The report page; `images` {figure name: PNG bytes} are embedded (data URIs), so the file
    alone shows everything."""
    by = _by_of(tables)
    r = tables["ranking"]
    rank_cols = [c for c in ["rank", by, "n", "trials", "best", "q25", "median", "median_lo", "median_hi",
                             "median_normalized", "mean", "mean_lo", "mean_hi", "ks_vs_best", "ks_p_vs_best"]
                 if c in r]
    notes = tables["notes"]
    warns = notes.loc[notes["kind"] == "warning", "text"].tolist()
    other = notes.loc[notes["kind"] != "warning", "text"].tolist()
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>designspace report</title><style>",
        "body{font-family:sans-serif;max-width:1250px;margin:2em auto;color:#222;line-height:1.4}",
        ".tbl{border-collapse:collapse;font-size:13px}.tbl td,.tbl th{padding:3px 8px;border-bottom:1px solid #ddd;"
        "text-align:right}img{max-width:100%;border:1px solid #eee}figure{margin:1.5em 0}"
        "figcaption{font-size:14px;color:#444}details{margin:.5em 0 1.5em}pre{font-size:12px;background:#f7f7f7;"
        "padding:6px;max-height:20em;overflow:auto}.warn{background:#fff4d6;border-left:4px solid #e0a800;"
        "padding:.5em 1em}</style></head><body>",
        "<h1>Design space report</h1>",
        f"<p>{summary['n_models']} models ({summary['n_done']} finished trials of {summary['n_trials']} stored) "
        f"from {', '.join(f'<code>{e(s)}</code>' for s in summary['sources'])}. Generated "
        f"{summary['created_at']}. The unit of every statistic is the model: repeated trainings of one spec "
        f"(same recipe and dataset) are combined ({e(settings.aggregate)} error) before any EDF, test, fit or "
        f"ranking. Intervals are {settings.level:.0%} percentile bootstrap intervals over models ({settings.n_boot} "
        "replicates; the interval of <em>best</em> starts at the observed best by construction).</p>",
    ]
    if warns:
        parts.append("<div class='warn'><strong>Warnings</strong><ul>" +
                     "".join(f"<li>{e(w)}</li>" for w in warns) + "</ul></div>")
    parts.append("<h2>What was analysed</h2>")
    rows = []
    for p in summary["populations"]:
        rec = p["recipe"]
        rows.append({"source": os.path.basename(p["source"]), "sweep": p["sweep"] or "", "dataset": p["dataset"],
                     "regime": p["regime"], "epochs": p["epochs"], "trials": p["trials"],
                     "finished": p["finished"], "spaces": ", ".join(p["spaces"]),
                     "recipe": json.dumps(rec, sort_keys=True) if rec else ""})
    parts.append(_table_html(pd.DataFrame(rows)))
    for p in summary["populations"]:
        label = f"{os.path.basename(p['source'])}" + (f" / {p['sweep']}" if p["sweep"] else "")
        for sp, defn in p["definitions"].items():
            parts.append(f"<details><summary>space definition: {e(sp)} ({e(label)})</summary>"
                         f"{_definition_html(defn)}</details>")
    sett = asdict(settings)
    sett.pop("sweeps", None)
    parts.append("<h3>Analysis settings</h3>" + _table_html(pd.DataFrame([{"setting": k, "value": str(v)}
                                                                          for k, v in sett.items()])))
    parts.append("<ul>" + "".join(f"<li>{e(t)}</li>" for t in other) + "</ul>")
    parts += [
        "<h2>Ranking of design spaces</h2>",
        "<p>Ordered by median model error; n: models, trials: finished trainings behind them; "
        "median_normalized: median of the complexity-normalized EDF. KS: two-sample Kolmogorov–Smirnov test "
        "of each space's model errors against the top-ranked space (small p: the EDFs differ beyond sampling "
        "noise; p-values in scientific notation).</p>",
        _table_html(r[rank_cols]),
        "<h3>KS tests between all pairs</h3>", _table_html(tables["ks_pairs"]),
        *(["<h3>Seed-to-seed spread</h3>", _table_html(tables["repeats"], 4)]
          if tables["repeats"]["models_with_repeats"].sum() else []),
        "<h3>e_fit per space</h3>", _table_html(tables["efit_summary"], 4),
        "<h3>Complexity fits (best models per flops bin)</h3>", _table_html(tables["complexity_fits"], 4),
    ]
    if "fidelity_correlation" in tables:
        parts += ["<h3>Proxy fidelity</h3>", "<p>Rank agreement of the two budgets on the specs both trained; "
                  "top-k overlap: the fraction of the k best models under one budget that are also among the k "
                  "best under the other.</p>", _table_html(tables["fidelity_correlation"]),
                  _table_html(tables["fidelity_overlap"])]
    for name in summary["figures"]:
        title = FIGURES[name]
        links = ", ".join(f"<a href='data/{k}.csv'>{k}.csv</a>" for k in FIGURE_DATA[name])
        data = base64.b64encode(images[name]).decode("ascii")
        parts.append(f"<figure><h2>{e(title)}</h2><img src='data:image/png;base64,{data}' alt='{e(title)}'>"
                     f"<figcaption>{e(_caption(name, tables, settings))} Data (beside this file): {links}."
                     f"</figcaption></figure>")
        for k in [k for k in FIGURE_DATA[name] if k in ("trend_bands", "best_models", "search")]:
            parts.append(f"<details><summary>numbers: {k}</summary>{_table_html(tables[k])}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and mappings as JSON text, so a CSV reader gets them back exactly."""
    obj = [c for c in df.columns if df[c].dtype == object and len(df) and
           isinstance(df[c].dropna().iloc[0] if df[c].notna().any() else None, (list, dict))]
    return df.assign(**{c: df[c].map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
                        for c in obj})


def write_tables_of(tables: dict, out_dir: str) -> None:
    """tables -> out_dir/data/NAME.csv (lists and mappings as JSON text)."""
    for name, table in tables.items():
        _csv_ready(table).to_csv(os.path.join(out_dir, "data", f"{name}.csv"), index=False)


def write_report(sources, out_dir: str | None = None, n_boot: int = DEFAULT_BOOT, seed: int = 0,
                 workers: int | None = None, sweeps=None, settings: Settings | None = None, **overrides) -> dict:
    """Analyse the sources (result stores and/or tables; one path or a list) and write report.html,
    summary.json, the figures (PNG) and the numbers behind them (data/*.csv) into out_dir (default:
    a `report/` folder beside the first source). sweeps: see read_population. settings (or keyword
    overrides of Settings fields) choose the analysis; workers: processes to use (default: 2 where
    fork exists and the cores are not saturated, 1 in notebooks); the results do not depend on it.
    Returns the summary (what summary.json holds)."""
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    sources = [os.fspath(s) for s in sources]
    if settings is None:
        settings = Settings(n_boot=n_boot, seed=seed, sweeps=tuple(sweeps or ()),
                            **{k: v for k, v in overrides.items() if k in Settings.__dataclass_fields__})
    settings = settings.validate()
    trials = read_population(sources, sweeps)
    done = _finished(trials, sources)
    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(sources[0])), "report")
    try:
        os.makedirs(os.path.join(out_dir, "data"), exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report folder {out_dir}: {exc.strerror}") from None
    models = model_table(done, how=settings.aggregate)
    n_trials, described = len(trials), describe_sources(trials, sources)
    del trials, done  # the model table holds what the analysis needs; forked workers copy less

    def write_tables(names):
        write_tables_of({n: tables[n] for n in names}, out_dir)

    def model_outputs(model_tables):  # run by the forked process that computed them, if there is one
        write_tables_of(model_tables, out_dir)
        _draw(MODEL_FIGURES, model_tables, out_dir, settings.efit)

    tables, job = _analyze(models, settings, workers, None, model_outputs)
    figures = figures_of(tables)
    there = set(MODEL_TABLES) if job is not None else set()  # written and drawn by the forked process
    make_figures(tables, out_dir, workers=1 if there else workers, metric=settings.efit,
                 meanwhile=lambda: write_tables([n for n in tables if n not in there]),
                 skip=MODEL_FIGURES if there else ())
    if there and not job.join():  # the child failed: write and draw its part here (errors surface)
        write_tables(MODEL_TABLES)
        _draw(MODEL_FIGURES, tables, out_dir, settings.efit)
    summary = summarize(tables, sources, n_trials, figures, settings, described)
    images = {}
    for name in figures:
        with open(os.path.join(out_dir, name), "rb") as fh:
            images[name] = fh.read()
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8") as fh:
        fh.write(render_html(tables, summary, images, settings))
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary
