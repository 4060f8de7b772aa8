"""Populations: stores and tables read as trials, sweeps selected, repeats aggregated into models."""
import argparse
import json

import numpy as np
import pandas as pd
import pytest

from designspace.analysis.population import model_table, pooled_std, read_population
from designspace.analysis.synthetic import synthetic_trials
from designspace.errors import UsageError
from designspace.store import load, write_trials
from designspace.table import spec_rows, write_rows


def repeated_rows(n=20, repeats=3, sweep="s", recipe=None, spaces=("AnyNetXA", "RegNetX"), noise=0.3, seed=0):
    """n models per space, each trained `repeats` times (seeds 0..repeats-1) with known errors."""
    base = synthetic_trials(spaces=spaces, n=n, seed=seed, sweep=sweep)
    rng = np.random.default_rng(seed)
    rows = []
    for r in base:
        offsets = rng.normal(0, noise, repeats)
        for s in range(repeats):
            rows.append(dict(r, seed=s, trial_id=f"{sweep}-{r['trial_id']}-{s}", error=r["error"] + offsets[s],
                             recipe=recipe or r["recipe"]))
    return rows


def test_repeats_are_one_model_each(tmp_path):
    db = str(tmp_path / "r.db")
    rows = repeated_rows(n=20, repeats=3)
    write_trials(db, rows)
    trials = read_population([db])
    assert len(trials) == 120 and set(trials["source"]) == {db}
    models = model_table(trials)
    assert models.groupby("population").size().to_dict() == {"AnyNetXA": 20, "RegNetX": 20}
    assert (models["n_trials"] == 3).all()
    # the model's error is the mean of its three trials, its std their sample std
    by_spec = pd.DataFrame(rows).groupby(["space", "spec_id"])["error"]
    expect = by_spec.mean()
    got = models.set_index(["space", "spec_id"])["error"]
    np.testing.assert_allclose(got.loc[expect.index].to_numpy(), expect.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(models.set_index(["space", "spec_id"])["error_std"].loc[expect.index].to_numpy(),
                               by_spec.std(ddof=1).to_numpy(), rtol=1e-12)
    # pooled seed-to-seed spread recovers the planted noise (0.3) roughly
    assert 0.2 < pooled_std(models) < 0.4
    table = pooled_std(models, by="population")
    assert list(table["models_with_repeats"]) == [20, 20] and list(table["dof"]) == [40.0, 40.0]
    assert model_table(trials, how="min")["error"].sum() < models["error"].sum()


def test_single_trials_have_no_spread(tmp_path):
    db = str(tmp_path / "r.db")
    write_trials(db, synthetic_trials(spaces=("AnyNetXE",), n=15, seed=1, failed=0.2))
    trials = read_population([db])
    models = model_table(trials)
    assert len(models) == (trials["status"] == "done").sum() < 15
    assert models["error_std"].isna().all() and (models["n_trials"] == 1).all()
    assert np.isnan(pooled_std(models))
    assert models.attrs["trials"] == 15 and models.attrs["models"] == len(models)
    with pytest.raises(UsageError, match="aggregation"):
        model_table(trials, how="mode")


def two_sweep_store(path):
    write_trials(path, repeated_rows(n=10, repeats=1, sweep="proxy", recipe={"epochs": 1})
                 + repeated_rows(n=10, repeats=1, sweep="long", recipe={"epochs": 10}))
    return path


def test_sweeps_with_different_recipes_are_not_pooled_silently(tmp_path):
    db = two_sweep_store(str(tmp_path / "r.db"))
    with pytest.raises(UsageError) as exc:
        read_population([db])
    msg = str(exc.value)
    assert "proxy" in msg and "long" in msg and "--sweep" in msg and "\n" not in msg
    assert "10 epochs" in msg and "1 epochs" in msg
    one = read_population([db], sweeps=["proxy"])
    assert set(one["sweep"]) == {"proxy"} and set(one["population"]) == {"AnyNetXA", "RegNetX"}
    both = read_population([db], sweeps=["proxy", "long"])
    assert set(both["population"]) == {"proxy:AnyNetXA", "proxy:RegNetX", "long:AnyNetXA", "long:RegNetX"}
    assert len(model_table(both)) == 40  # same specs, different recipes: different models
    pooled = read_population([db], sweeps=["all"])
    assert set(pooled["population"]) == {"AnyNetXA", "RegNetX"} and len(pooled) == 40
    assert len(model_table(pooled)) == 40  # recipes differ, so still distinct models
    with pytest.raises(UsageError, match="no sweep named nope"):
        read_population([db], sweeps=["nope"])
    with pytest.raises(UsageError, match="all"):
        read_population([db], sweeps=["all", "proxy"])


def test_sweeps_of_one_recipe_pool_and_repeats_across_them_aggregate(tmp_path):
    db = str(tmp_path / "r.db")
    write_trials(db, repeated_rows(n=10, repeats=1, sweep="a") + repeated_rows(n=10, repeats=1, sweep="b"))
    trials = read_population([db])
    assert set(trials["population"]) == {"AnyNetXA", "RegNetX"} and len(trials) == 40
    assert len(model_table(trials)) == 20 and (model_table(trials)["n_trials"] == 2).all()


def test_two_stores_side_by_side(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a, b = str(tmp_path / "x" / "results.db"), str(tmp_path / "y" / "results.db")
    write_trials(a, synthetic_trials(spaces=("RegNetX",), n=8, seed=0))
    write_trials(b, synthetic_trials(spaces=("RegNetX",), n=8, seed=0))
    df = read_population([a, b])
    assert set(df["population"]) == {"x/results:RegNetX", "y/results:RegNetX"}
    assert len(model_table(df)) == 16


def sample_rows(space="RegNetX", n=12, seed=0):
    from designspace.complexity import complexity
    from designspace.regimes import get_regime
    from designspace.spaces import get_space

    regime = get_regime("cifar")
    specs = get_space(space).sample(n, seed=seed, regime=regime)
    rows = spec_rows(specs, complexity(specs, regime), regime.name)
    rng = np.random.default_rng(seed)
    for r in rows:
        r["error"] = float(10 + rng.normal())
    return rows


@pytest.mark.parametrize("ext", [".jsonl", ".csv", ".parquet"])
def test_tables_from_elsewhere(tmp_path, ext):
    rows = sample_rows()
    path = str(tmp_path / f"mine{ext}")
    write_rows(rows, path)
    df = read_population([path])
    assert len(df) == 12 and set(df["space"]) == {"RegNetX"} and (df["status"] == "done").all()
    assert df["widths"].iloc[0] == rows[0]["widths"] and isinstance(df["depths"].iloc[0], list)
    assert list(df["flops"]) == [r["flops"] for r in rows]
    assert (df["d"] == df["depths"].map(sum)).all() and "w1" in df and "d4" in df
    models = model_table(df)
    assert len(models) == 12 and list(models["spec_id"]) == [r["id"] for r in rows]


def test_table_without_flops_or_space_gets_them(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("flops", "params", "acts", "space")} for r in sample_rows()]
    path = str(tmp_path / "bare.jsonl")
    write_rows(rows, path)
    df = read_population([path])
    expect = [r["flops"] for r in sample_rows()]
    assert list(df["flops"].astype(int)) == expect and set(df["space"]) == {"bare"}


def test_bad_sources_are_one_line_errors(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(UsageError, match="cannot read"):
        read_population([str(junk)])
    text = tmp_path / "t.jsonl"
    text.write_text("not json\n")
    with pytest.raises(UsageError, match="cannot read"):
        read_population([str(text)])
    noerr = tmp_path / "n.csv"
    noerr.write_text("id,flops\na,1\n")
    with pytest.raises(UsageError, match="error"):
        read_population([str(noerr)])
    with pytest.raises(UsageError, match="no result store at"):
        read_population([str(tmp_path / "missing.db")])
    bad_db = tmp_path / "bad.db"
    bad_db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(UsageError):
        read_population([str(bad_db)])


def test_load_types(tmp_path):
    db = str(tmp_path / "r.db")
    write_trials(db, synthetic_trials(spaces=("RegNetX", "AnyNetXA"), n=5, seed=0))
    df = load(db)
    assert isinstance(df["recipe"].iloc[0], dict) and isinstance(df["widths"].iloc[0], list)
    assert str(df["finished_at"].dtype).startswith("datetime64") and "depth" not in df
    assert (df["d"] == df["depths"].map(sum)).all()
    assert json.loads(df["spec"].iloc[0])["stages"]


def test_add_population_args():
    from designspace.commands.population_args import add_population_args

    p = add_population_args(argparse.ArgumentParser())
    args = p.parse_args(["a.db", "b.csv", "--sweep", "x", "--sweep", "y"])
    assert args.sources == ["a.db", "b.csv"] and args.sweep == ["x", "y"]
    assert p.parse_args(["a.db"]).sweep is None
