"""SQLite result store: one row per trial, WAL mode, idempotent writes keyed by trial id.

Readers (a notebook, `designspace status`) work while a sweep writes. `load(db)` returns a tidy
pandas DataFrame: one row per trial, spec fields flattened into columns.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import UsageError

STATUSES = ("done", "failed", "diverged")

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    trial_id     TEXT PRIMARY KEY,   -- spec id + recipe + seed (see trial_id())
    sweep        TEXT NOT NULL,
    space        TEXT NOT NULL,
    spec_id      TEXT NOT NULL,
    spec         TEXT NOT NULL,      -- ModelSpec JSON
    regime       TEXT,
    dataset      TEXT,
    recipe       TEXT,               -- recipe JSON
    seed         INTEGER,
    flops        INTEGER,            -- deploy complexity (pycls conventions)
    params       INTEGER,
    acts         INTEGER,
    cx_train     INTEGER,            -- training-graph flops where it differs (re-param, masks)
    status       TEXT NOT NULL,      -- done | failed | diverged
    error        REAL,               -- top-1 test error, percent
    train_loss   REAL,
    epochs       REAL,
    seconds      REAL,
    images_per_s REAL,
    device       TEXT,
    attempts     INTEGER DEFAULT 1,
    message      TEXT,
    extra        TEXT,               -- JSON of anything else a trial reports (per-epoch cx_train, ...)
    started_at   REAL,
    finished_at  REAL
);
CREATE INDEX IF NOT EXISTS trials_sweep ON trials(sweep);
CREATE TABLE IF NOT EXISTS sweeps (
    name        TEXT PRIMARY KEY,
    config      TEXT,                -- the sweep config as JSON
    planned     INTEGER,             -- number of trials the sweep will write
    created_at  REAL
);
"""

COLUMNS = ("trial_id", "sweep", "space", "spec_id", "spec", "regime", "dataset", "recipe", "seed", "flops",
           "params", "acts", "cx_train", "status", "error", "train_loss", "epochs", "seconds", "images_per_s",
           "device", "attempts", "message", "extra", "started_at", "finished_at")


