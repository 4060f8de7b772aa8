"""Judging a schema-2 suite: seed-free intervals, paired and complexity-controlled where the arms
call for it, learning failures counted, multiplicity applied across parts and claims.

For each part: its arms' models -> (did-not-learn flags, pairing, complexity control) -> an
`Interval` from designspace.stats -> the p-value of the verdict the data point to. Once every claim
is judged, the p-values are adjusted (within each claim, then across the suite), and a part is
decided when its adjusted p-value is at most alpha = (1 - level) / 2. A bootstrap interval whose
Monte-Carlo band straddles its line at the adjusted level reads "not resolved (borderline)".
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..stats import best_of, rank, resample
from ..stats import intervals as iv
from ..stats.decisions import CONTRADICTED, HOLDS, NOT_RESOLVED, adjust_suite, borderline, decision_pvalue, rule
from ..stats.ks import distance_interval as ks_distance_interval
from ..stats.ks import ks_2samp, ks_distance_rows
from .rules import POINT_STATISTICS
from .statistics import MIN_MODELS, NOT_RUN, STATISTICS, _best_of_m_rows, combine, not_plannable, rule_text

CLASSES = {"fashion-mnist": 10, "cifar10": 10}
TWO_ARM = ("median_diff", "mean_diff", "quantile_diff", "mean_ratio", "paired_median_diff")
MIN_PAIRED_SHARE = 0.5  # arms sharing at least this share of the smaller arm's architectures are paired
_CHUNK = 2000  # bootstrap replicates drawn at once (both arms): bounds memory; part of the seeded draw order


# --- arms -------------------------------------------------------------------------------------------
def classes_of(sweep_cfg: dict) -> int | None:
    dataset = sweep_cfg.get("dataset") or {}
    name = dataset if isinstance(dataset, str) else dataset.get("name")
    if name == "synthetic":
        return int(dataset.get("num_classes", 10)) if isinstance(dataset, dict) else 10
    return CLASSES.get(name)


def did_not_learn(frame: pd.DataFrame, classes: int | None, margin: float) -> np.ndarray:
    """Per model: final train loss >= ln(classes), or error within `margin` points of chance."""
    if not classes or frame.empty:
        return np.zeros(len(frame), bool)
    chance = 100.0 * (1.0 - 1.0 / classes)
    err = pd.to_numeric(frame["error"], errors="coerce").to_numpy(np.float64)
    loss = pd.to_numeric(frame.get("train_loss", pd.Series(np.nan, index=frame.index)), errors="coerce")
    loss = loss.to_numpy(np.float64)
    return (err >= chance - margin) | (np.nan_to_num(loss, nan=-np.inf) >= math.log(classes))


def _architecture_keys(frame: pd.DataFrame, ignore) -> list[str]:
    from .judge import architecture_key

    return [architecture_key(t, ignore) for t in frame["spec"].astype(str)]


def _default_ignore(part) -> tuple:
    """The option keys that may define arms: the part's own `ignore`, else every family option key."""
    if part.params.get("ignore"):
        return tuple(part.params["ignore"])
    from ..registry import known_keys

    return tuple(known_keys())


