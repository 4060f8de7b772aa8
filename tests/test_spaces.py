import numpy as np
import pytest

from designspace import UsageError, complexity, get_space, space_names
from designspace.spaces.common import adjust_block_compatibility, log_uniform, ordered_draws
from designspace.spaces.regnet import generate_regnet, regnet_stages

ANYNET = ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE"]
ALL = ANYNET + ["RegNetX", "RegNetY"]


@pytest.fixture(scope="module")
def samples():
    return {name: get_space(name).sample(200, seed=0) for name in ALL}


def _shared_g_consistent(spec):
    """A shared group width G, capped per stage by the bottleneck width (pycls compatibility)."""
    big = max(spec.group_widths)
    return all(g == min(big, int(w / b)) for w, b, g in zip(spec.widths, spec.bottleneck_ratios, spec.group_widths))


def test_registry_lists_every_space_and_rejects_unknown_names():
    assert set(ALL) <= set(space_names())
    assert get_space("anynetxe").name == "AnyNetXE"
    with pytest.raises(UsageError, match="valid: .*AnyNetXA"):
        get_space("AnyNetXZ")


@pytest.mark.parametrize("name", ALL)
def test_every_sample_satisfies_its_constraints_and_band(samples, name):
    specs = samples[name]
    assert len(specs) == 200 and len({s.id for s in specs}) == 200
    cx = complexity(specs, "imagenet")
    assert np.all((cx["flops"] >= 360e6) & (cx["flops"] <= 400e6))
    for spec in specs:
        assert len(spec.stages) == 4 and spec.strides == [2, 2, 2, 2]
        assert spec.space == name
        for st in spec.stages:
            assert st.width % 8 == 0 and st.width >= 8
            assert st.bottleneck_ratio in (1, 2, 4)
            w_b = st.width / st.bottleneck_ratio
            assert st.group_width in (1, 2, 4, 8, 16, 32) or st.group_width == w_b  # capped when narrow
            assert w_b % st.group_width == 0 and st.group_width <= w_b
            assert st.se_ratio == (0.25 if name == "RegNetY" else 0.0)
            if name in ANYNET:  # RegNet widths follow the generator, beyond 1024 too (as the zoo's)
                assert 1 <= st.depth <= 16 and st.width <= 1024
        if name != "AnyNetXA":
            assert len(set(spec.bottleneck_ratios)) == 1
        if name not in ("AnyNetXA", "AnyNetXB"):
            assert _shared_g_consistent(spec)
        if name in ("AnyNetXD", "AnyNetXE") or name.startswith("RegNet"):
            assert spec.widths == sorted(spec.widths)
        if name == "AnyNetXE":
            assert spec.depths == sorted(spec.depths)
        if name.startswith("RegNet"):
            m = spec.meta
            assert m["d"] == sum(spec.depths) and 1 <= m["d"] < 64
            assert 8 <= m["w0"] <= 256 and m["w0"] % 8 == 0 and 1 <= m["wa"] <= 256 and 1.5 <= m["wm"] <= 3
            widths, depths = regnet_stages(m["d"], m["w0"], m["wa"], m["wm"])
            assert depths == spec.depths
            compat, _ = adjust_block_compatibility(widths, spec.bottleneck_ratios, [m["sampled_group_width"]] * 4)
            assert compat.tolist() == spec.widths


def test_anynet_a_does_vary_b_and_g_per_stage(samples):
    assert any(len(set(s.bottleneck_ratios)) > 1 for s in samples["AnyNetXA"])
    assert any(len(set(s.group_widths)) > 1 for s in samples["AnyNetXB"])
    assert any(s.widths != sorted(s.widths) for s in samples["AnyNetXC"])
    assert any(s.depths != sorted(s.depths) for s in samples["AnyNetXD"])


@pytest.mark.parametrize("name", ["AnyNetXE", "RegNetY"])
def test_sampling_is_deterministic_in_the_seed(name):
    space = get_space(name)
    a, b, c = (space.sample(30, seed=s, regime="cifar") for s in (7, 7, 8))
    assert [s.id for s in a] == [s.id for s in b]
    assert [s.id for s in a] != [s.id for s in c]


@pytest.mark.parametrize("regime", ["cifar", "fashion-mnist"])
def test_small_regimes_use_their_default_band(regime):
    from designspace import get_regime

    lo, hi = get_regime(regime).default_flops
    cx = complexity(get_space("AnyNetXA").sample(20, regime=regime), regime)
    assert np.all((cx["flops"] >= lo) & (cx["flops"] <= hi))


def test_unreachable_band_stops_with_the_reachable_range():
    with pytest.raises(UsageError, match=r"reachable in this space: [\d.]+M\.\.[\d.]+G"):
        get_space("AnyNetXE").sample(5, flops=(1e3, 2e3))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_model_counts(bad):
    with pytest.raises(UsageError):
        get_space("AnyNetXA").sample(bad)


