"""EDFs: known answers, and the normalized EDF against the plain one."""
import numpy as np
import pandas as pd
import pytest

from designspace.analysis import complexity_bins, edf, edf_values, normalized_weights


def test_edf_values_known_answer():
    got = edf_values([3.0, 1.0, 4.0, 2.0], [0.0, 1.0, 2.5, 4.0, 5.0])
    np.testing.assert_allclose(got, [0.0, 0.25, 0.5, 1.0, 1.0])


def test_weighted_edf_known_answer():
    got = edf_values([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], weights=[2.0, 1.0, 1.0])
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0])


def test_normalized_weights_make_each_bin_count_equally():
    # bin 0 holds three models, bin 1 one model: each bin gets 1/2, shared inside the bin
    w = normalized_weights([0.0, 0.1, 0.2, 1.0], num_bins=2)
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert w.sum() == pytest.approx(1.0)


def test_complexity_bins_edges_and_outside():
    np.testing.assert_array_equal(complexity_bins([0, 4.9, 5, 10, 11], num_bins=2, bin_range=(0, 10)),
                                  [0, 0, 1, 1, -1])
    # models outside the range get no weight
    assert normalized_weights([0, 5, 11], num_bins=2, bin_range=(0, 10))[2] == 0


def _frame(flops, errors, space="S"):
    return pd.DataFrame({"space": space, "flops": flops, "error": errors})


def test_normalized_equals_plain_when_complexity_uniform_across_bins():
    rng = np.random.default_rng(0)
    flops = np.repeat(np.arange(10) + 0.5, 30)  # 30 models in each of 10 bins
    errors = rng.normal(10 - 0.3 * flops, 1.0)  # error depends on complexity
    df = _frame(flops, errors)
    plain = edf(df)
    norm = edf(df, normalize="flops", num_bins=10)
    np.testing.assert_allclose(norm["cdf"], plain["cdf"], atol=1e-12)


def test_normalized_differs_when_complexity_skewed():
    rng = np.random.default_rng(1)
    # 90% of models in the cheap half, and cheap models are worse
    flops = np.concatenate([rng.uniform(0, 5, 270), rng.uniform(5, 10, 30)])
    errors = np.where(flops < 5, 12.0, 8.0) + rng.normal(0, 0.5, flops.size)
    df = _frame(flops, errors)
    plain = edf(df)["cdf"].to_numpy()
    norm = edf(df, normalize="flops", num_bins=2, bin_range=(0, 10))["cdf"].to_numpy()
    assert np.max(np.abs(norm - plain)) > 0.3
    # normalized: half the mass on each bin -> F(10) ~ 0.5 (the good half), plain ~ 0.1
    grid = edf(df)["error"].to_numpy()
    at10 = np.searchsorted(grid, 10.0)
    assert norm[at10] == pytest.approx(0.5, abs=0.02)
    assert plain[at10] == pytest.approx(0.1, abs=0.02)


def test_edf_frame_is_tidy_monotone_and_ends_at_one():
    rng = np.random.default_rng(2)
    df = pd.concat([_frame(rng.uniform(1, 2, 50), rng.normal(10, 1, 50), "A"),
                    _frame(rng.uniform(1, 2, 80), rng.normal(11, 1, 80), "B")])
    for normalize in (None, "flops"):
        out = edf(df, normalize=normalize)
        assert list(out.columns) == ["space", "error", "cdf"]
        for _, g in out.groupby("space"):
            assert np.all(np.diff(g["cdf"]) >= -1e-12)
            assert g["cdf"].iloc[-1] == pytest.approx(1.0)
            assert g["cdf"].iloc[0] == 0.0
