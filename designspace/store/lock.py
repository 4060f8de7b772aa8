"""One driver per sweep: the `drivers` row a driver holds while it runs, recognised as stale by its
pid, host and process start time, or, across hosts, by its heartbeat."""
from __future__ import annotations

import os
import socket
import sqlite3
import time

from ..errors import UsageError

LOCK_STALE_S = 120.0  # a driver on another host that has not beaten its heart for this long is gone
HEARTBEAT_S = 15.0

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
    """The live driver holding `sweep`, or None (no lock, or a stale one): host, pid, pid_start,
    started_at, heartbeat_at and running (trials in flight; None where the store predates it)."""
    try:
        cur = con.execute("SELECT * FROM drivers WHERE sweep = ?", (sweep,))
    except sqlite3.OperationalError:  # a store from before the drivers table
        return None
    row = cur.fetchone()
    if row is None:
        return None
    holder = dict(zip((d[0] for d in cur.description), row))
    if not _holder_alive(holder["host"], holder["pid"], holder["pid_start"], holder["heartbeat_at"]):
        return None
    holder.pop("sweep")
    holder.setdefault("running", None)
    return holder


def describe(holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started_at"] or 0))
    return f"pid {holder['pid']} on {holder['host']}, since {since}"


def check_free(con: sqlite3.Connection, sweep: str, store_path: str = "the store") -> None:
    """A one-line UsageError naming the live driver of `sweep` when another process holds it."""
    holder = lock_holder(con, sweep)
    if holder is not None and (holder["host"], holder["pid"]) != (socket.gethostname(), os.getpid()):
        raise UsageError(f"sweep {sweep} in {store_path} is being run by another driver "
                         f"({describe(holder)}); wait for it or stop it first")


def acquire_lock(con: sqlite3.Connection, sweep: str, store_path: str = "the store") -> None:
    """Become the one driver of `sweep`, or raise a one-line UsageError naming the live one."""
    me = (socket.gethostname(), os.getpid(), _process_start(os.getpid()) or "")
    con.execute("BEGIN IMMEDIATE")  # one writer decides at a time
    try:
        check_free(con, sweep, store_path)
        now = time.time()
        con.execute("INSERT OR REPLACE INTO drivers (sweep, host, pid, pid_start, started_at, heartbeat_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (sweep, *me, now, now))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def heartbeat(con: sqlite3.Connection, sweep: str, running: int | None = None) -> None:
    """The driver is alive; with `running`, it has that many trials in flight."""
    with con:
        con.execute("UPDATE drivers SET heartbeat_at = ?, running = COALESCE(?, running) "
                    "WHERE sweep = ? AND pid = ? AND host = ?",
                    (time.time(), running, sweep, os.getpid(), socket.gethostname()))


def release_lock(con: sqlite3.Connection, sweep: str) -> None:
    with con:
        con.execute("DELETE FROM drivers WHERE sweep = ? AND pid = ? AND host = ?",
                    (sweep, os.getpid(), socket.gethostname()))
