"""The sequential rule for one part of a claim: decide at pre-declared looks, spending the error rate.

A schedule names its looks (models per arm, increasing; the last is the cap) and a spending function.
At look k the part's interval is computed from the first n_k models of each arm (sampling is
prefix-stable, so a later look only adds models), and the part is decided when the decision p-value
of that interval is at most look k's own level: alpha(t_k) - alpha(t_(k-1)) from `spending` (Lan &
DeMets 1983), with the suite's multiplicity adjustment applied to it by the caller. A part once
decided stays decided: its verdict, the look and the models per arm are kept, and later looks are not
read for it. A part undecided at the cap is *not resolved* (capped).

Why this keeps the error rate: a false decision at some look means the p-value fell below that
look's level, so P(any false decision) <= sum_k level_k = alpha for each side (a union bound over
the looks). The bound ignores that the looks share models (their statistics are positively
correlated), which makes the rule conservative: its exact error rate is somewhat below alpha.

    Schedule(looks, spending)                   the declared looks; .levels(alpha) each look's level
    look(previous, k, interval, rule, level)    one part's state after look k (decided stays decided)
    first_decisions(codes)                      the same rule vectorised over simulated runs
    open_arms(states, arms_of, schedule)        the arms that still need models after a look
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .decisions import CONTRADICTED, HOLDS, NOT_RESOLVED, decision_pvalue
from .intervals import Interval
from .spending import SPENDING, look_levels

# verdict codes of the vectorised rule
CODE = {HOLDS: 1, CONTRADICTED: -1, NOT_RESOLVED: 0}
VERDICT = {v: k for k, v in CODE.items()}


@dataclass(frozen=True)
class Schedule:
    """Pre-declared looks (models per arm at each, strictly increasing; the last is the cap)."""
    looks: tuple[int, ...]
    spending: str = "obrien_fleming"

    def __post_init__(self):
        looks = tuple(int(n) for n in self.looks)
        if not looks or any(n < 1 for n in looks) or any(b <= a for a, b in itertools.pairwise(looks)):
            raise ValueError(f"looks must be strictly increasing positive model counts, got {list(self.looks)}")
        if self.spending not in SPENDING:
            raise ValueError(f"unknown spending function {self.spending!r}; valid: {', '.join(SPENDING)}")
        object.__setattr__(self, "looks", looks)

    @property
    def cap(self) -> int:
        return self.looks[-1]

    def levels(self, alpha: float) -> np.ndarray:
        """Each look's own one-sided level (they sum to alpha)."""
        return np.asarray(look_levels(list(self.looks), alpha, self.spending), np.float64)


@dataclass(frozen=True)
class PartState:
    """One part after some looks. `look` is the index of the deciding look (or of the last look read
    while undecided); `n` the models per arm then; `pvalue` and `level` those of that look."""
    verdict: str
    look: int
    n: int
    pvalue: float
    level: float
    decided: bool

    def capped(self, schedule: Schedule) -> bool:
        return not self.decided and self.n >= schedule.cap


def look(previous: PartState | None, k: int, n: int, interval: Interval, expect: str, ref: float = 0.0,
         margin: float = 0.0, level: float = 0.0) -> PartState:
    """The part's state after look k (n models per arm, `interval` from the first n of each arm,
    `level` look k's level after the caller's multiplicity adjustment). A part decided at an earlier
    look keeps that decision."""
    if previous is not None and previous.decided:
        return previous
    outcome, p = decision_pvalue(interval, expect, ref, margin)
    if p <= level:
        return PartState(outcome, k, n, p, level, True)
    return PartState(NOT_RESOLVED, k, n, p, level, False)


def first_decisions(codes) -> tuple[np.ndarray, np.ndarray]:
    """The rule over many runs at once. codes: (..., K) verdict codes of each run at each of K looks,
    each read at that look's own level (1 holds, -1 contradicted, 0 not resolved: see CODE). Returns
    (the verdict code each run keeps: that of its first deciding look, 0 if none; the index of that
    look, -1 where undecided)."""
    codes = np.asarray(codes, np.int8)
    hit = codes != 0
    any_hit = hit.any(axis=-1)
    first = np.where(any_hit, hit.argmax(axis=-1), -1)
    verdict = np.take_along_axis(codes, np.maximum(first, 0)[..., None], -1)[..., 0]
    return np.where(any_hit, verdict, 0).astype(np.int8), first


def open_arms(states: dict, arms_of: dict, schedule: Schedule) -> set:
    """Arms that still need models: those used by at least one part that is neither decided nor
    capped. states: part -> PartState (absent: not looked at yet); arms_of: part -> iterable of arms."""
    out = set()
    for part, arms in arms_of.items():
        state = states.get(part)
        if state is None or not (state.decided or state.capped(schedule)):
            out |= set(arms)
    return out
