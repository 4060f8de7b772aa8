"""Monte-Carlo of one part under a sequential schedule, against the fixed design of the same cap.

Each run draws `cap` models per arm from a population of model errors (a smoothed bootstrap of the
population: a committed store's models, say), shifts arm a by a planted effect, and reads the part at
every look from the first n_k models of each arm, exactly as the judge does: the same intervals,
computed for all runs at once (intervals' *_rows functions), and the same rule. A part is decided at
look k when its interval at level 1 - 2 level_k gives a verdict, which is the same as its decision
p-value being at most level_k (intervals are nested in their level).

    median_diff     median(a) - median(b), arms independent: Bonett-Price normal interval
                    (linear_quantile_interval with coefficients +1, -1)
    paired_median   median of the pairs' differences a - b: exact sign-test interval
                    (quantile_interval of the differences)

    simulate(pop_a, pop_b, schedule, alpha, delta=...)  -> Simulation (per-run verdicts and models)

Three designs are read off the same runs: the sequential rule (each look at its spent level), the
fixed design (one look at the cap, at alpha) and the naive repeated look (every look at alpha, no
spending: the design whose error rate the rule exists to control).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import intervals as iv
from .decisions import EXPECTS
from .power import smoothed_population
from .sequential import Schedule, first_decisions

STATISTICS = ("median_diff", "paired_median")


def rule_rows(lo, hi, expect: str, ref: float = 0.0, margin: float = 0.0) -> np.ndarray:
    """decisions.rule for arrays of bounds: verdict codes 1 holds, -1 contradicted, 0 not resolved
    (a nan bound never decides)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if expect == "less":
        holds, contra = hi < ref, lo > ref
    elif expect == "greater":
        holds, contra = lo > ref, hi < ref
    elif expect == "equivalent":
        holds = (ref - margin <= lo) & (hi <= ref + margin)
        contra = (hi < ref - margin) | (lo > ref + margin)
    elif expect == "at_most":
        holds, contra = hi < ref + margin, lo > ref + margin
    elif expect == "at_least":
        holds, contra = lo > ref - margin, hi < ref - margin
    else:
        raise ValueError(f"unknown rule {expect!r}; valid: {', '.join(EXPECTS)}")
    valid = ~(np.isnan(lo) | np.isnan(hi)) & (np.isfinite(lo) | np.isfinite(hi))
    return np.where(valid & holds, 1, np.where(valid & contra, -1, 0)).astype(np.int8)


def look_codes(a, b, looks, levels, statistic: str = "median_diff", expect: str = "less", ref: float = 0.0,
               margin: float = 0.0) -> np.ndarray:
    """(runs, K) verdict codes: the part read at look k from the first looks[k] models of each arm
    (rows of a and b are runs; paired by column for paired_median), its interval at level
    1 - 2 levels[k]."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros((a.shape[0], len(looks)), np.int8)
    for k, (n, level) in enumerate(zip(looks, levels)):
        two_sided = 1.0 - 2.0 * float(level)
        if statistic == "median_diff":
            lo, hi = iv.linear_quantile_rows({"a": a[:, :n], "b": b[:, :n]}, {"a": 1, "b": -1}, 0.5, two_sided)
        else:
            lo, hi = iv.quantile_rows(a[:, :n] - b[:, :n], 0.5, two_sided)
        out[:, k] = rule_rows(lo, hi, expect, ref, margin)
    return out


def draws(rng: np.random.Generator, population, shape) -> np.ndarray:
    """`shape` draws from a smoothed bootstrap of `population` (power.smoothed_population): a
    continuous distribution shaped like the population, so order statistics do not tie as they would
    when resampling a few dozen values."""
    x = np.asarray(population, np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError("a population needs at least 2 finite values")
    pool = smoothed_population({"a": x}, False, rng)["a"]
    return pool[rng.integers(0, pool.size, shape)]


@dataclass(frozen=True)
class Simulation:
    """Per-run results of the three designs (verdict codes: 1 holds, -1 contradicted, 0 not resolved)."""
    schedule: Schedule
    alpha: float
    delta: float
    sequential: np.ndarray
    sequential_look: np.ndarray  # index of the deciding look, -1 undecided
    sequential_models: np.ndarray  # models per arm the sequential design trained
    fixed: np.ndarray
    naive: np.ndarray

    def rate(self, design: str, code: int | None = None) -> float:
        """Share of runs the design decided (code None), or gave verdict `code`."""
        v = getattr(self, design)
        return float((v != 0).mean() if code is None else (v == code).mean())


def simulate(pop_a, pop_b, schedule: Schedule, alpha: float, delta: float = 0.0, runs: int = 1000, seed: int = 0,
             statistic: str = "median_diff", expect: str = "less", ref: float = 0.0,
             margin: float = 0.0) -> Simulation:
    """`runs` sequential runs: arm a drawn from pop_a and shifted by `delta`, arm b from pop_b; the
    part (statistic, expect, ref, margin) judged at one-sided level alpha by each design."""
    rng = np.random.default_rng(seed)
    a = draws(rng, pop_a, (runs, schedule.cap)) + delta
    b = draws(rng, pop_b, (runs, schedule.cap))
    spent = look_codes(a, b, schedule.looks, schedule.levels(alpha), statistic, expect, ref, margin)
    full = look_codes(a, b, schedule.looks, [alpha] * len(schedule.looks), statistic, expect, ref, margin)
    seq, seq_look = first_decisions(spent)
    naive, _ = first_decisions(full)
    looks = np.asarray(schedule.looks)
    models = np.where(seq_look >= 0, looks[np.maximum(seq_look, 0)], schedule.cap)
    return Simulation(schedule, float(alpha), float(delta), seq, seq_look, models, full[:, -1].copy(), naive)
