"""Alpha spending across pre-declared looks (Lan & DeMets 1983): a sequential design that looks at
its data after each round may decide at look k only at the level its spending function releases
there, so the chance of any false decision over all looks stays at most alpha.

alpha(t) for information fraction t = n_k / n_max in (0, 1]:
    obrien_fleming   2 - 2 Phi(z_(1 - alpha/2) / sqrt(t))   (spends little early, nearly alpha at the end)
    pocock           alpha * ln(1 + (e - 1) t)
The increment alpha(t_k) - alpha(t_(k-1)) is look k's own level; using it as a plain (Bonferroni)
level at each look ignores the looks' positive correlation, which keeps the total <= alpha (slightly
conservative) without the recursive integration of a group-sequential boundary.
"""
from __future__ import annotations

import math

from scipy import stats as _st

SPENDING = ("obrien_fleming", "pocock")


def spent(t: float, alpha: float, kind: str = "obrien_fleming") -> float:
    """alpha(t): the total level spent by information fraction t (0 <= t <= 1)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if kind == "obrien_fleming":
        return float(2.0 - 2.0 * _st.norm.cdf(_st.norm.ppf(1.0 - alpha / 2.0) / math.sqrt(t)))
    if kind == "pocock":
        return float(alpha * math.log(1.0 + (math.e - 1.0) * t))
    raise ValueError(f"unknown spending function {kind!r}; valid: {', '.join(SPENDING)}")


def look_levels(looks: list[int], alpha: float, kind: str = "obrien_fleming") -> list[float]:
    """Each look's own level: alpha(t_k) - alpha(t_(k-1)), t_k = looks[k] / looks[-1]; they sum to alpha."""
    n_max = float(looks[-1])
    out, previous = [], 0.0
    for n in looks:
        total = spent(n / n_max, alpha, kind)
        out.append(max(total - previous, 0.0))
        previous = total
    return out
