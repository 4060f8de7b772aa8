"""Trends, complexity fits and random-search efficiency: known answers."""
import numpy as np
import pandas as pd
import pytest

from designspace.analysis import (
    best_model_trends,
    best_of_m,
    best_range,
    complexity_fits,
    design_parameters,
    done_trials,
    error_trend,
    error_trends,
    linear_fit,
    model_efit,
    search_efficiency,
)
from designspace.analysis.synthetic import write_synthetic_store
from designspace.store import load


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("trends") / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "RegNetX"), n=120, seed=1)
    return done_trials(load(db))


def test_best_of_m_known_answers():
    out = best_of_m([1.0, 2.0], [1, 2]).set_index("m")
    assert out.loc[1, "expected"] == pytest.approx(1.5)
    assert out.loc[2, "expected"] == pytest.approx(0.75 * 1 + 0.25 * 2)  # best is 2 only if both draws are 2
    e = np.random.default_rng(0).normal(10, 2, 300)
    big = best_of_m(e, [1, 10000]).set_index("m")
    assert big.loc[1, "expected"] == pytest.approx(e.mean())
    assert big.loc[10000, "expected"] == pytest.approx(e.min(), abs=1e-6)


def test_best_of_m_matches_simulation():
    rng = np.random.default_rng(1)
    e = rng.gamma(3.0, 2.0, 500)
    m = 20
    sim = e[rng.integers(0, e.size, (20000, m))].min(axis=1)
    row = best_of_m(e, [m], level=0.9).iloc[0]
    assert row["expected"] == pytest.approx(sim.mean(), rel=0.01)
    assert row["lo"] <= row["median"] <= row["hi"]
    inside = ((sim >= row["lo"]) & (sim <= row["hi"])).mean()
    assert 0.88 <= inside <= 0.97


def test_search_efficiency_decreases_with_m(store):
    eff = search_efficiency(store)
    assert set(eff["space"]) == {"AnyNetXA", "RegNetX"}
    for _, g in eff.groupby("space"):
        assert np.all(np.diff(g["expected"]) <= 1e-12)
        assert g["m"].iloc[0] == 1


def test_linear_fit_recovers_a_line():
    x = np.linspace(0, 10, 50)
    fit = linear_fit(x, 3 * x + 2)
    assert fit["slope"] == pytest.approx(3) and fit["intercept"] == pytest.approx(2) and fit["r2"] == pytest.approx(1)


def test_complexity_fits_rows(store):
    fits = complexity_fits(store)
    assert list(fits["relation"]) == ["params ~ flops", "acts ~ sqrt(flops)"]
    assert np.all(fits["n"] == len(store))
    assert np.all(fits["slope"] > 0)  # more flops, more params and activations
    per_space = complexity_fits(store, by="space")
    assert len(per_space) == 4


def test_best_range_finds_the_optimum():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, 400)
    err = (x - 6.0) ** 2 + rng.normal(0, 0.3, x.size)
    band = best_range(x, err, n_boot=1000)
    assert band["lo"] <= 6.0 <= band["hi"]
    assert abs(band["median"] - 6.0) < 0.7


def test_error_trend_bins_partition_the_models():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"d": rng.integers(1, 60, 300).astype(float), "error": rng.normal(10, 1, 300)})
    bins, band = error_trend(df, "d", num_bins=6)
    assert bins["n"].sum() == 300 and len(bins) <= 6
    assert np.all(bins["best"] <= bins["median"])
    few = pd.DataFrame({"b": rng.choice([1.0, 2.0, 4.0], 90), "error": rng.normal(10, 1, 90)})
    fb, _ = error_trend(few, "b")
    assert sorted(fb["x"]) == [1.0, 2.0, 4.0]


def test_design_parameters_use_regnet_meta_or_the_fit(store):
    fit = model_efit(store)
    params = design_parameters(store, fit)
    reg = params["space"] == "RegNetX"
    np.testing.assert_array_equal(params.loc[reg, "w0"], store.loc[reg, "w0"])
    np.testing.assert_array_equal(params.loc[~reg, "wm"], fit.loc[~reg, "fit_wm"])
    assert params[["d", "b", "g", "w0", "wa", "wm", "e_fit"]].notna().all().all()
    bins, bands = error_trends(params)
    assert set(bands["parameter"]) == {"d", "b", "g", "w0", "wa", "wm"}
    best = best_model_trends(params, num_bins=4)
    assert best.groupby("space").size().max() <= 4
    # each row is the lowest-error model of its flops bin
    for (space, b), g in best.groupby(["space", "flops_bin"]):
        assert len(g) == 1
