"""Butcher tableaus of the high-order stacking schemes (seed 001, HO-ResNet) and LM-ResNet.

An RK block of s stages regroups s residual functions F_1..F_s of the host stage:
    k_1 = F_1(x);  k_i = F_i(x' + h * sum_{j<i} a_ij k_j);  y = act(x' + sum_i b_i k_i)
with x' = P(x) the host shortcut and h the inner-state suppression coefficient (1 = textbook): it
scales only the inner states a_ij (scaling the b_i too would be a BN rescale of each F, no change of
the function class), so it needs a scheme with s >= 2.
Textbook tableaus (the reference code's ImprovedEuler/RK2Block deviate; see seed-families.md §2.2).
"lm" (LM-ResNet) is a one-function linear multistep block with a trainable k per block.
Pure Python: imported by the complexity path, which must not import torch.
"""
from __future__ import annotations

import math

_R2 = math.sqrt(2.0)

# scheme -> (A as rows of the strictly lower triangle, b)
TABLEAUS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": ((), (1.0,)),
    "midpoint": (((0.5,),), (0.0, 1.0)),
    "heun2": (((1.0,),), (0.5, 0.5)),
    "ralston2": (((2 / 3,),), (0.25, 0.75)),
    "kutta3": (((0.5,), (-1.0, 2.0)), (1 / 6, 2 / 3, 1 / 6)),
    "heun3": (((1 / 3,), (0.0, 2 / 3)), (0.25, 0.0, 0.75)),
    "rk4": (((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
    "gill4": (((0.5,), ((_R2 - 1) / 2, (2 - _R2) / 2), (0.0, -_R2 / 2, (2 + _R2) / 2)),
              (1 / 6, (2 - _R2) / 6, (2 + _R2) / 6, 1 / 6)),
}
SCHEMES = tuple(TABLEAUS) + ("lm",)


def stages_of(scheme: str) -> int:
    """s: residual sub-functions per block (LM blocks hold one)."""
    return 1 if scheme == "lm" else len(TABLEAUS[scheme][1])


def tableau(scheme: str) -> tuple[list[list[float]], list[float]]:
    """(A as a full s x s list, b) of an RK scheme."""
    rows, b = TABLEAUS[scheme]
    s = len(b)
    a = [[0.0] * s for _ in range(s)]
    for i, row in enumerate(rows, start=1):
        a[i][: len(row)] = list(row)
    return a, list(b)


def order_conditions(scheme: str) -> dict[str, float]:
    """Residuals of the order conditions up to order min(s, 4) (c_i = sum_j a_ij); all ~0."""
    a, b = tableau(scheme)
    s = len(b)
    c = [sum(r) for r in a]
    ac = [sum(a[i][j] * c[j] for j in range(s)) for i in range(s)]
    out = {"sum b = 1": sum(b) - 1}
    if s >= 2:
        out["sum b c = 1/2"] = sum(bi * ci for bi, ci in zip(b, c)) - 1 / 2
    if s >= 3:
        out["sum b c^2 = 1/3"] = sum(bi * ci * ci for bi, ci in zip(b, c)) - 1 / 3
        out["sum b a c = 1/6"] = sum(bi * x for bi, x in zip(b, ac)) - 1 / 6
    if s >= 4:
        aac = [sum(a[i][j] * ac[j] for j in range(s)) for i in range(s)]
        out["sum b c^3 = 1/4"] = sum(bi * ci ** 3 for bi, ci in zip(b, c)) - 1 / 4
        out["sum b c a c = 1/8"] = sum(bi * ci * x for bi, ci, x in zip(b, c, ac)) - 1 / 8
        out["sum b a c^2 = 1/12"] = sum(b[i] * sum(a[i][j] * c[j] ** 2 for j in range(s)) for i in range(s)) - 1 / 12
        out["sum b a a c = 1/24"] = sum(bi * x for bi, x in zip(b, aac)) - 1 / 24
    return out
