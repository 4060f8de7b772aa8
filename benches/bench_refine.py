"""Benchmark: `refine` on a 10,000-model population (what `designspace refine TABLE` computes).

    .venv/bin/python benches/bench_refine.py [--models 10000] [--bootstrap 1000]

Builds a population (not timed): real AnyNetXB specs sampled in the fashion-mnist band, made-up
errors in which b = 1 lowers the error by 3 points. Then times refine() end to end and its parts:
the population (model table, columns, e_fit), the candidates, and the ranking (bootstrap intervals
of every candidate, KS tests, correction). Baselines measured in the same run: a one-candidate
pass (the same pipeline with a single user constraint and no structural candidates: what the
fixed costs are), and a per-candidate bootstrap written the plain way (index resamples, then mean
and quantile of each group) on a few candidates, scaled to all of them, to show what the shared,
batched bootstrap buys. Prints wall and CPU seconds (wall suffers when other processes share the
cores; CPU time does less).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from designspace.analysis.refine import candidates, prepare, rank_candidates, refine
from designspace.spaces import get_space
from designspace.table import spec_rows

REGIME = "fashion-mnist"


def population(n: int, seed: int = 0) -> pd.DataFrame:
    space = get_space("AnyNetXB")
    draw, cx = space.sample_arrays(n, seed=seed, regime=REGIME)
    df = pd.DataFrame(spec_rows(space.specs_from(draw), cx, REGIME))
    b = np.array([r[0] for r in df["bottleneck_ratios"]])
    df["error"] = 12.0 + np.random.default_rng(seed).normal(0, 1, n) - 3.0 * (b == 1)
    return df


def timed(fn, *args, repeat: int = 1, **kwargs):
    best = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        t = (time.perf_counter() - w, time.process_time() - c)
        best = t if best is None or t[0] < best[0] else best
    return out, best


def plain_bootstrap(errors, mask, n_boot: int, seed: int = 0):
    """The plain way: per replicate, resample indices, split, mean and quantile of each side."""
    rng = np.random.default_rng(seed)
    n = errors.size
    shifts = np.empty((n_boot, 2))
    for r in range(n_boot):
        idx = rng.integers(0, n, n)
        e, m = errors[idx], mask[idx]
        kept, rest = e[m], e[~m]
        shifts[r] = (kept.mean() - rest.mean(),
                     np.quantile(kept, 0.25, method="inverted_cdf") - np.quantile(rest, 0.25, method="inverted_cdf"))
    return np.quantile(shifts, [0.025, 0.975], axis=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # skipped-candidate warnings are part of the output, not of the timing
    t = time.perf_counter()
    df = population(args.models)
    print(f"population: {len(df)} AnyNetXB models ({REGIME} band), built in {time.perf_counter() - t:.1f} s "
          "(not timed)")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    refine(df.head(500), n_boot=50)  # warm-up: imports, first calls

    table, (full_wall, full_cpu) = timed(refine, df, n_boot=args.bootstrap, repeat=2)
    tested = int((table["status"] == "tested").sum())
    print(f"\nrefine(), end to end: {full_wall:.2f} s wall, {full_cpu:.2f} s cpu (best of 2); {len(table)} candidates, "
          f"{tested} tested with {args.bootstrap} bootstrap resamples; top: {table['candidate'].iloc[0]!r} "
          f"(mean shift {table['mean_shift'].iloc[0]:+.2f} [{table['mean_shift_lo'].iloc[0]:+.2f}, "
          f"{table['mean_shift_hi'].iloc[0]:+.2f}])")

    pop, (prep_wall, prep_cpu) = timed(prepare, df)
    cands, (cand_wall, cand_cpu) = timed(candidates, pop)
    _, (rank_wall, rank_cpu) = timed(rank_candidates, pop, cands, n_boot=args.bootstrap)
    _, (efit_wall, efit_cpu) = timed(prepare, df, efit=False)
    print("parts:")
    print(f"  population (model table, columns, e_fit) {prep_wall:6.2f} s wall {prep_cpu:6.2f} s cpu "
          f"(without e_fit: {efit_wall:.2f} s)")
    print(f"  candidates ({len(cands)} generated)            {cand_wall:6.2f} s wall {cand_cpu:6.2f} s cpu")
    print(f"  ranking (bootstrap, KS, correction)      {rank_wall:6.2f} s wall {rank_cpu:6.2f} s cpu "
          f"({1000 * rank_wall / len(cands):.1f} ms per candidate)")

    # baseline 1: the same pipeline with one candidate
    _, (one_wall, one_cpu) = timed(refine, df, tries=["b == 1"], parameters=False, structural=False,
                                   n_boot=args.bootstrap, repeat=2)
    print(f"\nbaseline, one-candidate pass (no e_fit): {one_wall:.2f} s wall, {one_cpu:.2f} s cpu -> all {len(table)} "
          f"candidates and e_fit cost {full_wall / one_wall:.1f}x one (wall), {full_cpu / one_cpu:.1f}x (cpu)")

    # baseline 2: a plain per-candidate bootstrap on 3 candidates, scaled to all
    sample = [c for c in cands if c.kind != "try"][:3]
    w, c = time.perf_counter(), time.process_time()
    for cand in sample:
        plain_bootstrap(pop.errors, pop.mask(cand.text), args.bootstrap)
    plain_wall = (time.perf_counter() - w) / len(sample) * len(cands)
    plain_cpu = (time.process_time() - c) / len(sample) * len(cands)
    print(f"baseline, plain per-candidate bootstrap (3 candidates timed, scaled to {len(cands)}): "
          f"{plain_wall:.1f} s wall, "
          f"{plain_cpu:.1f} s cpu -> the batched ranking is {plain_wall / rank_wall:.0f}x faster (wall), "
          f"{plain_cpu / rank_cpu:.0f}x (cpu)")
    print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
