"""Benchmark: the full analysis of a 10,000-model store (what `designspace analyze` does).

    .venv/bin/python benches/bench_analysis.py [--trials 10000] [--keep DIR]
    .venv/bin/python benches/bench_analysis.py --trials 50000

Builds a synthetic store (real specs from AnyNetXA..E and RegNetX in the fashion-mnist band,
made-up errors; not timed), then times write_report end to end with the default settings (models
as units, shared complexity bins with >= 3 models per space and bin, normalized random-search
draws, 150-dpi figures embedded in the HTML), with one process and with a pool of two, and its
parts: reading the population and building the model table, ranking with bootstrap intervals,
EDF bands (plain and normalized), KS tests, e_fit of every model, trends, search efficiency,
analyze() as a whole, figures. Peak memory: the largest resident set of this process and of its
pool's worker (ru_maxrss). Baseline measured in the same run: e_fit by a per-model grid search
(the same grid through the generator, one model at a time) on a subset, to show what the batched
search buys. Prints wall and CPU seconds (wall suffers when other processes share the cores; CPU
time does less). Targets (idle machine): 10,000 models <= 2 s, 50,000 models <= 8 s.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("MPLBACKEND", "Agg")

from designspace import analysis as A
from designspace.analysis import Settings, analyze
from designspace.analysis.efit import block_widths, default_grid, fit_regnet
from designspace.analysis.population import model_table, read_population
from designspace.analysis.synthetic import write_synthetic_store
from designspace.report import draw_figures, write_report
from designspace.spaces.regnet import generate_regnet

SPACES = ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX")


class Timer:
    def __init__(self):
        self.rows = []

    def __call__(self, name, fn, *args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        self.rows.append((name, time.perf_counter() - w, time.process_time() - c))
        return out

    def print(self):
        for name, wall, cpu in self.rows:
            print(f"  {name:<34s} {wall:7.2f} s wall {cpu:7.2f} s cpu")


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def per_model_grid_search(widths, depths, grid) -> np.ndarray:
    """Baseline e_fit: for each model, generate the whole grid at its d and take the best."""
    g0, ga, gm = (g.ravel() for g in np.meshgrid(grid["w0"], grid["wa"], grid["wm"], indexing="ij"))
    bw, d = block_widths(widths, depths)
    out = np.empty(len(d))
    for i, dd in enumerate(d):
        ws = generate_regnet(g0, ga, gm, np.full(g0.size, dd))[0][:, :dd]
        out[i] = np.min(np.mean((np.log(bw[i, :dd]) - np.log(np.maximum(ws, 1))) ** 2, axis=1))
    return out


def _peak_mb() -> tuple[float, float]:
    import resource

    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--keep", default=None, help="folder to keep the store and report in")
    args = ap.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="bench-analysis-")
    os.makedirs(folder, exist_ok=True)
    db = os.path.join(folder, "results.db")
    per = {s: args.trials // len(SPACES) + (i < args.trials % len(SPACES)) for i, s in enumerate(SPACES)}
    if os.path.exists(db):
        os.remove(db)
    t = time.perf_counter()
    write_synthetic_store(db, n=per, seed=0, failed=0.01)
    print(f"store: {args.trials} trials in {len(SPACES)} spaces, built in {time.perf_counter() - t:.1f} s (not timed)")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    # warm-up (imports, font cache, first calls) on a small store, so the timed runs compare fairly
    small = os.path.join(folder, "warmup.db")
    if os.path.exists(small):
        os.remove(small)
    write_synthetic_store(small, n=50, seed=1, spaces=SPACES[:2])
    write_report(small, os.path.join(folder, "report-warmup"), n_boot=50, workers=1)

    # end to end, as `designspace analyze` runs it: one process, and two (a pool of one worker), alternated
    runs = {1: [], 2: []}
    for workers in (1, 2, 1, 2):
        w, c, cc = time.perf_counter(), time.process_time(), _children_cpu()
        summary = write_report(db, os.path.join(folder, f"report-{workers}"), workers=workers)
        runs[workers].append((time.perf_counter() - w, time.process_time() - c, _children_cpu() - cc))
    peak_self, peak_children = _peak_mb()
    print(f"\nfull analysis (write_report: {summary['n_models']} models from {summary['n_done']} finished trials, "
          f"1000 bootstrap replicates, {summary['settings']['normalize']}-normalized, "
          f"{len(summary['figures'])} figures, CSV + HTML + JSON):")
    print(f"  peak memory: {peak_self:.0f} MB in this process, {peak_children:.0f} MB in the pool's worker")
    for workers, rs in runs.items():
        walls = ", ".join(f"{r[0]:.2f}" for r in rs)
        print(f"  {workers} process{'es' if workers > 1 else ''}: {walls} s wall; best {min(r[0] for r in rs):.2f} s "
              f"(cpu {min(rs)[1]:.2f} s + {min(rs)[2]:.2f} s in the pool)")
    serial_cpu = min(runs[1])[1]
    best_wall = min(r[0] for rs in runs.values() for r in rs)

    # the parts, measured again one by one
    tm = Timer()
    trials = tm("read population", read_population, [db])
    df = tm("model table (repeats aggregated)", lambda: model_table(A.done_trials(trials)))
    grid = A.error_grid(df["error"])
    tm("ranking (exact intervals)", A.rank_spaces, df)
    tm("KS tests (all pairs)", A.ks_pairs, df)
    bins = tm("complexity bins (>= 3 per space and bin)", A.choose_bins, df)
    for normalized in (False, True):
        tm(f"EDF bands ({'normalized' if normalized else 'plain'})", lambda n=normalized: [
            A.bootstrap_edf(g["error"], grid, complexity=g["flops"] if n else None, num_bins=bins["num_bins"],
                            bin_range=bins["bin_range"], seed=i)
            for i, (_, g) in enumerate(df.groupby("space"))])
    fit = tm("e_fit, every model", A.model_efit, df)
    params = A.design_parameters(df, fit)
    tm("trends", lambda: (A.error_trends(params), A.best_model_bands(params), A.best_complexity_fits(params)))
    tm("search efficiency (normalized draws)", A.search_efficiency, df, num_bins=bins["num_bins"],
       bin_range=bins["bin_range"])
    result = tm("analyze() (all tables and figure data, 1 process)", analyze, df, Settings())
    tm("figures (1 process, PNG bytes)", draw_figures, result)
    print("\nparts:")
    tm.print()
    efit_wall = next(r[1] for r in tm.rows if r[0] == "e_fit, every model")
    print(f"\ne_fit: {len(df) / efit_wall:,.0f} models/s (batched grid + seeds + refinement, {len(df)} models)")

    # baseline in the same run: one model at a time over the same coarse grid (no seeds, no refinement)
    sub = df.sample(100, random_state=0)
    w = time.perf_counter()
    per_model_grid_search(list(sub["widths"]), list(sub["depths"]), default_grid())
    base_rate = len(sub) / (time.perf_counter() - w)
    w = time.perf_counter()
    fit_regnet(list(sub["widths"]), list(sub["depths"]), refine=0)
    batched_sub = len(sub) / (time.perf_counter() - w)
    print(f"baseline per-model grid search: {base_rate:,.0f} models/s; batched grid search: "
          f"{len(df) / efit_wall:,.0f} models/s on the full store -> {len(df) / efit_wall / base_rate:.0f}x "
          f"(on the same 100 models without refinement: {batched_sub / base_rate:.1f}x)")
    target = 2.0 if args.trials <= 10_000 else 8.0 * args.trials / 50_000  # idle machine
    verdict = 'met' if best_wall <= target else 'NOT met'
    print(f"\ntarget <= {target:.1f} s for {args.trials:,} models on an idle machine: {verdict} "
          f"(best wall {best_wall:.2f} s; one-process cpu {serial_cpu:.2f} s; load average now "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"report: {os.path.join(folder, 'report-1', 'report.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
