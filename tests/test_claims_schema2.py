"""Schema-2 suites: pairing by design, complexity control, learning failures, multiplicity, power,
seed-free verdicts, --only merging, and the v1 suites still reproducing their committed verdicts."""
import json
import os

import numpy as np
import pytest

from designspace.analysis.synthetic import synthetic_trials
from designspace.claims import judge, load_suite, parse_suite
from designspace.claims.power import plan_suite
from designspace.claims.run import reproduce
from designspace.cli import main
from designspace.errors import UsageError
from designspace.spaces import get_space
from designspace.store import trial_id, write_trials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = {"schema": 2, "multiplicity": {"parts": "holm", "claims": "fdr"}}


def _suite(parts, sweeps=None, claims=None, **rules):
    return parse_suite({
        "suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}}, **RULES, **rules,
        "sweeps": sweeps or {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 12}},
        "claims": claims or [{"id": 1, "text": "t", "figure": "-", "parts": parts}]}, "t.yaml")


def _dbb_store(path, n=12, effect=-1.0, sweep="s", plain_sweep=None):
    rows = synthetic_trials(spaces=("RegNetX",), n=n, seed=0, noise=6.0, slope=0.0, penalty=0.0,
                            sweep=plain_sweep or sweep)
    dbb = get_space("RegNetX+rep_dbb").sample(n, seed=0, regime="fashion-mnist")
    rng = np.random.default_rng(1)
    for k, spec in enumerate(dbb):
        rows.append(dict(rows[k], trial_id=trial_id(spec.id, "dbb", 0), space="RegNetX+rep_dbb", sweep=sweep,
                         spec_id=spec.id, spec=spec.to_json(), error=float(rows[k]["error"] + effect +
                                                                           rng.normal(0, 0.1))))
    write_trials(path, rows)


DBB_PART = {"name": "DBB - plain", "statistic": "median_diff", "a": {"sweep": "s", "space": "RegNetX+rep_dbb"},
            "b": {"sweep": "s", "space": "RegNetX"}, "expect": "less"}


def test_arms_holding_the_same_architectures_are_paired_without_being_told(tmp_path):
    _dbb_store(str(tmp_path / "s.db"))
    part = judge(_suite([DBB_PART]), None, str(tmp_path))["claims"][0]["parts"][0]
    assert part["paired"] and part["effect"]["unit"] == "model pairs" and part["effect"]["n"] == {"a": 12, "b": 12}
    assert part["design"]["pairing"]["design"].startswith("paired: 12 architectures")
    assert part["verdict"] == "holds" and -1.3 < part["effect"]["estimate"] < -0.7
    unpaired = judge(_suite([DBB_PART], pairing="none"), None, str(tmp_path))["claims"][0]["parts"][0]
    assert not unpaired["paired"] and unpaired["verdict"] == "not resolved"  # the spread hides the effect


def test_models_shared_between_sweeps_are_paired_not_counted_twice(tmp_path):
    rows = synthetic_trials(spaces=("RegNetX",), n=10, seed=0, noise=6.0, slope=0.0, penalty=0.0, sweep="a")
    rows += [dict(r, sweep="b", trial_id=r["trial_id"] + "b", error=r["error"] + 0.5) for r in rows]
    write_trials(str(tmp_path / "a.db"), [r for r in rows if r["sweep"] == "a"])
    write_trials(str(tmp_path / "b.db"), [r for r in rows if r["sweep"] == "b"])
    sweeps = {"a": {"spaces": ["RegNetX"], "models_per_space": 10},
              "b": {"spaces": ["RegNetX"], "models_per_space": 10, "seed": 1}}
    part = {"name": "b - a", "statistic": "median_diff", "a": {"sweep": "b", "space": "RegNetX"},
            "b": {"sweep": "a", "space": "RegNetX"}, "expect": "greater"}
    out = judge(_suite([part], sweeps=sweeps), None, str(tmp_path))["claims"][0]["parts"][0]
    assert out["paired"] and out["effect"]["estimate"] == pytest.approx(0.5) and out["verdict"] == "holds"


