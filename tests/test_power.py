"""designspace power: the planning levels under each multiplicity control, shift models for slopes and
Spearman correlations, statistics that are not plannable (said the same way by power and the judge),
the judge's complexity control and learning rule applied to the pilot, compute per cpu, and the
predicted decision rate checked against an independent simulation of the judge's decision."""
import math

import numpy as np
import pytest

from designspace.analysis.synthetic import synthetic_trials
from designspace.claims import judge, parse_suite
from designspace.claims.decide import part_interval
from designspace.claims.power import copula_population, plan_suite, planning_levels
from designspace.claims.statistics import NOT_PLANNABLE
from designspace.cli import main
from designspace.stats.decisions import HOLDS, adjust_suite, decision_pvalue, rule
from designspace.store import write_trials

ALPHA = 0.05  # one-sided, level 0.9


def _suite(claims, sweeps=None, multiplicity=("holm", "fdr"), **rules):
    return parse_suite({
        "suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}}, "schema": 2,
        "multiplicity": {"parts": multiplicity[0], "claims": multiplicity[1]}, **rules,
        "sweeps": sweeps or {"s": {"spaces": ["AnyNetXA", "AnyNetXB"], "models_per_space": 12}},
        "claims": claims}, "t.yaml")


def _claim(i, parts):
    return {"id": i, "text": f"claim {i}", "figure": "-", "parts": parts}


def _diff(name="XB - XA", **kw):
    return {"name": name, "statistic": "median_diff", "a": {"sweep": "s", "space": "AnyNetXB"},
            "b": {"sweep": "s", "space": "AnyNetXA"}, "expect": "greater", **kw}


# --- (a) the planning level under Benjamini-Bogomolov ------------------------------------------------
def test_fdr_is_planned_at_one_claim_selected_and_the_optimistic_level_shown_beside_it():
    claims = [_claim(1, [_diff("p1"), _diff("p2")]), _claim(2, [_diff()]), _claim(3, [_diff()])]
    suite = _suite(claims, power={"spread": 2.0, "simulations": 200})
    levels = planning_levels(suite, suite.claims[0])
    assert levels == {"one_selected": pytest.approx(ALPHA / (3 * 2)), "all_selected": pytest.approx(ALPHA / 2)}
    # the two levels are where Benjamini-Bogomolov (Holm within the claim) decides claim 1's first part:
    # alone among the claims (R = 1) and with every claim selected (R = K)
    one, every = levels["one_selected"], levels["all_selected"]
    for p, others, decided in ((one * 0.99, 1.0, True), (one * 1.01, 1.0, False), (every * 0.99, 1e-6, True),
                               (every * 1.01, 1e-6, False)):
        adj = adjust_suite([[p, 1.0], [others], [others]], "holm", "fdr")
        assert (adj[0][0] <= ALPHA) == decided
    plan = plan_suite(suite)
    part = plan["parts"][0]
    one, every = part["levels"]["one_selected"], part["levels"]["all_selected"]
    assert part["alpha"] == one["alpha"] and part["per_arm"] == one["per_arm"] and "R = 1" in part["planned_at"]
    assert one["per_arm"] > every["per_arm"] and one["power_at_n"] >= 0.8 and every["power_at_n"] >= 0.8
    # the suite's 12 models per space: less power at the level that holds whatever the other claims do
    assert part["declared_per_arm"] == {"models": 12, "exact": True}
    assert one["power_at_declared"] < every["power_at_declared"] < 0.8
    for level, key in (("one_selected", "models_per_space"), ("all_selected", "models_per_space_all_selected")):
        assert plan["sweeps"]["s"][key] == max(p["levels"][level]["per_arm"] for p in plan["parts"])
    bonf = planning_levels(_suite(claims, multiplicity=("holm", "bonferroni")), suite.claims[0])
    assert bonf["one_selected"] == bonf["all_selected"] == pytest.approx(ALPHA / 6)


