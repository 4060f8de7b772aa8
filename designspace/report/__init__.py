"""report.html + summary.json from result stores or tables: `designspace analyze SOURCE...`.

The report is one view of one analysis: `designspace.analysis.analyze` computes an AnalysisResult;
this package draws its figures (designspace.plots), renders the page through a Jinja2 template
(page.py), writes the numbers behind every figure (csvfiles.py: data/*.csv, from which
`figure_from_csv` redraws any figure) and summary.json (`summary_of`).

`write_report(sources, out_dir)` does all of it. With workers > 1 that many processes (this one
and workers - 1 forked ones: designspace.pool.SharedPool) compute the analysis's independent parts
and draw each figure as soon as the parts behind it are done (while the others still run); this
process writes the CSV files and takes queued jobs whenever it would otherwise wait. The output does
not depend on the number of workers.
"""
from __future__ import annotations

import gc
import json
import os
import sys
from contextlib import contextmanager

import numpy as np

from ..analysis.full import analyze
from ..analysis.result import AnalysisResult, Settings, jsonable, records, settings_dict
from ..errors import UsageError
from ..pool import SharedPool, as_completed
from .csvfiles import figure_data_from_csv, figure_from_csv, write_tables
from .page import render, template

__all__ = ["write_report", "summary_of", "draw_figures", "figure_from_csv", "figure_data_from_csv", "Settings",
           "analyze"]

DEFAULT_BOOT = 1000
# the most expensive figures first: the pool's workers draw these while this process writes the CSV files
_COST_ORDER = ["efit", "trends_best", "trends_error", "top_widths", "complexity", "search", "edf", "edf_normalized",
               "fidelity"]


def _png(fd):
    """(PNG bytes, width in inches) of one figure's data; module-level so a process pool can run it."""
    from .. import plots

    fig = plots.draw(fd)
    return plots.png(fig), float(fig.get_size_inches()[0])


def draw_figures(result: AnalysisResult, pool=None, meanwhile=None, started: dict | None = None) -> dict:
    """{figure name: (PNG bytes, width in inches)} for every figure of the result that has data.
    With a pool (an executor) the figures are drawn there, the most expensive first, while this
    process runs meanwhile() (then, with a SharedPool, draws queued figures itself);
    started: {name: future} of figures already submitted to it."""
    started = dict(started or {})
    names = [n for n in _COST_ORDER if n in result.figures and result.figures[n].drawn]
    names += [n for n, f in result.figures.items() if f.drawn and n not in names]
    # drawing makes many short-lived objects, cycles among them: keep the collector's passes off the
    # analysis's own (the models' lists and tables), which live until the report is written. Frozen,
    # they are not scanned; unfrozen, they join the oldest generation, and the next young pass scans
    # only what was made here (at 10,000 models, with a pool: 10 instead of 50 ms of CPU after the
    # last figure)
    gc.freeze()
    try:
        futures = {n: started.get(n) or pool.submit(_png, result.figures[n]) for n in names} \
            if pool is not None else {}
        if meanwhile is not None:
            meanwhile()
        images = {n: _png(result.figures[n]) for n in names} if pool is None else {}
        for _ in as_completed(list(futures.values()), pool):
            pass
    finally:
        gc.unfreeze()
    images.update({n: f.result() for n, f in futures.items()})
    return {n: images[n] for n in result.figures if n in images}


def default_workers() -> int:
    """2 processes (this one and a forked worker) where fork exists and the cores are not
    saturated, else 1.

    Measured on 2 cores (benches/bench_analysis.py): with other jobs saturating the cores, extra
    processes only add copying and scheduling."""
    import multiprocessing as mp

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


def _pool(workers: int | None) -> SharedPool | None:
    import multiprocessing as mp

    workers = default_workers() if workers is None else max(1, int(workers))
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return None
    return SharedPool(workers)


def write_report(sources, out_dir: str | None = None, n_boot: int = DEFAULT_BOOT, seed: int = 0,
                 workers: int | None = None, sweeps=None, settings: Settings | None = None, **overrides) -> dict:
    """Analyse the sources (result stores and/or tables; one path or a list) and write report.html,
    summary.json, the figures (PNG) and the numbers behind them (data/*.csv) into out_dir (default:
    a `report/` folder beside the first source). sweeps: see read_population. settings (or keyword
    overrides of Settings fields) choose the analysis; workers: processes to use (default: 2 where
    fork exists and the cores are not saturated, 1 in notebooks). Returns the summary."""
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    sources = [os.fspath(s) for s in sources]
    if settings is None:
        settings = Settings.of({"n_boot": n_boot, "seed": seed, "sweeps": tuple(sweeps or ()), **overrides})
    settings = settings.validate()
    out_dir = out_dir or os.path.join(os.path.dirname(os.path.abspath(sources[0])), "report")
    from .. import plots  # noqa: F401 - imported before the pool forks, so its workers start with matplotlib

    with _collector_paused():
        return _write_report(sources, out_dir, settings, workers, sweeps)


