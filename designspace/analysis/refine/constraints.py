"""Candidate refinements of a population's space: constraint texts in the space language (a free
parameter fixed to a value or cut to part of its range, shared b / g, growing widths / depths, low
e_fit, and the user's tries)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...spaces.expr import parse
from .population import Population

PARTS = (("lower third", "<=", 1 / 3), ("lower half", "<=", 1 / 2), ("upper half", ">=", 1 / 2),
         ("upper third", ">=", 2 / 3))
EFIT_PARTS = PARTS[:2]
COMPLEXITY = ("flops", "params", "acts")


@dataclass(frozen=True)
class Candidate:
    text: str  # the constraint, canonical text of the space language
    kind: str  # "value" | "lower third" | ... | "structure" | "try"
    parameter: str  # the column or property it restricts ("" for a user's constraint)


def _expand(name: str) -> list[str]:
    """'d1..d4' -> d1, d2, d3, d4; other names as they are."""
    m = re.fullmatch(r"([A-Za-z_]+)(\d+)\.\.\1(\d+)", name)
    return [f"{m.group(1)}{i}" for i in range(int(m.group(2)), int(m.group(3)) + 1)] if m else [name]


def free_columns(pop: Population) -> list[str]:
    """The columns of the space's free parameters (all varying design columns when the space is
    unknown); complexity is measured, not chosen, so it is never a candidate."""
    if pop.space is not None:
        names = [n for param, _ in pop.space.free_params for n in _expand(param)]
    else:
        names = [n for n in pop.columns if n not in COMPLEXITY and n not in ("stages", "e_fit")]
    return [n for n in dict.fromkeys(names) if n in pop.columns and _varies(pop.columns[n])]


def _varies(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return v.size > 0 and v.min() < v.max()


def _number(v: float, integer: bool) -> str:
    return str(int(round(v))) if integer or float(v).is_integer() else f"{v:.3g}"


def _canonical(text: str) -> str:
    return str(parse(text))


def candidates(pop: Population, tries=(), structural: bool = True, parameters: bool = True,
               max_levels: int = 8) -> list[Candidate]:
    """Every candidate refinement of the population (see the module docstring), tries last.
    parameters / structural: include the value and part candidates / the structural ones."""
    out: list[Candidate] = []
    cols = pop.columns
    for name in free_columns(pop) if parameters else ():
        v = cols[name][np.isfinite(cols[name])]
        levels = np.unique(v)
        if levels.size <= max_levels:
            out += [Candidate(f"{name} == {_number(x, False)}", "value", name) for x in levels]
            continue
        integer = bool(np.all(v == np.round(v)))
        for kind, op, q in PARTS:
            cut = np.quantile(v, q, method="inverted_cdf")
            out.append(Candidate(_canonical(f"{name} {op} {_number(cut, integer)}"), kind, name))
    if structural:
        stages = sorted({int(m.group(1)) for c in cols if (m := re.fullmatch(r"d(\d+)", c))})
        if len(stages) > 1:
            for prefix, op, what in (("b", "==", "shared b"), ("g", "==", "shared g"),
                                     ("w", "<=", "non-decreasing widths"), ("d", "<=", "non-decreasing depths")):
                out.append(Candidate(f" {op} ".join(f"{prefix}{i}" for i in stages), "structure", what))
        if "e_fit" in cols and _varies(cols["e_fit"]):
            v = cols["e_fit"][np.isfinite(cols["e_fit"])]
            for kind, op, q in EFIT_PARTS:
                cut = np.quantile(v, q, method="inverted_cdf")
                out.append(Candidate(f"e_fit <= {cut:.3g}", "structure", f"e_fit {kind}"))
    out += [Candidate(_canonical(t), "try", "") for t in tries]
    seen, unique = set(), []
    for c in out:  # a try repeating an automatic candidate keeps the automatic one's description
        if c.text not in seen:
            seen.add(c.text)
            unique.append(c)
    return unique
