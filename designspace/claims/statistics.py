"""The statistics that decide claims, and the verdict rules that read their intervals.

Every statistic takes the models of one or more arms (arrays of one value per model; models, not
trials, are the unit: `model_table` averages a model's repeats first) and returns an `Effect`: the
point estimate and a percentile bootstrap interval. The bootstrap resamples models with
replacement *within each arm independently* (arms are independent samples of their spaces), all
replicates at once as index matrices.

Registry (name -> arms, what the estimate is):
    median_diff      a, b     median(a) - median(b)
    mean_diff        a, b     mean(a) - mean(b)
    quantile_diff    a, b     quantile_q(a) - quantile_q(b)                (param q, e.g. 0.1)
    mean_ratio       a, b     mean(a) / mean(b)                           (reference 1)
    ks               a, b     sup_x |F_a(x) - F_b(x)| (two-sample KS distance; p-value reported too)
    best_of_m_diff   a, b     E[best of m](a) - E[best of m](b), closed form from order statistics (param m)
    interaction      a,b,c,d  (median(a) - median(b)) - (median(c) - median(d)): a gap that widens
    median / mean    a        the median / mean of a value in one arm
    slope            a        least-squares slope of y on x over the arm's models (params x, y, log)
    spearman         a        Spearman rank correlation of x and y (params x, y)
    std_diff         a, b     std(a) - std(b) of the *trials* of each arm (seed spread is the effect;
                              the unit is trials, said so in the result)
    paired_median_diff a, b   median over model pairs of (a - b): arms holding the same architectures
                              (one with a training-time or re-parameterization option, one without) are
                              matched model to model (the judge pairs them; param ignore: the option keys
                              that differ), and the bootstrap resamples pairs. The unit is model pairs.

Verdict rules (`expect`, with reference value `ref`, default 0, and `margin` where needed):
    less         holds: hi < ref            contradicted: lo > ref          else not resolved
    greater      holds: lo > ref            contradicted: hi < ref          else not resolved
    equivalent   holds: ref - margin <= lo and hi <= ref + margin ("≈" claims)
                 contradicted: hi < ref - margin or lo > ref + margin (the interval lies outside)
    at_most      holds: hi < ref + margin   contradicted: lo > ref + margin (non-inferiority:
                 "at least as good", errors at most margin worse)
    at_least     holds: lo > ref - margin   contradicted: hi < ref - margin
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as _st

from ..stats import resample
from ..stats.decisions import rule
from ..stats.ks import ks_2samp, ks_distance_rows

HOLDS, CONTRADICTED, NOT_RESOLVED, NOT_RUN = "holds", "contradicted", "not resolved", "not run"
VERDICTS = (HOLDS, CONTRADICTED, NOT_RESOLVED, NOT_RUN)
EXPECTS = ("less", "greater", "equivalent", "at_most", "at_least")
MIN_MODELS = 3  # fewer models in an arm: no interval worth reading, the part is "not run"


@dataclass(frozen=True)
class Statistic:
    name: str
    arms: tuple  # arm names it takes, in order
    params: tuple = ()  # parameter names it accepts
    required: tuple = ()  # parameters it needs
    reference: float = 0.0  # the default ref of its verdict rule
    describe: str = ""


STATISTICS = {s.name: s for s in (
    Statistic("median_diff", ("a", "b"), describe="median(a) - median(b)"),
    Statistic("mean_diff", ("a", "b"), describe="mean(a) - mean(b)"),
    Statistic("quantile_diff", ("a", "b"), ("q",), ("q",), describe="quantile_q(a) - quantile_q(b)"),
    Statistic("mean_ratio", ("a", "b"), reference=1.0, describe="mean(a) / mean(b)"),
    Statistic("ks", ("a", "b"), describe="KS distance sup|F_a - F_b|"),
    Statistic("best_of_m_diff", ("a", "b"), ("m",), ("m",), describe="E[best of m](a) - E[best of m](b)"),
    Statistic("interaction", ("a", "b", "c", "d"),
              describe="(median(a) - median(b)) - (median(c) - median(d))"),
    Statistic("median", ("a",), describe="median(a)"),
    Statistic("mean", ("a",), describe="mean(a)"),
    Statistic("slope", ("a",), ("x", "y", "log"), ("x", "y"), describe="least-squares slope of y on x"),
    Statistic("spearman", ("a",), ("x", "y"), ("x", "y"), describe="Spearman rank correlation of x and y"),
    Statistic("std_diff", ("a", "b"), describe="std(a) - std(b) over trials"),
    Statistic("paired_median_diff", ("a", "b"), ("ignore",), describe="median over model pairs of (a - b)"),
)}
PAIRED = ("paired_median_diff",)  # arms are matched model to model; their values arrive aligned
# Statistics whose models per arm are not planned (neither by `designspace power` nor by a part's
# models_needed): each is judged by a percentile bootstrap, whose decision is not simulated per draw,
# and whose effect is not a shift of the arms' values that the power machinery plants.
NOT_PLANNABLE = {
    "best_of_m_diff": "the expected best of m rests on each arm's few lowest errors and is judged by a percentile "
                      "bootstrap; power does not simulate a bootstrap per draw, and a normal scaling of its "
                      "standard error is not reliable at the sizes it would be read at",
    "ks": "a KS distance has no direction to shift (its size depends on both arms' whole shapes) and is judged by a "
          "percentile bootstrap; plan the shift it stands for with a median_diff part",
    "std_diff": "a difference of trial-to-trial standard deviations needs a model of the seeds' noise, not a shift "
                "of the models, and is judged by a percentile bootstrap over trials",
}
# Schema 3 judges best_of_m_diff by a seed-free jackknife t interval, which `power` simulates per draw
# (a shift of arm a moves E[best of m] by the same amount); ks and std_diff stay unplannable.
NOT_PLANNABLE_SEED_FREE = {
    "ks": "a KS distance has no direction to shift (its size depends on both arms' whole shapes); plan the shift it "
          "stands for with a median_diff part",
    "std_diff": NOT_PLANNABLE["std_diff"],
}


def not_plannable(statistic: str, seed_free: bool = False) -> str | None:
    """Why a part of this statistic has no planned models per arm (None: it is plannable); seed_free: the
    suite is schema 3."""
    return (NOT_PLANNABLE_SEED_FREE if seed_free else NOT_PLANNABLE).get(statistic)


@dataclass
class Effect:
    """A statistic's estimate with its bootstrap interval, and how it was computed."""

    statistic: str
    estimate: float
    lo: float
    hi: float
    n: dict  # arm -> number of units (models; trials for std_diff)
    unit: str = "models"
    method: str = ""
    resamples: int = 0
    level: float = 0.9
    seed: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # e.g. the KS p-value, a fit's r^2
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# --- per-replicate kernels: rows are bootstrap replicates (row 0 may be the original sample) ---
def _quantile_rows(x: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(x, q, axis=-1)


def _best_of_m_rows(x: np.ndarray, m: float) -> np.ndarray:
    """E[min of m draws with replacement] of each row (closed form; see analysis.search)."""
    s = np.sort(x, axis=-1)
    n = s.shape[-1]
    i = np.arange(n + 1, dtype=np.float64)
    surv = np.power(1.0 - i / n, m)
    return s @ (surv[:-1] - surv[1:])


def _slope_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=-1) / (xc * xc).sum(axis=-1)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rx, ry = _st.rankdata(x, axis=-1), _st.rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(axis=-1, keepdims=True), ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=-1) / np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))


