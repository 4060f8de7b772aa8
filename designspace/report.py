"""report.html + summary.json from a result store: `designspace analyze RESULTS.db`.

`analyze(df)` computes every table (plain DataFrames: the numbers behind each figure),
`make_figures(tables, out_dir)` draws them, `write_report(db, out_dir)` does both for a store and
writes report.html (figures, ranking table, the numbers) and summary.json.
"""
from __future__ import annotations

import html
import json
import math
import os
import time

import numpy as np
import pandas as pd

from . import analysis as A
from .errors import UsageError

DEFAULT_BOOT = 1000
FORK_EFIT_FROM = 500  # models; below this a forked e_fit costs more than it saves
LEVEL = 0.9

# figure file -> (title, caption); the order of the report
FIGURES = {
    "edf.png": ("Error EDFs", "Empirical distribution of top-1 error per design space, with a {level:.0%} "
                "pointwise bootstrap band. Higher and further left is better."),
    "edf_normalized.png": ("Complexity-normalized EDFs", "As above, but every equal-width flops bin "
                           "({bins} bins over the store's flops range) weighs the same, so spaces that "
                           "sample complexity differently are compared fairly."),
    "top_widths.png": ("Widths of the best models", "Per-block widths of the 20 lowest-error models of "
                       "each space; dashed: the paper's w_j = 48 (j + 1)."),
    "efit.png": ("e_fit against error", "e_fit = mean_j (log w_j - log ŵ_j)^2 of the best quantized "
                 "linear (RegNet) fit of each model's per-block widths at fixed depth."),
    "trends_error.png": ("Error against design parameters", "Binned median error per space; bars along "
                         "the top: 95% bootstrap interval of where each space's best model lies (best of "
                         "25% subsamples, the paper's band), dot: its median. w0, wa, wm of non-RegNet "
                         "models come from their e_fit fit."),
    "trends_best.png": ("Best models against flops", "Parameters of the lowest-error model in each "
                        "log-spaced flops bin."),
    "complexity.png": ("Complexity relations", "params against flops and activations against sqrt(flops), "
                       "with least-squares lines over all models."),
    "search.png": ("Random-search efficiency", "Expected best error among m models drawn at random "
                   "(closed form from order statistics) with the central {level:.0%} band of the best-of-m error."),
}


def load_done(db_path: str) -> pd.DataFrame:
    """The finished trials of a store; UsageError (one line, exit 2) when there are none."""
    from .store import load

    if not os.path.exists(db_path):
        raise UsageError(f"no result store at {db_path}")
    if os.path.isdir(db_path):
        raise UsageError(f"{db_path} is a directory, not a result store")
    try:
        df = load(db_path)
    except UsageError:
        raise
    except Exception as exc:  # sqlite errors on odd files (not a database, locked, truncated)
        raise UsageError(f"{db_path} is not a designspace result store ({exc})") from None
    if df.empty:
        raise UsageError(f"{db_path} holds no trials")
    done = A.done_trials(df)
    if done.empty:
        raise UsageError(f"{db_path} holds {len(df)} trials but none finished (status 'done' with an error)")
    return done


def _send_result(conn, fn, args):
    try:
        conn.send((True, fn(*args)))
    except BaseException:  # noqa: BLE001 - the parent recomputes and raises it there
        conn.send((False, None))
    finally:
        conn.close()


class _Forked:
    """fn(*args) computed in a forked process while the caller goes on; result() returns it, or
    computes it in the caller if the child failed (so errors surface with their traceback)."""

    def __init__(self, fn, *args):
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.fn, self.args = fn, args
        self.conn, child_end = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_send_result, args=(child_end, fn, args), daemon=True)
        self.proc.start()
        child_end.close()

    def result(self):
        try:
            ok, value = self.conn.recv()
        except EOFError:
            ok, value = False, None
        self.proc.join()
        return value if ok else self.fn(*self.args)


