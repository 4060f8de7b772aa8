"""Paired claims: arms holding the same architectures (with and without an option) matched model to model."""
import os

import numpy as np
import pytest

from designspace.analysis.synthetic import synthetic_trials
from designspace.claims import compute, judge, load_suite, parse_suite, verdict
from designspace.claims.judge import architecture_key
from designspace.claims.statistics import HOLDS, NOT_RESOLVED, PAIRED
from designspace.errors import UsageError
from designspace.spaces import get_space
from designspace.store import trial_id, write_trials
from designspace.sweep import plan_trials

KW = dict(resamples=2000, level=0.9, seed=(0,))


def test_pairing_resolves_a_small_effect_that_the_spread_between_models_hides():
    rng = np.random.default_rng(3)
    base = rng.normal(40, 8, 6)  # architectures differ by several points...
    option = base - 1.0 + rng.normal(0, 0.2, 6)  # ...the option takes one point off every one of them
    paired = compute("paired_median_diff", {"a": option, "b": base}, **KW)
    unpaired = compute("median_diff", {"a": option, "b": base}, **KW)
    assert verdict(paired, "less") == HOLDS and -1.5 < paired.estimate < -0.5
    assert verdict(unpaired, "less") == NOT_RESOLVED
    assert paired.unit == "model pairs" and paired.n == {"a": 6, "b": 6} and "pairs" in paired.method
    # pairs are resampled together: shuffling one arm breaks the pairing and the interval widens
    shuffled = compute("paired_median_diff", {"a": option, "b": base[::-1]}, **KW)
    assert shuffled.hi - shuffled.lo > 5 * (paired.hi - paired.lo)


def test_a_pair_with_a_missing_value_is_left_out_with_a_warning():
    eff = compute("paired_median_diff", {"a": np.array([1.0, 2.0, np.nan, 4.0]), "b": np.zeros(4)}, **KW)
    assert eff.n == {"a": 3, "b": 3} and eff.estimate == 2.0
    assert eff.warnings == ["1 pairs with a non-finite value left out"]


def test_architecture_key_ignores_meta_and_the_named_option():
    plain = get_space("RegNetX").sample(3, seed=7, flops="3M:8M", regime="fashion-mnist")
    dbb = get_space("RegNetX+rep_dbb").sample(3, seed=7, flops="3M:8M", regime="fashion-mnist")
    assert [architecture_key(p.to_json(), ["rep"]) for p in plain] == \
        [architecture_key(d.to_json(), ["rep"]) for d in dbb]
    assert architecture_key(plain[0].to_json(), ["rep"]) != architecture_key(dbb[0].to_json())  # rep counts
    assert architecture_key(plain[0].to_json()) != architecture_key(plain[1].to_json())
    v1 = get_space("CondenseNetV2").sample(2, seed=1, flops="3M:8M", regime="fashion-mnist")
    twin = get_space("CondenseNetTwin").sample(2, seed=1, flops="3M:8M", regime="fashion-mnist")
    assert [architecture_key(t.to_json(), ["sfr"]) for t in twin] == \
        [architecture_key(v.to_json(), ["sfr"]) for v in v1]


def _paired_store(path, n=8, effect=-1.0, extra_b=1):
    """RegNetX models (errors spread by architecture) and the same architectures with DBB, `effect`
    points apart, plus `extra_b` DBB models without a plain partner."""
    rows = synthetic_trials(spaces=("RegNetX",), n=n, seed=0, noise=6.0, slope=0.0, penalty=0.0, sweep="s")
    dbb = get_space("RegNetX+rep_dbb").sample(n + extra_b, seed=0, regime="fashion-mnist")  # seed 0 * 1000 + 0
    rng = np.random.default_rng(1)
    for k, spec in enumerate(dbb):
        err = rows[k]["error"] + effect + rng.normal(0, 0.1) if k < n else 10.0
        rows.append(dict(rows[min(k, n - 1)], trial_id=trial_id(spec.id, "dbb", 0), space="RegNetX+rep_dbb",
                         spec_id=spec.id, spec=spec.to_json(), error=float(err)))
    write_trials(path, rows)


