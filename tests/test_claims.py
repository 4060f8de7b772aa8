"""Claims suites: verdict rules on planted effects, the shipped suite files, missing arms."""
import json
import os

import numpy as np
import pytest
import yaml

from designspace.analysis.synthetic import write_synthetic_store
from designspace.claims import STATISTICS, compute, judge, load_suite, parse_suite, verdict
from designspace.claims.statistics import CONTRADICTED, HOLDS, NOT_RESOLVED, NOT_RUN, combine
from designspace.cli import main
from designspace.errors import UsageError
from designspace.spaces import get_space, parse_flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITES = [os.path.join(ROOT, "experiments", "paper", f)
          for f in ("cpu.yaml", "cpu_seeds.yaml", "gpu.yaml", "gpu_seeds.yaml")]


def _normal(rng, mean, sd, n):
    return rng.normal(mean, sd, n)


def test_rules_read_planted_differences():
    rng = np.random.default_rng(1)
    base = _normal(rng, 20, 2, 60)
    better = _normal(rng, 16, 2, 60)  # planted: 4 points lower
    kw = dict(resamples=1000, level=0.9, seed=(0,))
    eff = compute("median_diff", {"a": better, "b": base}, **kw)
    assert eff.hi < 0 and -5.5 < eff.estimate < -2.5
    assert verdict(eff, "less") == HOLDS
    assert verdict(eff, "greater") == CONTRADICTED
    # no planted effect, few noisy models: the interval covers 0
    a, b = _normal(rng, 20, 6, 8), _normal(rng, 20, 6, 8)
    eff0 = compute("median_diff", {"a": a, "b": b}, **kw)
    assert eff0.lo < 0 < eff0.hi
    assert verdict(eff0, "less") == NOT_RESOLVED
    assert eff.n == {"a": 60, "b": 60} and eff.unit == "models" and eff.resamples == 1000


def test_equivalence_rule_holds_contradicts_and_stays_open():
    rng = np.random.default_rng(2)
    kw = dict(resamples=1000, level=0.9, seed=(0,))
    same = compute("mean_diff", {"a": _normal(rng, 10, 0.5, 400), "b": _normal(rng, 10, 0.5, 400)}, **kw)
    assert verdict(same, "equivalent", margin=0.5) == HOLDS
    far = compute("mean_diff", {"a": _normal(rng, 13, 0.5, 400), "b": _normal(rng, 10, 0.5, 400)}, **kw)
    assert verdict(far, "equivalent", margin=0.5) == CONTRADICTED
    wide = compute("mean_diff", {"a": _normal(rng, 10, 5, 10), "b": _normal(rng, 10, 5, 10)}, **kw)
    assert verdict(wide, "equivalent", margin=0.5) == NOT_RESOLVED
    # non-inferiority: slightly worse within the margin holds; far worse is contradicted
    assert verdict(compute("mean_diff", {"a": _normal(rng, 10.2, 0.3, 400), "b": _normal(rng, 10, 0.3, 400)}, **kw),
                   "at_most", margin=1.0) == HOLDS
    assert verdict(far, "at_most", margin=1.0) == CONTRADICTED


def test_trend_statistics_recover_planted_slopes():
    rng = np.random.default_rng(3)
    flops = np.exp(rng.uniform(np.log(1e6), np.log(2e7), 80))
    acts = 3.0 * flops ** 0.5 * np.exp(rng.normal(0, 0.05, 80))
    eff = compute("slope", {"a": (flops, acts)}, {"x": "flops", "y": "acts", "log": True}, 1000, 0.9, (0,))
    assert abs(eff.estimate - 0.5) < 0.05
    assert verdict(eff, "equivalent", ref=0.5, margin=0.1) == HOLDS
    assert verdict(eff, "equivalent", ref=1.0, margin=0.1) == CONTRADICTED
    rho = compute("spearman", {"a": (flops, flops + rng.normal(0, 1e5, 80))}, {"x": "flops", "y": "d"}, 1000, 0.9, (0,))
    assert rho.lo > 0.8 and verdict(rho, "greater") == HOLDS
    # best of m: the space with the lower errors finds a good model sooner
    bom = compute("best_of_m_diff", {"a": _normal(rng, 10, 1, 50), "b": _normal(rng, 14, 1, 50)}, {"m": 8},
                  1000, 0.9, (0,))
    assert verdict(bom, "less") == HOLDS
    ks = compute("ks", {"a": _normal(rng, 10, 1, 200), "b": _normal(rng, 12, 1, 200)}, {}, 500, 0.9, (0,))
    assert ks.lo > 0.4 and ks.extra["pvalue"] < 1e-6


