"""Sweeps on a real local Ray (started once for this module): failing trials, diverging trials,
resume without duplicates, config validation (exit 2 with the key named)."""
import os
import sqlite3

import pytest
import yaml

from designspace import store
from designspace.cli import main as cli
from designspace.sweep import parse_config, plan_trials, run_sweep

BASE = {
    "spaces": ["AnyNetXA", "RegNetX"],
    "models_per_space": 3,
    "flops": "0.2M:1M",
    "dataset": {"name": "synthetic", "train_size": 256, "test_size": 128},
    "recipe": {"epochs": 1, "batch_size": 64},
}


def config(tmp_path, **changes):
    raw = {**BASE, "name": "t", "store": str(tmp_path / "results.db"), **changes}
    return parse_config(raw)


def rows(db, sweep=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    q = "SELECT * FROM trials" + (" WHERE sweep = ?" if sweep else "")
    out = {r["trial_id"]: dict(r) for r in con.execute(q, (sweep,) if sweep else ())}
    con.close()
    return out


def test_failing_trial_is_stored_and_the_sweep_goes_on(ray_cluster, explode_family, tmp_path):
    # Every model of RegNetX+explode carries the test plugin's explode option, whose build raises.
    cfg = config(tmp_path, name="fails", spaces=["AnyNetXA", "RegNetX+explode", "RegNetX"], models_per_space=2)
    victims = {t["spec_id"] for t in plan_trials(cfg) if t["space"] == "RegNetX+explode"}
    counts = run_sweep(cfg, progress=False)
    got = rows(cfg.store, "fails")
    assert len(got) == 6 and counts["failed"] == 2 and counts["done"] == 4
    failed = [r for r in got.values() if r["status"] == "failed"]
    assert len(victims) == 2 and {r["spec_id"] for r in failed} == victims
    assert all(r["message"].startswith("RuntimeError: explode family: this network cannot be built")
               and "explode_family.py" in r["message"] for r in failed)
    done = [r for r in got.values() if r["status"] == "done"]
    assert all(0 <= r["error"] <= 100 and r["images_per_s"] > 0 and r["started_at"] for r in done)
    assert {r["space"] for r in done} == {"AnyNetXA", "RegNetX"}

    # Rerunning resumes: nothing to do, nothing duplicated, rows unchanged.
    again = run_sweep(cfg, progress=False)
    assert again["skipped"] == 6 and again["done"] == again["failed"] == 0
    assert rows(cfg.store, "fails") == got


def test_diverging_trials_are_recorded_as_diverged(ray_cluster, tmp_path):
    cfg = config(tmp_path, name="nan", spaces=["AnyNetXA"], models_per_space=2,
                 recipe={**BASE["recipe"], "batch_size": 32, "lr": 1e6})
    counts = run_sweep(cfg, progress=False)
    got = list(rows(cfg.store, "nan").values())
    assert counts["diverged"] == 2 and len(got) == 2
    assert all(r["status"] == "diverged" and r["error"] is None and "non-finite" in r["message"] for r in got)


def test_partial_store_is_completed_without_duplicates(ray_cluster, tmp_path):
    cfg = config(tmp_path, name="partial", models_per_space=2)
    plan = plan_trials(cfg)
    early = dict(plan[0], status="done", error=12.5, train_loss=0.5, epochs=1.0, seconds=1.0, images_per_s=1.0)
    store.write_trial(cfg.store, early)
    counts = run_sweep(cfg, progress=False)
    got = rows(cfg.store, "partial")
    assert counts["skipped"] == 1 and len(got) == len(plan) == 4
    assert got[plan[0]["trial_id"]]["error"] == 12.5  # the earlier row is kept as it was
    summary = {s["sweep"]: s for s in store.summary(cfg.store)}["partial"]
    assert summary["planned"] == summary["stored"] == 4


def test_status_command_prints_counts(ray_cluster, tmp_path, capsys):
    cfg = config(tmp_path, name="st", spaces=["RegNetX"], models_per_space=2)
    run_sweep(cfg, progress=False)
    capsys.readouterr()
    assert cli(["status", cfg.store]) == 0
    out = capsys.readouterr().out
    assert "sweep st: 2 of 2 planned stored" in out and "RegNetX" in out


def test_plan_is_deterministic_and_ids_depend_on_recipe(tmp_path):
    a = [t["trial_id"] for t in plan_trials(config(tmp_path))]
    b = [t["trial_id"] for t in plan_trials(config(tmp_path))]
    c = [t["trial_id"] for t in plan_trials(config(tmp_path, recipe={"epochs": 2}))]
    assert a == b and len(set(a)) == 6 and not set(a) & set(c)


def write_yaml(tmp_path, **changes):
    raw = {**BASE, "name": "bad", "store": str(tmp_path / "r.db"), **changes}
    raw = {k: v for k, v in raw.items() if v is not None}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.mark.parametrize("changes, key", [
    ({"modelz_per_space": 3}, "modelz_per_space"),
    ({"models_per_space": -1}, "models_per_space"),
    ({"recipe": {"lr": "fast"}}, "recipe.lr"),
    ({"recipe": {"momentun": 0.9}}, "recipe.momentun"),
    ({"resources": {"gpu": 1}}, "resources.gpu"),
    ({"resources": {"cpus": -1}}, "resources.cpus"),
    ({"spaces": ["AnyNetXZ"]}, "spaces"),
    ({"flops": "lots"}, "flops"),
    ({"regime": "mars"}, "regime"),
    ({"dataset": {"name": "synthetic", "colour": 1}}, "dataset.colour"),
    ({"name": None}, "name"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, changes, key):
    path = write_yaml(tmp_path, **changes)
    assert cli(["sweep", path]) == 2
    err = capsys.readouterr().err.strip()
    assert key in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not os.path.exists(tmp_path / "r.db")


def test_missing_dataset_exits_2_naming_the_file(tmp_path, capsys):
    path = write_yaml(tmp_path, dataset={"name": "fashion-mnist", "dir": str(tmp_path / "nowhere")})
    assert cli(["sweep", path]) == 2
    err = capsys.readouterr().err.strip()
    assert "train-images-idx3-ubyte.gz" in err and "apt-get install" in err and len(err.splitlines()) == 1
    assert not os.path.exists(tmp_path / "r.db")


def test_missing_or_invalid_yaml(tmp_path, capsys):
    assert cli(["sweep", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml not found" in capsys.readouterr().err
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [unclosed\n")
    assert cli(["sweep", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_gpus_per_trial_is_validated(tmp_path, capsys):
    assert cli(["sweep", write_yaml(tmp_path), "--gpus-per-trial", "1.5"]) == 2
    assert "--gpus-per-trial" in capsys.readouterr().err
