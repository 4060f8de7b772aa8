"""`designspace calibrate`: one fixed sample of models trained at several budgets (real Ray, torch and
SQLite on the synthetic dataset), fidelity and reliability measured, the declared rule applied."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from designspace.calibration.analysis import fidelity, recommend, reliability
from designspace.calibration.config import parse_calibration
from designspace.cli import main
from designspace.store import load

CONFIG = {
    "name": "tiny", "spaces": ["RegNetX", "AnyNetXE"], "models_per_space": 3, "seed": 0,
    "regime": "fashion-mnist", "flops": "1.5M:3M", "dataset": {"name": "synthetic", "train_size": 192, "test_size": 96},
    "recipe": {"batch_size": 64}, "resources": {"cpus": 1, "gpus": 0},
    "repeat": {"models_per_space": 1, "train_seed": 1}, "reference": "long",
    "budgets": {"short": {"epochs": 1, "train_size": 64, "test_size": 96},
                "long": {"epochs": 2, "train_size": 192, "test_size": 96}},
    "decision": {"level": 0.9, "fidelity_bar": 0.0, "effects": [1.0], "power": 0.8, "alpha": 0.05},
}


def test_calibrate_trains_the_same_specs_at_every_budget_and_resumes(tmp_path, capsys):
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "store_dir": str(tmp_path / "cal")}))
    assert main(["calibrate", str(path), "--no-progress", "--json"]) == 0
    first = capsys.readouterr()
    result = json.loads(first.out)
    short, long = (load(str(tmp_path / "cal" / f"{b}.db")) for b in ("short", "long"))
    def main_ids(df, sweep):
        return set(df.loc[df["sweep"] == sweep, "spec_id"])
    assert main_ids(short, "short") == main_ids(long, "long") and len(main_ids(long, "long")) == 6
    assert main_ids(short, "short-seed1") <= main_ids(short, "short") and len(main_ids(short, "short-seed1")) == 2
    assert set(short.loc[short["sweep"] == "short-seed1", "seed"]) == {1}
    assert set(short["status"]) == {"done"} and len(short) == len(long) == 8
    entry = result["budgets"]["short"]
    assert entry["models"] == 6 and entry["core_seconds_per_model"] > 0 and entry["seed_pairs"] == 2
    rho = entry["fidelity"]["spearman_within"]
    assert entry["fidelity"]["n"] == 6 and "fidelity" not in result["budgets"]["long"]
    assert rho != rho or -1 <= rho <= 1  # NaN when a tiny budget's errors all tie
    for name in ("calibration.json", "calibration.md", "calibration.png"):
        assert (tmp_path / "cal" / name).is_file()
    # rerun: every sweep resumes, nothing is trained again
    assert main(["calibrate", str(path), "--no-progress"]) == 0
    assert "already in" in capsys.readouterr().err
    assert len(load(str(tmp_path / "cal" / "short.db"))) == 8


def test_fidelity_recovers_a_planted_rank_correlation():
    rng = np.random.default_rng(0)
    spaces = np.repeat(["A", "B", "C"], 40)
    truth = rng.standard_normal(120) + np.repeat([0.0, 3.0, 6.0], 40)  # spaces far apart: pooled rho is high
    noisy = truth + rng.normal(0, 1.0, 120)  # within a space: rho ~ 0.7
    out = fidelity(pd.Series(noisy), pd.Series(truth), pd.Series(spaces), 0.9, 5)
    planted = np.mean([pd.Series(noisy[spaces == s]).corr(pd.Series(truth[spaces == s]), method="spearman")
                       for s in "ABC"])
    lo, hi = out["spearman_within_ci"]
    assert lo <= planted <= hi and 0.5 < out["spearman_within"] < 0.85
    assert out["spearman_pooled"] > out["spearman_within"] and out["space_order_agrees"]


def test_reliability_counts_seed_and_test_noise_against_the_spread():
    main_ = pd.DataFrame({"spec_id": list("abcdef"), "space": list("xxxyyy"), "error": [10, 20, 30, 15, 25, 35.0]})
    rep = pd.DataFrame({"spec_id": ["a", "d"], "error": [12.0, 13.0]})
    out = reliability(main_, rep, test_size=10_000)
    assert out["seed_sd"] == pytest.approx(np.sqrt((4 + 4) / 2 / 2)) and out["seed_pairs"] == 2
    assert out["spread_sd"] == pytest.approx(10.0) and 0.9 < out["reliability"] < 1.0


def test_the_rule_picks_the_cheapest_budget_that_clears_the_bar():
    cfg = parse_calibration({**CONFIG, "store_dir": "x", "decision": {**CONFIG["decision"], "fidelity_bar": 0.5}})
    table = {
        "cheap-bad": {"eligible": False, "decide": {"1": {"reference_points": {"core_hours": 1.0}}}},
        "mid": {"eligible": True, "decide": {"1": {"reference_points": {"core_hours": 5.0}}}},
        "dear": {"eligible": True, "decide": {"1": {"reference_points": {"core_hours": 9.0}}}},
    }
    assert recommend(cfg, table)["budget"] == "mid"
    assert recommend(cfg, {k: dict(v, eligible=False) for k, v in table.items()})["budget"] is None


@pytest.mark.parametrize("change, needle", [
    ({"reference": "nope"}, "reference 'nope' is not one of the budgets"),
    ({"decision": {"fidelity_bar": 1.5}}, "fidelity_bar"),
    ({"decision": {"fidelity_bar": -2}}, "fidelity_bar"),
    ({"budgets": {"long": {"epochs": 2}}}, "budgets"),
    ({"bogus": 1}, "unknown key 'bogus'"),
])
def test_bad_calibration_configs_are_one_line_and_exit_2(tmp_path, capsys, change, needle):
    raw = {**CONFIG, "store_dir": str(tmp_path / "c"), **change}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["calibrate", str(path), "--analyze-only"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_calibrate_recovers_a_planted_correlation_between_its_budgets(tmp_path, capsys):
    """Stores of two budgets over the same specs, their errors planted with a known within-space rank
    correlation, read by `calibrate --analyze-only`: the interval holds the planted value, the report
    states each space's medians and the run's span, and the bar decides eligibility."""
    from designspace.analysis.synthetic import synthetic_trials
    from designspace.store import write_trials

    rng = np.random.default_rng(4)
    rows = synthetic_trials(spaces=("RegNetX", "AnyNetXE"), n=40, seed=0, noise=0.0, slope=0.0, penalty=0.0)
    truth = rng.standard_normal(len(rows)) + np.array([0.0 if r["space"] == "RegNetX" else 3.0 for r in rows])
    cheap = truth + rng.normal(0, 0.75, len(rows))
    store_dir = tmp_path / "cal"
    store_dir.mkdir()
    for budget, errors in (("short", cheap), ("long", truth)):
        write_trials(str(store_dir / f"{budget}.db"),
                     [dict(r, sweep=budget, trial_id=f"{budget}-{i}", error=float(20 + e), started_at=1.8e9 + i,
                           finished_at=1.8e9 + i + 10.0, seconds=10.0) for i, (r, e) in enumerate(zip(rows, errors))])
    spaces = np.array([r["space"] for r in rows])
    planted = np.mean([pd.Series(cheap[spaces == s]).corr(pd.Series(truth[spaces == s]), method="spearman")
                       for s in ("RegNetX", "AnyNetXE")])
    path = tmp_path / "cal.yaml"
    for bar, eligible in ((0.3, True), (0.95, False)):
        config = {**CONFIG, "store_dir": str(store_dir), "decision": {**CONFIG["decision"], "fidelity_bar": bar}}
        path.write_text(yaml.safe_dump(config))
        assert main(["calibrate", str(path), "--analyze-only", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        entry = result["budgets"]["short"]
        lo, hi = entry["fidelity"]["spearman_within_ci"]
        assert lo <= planted <= hi and 0.6 < entry["fidelity"]["spearman_within"] < 0.95
        assert entry["eligible"] is eligible and (result["recommended"]["budget"] == "short") is eligible
        assert result["most_faithful"] == "short"
        assert set(entry["space_medians"]) == {"RegNetX", "AnyNetXE"}
        assert entry["space_medians"]["AnyNetXE"] > entry["space_medians"]["RegNetX"] + 2
    report = (store_dir / "calibration.md").read_text()
    assert "## Median error per space" in report
    assert "160 finished trials from 2027-01-15 08:00 to 2027-01-15 08:01 UTC (89 s" in report
