"""Bootstrap bands and intervals (coverage on simulated data), KS tests and the ranking table."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from designspace.analysis import (
    bootstrap_edf,
    bootstrap_statistics,
    done_trials,
    edf_values,
    ks_pairs,
    ks_test,
    normalized_weights,
    rank_spaces,
)
from designspace.analysis.synthetic import write_synthetic_store
from designspace.store import load

_MC = 3 * (0.9 * 0.1 / 1000) ** 0.5  # 3 binomial standard errors of a 90% coverage rate over 1,000 runs


@pytest.fixture(scope="module")
def shifted_store(tmp_path_factory):
    """Two real spaces; RegNetX errors shifted up by 2 points (no other difference in the model)."""
    db = str(tmp_path_factory.mktemp("stats") / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXE", "RegNetX"), n=150, seed=3, slope=0.0, penalty=0.0,
                          shift={"RegNetX": 2.0}, failed=0.05)
    return done_trials(load(db))


def test_shifted_space_ranked_worse_and_ks_detects_it(shifted_store):
    table = rank_spaces(shifted_store)
    assert list(table["space"]) == ["AnyNetXE", "RegNetX"]
    assert list(table["rank"]) == [1, 2]
    worse = table.iloc[1]
    assert worse["median"] - table.iloc[0]["median"] == pytest.approx(2.0, abs=0.6)
    assert worse["ks_p_vs_best"] < 1e-6
    assert np.isnan(table.iloc[0]["ks_p_vs_best"])
    # intervals bracket their estimates; the minimum has none (no distribution-free interval exists)
    for stat in ("q10", "q25", "median", "mean"):
        assert np.all(table[f"{stat}_lo"] <= table[stat] + 1e-12)
        assert np.all(table[stat] <= table[f"{stat}_hi"] + 1e-12)
    assert table["best_lo"].isna().all() and table["best_hi"].isna().all()


def test_ranking_intervals_are_exact_order_statistics_and_seed_free(shifted_store):
    """The median's interval is [x_(l), x_(u)] with binomial ranks: no resampling, so nothing moves with a seed."""
    from designspace.stats.intervals import order_statistic_ranks

    table = rank_spaces(shifted_store, level=0.9).set_index("space")
    for space, row in table.iterrows():
        v = np.sort(shifted_store.loc[shifted_store["space"] == space, "error"].to_numpy())
        lo_r, hi_r = order_statistic_ranks(len(v), 0.5, 0.9)
        assert (row["median_lo"], row["median_hi"]) == (v[lo_r - 1], v[hi_r - 1])
        assert row["median"] == pytest.approx(np.median(v))
    wider = rank_spaces(shifted_store, level=0.99).set_index("space")
    assert (wider["median_hi"] - wider["median_lo"] > table["median_hi"] - table["median_lo"]).all()


def test_ranking_median_interval_covers_at_stated_rate():
    rng = np.random.default_rng(5)
    sims, hits = 1000, 0
    for _ in range(sims):
        df = pd.DataFrame({"space": "a", "error": rng.exponential(1.0, 60)})
        row = rank_spaces(df, level=0.9).iloc[0]
        hits += row["median_lo"] <= np.log(2.0) <= row["median_hi"]
    # exact intervals cover at least the level (conservative by the ranks' discreteness)
    assert hits / sims >= 0.9 - _MC


def test_ks_does_not_flag_two_halves_of_one_population(shifted_store):
    e = shifted_store.loc[shifted_store["space"] == "AnyNetXE", "error"].to_numpy()
    assert ks_test(e[::2], e[1::2])["pvalue"] > 0.01
    pairs = ks_pairs(shifted_store)
    assert len(pairs) == 1 and pairs["pvalue"].iloc[0] < 1e-6


def test_failed_rows_are_not_analysed(shifted_store):
    assert (shifted_store["status"] == "done").all()
    assert shifted_store["error"].notna().all()
    assert len(shifted_store) < 300


def test_pointwise_band_covers_true_cdf_at_stated_rate():
    rng = np.random.default_rng(0)
    grid = np.array([-1.0, 0.0, 1.0])
    truth = stats.norm.cdf(grid)
    hits = np.zeros(3)
    sims = 1000
    for s in range(sims):
        band = bootstrap_edf(rng.standard_normal(200), grid, n_boot=300, level=0.9, seed=s)
        hits += (band["lo"] <= truth) & (truth <= band["hi"])
    coverage = hits / sims
    assert np.all(np.abs(coverage - 0.9) <= _MC), coverage


def test_simultaneous_band_covers_whole_true_curve_at_stated_rate():
    rng = np.random.default_rng(1)
    grid = np.linspace(-2.5, 2.5, 101)
    truth = stats.norm.cdf(grid)
    sims, hits = 1000, 0
    for s in range(sims):
        band = bootstrap_edf(rng.standard_normal(200), grid, n_boot=300, level=0.9, band="simultaneous", seed=s)
        hits += bool(np.all((band["lo"] <= truth) & (truth <= band["hi"])))
    assert abs(hits / sims - 0.9) <= _MC, hits / sims


