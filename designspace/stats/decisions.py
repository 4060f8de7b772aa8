"""Verdicts read off intervals, the p-value of a verdict, and multiplicity control.

A rule (`expect` with its line `ref` and `margin`) reads an interval as holds / contradicted /
not resolved. Since every `Interval` gives its bounds at any level, the p-value of a verdict is
the smallest one-sided level alpha at which the (1 - 2 alpha) interval gives that verdict (found by
bisection: intervals are nested in their level). A part is decided when that p-value, adjusted for
multiplicity, is at most the suite's one-sided alpha = (1 - level) / 2.

Multiplicity (declared per suite):
- within a claim, over its parts: holm (Holm 1979, family-wise), bonferroni, or none;
- across the suite, over claims: bonferroni (family-wise over every part of every claim), fdr
  (Benjamini & Bogomolov 2014: claims selected by Benjamini-Hochberg on their Bonferroni-combined
  p-values; parts of a selected claim tested at alpha * R / K, where R of K claims were selected),
  or none.
"""
from __future__ import annotations

import math

import numpy as np

from .intervals import Interval

HOLDS, CONTRADICTED, NOT_RESOLVED = "holds", "contradicted", "not resolved"
EXPECTS = ("less", "greater", "equivalent", "at_most", "at_least")
PART_METHODS = ("holm", "bonferroni", "none")
CLAIM_METHODS = ("fdr", "bonferroni", "none")
_P_FLOOR = 1e-12


def rule(lo: float, hi: float, expect: str, ref: float = 0.0, margin: float = 0.0) -> str:
    """holds / contradicted / not resolved for the interval [lo, hi] under the rule `expect`."""
    if not (np.isfinite(lo) or np.isfinite(hi)) or math.isnan(lo) or math.isnan(hi):
        return NOT_RESOLVED
    if expect == "less":
        return HOLDS if hi < ref else CONTRADICTED if lo > ref else NOT_RESOLVED
    if expect == "greater":
        return HOLDS if lo > ref else CONTRADICTED if hi < ref else NOT_RESOLVED
    if expect == "equivalent":
        if ref - margin <= lo and hi <= ref + margin:
            return HOLDS
        return CONTRADICTED if hi < ref - margin or lo > ref + margin else NOT_RESOLVED
    if expect == "at_most":
        return HOLDS if hi < ref + margin else CONTRADICTED if lo > ref + margin else NOT_RESOLVED
    if expect == "at_least":
        return HOLDS if lo > ref - margin else CONTRADICTED if hi < ref - margin else NOT_RESOLVED
    raise ValueError(f"unknown rule {expect!r}")


def rule_pvalue(interval: Interval, outcome: str, expect: str, ref: float = 0.0, margin: float = 0.0) -> float:
    """The smallest one-sided alpha at which the (1 - 2 alpha) interval reads `outcome`; 0.5 when
    even the point estimate does not (capped below at 1e-12)."""
    def gives(alpha):
        lo, hi = interval.bounds(1.0 - 2.0 * alpha)
        return rule(lo, hi, expect, ref, margin) == outcome

    if not np.isfinite(interval.estimate) or not gives(0.5 - 1e-9):
        return 0.5
    if gives(_P_FLOOR):
        return _P_FLOOR
    lo_a, hi_a = math.log(_P_FLOOR), math.log(0.5 - 1e-9)  # gives(hi) is true, gives(lo) false
    for _ in range(60):
        mid = (lo_a + hi_a) / 2
        if gives(math.exp(mid)):
            hi_a = mid
        else:
            lo_a = mid
    return float(math.exp(hi_a))


def decision_pvalue(interval: Interval, expect: str, ref: float = 0.0, margin: float = 0.0) -> tuple[str, float]:
    """(the outcome the data point to, its p-value): the smaller of the holds and contradicted p-values."""
    p_holds = rule_pvalue(interval, HOLDS, expect, ref, margin)
    p_contra = rule_pvalue(interval, CONTRADICTED, expect, ref, margin)
    return (HOLDS, p_holds) if p_holds <= p_contra else (CONTRADICTED, p_contra)


def adjust(pvalues, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: holm (step-down), bonferroni, bh (Benjamini-Hochberg step-up), none."""
    p = np.asarray(pvalues, np.float64)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    if method == "holm":
        out[order] = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    elif method == "bh":
        ranked = p[order] * m / np.arange(1, m + 1)
        out[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    else:
        raise ValueError(f"unknown adjustment {method!r}")
    return out


def adjust_suite(claim_pvalues: list, parts: str = "holm", claims: str = "fdr") -> list:
    """Per claim, each part's p-value adjusted within the claim and across the suite, so that a part is
    decided at one-sided level alpha when its adjusted p-value is <= alpha.

    claim_pvalues: a list (one per claim) of lists of raw part p-values (nan: the part was not judged).
    fdr: Benjamini-Bogomolov; the factor K / R is applied to the within-claim adjusted p-values of the
    claims that BH selects at the level where their part would be decided; claims not selected keep
    p-values that cannot decide (>= their BH-adjusted claim p-value)."""
    within = []
    for ps in claim_pvalues:
        p = np.asarray(ps, np.float64)
        ok = np.isfinite(p)
        adj = np.full(p.shape, np.nan)
        adj[ok] = adjust(p[ok], parts)
        within.append(adj)
    if claims == "none":
        return within
    judged = [i for i, a in enumerate(within) if np.isfinite(a).any()]
    k = len(judged)
    if claims == "bonferroni":
        return [np.minimum(a * k, 1.0) for a in within]
    if claims != "fdr":
        raise ValueError(f"unknown suite-level control {claims!r}")
    # A claim's p-value: Bonferroni combination of its parts (= the smallest within-claim Holm p-value).
    claim_p = np.array([np.nanmin(within[i]) for i in judged])
    claim_adj = adjust(claim_p, "bh")  # BH-adjusted: claim i is selected at level q iff claim_adj[i] <= q
    out = [a.copy() for a in within]
    for j, i in enumerate(judged):
        out[i] = np.array([_bb_adjusted(p, claim_adj[j], claim_adj) if np.isfinite(p) else np.nan
                           for p in within[i]])
    return out


def _bb_adjusted(p_part: float, claim_adj_j: float, claim_adj: np.ndarray) -> float:
    """The smallest q at which a part is decided under Benjamini-Bogomolov: its claim is selected
    (claim_adj_j <= q) and p_part <= q * R(q) / K, with R(q) = #{claims: claim_adj <= q}. R is a step
    function, so each segment [c_(r), c_(r+1)) of the sorted claim p-values is tried in turn."""
    c = np.sort(claim_adj)
    k = c.size
    best = 1.0
    for r in range(1, k + 1):
        q = max(c[r - 1], claim_adj_j, p_part * k / r)
        if r == k or q < c[r]:
            best = min(best, q)
    return float(min(best, 1.0))


def borderline(interval: Interval, level: float, expect: str, ref: float = 0.0, margin: float = 0.0) -> bool:
    """Whether another resampling seed could change the reading at `level`: a bootstrap endpoint's
    Monte-Carlo band straddles a line of the rule. Exact and closed-form intervals are never borderline."""
    if interval.mc_band is None or not np.isfinite(interval.estimate):
        return False
    lines = {ref, ref - margin, ref + margin} if margin else {ref}
    for lo, hi in interval.mc_band(level):
        if any(lo <= line <= hi for line in lines):
            return True
    return False
