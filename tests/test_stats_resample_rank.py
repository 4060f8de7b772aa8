"""The statistics core's resampler (designspace.stats.resample) and rank correlations
(designspace.stats.rank): draws reproducible and chunk-free, strata kept, percentile bounds that skip
NaN replicates, Kendall's Fisher-z interval covering at its nominal rate, bootstrap replicates equal to
scipy's statistic on the same rows, and the one wording of an interval method."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from designspace.stats import rank, resample
from designspace.stats.intervals import describe_interval


def test_indices_are_seeded_draws_with_replacement():
    a, b = resample.indices(3, 50, 200), resample.indices(3, 50, 200)
    assert a.shape == (200, 50) and a.min() >= 0 and a.max() <= 49
    assert np.array_equal(a, b)
    assert not np.array_equal(a, resample.indices(4, 50, 200))
    # with replacement: about 1 - 1/e of the models appear in a replicate
    share = np.mean([np.unique(row).size / 50 for row in a])
    assert 0.6 < share < 0.66


def test_no_units_draw_nothing():
    rng = np.random.default_rng(1)
    assert resample.indices(rng, 0, 7).shape == (7, 0)
    assert rng.integers(0, 1000) == np.random.default_rng(1).integers(0, 1000)  # the stream did not move


def test_strata_keep_each_group_and_its_size():
    labels = np.array(["b"] * 7 + ["a"] * 13 + ["c"] * 5)
    rng = np.random.default_rng(2)
    idx = resample.indices(rng, labels.size, 300, strata=labels)
    for g in "abc":
        cols = labels == g
        assert np.all(labels[idx[:, cols]] == g)  # a unit of stratum g is replaced by one of g
    # each stratum's draws are the plain resample of that stratum, strata in sorted order
    rng = np.random.default_rng(2)
    a = np.flatnonzero(labels == "a")[rng.integers(0, 13, (300, 13))]
    assert np.array_equal(idx[:, labels == "a"], a)
    with pytest.raises(ValueError):
        resample.indices(0, 5, 3, strata=["a", "b"])


def test_chunks_bound_memory_without_changing_the_replicates():
    one = resample.indices(5, 300, 1000)
    parts = [c[0] for c in resample.chunks(5, (300,), 1000, chunk=resample.chunk_size(300, elements=70_000))]
    assert [p.shape[0] for p in parts] == [233, 233, 233, 233, 68]
    assert np.array_equal(np.vstack(parts), one)
    # two arms: within a chunk, arm a's draws then arm b's, from the one stream
    rng = np.random.default_rng(9)
    expect = []
    for b in (400, 400, 200):
        expect.append((rng.integers(0, 30, (b, 30)), rng.integers(0, 45, (b, 45))))
    got = list(resample.chunks(9, (30, 45), 1000, chunk=400))
    assert len(got) == 3
    for (ea, eb), (ga, gb) in zip(expect, got):
        assert np.array_equal(ea, ga) and np.array_equal(eb, gb)


def test_counts_are_each_replicates_draws_per_unit():
    idx = resample.indices(0, 40, 25)
    c = resample.counts(idx, 40)
    assert c.shape == (25, 40) and np.all(c.sum(axis=1) == 40)
    for row, cr in zip(idx, c):
        assert np.array_equal(np.bincount(row, minlength=40), cr)


def test_percentile_bounds_skip_nan_replicates_per_column():
    rng = np.random.default_rng(3)
    reps = rng.normal(size=(500, 3))
    reps[rng.random(500) < 0.2, 1] = np.nan
    reps[:, 2] = np.nan
    lo, hi = resample.percentile_bounds(reps, 0.9, omit_nan=True)
    tails = [(1 - 0.9) / 2, (1 + 0.9) / 2]
    assert (lo[0], hi[0]) == tuple(np.quantile(reps[:, 0], tails))
    finite = reps[:, 1][np.isfinite(reps[:, 1])]
    assert (lo[1], hi[1]) == tuple(np.quantile(finite, tails))
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    plain_lo, plain_hi = resample.percentile_bounds(reps[:, 0], 0.9)
    assert (plain_lo, plain_hi) == (lo[0], hi[0])


def test_kendall_fisher_z_interval_covers():
    tau = 2 / math.pi * math.asin(0.6)  # Kendall's tau of a bivariate normal with r = 0.6
    rng = np.random.default_rng(0)
    hits, reps, level = 0, 1000, 0.9
    for _ in range(reps):
        x = rng.standard_normal(40)
        lo, hi = rank.kendall_interval(x, 0.6 * x + 0.8 * rng.standard_normal(40)).bounds(level)
        hits += lo <= tau <= hi
    assert hits / reps >= level - 3 * math.sqrt(level * (1 - level) / reps) - 0.02


def test_kendall_within_strata_is_the_size_weighted_mean_with_its_stated_interval():
    rng = np.random.default_rng(4)
    g = np.repeat(["A", "B", "C"], [30, 50, 2])  # C: too small for a tau, left out
    x = rng.normal(size=g.size)
    y = x + rng.normal(size=g.size)
    ta, tb = (st.kendalltau(x[g == s], y[g == s]).statistic for s in "AB")
    expect = (30 * ta + 50 * tb) / 80
    iv = rank.kendall_interval(x, y, strata=g)
    assert iv.estimate == pytest.approx(expect, rel=1e-12)
    n_eff = g.size - 2
    half = st.norm.ppf(0.95) * math.sqrt(0.437 / (n_eff - 4))
    assert iv.bounds(0.9) == pytest.approx((math.tanh(math.atanh(expect) - half),
                                            math.tanh(math.atanh(expect) + half)), rel=1e-12)
    assert rank.kendall_interval(x, y).estimate == pytest.approx(st.kendalltau(x, y).statistic, rel=1e-12)
    assert math.isnan(rank.kendall_interval([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).estimate)


def test_bootstrap_replicates_are_scipys_statistics_of_the_resampled_pairs():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=60), 1)  # ties: average ranks, tau-b
    y = np.round(x + rng.normal(size=60), 1)
    reps = rank.bootstrap_correlations(x, y, 50, seed=8, kendall_resamples=20)
    idx = resample.indices(8, 60, 50)
    assert reps["spearman"].shape == (50,) and reps["kendall"].shape == (20,)
    for r, i in enumerate(idx):
        assert reps["spearman"][r] == pytest.approx(st.spearmanr(x[i], y[i]).statistic, abs=1e-12)
    for r, i in enumerate(idx[:20]):
        assert reps["kendall"][r] == pytest.approx(st.kendalltau(x[i], y[i]).statistic, abs=1e-12)


def test_fidelity_and_calibration_take_their_correlations_from_the_core():
    from designspace.analysis.fidelity import rank_correlation
    from designspace.calibration.analysis import fidelity

    rng = np.random.default_rng(6)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    corr = rank_correlation(x, y, n_boot=300, level=0.9, seed=2).set_index("statistic")
    reps = rank.bootstrap_correlations(x, y, 300, seed=2)
    assert tuple(corr.loc["spearman", ["lo", "hi"]]) == tuple(resample.percentile_bounds(reps["spearman"], 0.9))
    assert corr.attrs["interval"] == "90% percentile bootstrap interval over model pairs (300 resamples, seed 2)"
    g = pd.Series(np.repeat(["s1", "s2"], 40))
    fid = fidelity(pd.Series(x), pd.Series(y), g, 0.9, 5)
    assert fid["kendall_within_ci"] == list(rank.kendall_interval(x, y, strata=g.to_numpy()).bounds(0.9))
    assert fid["spearman_within_ci"] == list(rank.spearman_interval(x, y, strata=g.to_numpy()).bounds(0.9))


def test_one_wording_of_an_interval_method():
    assert describe_interval("percentile bootstrap", 0.9, 1000) == \
        "90% percentile bootstrap interval over models (1,000 resamples)"
    assert describe_interval("percentile bootstrap", 0.95, 200, seed=3) == \
        "95% percentile bootstrap interval over models (200 resamples, seed 3)"
    assert describe_interval("order-statistic", 0.975, unit="model pairs") == \
        "97.5% order-statistic interval over model pairs (exact, no resampling)"