def pair_arms(frames: dict, names: tuple, ignore) -> tuple[dict | None, dict, dict]:
    """Match arms `names` (two of them) model to model by architecture.

    Returns (aligned {name: row positions} when at least MIN_PAIRED_SHARE of the smaller arm's
    architectures are in both, else None; positions kept per arm for an unpaired comparison, with
    shared architectures dropped from the larger arm so the arms are disjoint; a description)."""
    a, b = names
    keys = {k: pd.Series(range(len(frames[k])), index=_architecture_keys(frames[k], ignore)) for k in names}
    keys = {k: s[~s.index.duplicated()] for k, s in keys.items()}
    common = keys[a].index.intersection(keys[b].index, sort=False)
    smaller = min(len(keys[a]), len(keys[b])) or 1
    share = len(common) / smaller
    info = {"shared_architectures": int(len(common)), "share_of_smaller_arm": round(share, 3)}
    if len(common) and share >= MIN_PAIRED_SHARE:
        info["design"] = f"paired: {len(common)} architectures in both arms, compared model to model"
        return {k: keys[k].loc[common].to_numpy() for k in names}, {}, info
    keep = {k: np.arange(len(frames[k])) for k in names}
    if len(common):
        larger = a if len(keys[a]) >= len(keys[b]) else b
        drop = set(keys[larger].loc[common].to_numpy())
        keep[larger] = np.array([i for i in keep[larger] if i not in drop], int)
        info["design"] = (f"unpaired: {len(common)} shared architectures (under {MIN_PAIRED_SHARE:.0%} of the smaller "
                          f"arm) dropped from arm {larger} so the arms are independent samples")
    else:
        info["design"] = "unpaired: the arms share no architecture"
    return None, keep, info


def _pooled_slope(values: dict, logc: dict, clusters: dict | None = None) -> tuple[float, float, int]:
    """(beta, its standard error, its degrees of freedom): the least-squares slope of value on log
    complexity within each arm (each arm centred on its own means), pooled over the arms.

    clusters ({arm: a label per row}, rows sharing a label being one architecture in several arms):
    the rows of a cluster share that architecture's effect, so they are not independent; the standard
    error is then the cluster-robust one (CR1: G / (G - 1) * sum_g (sum_{i in g} x_i r_i)^2 / Sxx^2)
    with G - 1 degrees of freedom (Cameron & Miller 2015), not the OLS one, which counts a pair twice."""
    xs, ys, gs = [], [], []
    for k in values:
        ok = np.isfinite(logc[k]) & np.isfinite(values[k])
        xs.append(logc[k][ok] - logc[k][ok].mean())
        ys.append(values[k][ok] - values[k][ok].mean())
        if clusters is not None:
            gs.append(np.asarray(clusters[k])[ok])
    x, y = np.concatenate(xs), np.concatenate(ys)
    sxx = float((x * x).sum())
    beta = float((x * y).sum() / sxx) if sxx > 0 else 0.0
    resid = y - beta * x
    if clusters is None:
        dof = max(len(x) - len(values) - 1, 1)
        return beta, (math.sqrt(float((resid * resid).sum()) / dof / sxx) if sxx > 0 else 0.0), dof
    labels, index = np.unique(np.concatenate(gs), return_inverse=True)
    g = len(labels)
    scores = np.bincount(index, weights=x * resid, minlength=g)
    var = g / max(g - 1, 1) * float((scores * scores).sum()) / (sxx * sxx) if sxx > 0 else 0.0
    return beta, math.sqrt(var), max(g - 1, 1)


def pair_parts(name: str, part, frames: dict, values: dict) -> tuple[dict, list]:
    """Pair the arms of a two-arm part ((a, b)) or an interaction ((a, b) and (c, d)) as pair_arms
    finds them: ({arm: row order} of the arms paired model to model, [pairing info per pair]). Arms
    that do not pair lose their shared architectures in place (frames and values), so they stay
    independent samples."""
    pairs = [("a", "b")] if name in TWO_ARM else [("a", "b"), ("c", "d")]
    aligned_all, infos = {}, []
    for names in pairs:
        aligned, keep, info = pair_arms(frames, names, _default_ignore(part))
        infos.append(info)
        if aligned is not None:
            aligned_all.update({k: aligned[k] for k in names})
        else:
            for k in names:
                frames[k] = frames[k].iloc[keep[k]].reset_index(drop=True)
                values[k] = values[k][keep[k]]
    return aligned_all, infos