def test_the_command_prints_both_levels(capsys, tmp_path):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "suite": "t", "tier": "cpu", "schema": 2, "multiplicity": {"parts": "holm", "claims": "fdr"},
        "power": {"spread": 2.0, "simulations": 100}, "defaults": {"dataset": {"name": "synthetic"}},
        "sweeps": {"s": {"spaces": ["AnyNetXA", "AnyNetXB"], "models_per_space": 12}},
        "claims": [_claim(1, [_diff()]), _claim(2, [_diff()])]}))
    assert main(["power", str(path)]) == 0
    out = capsys.readouterr().out
    assert "one claim selected (R = 1)" in out and "n if all" in out and "declared" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("1  XB - XA"))
    assert "0.025" in row and "0.05" in row and " 12 " in row  # alpha / K beside alpha; the sweep's 12 models


# --- (b) slope and Spearman planned; bootstrap statistics not plannable, in both places ---------------
def test_a_spearman_part_is_planned_at_its_target_rho_without_a_pilot():
    rng = np.random.default_rng(0)
    pop = copula_population(None, None, 0.3, rng)
    from scipy import stats as st

    assert st.spearmanr(pop["x"], pop["y"]).statistic == pytest.approx(0.3, abs=2e-3)
    part = {"name": "rho", "statistic": "spearman", "x": "flops", "y": "error", "expect": "greater", "effect": 0.3,
            "a": {"sweep": "s", "space": "AnyNetXA"}}
    small = plan_suite(_suite([_claim(1, [part])], power={"spread": 1.0, "simulations": 200}))["parts"][0]
    big = plan_suite(_suite([_claim(1, [dict(part, effect=0.6)])], power={"spread": 1.0, "simulations": 200}))
    assert "note" not in small and small["per_arm"] > big["parts"][0]["per_arm"] >= 3
    # Fisher z with the Bonett-Wright variance: n ~ (1 + r^2/2) (z_a + z_b)^2 / atanh(r)^2 + 3, about 68
    approx = (1 + 0.3 ** 2 / 2) * (1.645 + 0.842) ** 2 / math.atanh(0.3) ** 2 + 3
    assert abs(small["per_arm"] - approx) < 0.2 * approx


def test_a_slope_part_is_planned_from_the_pilot(tmp_path):
    write_trials(str(tmp_path / "s.db"), synthetic_trials(spaces=("AnyNetXA",), n=60, seed=0, sweep="s"))
    part = {"name": "slope", "statistic": "slope", "x": "flops", "y": "params", "log": True,
            "a": {"sweep": "s", "space": "AnyNetXA"}, "expect": "greater", "ref": 0.5, "effect": 0.1}
    plans = [plan_suite(_suite([_claim(1, [dict(part, effect=e)])], power={"simulations": 200}), str(tmp_path))
             for e in (0.1, 0.3)]
    small, big = (p["parts"][0] for p in plans)
    assert "note" not in small and small["source"].startswith("pilot: a 60 models")
    x, y = (np.log([r[k] for r in synthetic_trials(spaces=("AnyNetXA",), n=60, seed=0)]) for k in ("flops", "params"))
    assert small["pilot_estimate"] == pytest.approx(np.polyfit(x, y, 1)[0])
    assert small["per_arm"] > big["per_arm"] >= 3 and small["power_at_n"] >= 0.8


def test_bootstrap_statistics_are_not_plannable_in_power_and_in_the_judge(tmp_path):
    rows = synthetic_trials(spaces=("AnyNetXA", "AnyNetXB"), n=12, seed=0, noise=3.0, slope=0.0, penalty=0.0,
                            sweep="s")
    write_trials(str(tmp_path / "s.db"), rows)
    parts = [dict(_diff("best"), statistic="best_of_m_diff", m=4, expect="less"),
             dict(_diff("ks"), statistic="ks", expect="less", ref=0.4, effect=0.1),
             dict(_diff("std"), statistic="std_diff", expect="less", effect=0.5)]
    suite = _suite([_claim(1, parts)], power={"simulations": 100})
    planned = plan_suite(suite, str(tmp_path))["parts"]
    judged = judge(suite, None, str(tmp_path))["claims"][0]["parts"]
    for plan, part in zip(planned, judged):
        why = NOT_PLANNABLE[plan["statistic"]]
        assert plan["note"] == f"not plannable: {why}" and plan.get("per_arm") is None
        assert part["verdict"] == "not resolved"
        assert part["models_needed"] is None and part["models_needed_reason"] == why