def test_claim_combines_its_parts():
    assert combine([HOLDS, HOLDS]) == HOLDS
    assert combine([HOLDS, NOT_RESOLVED]) == NOT_RESOLVED
    assert combine([HOLDS, CONTRADICTED, NOT_RESOLVED]) == CONTRADICTED
    assert combine([HOLDS, NOT_RUN]) == NOT_RUN


def _suite_dict(**over):
    raw = {
        "suite": "t", "tier": "cpu",
        "defaults": {"regime": "fashion-mnist", "dataset": {"name": "synthetic"}, "recipe": {"epochs": 1}},
        "statistics": {"resamples": 500},
        "sweeps": {"s1": {"spaces": ["AnyNetXE", "RegNetX"], "models_per_space": 30},
                   "s2": {"spaces": ["RegNetY"], "models_per_space": 5}},
        "claims": [
            {"id": 1, "text": "RegNetX beats AnyNetXE", "figure": "Fig. 9", "parts": [
                {"name": "median", "statistic": "median_diff", "a": {"sweep": "s1", "space": "RegNetX"},
                 "b": {"sweep": "s1", "space": "AnyNetXE"}, "expect": "less"}]},
            {"id": 2, "text": "AnyNetXE ≈ RegNetX", "figure": "Fig. 9", "parts": [
                {"name": "median", "statistic": "median_diff", "a": {"sweep": "s1", "space": "AnyNetXE"},
                 "b": {"sweep": "s1", "space": "RegNetX"}, "expect": "equivalent", "margin": 0.5}]},
            {"id": 3, "text": "RegNetY beats AnyNetXE", "figure": "Fig. 14", "parts": [
                {"name": "median", "statistic": "median_diff", "a": {"sweep": "s2", "space": "RegNetY"},
                 "b": {"sweep": "s1", "space": "AnyNetXE"}, "expect": "less"}]},
        ]}
    raw.update(over)
    return raw


@pytest.mark.parametrize("shift, noise, n, expected", [
    (-3.0, 1.0, 30, (HOLDS, CONTRADICTED)),       # RegNetX planted 3 points better
    (3.0, 1.0, 30, (CONTRADICTED, CONTRADICTED)),  # planted 3 points worse
    (0.0, 0.2, 30, (NOT_RESOLVED, HOLDS)),        # no difference, tight: equivalent, not better
    (0.0, 6.0, 8, (NOT_RESOLVED, NOT_RESOLVED)),  # no difference, noisy and few: nothing resolved
])
def test_judge_on_synthetic_stores_finds_what_was_planted(tmp_path, shift, noise, n, expected):
    suite = parse_suite(_suite_dict(), "t.yaml")
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=n, shift={"RegNetX": shift},
                          slope=0.0, penalty=0.0, noise=noise, sweep="s1", seed=4)
    res = judge(suite, suite.claims[:2], str(tmp_path))
    got = tuple(c["verdict"] for c in res["claims"])
    assert got == expected, [c["parts"][0].get("effect") for c in res["claims"]]
    part = res["claims"][0]["parts"][0]
    assert part["effect"]["n"] == {"a": n, "b": n} and part["effect"]["unit"] == "models"