def test_normalized_band_estimate_is_the_normalized_edf():
    rng = np.random.default_rng(2)
    values, cx = rng.normal(10, 1, 300), rng.uniform(0, 1, 300) ** 3  # skewed complexity
    grid = np.linspace(7, 13, 50)
    band = bootstrap_edf(values, grid, complexity=cx, num_bins=5, n_boot=200)
    expected = edf_values(values, grid, normalized_weights(cx, 5))
    np.testing.assert_allclose(band["cdf"], expected, atol=1e-12)
    assert np.all(band["lo"] <= band["cdf"] + 1e-12) and np.all(band["cdf"] <= band["hi"] + 1e-12)


def test_bootstrap_interval_of_the_mean_covers_at_stated_rate():
    rng = np.random.default_rng(3)
    sims, hits = 1000, 0
    for s in range(sims):
        st = bootstrap_statistics(rng.exponential(1.0, 150), ["mean", "median"], n_boot=300, level=0.9, seed=s)
        mean = st.set_index("statistic").loc["mean"]
        hits += mean["lo"] <= 1.0 <= mean["hi"]
    # no slack beyond Monte-Carlo error, though a percentile interval of a skewed population's mean
    # under-covers by O(1/n) (0.874 here, at the lower edge)
    assert abs(hits / sims - 0.9) <= _MC, hits / sims


def test_bootstrap_statistics_known_estimates():
    st = bootstrap_statistics(np.arange(1.0, 101.0), n_boot=50).set_index("statistic")["estimate"]
    assert st["best"] == 1.0
    assert st["median"] == pytest.approx(50.5)
    assert st["mean"] == pytest.approx(50.5)
    assert st["q10"] == pytest.approx(np.quantile(np.arange(1.0, 101.0), 0.1))


def test_edf_bands_name_columns_as_edf_does():
    from designspace.analysis import edf, edf_bands

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"space": np.repeat(["A", "B"], 60), "flops": rng.uniform(1, 2, 120),
                       "err": rng.normal(10, 1, 120)})
    curves = edf(df, value="err")
    bands = edf_bands(df, value="err", grid=curves["err"].unique(), n_boot=50)
    assert list(bands.columns) == ["space", "err", "cdf", "lo", "hi"]
    np.testing.assert_allclose(bands["cdf"], curves["cdf"])
    assert (bands["lo"] <= bands["cdf"] + 1e-12).all() and (bands["cdf"] <= bands["hi"] + 1e-12).all()


def test_normalized_band_matches_a_brute_force_index_bootstrap():
    """The bands come from multinomial counts over (complexity bin, grid interval) cells; they must
    match resampling model indices and recomputing every replicate's normalized weights, including
    models outside the bin range (weight 0)."""
    rng = np.random.default_rng(7)
    n, grid, nb, br = 240, np.linspace(6, 14, 25), 4, (0.05, 0.9)
    values, cx = rng.normal(10, 1.5, n), rng.uniform(0, 1, n) ** 2
    values[cx > 0.5] -= 1.0  # error depends on complexity, so the weights matter
    band = bootstrap_edf(values, grid, complexity=cx, num_bins=nb, bin_range=br, n_boot=4000, seed=1)
    curves = []
    for _ in range(4000):
        idx = rng.integers(0, n, n)
        curves.append(edf_values(values[idx], grid, normalized_weights(cx[idx], nb, br)))
    lo, hi = np.quantile(np.array(curves), [0.05, 0.95], axis=0)
    np.testing.assert_allclose(band["lo"], lo, atol=0.025)
    np.testing.assert_allclose(band["hi"], hi, atol=0.025)
    plain = bootstrap_edf(values, grid, n_boot=4000, seed=2)
    ref = np.array([edf_values(values[rng.integers(0, n, n)], grid, np.full(n, 1 / n)) for _ in range(4000)])
    np.testing.assert_allclose(plain["lo"], np.quantile(ref, 0.05, axis=0), atol=0.025)
    np.testing.assert_allclose(plain["hi"], np.quantile(ref, 0.95, axis=0), atol=0.025)


def test_ranking_of_tiny_populations_keeps_estimates_and_leaves_unbounded_ends_empty():
    table = rank_spaces(pd.DataFrame({"space": ["a", "b", "b"], "error": [3.0, 1.0, 2.0]})).set_index("space")
    assert table.loc["a", "mean"] == 3.0 and table.loc["a", "median"] == 3.0  # one model: its own error
    assert np.isnan(table.loc["a", "mean_lo"]) and np.isnan(table.loc["b", "median_lo"])  # no exact bound at n <= 4
    from designspace.report.page import interval

    assert interval(3.0, float("nan"), float("nan")) == "3.000 [–, –]"
