"""Complexity control as nds does it, random-search efficiency with normalized draws, proxy fidelity."""
import warnings

import numpy as np
import pandas as pd
import pytest

from designspace.analysis import (
    best_of_m,
    choose_bins,
    common_range,
    edf,
    group_weights,
    proxy_fidelity,
    rank_correlation,
    search_efficiency,
    top_k_overlap,
)


def two_spaces(rng, n=300, gap=False):
    a = rng.uniform(0, 10, n)
    b = rng.uniform(0, 10, n)
    if gap:  # space B has no model between 4 and 6
        b = np.where((b > 4) & (b < 6), b - 2.5, b)
    df = pd.DataFrame({"space": ["A"] * n + ["B"] * n, "flops": np.r_[a, b],
                       "error": np.r_[10 - 0.3 * a, 10.5 - 0.3 * b] + rng.normal(0, 0.5, 2 * n)})
    return df


def test_bins_shared_over_the_common_range():
    df = pd.DataFrame({"space": ["A"] * 4 + ["B"] * 4, "flops": [1, 2, 3, 9, 2, 5, 6, 12], "error": 1.0})
    assert common_range(df) == (2.0, 9.0)
    chosen = choose_bins(df, max_bins=1, min_per_bin=1)
    assert chosen["num_bins"] == 1 and chosen["bin_range"] == (2.0, 9.0)
    assert chosen["outside"] == {"A": 1, "B": 1}
    assert any("outside the common flops range" in w for w in chosen["warnings"])  # never a silent drop


def test_full_bins_need_no_warning():
    df = two_spaces(np.random.default_rng(0))
    chosen = choose_bins(df, max_bins=10, min_per_bin=3)
    assert chosen["num_bins"] == 10
    assert not [w for w in chosen["warnings"] if "bins instead" in w]
    assert all(min(c) >= 3 for c in chosen["counts"].values())


def test_an_empty_bin_gives_a_warning_and_fewer_bins():
    df = two_spaces(np.random.default_rng(1), gap=True)
    chosen = choose_bins(df, max_bins=10, min_per_bin=3)
    assert chosen["num_bins"] < 10
    assert any("bins instead of 10" in w for w in chosen["warnings"])
    assert all(min(c) >= 3 for c in chosen["counts"].values())
    # the normalized EDF refuses the empty bin rather than renormalizing B over the bins it has
    with pytest.raises(ValueError, match="space B has no model"):
        edf(df, normalize="flops", num_bins=10)
    curves = edf(df, normalize="flops", num_bins=chosen["num_bins"], bin_range=chosen["bin_range"])
    assert np.allclose(curves.groupby("space")["cdf"].last(), 1.0)


def test_too_few_models_anywhere_is_one_bin_and_said():
    df = pd.DataFrame({"space": ["A"] * 10 + ["B"] * 2, "flops": np.r_[np.arange(10.0), [3.0, 6.0]],
                       "error": 1.0})
    chosen = choose_bins(df, max_bins=5, min_per_bin=3)
    assert chosen["num_bins"] == 1 and any("fewer than 3 models" in w for w in chosen["warnings"])


def test_normalized_random_search_matches_brute_force_monte_carlo():
    rng = np.random.default_rng(2)
    # skewed complexity: most models cheap, and cheap models are worse
    flops = np.r_[rng.uniform(0, 2, 400), rng.uniform(2, 10, 100)]
    err = 12 - 0.5 * flops + rng.normal(0, 0.7, flops.size)
    df = pd.DataFrame({"space": "S", "flops": flops, "error": err})
    w = group_weights(df, "flops", num_bins=5, bin_range=(0, 10))
    assert w.sum() == pytest.approx(1.0)
    ms = [1, 4, 16]
    exact = best_of_m(err, ms, weights=w).set_index("m")
    uniform = best_of_m(err, ms).set_index("m")
    reps = 40000
    for m in ms:
        draws = rng.choice(err.size, size=(reps, m), p=w)  # nds: random.choices with the normalized weights
        sim = err[draws].min(axis=1)
        se = sim.std() / np.sqrt(reps)
        assert abs(exact.loc[m, "expected"] - sim.mean()) < 4 * se, m
        inside = ((sim >= exact.loc[m, "lo"]) & (sim <= exact.loc[m, "hi"])).mean()
        assert inside >= 0.88
    # the weights matter here: uniform draws favour the many cheap (worse) models
    assert uniform.loc[1, "expected"] - exact.loc[1, "expected"] > 0.5
    eff = search_efficiency(df, weights="normalized", num_bins=5, bin_range=(0, 10), max_models=16)
    got = eff.set_index("m").loc[16, "expected"]
    assert got == pytest.approx(exact.loc[16, "expected"]) and set(eff["weights"]) == {"normalized"}


def test_search_efficiency_picks_its_bins_and_warns():
    df = two_spaces(np.random.default_rng(3), gap=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eff = search_efficiency(df)
    assert any("bins instead" in str(c.message) for c in caught)
    assert set(eff["space"]) == {"A", "B"}


def test_planted_spearman_is_recovered_within_its_interval():
    rng = np.random.default_rng(4)
    n, rho = 300, 0.7
    # a Gaussian pair with Pearson r has Spearman 6/pi asin(r/2); plant Spearman rho
    r = 2 * np.sin(np.pi * rho / 6)
    z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], n)
    corr = rank_correlation(z[:, 0], z[:, 1], n_boot=800, level=0.95, seed=0).set_index("statistic")
    sp = corr.loc["spearman"]
    assert sp["lo"] <= rho <= sp["hi"]
    assert sp["hi"] - sp["lo"] < 0.2 and sp["pvalue"] < 1e-10
    tau_planted = 2 / np.pi * np.arcsin(r)  # Kendall's tau of a Gaussian pair
    kt = corr.loc["kendall"]
    assert kt["lo"] <= kt["estimate"] <= kt["hi"] and abs(kt["estimate"] - tau_planted) < 0.06


def test_top_k_overlap_and_proxy_pairs():
    assert top_k_overlap([1, 2, 3, 4], [1, 2, 4, 3], ks=(1, 2, 3)).set_index("k")["overlap"].to_dict() == \
        {1: 1.0, 2: 1.0, 3: 2 / 3}
    assert top_k_overlap([1, 2, 3, 4], [4, 3, 2, 1], ks=(2,))["overlap"].iloc[0] == 0.0
    models = pd.DataFrame({"context": ["a"] * 6 + ["b"] * 6, "space": "S",
                           "spec_id": list("uvwxyz") * 2, "error": list(range(6)) + list(range(6))[::-1]})
    fid = proxy_fidelity(models, "a", "b", n_boot=50)
    assert len(fid["pairs"]) == 6
    assert fid["correlation"].set_index("statistic").loc["spearman", "estimate"] == pytest.approx(-1.0)
