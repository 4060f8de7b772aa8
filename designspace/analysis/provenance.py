"""What a reader needs to check an analysis: per source and sweep, its dataset, regime, recipe,
epochs, trial counts and the spaces' full definitions."""
from __future__ import annotations

import contextlib
import json
import os

import pandas as pd

from .population import TABLE_EXTENSIONS


def describe_sources(trials: pd.DataFrame) -> list[dict]:
    """One entry per source (and sweep): dataset, regime, recipe, epochs, trials, finished, spaces,
    and the spaces' definitions (the store's sweeps.spaces column where present, else the
    registered space's definition(), else None)."""
    out = []
    if "source" not in trials:  # trials given as a DataFrame, not read from files
        return out
    keys = [k for k in ("source", "sweep") if k in trials]
    for key, g in trials.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        src = key[0]
        sweep = key[1] if len(key) > 1 and key[1] == key[1] else None
        recipe = next((r for r in g["recipe"] if isinstance(r, dict)), None) if "recipe" in g else None
        spaces = sorted(g["space"].astype(str).unique())
        stored = _stored_spaces(src, sweep)
        definitions = {sp: stored.get(sp) if sp in stored else _registered_definition(sp) for sp in spaces}
        out.append({
            "source": src, "sweep": sweep,
            "dataset": _uniq(g, "dataset"), "regime": _uniq(g, "regime"),
            "recipe": recipe,
            "epochs": recipe["epochs"] if isinstance(recipe, dict) and "epochs" in recipe else _uniq(g, "epochs"),
            "trials": int(len(g)), "finished": int((g["status"] == "done").sum()) if "status" in g else int(len(g)),
            "spaces": spaces, "definitions": definitions,
        })
    return out


def _uniq(g, col):
    if col not in g:
        return None
    vals = [v for v in pd.unique(g[col].dropna())]
    return vals[0] if len(vals) == 1 else (vals or None)


def _stored_spaces(path: str, sweep) -> dict:
    """{space label: definition} from a store's sweeps.spaces column, when the store has one."""
    import sqlite3

    if sweep is None or not os.path.isfile(path) or os.path.splitext(path)[1].lower() in TABLE_EXTENSIONS:
        return {}
    from ..store import open_read_only

    try:
        with contextlib.closing(open_read_only(path)) as con:  # creates no file beside the store
            cols = [r[1] for r in con.execute("PRAGMA table_info(sweeps)")]
            if "spaces" not in cols:
                return {}
            row = con.execute("SELECT spaces FROM sweeps WHERE name = ?", (sweep,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}
    except (sqlite3.Error, ValueError):
        return {}


def _registered_definition(name: str):
    try:
        from ..spaces import get_space

        space = get_space(name)
        return space.definition() if hasattr(space, "definition") else None
    except Exception:  # an unknown or user-defined space: the report says "not available"
        return None