def test_a_small_overlap_is_removed_so_the_arms_are_independent(tmp_path):
    rows = synthetic_trials(spaces=("RegNetX",), n=12, seed=0, noise=3.0, sweep="a")
    other = synthetic_trials(spaces=("RegNetX",), n=12, seed=5, noise=3.0, sweep="b")
    other[:3] = [dict(r, sweep="b", trial_id=r["trial_id"] + "b") for r in rows[:3]]  # 3 of 12 shared
    write_trials(str(tmp_path / "a.db"), rows)
    write_trials(str(tmp_path / "b.db"), other)
    sweeps = {"a": {"spaces": ["RegNetX"], "models_per_space": 12},
              "b": {"spaces": ["RegNetX"], "models_per_space": 12, "seed": 5}}
    part = {"name": "b - a", "statistic": "median_diff", "a": {"sweep": "b", "space": "RegNetX"},
            "b": {"sweep": "a", "space": "RegNetX"}, "expect": "greater"}
    out = judge(_suite([part], sweeps=sweeps), None, str(tmp_path))["claims"][0]["parts"][0]
    assert not out["paired"] and sorted(out["effect"]["n"].values()) == [9, 12]
    assert "dropped from arm" in out["design"]["pairing"]["design"]


def test_arms_with_different_flops_are_compared_at_equal_complexity(tmp_path):
    write_trials(str(tmp_path / "s.db"), synthetic_trials(spaces=("RegNetX",), n=60, seed=0, noise=0.3, slope=4.0,
                                                          penalty=0.0, sweep="s"))
    sweeps = {"s": {"spaces": ["RegNetX"], "models_per_space": 60}}
    cut = float(np.median([r["flops"] for r in synthetic_trials(spaces=("RegNetX",), n=60, seed=0, sweep="s")]))
    part = {"name": "small - large", "statistic": "median_diff", "expect": "equivalent", "margin": 1.0,
            "a": {"sweep": "s", "space": "RegNetX", "where": f"flops < {cut}"},
            "b": {"sweep": "s", "space": "RegNetX", "where": f"flops >= {cut}"}}
    out = judge(_suite([part], sweeps=sweeps), None, str(tmp_path))["claims"][0]["parts"][0]
    cx = out["design"]["complexity"]
    assert cx["applied"] and cx["ratio"] > 1.1 and cx["beta"] < -1  # error falls with log flops
    assert abs(out["effect"]["estimate"]) < 1.0 and out["verdict"] == "holds"  # equal once flops are equal
    raw = judge(_suite([part], sweeps=sweeps, complexity={"method": "none"}), None, str(tmp_path))
    assert raw["claims"][0]["parts"][0]["effect"]["estimate"] > 2.0  # raw error: the smaller models look worse


def test_models_that_did_not_learn_are_counted_and_the_other_choice_reported(tmp_path):
    rows = synthetic_trials(spaces=("RegNetX",), n=12, seed=0, noise=1.0, sweep="s")
    rows += [dict(r, space="RegNetX+rep_dbb", trial_id=r["trial_id"] + "x", error=89.5 if k < 5 else r["error"] - 1)
             for k, r in enumerate(synthetic_trials(spaces=("RegNetX",), n=12, seed=3, noise=1.0, sweep="s"))]
    write_trials(str(tmp_path / "s.db"), rows)
    part = dict(DBB_PART, expect="less")
    out = judge(_suite([part]), None, str(tmp_path))["claims"][0]["parts"][0]
    assert out["did_not_learn"] == {"a": 5, "b": 0}
    sens = out["learning_sensitivity"]
    assert sens["models"] == "excluded" and sens["effect"]["n"]["a"] == 7
    assert out["effect"]["estimate"] > sens["effect"]["estimate"]  # the failures pull the kept arm's median up
    excluded = judge(_suite([part], learning={"keep": False}), None, str(tmp_path))["claims"][0]["parts"][0]
    assert excluded["effect"]["n"]["a"] == 7 and excluded["learning_sensitivity"]["models"] == "kept"


def test_multiplicity_is_applied_and_shown_beside_the_raw_p_value(tmp_path):
    _dbb_store(str(tmp_path / "s.db"), effect=-0.3)
    parts = [dict(DBB_PART, name=f"part {i}") for i in range(4)]
    part = judge(_suite(parts), None, str(tmp_path))["claims"][0]["parts"][0]
    assert part["p_adjusted"] == pytest.approx(min(1.0, part["p_value"] * 4))  # Holm over 4 equal p-values
    assert part["level_adjusted"] > 0.9