def trial_id(spec_id: str, recipe: Mapping[str, Any], seed: int) -> str:
    """Stable id of a trial: the same model, recipe and seed always get the same id."""
    import hashlib

    body = json.dumps({"spec": spec_id, "recipe": recipe, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(body.encode()).hexdigest()[:20]


def connect(path: str, create: bool = True) -> sqlite3.Connection:
    """Open a store (WAL mode, busy timeout so readers and the writer wait rather than fail)."""
    if not create and not os.path.exists(path):
        raise UsageError(f"no result store at {path}")
    parent = os.path.dirname(os.path.abspath(path))
    if create and not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=30.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        if create:
            con.executescript(SCHEMA)
        else:
            con.execute("SELECT 1 FROM trials LIMIT 1")
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path} is not a designspace result store ({exc})") from None
    return con


def write_trials(path_or_con, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or replace trial rows (idempotent by trial_id) in one transaction. Returns the count."""
    con = connect(path_or_con) if isinstance(path_or_con, (str, os.PathLike)) else path_or_con
    prepared = []
    for row in rows:
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown store column(s): {', '.join(sorted(unknown))}")
        if row.get("status") not in STATUSES:
            raise ValueError(f"trial status must be one of {STATUSES}, got {row.get('status')!r}")
        values = {k: row.get(k) for k in COLUMNS}
        for key in ("spec", "recipe", "extra"):
            if values[key] is not None and not isinstance(values[key], str):
                values[key] = json.dumps(values[key], sort_keys=True)
        values["finished_at"] = values["finished_at"] or time.time()
        values["attempts"] = values["attempts"] or 1
        prepared.append(tuple(values[k] for k in COLUMNS))
    with con:
        con.executemany(
            f"INSERT OR REPLACE INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            prepared,
        )
    if con is not path_or_con:
        con.close()
    return len(prepared)


def write_trial(path_or_con, row: Mapping[str, Any]) -> None:
    write_trials(path_or_con, [row])


def record_sweep(con: sqlite3.Connection, name: str, config: Mapping[str, Any], planned: int) -> None:
    with con:
        con.execute("INSERT OR REPLACE INTO sweeps (name, config, planned, created_at) VALUES (?, ?, ?, "
                    "COALESCE((SELECT created_at FROM sweeps WHERE name = ?), ?))",
                    (name, json.dumps(config, sort_keys=True, default=str), planned, name, time.time()))


def done_ids(con: sqlite3.Connection, sweep: str | None = None) -> set[str]:
    """Trial ids already stored (any status): what a resumed sweep skips."""
    q, args = "SELECT trial_id FROM trials", ()
    if sweep is not None:
        q, args = q + " WHERE sweep = ?", (sweep,)
    return {r[0] for r in con.execute(q, args)}


def load(db: str, sweep: str | None = None, flatten: bool = True):
    """The store as a tidy DataFrame: one row per trial, one column per variable.

    recipe and extra are dicts, started_at/finished_at UTC timestamps (pandas datetimes), spec
    the ModelSpec JSON text. With flatten (default) the spec's fields become columns: widths,
    depths, strides, bottleneck_ratios, group_widths (per-stage lists), num_stages, d (total
    blocks; RegNet's d where the spec is a RegNet), w1..wS, d1..dS, b1..bS, g1..gS, se_ratio,
    family, and RegNet w0, wa, wm where the spec has them."""
    import pandas as pd

    con = connect(db, create=False)
    try:
        q, args = "SELECT * FROM trials", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        df = pd.read_sql_query(q + " ORDER BY finished_at, trial_id", con, params=args)
    finally:
        con.close()
    for key in ("recipe", "extra"):
        df[key] = _json_column(df[key])
    for key in ("started_at", "finished_at"):
        df[key] = pd.to_datetime(pd.to_numeric(df[key], errors="coerce"), unit="s", utc=True)
    return flatten_specs(df) if flatten else df


def _json_column(col):
    """JSON text -> dicts (None stays None); each distinct text is parsed once (recipes repeat)."""
    parsed = {t: json.loads(t) for t in col.dropna().unique()}
    return col.map(lambda t: None if t is None or t != t else parsed[t])


LIST_COLUMNS = ("widths", "depths", "strides", "bottleneck_ratios", "group_widths")


def flatten_specs(df):
    """Add the flattened spec columns to a DataFrame holding a `spec` column (JSON text or dicts)."""
    import pandas as pd

    if df.empty:
        out = df.copy()
        for col in (*LIST_COLUMNS, "num_stages", "d", "se_ratio", "family"):
            out[col] = pd.Series(dtype=object)
        return out
    specs = [json.loads(s) if isinstance(s, str) else s for s in df["spec"]]
    stages = [s["stages"] for s in specs]
    cols: dict[str, list] = {
        "widths": [[st["width"] for st in ss] for ss in stages],
        "depths": [[st["depth"] for st in ss] for ss in stages],
        "strides": [[st["stride"] for st in ss] for ss in stages],
        "bottleneck_ratios": [[st["bottleneck_ratio"] for st in ss] for ss in stages],
        "group_widths": [[st["group_width"] for st in ss] for ss in stages],
        "se_ratio": [max([st["se_ratio"] for st in ss], default=0.0) for ss in stages],
    }
    for key in ("w0", "wa", "wm"):
        vals = [s.get("meta", {}).get(key, float("nan")) for s in specs]
        if any(v == v for v in vals):  # any not-NaN
            cols[key] = vals
    families = [sorted({k for st in ss for k in st.get("family", {})} | set(s.get("family", {})))
                for s, ss in zip(specs, stages)]
    cols["family"] = ["+".join(f) for f in families]
    out = df.copy()
    for key, values in cols.items():
        out[key] = values
    return stage_columns(out)


def stage_columns(df):
    """From the per-stage list columns (widths, depths, bottleneck_ratios, group_widths), add
    num_stages, d (total blocks) and w1..wS, d1..dS, b1..bS, g1..gS (NaN past a model's stages)."""
    import numpy as np

    out = df.copy()
    depths = list(out["depths"])
    out["num_stages"] = [len(v) for v in depths]
    out["d"] = [int(sum(v)) for v in depths]
    max_s = int(out["num_stages"].max()) if len(out) else 0
    for key, short in (("widths", "w"), ("depths", "d"), ("bottleneck_ratios", "b"), ("group_widths", "g")):
        if key not in out:
            continue
        values = list(out[key])
        for j in range(max_s):
            out[f"{short}{j + 1}"] = [v[j] if j < len(v) else np.nan for v in values]
    return out


def export(db: str, out: str) -> None:
    """Export a store to .parquet or .csv (lists and JSON as strings in CSV)."""
    df = load(db)
    df = df.assign(**{c: df[c].map(lambda v: None if v is None else json.dumps(v, sort_keys=True))
                      for c in ("recipe", "extra")})  # free-form mappings: JSON text in both formats
    ext = os.path.splitext(out)[1].lower()
    if ext == ".parquet":
        df.to_parquet(out, index=False)
    elif ext == ".csv":
        df.assign(**{c: df[c].map(json.dumps) for c in df.columns if df[c].map(type).eq(list).any()}).to_csv(
            out, index=False)
    else:
        raise UsageError(f"unknown export format {ext!r}; use .parquet or .csv")


def planned(con: sqlite3.Connection) -> dict[str, int]:
    """Planned trial count of every recorded sweep."""
    return {name: n for name, n in con.execute("SELECT name, planned FROM sweeps")}


def summary(db: str) -> list[dict]:
    """Per sweep: planned vs stored, and per space: counts by status, best and median error.

    Reads with plain SQL (no spec flattening), so it is cheap enough to poll while a sweep writes."""
    import statistics

    con = connect(db, create=False)
    try:
        plans = planned(con) if con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sweeps'").fetchone() else {}
        rows = con.execute("SELECT sweep, space, status, error, images_per_s, seconds FROM trials").fetchall()
    finally:
        con.close()
    sweeps: dict[str, dict] = {name: {"sweep": name, "planned": n, "spaces": {}} for name, n in plans.items()}
    for sweep, space, status, error, ips, seconds in rows:
        sw = sweeps.setdefault(sweep, {"sweep": sweep, "planned": None, "spaces": {}})
        sp = sw["spaces"].setdefault(space, {"space": space, **{s: 0 for s in STATUSES}, "errors": [],
                                             "images_per_s": [], "seconds": 0.0})
        sp[status] = sp.get(status, 0) + 1
        if status == "done" and error is not None:
            sp["errors"].append(error)
            if ips:
                sp["images_per_s"].append(ips)
        sp["seconds"] += seconds or 0.0
    out = []
    for sw in sweeps.values():
        spaces = []
        for sp in sw["spaces"].values():
            errs = sp.pop("errors")
            ips = sp.pop("images_per_s")
            sp["stored"] = sum(sp[s] for s in STATUSES)
            sp["best_error"] = min(errs) if errs else None
            sp["median_error"] = statistics.median(errs) if errs else None
            sp["median_images_per_s"] = statistics.median(ips) if ips else None
            spaces.append(sp)
        sw["spaces"] = sorted(spaces, key=lambda s: s["space"])
        sw["stored"] = sum(s["stored"] for s in spaces)
        for s in STATUSES:
            sw[s] = sum(sp[s] for sp in spaces)
        out.append(sw)
    return sorted(out, key=lambda s: s["sweep"])
