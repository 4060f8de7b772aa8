"""`designspace reproduce` end to end: a tiny suite trained for real (Ray, torch, SQLite), judged."""
import json

import yaml

from designspace.cli import main
from designspace.store import load

SUITE = {
    "suite": "smoke", "tier": "cpu",
    "defaults": {"regime": "fashion-mnist", "flops": "1.5M:3M", "seed": 0,
                 "dataset": {"name": "synthetic", "train_size": 192, "test_size": 96},
                 "recipe": {"epochs": 1, "batch_size": 64, "train_size": 192, "test_size": 96},
                 "resources": {"cpus": 1, "gpus": 0}},
    "statistics": {"resamples": 200},
    "sweeps": {"tiny": {"spaces": ["AnyNetXE", "RegNetX[wm=2]"], "models_per_space": 3}},
    "claims": [{"id": 6, "text": "wm = 2 is better", "figure": "Fig. 9", "parts": [
        {"name": "median error RegNetX[wm=2] - AnyNetXE", "statistic": "median_diff",
         "a": {"sweep": "tiny", "space": "RegNetX[wm=2]"}, "b": {"sweep": "tiny", "space": "AnyNetXE"},
         "expect": "less"}]}],
}


def test_reproduce_runs_missing_sweeps_then_judges(tmp_path, capsys):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    out = tmp_path / "paper"
    rc = main(["reproduce", str(path), "--out", str(out), "--no-progress", "--no-figures"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "sweep 1/1 tiny" in err and "6 to train; 6 left in the suite" in err
    df = load(str(out / "tiny.db"))
    assert len(df) == 6 and set(df["status"]) == {"done"} and set(df["sweep"]) == {"tiny"}
    res = json.loads((out / "smoke" / "claims.json").read_text())
    claim = res["claims"][0]
    assert claim["verdict"] in ("holds", "contradicted", "not resolved")
    eff = claim["parts"][0]["effect"]
    assert eff["n"] == {"a": 3, "b": 3} and eff["lo"] <= eff["estimate"] <= eff["hi"]
    assert res["run"]["command"].startswith("designspace reproduce") and res["run"]["machine"]
    assert res["sweeps"]["tiny"]["done"] == 6 and res["sweeps"]["tiny"]["planned"] == 6
    # a rerun trains nothing (resumed), and judging again gives the same numbers
    assert main(["reproduce", str(path), "--out", str(out), "--no-progress", "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "all 6 trials already in" in err and "0 to train" in err
    again = json.loads((out / "smoke" / "claims.json").read_text())["claims"][0]["parts"][0]["effect"]
    assert (again["estimate"], again["lo"], again["hi"]) == (eff["estimate"], eff["lo"], eff["hi"])
    assert main(["reproduce", str(path), "--out", str(out), "--analyze-only"]) == 0
    assert (out / "smoke" / "report.html").read_text().count("<img src='data:image/png;base64,") == 1