def test_the_judge_still_sizes_a_spearman_part_as_power_does(tmp_path):
    write_trials(str(tmp_path / "s.db"), synthetic_trials(spaces=("AnyNetXA",), n=20, seed=0, noise=3.0, slope=0.0,
                                                          penalty=0.0, sweep="s"))
    part = {"name": "rho", "statistic": "spearman", "x": "flops", "y": "error", "expect": "greater", "effect": 0.3,
            "a": {"sweep": "s", "space": "AnyNetXA"}}
    suite = _suite([_claim(1, [part])], power={"simulations": 200})
    judged = judge(suite, None, str(tmp_path))["claims"][0]["parts"][0]
    planned = plan_suite(suite, str(tmp_path))["parts"][0]
    assert judged["verdict"] == "not resolved" and judged["models_needed"]["per_arm"] > 20
    assert planned["per_arm"] > 20 and "note" not in planned


# --- paired arms ------------------------------------------------------------------------------------------
def _option_store(path, n, effect, sweep, seed=0):
    """RegNetX and RegNetX+rep_dbb holding the same architectures; errors spread 6 points between models,
    the option's effect `effect` with 0.1 points of noise per pair."""
    from designspace.spaces import get_space
    from designspace.store import trial_id

    rows = synthetic_trials(spaces=("RegNetX",), n=n, seed=seed, noise=6.0, slope=0.0, penalty=0.0, sweep=sweep)
    rng = np.random.default_rng(seed + 1)
    for k, spec in enumerate(get_space("RegNetX+rep_dbb").sample(n, seed=seed * 1000, regime="fashion-mnist")):
        rows.append(dict(rows[k], trial_id=trial_id(spec.id, "dbb", 0), space="RegNetX+rep_dbb", spec_id=spec.id,
                         spec=spec.to_json(), error=float(rows[k]["error"] + effect + rng.normal(0, 0.1))))
    write_trials(path, rows)


def test_paired_arms_are_planned_on_their_pair_differences(tmp_path):
    _option_store(str(tmp_path / "s.db"), 12, -0.3, "s")
    part = {"name": "dbb - plain", "statistic": "median_diff", "a": {"sweep": "s", "space": "RegNetX+rep_dbb"},
            "b": {"sweep": "s", "space": "RegNetX"}, "expect": "less", "effect": 0.3}
    sweeps = {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 12}}
    plan = plan_suite(_suite([_claim(1, [part])], sweeps=sweeps, power={"simulations": 400}), str(tmp_path))
    plan = plan["parts"][0]
    # differences of sd 0.1 against an effect of 0.3: a handful of pairs (the sign test needs >= 5 at 5%);
    # jittering the arms apart (each by ~3 points) would have asked for thousands
    assert plan["paired"] and plan["per_arm"] <= 12 and plan["power_at_n"] >= 0.8


