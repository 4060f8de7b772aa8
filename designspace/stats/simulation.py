"""Monte-Carlo of one part under a sequential schedule, against the fixed design of the same cap.

Each run draws `cap` models per arm from a population of model errors (a smoothed bootstrap of the
population: a committed store's models, say), shifts arm a by a planted effect, and reads the part at
every look from the first n_k models of each arm, exactly as the judge does. The decision p-values
are computed for all runs at once in closed form; they equal `decision_pvalue` on the `Interval`
the judge builds (a test checks this), so the simulation judges by the product's rule:

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

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from .decisions import EXPECTS
from .intervals import sorted_quantile
from .sequential import Schedule, first_decisions

STATISTICS = ("median_diff", "paired_median")
_P_FLOOR = 1e-12
# A rule as the interval statements that make it hold (all needed) or contradicted (any suffices):
# (bound, strict, line as a multiple of the margin added to ref). "hi" < line, "lo" > line.
_RULES = {
    "less": ([("hi", True, 0)], [("lo", True, 0)]),
    "greater": ([("lo", True, 0)], [("hi", True, 0)]),
    "equivalent": ([("lo", False, -1), ("hi", False, 1)], [("hi", True, -1), ("lo", True, 1)]),
    "at_most": ([("hi", True, 1)], [("lo", True, 1)]),
    "at_least": ([("lo", True, -1)], [("hi", True, -1)]),
}


def draw(rng: np.random.Generator, population, shape) -> np.ndarray:
    """Draws from a smoothed bootstrap of `population` (Silverman's bandwidth, shrunk so the draws
    keep the population's variance): a continuous distribution shaped like the population, so that
    order statistics do not tie as they would when resampling a few dozen values."""
    x = np.asarray(population, np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise ValueError("a population needs at least 2 finite values")
    s = float(x.std(ddof=1))
    iqr = float(np.subtract(*np.percentile(x, [75, 25])))
    h = 0.9 * min(s, iqr / 1.34 if iqr > 0 else s) * x.size ** -0.2
    m = float(x.mean())
    picked = rng.choice(x, size=shape)
    return m + (picked - m + h * rng.standard_normal(shape)) / math.sqrt(1.0 + (h / s) ** 2 if s > 0 else 1.0)


def _combine(statements, pvalue_of, ref, margin, all_needed):
    ps = [pvalue_of(bound, strict, ref + k * margin) for bound, strict, k in statements]
    out = ps[0]
    for p in ps[1:]:
        out = np.maximum(out, p) if all_needed else np.minimum(out, p)
    return out


def _finish(p_holds, p_contra):
    def clip(p):
        p = np.asarray(p, np.float64)
        return np.clip(np.where(np.isnan(p), 0.5, p), _P_FLOOR, 0.5)
    return clip(p_holds), clip(p_contra)


def normal_pvalues(estimate, se, expect: str, ref: float = 0.0, margin: float = 0.0):
    """(p_holds, p_contra) of the rule on the normal interval estimate +- z se, elementwise: the
    smallest one-sided alpha at which the (1 - 2 alpha) interval gives each outcome (as rule_pvalue)."""
    est, se = np.asarray(estimate, np.float64), np.asarray(se, np.float64)
    holds, contra = _RULES[expect]

    def p_of(bound, strict, line):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (est - line) / se if bound == "hi" else (line - est) / se
        return _st.norm.cdf(z)

    return _finish(_combine(holds, p_of, ref, margin, True), _combine(contra, p_of, ref, margin, False))


def order_statistic_pvalues(sorted_values, q: float, expect: str, ref: float = 0.0, margin: float = 0.0):
    """(p_holds, p_contra) of the rule on the exact order-statistic interval for quantile q of each
    row of `sorted_values` (as quantile_interval): the lower bound x_(l) exceeds a line at level
    alpha iff P(Bin(n, q) <= #(values <= line)) <= alpha; the upper bound is below it iff
    P(Bin(n, q) >= #(values < line)) <= alpha."""
    v = np.asarray(sorted_values, np.float64)
    n = v.shape[-1]
    holds, contra = _RULES[expect]

    def p_of(bound, strict, line):
        if bound == "lo":  # x_(l) > line (strict) or >= line
            k = (v <= line).sum(-1) if strict else (v < line).sum(-1)
            return _st.binom.cdf(k, n, q)
        m = (v < line).sum(-1) if strict else (v <= line).sum(-1)  # x_(u) < line or <= line
        return _st.binom.sf(m - 1, n, q)

    return _finish(_combine(holds, p_of, ref, margin, True), _combine(contra, p_of, ref, margin, False))


def quantile_se_rows(sorted_values, q: float = 0.5) -> np.ndarray:
    """quantile_se of each row of already-sorted values (the order statistics' ranks depend only on n)."""
    v = np.asarray(sorted_values, np.float64)
    n = v.shape[-1]
    if n < 3:
        return np.full(v.shape[:-1], np.nan)
    half = math.sqrt(n * q * (1 - q))
    l_rank = max(1, int(round(n * q + 0.5 - half)))
    u_rank = min(n, int(round(n * q + 0.5 + half)))
    if u_rank <= l_rank:
        l_rank, u_rank = max(1, l_rank - 1), min(n, u_rank + 1)
    coverage = float(_st.binom.cdf(u_rank - 1, n, q) - _st.binom.cdf(l_rank - 1, n, q))
    z_star = float(_st.norm.ppf((1 + coverage) / 2))
    if z_star <= 0:
        return np.full(v.shape[:-1], np.nan)
    return (v[..., u_rank - 1] - v[..., l_rank - 1]) / (2 * z_star)


def look_pvalues(a, b, looks, statistic: str = "median_diff", expect: str = "less", ref: float = 0.0,
                 margin: float = 0.0):
    """(p_holds, p_contra), each (runs, K): the part read at each look from the first n_k models of
    each arm (rows of a and b are runs; a and b are paired by column for paired_median)."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    if expect not in EXPECTS:
        raise ValueError(f"unknown rule {expect!r}; valid: {', '.join(EXPECTS)}")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ph, pc = [], []
    for n in looks:
        if statistic == "median_diff":
            sa, sb = np.sort(a[:, :n], axis=1), np.sort(b[:, :n], axis=1)
            est = sorted_quantile(sa, 0.5) - sorted_quantile(sb, 0.5)
            se = np.sqrt(quantile_se_rows(sa) ** 2 + quantile_se_rows(sb) ** 2)
            h, c = normal_pvalues(est, se, expect, ref, margin)
        else:
            h, c = order_statistic_pvalues(np.sort(a[:, :n] - b[:, :n], axis=1), 0.5, expect, ref, margin)
        ph.append(h)
        pc.append(c)
    return np.stack(ph, axis=-1), np.stack(pc, axis=-1)


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

    @property
    def runs(self) -> int:
        return int(self.sequential.size)

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
    a = draw(rng, pop_a, (runs, schedule.cap)) + delta
    b = draw(rng, pop_b, (runs, schedule.cap))
    ph, pc = look_pvalues(a, b, schedule.looks, statistic, expect, ref, margin)
    seq, seq_look = first_decisions(ph, pc, schedule.levels(alpha))
    naive, _ = first_decisions(ph, pc, np.full(len(schedule.looks), alpha))
    fixed, _ = first_decisions(ph[:, -1:], pc[:, -1:], [alpha])
    looks = np.asarray(schedule.looks)
    models = np.where(seq_look >= 0, looks[np.maximum(seq_look, 0)], schedule.cap)
    return Simulation(schedule, float(alpha), float(delta), seq, seq_look, models, fixed, naive)