def test_only_rewrites_the_named_claims_and_keeps_the_others(tmp_path):
    _dbb_store(str(tmp_path / "s.db"))
    suite = {"suite": "t", "tier": "cpu", "store_dir": str(tmp_path), "defaults": {"dataset": {"name": "synthetic"}},
             **RULES, "sweeps": {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 12}},
             "claims": [{"id": i, "text": f"claim {i}", "figure": "-", "parts": [DBB_PART]} for i in (1, 2)]}
    path = tmp_path / "suite.yaml"
    import yaml
    path.write_text(yaml.safe_dump(suite))
    before = {f: os.path.getsize(tmp_path / f) for f in os.listdir(tmp_path) if f.endswith(".db")}
    reproduce(str(path), analyze_only=True, figures=False, progress=False)
    reproduce(str(path), only=[2], analyze_only=True, figures=False, progress=False)
    saved = json.loads((tmp_path / "t" / "claims.json").read_text())
    assert [c["id"] for c in saved["claims"]] == [1, 2] and "claims 2 judged" in saved["merged"]
    text = (tmp_path / "t" / "claims.md").read_text()
    assert "claim 1" in text
    # 24 trials of 1 s at one core each; both claims hold: 2 decided over 24 core-seconds
    assert "Compute: 0.01 core-hours of training" in text and "2 claims decided" in text
    assert f"{2 / (24 / 3600):.2f} per core-hour" in text
    assert before == {f: os.path.getsize(tmp_path / f) for f in os.listdir(tmp_path) if f.endswith(".db")}
    assert not [f for f in os.listdir(tmp_path) if f.endswith(("-wal", "-shm"))]


def test_power_plans_each_part_and_the_compute_it_implies(tmp_path):
    _dbb_store(str(tmp_path / "s.db"), effect=-0.3)
    suite = _suite([DBB_PART], power={"simulations": 200})
    plan = plan_suite(suite, str(tmp_path))
    part = plan["parts"][0]
    assert part["paired"] and part["per_arm"] >= 3 and part["power_at_n"] >= 0.8
    assert plan["sweeps"]["s"]["models_per_space"] == part["per_arm"] and plan["core_hours"] > 0
    big = plan_suite(_suite([dict(DBB_PART, effect=0.05)], power={"simulations": 200}), str(tmp_path))
    assert big["parts"][0]["per_arm"] > part["per_arm"]  # a smaller effect needs more models


def test_power_and_schema_errors_are_one_line(tmp_path, capsys):
    assert main(["power", os.path.join(ROOT, "experiments", "paper", "cpu.yaml")]) == 2
    assert "schema-1 suite" in capsys.readouterr().err
    with pytest.raises(UsageError, match="need schema: 2"):
        parse_suite({**yaml_safe(os.path.join(ROOT, "experiments", "paper", "cpu.yaml")), "pairing": "auto"})
    with pytest.raises(UsageError, match="multiplicity.claims"):
        _suite([DBB_PART], multiplicity={"claims": "sometimes"})
    with pytest.raises(UsageError, match="effects of interest need schema: 2"):
        parse_suite({"suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}},
                     "sweeps": {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 3}},
                     "claims": [{"id": 1, "text": "t", "figure": "-", "parts": [dict(DBB_PART, effect=1)]}]})


def yaml_safe(path):
    import yaml
    with open(path) as fh:
        return yaml.safe_load(fh)


def _verdicts(result):
    return [(c["id"], c["verdict"], tuple(p["verdict"] for p in c.get("parts", []))) for c in result["claims"]]


@pytest.fixture(scope="module")
def posthoc():
    """The post-hoc suite judged on the committed v1 stores, once for the tests that read it."""
    suite = load_suite(os.path.join(ROOT, "experiments", "paper", "cpu_posthoc.yaml"))
    return suite, judge(suite, seed=0)


def test_posthoc_verdicts_do_not_move_with_the_statistics_seed(posthoc):
    suite, first = posthoc
    seen = {tuple(_verdicts(first))} | {tuple(_verdicts(judge(suite, seed=s))) for s in range(1, 5)}
    assert len(seen) == 1