def complexity_adjust(values: dict, frames: dict, rules, paired: bool, pairs=None) -> tuple[dict, dict]:
    """Error at equal complexity when the arms' complexity differs by more than the declared ratio
    (rules.complexity). Unpaired arms: their median complexity's ratio; each model's error - beta *
    (log c - pooled mean log c). Paired arms (values and frames aligned model to model; `pairs` the arm
    names matched, default a with b and c with d): the median over pairs of c_a / c_b, always
    recorded, with a warning when it is over the rule; under `paired: adjust` each pair's difference
    becomes (a - b) - beta * (log c_a - log c_b). Returns (values, info)."""
    ctl = rules.complexity
    col = ctl.column
    if ctl.method == "none" or any(col not in f for f in frames.values()):
        return values, {}
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = {k: np.log(pd.to_numeric(frames[k][col], errors="coerce").to_numpy(np.float64)) for k in values}
    if any((np.isfinite(logc[k]) & np.isfinite(values[k])).sum() < 3 for k in values):
        return values, {}
    medians = {k: float(np.exp(np.nanmedian(v))) for k, v in logc.items()}
    if paired:
        return _paired_adjust(values, logc, medians, ctl, pairs or [p for p in (("a", "b"), ("c", "d"))
                                                                    if set(p) <= set(values)])
    ratio = max(medians.values()) / max(min(medians.values()), 1e-300)
    info = {"column": col, "medians": medians, "ratio": round(ratio, 3), "max_ratio": ctl.max_ratio}
    if ratio <= ctl.max_ratio:
        info["applied"] = False
        return values, info
    beta, se_beta, dof = _pooled_slope(values, logc)
    centre = float(np.nanmean(np.concatenate(list(logc.values()))))
    adjusted = {k: values[k] - beta * (logc[k] - centre) for k in values}
    info.update(applied=True, beta=beta, se_beta=se_beta, dof=dof, centre_log=centre,
                mean_log={k: float(np.nanmean(v)) for k, v in logc.items()},
                method=f"error compared at equal log {col}: pooled within-arm slope {beta:.3g} points per unit "
                       f"log {col} (se {se_beta:.2g}, added to the interval)")
    return adjusted, info


def _paired_adjust(values: dict, logc: dict, medians: dict, ctl, pairs) -> tuple[dict, dict]:
    """complexity_adjust for arms aligned pair by pair. Each arm's value moves by beta * (its log c -
    the pair's mean log c), so each pair's difference moves by beta * (log c_a - log c_b)."""
    col = ctl.column
    ratio = max(float(np.exp(abs(np.nanmedian(logc[a] - logc[b])))) for a, b in pairs)
    info = {"column": col, "medians": medians, "ratio": round(ratio, 3), "max_ratio": ctl.max_ratio,
            "paired": ctl.paired, "ratio_of": f"median over model pairs of {col} a / {col} b"}
    if ratio <= ctl.max_ratio:
        info["applied"] = False
        return values, info
    if ctl.paired == "report":
        info.update(applied=False, warning=f"the paired arms' {col} differ: median pair ratio {ratio:.3g} > "
                                           f"{ctl.max_ratio:g}; raw paired differences compared, not controlled "
                                           f"for {col} (complexity.paired: report)")
        return values, info
    clusters = {k: np.arange(len(values[k])) + j * 1_000_000 for j, pair in enumerate(pairs) for k in pair}
    beta, se_beta, dof = _pooled_slope(values, logc, clusters)
    adjusted = dict(values)
    for a, b in pairs:
        mid = (logc[a] + logc[b]) / 2.0
        adjusted[a] = values[a] - beta * (logc[a] - mid)
        adjusted[b] = values[b] - beta * (logc[b] - mid)
    info.update(applied=True, beta=beta, se_beta=se_beta, dof=dof,
                centre_log=float(np.nanmean(np.concatenate(list(logc.values())))),
                mean_log={k: float(np.nanmean(v)) for k, v in logc.items()},
                method=f"each pair's difference minus beta x (log {col} a - log {col} b): pooled within-arm slope "
                       f"{beta:.3g} points per unit log {col} (se {se_beta:.2g}, clustered by pair; added to the "
                       "interval)")
    return adjusted, info


