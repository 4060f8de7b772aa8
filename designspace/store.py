"""SQLite result store: one row per trial, WAL mode, writes keyed by trial id that never replace a
finished row.

Tables: `trials` (one row per trial), `epochs` (one row per trial and epoch), `sweeps` (the config as
given, the resolved space definitions, the result-defining identity and the stored plan: every
planned trial id) and `drivers` (the lock that keeps one driver per sweep; a killed driver's lock is
recognised as stale by its pid, host and process start time, or, across hosts, by its heartbeat).

Readers (a notebook, `designspace status`) work while a sweep writes, and open the file read-only:
they never create or change a file. A file that is not a designspace store (empty, not SQLite, or
another program's SQLite database) is refused before anything is written to it.
`load(db)` returns a tidy pandas DataFrame: one row per trial, spec fields flattened into columns.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import UsageError

STATUSES = ("done", "failed", "diverged", "timeout")
RETRYABLE = ("failed", "timeout")  # the only rows a later attempt may replace
APPLICATION_ID = 0x44535031  # "DSP1", in the SQLite header of every store this module creates
LOCK_STALE_S = 120.0  # a driver on another host that has not beaten its heart for this long is gone
HEARTBEAT_S = 15.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    trial_id     TEXT PRIMARY KEY,   -- spec id + recipe + dataset (name, options, files) + regime + seed
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
    status       TEXT NOT NULL,      -- done | failed | diverged | timeout
    error        REAL,               -- top-1 test error, percent
    train_loss   REAL,
    epochs       REAL,
    seconds      REAL,
    images_per_s REAL,
    device       TEXT,
    attempts     INTEGER DEFAULT 1,  -- real attempts, including reruns after a dead worker or --retry-failed
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
CREATE TABLE IF NOT EXISTS epochs (
    trial_id    TEXT NOT NULL,
    epoch       INTEGER NOT NULL,    -- 1-based; a fractional last epoch counts as the next one
    train_loss  REAL,                -- mean over the epoch's steps
    test_error  REAL,                -- top-1 test error (%) after the epoch
    lr          REAL,                -- learning rate of the epoch's last step
    seconds     REAL,                -- wall time of the epoch's training steps
    PRIMARY KEY (trial_id, epoch)
);
CREATE TABLE IF NOT EXISTS drivers (
    sweep        TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    pid_start    TEXT,               -- the process's start time (tells a reused pid from the driver)
    started_at   REAL,
    heartbeat_at REAL
);
"""
# Columns added to `sweeps` after the first release; older stores gain them on first write.
SWEEP_COLUMNS = {"plan": "TEXT", "identity": "TEXT", "spaces": "TEXT", "updated_at": "REAL"}
TABLES = {"trials", "sweeps", "epochs", "drivers"}

COLUMNS = ("trial_id", "sweep", "space", "spec_id", "spec", "regime", "dataset", "recipe", "seed", "flops",
           "params", "acts", "cx_train", "status", "error", "train_loss", "epochs", "seconds", "images_per_s",
           "device", "attempts", "message", "extra", "started_at", "finished_at")
EPOCH_COLUMNS = ("epoch", "train_loss", "test_error", "lr", "seconds")
ROW_EXTRAS = ("per_epoch",)  # keys of a trial row written to other tables


