"""The numbers behind a sweep's plots: error EDFs (plain and complexity-normalized, with bootstrap
bands), the error-vs-flops scatter of its models, and one model's spec and per-epoch curve.

Computed with the analysis library on one row per model (model_table of the finished trials), with
the report's settings, so the dashboard and `designspace analyze` show the same numbers for the same
trials. Every value is JSON-ready (NaN -> None).
"""
from __future__ import annotations

import json
import math

import pandas as pd

from .. import analysis as A
from ..store import connect, load_epochs

# the report's defaults (designspace analyze): the figures of both views agree
N_BOOT, LEVEL, SEED, NORMALIZE, MAX_BINS, MIN_PER_BIN = 1000, 0.9, 0, "flops", 10, 3


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _curves(edf: pd.DataFrame, bands: pd.DataFrame) -> list[dict]:
    """Per space: the grid, the EDF and its band, as columns."""
    out = []
    for space, g in edf.groupby("space", sort=True):
        b = bands[bands["space"] == space]
        out.append({"space": str(space), "error": [_num(v) for v in g["error"]], "cdf": [_num(v) for v in g["cdf"]],
                    "lo": [_num(v) for v in b["lo"]], "hi": [_num(v) for v in b["hi"]]})
    return out


def sweep_population(path: str, sweep: str) -> dict:
    """{models, trials, level, edf, edf_normalized (or None and a `missing` sentence), scatter, notes}
    of one sweep of the store at `path`."""
    trials = A.read_population([path], [sweep])
    done = A.done_trials(trials)
    out = {"sweep": sweep, "trials": int(len(trials)), "models": 0, "level": LEVEL, "n_boot": N_BOOT,
           "edf": None, "edf_normalized": None, "scatter": [], "notes": [], "missing": {}}
    if done.empty:
        out["missing"] = {k: "no finished model yet" for k in ("edf", "edf_normalized", "scatter")}
        return out
    models = A.model_table(done, how="mean")
    out["models"] = int(len(models))
    grid = A.error_grid(models["error"])
    out["edf"] = _curves(A.edf(models, grid=grid),
                         A.edf_bands(models, grid=grid, n_boot=N_BOOT, level=LEVEL, seed=SEED))
    bins = A.choose_bins(models, NORMALIZE, "space", MAX_BINS, MIN_PER_BIN)
    out["notes"] += bins["warnings"]
    nb, br = bins["num_bins"], bins["bin_range"]
    try:
        norm = A.edf(models, normalize=NORMALIZE, num_bins=nb, bin_range=br, grid=grid)
    except ValueError as exc:  # a space without a model in the common flops range
        out["missing"]["edf_normalized"] = f"no complexity-normalized EDF: {exc}"
    else:
        out["edf_normalized"] = _curves(norm, A.edf_bands(models, normalize=NORMALIZE, num_bins=nb, bin_range=br,
                                                          grid=grid, n_boot=N_BOOT, level=LEVEL, seed=SEED))
        out["bins"] = {"num_bins": int(nb), "range": [_num(br[0]), _num(br[1])]}
    for space, g in models.groupby("space", sort=True):
        out["scatter"].append({"space": str(space), "flops": [_num(v) for v in g["flops"]],
                               "error": [_num(v) for v in g["error"]], "trial_id": [str(v) for v in g["trial_id"]],
                               "n_trials": [int(v) for v in g["n_trials"]]})
    return out


def model_detail(path: str, sweep: str, trial_id: str) -> dict | None:
    """The model of trial `trial_id` in `sweep`: its spec, complexity, recipe, every trial of it
    (seeds) and their per-epoch records; None when the sweep holds no such trial."""
    cols = ("trial_id", "space", "spec_id", "spec", "regime", "dataset", "recipe", "seed", "flops", "params", "acts",
            "status", "error", "train_loss", "epochs", "seconds", "images_per_s", "device", "attempts", "message")
    con = connect(path, create=False)
    try:
        row = con.execute(f"SELECT {', '.join(cols)} FROM trials WHERE trial_id = ? AND sweep = ?",
                          (trial_id, sweep)).fetchone()
        if row is None:
            return None
        model = dict(zip(cols, row))
        sib_cols = ("trial_id", "seed", "status", "error", "seconds")
        trials = [dict(zip(sib_cols, r)) for r in con.execute(
            f"SELECT {', '.join(sib_cols)} FROM trials WHERE sweep = ? AND spec_id = ? AND recipe IS ? "
            "ORDER BY seed, trial_id", (sweep, model["spec_id"], model["recipe"]))]
    finally:
        con.close()
    for key in ("spec", "recipe"):
        model[key] = json.loads(model[key]) if model[key] else None
    epochs = load_epochs(path, sweep, trial_ids=[t["trial_id"] for t in trials])
    for t in trials:
        e = epochs[epochs["trial_id"] == t["trial_id"]]
        t["epochs"] = {c: [_num(v) for v in e[c]] for c in ("epoch", "train_loss", "test_error", "lr", "seconds")}
        t["error"], t["seconds"] = _num(t["error"]), _num(t["seconds"])
    model["trials"] = trials
    for key in ("error", "train_loss", "epochs", "seconds", "images_per_s"):
        model[key] = _num(model[key])
    return model