def complexity_control(name: str, values: dict, frames: dict, rules, paired: bool) -> tuple[dict, dict, float, int]:
    """complexity_adjust for statistic `name`, with the standard error the estimated slope adds to the
    statistic: |sum_k c_k mean log c_k| * se(beta) over the statistic's arm coefficients c_k (they sum
    to 0, so the centre cancels). Returns (values, info, extra_se, the slope's degrees of freedom)."""
    pairs = None
    if paired:
        pairs = [("a", "b")] if name in TWO_ARM else [("a", "b"), ("c", "d")]
        if name == "mean_ratio" and rules.complexity.paired == "adjust":
            # a ratio's interval is on the log scale, where the slope's error (in points) cannot be added:
            # its arms' complexity is recorded and warned about, not adjusted
            rules = rules.model_copy(update={"complexity": rules.complexity.model_copy(update={"paired": "report"})})
    values, cx = complexity_adjust(values, frames, rules, paired, pairs)
    if not cx.get("applied"):
        return values, cx, 0.0, 0
    coefs = {"a": 1, "b": -1} if name in TWO_ARM else {"a": 1, "b": -1, "c": -1, "d": 1}
    contrast = sum(c * (cx["mean_log"][k] - cx["centre_log"]) for k, c in coefs.items())
    return values, cx, abs(contrast) * cx["se_beta"], cx["dof"]


# --- intervals ----------------------------------------------------------------------------------------
def _with_extra_se(interval: iv.Interval, extra_se: float, extra_df: int = 0) -> iv.Interval:
    """An interval widened by an independent error (the complexity slope's, with `extra_df` degrees of
    freedom). A normal interval: its standard error and the extra one added in quadrature. An exact
    order-statistic interval (paired arms): each half-width combined with the extra term's t half-width
    in quadrature (MOVER, Zou & Donner 2008), which keeps the intervals nested in their level."""
    se = interval.extra.get("se")
    if not extra_se:
        return interval
    est = interval.estimate
    if se is not None:
        total = math.sqrt(se * se + extra_se * extra_se)
        df = interval.extra.get("df", math.inf)
        t = lambda level: float(_st.t.ppf((1 + level) / 2, df))  # noqa: E731
        return iv.Interval(est, lambda level: (est - t(level) * total, est + t(level) * total),
                           interval.method + "; complexity slope's uncertainty added", interval.n,
                           extra={**interval.extra, "se": total})
    if interval.mc_band is not None or "se_log" in interval.extra or extra_df < 1:
        return interval  # a bootstrap or a ratio: not on the scale of the slope's error

    def at(level):
        lo, hi = interval.bounds(level)
        w = float(_st.t.ppf((1 + level) / 2, extra_df)) * extra_se
        return est - math.hypot(max(est - lo, 0.0), w), est + math.hypot(max(hi - est, 0.0), w)

    return iv.Interval(est, at, interval.method + "; complexity slope's uncertainty added (MOVER)", interval.n,
                       extra={**interval.extra, "extra_se": extra_se})


def part_interval(name: str, values: dict, params: dict, paired: bool, rng, resamples: int, extra_se: float = 0.0,
                  extra_df: int = 0, seed_free: bool = False) -> iv.Interval:
    """The interval of statistic `name` on arm values (aligned by pairs when paired), widened by an
    independent error `extra_se` with `extra_df` degrees of freedom (complexity_control's) if given.
    seed_free (schema 3): best_of_m_diff and ks take their seed-free intervals instead of a bootstrap."""
    return _with_extra_se(_part_interval(name, values, params, paired, rng, resamples, seed_free), extra_se,
                          extra_df)