def test_a_paired_interaction_draws_its_two_pair_sets_apart(tmp_path):
    _option_store(str(tmp_path / "s1.db"), 12, -2.0, "s1")
    _option_store(str(tmp_path / "s2.db"), 8, 0.0, "s2", seed=3)
    arm = lambda sweep, space: {"sweep": sweep, "space": space}  # noqa: E731
    part = {"name": "gap", "statistic": "interaction", "a": arm("s1", "RegNetX+rep_dbb"), "b": arm("s1", "RegNetX"),
            "c": arm("s2", "RegNetX+rep_dbb"), "d": arm("s2", "RegNetX"), "expect": "less", "effect": 1.0}
    sweeps = {k: {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": n, "seed": s}
              for k, n, s in (("s1", 12, 0), ("s2", 8, 3))}
    plan = plan_suite(_suite([_claim(1, [part])], sweeps=sweeps, power={"simulations": 400}), str(tmp_path))
    plan = plan["parts"][0]
    assert plan["paired"] and plan["source"] == "pilot: ab 12, cd 8 model pairs"
    assert plan["per_arm"] <= 12 and plan["power_at_n"] >= 0.8


def test_the_smoothed_population_keeps_the_pilots_variance_and_pairing():
    from designspace.stats.power import smoothed_population

    rng = np.random.default_rng(0)
    a = rng.normal(0, 6, 30)
    b = a + rng.normal(0, 0.1, 30)
    kept = smoothed_population({"a": a, "b": b}, True, rng, keep_variance=True)
    assert np.std(kept["a"]) == pytest.approx(np.std(a, ddof=1), rel=0.02)
    assert np.std(kept["a"] - kept["b"]) == pytest.approx(np.std(a - b, ddof=1), rel=0.05)
    loose = smoothed_population({"a": a}, False, rng)
    assert np.std(loose["a"]) > 1.05 * np.std(a, ddof=1)  # the kernel alone inflates the spread
    assert np.std(smoothed_population({"a": a}, False, rng, keep_variance=True)["a"]) == \
        pytest.approx(np.std(a, ddof=1), rel=0.02)


# --- (c) complexity control, (d) the learning rule, applied to the pilot -------------------------------
def test_the_pilot_is_complexity_adjusted_as_the_judge_adjusts_it(tmp_path):
    write_trials(str(tmp_path / "s.db"), synthetic_trials(spaces=("RegNetX",), n=60, seed=0, noise=0.3, slope=4.0,
                                                          penalty=0.0, sweep="s"))
    cut = float(np.median([r["flops"] for r in synthetic_trials(spaces=("RegNetX",), n=60, seed=0, sweep="s")]))
    part = {"name": "small - large", "statistic": "median_diff", "expect": "equivalent", "margin": 1.0,
            "a": {"sweep": "s", "space": "RegNetX", "where": f"flops < {cut}"},
            "b": {"sweep": "s", "space": "RegNetX", "where": f"flops >= {cut}"}}
    sweeps = {"s": {"spaces": ["RegNetX"], "models_per_space": 60}}
    for complexity, adjusted in (({}, True), ({"complexity": {"method": "none"}}, False)):
        suite = _suite([_claim(1, [part])], sweeps=sweeps, power={"simulations": 200}, **complexity)
        judged = judge(suite, None, str(tmp_path))["claims"][0]["parts"][0]
        planned = plan_suite(suite, str(tmp_path))["parts"][0]
        assert bool(judged["design"].get("complexity", {}).get("applied")) == adjusted
        assert planned["pilot_estimate"] == pytest.approx(judged["effect"]["estimate"])
        assert (abs(planned["pilot_estimate"]) < 1.0) == adjusted  # raw error: the small models look > 2 worse


def test_the_pilot_follows_the_suites_learning_rule(tmp_path):
    rows = synthetic_trials(spaces=("AnyNetXA",), n=12, seed=0, noise=1.0, sweep="s")
    rows += [dict(r, space="AnyNetXB", trial_id=r["trial_id"] + "x", error=89.5 if k < 5 else r["error"] - 1)
             for k, r in enumerate(synthetic_trials(spaces=("AnyNetXA",), n=12, seed=3, noise=1.0, sweep="s"))]
    write_trials(str(tmp_path / "s.db"), rows)
    for keep, n_a in ((True, 12), (False, 7)):
        suite = _suite([_claim(1, [_diff(expect="less")])], learning={"keep": keep}, power={"simulations": 100})
        judged = judge(suite, None, str(tmp_path))["claims"][0]["parts"][0]
        planned = plan_suite(suite, str(tmp_path))["parts"][0]
        assert judged["effect"]["n"]["a"] == n_a and planned["source"].startswith(f"pilot: a {n_a}, b 12")
        assert planned["pilot_estimate"] == pytest.approx(judged["effect"]["estimate"])


# --- (e) compute ----------------------------------------------------------------------------------------
def test_compute_counts_every_cpu_and_every_repeat_of_a_trial(tmp_path):
    write_trials(str(tmp_path / "s.db"), synthetic_trials(spaces=("AnyNetXA", "AnyNetXB"), n=20, seed=0, noise=2.0,
                                                          sweep="s"))  # every trial took 1 s
    for cpus, repeats in ((1, 1), (4, 2)):
        sweeps = {"s": {"spaces": ["AnyNetXA", "AnyNetXB"], "models_per_space": 20, "repeats": repeats,
                        "resources": {"cpus": cpus, "gpus": 0}}}
        plan = plan_suite(_suite([_claim(1, [_diff()])], sweeps=sweeps, power={"simulations": 100}), str(tmp_path))
        s = plan["sweeps"]["s"]
        assert (s["cpus_per_trial"], s["repeats"], s["trial_seconds"]) == (cpus, repeats, 1.0)
        assert s["core_hours"] == pytest.approx(s["models_per_space"] * 2 * repeats * cpus / 3600)
        assert plan["core_hours"] == pytest.approx(s["core_hours"])


# --- (f) the predicted decision rate against the judge's decision on fresh samples -------------------------
EFFECTS = (1.0, 2.0, 5.0)
SD, BASE, PILOT, SIMS, REPS = 3.0, 50.0, 400, 3000, 3000


@pytest.fixture(scope="module")
def planted_pilot(tmp_path_factory):
    """A pilot store whose arms are N(50, 3) (AnyNetXA) and 1, 2 and 5 points above it (XB, XC, XD). Each
    arm's errors are the normal's 400 quantiles in a random order, so the pilot is its population up to
    discretisation and the comparison below carries Monte-Carlo error only, not a pilot's sampling error."""
    from scipy import stats as st

    path = tmp_path_factory.mktemp("pilot")
    spaces = ("AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD")
    rows = synthetic_trials(spaces=spaces, n=PILOT, seed=0, sweep="s")
    grid = st.norm.ppf((np.arange(PILOT) + 0.5) / PILOT)
    rng = np.random.default_rng(7)
    for space, shift in zip(spaces, (0.0, *EFFECTS)):
        arm = [r for r in rows if r["space"] == space]
        for r, z in zip(arm, rng.permutation(grid)):
            r["error"] = BASE + shift + SD * z
    write_trials(str(path / "s.db"), rows)
    return str(path)


def test_power_predicts_the_judges_decision_rate_on_fresh_samples(planted_pilot):
    spaces = ("AnyNetXB", "AnyNetXC", "AnyNetXD")
    claims = [_claim(i + 1, [{"name": f"{s} - XA", "statistic": "median_diff", "a": {"sweep": "s", "space": s},
                              "b": {"sweep": "s", "space": "AnyNetXA"}, "expect": "greater", "effect": e}])
              for i, (s, e) in enumerate(zip(spaces, EFFECTS))]
    sweeps = {"s": {"spaces": ["AnyNetXA", *spaces], "models_per_space": PILOT}}
    suite = _suite(claims, sweeps=sweeps, multiplicity=("none", "none"), complexity={"method": "none"},
                   power={"simulations": SIMS})
    plans = plan_suite(suite, planted_pilot)["parts"]
    rng = np.random.default_rng(2024)
    sizes = []
    for plan, effect in zip(plans, EFFECTS):
        n, predicted, alpha = plan["per_arm"], plan["power_at_n"], plan["alpha"]
        assert alpha == pytest.approx(ALPHA) and not plan["paired"] and predicted >= 0.8
        assert plan["source"] == f"pilot: a {PILOT}, b {PILOT} models"
        # independent: fresh draws from the pilot's normal populations, judged one sample at a time by the
        # judge's own interval (not the vectorised intervals power uses) at its level 1 - 2 alpha, which
        # decides exactly when the judge's decision p-value is <= alpha (checked on the first draws)
        hits = 0
        for k in range(REPS):
            values = {"a": rng.normal(BASE + effect, SD, n), "b": rng.normal(BASE, SD, n)}
            interval = part_interval("median_diff", values, {}, False, rng, 0)
            holds = rule(*interval.bounds(1 - 2 * alpha), "greater") == HOLDS
            if k < 20:
                direction, p = decision_pvalue(interval, "greater", 0.0)
                assert holds == (direction == HOLDS and p <= alpha)
            hits += holds
        observed = hits / REPS
        se = math.sqrt(predicted * (1 - predicted) / SIMS + observed * (1 - observed) / REPS)
        assert abs(observed - predicted) <= 3 * se, (effect, n, predicted, observed)
        sizes.append(n)
    assert sizes[0] > sizes[1] > sizes[2]
