"""The SQL store: its schema, opening a file safely (read-only readers, foreign files refused), and the
writes of trials and sweeps (a finished row is never replaced)."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import UsageError

STATUSES = ("done", "failed", "diverged", "timeout")
RETRYABLE = ("failed", "timeout")  # the only rows a later attempt may replace
APPLICATION_ID = 0x44535031  # "DSP1", in the SQLite header of every store this module creates

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
# Columns added to `drivers` later: the trials the driver has running (readers cannot see in-flight work otherwise).
DRIVER_COLUMNS = {"running": "INTEGER"}
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


def open_read_only(path: str, timeout: float = 30.0) -> sqlite3.Connection:
    """A read-only connection to an SQLite file that creates no file beside it (no -wal, no -shm),
    also while a sweep writes to it. The caller closes it."""
    return sqlite3.connect(read_only_uri(os.fspath(path)), uri=True, timeout=timeout)


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
        con = open_read_only(path)
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
            con = open_read_only(path)
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
        for table, columns in (("sweeps", SWEEP_COLUMNS), ("drivers", DRIVER_COLUMNS)):
            have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            for col, kind in columns.items():
                if col not in have:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
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
    with con:
        con.execute(
            "INSERT INTO sweeps (name, config, planned, created_at, plan, identity, spaces, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET config = excluded.config, "
            "planned = excluded.planned, plan = COALESCE(excluded.plan, sweeps.plan), "
            "identity = COALESCE(excluded.identity, sweeps.identity), "
            "spaces = COALESCE(excluded.spaces, sweeps.spaces), updated_at = excluded.updated_at",
            (name, _dump(config), planned, now, _dump(plan), _dump(identity), _dump(spaces), now))


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


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
        picked = ", ".join("?" if c == "name" else c for c in cols)
        con.execute(f"INSERT INTO sweeps ({', '.join(cols)}) SELECT {picked} FROM sweeps WHERE name = ?", (old, name))
    return old, moved


def planned(con: sqlite3.Connection) -> dict[str, int]:
    """Planned trial count of every recorded sweep."""
    return {name: n for name, n in con.execute("SELECT name, planned FROM sweeps")}


def has_table(con: sqlite3.Connection, name: str) -> bool:
    """Whether the store has table `name` (stores from before the sweeps and epochs tables lack them)."""
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None