def _part_interval(name: str, values: dict, params: dict, paired: bool, rng, resamples: int,
                   seed_free: bool = False) -> iv.Interval:
    a, b = values.get("a"), values.get("b")
    if seed_free and name == "best_of_m_diff":
        return best_of.diff_interval(a, b, int(params["m"]))
    if seed_free and name == "ks":
        return ks_distance_interval(a, b)
    if name in ("median_diff", "paired_median_diff"):
        return iv.quantile_interval(a - b, 0.5) if paired else \
            iv.linear_quantile_interval({"a": a, "b": b}, {"a": 1, "b": -1})
    if name == "quantile_diff":
        q = float(params["q"])
        return iv.quantile_interval(a - b, q) if paired else \
            iv.linear_quantile_interval({"a": a, "b": b}, {"a": 1, "b": -1}, q)
    if name == "mean_diff":
        return iv.mean_interval(a - b) if paired else iv.welch_interval(a, b)
    if name == "mean_ratio":
        return iv.ratio_interval(a, b, paired=paired)
    if name == "interaction":
        if paired:  # (a - b) and (c - d) each paired: their medians' difference, independent pair sets
            return iv.linear_quantile_interval({"ab": values["ab"], "cd": values["cd"]}, {"ab": 1, "cd": -1})
        return iv.linear_quantile_interval(values, {"a": 1, "b": -1, "c": -1, "d": 1})
    if name == "median":
        return iv.quantile_interval(a, 0.5)
    if name == "mean":
        return iv.mean_interval(a)
    if name == "slope":
        x, y = a
        if params.get("log"):
            with np.errstate(invalid="ignore", divide="ignore"):
                x, y = np.log(x), np.log(y)
        return iv.slope_interval(x, y)
    if name == "spearman":
        return rank.spearman_interval(*a)
    return _bootstrap(name, values, params, rng, resamples)


def _bootstrap(name, values, params, rng, resamples) -> iv.Interval:
    """std_diff (and, before schema 3, ks and best_of_m_diff): a percentile bootstrap with its MC error."""
    a, b = (np.asarray(values[k], np.float64) for k in ("a", "b"))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = {"a": int(a.size), "b": int(b.size)}
    if not (a.size and b.size):
        return iv.Interval(float("nan"), lambda level: (float("nan"), float("nan")), "", n)
    if name == "ks":
        kernel = ks_distance_rows
    elif name == "best_of_m_diff":
        m = float(params["m"])
        kernel = lambda x, y: _best_of_m_rows(x, m) - _best_of_m_rows(y, m)  # noqa: E731
    else:  # std_diff
        kernel = lambda x, y: x.std(axis=-1, ddof=1) - y.std(axis=-1, ddof=1)  # noqa: E731
    est = float(kernel(a[None], b[None])[0])
    reps = np.concatenate([kernel(a[ia], b[ib]) for ia, ib in resample.chunks(rng, (a.size, b.size), resamples,
                                                                               chunk=_CHUNK)])
    out = iv.bootstrap_interval(est, reps, n, "over models, arms resampled independently")
    if name == "ks":
        out.extra["pvalue"] = float(ks_2samp(a, b).pvalue)
    return out