def trial_id(spec_id: str, recipe: Mapping[str, Any], seed: int) -> str:
    """Stable id of a trial: the same model, context (recipe, dataset, ...) and seed always get the same id."""
    import hashlib

    body = json.dumps({"spec": spec_id, "recipe": recipe, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(body.encode()).hexdigest()[:20]


# --- opening ---
def read_only_uri(path: str) -> str:
    from urllib.parse import quote

    # With no -wal file no writer is active and the whole database is in the main file: open it
    # immutable, which creates no -shm/-wal. Otherwise join the writer's WAL read-only.
    mode = "mode=ro" if os.path.exists(path + "-wal") else "immutable=1"
    return f"file:{quote(os.path.abspath(path))}?{mode}"


def check_store_file(path: str) -> bool:
    """Refuse a file that is not a designspace store, reading it only. True when the file exists
    and is a store, False when there is no file yet (or an empty one that `connect` may initialise)."""
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a designspace result store")
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        probe = parent
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe)
        if probe and not os.path.isdir(probe):
            raise UsageError(f"cannot create the store {path}: {probe} is a file, not a folder")
        return False
    if os.path.getsize(path) == 0:
        return False
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if not header.startswith(b"SQLite format 3\0"):
        raise UsageError(f"{path} is not a designspace result store (not an SQLite file)")
    try:
        con = sqlite3.connect(read_only_uri(path), uri=True, timeout=30.0)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            trial_cols = {r[1] for r in con.execute("PRAGMA table_info(trials)")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path} is not a designspace result store ({exc})") from None
    if app_id == APPLICATION_ID or not tables:
        return bool(tables)
    if app_id == 0 and "trials" in tables and tables <= TABLES and {"trial_id", "sweep", "status"} <= trial_cols:
        return True  # a store written before stores carried their application id
    shown = ", ".join(sorted(tables)[:5]) or "none"
    raise UsageError(f"{path} is not a designspace result store (an SQLite database of another program, "
                     f"tables: {shown}); not touching it")


def connect(path: str, create: bool = True) -> sqlite3.Connection:
    """Open a store. create=True: for writing (WAL mode, schema created or upgraded, busy timeout so
    readers and the writer wait rather than fail). create=False: read-only; the file must be a store."""
    path = os.fspath(path)
    if not create:
        if not os.path.exists(path):
            raise UsageError(f"no result store at {path}")
        if not check_store_file(path):
            raise UsageError(f"{path} is not a designspace result store (empty file)")
        try:
            con = sqlite3.connect(read_only_uri(path), uri=True, timeout=30.0)
            con.execute("SELECT 1 FROM trials LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{path} is not a designspace result store ({exc})") from None
        return con
    check_store_file(path)
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the store folder {parent}: {exc.strerror}") from None
    try:
        con = sqlite3.connect(path, timeout=30.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(SCHEMA)
        have = {r[1] for r in con.execute("PRAGMA table_info(sweeps)")}
        for col, kind in SWEEP_COLUMNS.items():
            if col not in have:
                con.execute(f"ALTER TABLE sweeps ADD COLUMN {col} {kind}")
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.commit()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path} is not a designspace result store ({exc})") from None
    except sqlite3.Error as exc:  # e.g. a read-only folder
        raise UsageError(f"cannot write the store {path}: {exc}") from None
    return con


def _open(path_or_con):
    return connect(path_or_con) if isinstance(path_or_con, (str, os.PathLike)) else path_or_con


# --- trials ---
_UPSERT = (f"INSERT INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           f"ON CONFLICT(trial_id) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("trial_id", "attempts"))
           + ", attempts = trials.attempts + excluded.attempts"
           + f" WHERE trials.status IN ({', '.join(repr(s) for s in RETRYABLE)})")


def write_trials(path_or_con, rows: Iterable[Mapping[str, Any]]) -> int:
    """Store trial rows in one transaction. A new trial id is inserted; an existing one is replaced
    only while its stored status is failed or timeout (then its attempts add up), so a finished row
    (done, diverged) is never overwritten by another attempt or another driver. A row's `per_epoch`
    list goes to the epochs table with it. Returns the number of rows inserted or replaced."""
    con = _open(path_or_con)
    prepared = []
    for row in rows:
        unknown = set(row) - set(COLUMNS) - set(ROW_EXTRAS)
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
        epochs = [tuple(e.get(k) for k in EPOCH_COLUMNS) for e in row.get("per_epoch") or ()]
        prepared.append((tuple(values[k] for k in COLUMNS), values["trial_id"], epochs))
    written = 0
    try:
        with con:
            for values, tid, epochs in prepared:
                if con.execute(_UPSERT, values).rowcount:
                    written += 1
                    con.execute("DELETE FROM epochs WHERE trial_id = ?", (tid,))
                    con.executemany(f"INSERT INTO epochs (trial_id, {', '.join(EPOCH_COLUMNS)}) VALUES "
                                    f"(?, {', '.join('?' * len(EPOCH_COLUMNS))})", [(tid, *e) for e in epochs])
    finally:
        if con is not path_or_con:
            con.close()
    return written