def _suite(statistic, **part):
    return parse_suite({
        "suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}},
        "statistics": {"resamples": 1000},
        "sweeps": {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 8}},
        "claims": [{"id": 1, "text": "DBB beats plain", "figure": "-", "parts": [
            {"name": "DBB - plain", "statistic": statistic, "a": {"sweep": "s", "space": "RegNetX+rep_dbb"},
             "b": {"sweep": "s", "space": "RegNetX"}, "expect": "less", **part}]}]}, "t.yaml")


def test_judge_pairs_models_by_architecture_and_names_the_unpaired(tmp_path):
    _paired_store(str(tmp_path / "s.db"))
    paired = judge(_suite("paired_median_diff", ignore=["rep"]), None, str(tmp_path))["claims"][0]
    part = paired["parts"][0]
    assert paired["verdict"] == HOLDS and part["effect"]["n"] == {"a": 8, "b": 8}
    assert -1.3 < part["effect"]["estimate"] < -0.7
    assert part["effect"]["warnings"] == ["arm a: 1 of 9 models have no partner of the same architecture in the "
                                          "other arm and were left out"]
    unpaired = judge(_suite("median_diff"), None, str(tmp_path))["claims"][0]
    assert unpaired["verdict"] == NOT_RESOLVED and unpaired["parts"][0]["effect"]["n"] == {"a": 9, "b": 8}
    # without ignoring the option no model has a partner: too few pairs, the part is not run
    none = judge(_suite("paired_median_diff"), None, str(tmp_path))["claims"][0]
    assert none["verdict"] == "not run" and "too few model pairs" in none["parts"][0]["missing"][0]


@pytest.mark.parametrize("part, needle", [
    ({"ignore": "rep"}, "ignore': must be a list"),
    ({"ignore": ["rep"], "q": 0.5}, "takes no parameter q"),
])
def test_bad_pairing_options_are_named(part, needle):
    with pytest.raises(UsageError, match=needle):
        _suite("paired_median_diff", **part)
    with pytest.raises(UsageError, match="takes no parameter ignore"):
        _suite("median_diff", ignore=["rep"])


@pytest.mark.parametrize("name", ["cpu_seeds.yaml", "gpu_seeds.yaml"])
def test_the_shipped_paired_parts_pair_every_planned_model(name, tmp_path):
    """Every paired part of the seed suites: its arms' planned models (plan_trials, no training) match one to one
    on the architecture without the ignored option, and would not match with it."""
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] + [
            f"{p}-{k}-ubyte.gz" for p in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]:
        (tmp_path / f).write_bytes(b"x")  # the plan fingerprints the data files; their contents do not matter
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    suite = load_suite(os.path.join(root, "experiments", "paper", name))
    plans, checked = {}, 0
    for claim in suite.claims:
        for part in (p for p in claim.parts if p.statistic in PAIRED):
            keys = {}
            for arm_name, arm in part.arms.items():
                for key in arm.sweeps:
                    if key not in plans:
                        plans[key] = plan_trials(suite.sweep_config(key), data_dir=str(tmp_path))
                specs = [t["spec"] if isinstance(t["spec"], str) else t["spec"].to_json()
                         for key in arm.sweeps for t in plans[key] if t["space"] == arm.space]
                models = set(specs)  # a model's repeats share its spec
                keys[arm_name] = ({architecture_key(s, part.params["ignore"]) for s in models},
                                  {architecture_key(s) for s in models}, len(models))
            (a, a_full, n_a), (b, b_full, n_b) = keys["a"], keys["b"]
            assert a == b and len(a) == n_a == n_b >= 5, (claim.id, part.name)  # one partner each, none left out
            assert not a_full & b_full, (claim.id, part.name)  # the ignored option is what differs
            checked += 1
    assert checked >= (3 if name == "cpu_seeds.yaml" else 10)