# --- one part, before multiplicity -------------------------------------------------------------------
def measure_part(stores, claim, index: int, part, seed: tuple) -> dict:
    """A part's interval and raw decision p-value (verdict pending the suite's adjustment)."""
    from .judge import arm_frame, left_out

    suite = stores.suite
    rules = suite.rules
    stat = STATISTICS[part.statistic]
    out = {"name": part.name, "statistic": part.statistic, "describe": stat.describe, "expect": part.expect,
           "ref": part.ref, "margin": part.margin, "params": {k: (list(v) if isinstance(v, tuple) else v)
                                                              for k, v in part.params.items()},
           "rule": rule_text(part.expect, part.ref, part.margin), "note": part.note,
           "arms": {k: a.describe() for k, a in part.arms.items()}, "effect_of_interest": effect_of_interest(part,
                                                                                                          rules)}
    frames, missing = {}, []
    for name, arm in part.arms.items():
        derived = any(part.params.get(k) in ("e_fit", "d", "b", "g", "w0", "wa", "wm") for k in ("x", "y"))
        frame, why = arm_frame(stores, arm, trials=part.statistic == "std_diff", derived=derived)
        if frame is None:
            missing += why
        else:
            frames[name] = frame.reset_index(drop=True)
    if missing:
        out.update(verdict=NOT_RUN, missing=[f"missing: {m} for claim {claim.id}" for m in dict.fromkeys(missing)])
        return out
    learn = {k: did_not_learn(f, classes_of(suite.sweeps[part.arms[k].sweeps[0]]), rules.learning.chance_margin)
             for k, f in frames.items()}
    out["did_not_learn"] = {k: int(v.sum()) for k, v in learn.items()}
    warnings = [w for w in (left_out(stores, a) for a in part.arms.values()) if w]
    primary = _measure(part, frames, learn, exclude=not rules.learning.keep, seed=seed,
                       resamples=suite.resamples, rules=rules)
    out.update(primary)
    out["effect"]["warnings"] = warnings + out["effect"]["warnings"]
    if any(out["did_not_learn"].values()):
        other = _measure(part, frames, learn, exclude=rules.learning.keep, seed=seed, resamples=suite.resamples,
                         rules=rules)
        out["learning_sensitivity"] = {"models": "excluded" if rules.learning.keep else "kept",
                                       "effect": other["effect"], "p_value": other["p_value"],
                                       "direction": other["direction"], "_interval": other["_interval"]}
    if part.statistic == "interaction":
        chance_near = [k for k, f in frames.items() if len(f) and np.median(learn[k]) >= 0.5]
        if chance_near:
            out["effect"]["warnings"].append(f"arms {', '.join(chance_near)} sit at the ceiling (most models did not "
                                             "learn): the interaction measures a floor effect, not the design")
    return out


def effect_of_interest(part, rules) -> float | None:
    if part.effect is not None:
        return part.effect
    in_points = part.statistic in POINT_STATISTICS and all(a.value == "error" for a in part.arms.values())
    return rules.power.effect if in_points else None


def _measure(part, frames, learn, exclude: bool, seed: tuple, resamples: int, rules) -> dict:
    """The interval and raw p-value on the arms, with non-learners excluded or kept."""
    frames = {k: f[~learn[k]].reset_index(drop=True) if exclude else f for k, f in frames.items()}
    name = part.statistic
    params = part.params
    design: dict = {}
    paired = False
    value = {k: part.arms[k].value for k in frames}
    col = lambda f, c: pd.to_numeric(f[c], errors="coerce").to_numpy(np.float64)  # noqa: E731
    if name in ("slope", "spearman"):
        f = frames["a"]
        values = {"a": (col(f, params["x"]), col(f, params["y"]))}
    else:
        values = {k: col(f, value[k]) for k, f in frames.items()}
    warnings: list = []
    if rules.pairing == "auto" and (name in TWO_ARM or name == "interaction"):
        aligned_all, infos = pair_parts(name, part, frames, values)
        paired = len(aligned_all) == 4 if name == "interaction" else bool(aligned_all)
        if paired:  # values and frames aligned model to model
            values = {k: values[k][aligned_all[k]] for k in values}
            frames = {k: frames[k].iloc[aligned_all[k]].reset_index(drop=True) for k in frames}
        design["pairing"] = infos if len(infos) > 1 else infos[0]
    elif name == "paired_median_diff":  # schema 1's explicit pairing, kept for pairing: none
        from .judge import paired_values

        values, _ = paired_values(frames, part.arms, part.params.get("ignore", ()))
        paired = True
        frames = None  # no aligned frames: complexity is not examined on this path
    extra_se, extra_df = 0.0, 0
    if name in TWO_ARM + ("interaction",) and frames is not None and all(v == "error" for v in value.values()):
        values, cx, extra_se, extra_df = complexity_control(name, values, frames, rules, paired)
        if cx:
            design["complexity"] = cx
            if cx.get("warning"):
                warnings.append(cx["warning"])
    if paired and name == "interaction":  # (a - b) and (c - d), each over its own pairs
        values = {"ab": values["a"] - values["b"], "cd": values["c"] - values["d"]}
    rng = np.random.default_rng(list(seed))
    interval = part_interval(name, values, params, paired, rng, resamples, extra_se, extra_df, rules.seed_free)
    direction, p = decision_pvalue(interval, part.expect, part.ref, part.margin)
    unit = "model pairs" if paired else ("trials" if name == "std_diff" else "models")
    n = {k: int(np.size(v) if not isinstance(v, tuple) else np.size(v[0])) for k, v in values.items()}
    effect = {"statistic": name, "estimate": interval.estimate, "n": n, "unit": unit, "method": interval.method,
              "extra": {k: v for k, v in interval.extra.items() if isinstance(v, (int, float))}, "warnings": warnings}
    return {"effect": effect, "design": design, "paired": paired, "p_value": p, "direction": direction,
            "_interval": interval}