def write_trial(path_or_con, row: Mapping[str, Any]) -> None:
    write_trials(path_or_con, [row])


def stored_statuses(con: sqlite3.Connection, sweep: str) -> dict[str, str]:
    """{trial id: status} of a sweep's stored rows."""
    return dict(con.execute("SELECT trial_id, status FROM trials WHERE sweep = ?", (sweep,)))


def done_ids(con: sqlite3.Connection, sweep: str | None = None) -> set[str]:
    """Trial ids already stored (any status)."""
    q, args = "SELECT trial_id FROM trials", ()
    if sweep is not None:
        q, args = q + " WHERE sweep = ?", (sweep,)
    return {r[0] for r in con.execute(q, args)}


# --- sweeps and their plans ---
def record_sweep(con: sqlite3.Connection, name: str, config: Mapping[str, Any], planned: int,
                 plan: list[str] | None = None, identity: Mapping | None = None,
                 spaces: Mapping | None = None) -> None:
    """Record (or update) a sweep: its config, planned count, and where given its plan (trial ids),
    identity (what defines its results) and resolved space definitions."""
    now = time.time()
    dump = lambda v: None if v is None else json.dumps(v, sort_keys=True, default=str)  # noqa: E731
    with con:
        con.execute(
            "INSERT INTO sweeps (name, config, planned, created_at, plan, identity, spaces, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET config = excluded.config, "
            "planned = excluded.planned, plan = COALESCE(excluded.plan, sweeps.plan), "
            "identity = COALESCE(excluded.identity, sweeps.identity), "
            "spaces = COALESCE(excluded.spaces, sweeps.spaces), updated_at = excluded.updated_at",
            (name, dump(config), planned, now, dump(plan), dump(identity), dump(spaces), now))