def _one_arm(name: str, params: dict):
    """(kernel on one arm's (B, n) matrix, or on (x, y) matrices, and whether it takes x and y)."""
    if name == "median":
        return (lambda v: _quantile_rows(v, 0.5)), False
    if name == "mean":
        return (lambda v: v.mean(axis=-1)), False
    if name == "slope":
        return _slope_rows, True
    if name == "spearman":
        return _spearman_rows, True
    raise KeyError(name)


def _two_arm(name: str, params: dict):
    """Kernel of a two-arm statistic: f(a_rows, b_rows) -> per-row values."""
    if name == "median_diff":
        return lambda a, b: _quantile_rows(a, 0.5) - _quantile_rows(b, 0.5)
    if name == "mean_diff":
        return lambda a, b: a.mean(axis=-1) - b.mean(axis=-1)
    if name == "quantile_diff":
        q = float(params["q"])
        return lambda a, b: _quantile_rows(a, q) - _quantile_rows(b, q)
    if name == "mean_ratio":
        def ratio(a, b):
            with np.errstate(invalid="ignore", divide="ignore"):
                return a.mean(axis=-1) / b.mean(axis=-1)
        return ratio
    if name == "ks":
        return ks_distance_rows
    if name == "best_of_m_diff":
        m = float(params["m"])
        return lambda a, b: _best_of_m_rows(a, m) - _best_of_m_rows(b, m)
    if name == "std_diff":
        return lambda a, b: a.std(axis=-1, ddof=1) - b.std(axis=-1, ddof=1)
    raise KeyError(name)