# --- the suite ---------------------------------------------------------------------------------------------
def finish_part(out: dict, p_adjusted: float, level: float, alpha: float, part=None, target: float = 0.8,
                seed_free: bool = False) -> dict:
    """Verdict from the adjusted p-value; intervals at the stated and at the adjusted level."""
    interval = out.pop("_interval")
    lo, hi = interval.bounds(level)
    out["effect"].update(lo=lo, hi=hi, level=level)
    out["p_adjusted"] = p_adjusted
    factor = (out["p_value"] / p_adjusted) if p_adjusted > 0 else 1.0
    level_adj = 1.0 - 2.0 * alpha * factor
    out["level_adjusted"] = level_adj
    out["interval_adjusted"] = list(interval.bounds(level_adj))
    if interval.mc_band is not None:  # a bootstrap: where another seed could put each endpoint
        out["effect"]["mc_band"] = mc_band(interval, level)
        out["mc_band_adjusted"] = mc_band(interval, level_adj)
    small = {k: n for k, n in out["effect"]["n"].items() if n < MIN_MODELS}
    if small:
        out.update(verdict=NOT_RUN, missing=[f"too few {out['effect']['unit']} in arm {k} ({n} < {MIN_MODELS})"
                                             for k, n in small.items()])
        return out
    decided = p_adjusted <= alpha
    out["verdict"] = out["direction"] if decided else NOT_RESOLVED
    if borderline(interval, level_adj, out["expect"], out["ref"], out["margin"]):
        out["verdict"], out["borderline"] = NOT_RESOLVED, True
    if out["verdict"] == NOT_RESOLVED:
        out["models_needed"] = models_needed(interval, out, alpha * factor, target, seed_free)
        if out["models_needed"] is None:
            out["models_needed_reason"] = not_plannable(out["statistic"], seed_free) or \
                "no effect of interest, or no standard error to scale"
    sens = out.get("learning_sensitivity")
    if sens:
        s_int = sens.pop("_interval")
        s_adj = min(1.0, sens["p_value"] / factor) if factor > 0 else sens["p_value"]
        sens["effect"].update(dict(zip(("lo", "hi"), s_int.bounds(level))), level=level)
        sens["p_adjusted"] = s_adj
        sens["verdict"] = sens["direction"] if s_adj <= alpha else NOT_RESOLVED
    return out


def mc_band(interval: iv.Interval, level: float) -> dict:
    """A bootstrap interval's endpoints at `level` with the Monte-Carlo band of each: the range another
    resampling seed would put it in (about 3 binomial standard deviations of its replicate rank)."""
    (lo_lo, lo_hi), (hi_lo, hi_hi) = interval.mc_band(level)
    return {"lo": [float(lo_lo), float(lo_hi)], "hi": [float(hi_lo), float(hi_hi)], "z": iv.MC_Z,
            "resamples": interval.extra.get("resamples")}


