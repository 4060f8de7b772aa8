"""The statistics core (designspace.stats): each interval covers at its nominal rate, p-values read the
same intervals, multiplicity control keeps its error rate, power predicts what simulation shows."""
import math

import numpy as np
import pytest
from scipy import stats as st

from designspace.stats import intervals as iv
from designspace.stats import rank
from designspace.stats.decisions import (
    CONTRADICTED,
    HOLDS,
    NOT_RESOLVED,
    adjust,
    adjust_suite,
    borderline,
    decision_pvalue,
    rule,
    rule_pvalue,
)
from designspace.stats.power import decision_rate, search_n

REPS = 1000
LEVEL = 0.9


def _covers(make, truth, reps=REPS, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        lo, hi = make(rng).bounds(LEVEL)
        hits += lo <= truth <= hi
    return hits / reps


def _mc_floor(level=LEVEL, reps=REPS):
    return level - 3 * math.sqrt(level * (1 - level) / reps)  # 3 Monte-Carlo standard errors below nominal


@pytest.mark.parametrize("q", [0.5, 0.1])
def test_order_statistic_interval_covers_any_quantile_of_a_skewed_population(q):
    truth = st.lognorm(0.8).ppf(q)
    rate = _covers(lambda rng: iv.quantile_interval(rng.lognormal(0, 0.8, 30), q), truth)
    assert rate >= _mc_floor()  # exact: coverage >= level for any continuous distribution


def test_sign_test_interval_for_paired_differences_covers_their_median():
    rate = _covers(lambda rng: iv.quantile_interval(rng.standard_t(3, 12) + 1.0, 0.5), 1.0)
    assert rate >= _mc_floor()


def test_bonett_price_difference_of_medians_covers_with_skewed_arms():
    truth = st.gamma(2).median() * 5 - st.gamma(3).median() * 5
    rate = _covers(lambda rng: iv.linear_quantile_interval({"a": rng.gamma(2, 5, 40), "b": rng.gamma(3, 5, 40)},
                                                           {"a": 1, "b": -1}), truth)
    assert rate >= _mc_floor() - 0.02  # asymptotic: allowed 2 points below at 40 models per arm
    assert rate <= 0.97  # and not uselessly wide


def test_interaction_of_four_medians_covers():
    rate = _covers(lambda rng: iv.linear_quantile_interval(
        {k: rng.normal(m, 4, 30) for k, m in zip("abcd", (10, 8, 5, 6))}, {"a": 1, "b": -1, "c": -1, "d": 1}), 3.0)
    assert rate >= _mc_floor() - 0.02


def test_welch_ratio_slope_and_spearman_intervals_cover():
    assert _covers(lambda rng: iv.welch_interval(rng.normal(3, 1, 15), rng.normal(0, 4, 25)), 3.0) >= _mc_floor()
    assert _covers(lambda rng: iv.ratio_interval(rng.gamma(20, 1, 30), rng.gamma(10, 1, 30)), 2.0) >= _mc_floor()
    def paired_b(rng):
        return rng.gamma(10, 1, 25)

    def paired(rng):
        b = paired_b(rng)
        return iv.ratio_interval(b * 1.2 + rng.normal(0, 0.5, b.size), b, paired=True)
    assert _covers(paired, 1.2) >= _mc_floor() - 0.02

    def slope(rng):
        x = rng.uniform(0, 1, 20)
        return iv.slope_interval(x, 2 * x + rng.normal(0, 0.3, 20))
    assert _covers(slope, 2.0) >= _mc_floor()
    rho = 6 / math.pi * math.asin(0.6 / 2)  # Spearman's rho of a bivariate normal with r = 0.6

    def spearman(rng):
        x = rng.standard_normal(40)
        return rank.spearman_interval(x, 0.6 * x + 0.8 * rng.standard_normal(40))
    assert _covers(spearman, rho) >= _mc_floor() - 0.02


def test_exact_intervals_do_not_depend_on_a_seed_and_bootstrap_ones_report_their_error():
    x = np.random.default_rng(5).normal(0, 1, 25)
    assert iv.quantile_interval(x).bounds(0.9) == iv.quantile_interval(x.copy()).bounds(0.9)
    reps = [np.random.default_rng(s).choice(x, (5000, x.size)).mean(axis=1) for s in (1, 2)]
    a, b = (iv.bootstrap_interval(x.mean(), r, {"a": 25}) for r in reps)
    band_lo, band_hi = a.mc_band(0.9)[0]
    assert band_lo <= a.bounds(0.9)[0] <= band_hi
    assert band_lo <= b.bounds(0.9)[0] <= band_hi  # another seed's endpoint lands inside the band
    assert borderline(a, 0.9, "greater", a.bounds(0.9)[0])  # a line inside the band: borderline
    assert not borderline(a, 0.9, "greater", band_lo - 1.0)
    assert not borderline(iv.quantile_interval(x), 0.9, "greater", float(np.median(x)))  # exact: never


def test_rule_reads_intervals_and_its_pvalue_is_where_the_verdict_starts():
    assert rule(1, 2, "greater") == HOLDS and rule(-2, -1, "greater") == CONTRADICTED
    assert rule(-1, 1, "greater") == NOT_RESOLVED
    assert rule(-0.5, 0.5, "equivalent", 0, 1) == HOLDS and rule(2, 3, "equivalent", 0, 1) == CONTRADICTED
    interval = iv.welch_interval(np.random.default_rng(1).normal(1, 1, 30), np.random.default_rng(2).normal(0, 1, 30))
    outcome, p = decision_pvalue(interval, "greater")
    assert outcome == HOLDS
    lo, _ = interval.bounds(1 - 2 * p)
    assert abs(lo) < 1e-6  # at the level 1 - 2p the interval touches the line
    assert rule_pvalue(interval, CONTRADICTED, "greater") == 0.5
    t = st.ttest_ind(np.random.default_rng(1).normal(1, 1, 30), np.random.default_rng(2).normal(0, 1, 30),
                     equal_var=False, alternative="greater")
    assert p == pytest.approx(t.pvalue, rel=1e-4)  # the same p-value as Welch's one-sided test


def test_adjustments_match_their_definitions():
    p = [0.01, 0.04, 0.03, 0.005]
    assert np.allclose(adjust(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    assert np.allclose(adjust(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(adjust(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    assert np.allclose(adjust(p, "none"), p)


@pytest.mark.parametrize("claims", ["bonferroni", "fdr"])
def test_suite_control_keeps_false_decisions_under_alpha_under_the_global_null(claims):
    rng = np.random.default_rng(0)
    alpha, runs, any_false = 0.05, 2000, 0
    for _ in range(runs):
        raw = [list(rng.uniform(0, 1, rng.integers(1, 6))) for _ in range(15)]
        any_false += any((a <= alpha).any() for a in adjust_suite(raw, "holm", claims))
    upper = st.binom(runs, alpha).ppf(0.99) / runs
    assert any_false / runs <= upper  # FWER (= FDR under the global null) within Monte-Carlo error of alpha
    # ...whereas judging every part at alpha with no control decides falsely most of the time
    assert np.mean([any(min(r) <= alpha for r in [list(rng.uniform(0, 1, 3)) for _ in range(15)])
                    for _ in range(500)]) > 0.5


def test_fdr_control_keeps_more_true_decisions_than_bonferroni():
    raw = [[0.001], [0.004], [0.01], [0.02], [0.6], [0.8]]
    fdr = sum(float(a[0]) <= 0.05 for a in adjust_suite(raw, "holm", "fdr"))
    bonf = sum(float(a[0]) <= 0.05 for a in adjust_suite(raw, "holm", "bonferroni"))
    assert fdr == 4 and bonf == 2


@pytest.mark.parametrize("effect", [1.0, 2.0, 5.0])
def test_power_predicts_the_decision_rate_an_independent_simulation_shows(effect):
    sd, alpha, target = 4.0, 0.05, 0.8
    rng = np.random.default_rng(int(effect))
    pop = {"a": rng.normal(effect, sd, 100_000), "b": rng.normal(0, sd, 100_000)}
    n, predicted = search_n(lambda m: decision_rate("median_diff", pop, {}, False, m, "greater", 0.0, 0.0, alpha,
                                                    400, rng), target)
    assert predicted >= target
    # independent: fresh normal samples (not the population), the interval computed one sample at a time
    sim = np.random.default_rng(99)
    reps = 600
    hits = sum(rule(*iv.linear_quantile_interval({"a": sim.normal(effect, sd, n), "b": sim.normal(0, sd, n)},
                                                 {"a": 1, "b": -1}).bounds(1 - 2 * alpha), "greater") == HOLDS
               for _ in range(reps))
    mc = 3 * math.sqrt(predicted * (1 - predicted) * (1 / 400 + 1 / reps))
    assert abs(hits / reps - predicted) <= mc + 0.03  # the search stops within ~5% of n of the target