def test_depth_distribution_is_pycls_log_uniform():
    rng = np.random.default_rng(0)
    d = log_uniform(rng, 1, 16, 1, 200_000)
    p = np.bincount(d.astype(int), minlength=17)[1:] / d.size
    np.testing.assert_allclose(p[[0, 1, 2, 3, 15]], [0.200, 0.200, 0.117, 0.083, 0.019], atol=0.004)
    w = log_uniform(rng, 8, 1024, 8, 200_000)
    assert abs(np.mean(w == 8) - 0.125) < 0.004 and w.min() == 8 and w.max() == 1024 and np.all(w % 8 == 0)


def test_ordered_draws_match_rejection_from_independent_draws():
    def draw(rng, m):
        return log_uniform(rng, 1, 16, 1, (m, 4)).astype(np.int64)
    fast = ordered_draws(draw, np.random.default_rng(1), 40_000)
    raw = draw(np.random.default_rng(2), 800_000)
    slow = raw[np.all(np.diff(raw, axis=1) >= 0, axis=1)]
    assert np.all(np.diff(fast, axis=1) >= 0)
    for j in range(4):
        pf = np.bincount(fast[:, j], minlength=17)[1:] / len(fast)
        ps = np.bincount(slow[:, j], minlength=17)[1:] / len(slow)
        np.testing.assert_allclose(pf, ps, atol=0.012)
    # sorting independent draws is a different distribution: ties get too little weight
    srt = np.sort(draw(np.random.default_rng(3), 40_000), axis=1)
    def all_tied(x):
        return np.mean(np.all(x == x[:, :1], axis=1))
    assert abs(all_tied(fast) - all_tied(slow)) < 0.01
    assert all_tied(fast) > 5 * all_tied(srt)


def test_generate_regnet_matches_the_formula():
    ws, ks, num_s, total_s = generate_regnet([24, 48], [36.44, 20.0], [2.49, 2.0], [13, 5])
    u = 24 + 36.44 * np.arange(13)
    k = np.round(np.log(u / 24) / np.log(2.49))
    np.testing.assert_array_equal(ws[0], np.round(24 * 2.49 ** k / 8) * 8)
    assert ws[1, 5:].sum() == 0 and num_s[0] == total_s[0] == 4
    assert regnet_stages(13, 24, 36.44, 2.49) == ([24, 56, 152, 368], [1, 1, 4, 7])


def test_block_compatibility_as_pycls():
    w, g = adjust_block_compatibility([24, 8, 1016, 48], [1, 4, 1, 2], [16, 32, 32, 8])
    # 24/16 rounds (half to even) to 2 groups of 16 -> 32; 8/4 = 2 caps g to 2; 1016 -> 1024; 48/2 = 24 -> 24
    assert w.tolist() == [32, 8, 1024, 48] and g.tolist() == [16, 2, 32, 8]


def test_a_wrapped_space_is_its_base_until_told_otherwise():
    import dataclasses

    from designspace.spaces import Draw, WrappedSpace
    from designspace.spec import FrozenDict

    base = get_space("RegNetX-constrained")
    plain = WrappedSpace(base, "plain", "; nothing added")
    assert (plain.name, plain.description) == ("RegNetX-constrained+plain", base.description + "; nothing added")
    assert plain.free_params == base.free_params and plain.constraints == base.constraints
    assert (plain.block, plain.stride, plain.stem_width) == (base.block, base.stride, base.stem_width)
    ref, got = base.sample(5, seed=3, regime="cifar"), plain.sample(5, seed=3, regime="cifar")
    assert [s.id for s in got] == [s.id for s in ref]
    assert [s.meta.thaw() for s in got] == [{**s.meta.thaw(), "space": plain.name} for s in ref]

    class Tagged(WrappedSpace):  # the common case: a drawn column becomes a model option
        meta_keys = ("tag",)

        def draw(self, rng, m):
            dr = self.base.draw(rng, m)
            return Draw(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths,
                        {**dr.meta, "tag": rng.integers(0, 2, m)})

        def with_options(self, spec, i, dr):
            return dataclasses.replace(spec, family=FrozenDict({"tag": int(dr.meta["tag"][i])}))

    tagged = Tagged(get_space("ResNetC4"), "tag")
    dr, _ = tagged.sample_arrays(6, seed=0, regime="cifar")
    specs = tagged.specs_from(dr)
    assert [s.family["tag"] for s in specs] == dr.meta["tag"].tolist()
    assert all("tag" not in s.meta and s.meta["space"] == "ResNetC4+tag" for s in specs)
    assert len(tagged.identity_columns(dr)) == len(tagged.base.identity_columns(dr)) + 1
