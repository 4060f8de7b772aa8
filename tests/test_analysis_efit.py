"""e_fit: recovery on generated RegNets, large on random AnyNetXA widths."""
import numpy as np
import pytest

from designspace.analysis import block_widths, fit_regnet
from designspace.analysis.efit import THRESHOLDS
from designspace.spaces import get_space
from designspace.spaces.regnet import generate_regnet, regnet_spec


def _fit(specs, **kw):
    return fit_regnet([s.widths for s in specs], [s.depths for s in specs], **kw)


def test_block_widths_expand_stages_by_depth():
    bw, d = block_widths([[8, 16], [24, 48, 96]], [[2, 1], [1, 0, 2]])
    np.testing.assert_array_equal(d, [3, 3])
    np.testing.assert_array_equal(bw, [[8, 8, 16], [24, 96, 96]])


def test_generated_regnets_fit_exactly():
    # b = 1 and g = 8 leave the generator's widths (multiples of 8) untouched by the compatibility step
    rng = np.random.default_rng(0)
    specs, params = [], []
    while len(specs) < 150:
        d = int(rng.integers(4, 40))
        w0 = float(8 * rng.integers(2, 17))
        wa = float(np.round(np.exp(rng.uniform(np.log(8), np.log(100))), 1))
        wm = float(np.round(rng.uniform(1.6, 2.9), 3))
        specs.append(regnet_spec(d, w0, wa, wm, group_width=8))
        params.append((d, w0, wa, wm))
    fit = _fit(specs)
    assert (fit["e_fit"] < 1e-12).mean() >= 0.95
    assert fit["e_fit"].max() < np.log(1.1)  # the few misses sit on a neighbouring plateau (widths within 10%)
    np.testing.assert_array_equal(fit["d"], [p[0] for p in params])
    # the fitted parameters are equivalent: they regenerate the observed block widths
    exact = fit[fit["e_fit"] < 1e-12]
    regen = generate_regnet(exact["w0"], exact["wa"], exact["wm"], exact["d"])[0]
    observed, _ = block_widths([specs[i].widths for i in exact.index], [specs[i].depths for i in exact.index])
    np.testing.assert_array_equal(np.where(regen > 0, regen, 0), observed.astype(np.int64))


def test_one_known_regnet_recovers_its_parameters_plateau():
    spec = regnet_spec(13, 24, 36.44, 2.49, group_width=8)  # RegNetX-200MF's width rule
    fit = _fit([spec]).iloc[0]
    assert fit["e_fit"] == 0.0
    assert fit["w0"] == 24 and fit["d"] == 13
    ws = generate_regnet(fit["w0"], fit["wa"], fit["wm"], 13)[0][0]
    np.testing.assert_array_equal(ws, np.repeat(spec.widths, spec.depths))


@pytest.fixture(scope="module")
def sampled():
    return {name: get_space(name).sample(200, seed=5, regime="fashion-mnist") for name in ("RegNetX", "AnyNetXA")}


def test_sampled_regnets_fit_well_and_random_anynet_widths_do_not(sampled):
    reg = _fit(sampled["RegNetX"])["e_fit"]
    anyA = _fit(sampled["AnyNetXA"])["e_fit"]
    # sampled RegNets: most exact; the rest moved only by the width/group compatibility rounding
    assert reg.median() < 1e-3
    assert (reg < THRESHOLDS["25%"]).mean() > 0.95  # widths within 25% of the fit on average
    assert anyA.median() > THRESHOLDS["25%"]
    assert anyA.median() > 100 * max(reg.median(), 1e-4)


def test_refinement_never_worsens_the_grid_fit(sampled):
    specs = sampled["AnyNetXA"][:60] + sampled["RegNetX"][:60]
    coarse = _fit(specs, refine=0)["e_fit"].to_numpy()
    refined = _fit(specs, refine=4)["e_fit"].to_numpy()
    assert np.all(refined <= coarse + 1e-12)


@pytest.mark.parametrize("metric", ["logratio", "squared"])
def test_e_fit_matches_its_definition(sampled, metric):
    specs = sampled["AnyNetXA"][:20]
    fit = fit_regnet([s.widths for s in specs], [s.depths for s in specs], metric=metric)
    bw, d = block_widths([s.widths for s in specs], [s.depths for s in specs])
    regen = generate_regnet(fit["w0"], fit["wa"], fit["wm"], fit["d"])[0]
    for i in range(len(specs)):
        k = d[i]
        diff = np.log(bw[i, :k]) - np.log(np.maximum(regen[i, :k], 1))
        expect = np.mean(np.abs(diff)) if metric == "logratio" else np.mean(diff**2)
        assert fit["e_fit"].iloc[i] == pytest.approx(expect, rel=1e-9, abs=1e-12)


def test_parts_split_by_depth_fit_exactly_as_the_whole():
    """split_by_depth's groups, each fitted with the whole population's largest d, give the same
    rows, bit for bit, as fitting everything at once (what lets a pool fit e_fit in parts)."""
    import numpy as np

    from designspace.analysis.efit import split_by_depth
    from designspace.spaces import get_space

    specs = [s for k, name in enumerate(("AnyNetXA", "AnyNetXE", "RegNetX"))
             for s in get_space(name).sample(40, seed=k, regime="fashion-mnist")]
    widths, depths = [s.widths for s in specs], [s.depths for s in specs]
    whole = fit_regnet(widths, depths)
    parts, dmax = split_by_depth(depths)
    assert len(parts) == 2 and all(len(p) for p in parts)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(specs)))
    buckets = [{-(-sum(depths[i]) // 8) * 8 for i in p} for p in parts]
    assert not buckets[0] & buckets[1]  # whole buckets of the grid stage, never shared
    for rows in parts:
        fit = fit_regnet([widths[i] for i in rows], [depths[i] for i in rows], pad_to=dmax)
        assert fit.to_numpy().tobytes() == whole.iloc[rows].to_numpy().tobytes()