@contextmanager
def _collector_paused():
    """The garbage collector's automatic passes off for the block (on again after it, if they were on).

    A report makes many short-lived objects (figures' artists) while the analysis's own (the models'
    tables and their lists of stage values) live until it is written, and each full pass of the
    collector rescans all of them: at 10,000 models, 0.14 s of a report's 3.3 s of CPU. Cycles made in
    the block (figures' artists, without their pixel buffers, which refcounting frees) wait for the
    first pass after it. The pool's workers, forked inside the block, inherit the setting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_report(sources: list[str], out_dir: str, settings: Settings, workers: int | None, sweeps) -> dict:
    pool = _pool(workers)
    started: dict = {}  # figures the pool draws while the analysis's other parts still run
    try:
        result = analyze(sources, settings, sweeps=sweeps, executor=pool,
                         on_figure=None if pool is None else
                         lambda fd: started.update({fd.name: pool.submit(_png, fd)}))
        try:
            os.makedirs(os.path.join(out_dir, "data"), exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create report folder {out_dir}: {exc.strerror}") from None
        summary: dict = {}

        def meanwhile():  # while the pool draws: what needs no image, less left for after the last figure
            write_tables(dict(result.tables), os.path.join(out_dir, "data"))
            template()
            # the summary names the figures drawn (every one with data), and its JSON text is ready to write
            summary["summary"] = summary_of(result, [name for name, fd in result.figures.items() if fd.drawn])
            summary["text"] = json.dumps(summary["summary"], indent=2)

        images = draw_figures(result, pool, started=started, meanwhile=meanwhile)
    finally:
        if pool is not None:
            pool.shutdown()
    for name, (data, _) in images.items():
        with open(os.path.join(out_dir, f"{name}.png"), "wb") as fh:
            fh.write(data)
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8") as fh:
        fh.write(render(result, images))
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        fh.write(summary["text"])
    return summary["summary"]


def summary_of(result: AnalysisResult, drawn: list[str]) -> dict:
    """What summary.json holds: the key numbers, settings, warnings and where the rest lies."""
    t, by, s = result.tables, result.by, result.settings
    search = t["search"]
    rows_of = search.groupby(by, sort=False).indices
    m_of, expected, lo, hi = (search[c].to_numpy() for c in ("m", "expected", "lo", "hi"))
    at = {}
    for name, n_models in t["models"].groupby(by).size().items():  # sizes alone: no copy of each group
        rows = rows_of[name]
        m = sorted({k for k in (1, 10, 100) if k <= n_models} | {int(m_of[rows].max())})
        at[name] = {str(int(m_of[i])): {"expected": expected[i], "lo": lo[i], "hi": hi[i]}
                    for i in rows[np.isin(m_of[rows], m)].tolist()}
    out = {
        "sources": [os.path.abspath(x) for x in result.sources],
        "db": os.path.abspath(result.sources[0]) if result.sources else None,
        "created_at": result.created_at,
        "n_trials": result.n_trials, "n_done": result.n_done, "n_models": result.n_models,
        "unit": f"model (repeated trials aggregated: {s.aggregate} error)",
        "interval_level": s.level, "bootstrap_level": s.level, "settings": settings_dict(s),
        "best_space": t["ranking"][by].iloc[0],
        "ranking": records(t["ranking"]), "ks_pairs": records(t["ks_pairs"]),
        "efit": records(t["efit_summary"]), "complexity_fits": records(t["complexity_fits"]),
        "trend_bands": records(t["trend_bands"]), "repeats": records(t["repeats"]),
        "warnings": result.warnings,
        "notes": [{"kind": n.kind, "text": n.text} for n in result.notes],
        "expected_best_error": at,  # {space: {m: best error among m random models}}
        "populations": list(result.populations),
        "figures": [f"{n}.png" for n in drawn],
        "figures_not_drawn": {f"{n}.png": f.missing for n, f in result.figures.items() if not f.drawn},
        "tables": {k: f"data/{k}.csv" for k in t},
    }
    if "fidelity_correlation" in t:
        out["fidelity"] = {"correlation": records(t["fidelity_correlation"]),
                           "overlap": records(t["fidelity_overlap"])}
    return jsonable(out)