def compute(name: str, arms: dict, params: dict | None = None, resamples: int = 2000, level: float = 0.9,
            seed=(0,)) -> Effect:
    """The statistic `name` of `arms` ({arm: 1-D array of values}, or for slope/spearman
    {"a": (x, y)}) with a percentile bootstrap interval from `resamples` replicates at `level`.
    Non-finite values are left out of their arm, with a warning saying how many."""
    params = dict(params or {})
    rng = np.random.default_rng(list(seed))
    unit, method = _unit_and_method(name, resamples, level)
    warnings: list = []
    extra: dict = {}
    bootstrap = _paired if name in PAIRED else _xy if name in ("slope", "spearman") else _by_arm
    n, est, reps = bootstrap(name, arms, params, rng, resamples, warnings, extra)
    if est is None:  # an arm (or the pairs) came out empty: nothing to estimate
        return Effect(name, float("nan"), float("nan"), float("nan"), n, unit, method, resamples, level,
                      list(seed), extra, warnings)
    lo, hi = _percentile_interval(reps, resamples, level, warnings)
    return Effect(name, est, float(lo), float(hi), n, unit, method, resamples, level, list(seed), extra, warnings)


def _unit_and_method(name: str, resamples: int, level: float) -> tuple[str, str]:
    """What one resampled unit is, and the method sentence the report prints."""
    unit = "trials" if name == "std_diff" else "model pairs" if name in PAIRED else "models"
    if name in PAIRED:
        return unit, (f"percentile bootstrap over model pairs (both models of a pair drawn together), "
                      f"{resamples} resamples, {level:.0%} interval")
    return unit, (f"percentile bootstrap over {unit}, each arm resampled independently with replacement, "
                  f"{resamples} resamples, {level:.0%} interval")


# Each bootstrap below returns (units per arm, point estimate or None when an arm is empty, replicates),
# drawing from `rng` in a fixed order: the committed verdicts depend on that order.
def _paired(name, arms, params, rng, resamples, warnings, extra):
    """Median of the per-pair differences; a pair is drawn whole, so both models stay matched."""
    a, b = (np.asarray(arms[k], np.float64) for k in ("a", "b"))
    ok = np.isfinite(a) & np.isfinite(b)
    if (~ok).any():
        warnings.append(f"{int((~ok).sum())} pairs with a non-finite value left out")
    diff = (a - b)[ok]
    n = {"a": int(diff.size), "b": int(diff.size)}
    if not diff.size:
        return n, None, None
    est = float(np.median(diff))
    return n, est, _quantile_rows(diff[resample.indices(rng, diff.size, resamples)], 0.5)


