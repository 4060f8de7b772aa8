"""What a calibration measured, per budget: cost, rank fidelity to the reference, reliability, and the
compute needed to decide an effect; and the budget its declared rule recommends.

Units: models (the main sweep's models, training seed as configured); errors in percent.
- cost: mean core-seconds per model (trial seconds x cpus per trial), measured.
- fidelity: Spearman and Kendall correlations between the budget's and the reference's model errors,
  within each space (ranks centred per space and pooled) and pooled over spaces, with Fisher-z
  intervals (Bonett-Wright variance for Spearman, 0.437 / (n - 4) for Kendall): no resampling seed.
  Top-k overlap within each space, and whether the spaces' order by median error agrees.
- spread: the pooled within-space standard deviation of model errors.
- reliability: 1 - (seed variance + test-sampling variance) / spread^2. Seed variance from the models
  trained again with another seed (mean of (e0 - e1)^2 / 2); test-sampling variance binomial,
  p (1 - p) / test images. Both are noise in a model's measured error; counting both is conservative.
  The fidelity a budget can reach against a noisy reference is capped at sqrt(rel_budget x rel_reference).
- compute to decide: models per arm giving the declared power to decide a difference of medians of the
  declared effect (two-sided alpha), simulated with the power machinery on normal populations of the
  budget's spread, x 2 arms x cost per model. Effects are stated in the budget's own points and in the
  reference's (scaled by the spread ratio: a 1-point effect at the reference is s_budget / s_ref points).
"""
from __future__ import annotations

import json
import math
import os
import time

import numpy as np
import pandas as pd

from ..stats import rank
from ..stats.power import decision_rate, search_n
from .config import CalibrationConfig, repeat_name, store_path


