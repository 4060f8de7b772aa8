"""The columns that constraint expressions see, on a candidate batch or on a tidy table.

Per stage i = 1..S: ``d1.. w1.. b1.. g1..`` (depth, width, bottleneck ratio, group width, as stored:
after pycls's width / group compatibility). ``d`` = total depth (RegNet's d). ``b``, ``g``: the value
where every stage shares it, NaN in rows where stages differ (so ``b == 1`` is False there).
``stages`` = number of stages (with depth > 0). ``w0 wa wm``: RegNet's parameters (NaN where absent).
``flops params acts``: complexity (NaN where not measured).

The sampler and ``table_columns`` use the same function, so a constraint means the same thing in a
space file, in ``refine --try`` and in a refinement written by ``refine``.
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import UsageError
from ..limits import MAX_STAGES  # names d1..d16 etc. are known to the parser even where a space has fewer stages

STAGE_FIELDS = {"d": "depths", "w": "widths", "b": "bottleneck_ratios", "g": "group_widths"}
REGNET = ("w0", "wa", "wm")
COMPLEXITY = ("flops", "params", "acts")


def column_names(num_stages: int = MAX_STAGES) -> list[str]:
    """Every name an expression may use for spaces of up to `num_stages` stages."""
    per_stage = [f"{p}{i}" for p in STAGE_FIELDS for i in range(1, num_stages + 1)]
    return per_stage + ["d", "b", "g", "stages", *REGNET, *COMPLEXITY]


def batch_columns(widths, depths, bottleneck_ratios, group_widths, extra=None, names=None) -> dict[str, np.ndarray]:
    """Columns of a batch of m candidates with S stages ((m, S) arrays; NaN-padded where a row has
    fewer stages). `extra`: (m,) arrays such as w0, wa, wm, flops, params, acts, added as float64.
    `names`: compute only these (the sampler asks for what its constraints read)."""
    arrays = {"d": depths, "w": widths, "b": bottleneck_ratios, "g": group_widths}
    arrays = {k: np.asarray(v, np.float64) for k, v in arrays.items()}
    m, s = arrays["w"].shape
    want = (lambda k: True) if names is None else (lambda k: k in names)
    cols: dict[str, np.ndarray] = {}
    for p, a in arrays.items():
        for i in range(s):
            cols[f"{p}{i + 1}"] = a[:, i]
    if any(want(k) for k in ("stages", "d", "b", "g")):
        present = ~np.isnan(arrays["d"]) & (arrays["d"] > 0)
        if want("stages"):
            cols["stages"] = present.sum(axis=1).astype(np.float64)
        if want("d"):
            cols["d"] = np.where(present, arrays["d"], 0).sum(axis=1)
        for p in ("b", "g"):
            if want(p):
                a = np.where(present, arrays[p], np.nan)
                lo, hi = _finite_or(a, np.inf).min(axis=1), _finite_or(a, -np.inf).max(axis=1)
                cols[p] = np.where((lo == hi) & present.any(axis=1), lo, np.nan)
    for name in (*REGNET, *COMPLEXITY):
        cols[name] = np.full(m, np.nan)
    for name, v in (extra or {}).items():
        cols[name] = np.asarray(v, np.float64).reshape(m)
    return cols


def _finite_or(a, fill):
    return np.where(np.isnan(a), fill, a)


def _lists(series) -> list:
    out = []
    for v in series:
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError:
                raise UsageError(f"column {series.name!r} holds {v[:40]!r}, not a JSON list") from None
        if v is None or (isinstance(v, float) and np.isnan(v)):
            v = []
        out.append([float(x) for x in v])
    return out


def _padded(rows: list, s: int) -> np.ndarray:
    a = np.full((len(rows), s), np.nan)
    for i, r in enumerate(rows):
        a[i, :len(r)] = r
    return a


def table_columns(df) -> dict[str, np.ndarray]:
    """The expression columns of a tidy table with the columns `designspace sample` writes (lists
    `widths`, `depths`, `bottleneck_ratios`, `group_widths`, possibly as JSON strings from csv /
    parquet; `flops`, `params`, `acts`; RegNet's `d`, `w0`, `wa`, `wm` where present)."""
    missing = [c for c in STAGE_FIELDS.values() if c not in df.columns]
    if missing:
        raise UsageError(f"table lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                         "(expected the columns `designspace sample` writes)")
    lists = {p: _lists(df[c]) for p, c in STAGE_FIELDS.items()}
    s = max((len(r) for r in lists["w"]), default=0)
    extra = {}
    for name in (*REGNET, *COMPLEXITY):
        if name in df.columns:
            import pandas as pd

            extra[name] = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    cols = batch_columns(*(_padded(lists[p], s) for p in ("w", "d", "b", "g")), extra=extra)
    return cols
