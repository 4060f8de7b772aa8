"""Benchmark: the sequential schedule against the fixed design of the same cap, on the committed
stores' model errors.

    .venv/bin/python benches/bench_sequential.py [--store results/paper/cpu/base.db] [--runs 4000]
        [--looks 10,20,40,80] [--level 0.9] [--spending obrien_fleming,pocock]

For each space's error population and planted effects of 0, 1, 2 and 5 points (arm a shifted down
by the effect; both arms drawn from a smoothed bootstrap of the space's models), `runs` simulated
runs of one two-arm part (rule: a less than b) judged three ways on the same draws:
- sequential: looked at after each look's models per arm, decided at the look's spent level
  (designspace.stats.sequential), stopping there;
- fixed: one look at the cap, at the suite's one-sided alpha;
- naive: every look at the full alpha, no spending (what the rule exists to prevent).
Printed per row: each design's decision rate (at 0: every decision is false; above 0: the share
that holds, the correct verdict), the sequential design's mean models per arm against the cap, and
the naive design's false-decision rate at 0. Two statistics: the difference of medians (Bonett-Price
normal interval, independent arms) and the paired median difference (exact sign-test interval).
Monte-Carlo standard error of a rate p over R runs: sqrt(p (1 - p) / R), printed in the header.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from designspace.analysis import model_table, read_population
from designspace.stats.sequential import CODE, Schedule
from designspace.stats.simulation import simulate

EFFECTS = (0.0, 1.0, 2.0, 5.0)
SPACES = ("RegNetX", "AnyNetXD", "AnyNetXE")
STATISTICS = {"median_diff": "difference of medians, Bonett-Price", "paired_median": "paired median, sign test"}


def row(sim, space: str) -> str:
    cap = sim.schedule.cap
    naive = f"{sim.rate('naive'):13.4f}" if sim.delta == 0 else f"{'':>13}"
    return (f"{sim.schedule.spending:<14} {space:<9} {abs(sim.delta):6g} | {sim.rate('sequential'):11.4f} "
            f"{sim.rate('sequential', CODE['holds']):9.4f} {sim.sequential_models.mean():10.1f} "
            f"{sim.sequential_models.mean() / cap:6.2f} | {sim.rate('fixed'):13.4f} "
            f"{sim.rate('fixed', CODE['holds']):11.4f} | {naive}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="results/paper/cpu/base.db")
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--looks", default="10,20,40,80")
    ap.add_argument("--level", type=float, default=0.9, help="two-sided level of the suite (one-sided alpha = "
                                                            "(1 - level) / 2)")
    ap.add_argument("--spending", default="obrien_fleming,pocock", help="spending functions, comma-separated")
    args = ap.parse_args(argv)
    looks = tuple(int(x) for x in args.looks.split(","))
    schedules = [Schedule(looks, kind) for kind in args.spending.split(",")]
    alpha = (1.0 - args.level) / 2.0
    models = model_table(read_population([args.store]))
    pops = {p: g["error"].to_numpy() for p, g in models.groupby("population") if p in SPACES}
    mc = math.sqrt(alpha * (1 - alpha) / args.runs)
    for schedule in schedules:
        print(f"sequential schedule: looks {list(schedule.looks)} models per arm, {schedule.spending} spending, "
              f"one-sided alpha {alpha:g}; look levels {', '.join(f'{x:.3g}' for x in schedule.levels(alpha))}")
    print(f"{args.runs} runs per row; arms from {args.store} (smoothed bootstrap of each space's models); "
          f"Monte-Carlo se of a rate near alpha: {mc:.4f}")
    t0 = time.process_time()
    head = (f"{'spending':<14} {'space':<9} {'effect':>6} | {'seq decided':>11} {'seq holds':>9} "
            f"{'models/arm':>10} {'vs cap':>6} | {'fixed decided':>13} {'fixed holds':>11} | {'naive decided':>13}")
    for stat, what in STATISTICS.items():
        print(f"\n{stat}: {what}")
        print(head)
        print("-" * len(head))
        for schedule in schedules:
            for space, pop in pops.items():
                for i, delta in enumerate(EFFECTS):
                    print(row(simulate(pop, pop, schedule, alpha, -delta, runs=args.runs, seed=1000 * i + 7,
                                       statistic=stat), space))
            print()
    print(f"\n(effect 0: 'decided' is the false-decision rate, holds + contradicted, each side at most alpha = "
          f"{alpha:g} by design; CPU {time.process_time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