def analyze(df: pd.DataFrame, n_boot: int = DEFAULT_BOOT, level: float = LEVEL, num_bins: int = 10,
            seed: int = 0, workers: int | None = None) -> dict[str, pd.DataFrame]:
    """Every analysis of the report on finished trials `df` -> {table name: DataFrame}.

    With workers > 1 (default: see _default_workers) e_fit, the largest single part, runs in a
    forked process while the bootstrap, KS and EDF tables are computed. The results do not depend
    on workers."""
    workers = _resolve_workers(workers)
    efit_job = _Forked(A.model_efit, df) if workers > 1 and len(df) >= FORK_EFIT_FROM else None
    grid = A.error_grid(df["error"])
    bin_range = (float(df["flops"].min()), float(df["flops"].max()))
    t: dict[str, pd.DataFrame] = {}
    t["ranking"] = A.rank_spaces(df, n_boot=n_boot, level=level, seed=seed)
    t["ks_pairs"] = A.ks_pairs(df)
    t["edf"] = A.edf(df, grid=grid)
    t["edf_normalized"] = A.edf(df, normalize="flops", num_bins=num_bins, bin_range=bin_range, grid=grid)
    bands, nbands = [], []
    for i, (name, g) in enumerate(df.groupby("space", sort=True)):
        e = g["error"].to_numpy()
        bands.append(A.bootstrap_edf(e, grid, n_boot=n_boot, level=level, seed=(seed, i)).assign(space=name))
        nbands.append(A.bootstrap_edf(e, grid, complexity=g["flops"].to_numpy(), num_bins=num_bins,
                                      bin_range=bin_range, n_boot=n_boot, level=level, seed=(seed, i, 1))
                      .assign(space=name))
    t["edf_bands"] = pd.concat(bands, ignore_index=True)
    t["edf_normalized_bands"] = pd.concat(nbands, ignore_index=True)
    t["search"] = A.search_efficiency(df, level=level)
    fit = efit_job.result() if efit_job is not None else A.model_efit(df)
    params = A.design_parameters(df, fit)
    params.insert(0, "trial_id", df["trial_id"].to_numpy())
    t["models"] = params
    t["efit_summary"] = (params.groupby("space")["e_fit"]
                         .agg(n="size", median="median", mean="mean",
                              below_0_01=lambda s: float((s < 0.01).mean()))
                         .reset_index())
    t["trend_bins"], t["trend_bands"] = A.error_trends(params, seed=seed)
    t["best_models"] = A.best_model_trends(params)
    t["complexity_fits"] = A.complexity_fits(params)
    top = df.sort_values("error", kind="stable").groupby("space", sort=True).head(20)
    t["top_models"] = top[["space", "trial_id", "error", "flops", "widths", "depths"]].reset_index(drop=True)
    return t


def _figure_builders():
    from . import plots as P

    return {
        "edf.png": lambda t: P.plot_edfs(t["edf"], t["edf_bands"], title="Error EDF"),
        "edf_normalized.png": lambda t: P.plot_edfs(t["edf_normalized"], t["edf_normalized_bands"],
                                                    title="Complexity-normalized error EDF (flops)"),
        "top_widths.png": lambda t: P.plot_top_widths(t["top_models"]),
        "efit.png": lambda t: P.plot_efit(t["models"]),
        "trends_error.png": lambda t: P.plot_error_trends(t["trend_bins"], t["trend_bands"]),
        "trends_best.png": lambda t: P.plot_best_model_trends(t["best_models"]),
        "complexity.png": lambda t: P.plot_complexity(t["models"], t["complexity_fits"]),
        "search.png": lambda t: P.plot_search(t["search"]),
    }


# the most expensive figures first, so that a round-robin split between processes is balanced
_COST_ORDER = ["trends_error.png", "top_widths.png", "efit.png", "trends_best.png", "complexity.png",
               "search.png", "edf.png", "edf_normalized.png"]


def _draw(names, tables, out_dir):
    from . import plots as P

    builders = _figure_builders()
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


def make_figures(tables: dict[str, pd.DataFrame], out_dir: str, workers: int | None = None) -> list[str]:
    """Draw every figure of the report into out_dir; returns the file names.

    Drawing is most of a report's time and matplotlib is single-threaded, so with workers > 1
    (default: see _default_workers) forked processes draw part of the figures from the parent's
    tables (no pickling). A figure a child failed to write is drawn again here, so its error
    surfaces normally."""
    order = [n for n in _COST_ORDER if n in FIGURES]
    workers = _resolve_workers(workers)
    children = []
    if workers > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        for k in range(1, workers):
            proc = ctx.Process(target=_draw, args=(order[k::workers], tables, out_dir), daemon=True)
            proc.start()
            children.append((proc, order[k::workers]))
    _draw(order[0::workers] if children else order, tables, out_dir)
    for proc, names in children:
        proc.join()
        missing = [n for n in names if proc.exitcode != 0 or not os.path.exists(os.path.join(out_dir, n))]
        if missing:
            _draw(missing, tables, out_dir)
    return list(FIGURES)


# which tables hold the numbers behind each figure (written as CSV beside the figures)
FIGURE_DATA = {
    "edf.png": ["edf", "edf_bands"], "edf_normalized.png": ["edf_normalized", "edf_normalized_bands"],
    "top_widths.png": ["top_models"], "efit.png": ["models", "efit_summary"],
    "trends_error.png": ["trend_bins", "trend_bands"], "trends_best.png": ["best_models"],
    "complexity.png": ["complexity_fits"], "search.png": ["search"],
}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return _jsonable(df.to_dict(orient="records"))


