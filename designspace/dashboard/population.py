"""The numbers behind a sweep's plots, and one model's spec and per-epoch curve.

A sweep's numbers are those of `designspace analyze` on the same trials: the analysis library's one
result (designspace.analysis.analyze -> AnalysisResult, with the report's default settings), of which
the page shows the error EDFs (plain and complexity-normalized, with bootstrap bands, or the
sentence saying why a figure cannot be drawn), the ranking of the spaces with intervals, the notes,
and every model's error against its flops. Every value is JSON-ready (NaN -> None).
"""
from __future__ import annotations

import json
import math

from ..analysis import analyze
from ..analysis.figures import order
from ..analysis.result import figure_dict, records, settings_dict
from ..errors import UsageError
from ..store import connect, load_epochs

FIGURES = ("edf", "edf_normalized")  # the result's figures the page draws
RANKING = ("rank", "space", "n", "trials", "median", "median_lo", "median_hi", "best",
           "median_normalized", "ks_p_vs_best")


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def sweep_population(path: str, sweep: str) -> dict:
    """{trials, models, settings, figures, ranking, scatter, notes} of one sweep of the store at `path`;
    `missing` says why there is nothing to show yet."""
    out = {"sweep": sweep, "trials": 0, "models": 0, "figures": {}, "ranking": [], "scatter": [], "notes": [],
           "missing": None}
    try:
        result = analyze(path, sweeps=[sweep])
    except UsageError as exc:
        if "finished" in str(exc) or "no trials" in str(exc):  # nothing to analyse yet: not an error
            out["missing"] = "no finished model yet"
            return out
        raise
    by, models = result.by, result.tables["models"]
    out.update(trials=result.n_trials, models=result.n_models, settings=settings_dict(result.settings),
               figures={name: figure_dict(result.figures[name]) for name in FIGURES if name in result.figures},
               ranking=records(result.tables["ranking"][[c for c in RANKING if c in result.tables["ranking"]]]),
               notes=[n.text for n in result.notes if n.kind in ("warning", "setting")])
    groups = dict(iter(models.groupby(by, sort=False)))
    for group in order(list(groups)):
        g = groups[group]
        out["scatter"].append({"space": str(group), "flops": [_num(v) for v in g["flops"]],
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