def get_sweep(con: sqlite3.Connection, name: str) -> dict | None:
    """A recorded sweep: config, planned, plan, identity, spaces (JSON decoded; None where absent)."""
    cols = [r[1] for r in con.execute("PRAGMA table_info(sweeps)")]
    row = con.execute(f"SELECT {', '.join(cols)} FROM sweeps WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    out = dict(zip(cols, row))
    for key in ("config", "plan", "identity", "spaces"):
        out[key] = json.loads(out[key]) if out.get(key) else None
    return out


def archive_sweep(con: sqlite3.Connection, name: str, keep_ids: Iterable[str]) -> tuple[str, int]:
    """Move a sweep's rows that are not in `keep_ids` (and its old record) to the sweep NAME~K, so that
    a new plan under NAME never mixes with the old one and nothing stored is lost. Returns (new name, rows)."""
    k = 1
    while con.execute("SELECT 1 FROM sweeps WHERE name = ?", (f"{name}~{k}",)).fetchone() or \
            con.execute("SELECT 1 FROM trials WHERE sweep = ? LIMIT 1", (f"{name}~{k}",)).fetchone():
        k += 1
    old = f"{name}~{k}"
    keep = json.dumps(sorted(set(keep_ids)))
    with con:
        moved = con.execute("UPDATE trials SET sweep = ? WHERE sweep = ? AND trial_id NOT IN "
                            "(SELECT value FROM json_each(?))", (old, name, keep)).rowcount
        cols = [r[1] for r in con.execute("PRAGMA table_info(sweeps)")]
        con.execute(f"INSERT INTO sweeps ({', '.join(cols)}) SELECT {', '.join('?' if c == 'name' else c for c in cols)} "
                    "FROM sweeps WHERE name = ?", (old, name))
    return old, moved


# --- one driver per sweep ---
def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (Linux: /proc), None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[19]
    except FileNotFoundError:
        return None
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def _holder_alive(host: str, pid: int, pid_start: str | None, heartbeat_at: float | None) -> bool:
    if host == socket.gethostname():
        now_start = _process_start(pid)
        return now_start is not None and (not pid_start or not now_start or now_start == pid_start)
    return heartbeat_at is not None and time.time() - heartbeat_at < LOCK_STALE_S


def lock_holder(con: sqlite3.Connection, sweep: str) -> dict | None:
    """The live driver holding `sweep`, or None (no lock, or a stale one)."""
    try:
        row = con.execute("SELECT host, pid, pid_start, started_at, heartbeat_at FROM drivers WHERE sweep = ?",
                          (sweep,)).fetchone()
    except sqlite3.OperationalError:  # a store from before the drivers table
        return None
    if row is None or not _holder_alive(*row[:3], row[4]):
        return None
    return dict(zip(("host", "pid", "pid_start", "started_at", "heartbeat_at"), row))


def _describe(holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started_at"] or 0))
    return f"pid {holder['pid']} on {holder['host']}, since {since}"


def acquire_lock(con: sqlite3.Connection, sweep: str, store_path: str = "the store") -> None:
    """Become the one driver of `sweep`, or raise a one-line UsageError naming the live one."""
    me = (socket.gethostname(), os.getpid(), _process_start(os.getpid()) or "")
    con.execute("BEGIN IMMEDIATE")  # one writer decides at a time
    try:
        holder = lock_holder(con, sweep)
        if holder is not None and (holder["host"], holder["pid"]) != me[:2]:
            raise UsageError(f"sweep {sweep} in {store_path} is being run by another driver "
                             f"({_describe(holder)}); wait for it or stop it first")
        now = time.time()
        con.execute("INSERT OR REPLACE INTO drivers (sweep, host, pid, pid_start, started_at, heartbeat_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (sweep, *me, now, now))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def heartbeat(con: sqlite3.Connection, sweep: str) -> None:
    with con:
        con.execute("UPDATE drivers SET heartbeat_at = ? WHERE sweep = ? AND pid = ? AND host = ?",
                    (time.time(), sweep, os.getpid(), socket.gethostname()))


def release_lock(con: sqlite3.Connection, sweep: str) -> None:
    with con:
        con.execute("DELETE FROM drivers WHERE sweep = ? AND pid = ? AND host = ?",
                    (sweep, os.getpid(), socket.gethostname()))


# --- per-epoch records ---
def load_epochs(db: str, sweep: str | None = None):
    """Per-epoch records as a tidy DataFrame: one row per trial and epoch, with trial_id, sweep,
    space, spec_id, seed, epoch, train_loss, test_error (%), lr, seconds."""
    import pandas as pd

    con = connect(db, create=False)
    try:
        has = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'epochs'").fetchone()
        if not has:  # a store from before per-epoch records
            return pd.DataFrame(columns=["trial_id", "sweep", "space", "spec_id", "seed", *EPOCH_COLUMNS])
        q = ("SELECT e.trial_id, t.sweep, t.space, t.spec_id, t.seed, e.epoch, e.train_loss, e.test_error, e.lr, "
             "e.seconds FROM epochs e JOIN trials t ON t.trial_id = e.trial_id")
        args: tuple = ()
        if sweep is not None:
            q, args = q + " WHERE t.sweep = ?", (sweep,)
        return pd.read_sql_query(q + " ORDER BY t.sweep, e.trial_id, e.epoch", con, params=args)
    finally:
        con.close()


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
