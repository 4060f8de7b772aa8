"""Synthetic result stores: real specs sampled from real spaces, made-up errors.

For tests, the notebook (when no sweep has run) and benchmarks. The errors follow a simple, known
model so analyses have answers to recover:

    error = base + shift[space] - slope * z(log flops) + penalty * (number of stage-width decreases)
            + noise * N(0, 1)

z() standardizes log flops over the whole store; a stage-width decrease (allowed in AnyNetXA..C,
not in D, E or RegNet) costs `penalty` points, echoing the paper's finding that widths should grow.
"""
from __future__ import annotations

import numpy as np

from ..complexity import complexity
from ..spaces import get_space
from ..store import trial_id, write_trials

RECIPE = {"synthetic": True}


def synthetic_trials(spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), n: int = 100, seed: int = 0,
                     regime: str = "fashion-mnist", shift=None, base: float = 12.0, slope: float = 1.5,
                     penalty: float = 0.5, noise: float = 1.0, failed: float = 0.0,
                     sweep: str = "synthetic") -> list[dict]:
    """Store rows for `n` models per space (a dict {space: n} gives per-space counts).

    shift: {space: points added to every error}; failed: fraction of rows stored as failed (no error)."""
    shift = shift or {}
    counts = n if isinstance(n, dict) else {s: n for s in spaces}
    rng = np.random.default_rng(seed)
    rows = []
    for k, space in enumerate(counts):
        specs = get_space(space).sample(counts[space], seed=seed * 1000 + k, regime=regime)
        cx = complexity(specs, regime=regime)
        for spec, f, p, a in zip(specs, cx["flops"], cx["params"], cx["acts"]):
            ws = [st.width for st in spec.stages if st.depth > 0]
            rows.append({
                "trial_id": trial_id(spec.id, RECIPE, seed), "sweep": sweep, "space": space, "spec_id": spec.id,
                "spec": spec.to_json(), "regime": regime, "dataset": "synthetic", "recipe": RECIPE, "seed": seed,
                "flops": int(f), "params": int(p), "acts": int(a), "cx_train": int(f), "status": "done",
                "epochs": 1.0, "seconds": 1.0, "images_per_s": 1000.0,
                "_log_flops": float(np.log(f)), "_decreases": int(np.sum(np.diff(ws) < 0)),
                "_shift": float(shift.get(space, 0.0)),
            })
    if not rows:
        return rows
    lf = np.array([r.pop("_log_flops") for r in rows])
    z = (lf - lf.mean()) / (lf.std() or 1.0)
    dec = np.array([r.pop("_decreases") for r in rows])
    sh = np.array([r.pop("_shift") for r in rows])
    err = base + sh - slope * z + penalty * dec + noise * rng.standard_normal(len(rows))
    bad = rng.random(len(rows)) < failed
    for r, e, b in zip(rows, err, bad):
        r["error"] = None if b else float(np.clip(e, 0.0, 100.0))
        r["train_loss"] = None if b else float(e / 20)
        if b:
            r["status"], r["message"] = "failed", "synthetic failure"
    return rows


def write_synthetic_store(path: str, **kwargs) -> str:
    """Write synthetic_trials(**kwargs) to a store at `path`; returns the path."""
    write_trials(path, synthetic_trials(**kwargs))
    return path


DEMO_STORE = "results/demo/results.db"
NOTEBOOK_SPACES = ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX")


def find_store(candidates=(DEMO_STORE, "../" + DEMO_STORE), env: str = "DESIGNSPACE_DB", n: int = 100,
               seed: int = 0) -> tuple[str, str]:
    """The store an interactive analysis should read -> (path, where it came from).

    $DESIGNSPACE_DB if set; else the first candidate (the demo sweep's store, seen from the repo root
    or from notebooks/) holding finished trials; else a fresh synthetic store of `n` models per space
    in a temporary folder, so the analysis runs before any sweep has."""
    import os
    import tempfile

    if os.environ.get(env):
        return os.environ[env], f"${env}"
    for path in candidates:
        if os.path.isfile(path) and _has_done_trials(path):
            return path, "demo sweep"
    path = os.path.join(tempfile.mkdtemp(prefix="designspace-"), "synthetic.db")
    write_synthetic_store(path, spaces=NOTEBOOK_SPACES, n=n, seed=seed)
    return path, "synthetic store (no finished sweep found)"


def _has_done_trials(path: str) -> bool:
    import contextlib
    import sqlite3

    from ..store import open_read_only

    try:
        with contextlib.closing(open_read_only(path)) as con:
            query = "SELECT COUNT(*) FROM trials WHERE status = 'done' AND error IS NOT NULL"
            return con.execute(query).fetchone()[0] > 0
    except sqlite3.Error:
        return False
