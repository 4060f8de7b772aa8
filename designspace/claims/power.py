"""Power before the run: for every part of a schema-2 suite, the models per arm that decide its effect
of interest with the declared probability, and the compute that implies.

The part's arms are taken from a pilot (stores of the same sweep keys, e.g. an earlier run) or, without
one, drawn from normal populations with the suite's declared between-model spread. The pilot's models
are the ones the judge would compare: non-learners excluded when the suite's learning rule says so,
arms paired (or made disjoint) as the judge pairs them, and error complexity-adjusted with the judge's
own `complexity_adjust` when it would be. The population is then moved so the part's statistic equals
the planted value (the line moved by the effect of interest, on the side the claim expects; the line
itself for an equivalence): a shift of arm a for differences, medians and means, the slope added to y
for a slope, and for a Spearman correlation a Gaussian copula at the target rho over the pilot's
marginals. n models per arm are drawn with replacement (pairs together when the arms are paired), and
the part's own interval is read at its planning level. The decision rate over `simulations` draws is
the power at n; n is the smallest of a search whose rate reaches the target.

Planning level. With one-sided alpha = (1 - level) / 2, a part is planned at alpha / (parts in its
claim), the first step of Holm (and Bonferroni) within the claim. Across the suite: `bonferroni`
divides by the K judged claims as well; `none` does not. Under `fdr` (Benjamini & Bogomolov) the parts
of a selected claim are tested at alpha x R / K, R the number of claims selected, which is unknown
before the run. So two levels are planned: every claim selected (R = K, alpha / parts) and one claim
selected (R = 1, alpha / (K x parts)). The models-per-arm figure (`per_arm`, and the sweeps' sizes and
compute) is the R = 1 one: it is the only one that reaches the target power whatever the other claims
do; the R = K figure is the optimistic bound, reached only when every claim is decided.

Statistics judged by a percentile bootstrap (ks, std_diff, and best_of_m_diff before schema 3) are not
plannable: `statistics.not_plannable` gives the reason, and the judge's `models_needed` says the same.
Schema 3's best_of_m_diff (a seed-free jackknife t interval, stats.best_of) is planned like a shift.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

from ..stats.decisions import HOLDS, rule
from ..stats.power import bounds_rows, decision_rate, plant, search_n, smoothed_population
from .decide import (
    TWO_ARM,
    classes_of,
    complexity_adjust,
    did_not_learn,
    effect_of_interest,
    pair_parts,
    part_interval,
)
from .statistics import MIN_MODELS, not_plannable

SHIFTABLE = TWO_ARM + ("interaction", "median", "mean", "best_of_m_diff")  # the last at schema 3
CORRELATIONAL = ("slope", "spearman")  # one arm, (x, y) per model
LEVELS = {"one_selected": "one claim selected (R = 1)", "all_selected": "every claim selected (R = K)"}
PLANNED_AT = "one_selected"
COPULA_POPULATION = 20_000  # (x, y) pairs of a planted Spearman population


def planted_value(part, effect: float) -> float:
    """Where the truth is put: the line moved by the effect toward 'holds' (the line for equivalence)."""
    ref, margin = part.ref, part.margin
    return {"less": ref - effect, "greater": ref + effect, "equivalent": ref,
            "at_most": ref + margin - effect, "at_least": ref - margin + effect}[part.expect]


def planning_levels(suite, claim) -> dict:
    """The one-sided levels a part of `claim` is planned at: {'one_selected': alpha / (K x parts) under
    fdr, 'all_selected': alpha / parts under fdr}; equal under bonferroni and none (their level does not
    depend on the other claims)."""
    alpha = (1.0 - suite.level) / 2.0
    mult = suite.rules.multiplicity
    if mult.parts != "none":
        alpha /= max(len(claim.parts), 1)
    k = max(sum(1 for c in suite.claims if not c.skip), 1)
    if mult.claims == "bonferroni":
        return {"one_selected": alpha / k, "all_selected": alpha / k}
    if mult.claims == "fdr":
        return {"one_selected": alpha / k, "all_selected": alpha}
    return {"one_selected": alpha, "all_selected": alpha}


def planning_alpha(suite, claim) -> float:
    """The level the models-per-arm figure is planned at (the worst case: one claim selected)."""
    return planning_levels(suite, claim)[PLANNED_AT]


def plan_part(suite, claim, part, frames: dict | None, seed: int = 0) -> dict:
    """Models per arm for the part's power target at both planning levels, by resampling the pilot
    (frames: the arms' models) or the declared spread."""
    rules = suite.rules
    effect = effect_of_interest(part, rules)
    out = {"claim": claim.id, "part": part.name, "statistic": part.statistic, "effect": effect,
           "target": rules.power.target}
    why = not_plannable(part.statistic, rules.seed_free)
    if why:
        out["note"] = f"not plannable: {why}"
        return out
    if effect is None:
        out["note"] = f"no effect of interest: declare the part's effect: (in {part.statistic}'s units)"
        return out
    rng = np.random.default_rng([seed, claim.id, len(part.name)])
    target = planted_value(part, effect)
    if part.statistic in CORRELATIONAL:
        prepared = _correlational(suite, part, frames, target, rng)
    else:
        prepared = _shifted(suite, part, frames, target, rng)
    if isinstance(prepared, str):
        out["note"] = prepared
        return out
    population, paired, extra_se, source, estimate = prepared
    out.update(source=source, paired=paired, pilot_estimate=estimate, planted=target)
    sims = rules.power.simulations
    declared, exact = declared_models(suite, part)
    out["declared_per_arm"] = {"models": declared, "exact": exact}
    levels, done = {}, {}
    for name, alpha in planning_levels(suite, claim).items():
        if alpha not in done:
            n, power = search_n(lambda m: _decision_rate(part, population, paired, m, alpha, sims, rng, extra_se),
                                rules.power.target)
            mc = math.sqrt(max(power * (1 - power), 1e-12) / sims) if power is not None else None
            done[alpha] = {"alpha": alpha, "per_arm": n, "power_at_n": power, "mc_error": mc}
            if declared and declared >= MIN_MODELS:
                done[alpha]["power_at_declared"] = _decision_rate(part, population, paired, declared, alpha, sims,
                                                                  rng, extra_se)
        levels[name] = dict(done[alpha])
    out.update(levels[PLANNED_AT], levels=levels, planned_at=LEVELS[PLANNED_AT])
    return out


def declared_models(suite, part) -> tuple[int | None, bool]:
    """The models per arm the suite's sweeps give the part (the smallest arm: its sweeps' models_per_space,
    a `select` fraction taken per sweep as the judge takes it), and whether that is exact: an arm with a
    `where` keeps only the models that satisfy it, so its size is an upper bound."""
    sizes, exact = [], True
    for arm in part.arms.values():
        n = 0
        for key in arm.sweeps:
            m = int((suite.sweeps.get(key) or {}).get("models_per_space") or 0)
            if arm.select != "all":
                kind, frac = arm.select.split(":")
                k = max(1, int(round(float(frac) * m)))
                m = k if kind == "best" else m - k
            n += m
        exact = exact and not arm.where
        sizes.append(n)
    return (min(sizes) if sizes else None), exact


# --- populations --------------------------------------------------------------------------------------
def _shifted(suite, part, frames, target, rng):
    """(population, paired, extra_se, source, estimate) for a shiftable statistic, or a note."""
    name, rules = part.statistic, suite.rules
    extra_se = None
    if frames is None:
        if rules.power.spread is None:
            return "no pilot and no declared power.spread"
        values = {k: rng.normal(50.0, rules.power.spread, 2000) for k in part.arms}
        paired = False
        source = f"normal populations, between-model sd {rules.power.spread:g}"
    else:
        values, paired, extra = judged_values(suite, part, frames)
        if extra["se"]:
            # the judge widens the interval by the complexity slope's own error; it shrinks as 1/sqrt(models)
            total, per = extra["n_total"], len(values)
            extra_se = lambda n: extra["se"] * math.sqrt(total / (per * n))  # noqa: E731
        source = "pilot: " + ", ".join(f"{k} {len(v)}" for k, v in values.items()) + \
                 (" model pairs" if paired else " models")
    if min(len(v) for v in values.values()) < MIN_MODELS:
        return "the pilot has too few models for an interval"
    seed_free = rules.seed_free
    estimate = part_interval(name, values, part.params, paired, rng, 0, seed_free=seed_free).estimate
    if not np.isfinite(estimate) or (name == "mean_ratio" and estimate <= 0):
        return "the pilot gives no estimate"
    smoothed = smoothed_population(values, _joint(name, paired), rng, keep_variance=True)
    population = plant(name, smoothed, part.params, paired, target, rng,
                       lambda pop: part_interval(name, pop, part.params, paired, rng, 0, seed_free=seed_free).estimate)
    return population, paired, extra_se, source, estimate


def judged_values(suite, part, frames: dict) -> tuple[dict, bool, dict]:
    """The values the judge compares for a shiftable part, as `decide._measure` builds them: models that
    did not learn dropped when the suite's learning rule excludes them, arms paired model to model (or
    shared architectures dropped from the larger arm), error complexity-adjusted by `complexity_adjust`
    when the arms are unpaired. Returns (finite values, paired, {"se": the complexity slope's error
    contrast, "n_total": models it was fitted on})."""
    name, rules = part.statistic, suite.rules
    if not rules.learning.keep:
        frames = {k: f[~_did_not_learn(suite, part, k, f)].reset_index(drop=True) for k, f in frames.items()}
    frames = dict(frames)
    col = {k: part.arms[k].value for k in frames}
    values = {k: pd.to_numeric(f[col[k]], errors="coerce").to_numpy(np.float64) for k, f in frames.items()}
    paired = False
    if rules.pairing == "auto" and (name in TWO_ARM or name == "interaction"):  # as the judge pairs
        aligned_all, _ = pair_parts(name, part, frames, values)
        if name == "interaction" and len(aligned_all) == 4:
            paired = True
            values = {"ab": values["a"][aligned_all["a"]] - values["b"][aligned_all["b"]],
                      "cd": values["c"][aligned_all["c"]] - values["d"][aligned_all["d"]]}
        elif name in TWO_ARM and aligned_all:
            paired = True
            values = {k: values[k][aligned_all[k]] for k in ("a", "b")}
    elif name == "paired_median_diff":
        from .judge import paired_values

        values, _ = paired_values(frames, part.arms, part.params.get("ignore", ()))
        paired = True
    extra = {"se": 0.0, "n_total": 0}
    if name in TWO_ARM + ("interaction",) and not paired and all(v == "error" for v in col.values()):
        values, cx = complexity_adjust(values, frames, rules, paired)
        if cx.get("applied"):
            coefs = {"a": 1, "b": -1} if name in TWO_ARM else {"a": 1, "b": -1, "c": -1, "d": 1}
            contrast = sum(c * (cx["mean_log"][k] - cx["centre_log"]) for k, c in coefs.items())
            extra = {"se": abs(contrast) * cx["se_beta"], "n_total": int(sum(np.isfinite(v).sum()
                                                                             for v in values.values()))}
    if _joint(name, paired):
        ok = np.logical_and.reduce([np.isfinite(v) for v in values.values()])
        values = {k: v[ok] for k, v in values.items()}
    else:
        values = {k: v[np.isfinite(v)] for k, v in values.items()}
    return values, paired, extra


def _did_not_learn(suite, part, key: str, frame) -> np.ndarray:
    """The suite's learning rule on one arm's pilot models, as the judge applies it."""
    classes = classes_of(suite.sweeps[part.arms[key].sweeps[0]])
    return did_not_learn(frame, classes, suite.rules.learning.chance_margin)


def _correlational(suite, part, frames, target, rng):
    """(population {"x", "y"}, False, None, source, estimate) for a slope or a Spearman rho, or a note."""
    name = part.statistic
    if frames is None:
        if name == "slope":
            return "no pilot: a slope's power needs the pilot's x values and its spread about the line"
        x = y = None
        source = "Gaussian copula (normal marginals)"
        estimate = None
    else:
        f = frames["a"]
        if not suite.rules.learning.keep:
            f = f[~_did_not_learn(suite, part, "a", f)]
        x, y = (pd.to_numeric(f[part.params[k]], errors="coerce").to_numpy(np.float64) for k in ("x", "y"))
        if name == "slope" and part.params.get("log"):
            with np.errstate(invalid="ignore", divide="ignore"):
                x, y = np.log(x), np.log(y)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if x.size < MIN_MODELS + 1:
            return "the pilot has too few models for an interval"
        estimate = part_interval(name, {"a": (x, y)}, _plain(part), False, rng, 0).estimate
        if not np.isfinite(estimate):
            return "the pilot gives no estimate"
        source = f"pilot: a {x.size} models" + (", Gaussian copula over its marginals" if name == "spearman" else "")
    if name == "slope":
        pop = smoothed_population({"x": x, "y": y}, True, rng, keep_variance=True)
        slope = float(np.polyfit(pop["x"], pop["y"], 1)[0])
        pop["y"] = pop["y"] + (target - slope) * pop["x"]
        return pop, False, None, source, estimate
    pop = copula_population(x, y, target, rng)
    if pop is None:
        return f"no population with Spearman rho {target:g} over the pilot's marginals (ties)"
    return pop, False, None, source, estimate


def copula_population(x, y, rho: float, rng, size: int = COPULA_POPULATION) -> dict | None:
    """(x, y) pairs whose Spearman rho is `rho`: a Gaussian copula over x's and y's empirical marginals
    (normal marginals when x is None), its normal correlation found by bisection so that the
    population's own rho, ties included, is the target. None when the marginals' ties cannot reach it."""
    z1, z2 = rng.standard_normal(size), rng.standard_normal(size)
    sx = None if x is None else np.sort(x)
    sy = None if y is None else np.sort(y)

    def margin(s, z):
        if s is None:
            return z
        return s[np.minimum((st.norm.cdf(z) * s.size).astype(int), s.size - 1)]

    def pop(r):
        w = r * z1 + math.sqrt(max(1.0 - r * r, 0.0)) * z2
        return {"x": margin(sx, z1), "y": margin(sy, w)}

    def rho_of(r):
        p = pop(r)
        return float(st.spearmanr(p["x"], p["y"]).statistic)

    lo, hi = -0.9999, 0.9999
    if not rho_of(lo) <= rho <= rho_of(hi):
        return None
    for _ in range(40):
        mid = (lo + hi) / 2
        if rho_of(mid) < rho:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-5:
            break
    return pop((lo + hi) / 2)


def _joint(name: str, paired: bool) -> bool:
    """Whether the arms' values are drawn together (model pairs); a paired interaction's two sets of
    pair differences are independent samples, drawn apart."""
    return paired and name != "interaction"


def _plain(part) -> dict:
    """The part's params for an interval on already-transformed values (a slope's logs taken)."""
    return {k: v for k, v in part.params.items() if k != "log"}


# --- decision rates -------------------------------------------------------------------------------------
def _decision_rate(part, population, paired, n, alpha, sims, rng, extra_se=None) -> float:
    """Share of `sims` draws of n models per arm whose interval at 1 - 2 alpha reads 'holds'. Shiftable
    statistics use the vectorised intervals (widened by the complexity slope's error where the judge
    widens them); a slope or a Spearman rho reads the judge's own interval on each draw."""
    name = part.statistic
    joint = _joint(name, paired) or name in CORRELATIONAL
    if name in SHIFTABLE and extra_se is None and joint == paired:
        return decision_rate(name, population, part.params, paired, n, part.expect, part.ref, part.margin, alpha,
                             sims, rng)
    level = 1.0 - 2.0 * alpha
    hits = 0
    step = max(1, 2_000_000 // max(n, 1))
    for start in range(0, sims, step):
        size = min(step, sims - start)
        if joint:
            idx = rng.integers(0, len(next(iter(population.values()))), (size, n))
            draws = {k: v[idx] for k, v in population.items()}
        else:
            draws = {k: v[rng.integers(0, len(v), (size, n))] for k, v in population.items()}
        if name in CORRELATIONAL:
            params = _plain(part)
            bounds = [part_interval(name, {"a": (draws["x"][i], draws["y"][i])}, params, False, rng, 0).bounds(level)
                      for i in range(size)]
            lo, hi = (np.array(b) for b in zip(*bounds))
        else:
            lo, hi = bounds_rows(name, draws, part.params, paired, level)
            if extra_se is not None:
                t = float(st.t.ppf((1 + level) / 2, n - 1))
                centre, half = (lo + hi) / 2, (hi - lo) / 2
                half = np.sqrt(half * half + (t * extra_se(n)) ** 2)
                lo, hi = centre - half, centre + half
        hits += sum(rule(a, b, part.expect, part.ref, part.margin) == HOLDS for a, b in zip(lo, hi))
    return hits / sims


# --- the suite ---------------------------------------------------------------------------------------------
def plan_suite(suite, pilot_dir: str | None = None, seed: int = 0) -> dict:
    """Every part's plan, and per sweep the models per space and compute that the plan implies."""
    from .judge import Stores, arm_frame

    stores = Stores(suite, pilot_dir) if pilot_dir else None
    parts, per_sweep = [], {}
    for claim in suite.claims:
        if claim.skip:
            continue
        for part in claim.parts:
            frames = None
            plannable = not not_plannable(part.statistic, suite.rules.seed_free)
            if stores is not None and plannable:
                derived = any(part.params.get(k) in ("e_fit", "d", "b", "g", "w0", "wa", "wm") for k in ("x", "y"))
                frames = {}
                for k, arm in part.arms.items():
                    frame, why = arm_frame(stores, arm, derived=derived)
                    if frame is None:
                        frames = None
                        break
                    frames[k] = frame.reset_index(drop=True)
            plan = plan_part(suite, claim, part, frames, seed)
            if stores is not None and frames is None and plannable:
                plan.setdefault("note", "the pilot has no models for an arm of this part")
            parts.append(plan)
            for arm in part.arms.values():
                for key in arm.sweeps:
                    per_sweep.setdefault(key, []).append(plan)
    sweeps = {key: _sweep_cost(suite, stores, key, plans) for key, plans in per_sweep.items()}
    total = sum(s["core_hours"] for s in sweeps.values() if s["core_hours"])
    total_all = sum(s["core_hours_all_selected"] for s in sweeps.values() if s["core_hours_all_selected"])
    return {"suite": suite.name, "pilot": pilot_dir, "planned_at": LEVELS[PLANNED_AT], "parts": parts,
            "sweeps": sweeps, "core_hours": total, "core_hours_all_selected": total_all}


def _sweep_cost(suite, stores, key: str, plans: list) -> dict:
    """Models per space the sweep's parts need (at both levels) and the core-hours they cost: models x
    spaces x repeats (trials per model) x the pilot's mean trial seconds x the sweep's cpus per trial."""
    cfg = suite.sweep_config(key)
    spaces = len(suite.sweeps[key]["spaces"])
    seconds = _trial_seconds(stores, key) if stores is not None else None
    out = {"spaces": spaces, "repeats": int(cfg.repeats), "cpus_per_trial": float(cfg.cpus), "trial_seconds": seconds}
    for suffix, level in (("", PLANNED_AT), ("_all_selected", "all_selected")):
        known = [p["levels"][level]["per_arm"] for p in plans if p.get("levels") and p["levels"][level]["per_arm"]]
        n = max(known) if known else None
        out["models_per_space" + suffix] = n
        out["core_hours" + suffix] = (n * spaces * cfg.repeats * seconds * cfg.cpus / 3600.0) if n and seconds \
            else None
    return out


def _trial_seconds(stores, key: str) -> float | None:
    df = stores.trials(key)
    if df is None or "seconds" not in df:
        return None
    s = pd.to_numeric(df["seconds"], errors="coerce")
    return float(s.mean()) if s.notna().any() else None
