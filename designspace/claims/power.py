"""Power before the run: for every part of a schema-2 suite, the models per arm that decide its effect
of interest with the declared probability, and the compute that implies.

The part's arms are taken from a pilot (stores of the same sweep keys, e.g. an earlier run) or, without
one, drawn from normal populations with the suite's declared between-model spread. The pilot is
shifted so the part's statistic equals the planted value (the line moved by the effect of interest,
on the side the claim expects; the line itself for an equivalence), then n models per arm are drawn
with replacement (pairs together when the arms are paired), and the part's own interval is read at
its planning level: alpha / (parts in its claim), and / (claims) too when the suite controls the
family-wise rate across claims (Holm and the FDR control decide at least as often, so the plan is
conservative). The decision rate over `simulations` draws is the power at n; n is the smallest of a
search whose rate reaches the target.
"""
from __future__ import annotations

import math

import numpy as np

from ..stats.power import decision_rate, plant, search_n, smoothed_population
from .decide import TWO_ARM, _measure, did_not_learn, part_interval
from .statistics import MIN_MODELS

SHIFTABLE = TWO_ARM + ("interaction", "median", "mean")


def planted_value(part, effect: float) -> float:
    """Where the truth is put: the line moved by the effect toward 'holds' (the line for equivalence)."""
    ref, margin = part.ref, part.margin
    return {"less": ref - effect, "greater": ref + effect, "equivalent": ref,
            "at_most": ref + margin - effect, "at_least": ref - margin + effect}[part.expect]


def planning_alpha(suite, claim) -> float:
    alpha = (1.0 - suite.level) / 2.0
    mult = suite.rules.multiplicity
    if mult.parts != "none":
        alpha /= max(len(claim.parts), 1)
    if mult.claims == "bonferroni":
        alpha /= max(sum(1 for c in suite.claims if not c.skip), 1)
    return alpha


def plan_part(suite, claim, part, frames: dict | None, seed: int = 0) -> dict:
    """Models per arm for the part's power target, by resampling the pilot (or the declared spread)."""
    from .decide import effect_of_interest

    rules = suite.rules
    effect = effect_of_interest(part, rules)
    out = {"claim": claim.id, "part": part.name, "statistic": part.statistic, "effect": effect,
           "target": rules.power.target}
    if effect is None or part.statistic not in SHIFTABLE:
        out["note"] = f"no shift model for {part.statistic}: power not computed"
        return out
    rng = np.random.default_rng([seed, claim.id, len(part.name)])
    if frames is None:
        if rules.power.spread is None:
            out["note"] = "no pilot and no declared power.spread"
            return out
        frames_values = {k: rng.normal(50.0, rules.power.spread, 2000) for k in part.arms}
        values, paired, estimate = frames_values, False, None
        estimate = part_interval(part.statistic, values, part.params, False, rng, 0).estimate
        out["source"] = f"normal populations, between-model sd {rules.power.spread:g}"
    else:
        learn = {k: did_not_learn(f, None, 0) for k, f in frames.items()}
        measured = _measure(part, dict(frames), learn, exclude=False, seed=(seed,), resamples=200, rules=rules)
        interval = measured["_interval"]
        paired, estimate = measured["paired"], interval.estimate
        values = _measured_values(part, frames, measured, rules)
        out["source"] = "pilot: " + ", ".join(f"{k} {len(v)}" for k, v in values.items()) + \
                        (" model pairs" if paired else " models")
    if not np.isfinite(estimate) or (part.statistic == "mean_ratio" and estimate <= 0) or \
            min(len(v) for v in values.values()) < MIN_MODELS:
        out["note"] = "the pilot gives no estimate"
        return out
    values = plant(part.statistic, smoothed_population(values, paired, rng), part.params, paired,
                   planted_value(part, effect), rng,
                   lambda pop: part_interval(part.statistic, pop, part.params, paired, rng, 0).estimate)
    alpha = planning_alpha(suite, claim)
    sims = rules.power.simulations
    def rate(n):
        return decision_rate(part.statistic, values, part.params, paired, n, part.expect, part.ref, part.margin,
                             alpha, sims, rng)

    n, power = search_n(rate, rules.power.target)
    out.update(alpha=alpha, paired=paired, per_arm=n, power_at_n=power,
               mc_error=math.sqrt(max(power * (1 - power), 1e-12) / sims) if power is not None else None)
    return out


def _measured_values(part, frames, measured, rules) -> dict:
    """The values the judge compared (paired and complexity-adjusted as it did), rebuilt for resampling."""
    import pandas as pd

    from .decide import _default_ignore, complexity_adjust, pair_arms  # noqa: F401

    name = part.statistic
    col = {k: pd.to_numeric(f[part.arms[k].value], errors="coerce").to_numpy(np.float64) for k, f in frames.items()}
    if not measured["paired"]:
        return {k: v[np.isfinite(v)] for k, v in col.items()}
    if name == "interaction":
        (al, _, _), (cl, _, _) = (pair_arms(frames, p, _default_ignore(part)) for p in (("a", "b"), ("c", "d")))
        return {"ab": col["a"][al["a"]] - col["b"][al["b"]], "cd": col["c"][cl["c"]] - col["d"][cl["d"]]}
    aligned, _, _ = pair_arms(frames, ("a", "b"), _default_ignore(part))
    if aligned is None:
        from .judge import paired_values

        return paired_values(frames, part.arms, part.params.get("ignore", ()))[0]
    return {k: col[k][aligned[k]] for k in ("a", "b")}


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
            if stores is not None:
                frames = {}
                for k, arm in part.arms.items():
                    frame, why = arm_frame(stores, arm, trials=part.statistic == "std_diff")
                    if frame is None:
                        frames = None
                        break
                    frames[k] = frame.reset_index(drop=True)
            plan = plan_part(suite, claim, part, frames, seed)
            if stores is not None and frames is None:
                plan.setdefault("note", "the pilot has no models for an arm of this part")
            parts.append(plan)
            for arm in part.arms.values():
                for key in arm.sweeps:
                    per_sweep.setdefault(key, []).append(plan.get("per_arm"))
    sweeps = {}
    for key, needs in per_sweep.items():
        known = [n for n in needs if n]
        spaces = len(suite.sweeps[key]["spaces"])
        seconds = _trial_seconds(stores, key) if stores is not None else None
        n = max(known) if known else None
        sweeps[key] = {"models_per_space": n, "spaces": spaces, "trial_seconds": seconds,
                       "core_hours": (n * spaces * seconds / 3600.0) if n and seconds else None}
    total = sum(s["core_hours"] for s in sweeps.values() if s["core_hours"])
    return {"suite": suite.name, "pilot": pilot_dir, "parts": parts, "sweeps": sweeps, "core_hours": total}


def _trial_seconds(stores, key: str) -> float | None:
    import pandas as pd

    df = stores.trials(key)
    if df is None or "seconds" not in df:
        return None
    s = pd.to_numeric(df["seconds"], errors="coerce")
    return float(s.mean()) if s.notna().any() else None
