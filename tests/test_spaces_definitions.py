"""Spaces as data: the shipped definitions, their samples, the three written forms, bad input."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from designspace import UsageError, complexity, get_regime, get_space
from designspace.cli import main
from designspace.spaces import space_from_dict, space_from_yaml
from designspace.spaces.builtin import BUILTIN
from designspace.spaces.columns import batch_columns
from designspace.spaces.common import adjust_block_compatibility
from designspace.spaces.definition import SpaceDef
from designspace.spaces.distributions import Param
from designspace.spaces.regnet import regnet_stages

DATA_SPACES = [d["name"] for d in BUILTIN]
REFERENCE = Path(__file__).parent / "data" / "spaces_reference.npz"


# --- the built-ins sample from the same distributions as the class-based spaces did -------------
@pytest.fixture(scope="module")
def reference():
    """3000 models per space drawn (seed 12345, ImageNet 360-400MF) by the class-based spaces these
    definitions replace (commit f947cba)."""
    return np.load(REFERENCE)


@pytest.mark.parametrize("name", ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"])
def test_builtins_have_the_old_marginals(reference, name):
    """Two-sample tests on every marginal (new sample with another seed vs the reference): KS for
    ordinal columns (conservative on discrete data), chi-square for b and g. 7 spaces x <= 21
    marginals: p > 1e-4 each keeps the family-wise false alarm rate near 1%."""
    dr, cx = get_space(name).sample_arrays(2000, seed=7)
    new = {"widths": dr.widths, "depths": dr.depths, "bottleneck_ratios": dr.bottleneck_ratios,
           "group_widths": dr.group_widths, "flops": cx["flops"], **{k: dr.meta[k] for k in ("d", "w0", "wa", "wm")
                                                                     if k in dr.meta}}
    checked = 0
    for key, a in new.items():
        ref = reference[f"{name}/{key}"]
        a2, r2 = np.asarray(a, float).reshape(len(a), -1), np.asarray(ref, float).reshape(len(ref), -1)
        for j in range(a2.shape[1]):
            x, y = a2[:, j], r2[:, j]
            if key in ("bottleneck_ratios", "group_widths"):
                cats = np.union1d(x, y)
                table = np.array([[np.sum(x == c) for c in cats], [np.sum(y == c) for c in cats]])
                p = stats.chi2_contingency(table)[1] if len(cats) > 1 else 1.0
            else:
                p = stats.ks_2samp(x, y).pvalue
            assert p > 1e-4, f"{name} {key}[{j}]: p = {p:.2g}"
            checked += 1
    assert checked >= 17


# --- every shipped space's samples satisfy its definition -----------------------------------------
def _support_ok(param: Param, values: np.ndarray) -> bool:
    pmf = param.dist.pmf()
    if pmf is not None:
        return bool(np.isin(values, pmf[0]).all())
    lo, hi = param.dist.bounds
    return bool(np.all((values >= lo - 1e-9) & (values <= hi + 1e-9)))


USER_INLINE = ["AnyNetXA[b1=0.5]", "AnyNetXE[d1=1,w4=1024]", "AnyNetXE[d2=d1,w1=w2]", "AnyNetXB[g1=1,g4>=8]",
               "RegNetX[d=20,w0=wa]", "AnyNetXA[w=64,min(d1,d2)>=2]"]


@pytest.mark.parametrize("name", DATA_SPACES + USER_INLINE)
def test_every_shipped_space_satisfies_its_definition(name):
    space = get_space(name)
    sd = SpaceDef.from_dict(space.definition())
    regime = "imagenet"
    dr, cx = space.sample_arrays(60, seed=3, regime=regime)
    specs = space.specs_from(dr)
    assert len({s.id for s in specs}) == 60 and all(s.space == name for s in specs)
    lo, hi = get_regime(regime).default_flops
    assert np.all((cx["flops"] >= lo) & (cx["flops"] <= hi))
    np.testing.assert_array_equal(complexity(specs, regime)["flops"], cx["flops"])  # measured as built
    s = sd.stages
    assert dr.widths.shape == (60, s) and np.all(dr.depths >= 1)
    assert all(st.block == sd.block and st.se_ratio == sd.se and st.stride == sd.stride
               for spec in specs for st in spec.stages)
    params, ties = dict(sd.params), dict(sd.tie)
    cols = batch_columns(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths,
                         {**{k: dr.meta[k] for k in ("w0", "wa", "wm") if k in dr.meta}, **cx})
    for expr in sd.exprs:
        assert expr.evaluate(cols).all(), f"constraint {expr} violated"
    b, g = dr.bottleneck_ratios, dr.group_widths
    if sd.kind == "anynet":
        sampled = {"d": dr.depths, "w": dr.widths, "b": b}
        for root, values in sampled.items():
            prm = params[root]
            stage = [params.get(f"{root}{i + 1}", prm) for i in range(s)]
            if root != "w":  # widths move (by < one group) in pycls's compatibility step
                for i in range(s):
                    assert _support_ok(stage[i], values[:, i]) or f"{root}{i + 1}" in ties, (root, i)
            plain = [i for i in range(s) if f"{root}{i + 1}" not in params]
            if not prm.per_stage and plain:
                assert np.all(values[:, plain] == values[:, plain[:1]]), f"{root} is shared"
            if prm.non_decreasing:
                assert np.all(np.diff(values, axis=1) >= 0), f"{root} is non-decreasing"
        for t, src in ties.items():
            if t[-1].isdigit() and src[-1].isdigit():
                cols_of = {"d": dr.depths, "w": dr.widths, "b": b, "g": g}
                np.testing.assert_array_equal(cols_of[t[0]][:, int(t[1:]) - 1], cols_of[src[0]][:, int(src[1:]) - 1])
        assert np.all(dr.widths % 8 == 0) and np.all(dr.widths <= 1024)
        wb = dr.widths / b
        for i in range(s):
            g_choices = params.get(f"g{i + 1}", params["g"]).dist.pmf()[0]
            assert np.all(np.isin(g[:, i], g_choices) | (g[:, i] == np.floor(wb[:, i])))  # capped when narrow
        assert np.all(np.mod(wb, g) == 0)
    else:
        m = dr.meta
        for k in ("d", "w0", "wa", "wm"):
            if k not in ties:
                assert _support_ok(params[k], np.asarray(m[k])), k
        for t, src in ties.items():
            np.testing.assert_array_equal(m[t], m[src])
        assert _support_ok(params["b"], m["sampled_bottleneck_ratio"])
        assert _support_ok(params["g"], m["sampled_group_width"])
        np.testing.assert_array_equal(m["d"], dr.depths.sum(axis=1))
        for i in range(0, 60, 7):
            widths, depths = regnet_stages(int(m["d"][i]), m["w0"][i], m["wa"][i], m["wm"][i])
            assert depths == dr.depths[i].tolist() and len(widths) == s
            compat, _ = adjust_block_compatibility(widths, b[i], [m["sampled_group_width"][i]] * s)
            assert compat.tolist() == dr.widths[i].tolist()
        assert np.all(np.diff(dr.widths, axis=1) >= 0)
    for p, prm in params.items():
        if prm.dist.to_dict().get("fixed") is not None and p in ("b", "g"):
            assert np.all((b if p == "b" else g) == prm.dist.value) or p == "g"


def test_the_refinements_say_what_they_are():
    wm2 = get_space("RegNetX-wm2").sample_arrays(50, seed=1)[0]
    assert np.all(wm2.meta["wm"] == 2)
    tied = get_space("RegNetX-w0wa").sample_arrays(50, seed=1)[0]
    assert np.all(tied.meta["w0"] == tied.meta["wa"]) and np.any(tied.meta["w0"] % 8 != 0)
    con = get_space("RegNetX-constrained").sample_arrays(50, seed=1)[0]
    assert np.all(con.bottleneck_ratios == 1) and np.all(con.meta["d"] <= 40) and np.all(con.meta["wm"] >= 2)
    assert get_space("AnyNetXE-5stage").sample(5)[0].depths == sorted(get_space("AnyNetXE-5stage").sample(5)[0].depths)
    assert np.all(get_space("RegNetX-inverted").sample_arrays(20)[0].bottleneck_ratios < 1)
    assert np.all(get_space("RegNetX-depthwise").sample_arrays(20)[0].group_widths == 1)
    assert {st.block for s in get_space("AnyNetVA").sample(5) for st in s.stages} == {"vanilla"}
    assert {st.block for s in get_space("RegNetR").sample(5) for st in s.stages} == {"res_basic"}


def test_the_constrained_limits_hold_for_the_pycls_zoo_regnetx():
    """The params / acts limits are the trend lines of the paper's complexity figure: every pycls
    zoo RegNetX (the paper's best models, 200MF..32GF) lies under them, and they are not vacuous
    (half of the unconstrained RegNetX population at 400MF violates one)."""
    from pycls_regnet_zoo import REGNET_ZOO

    exprs = [e for e in SpaceDef.from_dict(get_space("RegNetX-constrained").definition()).exprs
             if e.names & {"params", "acts"}]
    assert len(exprs) == 2
    zoo = [v for k, v in REGNET_ZOO.items() if k.startswith("RegNetX")]
    cx = {k: np.array([v[i] for v in zoo], float) for k, i in (("flops", 6), ("params", 7), ("acts", 8))}
    one = np.ones((len(zoo), 4))
    cols = batch_columns(one * 8, one, one, one, cx)
    for e in exprs:
        assert e.evaluate(cols).all(), str(e)
    dr, cx = get_space("RegNetX").sample_arrays(300, seed=0)
    cols = batch_columns(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths, cx)
    assert 0.2 < np.mean(~np.logical_and(*(e.evaluate(cols) for e in exprs))) < 0.95


# --- the three written forms -----------------------------------------------------------------------
DICT_FORM = {"name": "RegNetX-mine", "base": "RegNetX", "params": {"wm": {"fixed": 2}}, "tie": {"w0": "wa"},
             "constraints": ["d <= 40", "params <= 6M"]}
INLINE_FORM = "RegNetX[wm=2,w0=wa,d<=40,params<=6M]"


def _arrays(space, **kw):
    dr, cx = space.sample_arrays(40, seed=11, regime="cifar", **kw)
    return [dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths, dr.meta["w0"], dr.meta["wa"], cx["flops"]]


def test_yaml_dict_and_inline_forms_give_identical_samples(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(DICT_FORM))
    forms = [get_space(DICT_FORM), get_space(INLINE_FORM), get_space(str(path)), space_from_yaml(str(path))]
    ref = _arrays(forms[0])
    for space in forms[1:]:
        for a, b in zip(ref, _arrays(space)):
            np.testing.assert_array_equal(a, b)
    assert forms[1].name == INLINE_FORM and forms[0].name == "RegNetX-mine"
    assert np.all(ref[4] == ref[5])  # the tie held


@pytest.mark.parametrize("name", ["AnyNetXE", "RegNetY", "RegNetX-constrained", "AnyNetXE[b=1,g>=8]+csp",
                                  "RegNetX[w0=wa]+elan", "ResNetC4+prn"])
def test_show_prints_yaml_that_loads_back_to_identical_samples(tmp_path, capsys, name):
    assert main(["spaces", "--show", name]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "shown.yaml"
    path.write_text(text)
    a, b = get_space(name), get_space(str(path))
    assert b.name == a.name
    da, _ = a.sample_arrays(15, seed=2, regime="cifar")
    db, _ = b.sample_arrays(15, seed=2, regime="cifar")
    assert [s.id for s in a.specs_from(da)] == [s.id for s in b.specs_from(db)]


def test_definitions_round_trip_exactly_through_json():
    for name in DATA_SPACES + [INLINE_FORM]:
        sd = SpaceDef.from_dict(get_space(name).definition())
        again = SpaceDef.from_dict(json.loads(json.dumps(sd.to_dict())))
        assert again == sd and again.to_dict() == sd.to_dict()
        for _, prm in sd.params:
            assert Param.from_dict(json.loads(json.dumps(prm.to_dict()))) == prm


def test_modifiers_work_on_user_defined_spaces(tmp_path):
    path = tmp_path / "narrow.yaml"
    path.write_text("base: AnyNetXE\nparams: {w: {log_uniform: [8, 256], q: 8, int: true}}\nconstraints: [g >= 4]\n")
    for spec in get_space(f"{path}+csp").sample(5, regime="cifar"):
        assert max(spec.widths) <= 256 and min(spec.group_widths) >= 4 and spec.space == "narrow+csp"
        assert all("csp" in st.family for st in spec.stages)
    d = space_from_dict({"name": "mine", "base": "RegNetX", "params": {"b": 1}, "modifiers": ["stopgrad"]})
    assert d.name == "mine+stopgrad" and all(s.bottleneck_ratios == [1.0] * 4 for s in d.sample(5, regime="cifar"))


def test_a_regime_at_another_input_size_keeps_the_band():
    rg = get_regime("imagenet@160")
    assert rg.im_size == 160 and rg.default_flops == get_regime("imagenet").default_flops
    specs = get_space("RegNetX").sample(10, regime=rg)
    cx160, cx224 = complexity(specs, rg), complexity(specs, "imagenet")
    assert np.all((cx160["flops"] >= 360e6) & (cx160["flops"] <= 400e6)) and np.all(cx224["flops"] > cx160["flops"])
    with pytest.raises(UsageError, match="input size"):
        get_regime("imagenet@big")


# --- sampling limits ---------------------------------------------------------------------------------
def test_an_impossible_constraint_fails_naming_it_and_the_reachable_range():
    with pytest.raises(UsageError, match=r"rejecting most candidates: 'params < 1000'") as err:
        get_space("RegNetX[params<1000]").sample(5)
    assert "reachable in this space: none" in str(err.value)
    with pytest.raises(UsageError, match=r"reachable in this space: [\d.]+M\.\.[\d.]+G"):
        get_space("AnyNetXE[d<=20]").sample(5, flops=(1e3, 2e3))


def test_a_space_with_fewer_distinct_models_than_asked_stops_on_repeats():
    tiny = {"name": "tiny", "base": "AnyNetXC", "params": {"d": 2, "w": {"choice": [64, 128, 256]}, "b": 1, "g": 8}}
    with pytest.raises(UsageError, match=r"only \d+ of 200 models.*repeat"):
        get_space(tiny).sample(200, flops="0:1G")


# --- bad input: one line, exit 2 -----------------------------------------------------------------------
BAD = [
    ("AnyNetXE[__import__('os')]", "unknown function '__import__'"),
    ("AnyNetXE[().__class__]", "attribute access"),
    ("AnyNetXE[d.real > 1]", "attribute access"),
    ("RegNetX[depth<3]", "unknown column 'depth'"),
    ("RegNetX[d<<3]", "bad expression"),
    ("RegNetX[zz=3]", "not a parameter of RegNetX"),
    ("RegNetX[w0=zz]", "not a parameter"),
    ("RegNetX[d+1]", "not a comparison"),
    ("RegNetX[wm=2", "without its ']'"),
    ("RegNetX+nosuchmod", "unknown space modifier"),
    ("NoSuchSpace[b=1]", "unknown space 'NoSuchSpace'"),
    ("RegNetX[b=0]", "needs b > 0"),
]


@pytest.mark.parametrize("space, needle", BAD)
def test_bad_inline_spaces_are_one_line_and_exit_2(space, needle, capsys):
    assert main(["sample", "--space", space, "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("text, needle", [
    ("name: x\nbase: RegNetX\nparams: {wm: {gaussian: [1, 2]}}\n", "unknown key 'gaussian'"),
    ("name: x\nbase: RegNetX\nparams: {wm: {uniform: [1, 2], choice: [2]}}\n", "needs exactly one of"),
    ("name: x\nbase: RegNetX\nparms: {}\n", "unknown space key 'parms'"),
    ("name: x\nkind: anynet\nparams: {d: {int: [1, 4]}}\n", "params lacks 'w'"),
    ("name: x\nbase: RegNetX\nstages: 99\n", "stages"),
    ("name: x\nbase: AnyNetXA\nparams: {d: {int: [4, 1]}}\n", "low <= high"),
    ("name: x\nbase: RegNetX\nconstraints: [import os]\n", "bad expression"),
    ("a: &a [1, 2]\nb: [*a, *a]\n", "aliases are not allowed"),
    ("[1, 2]\n", "must hold a mapping"),
    ("name: x\n  bad: [\n", "not valid YAML"),
])
def test_bad_space_files_are_one_line_and_exit_2(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["sample", "--space", str(path), "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_huge_space_files_are_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "w") as fh:
        fh.write("name: x\n# " + "x" * (1 << 20) + "\n")
    with pytest.raises(UsageError, match="limit is"):
        get_space(str(path))
    with pytest.raises(UsageError, match="cannot read space file"):
        get_space(os.path.join(str(tmp_path), "missing.yaml"))


@pytest.mark.parametrize("seed, needle", [("-1", "seed must be >= 0"), ("x", "invalid int value"),
                                          ("4294967296", "seed must be <= 4,294,967,295")])  # train's limit too
def test_bad_seeds_exit_2(capsys, seed, needle):
    assert main(["sample", "-n", "2", "--seed", seed]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_spaces_lists_one_line_per_space_and_describes_modifiers(capsys):
    assert main(["spaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in DATA_SPACES:
        assert sum(line.startswith(name + ":") for line in lines) == 1
    mods = [line for line in lines if line.startswith("  +")]
    assert any(line.split()[0] == "+csp" and "adds" in line for line in mods) and len(mods) >= 6


def test_sweep_configs_take_names_files_inline_forms_and_mappings(tmp_path):
    from designspace.sweep import parse_config, plan_trials

    (tmp_path / "wm2.yaml").write_text("base: RegNetX\nparams: {wm: 2}\n")
    raw = {"name": "t", "store": str(tmp_path / "r.db"), "models_per_space": 3, "flops": "0.2M:1M",
           "dataset": {"name": "synthetic", "train_size": 64, "test_size": 32}, "recipe": {"epochs": 1},
           "spaces": ["AnyNetXA", str(tmp_path / "wm2.yaml"), "RegNetX[w0=wa]+csp",
                      {"name": "mine", "base": "AnyNetXE", "params": {"b": 1}}]}
    cfg = parse_config(raw, str(tmp_path / "sweep.yaml"))
    assert cfg.spaces == ["AnyNetXA", str(tmp_path / "wm2.yaml"), "RegNetX[w0=wa]+csp", "mine"]
    trials = plan_trials(cfg)
    by_space = {}
    for t in trials:
        by_space.setdefault(t["space"], []).append(json.loads(t["spec"]))
    assert set(by_space) == set(cfg.spaces) and all(len(v) == 3 for v in by_space.values())
    assert all(s["meta"]["wm"] == 2 for s in by_space[str(tmp_path / "wm2.yaml")])
    assert all(st["bottleneck_ratio"] == 1 for s in by_space["mine"] for st in s["stages"])
    with pytest.raises(UsageError, match="config key spaces: .*unknown column"):
        parse_config({**raw, "spaces": ["RegNetX[depth<3]"]}, str(tmp_path / "sweep.yaml"))
    assert cfg.space_definitions()["mine"]["params"]["b"] == {"fixed": 1}  # what the store keeps


@pytest.mark.parametrize("tie", [{}, {"w1": "w2"}, {"w4": "w3"}])
def test_exact_ordered_draws_match_rejection(tie):
    """Non-decreasing stage values are drawn without rejection (backward recursion over the
    discrete per-stage distributions); the result must be the rejection sampler's distribution."""
    from designspace.spaces.common import ordered_draws

    space = get_space({"name": "u", "base": "AnyNetXE", "tie": tie})
    draw = space._stage_draw("w")
    assert draw.ordered is not None
    fast = draw.ordered(np.random.default_rng(1), 40_000)
    slow = ordered_draws(draw, np.random.default_rng(2), 40_000)
    assert np.all(np.diff(fast, axis=1) >= 0) and set(np.unique(fast)) <= set(np.unique(slow)) | set(range(8, 1025, 8))
    for t, src in tie.items():
        assert np.all(fast[:, int(t[1]) - 1] == fast[:, int(src[1]) - 1])
    for j in range(4):
        assert stats.ks_2samp(fast[:, j], slow[:, j]).pvalue > 1e-3
    def all_tied(x):
        return np.mean(np.all(x == x[:, :1], axis=1))
    assert abs(all_tied(fast) - all_tied(slow)) < 0.01


def test_every_distribution_kind_samples_what_it_says():
    from designspace.spaces.distributions import Choice, Fixed, Power2OrLogUniform, Uniform, distribution_from_dict

    rng = np.random.default_rng(0)
    p2 = distribution_from_dict({"power2_or_log_uniform": [1, 128], "q": 8})
    assert p2 == Power2OrLogUniform(1, 128, 8)
    x = p2.sample(rng, 200_000)
    for v in (1, 2, 4):  # pycls: a uniform exponent in [0, 7]; below q it is kept as is
        assert abs(np.mean(x == v) - 1 / 8) < 0.005
    big = x[x >= 8]
    assert np.all(big % 8 == 0) and big.max() == 128 and abs(len(big) / len(x) - 5 / 8) < 0.005
    u = distribution_from_dict({"uniform": [8, 512], "q": 8, "int": True}).sample(rng, 100_000)
    assert u.dtype == np.int64 and u.min() == 8 and u.max() == 512 and np.all(u % 8 == 0)
    assert abs(np.mean(u == 8) - 1 / 64) < 0.002  # pycls uniform: U[l, h + q) floored, 64 equal cells
    c = distribution_from_dict({"log_uniform": [2, 3]}).sample(rng, 100_000)
    assert c.min() >= 2 and c.max() <= 3 and abs(np.mean(c < np.sqrt(6)) - 0.5) < 0.01  # continuous, log
    f = distribution_from_dict({"uniform": [0.5, 1.5]}).sample(rng, 100_000)
    assert abs(f.mean() - 1) < 0.01 and len(np.unique(f)) > 90_000
    assert distribution_from_dict({"choice": [1, 2]}) == Choice((1, 2)) and Fixed(3).sample(rng, 2).tolist() == [3, 3]
    assert Uniform(1, 16, 1, True, True).pmf()[1][:2].round(3).tolist() == [0.2, 0.2]  # pycls depth P(1), P(2)


def test_a_user_space_with_every_kind_of_parameter(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("""
name: mixed
kind: anynet
stages: 3
block: res_bottleneck
se: 0.25
stem_width: 24
params:
  d: {int: [1, 6], per_stage: true, non_decreasing: true}
  w: {uniform: [16, 512], q: 16, int: true, per_stage: true, non_decreasing: true}
  b: 1
  g: {power2_or_log_uniform: [1, 64], q: 8}
  d3: {fixed: 6}
constraints: ["stages == 3", "w3 >= 2 * w1"]
""")
    space = get_space(str(path))
    specs = space.sample(40, regime="cifar")
    for spec in specs:
        assert spec.depths[2] == 6 and spec.depths == sorted(spec.depths) and spec.widths == sorted(spec.widths)
        assert spec.widths[2] >= 2 * spec.widths[0] and all(w % 8 == 0 for w in spec.widths)  # moved by compatibility
        assert spec.stem_width == 24 and spec.se_ratio == 0.25 and len(spec.stages) == 3
    assert any(g in (1, 2, 4) for s in specs for g in s.group_widths)


@pytest.mark.parametrize("stages", [1, 2, 4, 5])
def test_regnet_stages_in_closed_form_match_the_block_generator(stages):
    """The sampler's O(S) stage computation gives exactly what generate_regnet's per-block matrix
    gives (depths, widths, and which draws pycls keeps), on random draws of the RegNet ranges."""
    from designspace.spaces.regnet import generate_regnet, regnet_stage_arrays

    rng = np.random.default_rng(stages)
    m = 60_000
    d, w0 = rng.integers(1, 64, m), rng.integers(1, 33, m) * 8.0
    wa, wm = np.round(rng.uniform(0, 256, m), 1), np.round(rng.uniform(1.05, 3, m), 3)
    widths, depths, ok = regnet_stage_arrays(w0, wa, wm, d, stages)
    ws, ks, num_s, total_s = generate_regnet(w0, wa, wm, d)
    keep = (num_s == total_s) & (num_s == stages)
    np.testing.assert_array_equal(ok, keep)
    assert keep.sum() > 100
    lv = np.arange(stages)
    ref_depths = (ks[keep][:, None, :] == lv[None, :, None]).sum(axis=2)
    np.testing.assert_array_equal(depths[ok], ref_depths)
    np.testing.assert_array_equal(widths[ok], np.take_along_axis(ws[keep], np.cumsum(ref_depths, axis=1) - 1, axis=1))


def test_sampling_from_the_command_line_imports_neither_pandas_scipy_nor_torch():
    """`designspace sample` builds every subcommand's parser: none may pull in the heavy stacks
    (pandas + scipy alone cost ~2 s of a 2 s budget)."""
    import subprocess
    import sys

    code = ("import sys; from designspace.cli import main; "
            "main(['sample', '--space', 'RegNetX[wm=2]', '-n', '3', '--out', sys.argv[1]]); "
            "print(sorted({'pandas', 'scipy', 'torch', 'jsonschema'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, "-"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_shipped_definitions_pass_the_schema_and_read_the_same_without_it():
    """Built-in spaces are built without the schema pass (SpaceDef.from_shipped, so that sampling never imports
    pydantic): each one passes the schema, and both ways give the same definition, types included."""
    from designspace.spaces import _DEFINITIONS, resolved_definition

    assert len(_DEFINITIONS) >= len(BUILTIN)
    for name in _DEFINITIONS:
        core = {k: v for k, v in resolved_definition(name).items() if k != "modifiers"}
        checked, shipped = SpaceDef.from_dict(core), SpaceDef.from_shipped(core)
        assert repr(checked) == repr(shipped), name  # repr shows 8 against 8.0
        assert json.dumps(checked.to_dict()) == json.dumps(shipped.to_dict())


def test_a_registered_definition_that_is_not_shipped_still_gets_the_schema_pass():
    from designspace.spaces import _DEFINITIONS, _SPACES, register_definition

    try:
        register_definition({"name": "bad-registered", "base": "AnyNetXA", "stages": "four"})
        with pytest.raises(UsageError, match="stages"):
            get_space("bad-registered")
    finally:
        _DEFINITIONS.pop("bad-registered", None)
        _SPACES.pop("bad-registered", None)