def test_every_part_left_not_resolved_says_how_many_models_would_resolve_it(posthoc):
    suite, result = posthoc
    open_parts = [p for c in result["claims"] for p in c["parts"] if p["verdict"] == "not resolved"]
    assert len(open_parts) > 10
    plannable = [p for p in open_parts if p.get("models_needed") is not None]
    assert len(plannable) > 10
    for p in plannable:
        need = p["models_needed"]
        assert need["per_arm"] >= 3 and need["power"] == suite.rules.power.target, p["name"]
        assert need["effect"] == p["effect_of_interest"]
    for p in open_parts:  # the rest say why no size can be planned for them (power says the same)
        assert p in plannable or ("models_needed" in p and p.get("models_needed_reason")), p["name"]
    decided = [p for c in result["claims"] for p in c["parts"] if p["verdict"] in ("holds", "contradicted")]
    assert decided and not any("models_needed" in p for p in decided)


def test_posthoc_suite_controls_claim_20s_paired_arms_for_flops(posthoc):
    _, result = posthoc
    part = next(c for c in result["claims"] if c["id"] == 20)["parts"][0]
    cx = part["design"]["complexity"]
    assert part["paired"] and cx["paired"] == "adjust" and cx["applied"] and cx["ratio"] > cx["max_ratio"]
    assert "MOVER" in part["effect"]["method"]


@pytest.mark.parametrize("name, folder", [("cpu.yaml", "paper-cpu"), ("cpu_seeds.yaml", "paper-cpu-seeds")])
def test_v1_suites_rejudged_reproduce_their_committed_verdicts(name, folder):
    suite = load_suite(os.path.join(ROOT, "experiments", "paper", name))
    committed = json.loads(open(os.path.join(ROOT, "results", "paper", "cpu", folder, "claims.json")).read())
    assert _verdicts(judge(suite)) == _verdicts(committed)


def test_a_sweep_still_running_is_not_judged_until_complete(tmp_path):
    """A fixed design is judged on the data it planned: a store holding fewer trials than its sweep's
    recorded plan leaves its claims not run (no unplanned interim look), and says how far it is."""
    from designspace.store import connect, record_sweep

    db = str(tmp_path / "s.db")
    _dbb_store(db)
    con = connect(db)
    try:
        record_sweep(con, "s", {}, planned=30)  # 24 of 30 planned trials stored
    finally:
        con.close()
    result = judge(_suite([DBB_PART]), None, str(tmp_path))
    claim = result["claims"][0]
    assert claim["verdict"] == "not run"
    assert any("incomplete: 24 of 30 planned trials" in m for m in claim["missing"])
    assert result["sweeps"]["s"]["planned"] == 30 and result["sweeps"]["s"]["done"] == 24
    assert result["sweeps"]["s"]["trial_seconds"] > 0  # its rows still counted
    con = connect(db)
    try:
        record_sweep(con, "s", {}, planned=24)  # complete
    finally:
        con.close()
    assert judge(_suite([DBB_PART]), None, str(tmp_path))["claims"][0]["verdict"] == "holds"


def test_a_claim_waiting_for_its_sweep_stays_in_the_suites_family(tmp_path):
    """Judged while claim 2's sweep has not run, claim 1 faces the family of two claims the suite declared
    (claim 2 counted with p = 1), not a family of one: its adjusted p-value doubles, never shrinks."""
    _dbb_store(str(tmp_path / "s.db"), effect=-0.3)
    sweeps = {"s": {"spaces": ["RegNetX", "RegNetX+rep_dbb"], "models_per_space": 12},
              "t": {"spaces": ["RegNetX"], "models_per_space": 12}}
    other = dict(DBB_PART, a={"sweep": "t", "space": "RegNetX"}, b={"sweep": "t", "space": "RegNetX"})
    alone = judge(_suite([DBB_PART]), None, str(tmp_path))["claims"][0]["parts"][0]
    both = judge(_suite(None, sweeps=sweeps, claims=[
        {"id": 1, "text": "t", "figure": "-", "parts": [DBB_PART]},
        {"id": 2, "text": "u", "figure": "-", "parts": [other]}]), None, str(tmp_path))["claims"]
    assert both[1]["verdict"] == "not run" and any("no store" in m for m in both[1]["missing"])
    assert both[0]["parts"][0]["p_value"] == pytest.approx(alone["p_value"])
    assert both[0]["parts"][0]["p_adjusted"] == pytest.approx(min(1.0, 2 * alone["p_adjusted"]))