def summarize(tables: dict[str, pd.DataFrame], db_path: str, n_trials: int, figures: list[str]) -> dict:
    """The machine-readable summary written to summary.json."""
    at = {}
    for name, g in tables["models"].groupby("space"):
        m = [k for k in (1, 10, 100) if k <= len(g)] + [len(g)]
        best = A.best_of_m(g["error"], sorted(set(m)), level=LEVEL)
        at[name] = {str(int(r.m)): {"expected": r.expected, "lo": r.lo, "hi": r.hi} for r in best.itertuples()}
    return _jsonable({
        "db": os.path.abspath(db_path), "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n_trials": n_trials, "n_done": int(len(tables["models"])), "bootstrap_level": LEVEL,
        "best_space": tables["ranking"]["space"].iloc[0],
        "ranking": _records(tables["ranking"]), "ks_pairs": _records(tables["ks_pairs"]),
        "efit": _records(tables["efit_summary"]), "complexity_fits": _records(tables["complexity_fits"]),
        "trend_bands": _records(tables["trend_bands"]),
        "expected_best_error": at,  # {space: {m: best error among m random models}}, m up to the space's size
        "figures": figures, "tables": {k: f"data/{k}.csv" for k in tables},
    })


def _table_html(df: pd.DataFrame, digits: int = 3) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.{digits}g}" if abs(v) >= 1e4 else f"{v:.{digits}f}",
                      border=0, classes="tbl", na_rep="")


def render_html(tables: dict[str, pd.DataFrame], summary: dict, num_bins: int = 10) -> str:
    r = tables["ranking"]
    rank_cols = ["rank", "space", "n", "best", "q10", "q25", "median", "median_lo", "median_hi", "mean",
                 "mean_lo", "mean_hi", "ks_vs_best", "ks_p_vs_best"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>designspace report</title><style>",
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}",
        ".tbl{border-collapse:collapse;font-size:13px}.tbl td,.tbl th{padding:3px 8px;border-bottom:1px solid #ddd;"
        "text-align:right}img{max-width:100%;border:1px solid #eee}figure{margin:1.5em 0}"
        "figcaption{font-size:14px;color:#444}details{margin:.5em 0 1.5em}</style></head><body>",
        "<h1>Design space report</h1>",
        f"<p>Store <code>{html.escape(summary['db'])}</code>: {summary['n_trials']} trials, "
        f"{summary['n_done']} finished and analysed. Generated {summary['created_at']}. Intervals are "
        f"{LEVEL:.0%} percentile bootstrap intervals (the interval of <em>best</em> starts at the observed "
        "best by construction).</p>",
        "<h2>Ranking of design spaces</h2>",
        "<p>Ordered by median error; KS: two-sample Kolmogorov–Smirnov test of each space's errors against "
        "the top-ranked space (small p: the EDFs differ beyond sampling noise).</p>",
        _table_html(r[rank_cols]),
        "<h3>KS tests between all pairs</h3>", _table_html(tables["ks_pairs"]),
        "<h3>e_fit per space</h3>", _table_html(tables["efit_summary"], 4),
        "<h3>Complexity fits</h3>", _table_html(tables["complexity_fits"], 4),
    ]
    for name, (title, caption) in FIGURES.items():
        links = ", ".join(f"<a href='data/{k}.csv'>{k}.csv</a>" for k in FIGURE_DATA[name])
        parts.append(f"<figure><h2>{html.escape(title)}</h2><img src='{name}' alt='{html.escape(title)}'>"
                     f"<figcaption>{html.escape(caption.format(level=LEVEL, bins=num_bins))} "
                     f"Data: {links}.</figcaption></figure>")
        small = [k for k in FIGURE_DATA[name] if k in ("trend_bands", "best_models", "efit_summary", "search")]
        for k in small:
            parts.append(f"<details><summary>numbers: {k}</summary>{_table_html(tables[k])}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(db_path: str, out_dir: str | None = None, n_boot: int = DEFAULT_BOOT, seed: int = 0,
                 workers: int | None = None) -> dict:
    """Analyse the store at db_path and write report.html, summary.json, the figures (PNG) and the
    numbers behind them (data/*.csv) into out_dir (default: a `report/` folder beside the db).
    workers: processes to use (default: 2 where fork exists and the cores are not saturated, 1 in
    notebooks);
    the results do not depend on it. Returns the summary (what summary.json holds)."""
    df = load_done(db_path)
    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(db_path)), "report")
    try:
        os.makedirs(os.path.join(out_dir, "data"), exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report folder {out_dir}: {exc.strerror}") from None
    from .store import connect

    con = connect(db_path, create=False)
    try:
        n_trials = con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    finally:
        con.close()
    tables = analyze(df, n_boot=n_boot, seed=seed, workers=workers)
    figures = make_figures(tables, out_dir, workers=workers)
    for name, table in tables.items():
        table.to_csv(os.path.join(out_dir, "data", f"{name}.csv"), index=False)
    summary = summarize(tables, db_path, n_trials, figures)
    with open(os.path.join(out_dir, "report.html"), "w") as fh:
        fh.write(render_html(tables, summary))
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary
