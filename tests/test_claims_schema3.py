"""Schema 3: the schema-2 rules with seed-free intervals for best_of_m_diff (a jackknife t interval of
the unbiased U-statistic, designspace.stats.best_of) and ks (Kolmogorov bands, designspace.stats.ks).
The estimators' arithmetic against brute force, the judge's verdicts and intervals unmoved by the
statistics seed, best of m planned by `power` (and sized by the judge) where schema 2 cannot, and
power's predicted decision rate against the judge's own interval on fresh samples."""
import itertools
import json
import math

import numpy as np
import pytest
import yaml

from designspace.analysis.synthetic import synthetic_trials
from designspace.claims import judge, parse_suite
from designspace.claims.decide import part_interval
from designspace.claims.power import plan_suite
from designspace.claims.statistics import not_plannable
from designspace.cli import main
from designspace.errors import UsageError
from designspace.stats import best_of, ks
from designspace.stats import intervals as iv
from designspace.stats.decisions import HOLDS, rule
from designspace.store import write_trials

SPACES = ("AnyNetXA", "AnyNetXB")
SWEEPS = {"s": {"spaces": list(SPACES), "models_per_space": 30}}


def _suite(parts, schema=3, **rules):
    return parse_suite({
        "suite": "t", "tier": "cpu", "defaults": {"dataset": {"name": "synthetic"}}, "schema": schema,
        "multiplicity": {"parts": "none", "claims": "none"}, **rules, "sweeps": SWEEPS,
        "claims": [{"id": 1, "text": "t", "figure": "-", "parts": parts}]}, "t.yaml")


def _part(statistic, **kw):
    return {"name": statistic, "statistic": statistic, "a": {"sweep": "s", "space": "AnyNetXB"},
            "b": {"sweep": "s", "space": "AnyNetXA"}, **kw}


BEST_OF_4 = _part("best_of_m_diff", m=4, expect="greater")
KS = _part("ks", expect="greater", ref=0.1)


def _store(path, n=30, shift=3.0, seed=0):
    rows = synthetic_trials(spaces=SPACES, n=n, seed=seed, noise=2.0, slope=0.0, penalty=0.0, sweep="s")
    for r in rows:
        if r["space"] == "AnyNetXB":
            r["error"] = float(r["error"] + shift)
    write_trials(path, rows)


# --- the estimators ------------------------------------------------------------------------------------
def test_the_unbiased_best_of_m_is_the_mean_minimum_over_every_m_subset_and_its_jackknife_is_exact():
    x = np.random.default_rng(0).normal(size=9)
    for m in (1, 2, 3, 5):
        est, var = (float(v[0]) for v in best_of.estimate_rows(x[None], m))
        assert est == pytest.approx(np.mean([min(c) for c in itertools.combinations(x, m)]), rel=1e-12)
        loo = np.array([np.mean([min(c) for c in itertools.combinations(np.delete(x, k), m)]) for k in range(9)])
        assert var == pytest.approx(8 / 9 * np.sum((loo - loo.mean()) ** 2), rel=1e-10)
        assert best_of.u_weights(9, m).sum() == pytest.approx(1.0)
    assert best_of.effective_size(40, 1) == pytest.approx(40.0)


def test_best_of_1_is_welchs_interval_for_a_difference_of_means():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 30), rng.normal(11, 4, 45)
    for level in (0.8, 0.9, 0.99):
        assert best_of.diff_interval(a, b, 1).bounds(level) == pytest.approx(iv.welch_interval(a, b).bounds(level))


def test_the_vectorised_best_of_m_bounds_are_the_intervals_bounds_row_by_row():
    rng = np.random.default_rng(2)
    a, b = rng.normal(10, 2, (5, 20)), rng.normal(12, 3, (5, 20))
    lo, hi = best_of.diff_rows(a, b, 4, 0.9)
    for r in range(5):
        assert (lo[r], hi[r]) == pytest.approx(best_of.diff_interval(a[r], b[r], 4).bounds(0.9))
    lo, hi = best_of.diff_rows(a[:, :4], b[:, :4], 4, 0.9)  # fewer models than m + 1: decides nothing
    assert np.all(np.isneginf(lo)) and np.all(np.isposinf(hi))


def test_the_ks_interval_is_the_distance_widened_by_both_arms_kolmogorov_bands():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1, 1, 40), rng.normal(0, 1, 30)
    out = ks.distance_interval(a, b)
    assert out.estimate == pytest.approx(float(ks.ks_2samp(a, b).statistic)) and 0 <= out.extra["pvalue"] <= 1
    lo, hi = out.bounds(0.9)
    per_arm = math.sqrt(0.95)
    half = ks.band_half_width(40, per_arm) + ks.band_half_width(30, per_arm)
    assert lo == pytest.approx(max(0.0, out.estimate - half)) and hi == pytest.approx(min(1.0, out.estimate + half))
    lo99, hi99 = out.bounds(0.99)
    assert lo99 <= lo and hi99 >= hi  # a higher level reads wider bands


# --- the judge ------------------------------------------------------------------------------------------
def _judged(tmp_path, parts, seed=None, schema=3):
    return judge(_suite(parts, schema=schema), None, str(tmp_path), seed=seed)["claims"][0]["parts"]