def _models(cfg: CalibrationConfig, budget: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(main sweep's trials, repeat sweep's trials) of a budget, read-only; None where missing."""
    from ..analysis.population import read_population
    from ..errors import UsageError

    path = store_path(cfg, budget)
    if not os.path.isfile(path):
        return None, None
    out = []
    for sweep in (budget, repeat_name(cfg, budget)):
        if sweep is None:
            out.append(None)
            continue
        try:
            df = read_population([path], sweeps=[sweep])
        except UsageError:
            out.append(None)
            continue
        df = df[(df["status"] == "done") & pd.to_numeric(df["error"], errors="coerce").notna()]
        out.append(df if len(df) else None)
    return out[0], out[1]


def _bounds(interval, level: float) -> list | None:
    return list(interval.bounds(level)) if np.isfinite(interval.estimate) else None


def fidelity(budget_err: pd.Series, ref_err: pd.Series, spaces: pd.Series, level: float, top_k: int) -> dict:
    """Rank agreement of two error columns over the same models (index: spec id)."""
    x, y, g = budget_err.to_numpy(np.float64), ref_err.to_numpy(np.float64), spaces.to_numpy()
    within, pooled = rank.spearman_interval(x, y, strata=g), rank.spearman_interval(x, y)
    tau, tau_p = rank.kendall_interval(x, y, strata=g), rank.kendall_interval(x, y)
    overlap = []
    for s in np.unique(g):
        m = g == s
        k = min(top_k, int(m.sum()))
        if k:
            top_b = set(np.argsort(x[m], kind="stable")[:k])
            top_r = set(np.argsort(y[m], kind="stable")[:k])
            overlap.append(len(top_b & top_r) / k)
    med_b = pd.Series(x).groupby(g).median()
    med_r = pd.Series(y).groupby(g).median()
    return {"n": int(len(x)), "spearman_within": within.estimate, "spearman_within_ci": list(within.bounds(level)),
            "spearman_pooled": pooled.estimate, "spearman_pooled_ci": list(pooled.bounds(level)),
            "kendall_within": tau.estimate, "kendall_within_ci": _bounds(tau, level),
            "kendall_pooled": tau_p.estimate, "kendall_pooled_ci": _bounds(tau_p, level),
            "top_k": top_k, "top_k_overlap": float(np.mean(overlap)) if overlap else float("nan"),
            "space_order_agrees": list(med_b.sort_values().index) == list(med_r.sort_values().index),
            "space_medians": {str(k): float(v) for k, v in med_b.items()},
            "method": within.method}


def reliability(main: pd.DataFrame, repeat: pd.DataFrame | None, test_size: int) -> dict:
    """Spread of model errors within spaces, and how much of it is seed and test-sampling noise."""
    err = pd.to_numeric(main["error"], errors="coerce")
    spread_var = float(err.groupby(main["space"]).var(ddof=1).mul(err.groupby(main["space"]).count() - 1).sum()
                       / max(len(err) - main["space"].nunique(), 1))
    p = float(err.mean()) / 100.0
    test_var = 1e4 * p * (1 - p) / test_size
    seed_var, pairs = float("nan"), 0
    if repeat is not None:
        joined = pd.merge(main[["spec_id", "error"]], repeat[["spec_id", "error"]], on="spec_id", suffixes=("0", "1"))
        pairs = len(joined)
        if pairs:
            d = joined["error0"].to_numpy(np.float64) - joined["error1"].to_numpy(np.float64)
            seed_var = float(np.mean(d * d) / 2.0)
    noise = test_var + (seed_var if np.isfinite(seed_var) else 0.0)
    rel = 1.0 - noise / spread_var if spread_var > 0 else float("nan")
    return {"spread_sd": math.sqrt(spread_var), "seed_sd": math.sqrt(seed_var) if np.isfinite(seed_var) else None,
            "seed_pairs": pairs, "test_sd": math.sqrt(test_var), "reliability": max(min(rel, 1.0), 0.0),
            "median_error": float(err.median())}


def models_to_decide(spread: float, effect: float, power: float, alpha: float, seed: int = 0) -> int | None:
    """Models per arm for a two-sided alpha test of a difference of medians to reach `power` at
    `effect`, by simulation on normal populations of sd `spread` (the power machinery)."""
    if not (spread > 0 and effect > 0):
        return None
    rng = np.random.default_rng([seed, int(effect * 1000)])
    pop = {"a": rng.normal(effect, spread, 100_000), "b": rng.normal(0.0, spread, 100_000)}

    def rate(n):
        return decision_rate("median_diff", pop, {}, False, n, "greater", 0.0, 0.0, alpha / 2.0, 400, rng)

    return search_n(rate, power)[0]


def analyse(cfg: CalibrationConfig, probe: dict | None = None) -> dict:
    """Every budget measured against the reference, and the recommendation of the declared rule (with
    the sweeps' own trial seconds, and with the probed per-image costs when a probe was run)."""
    dec = cfg.decision
    ref_main, ref_rep = _models(cfg, cfg.reference)
    budgets, ref_rel = {}, None
    if ref_main is not None:
        ref_rel = reliability(ref_main, ref_rep, cfg.budgets[cfg.reference]["test_size"])
    for budget, overrides in cfg.budgets.items():
        main, rep = _models(cfg, budget)
        entry = {"recipe": overrides, "models": 0 if main is None else int(main["spec_id"].nunique())}
        if main is None:
            entry["missing"] = f"no finished trials in {store_path(cfg, budget)}"
            budgets[budget] = entry
            continue
        cpus = float(cfg.resources.get("cpus", 1) or 1)
        entry["core_seconds_per_model"] = float(pd.to_numeric(main["seconds"], errors="coerce").mean() * cpus)
        if probe:
            entry["probe_core_seconds_per_model"] = float(probe["budgets"][budget])
        entry.update(reliability(main, rep, overrides.get("test_size") or 10_000))
        err = pd.to_numeric(main["error"], errors="coerce")
        entry["space_medians"] = {str(k): float(v) for k, v in err.groupby(main["space"]).median().items()}
        both = pd.concat([main, rep]) if rep is not None else main
        entry["trials"] = int(len(both))
        entry["first_start"], entry["last_finish"] = _span(both)
        if ref_main is not None and budget != cfg.reference:
            joined = pd.merge(main[["spec_id", "space", "error"]], ref_main[["spec_id", "error"]], on="spec_id",
                              suffixes=("", "_ref"))
            entry["fidelity"] = fidelity(joined["error"], joined["error_ref"], joined["space"], dec.level, dec.top_k)
            if ref_rel:
                entry["fidelity_cap"] = math.sqrt(entry["reliability"] * ref_rel["reliability"])
            entry["eligible"] = entry["fidelity"]["spearman_within_ci"][0] >= dec.fidelity_bar
        entry["decide"] = {}
        for effect in dec.effects:
            scaled = effect * entry["spread_sd"] / ref_rel["spread_sd"] if ref_rel else None
            row = {}
            for label, eff in (("own_points", effect), ("reference_points", scaled)):
                n = models_to_decide(entry["spread_sd"], eff, dec.power, dec.alpha) if eff else None
                row[label] = {"effect": eff, "models_per_arm": n,
                              "core_hours": n * 2 * entry["core_seconds_per_model"] / 3600.0 if n else None}
                if probe:
                    row[label]["core_hours_probe"] = (n * 2 * entry["probe_core_seconds_per_model"] / 3600.0
                                                      if n else None)
            entry["decide"][f"{effect:g}"] = row
        budgets[budget] = entry
    starts = [e["first_start"] for e in budgets.values() if e.get("first_start") is not None]
    ends = [e["last_finish"] for e in budgets.values() if e.get("last_finish") is not None]
    faithful = {b: e["fidelity"]["spearman_within"] for b, e in budgets.items()
                if b != cfg.reference and np.isfinite((e.get("fidelity") or {}).get("spearman_within", np.nan))}
    out = {"budgets": budgets, "reference": cfg.reference, "recommended": recommend(cfg, budgets),
           "reference_reliability": ref_rel,
           "run": {"first_start": min(starts) if starts else None, "last_finish": max(ends) if ends else None,
                   "trials": int(sum(e.get("trials", 0) for e in budgets.values()))},
           "most_faithful": max(faithful, key=faithful.get) if faithful else None}
    if probe:
        out["probe"] = probe
        out["recommended_probe_cost"] = recommend(cfg, budgets, "core_hours_probe")
    return out


def _span(trials: pd.DataFrame) -> tuple[float | None, float | None]:
    """(first start, last finish) of trials, in seconds since the epoch (from the stored timestamps)."""
    t0, t1 = trials["started_at"].min(), trials["finished_at"].max()
    return (t0.timestamp() if pd.notna(t0) else None), (t1.timestamp() if pd.notna(t1) else None)


def recommend(cfg: CalibrationConfig, budgets: dict, cost_key: str = "core_hours") -> dict:
    """The declared rule: among eligible budgets, the least compute to decide the first effect (in the
    reference's points); none when no budget is eligible."""
    first = f"{cfg.decision.effects[0]:g}"
    eligible = {b: e for b, e in budgets.items() if e.get("eligible")}
    if not eligible:
        return {"budget": None, "why": f"no budget's within-space Spearman lower bound reaches the bar "
                                       f"{cfg.decision.fidelity_bar:g}"}

    def cost(e):
        h = e["decide"][first]["reference_points"].get(cost_key)
        return h if h is not None else math.inf

    best = min(eligible, key=lambda b: cost(eligible[b]))
    return {"budget": best, "why": f"eligible (Spearman lower bound >= {cfg.decision.fidelity_bar:g}) and the least "
                                   f"compute to decide a {first}-point effect ({cost(eligible[best]):.2f} core-hours)"}


def calibrate_report(cfg: CalibrationConfig, out: str, command: str = "", probe: dict | None = None) -> dict:
    """analyse() written as calibration.json, calibration.md and calibration.png under `out`. A probe
    (calibration.cost.probe) is kept in <out>/cost_probe.json and reused by later reports."""
    from ..claims.run import machine

    probe_path = os.path.join(out, "cost_probe.json")
    if probe is None and os.path.isfile(probe_path):
        with open(probe_path) as fh:
            probe = json.load(fh)
    result = {"name": cfg.name, "command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "machine": machine(), "config": cfg.model_dump(), **analyse(cfg, probe)}
    os.makedirs(out, exist_ok=True)
    if probe is not None:
        with open(probe_path, "w") as fh:
            json.dump(probe, fh, indent=1)
    with open(os.path.join(out, "calibration.json"), "w") as fh:
        json.dump(result, fh, indent=1, default=float)
        fh.write("\n")
    text = markdown(result, cfg)
    with open(os.path.join(out, "calibration.md"), "w") as fh:
        fh.write(text + "\n")
    figure(result, cfg, os.path.join(out, "calibration.png"))
    result["summary"] = text.split("\n## ")[0]
    return result


def _f(v, spec=".2f"):
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def markdown(result: dict, cfg: CalibrationConfig) -> str:
    """calibration.md: the run and the decision rule, the table of budgets, the per-space medians, how to read it."""
    lines = _summary(result, cfg) + [""] + _budget_table(result, cfg.decision) + _space_medians(result)
    lines += ["", "## How to read it", "",
              "Fidelity intervals are Fisher-z intervals (no resampling). Reliability counts training-seed noise "
              "(from the repeated models) and test-sampling noise (binomial) against the between-model spread; "
              "'cap' is the highest fidelity the budget could show against this reference given both "
              "reliabilities. Compute to decide is 2 arms x models per arm x core-seconds per model, for an "
              "effect of the stated size at the reference, scaled to each budget by its spread."]
    return "\n".join(lines)


def _summary(result: dict, cfg: CalibrationConfig) -> list[str]:
    """The bullet list: what ran, where, the rule declared before the run, and what it recommends."""
    dec = cfg.decision
    rec = result["recommended"]
    lines = [f"# Calibration {result['name']}", "", f"- command: `{result['command']}`", f"- date: {result['date']}",
             f"- machine: {result['machine']}", f"- reference: {result['reference']} "
             f"({json.dumps(cfg.budgets[result['reference']])})",
             f"- rule (declared before the run): eligible when the within-space Spearman's {dec.level:.0%} lower "
             f"bound >= {dec.fidelity_bar:g}; recommend the eligible budget with the least compute to decide a "
             f"{dec.effects[0]:g}-point effect (reference points) at {dec.power:.0%} power, two-sided alpha "
             f"{dec.alpha:g}",
             f"- **recommended: {rec['budget'] or 'none'}** ({rec['why']}; cost = the sweeps' own trial seconds)"]
    run = result.get("run") or {}
    if run.get("first_start") and run.get("last_finish"):
        lines.append(f"- sweeps: {run['trials']} finished trials from {_utc(run['first_start'])} to "
                     f"{_utc(run['last_finish'])} UTC ({run['last_finish'] - run['first_start']:.0f} s of wall time, "
                     f"from the stores' trial timestamps)")
    if result.get("most_faithful"):
        b = result["most_faithful"]
        lines.append(f"- most faithful budget below the reference (highest within-space Spearman estimate): {b} "
                     f"({result['budgets'][b]['fidelity']['spearman_within']:.2f})")
    if result.get("probe"):
        pr, rp = result["probe"], result["recommended_probe_cost"]
        lines.append(f"- with the probed cost ({pr['seconds_per_train_image'] * 1e3:.2f} ms per training image, "
                     f"{pr['seconds_per_test_image'] * 1e3:.2f} ms per test image, {pr['setup_seconds']:.1f} s setup, "
                     f"one thread, {pr['models']} models): **{rp['budget'] or 'none'}** ({rp['why']})")
    return lines


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _budget_table(result: dict, dec) -> list[str]:
    """One row a budget: its cost, error, noise, fidelity to the reference and the compute to decide each effect."""
    lines = ["| budget | models | core-s/model (sweep; probe) | median err | spread sd | seed sd | test sd | "
             "reliability | "
             "Spearman within [CI] | Kendall within | pooled Spearman | top-k overlap | space order | cap | "
             + " | ".join(f"n/arm, core-h for {e:g} pt (ref pts)" for e in dec.effects) + " |",
             "|" + "---|" * (14 + len(dec.effects))]
    for b, e in result["budgets"].items():
        if "missing" in e:
            lines.append(f"| {b} | 0 | {e['missing']} |" + " |" * (12 + len(dec.effects)))
        else:
            lines.append(_budget_row(b, e, result["reference"], dec))
    return lines


def _budget_row(b: str, e: dict, reference: str, dec) -> str:
    fid = e.get("fidelity") or {}
    ci = fid.get("spearman_within_ci")
    sp = f"{_f(fid.get('spearman_within'))} [{_f(ci[0])}, {_f(ci[1])}]" if ci else \
        ("reference" if b == reference else "–")
    decide = []
    for eff in dec.effects:
        r = e["decide"][f"{eff:g}"]["reference_points"]
        decide.append(f"{r['models_per_arm'] or '>50k'}, {_f(r['core_hours'], '.1f')}")
    cost = _f(e["core_seconds_per_model"], ".1f") + (f"; {_f(e['probe_core_seconds_per_model'], '.1f')}"
                                                     if "probe_core_seconds_per_model" in e else "")
    return (f"| {b} | {e['models']} | {cost} | "
            f"{_f(e['median_error'], '.1f')} | {_f(e['spread_sd'])} | {_f(e['seed_sd'])} | "
            f"{_f(e['test_sd'])} | {_f(e['reliability'])} | {sp} | {_f(fid.get('kendall_within'))} | "
            f"{_f(fid.get('spearman_pooled'))} | {_f(fid.get('top_k_overlap'))} | "
            f"{'agrees' if fid.get('space_order_agrees') else ('differs' if fid else '–')} | "
            f"{_f(e.get('fidelity_cap'))} | " + " | ".join(decide) + " |")


def _space_medians(result: dict) -> list[str]:
    """The median error of each space at each budget (none when no budget has per-space medians)."""
    spaces = list(dict.fromkeys(k for e in result["budgets"].values() for k in e.get("space_medians", {})))
    if not spaces:
        return []
    lines = ["", "## Median error per space (%)", "", "| budget | " + " | ".join(spaces) + " |",
             "|" + "---|" * (1 + len(spaces))]
    for b, e in result["budgets"].items():
        med = e.get("space_medians", {})
        lines.append(f"| {b} | " + " | ".join(_f(med.get(sp), ".1f") for sp in spaces) + " |")
    return lines


def figure(result: dict, cfg: CalibrationConfig, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(b, e) for b, e in result["budgets"].items() if "fidelity" in e]
    drawn: list = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    if not rows:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0.5, 0.5, "no budget has both its own and the reference's trials yet", ha="center")
    for b, e in rows:
        cost = e["core_seconds_per_model"]
        fid = e["fidelity"]
        lo, hi = fid["spearman_within_ci"]
        rho = fid["spearman_within"]
        axes[0].errorbar([cost], [rho], yerr=[[rho - lo], [hi - rho]], fmt="o", capsize=4, ms=7, label=b)
        hours = e["decide"][f"{cfg.decision.effects[0]:g}"]["reference_points"]["core_hours"]
        if hours and hours > 0 and cost > 0 and math.isfinite(hours):
            axes[1].scatter([cost], [hours], s=60, label=b)
            axes[1].annotate(b, (cost, hours), textcoords="offset points", xytext=(5, 5), fontsize=10)
            drawn.append(hours)
    axes[0].axhline(cfg.decision.fidelity_bar, color="#999", ls=":", label=f"bar {cfg.decision.fidelity_bar:g}")
    axes[0].set(xlabel="core-seconds per model", ylabel="within-space Spearman to the reference",
                title="rank fidelity against cost")
    finite = [e for _, e in rows if math.isfinite(e["fidelity"]["spearman_within"]) and e["core_seconds_per_model"] > 0]
    if finite and len(finite) == len(rows):  # a log axis needs every point positive and drawn
        axes[0].set_xscale("log")
    axes[0].legend(fontsize=9)
    if drawn:
        axes[1].set(xscale="log", yscale="log", xlabel="core-seconds per model",
                    ylabel=f"core-hours to decide {cfg.decision.effects[0]:g} pt",
                    title="compute to decide against cost")
    else:
        axes[1].axis("off")
        axes[1].text(0.5, 0.5, "no budget has a compute-to-decide figure yet", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