def test_models_not_trials_are_the_unit(tmp_path):
    """Two trials of one model (repeats) count once in n."""
    from designspace.analysis.synthetic import synthetic_trials
    from designspace.store import write_trials

    rows = synthetic_trials(spaces=("AnyNetXE", "RegNetX"), n=10, slope=0.0, penalty=0.0, sweep="s1", seed=5)
    again = [dict(r, trial_id=r["trial_id"] + "-seed1", seed=1, error=(r["error"] or 0) + 0.5) for r in rows]
    write_trials(str(tmp_path / "s1.db"), rows + again)
    suite = parse_suite(_suite_dict(), "t.yaml")
    part = judge(suite, suite.claims[:1], str(tmp_path))["claims"][0]["parts"][0]
    assert part["effect"]["n"] == {"a": 10, "b": 10}


def test_analyze_only_names_the_missing_arm(tmp_path, capsys):
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=10, sweep="s1")
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_suite_dict(), allow_unicode=True))
    rc = main(["reproduce", str(path), "--analyze-only", "--out", str(tmp_path), "--no-figures", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "missing: sweep s2 has no store" in err and "for claim 3" in err
    res = json.loads((tmp_path / "t" / "claims.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in res["claims"]}
    assert verdicts[3] == NOT_RUN and verdicts[1] != NOT_RUN
    assert any("sweep s2" in m for m in res["claims"][2]["missing"])
    md = (tmp_path / "t" / "claims.md").read_text()
    assert "missing: sweep s2" in md and "| 3. RegNetY beats AnyNetXE |" in md
    # --only judges the subset that exists: exit 0
    assert main(["reproduce", str(path), "--analyze-only", "--only", "1,2", "--out", str(tmp_path),
                 "--no-figures"]) == 0
    # nothing stored was changed: the store still holds only s1's rows
    assert not (tmp_path / "s2.db").exists()


def test_an_empty_arm_is_named(tmp_path):
    """A store without the arm's space (here: a where that no model meets) names the arm."""
    raw = _suite_dict()
    raw["claims"][0]["parts"][0]["a"]["where"] = "d > 1000"
    suite = parse_suite(raw, "t.yaml")
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=10, sweep="s1")
    c = judge(suite, suite.claims[:1], str(tmp_path))["claims"][0]
    assert c["verdict"] == NOT_RUN and "RegNetX where d > 1000" in c["missing"][0]


def test_a_skipped_claim_is_not_run_with_its_reason(tmp_path):
    raw = _suite_dict()
    raw["claims"][2] = {"id": 3, "text": "needs a GPU", "figure": "Fig. 14", "skip": "no GPU at this tier"}
    suite = parse_suite(raw, "t.yaml")
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=10, sweep="s1")
    res = {c["id"]: c for c in judge(suite, None, str(tmp_path))["claims"]}
    assert res[3]["verdict"] == NOT_RUN and res[3]["missing"] == ["not run at this tier: no GPU at this tier"]
    assert res[1]["verdict"] != NOT_RUN


@pytest.mark.parametrize("edit, needle", [
    (lambda r: r["claims"][0]["parts"][0].update(statistic="mode_diff"), "statistic': must be one of 'median_diff'"),
    (lambda r: r["claims"][0]["parts"][0]["a"].update(space="RegNetZ"), "'RegNetZ' is not a space of sweep s1"),
    (lambda r: r["claims"][0]["parts"][0]["a"].update(sweep="s9"), "unknown sweep 's9'"),
    (lambda r: r["sweeps"]["s1"].update(spaces=["NoSuchNet"]), "unknown space"),
    (lambda r: r["claims"][0]["parts"][0].update(expect="better"), "parts[0].expect': must be one of"),
    (lambda r: r["claims"][1]["parts"][0].pop("margin"), "needs a margin"),
    (lambda r: r["claims"][0]["parts"][0]["a"].update(where="d >"), "where"),
    (lambda r: r["claims"][1].update(id=1), "claim id 1 appears twice"),
    (lambda r: r["sweeps"].update(s3=dict(r["sweeps"]["s2"])), "is the same sweep as sweeps.s2"),
])
def test_bad_suites_are_one_line_exit_2(tmp_path, capsys, edit, needle):
    raw = _suite_dict()
    edit(raw)
    with pytest.raises(UsageError, match=None) as exc:
        parse_suite(raw, "t.yaml")
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert main(["reproduce", str(path), "--analyze-only", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "t").exists()  # nothing written


def test_cli_flags_are_checked(tmp_path, capsys):
    assert main(["reproduce", SUITES[0], "--tier", "gpu", "--analyze-only", "--out", str(tmp_path)]) == 2
    assert "cpu tier's suite" in capsys.readouterr().err
    assert main(["reproduce", SUITES[0], "--only", "99", "--analyze-only", "--out", str(tmp_path)]) == 2
    assert main(["reproduce", str(tmp_path / "none.yaml")]) == 2


@pytest.mark.parametrize("path", SUITES, ids=os.path.basename)
def test_shipped_suites_validate(path):
    suite = load_suite(path)
    used = set()
    for claim in suite.claims:
        assert claim.skip or claim.parts, claim.id
        for part in claim.parts:
            assert part.statistic in STATISTICS
            for arm in part.arms.values():
                for key in arm.sweeps:
                    assert arm.space in suite.sweeps[key]["spaces"]
                    get_space(arm.space)  # resolves (parse_config did it too)
                    used.add(key)
    assert used == set(suite.sweeps), f"sweeps no claim reads: {set(suite.sweeps) - used}"
    for key in suite.sweeps:
        cfg = suite.sweep_config(key)
        assert cfg.store == os.path.join("results", "paper", suite.tier, f"{key}.db")


def test_shipped_suites_cover_the_issue_claims():
    ids = {c.id for p in SUITES[:2] for c in load_suite(p).claims}
    assert ids == set(range(1, 21))
    assert {c.id for c in load_suite(SUITES[2]).claims} == set(range(1, 15))
    cpu = {c.id: c for c in load_suite(SUITES[0]).claims}
    assert cpu[1].parts[0].expect == "equivalent" and cpu[1].parts[0].margin > 0
    assert not [c.id for c in cpu.values() if c.skip]  # every claim runs on the cpu tier
    regimes = {key: load_suite(SUITES[0]).sweep_config(key).regime for key in ("base", "res20", "res36")}
    assert regimes == {"base": "fashion-mnist", "res20": "fashion-mnist@20", "res36": "fashion-mnist@36"}
    # the cpu suites share one folder: their sweep keys must not collide
    assert not set(load_suite(SUITES[0]).sweeps) & set(load_suite(SUITES[1]).sweeps)


def test_the_gpu_tier_covers_the_issue_claims_with_the_seed_arms_the_cpu_tier_dropped():
    gpu, seeds = load_suite(SUITES[2]), load_suite(SUITES[3])
    assert gpu.tier == seeds.tier == "gpu" and {c.id for c in seeds.claims} == set(range(15, 21))
    assert {c.id for s in (gpu, seeds) for c in s.claims} == set(range(1, 21))
    assert not [c.id for c in seeds.claims if c.skip]  # every seed claim runs on the gpu tier
    # both gpu suites store under results/paper/gpu/: their sweep keys must not collide
    assert gpu.store_dir == seeds.store_dir and not set(gpu.sweeps) & set(seeds.sweeps)
    assert all(key.startswith("seed_") for key in seeds.sweeps)
    claims = {c.id: c for c in seeds.claims}
    spaces = {arm.space for part in claims[18].parts for arm in part.arms.values()}
    for scheme in ("euler", "ralston2", "kutta3", "rk4"):  # Euler, RK2, RK3, RK4
        assert f"ResNetC24+ode_{scheme}" in spaces
    e001c = [p for p in claims[18].parts if any(a.space.startswith("DownsampleC") for a in p.arms.values())]
    assert e001c and all(p.statistic == "std_diff" for p in e001c)  # E001-c: spread over placements and seeds
    assert seeds.sweep_config("seed_ode_ds").repeats > 1
    wide = {p.arms["a"].sweeps for p in claims[17].parts}
    band = {key: parse_flops(seeds.sweep_config(key).flops) for key in ("seed_csp", "seed_csp_wide")}
    assert ("seed_csp_wide",) in wide and band["seed_csp_wide"][0] > band["seed_csp"][1]  # wider: a higher band
    for key in seeds.sweeps:
        cfg = seeds.sweep_config(key)
        assert cfg.regime == "cifar" and cfg.dataset["name"] == "cifar10"


@pytest.mark.parametrize("lo, hi, expect, ref, margin, expected", [
    (-2, -1, "less", 0, 0, HOLDS), (1, 2, "less", 0, 0, CONTRADICTED), (-1, 1, "less", 0, 0, NOT_RESOLVED),
    (1, 2, "greater", 0, 0, HOLDS), (-2, -1, "greater", 0, 0, CONTRADICTED),
    (0.9, 1.4, "greater", 1, 0, NOT_RESOLVED),
    (-0.4, 0.4, "equivalent", 0, 0.5, HOLDS), (0.6, 2, "equivalent", 0, 0.5, CONTRADICTED),
    (-2, -0.6, "equivalent", 0, 0.5, CONTRADICTED), (-0.4, 0.7, "equivalent", 0, 0.5, NOT_RESOLVED),
    (0.2, 0.9, "at_most", 0, 1, HOLDS), (1.1, 3, "at_most", 0, 1, CONTRADICTED),
    (0.5, 1.5, "at_most", 0, 1, NOT_RESOLVED),
    (-0.9, 0.3, "at_least", 0, 1, HOLDS), (-3, -1.1, "at_least", 0, 1, CONTRADICTED),
    (float("nan"), float("nan"), "less", 0, 0, NOT_RESOLVED),
])
def test_every_rule_reads_the_interval(lo, hi, expect, ref, margin, expected):
    from designspace.claims.statistics import Effect

    assert verdict(Effect("median_diff", (lo + hi) / 2, lo, hi, {"a": 10, "b": 10}), expect, ref, margin) == expected


def test_trials_that_did_not_finish_are_named_in_the_part(tmp_path):
    """A diverged or failed trial is not in the statistic: the part's warnings say how many per arm."""
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=30, failed=0.2, sweep="s1",
                          seed=6)
    suite = parse_suite(_suite_dict(), "t.yaml")
    part = judge(suite, suite.claims[:1], str(tmp_path))["claims"][0]["parts"][0]
    warnings = part["effect"]["warnings"]
    failed = {w.split(":")[0]: int(w.split(": ")[1].split()[0]) for w in warnings}
    assert set(failed) == {"RegNetX (s1)", "AnyNetXE (s1)"} and all(w.endswith("(statistics read finished trials "
                                                                               "only)") for w in warnings)
    assert sum(failed.values()) + part["effect"]["n"]["a"] + part["effect"]["n"]["b"] == 60


def test_the_summary_line_shows_the_deciding_part(tmp_path, capsys):
    """Claim 1 holds on its first part and is contradicted by its second: the line shows the second."""
    raw = _suite_dict()
    raw["claims"] = raw["claims"][:1]
    worse = {"name": "worse", "statistic": "median_diff", "a": {"sweep": "s1", "space": "RegNetX"},
             "b": {"sweep": "s1", "space": "AnyNetXE"}, "expect": "greater"}
    raw["claims"][0]["parts"].append(worse)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    write_synthetic_store(str(tmp_path / "s1.db"), spaces=("AnyNetXE", "RegNetX"), n=30, shift={"RegNetX": -3.0},
                          slope=0.0, penalty=0.0, noise=1.0, sweep="s1", seed=4)
    assert main(["reproduce", str(path), "--analyze-only", "--out", str(tmp_path), "--no-figures"]) == 0
    line = next(text for text in capsys.readouterr().out.splitlines() if text.startswith("claim  1"))
    res = json.loads((tmp_path / "t" / "claims.json").read_text())["claims"][0]
    assert [p["verdict"] for p in res["parts"]] == [HOLDS, CONTRADICTED] and res["verdict"] == CONTRADICTED
    assert line.split()[2] == CONTRADICTED and line.endswith("(part 2 of 2)"), line