# --- paired arms whose complexity differs ---------------------------------------------------------------
def _paired_flops_store(path, ratio=1.3, n=12):
    """Plain RegNetX and the same architectures with DBB whose stored flops are `ratio` x the plain ones;
    error falls with log flops (the synthetic slope), and at equal flops the arms are equal."""
    rows = synthetic_trials(spaces=("RegNetX",), n=n, seed=0, noise=0.3, slope=4.0, penalty=0.0, sweep="s")
    log_flops = np.log([r["flops"] for r in rows])
    per_log = 4.0 / log_flops.std()  # synthetic_trials: error = base - slope * standardized log flops + noise
    dbb = get_space("RegNetX+rep_dbb").sample(n, seed=0, regime="fashion-mnist")
    rng = np.random.default_rng(1)
    for k, spec in enumerate(dbb):
        rows.append(dict(rows[k], trial_id=trial_id(spec.id, "dbb", 0), space="RegNetX+rep_dbb", spec_id=spec.id,
                         spec=spec.to_json(), flops=int(rows[k]["flops"] * ratio),
                         error=float(rows[k]["error"] - per_log * np.log(ratio) + rng.normal(0, 0.1))))
    write_trials(path, rows)
    return per_log * np.log(ratio)


def test_paired_arms_with_different_flops_are_reported_or_controlled_as_declared(tmp_path):
    gap = _paired_flops_store(str(tmp_path / "s.db"))
    part = dict(DBB_PART, expect="equivalent", margin=1.0)
    report = judge(_suite([part]), None, str(tmp_path))["claims"][0]["parts"][0]
    cx = report["design"]["complexity"]
    assert report["paired"] and cx["paired"] == "report" and not cx["applied"] and cx["ratio"] == pytest.approx(1.3)
    assert any("not controlled for flops" in w for w in report["effect"]["warnings"])
    assert report["effect"]["estimate"] == pytest.approx(-gap, abs=0.3) and gap > 2  # raw: DBB looks better
    assert report["verdict"] == "contradicted"
    adjusted = judge(_suite([part], complexity={"paired": "adjust"}), None, str(tmp_path))["claims"][0]["parts"][0]
    cx = adjusted["design"]["complexity"]
    assert cx["applied"] and cx["beta"] < 0 and cx["dof"] == 11  # 12 pairs: the slope's error clustered by pair
    assert abs(adjusted["effect"]["estimate"]) < 0.3 and adjusted["verdict"] == "holds"  # equal at equal flops
    assert not adjusted["effect"]["warnings"] and "MOVER" in adjusted["effect"]["method"]
    text = markdown_of(adjusted)
    assert "complexity (paired arms)" in text and "median pair ratio 1.3" in text


def markdown_of(part):
    from designspace.claims.report import design_lines
    return "\n".join(design_lines(part))


# --- a ceiling, a borderline, the seed on the command line ----------------------------------------------
FOUR = ("RegNetX", "AnyNetXA", "AnyNetXB", "AnyNetXC")
FOUR_SWEEPS = {"s": {"spaces": list(FOUR), "models_per_space": 12}}
INTERACTION = {"name": "gap", "statistic": "interaction", "expect": "less",
               **{k: {"sweep": "s", "space": sp} for k, sp in zip("abcd", FOUR)}}


def _four_arm_store(path, ceiling=()):
    rows = synthetic_trials(spaces=FOUR, n=12, seed=0, noise=1.0, sweep="s")
    rng = np.random.default_rng(2)
    write_trials(path, [dict(r, error=float(rng.uniform(84, 89))) if r["space"] in ceiling else r for r in rows])


def test_an_interaction_whose_arms_sit_near_chance_carries_a_ceiling_warning(tmp_path):
    _four_arm_store(str(tmp_path / "s.db"), ceiling=("RegNetX", "AnyNetXA"))
    part = judge(_suite([INTERACTION], sweeps=FOUR_SWEEPS), None, str(tmp_path))["claims"][0]["parts"][0]
    assert part["did_not_learn"] == {"a": 12, "b": 12, "c": 0, "d": 0}
    assert [w for w in part["effect"]["warnings"] if "ceiling" in w] == [
        "arms a, b sit at the ceiling (most models did not learn): the interaction measures a floor effect, not "
        "the design"]
    _four_arm_store(str(tmp_path / "t.db"))
    os.replace(tmp_path / "t.db", tmp_path / "s.db")
    clean = judge(_suite([INTERACTION], sweeps=FOUR_SWEEPS), None, str(tmp_path))["claims"][0]["parts"][0]
    assert not any("ceiling" in w for w in clean["effect"]["warnings"])