def _xy(name, arms, params, rng, resamples, warnings, extra):
    """Slope or Spearman over one arm's (x, y) points, resampled as points."""
    x, y = (np.asarray(v, np.float64) for v in arms["a"])
    if params.get("log"):
        with np.errstate(invalid="ignore", divide="ignore"):
            x, y = np.log(x), np.log(y)
    ok = np.isfinite(x) & np.isfinite(y)
    if (~ok).any():
        warnings.append(f"arm a: {int((~ok).sum())} models without a finite (x, y) left out")
    x, y = x[ok], y[ok]
    kernel, _ = _one_arm(name, params)
    est = float(kernel(x[None], y[None])[0])
    idx = resample.indices(rng, x.size, resamples)
    reps = kernel(x[idx], y[idx]) if x.size else np.full(resamples, np.nan)
    if name == "slope" and x.size >= 3:
        extra["r2"] = float(np.corrcoef(x, y)[0, 1] ** 2) if np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")
    return {"a": int(x.size)}, est, reps


def _by_arm(name, arms, params, rng, resamples, warnings, extra):
    """Every other statistic: each arm cleaned of non-finite values and resampled on its own."""
    values = {k: _finite(k, arms[k], warnings) for k in STATISTICS[name].arms}
    n = {k: int(v.size) for k, v in values.items()}
    if min(n.values()) == 0:
        return n, None, None
    draws = {k: v[resample.indices(rng, v.size, resamples)] for k, v in values.items()}
    if len(values) == 1:
        kernel, _ = _one_arm(name, params)
        return n, float(kernel(values["a"][None])[0]), kernel(draws["a"])
    if name == "interaction":
        med = {k: np.median(v) for k, v in values.items()}
        q = {k: _quantile_rows(v, 0.5) for k, v in draws.items()}
        return n, float((med["a"] - med["b"]) - (med["c"] - med["d"])), (q["a"] - q["b"]) - (q["c"] - q["d"])
    kernel = _two_arm(name, params)
    if name == "ks":
        extra["pvalue"] = float(ks_2samp(values["a"], values["b"]).pvalue)
    return n, float(kernel(values["a"][None], values["b"][None])[0]), kernel(draws["a"], draws["b"])


def _finite(label, v, warnings) -> np.ndarray:
    v = np.asarray(v, np.float64)
    bad = ~np.isfinite(v)
    if bad.any():
        warnings.append(f"arm {label}: {int(bad.sum())} non-finite values left out")
    return v[~bad]


def _percentile_interval(reps, resamples: int, level: float, warnings: list):
    """The central `level` interval of the finite replicates (degenerate ones are counted, then dropped)."""
    reps = np.asarray(reps, np.float64)
    finite = np.isfinite(reps)
    if not finite.all():
        warnings.append(f"{int((~finite).sum())} of {resamples} resamples gave no value (degenerate) and were "
                        "left out of the interval")
    if finite.any():
        return np.quantile(reps[finite], [(1 - level) / 2, (1 + level) / 2])
    return float("nan"), float("nan")


def verdict(effect: Effect, expect: str, ref: float = 0.0, margin: float = 0.0) -> str:
    """holds / contradicted / not resolved, read off the interval by the rule `expect` (module doc)."""
    lo, hi = effect.lo, effect.hi
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return NOT_RESOLVED
    return rule(lo, hi, expect, ref, margin)


def combine(verdicts: list[str]) -> str:
    """A claim's verdict from its parts': not run if any part did not run; holds if all hold;
    contradicted if any part is contradicted; else not resolved."""
    if not verdicts or NOT_RUN in verdicts:
        return NOT_RUN
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    return CONTRADICTED if CONTRADICTED in verdicts else NOT_RESOLVED


def rule_text(expect: str, ref: float, margin: float) -> str:
    """The rule in words, for the report."""
    r = f"{ref:g}"
    return {
        "less": f"holds if the interval lies below {r}, contradicted if above",
        "greater": f"holds if the interval lies above {r}, contradicted if below",
        "equivalent": f"holds if the interval lies within {r} ± {margin:g}, contradicted if outside it",
        "at_most": f"holds if the interval lies below {ref + margin:g} ({r} + margin {margin:g}), "
                   f"contradicted if above it",
        "at_least": f"holds if the interval lies above {ref - margin:g} ({r} - margin {margin:g}), "
                    f"contradicted if below it",
    }[expect]
