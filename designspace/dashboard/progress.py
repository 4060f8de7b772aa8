"""How far each sweep of a store is: trials done / running / failed / timed out, per space, and an ETA.

Plain read-only SQL (no spec flattening), cheap enough to run whenever the store changes. "Running"
is what the sweep's live driver reports (store.lock_holder); without a live driver nothing runs and
the trials left wait for a rerun. The ETA is measured, not guessed: trials to go x the mean wall time
of the trials this driver finished (all of the sweep's trials before it has finished any) / the
trials it has in flight.
"""
from __future__ import annotations

import hashlib
import statistics
import time

from ..store import STATUSES, connect, lock_holder


def _space_row(space: str) -> dict:
    return {"space": space, **{s: 0 for s in STATUSES}, "stored": 0, "errors": []}


def _eta(to_go: int, driver: dict | None, seconds: list[tuple[float, float]]) -> dict:
    """{eta_s, basis} from the trial times `seconds` [(finished_at, seconds)] of the sweep."""
    if not to_go:
        return {"eta_s": None, "basis": "nothing left to run"}
    if driver is None:
        return {"eta_s": None, "basis": f"no driver is running: {to_go} trials wait for the sweep to be rerun"}
    this_run = [s for f, s in seconds if f is not None and f >= (driver.get("started_at") or 0)]
    times, whose = (this_run, "of this run") if this_run else ([s for _, s in seconds], "of earlier runs")
    if not times:
        return {"eta_s": None, "basis": f"{to_go} trials to go; no trial has finished yet to time"}
    mean_s = statistics.fmean(times)
    parallel = max(int(driver.get("running") or 0), 1)
    return {"eta_s": to_go * mean_s / parallel,
            "basis": f"{to_go} trials to go x {mean_s:.0f} s mean trial time ({len(times)} trials {whose}) "
                     f"/ {parallel} running"}


def store_progress(path: str) -> list[dict]:
    """Per sweep of the store at `path` (sorted by name): planned, stored, to_go, counts by status,
    running (None: no live driver, or one that does not report it), driver {host, pid, since},
    eta_s and its basis, per-space rows (counts, best and median error), and `data`, a fingerprint
    of the sweep's trial rows (changes when a row lands or a failed one is replaced)."""
    con = connect(path, create=False)
    try:
        has_sweeps = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sweeps'").fetchone()
        plans = dict(con.execute("SELECT name, planned FROM sweeps")) if has_sweeps else {}
        rows = con.execute("SELECT sweep, space, status, error, seconds, finished_at, attempts FROM trials "
                           "ORDER BY rowid").fetchall()
        names = sorted(set(plans) | {r[0] for r in rows})
        drivers = {name: lock_holder(con, name) for name in names}
    finally:
        con.close()
    sweeps = {name: {"sweep": name, "planned": plans.get(name), "spaces": {}, "times": [], "digest": hashlib.sha1()}
              for name in names}
    for sweep, space, status, error, seconds, finished_at, attempts in rows:
        sw = sweeps[sweep]
        sp = sw["spaces"].setdefault(space, _space_row(space))
        sp[status] = sp.get(status, 0) + 1
        sp["stored"] += 1
        if status == "done" and error is not None:
            sp["errors"].append(error)
        if seconds is not None and status in ("done", "diverged"):
            sw["times"].append((finished_at, seconds))
        sw["digest"].update(f"{space}|{status}|{error}|{finished_at}|{attempts};".encode())
    now = time.time()
    out = []
    for name in names:
        sw = sweeps[name]
        spaces = []
        for sp in sorted(sw["spaces"].values(), key=lambda s: s["space"]):
            errs = sp.pop("errors")
            sp["best_error"] = min(errs) if errs else None
            sp["median_error"] = statistics.median(errs) if errs else None
            spaces.append(sp)
        counts = {s: sum(sp[s] for sp in spaces) for s in STATUSES}
        stored = sum(counts.values())
        planned = sw["planned"]
        to_go = max(planned - stored, 0) if planned is not None else 0
        holder = drivers[name]
        driver = None if holder is None else {
            "host": holder["host"], "pid": holder["pid"], "started_at": holder["started_at"],
            "running": holder["running"], "heartbeat_age_s": None if holder["heartbeat_at"] is None
            else max(now - holder["heartbeat_at"], 0.0)}
        out.append({"sweep": name, "planned": planned, "stored": stored, "to_go": to_go, **counts,
                    "running": None if driver is None else driver["running"], "driver": driver,
                    **_eta(to_go, holder, sw["times"]), "spaces": spaces,
                    "data": sw["digest"].hexdigest()[:16]})
    return out