def models_needed(interval: iv.Interval, out: dict, alpha_part: float, target: float,
                  seed_free: bool = False) -> dict | None:
    """Models per arm to decide the part's effect of interest with probability `target` at its
    adjusted level, scaling the interval's standard error as 1/sqrt(n) (normal approximation)."""
    effect = out.get("effect_of_interest")
    if not effect or not_plannable(out["statistic"], seed_free):
        return None
    lo, hi = interval.bounds(0.6827)  # +-1 se for a normal interval
    se = (hi - lo) / 2.0
    n_now = min(out["effect"]["n"].values()) if out["effect"]["n"] else 0
    if not (np.isfinite(se) and se > 0 and n_now):
        return None
    z = float(_st.norm.ppf(1 - alpha_part)) + float(_st.norm.ppf(target))
    if out["statistic"] == "mean_ratio":
        effect = math.log1p(effect)  # a ratio's effect on the log scale, where its interval is normal
        se = se / max(interval.estimate, 1e-12)
    n = int(math.ceil(n_now * (z * se / effect) ** 2))
    return {"per_arm": max(n, MIN_MODELS), "effect": out["effect_of_interest"], "power": target,
            "method": "standard error scaled as 1/sqrt(n) from this run's interval, normal approximation, "
                      "at the part's adjusted level"}


def judge_suite(stores, claims, seed: int, alpha: float | None = None) -> list:
    """Every selected claim judged under the suite's rules (schema 2). alpha: the one-sided level a
    part is decided at (default (1 - level) / 2; a sequential look passes its spent level). A claim
    whose parts all wait for data (a missing or incomplete sweep) counts in the suite-level family
    with p = 1; one skipped at this tier does not."""
    suite = stores.suite
    rules = suite.rules
    alpha = (1.0 - suite.level) / 2.0 if alpha is None else alpha
    results, raw = [], []
    for claim in claims:
        entry = {"id": claim.id, "text": claim.text, "figure": claim.figure, "note": claim.note,
                 "sweeps": claim.sweeps()}
        if claim.skip:
            entry.update(verdict=NOT_RUN, skip=claim.skip, parts=[], missing=[f"not run at this tier: {claim.skip}"])
        else:
            entry["parts"] = [measure_part(stores, claim, i, p, (seed, claim.id, i))
                              for i, p in enumerate(claim.parts)]
        results.append(entry)
        parts = entry.get("parts", [])
        if parts and all(p.get("verdict") == NOT_RUN for p in parts):
            # its data are missing or still coming: it stays in the suite's family with p = 1, so that
            # the claims judged now face the family the suite declared, never a smaller one
            raw.append([1.0])
            continue
        raw.append([p.get("p_value", np.nan) if p.get("verdict") != NOT_RUN else np.nan for p in parts])
    adjusted = adjust_suite(raw, rules.multiplicity.parts, rules.multiplicity.claims)
    for entry, adj in zip(results, adjusted):
        for part, p_adj in zip(entry.get("parts", []), adj):
            if part.get("verdict") == NOT_RUN:
                continue
            finish_part(part, float(p_adj), suite.level, alpha, target=rules.power.target, seed_free=rules.seed_free)
        if "parts" in entry and not entry.get("skip"):
            entry["verdict"] = combine([p["verdict"] for p in entry["parts"]])
            entry["missing"] = list(dict.fromkeys(m for p in entry["parts"] for m in p.get("missing", [])))
    return results


__all__ = ["judge_suite", "measure_part", "finish_part", "pair_arms", "complexity_adjust", "complexity_control",
           "did_not_learn",
           "HOLDS", "CONTRADICTED", "rule"]