BEST_OF = {"name": "best of 2", "statistic": "best_of_m_diff", "m": 2, "expect": "greater",
           "a": {"sweep": "s", "space": "RegNetX"}, "b": {"sweep": "s", "space": "AnyNetXA"}}
NO_CONTROL = {"multiplicity": {"parts": "none", "claims": "none"}}  # the adjusted level is the stated one


def test_a_bootstrap_endpoint_within_its_monte_carlo_band_of_the_line_is_borderline(tmp_path):
    _four_arm_store(str(tmp_path / "s.db"))
    far = judge(_suite([dict(BEST_OF, ref=-100.0)], sweeps=FOUR_SWEEPS, **NO_CONTROL), None, str(tmp_path))
    part = far["claims"][0]["parts"][0]
    lo = part["effect"]["lo"]
    band = part["effect"]["mc_band"]  # where another seed could put each endpoint, written to claims.json
    assert band["lo"][0] < lo < band["lo"][1] and band["hi"][0] < part["effect"]["hi"] < band["hi"][1]
    assert band["resamples"] == 20000 and part["mc_band_adjusted"] == band  # no multiplicity: same level
    assert part["verdict"] == "holds" and not part.get("borderline")
    ref = (band["lo"][0] + lo) / 2  # below the endpoint, inside its band
    near = judge(_suite([dict(BEST_OF, ref=ref)], sweeps=FOUR_SWEEPS, **NO_CONTROL), None, str(tmp_path))
    part = near["claims"][0]["parts"][0]
    assert part["effect"]["lo"] == lo and part["p_value"] < 0.05  # the interval alone would decide...
    assert part["verdict"] == "not resolved" and part["borderline"]  # ...but another seed might not
    from designspace.claims.report import markdown, verdict_text
    assert verdict_text(part) == "not resolved (borderline)"
    out = reproduce_result(near)
    text = markdown(out)
    assert "not resolved (borderline)" in text and "Monte-Carlo band of the bootstrap endpoints" in text


def reproduce_result(judged):
    """The judge's result dressed as reproduce writes it (run block, statistics), for report.markdown."""
    return {"suite": "t", "tier": "cpu", **judged,
            "run": {"command": "designspace reproduce t.yaml", "date": "-", "machine": "-", "wall_s": 0.0},
            "statistics": {"schema": 1, "aggregate": "mean", "resamples": 20000, "level": 0.9, "seed": 0}}


def test_reproduce_seed_rejudges_without_moving_a_verdict_and_rejects_a_bad_seed(tmp_path, capsys):
    import yaml
    _four_arm_store(str(tmp_path / "s.db"))
    parts = [BEST_OF, dict(BEST_OF, name="median", statistic="median_diff", m=None), INTERACTION]
    parts[1].pop("m")
    suite = {"suite": "t", "tier": "cpu", "store_dir": str(tmp_path), "defaults": {"dataset": {"name": "synthetic"}},
             **RULES, "sweeps": FOUR_SWEEPS, "claims": [{"id": 1, "text": "t", "figure": "-", "parts": parts}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    seen = {}
    for seed in (0, 3):
        assert main(["reproduce", str(path), "--analyze-only", "--no-figures", "--no-progress", "--seed",
                     str(seed)]) == 0
        saved = json.loads((tmp_path / "t" / "claims.json").read_text())
        assert saved["statistics"]["seed"] == seed
        seen[seed] = (_verdicts(saved), saved["claims"][0]["parts"][0]["effect"]["lo"])
    assert seen[0][0] == seen[3][0]  # the verdicts stand...
    assert seen[0][1] != seen[3][1]  # ...though the bootstrap part was resampled with another seed
    capsys.readouterr()
    before = (tmp_path / "t" / "claims.json").read_text()
    assert main(["reproduce", str(path), "--analyze-only", "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed must be in [0, 4294967295], got -1" in err and "Traceback" not in err
    assert (tmp_path / "t" / "claims.json").read_text() == before