def test_schema_3_judges_best_of_m_and_ks_without_resampling(tmp_path):
    _store(str(tmp_path / "s.db"))
    runs = [_judged(tmp_path, [BEST_OF_4, KS], seed=s) for s in (0, 1, 2)]
    for best, dist in runs:
        assert best["effect"]["method"] == best_of.METHOD and "mc_band" not in best["effect"]
        assert dist["effect"]["method"].startswith("Kolmogorov-band interval")
        assert best["verdict"] == "holds" and best["effect"]["lo"] > 0
    # no resampling: every seed gives the very same intervals, not only the same verdicts
    assert {(p["effect"]["lo"], p["effect"]["hi"]) for p in (r[0] for r in runs)} == {
        (runs[0][0]["effect"]["lo"], runs[0][0]["effect"]["hi"])}
    assert len({(r[1]["effect"]["lo"], r[1]["effect"]["hi"]) for r in runs}) == 1
    schema2 = _judged(tmp_path, [BEST_OF_4, KS], schema=2)  # schema 2 keeps its percentile bootstrap
    assert all(p["effect"]["method"].startswith("percentile bootstrap") and "mc_band" in p["effect"]
               for p in schema2)


def test_schema_3s_statistics_block_names_its_methods_and_the_report_its_schema(tmp_path):
    _store(str(tmp_path / "s.db"))
    raw = {"suite": "t", "tier": "cpu", "store_dir": str(tmp_path), "defaults": {"dataset": {"name": "synthetic"}},
           "schema": 3, "sweeps": SWEEPS, "claims": [{"id": 1, "text": "t", "figure": "-", "parts": [BEST_OF_4]}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["reproduce", str(path), "--analyze-only", "--no-figures", "--no-progress"]) == 0
    saved = json.loads((tmp_path / "t" / "claims.json").read_text())
    assert saved["statistics"]["schema"] == 3 and "jackknife t" in saved["statistics"]["interval"]
    assert "statistics (schema 3)" in (tmp_path / "t" / "claims.md").read_text()


def test_an_unknown_schema_is_one_line(tmp_path, capsys):
    with pytest.raises(UsageError, match="schema"):
        _suite([BEST_OF_4], schema=4)


# --- power ------------------------------------------------------------------------------------------------
def test_schema_3_plans_best_of_m_and_sizes_it_when_unresolved_while_ks_and_std_stay_unplannable(tmp_path):
    _store(str(tmp_path / "s.db"), n=30, shift=0.3)
    parts = [dict(BEST_OF_4, effect=1.0), dict(KS, effect=0.1), _part("std_diff", expect="less", effect=0.5)]
    suite = _suite(parts, power={"simulations": 200})
    planned = plan_suite(suite, str(tmp_path))["parts"]
    assert planned[0].get("note") is None and planned[0]["per_arm"] >= 5 and planned[0]["power_at_n"] >= 0.8
    assert planned[0]["source"] == "pilot: a 30, b 30 models"
    for plan in planned[1:]:
        assert plan["note"] == f"not plannable: {not_plannable(plan['statistic'], True)}"
    best = judge(suite, None, str(tmp_path))["claims"][0]["parts"][0]
    assert best["verdict"] == "not resolved" and best["models_needed"]["per_arm"] > 30
    assert not_plannable("best_of_m_diff", False) and not not_plannable("best_of_m_diff", True)


def test_power_predicts_the_judges_best_of_m_decision_rate_on_fresh_samples(tmp_path):
    """A pilot whose arms are N(50, 3)'s 400 quantiles and 1.5 points above them: power's predicted
    rate at its chosen n against fresh normal samples judged one at a time by the judge's own interval."""
    from scipy import stats as st

    n_pilot, sd, effect, sims, reps = 400, 3.0, 1.5, 400, 400
    rows = synthetic_trials(spaces=SPACES, n=n_pilot, seed=0, sweep="s")
    grid = st.norm.ppf((np.arange(n_pilot) + 0.5) / n_pilot)
    rng = np.random.default_rng(7)
    for space, shift in zip(SPACES, (0.0, effect)):
        for r, z in zip([r for r in rows if r["space"] == space], rng.permutation(grid)):
            r["error"] = 50.0 + shift + sd * z
    write_trials(str(tmp_path / "s.db"), rows)
    suite = _suite([dict(BEST_OF_4, effect=effect)], complexity={"method": "none"}, power={"simulations": sims})
    plan = plan_suite(suite, str(tmp_path))["parts"][0]
    n, predicted, alpha = plan["per_arm"], plan["power_at_n"], plan["alpha"]
    assert predicted >= 0.8 and 5 <= n < n_pilot
    hits = 0
    for _ in range(reps):
        values = {"a": rng.normal(50.0 + effect, sd, n), "b": rng.normal(50.0, sd, n)}
        interval = part_interval("best_of_m_diff", values, {"m": 4}, False, rng, 0, seed_free=True)
        hits += rule(*interval.bounds(1 - 2 * alpha), "greater") == HOLDS
    observed = hits / reps
    se = math.sqrt(predicted * (1 - predicted) / sims + observed * (1 - observed) / reps)
    assert abs(observed - predicted) <= 3 * se, (n, predicted, observed)
