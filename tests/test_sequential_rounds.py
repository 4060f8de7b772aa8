"""A sequential suite run in rounds for real (Ray, torch, SQLite) on the synthetic dataset, with tiny
looks: each look extends the same sweeps' plans, a part decided early stops its sweeps growing, an
undecided part is capped at the last look, and a rerun replays the looks without training."""
import json
import re
import sqlite3

import pytest
import yaml

from designspace import store
from designspace.cli import main
from designspace.errors import UsageError
from designspace.sweep import parse_config, plan_trials, run_sweep

DEFAULTS = {"regime": "fashion-mnist", "flops": "1.5M:3M", "seed": 0,
            "dataset": {"name": "synthetic", "train_size": 128, "test_size": 64},
            "recipe": {"epochs": 1, "batch_size": 64, "train_size": 128, "test_size": 64},
            "resources": {"cpus": 1, "gpus": 0}}
SUITE = {
    "suite": "seq", "tier": "cpu", "schema": 2,
    "schedule": {"kind": "sequential", "looks": [3, 4, 5], "spending": "obrien_fleming"},
    "defaults": DEFAULTS,
    "statistics": {"level": 0.9},
    "sweeps": {"small": {"spaces": ["RegNetX"], "models_per_space": 5, "flops": "0.2M:0.4M"},
               "large": {"spaces": ["RegNetX"], "models_per_space": 5, "flops": "2.5M:3M"},
               "same": {"spaces": ["AnyNetXE"], "models_per_space": 5}},
    "claims": [
        # flops are fixed by sampling: disjoint flops bands decide at the first look
        {"id": 1, "text": "the small band has fewer flops", "figure": "-", "parts": [
            {"name": "median flops small - large", "statistic": "median_diff", "expect": "less",
             "a": {"sweep": "small", "space": "RegNetX", "value": "flops"},
             "b": {"sweep": "large", "space": "RegNetX", "value": "flops"}}]},
        # an arm against itself: the paired differences are all 0, never decided, capped at the last look
        {"id": 2, "text": "an arm against itself", "figure": "-", "parts": [
            {"name": "median error same - same", "statistic": "median_diff", "expect": "less",
             "a": {"sweep": "same", "space": "AnyNetXE"}, "b": {"sweep": "same", "space": "AnyNetXE"}}]},
    ],
}


def trial_ids(db, sweep):
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT trial_id FROM trials WHERE sweep = ? AND status = 'done'", (sweep,))}
    finally:
        con.close()


def test_sequential_suite_runs_in_rounds_and_replays(ray_cluster, tmp_path, capsys):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    out = tmp_path / "paper"
    rc = main(["reproduce", str(path), "--out", str(out), "--no-progress", "--no-figures"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "look 1/3 judged" in err and "still growing: same" in err and "look 3/3 judged" in err
    # claim 1's sweeps stopped at the first look; the open part's sweep grew to the cap
    assert len(trial_ids(out / "small.db", "small")) == 3 and len(trial_ids(out / "large.db", "large")) == 3
    grown = trial_ids(out / "same.db", "same")
    assert len(grown) == 5
    first3 = plan_trials(parse_config({**DEFAULTS, **SUITE["sweeps"]["same"], "name": "same", "models_per_space": 3,
                                       "store": str(out / "same.db")}))
    assert {t["trial_id"] for t in first3} < grown  # each look added models, never replaced them
    res = json.loads((out / "seq" / "claims.json").read_text())
    one, two = (c["parts"][0] for c in res["claims"])
    assert one["verdict"] == "holds" and one["sequential"]["look"] == 1 and one["sequential"]["decided"]
    assert one["effect"]["n"] == {"a": 3, "b": 3}
    assert one["sequential"]["level"] == pytest.approx(res["schedule"]["levels"][0])
    assert two["verdict"] == "not resolved" and two["sequential"]["look"] == 3 and two["sequential"]["capped"]
    assert two["effect"]["n"] == {"a": 5, "b": 5}
    assert [r["models_per_space"] for r in res["schedule"]["rounds"]] == [
        {"small": 3, "large": 3, "same": 3}, {"small": 3, "large": 3, "same": 4}, {"small": 3, "large": 3, "same": 5}]
    assert sum(res["schedule"]["levels"]) == pytest.approx(0.05)
    md = (out / "seq" / "claims.md").read_text()
    assert "sequential: look 1 (models per space: small 3, large 3)" in md and "capped" in md
    # a rerun trains nothing and replays the same looks; --analyze-only does too
    for extra in ([], ["--analyze-only"]):
        assert main(["reproduce", str(path), "--out", str(out), "--no-progress", "--no-figures", *extra]) == 0
        err = capsys.readouterr().err
        assert not re.search(r"\b[1-9]\d* done", err), err
        if not extra:
            assert "sweep same: all 5 trials already in" in err and "sweep small: all 3 trials already in" in err
        again = json.loads((out / "seq" / "claims.json").read_text())
        assert [c["verdict"] for c in again["claims"]] == [c["verdict"] for c in res["claims"]]
        assert again["claims"][0]["parts"][0]["sequential"]["look"] == 1
        assert again["claims"][1]["parts"][0]["effect"]["n"] == {"a": 5, "b": 5}
    # the extended plan is the stored one; shrinking it, or growing it with another change, is refused
    def cfg(**ch):
        return parse_config({**DEFAULTS, **SUITE["sweeps"]["same"], "name": "same", "store": str(out / "same.db"),
                             **ch})
    recorded = store.get_sweep(store.connect(str(out / "same.db"), create=False), "same")
    assert recorded["identity"]["models_per_space"] == 5 and set(recorded["plan"]) == grown
    with pytest.raises(UsageError, match="models_per_space: 5 -> 4"):
        run_sweep(cfg(models_per_space=4), progress=False)
    with pytest.raises(UsageError, match="seed: 0 -> 1"):
        run_sweep(cfg(models_per_space=6, seed=1), progress=False)
