"""Every figure's data from an analysis's tables: plain arrays per panel and group, a title and a
caption filled from the data; or, where the data cannot fill a figure, the sentence that says what
is missing (a view shows it instead of empty axes). Drawing is designspace.plots' job."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..stats.intervals import describe_interval
from .result import FigureData, Panel, Series, Settings

PARAM_LABELS = {"d": "depth d (blocks)", "b": "bottleneck ratio b", "g": "group width g",
                "w0": "initial width w0", "wa": "width slope wa", "wm": "width multiplier wm"}
TITLES = {
    "edf": "Error EDFs", "edf_normalized": "Complexity-normalized EDFs", "top_widths": "Widths of the best models",
    "efit": "e_fit against error", "trends_error": "Error against design parameters",
    "trends_best": "Best models against flops", "complexity": "Complexity relations of the best models",
    "search": "Random-search efficiency", "fidelity": "Proxy fidelity",
}
# the tables behind each figure (written as CSV beside the report)
TABLES = {
    "edf": ("edf_bands",), "edf_normalized": ("edf_normalized_bands",), "top_widths": ("top_models",),
    "efit": ("models",), "trends_error": ("trend_bins", "trend_bands"), "trends_best": ("best_bands",),
    "complexity": ("models", "complexity_fits", "best_models"), "search": ("search",),
    "fidelity": ("fidelity_pairs", "fidelity_correlation"),
}
MAX_PANELS = 9  # one panel per population: at most this many
BEST_BAND_MIN_MODELS = 8  # trends.best_model_bands' default: models of a space a flops bin needs
BEST_BAND_BINS = 6


def order(names) -> list[str]:
    """Groups in the paper's order (AnyNetXA..E, RegNetX, RegNetY), others after, alphabetically."""
    canonical = ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"]
    names = [str(n) for n in pd.unique(pd.Series(names, dtype=object))]
    known = [n for n in canonical if n in names]
    return known + sorted(n for n in names if n not in known)


def _groups(df: pd.DataFrame, keys) -> dict:
    return dict(iter(df.groupby(keys, sort=False))) if len(df) else {}


def _arrays(df: pd.DataFrame, columns) -> dict:
    return {c: df[c].to_numpy() for c in columns if c in df}


def build_figures(t: dict, s: Settings, by: str, bins: dict | None, normalize: str | None,
                  fidelity_missing: str | None = None) -> list[FigureData]:
    """FigureData for every figure of the report, in its order (fidelity only where two budgets are
    compared)."""
    n_of = t["ranking"].set_index(by)["n"].to_dict()
    builders = figure_builders(s, by, n_of, bins, normalize, fidelity_missing, fidelity="fidelity_pairs" in t)
    return [build(t) for _, build in builders.values()]


def figure_builders(s: Settings, by: str, n_of: dict, bins: dict | None, normalize: str | None,
                    fidelity_missing: str | None = None, fidelity: bool = False) -> dict:
    """{figure name: (the tables it needs, build(tables) -> FigureData)}, in the report's order: so
    that a caller holding only some tables (an analysis whose parts finish one by one) can build
    each figure as soon as its tables exist. n_of: models per population."""
    lvl = f"{s.level:.0%}"
    boot = {unit: describe_interval("percentile bootstrap", s.level, s.n_boot, unit, s.seed)
            for unit in ("models", "model pairs")}
    out = {
        "edf": (("edf_bands",), lambda t: edf_figure(
            "edf", t["edf_bands"], by, n_of, "Error EDF (models)",
            f"Empirical distribution of the top-1 error of the models of each population (n in the legend; "
            f"repeated trainings of a model averaged into one), with a pointwise band: at each error, the "
            f"{boot['models']}. Higher and further left is better.")),
        "edf_normalized": (("edf_normalized_bands",) if normalize is not None and bins is not None
                           and bins["num_bins"] >= 2 else (),
                           lambda t: _normalized(t, s, by, n_of, bins, normalize)),
        "top_widths": (("top_models",), lambda t: top_widths_figure(t["top_models"], by)),
        "efit": (("models",), lambda t: efit_figure(t["models"], by, s.efit)),
        "trends_error": (("trend_bins", "trend_bands"),
                         lambda t: trends_error_figure(t["trend_bins"], t["trend_bands"], by, lvl)),
        "trends_best": (("best_bands", "models"), lambda t: trends_best_figure(t["best_bands"], t["models"], by, lvl)),
        "complexity": (("models", "complexity_fits", "best_models"),
                       lambda t: complexity_figure(t["models"], t["complexity_fits"], t["best_models"], by)),
        "search": (("search",), lambda t: search_figure(t["search"], by, lvl)),
    }
    if fidelity:
        out["fidelity"] = (("fidelity_pairs", "fidelity_correlation"),
                           lambda t: fidelity_figure(t["fidelity_pairs"], t["fidelity_correlation"], lvl,
                                                     interval=boot["model pairs"]))
    elif fidelity_missing:
        out["fidelity"] = ((), lambda t: FigureData("fidelity", TITLES["fidelity"], "", TABLES["fidelity"],
                                                    missing=fidelity_missing))
    return out


def edf_figure(name: str, bands: pd.DataFrame, by: str, n_of: dict, title: str, caption: str,
               value: str = "error") -> FigureData:
    of = _groups(bands, by)
    series = tuple(Series(g, int(n_of.get(g, 0)), _arrays(of[g], (value, "cdf", "lo", "hi"))) for g in order(bands[by]))
    if not any(s.n >= 2 for s in series):
        return FigureData(name, TITLES[name], caption, TABLES[name],
                          missing="An EDF needs at least 2 models of a population; every population here has one.")
    panel = Panel(name, title, "error (%)", "cumulative probability", series)
    return FigureData(name, TITLES[name], caption, TABLES[name], (panel,))


def _normalized(t, s: Settings, by, n_of, bins, normalize) -> FigureData:
    name = "edf_normalized"
    if s.normalize == "none":
        return FigureData(name, TITLES[name], "", TABLES[name],
                          missing="Not drawn: this analysis ran without complexity normalization (--normalize none).")
    if normalize is None or bins is None:
        return FigureData(name, TITLES[name], "", TABLES[name],
                          missing=f"Not drawn: the populations share no {s.normalize} range in which every one of "
                                  f"them has a model, so no bin weights exist (see the warnings).")
    lo, hi = bins["bin_range"]
    if bins["num_bins"] < 2:
        counts = ", ".join(f"{k}: {int(v)}" for k, v in n_of.items())
        return FigureData(name, TITLES[name], "", TABLES[name],
                          missing=f"Not drawn: with one {normalize} bin the normalized EDF is the plain one. Two bins "
                                  f"of the common range [{lo:.4g}, {hi:.4g}] need at least {s.min_per_bin} models of "
                                  f"every population in each (--min-per-bin); models per population: {counts}.")
    caption = (f"As above, with every model weighted so that each complexity bin counts equally (nds): "
               f"{bins['num_bins']} equal-width {normalize} bins over the populations' common range "
               f"[{lo:.4g}, {hi:.4g}], at least {s.min_per_bin} models of every population per bin. Bootstrap "
               f"replicates recompute the weights.")
    return edf_figure(name, t["edf_normalized_bands"], by, n_of, "Complexity-normalized error EDF", caption)


def block_widths(widths, depths) -> list[list[float]]:
    """Per-stage widths and depths (lists, or JSON text as in a CSV) -> each model's per-block widths."""
    def as_list(v):
        return json.loads(v) if isinstance(v, str) else list(v)

    return [np.repeat(np.asarray(as_list(w), np.float64), np.asarray(as_list(d), np.int64)).tolist()
            for w, d in zip(widths, depths)]


def fitted_slope(curves) -> float:
    """The slope a of w_j = a (j + 1) fitted to per-block width curves (least squares in log space:
    a = exp(mean_j log(w_j / (j + 1))) over every block of every model)."""
    logs = [np.log(np.maximum(np.asarray(c, np.float64), 1.0)) - np.log(np.arange(1, len(c) + 1))
            for c in curves if len(c)]
    return float(np.exp(np.mean(np.concatenate(logs)))) if logs else float("nan")


def top_widths_figure(top: pd.DataFrame, by: str) -> FigureData:
    name = "top_widths"
    if top.empty or "widths" not in top or "depths" not in top:
        return FigureData(name, TITLES[name], "", TABLES[name],
                          missing="Not drawn: the models carry no per-stage widths and depths (a table without them).")
    of = _groups(top, by)
    panels = []
    for g in order(top[by])[:MAX_PANELS]:
        d = of[g].sort_values("error", kind="stable")
        curves = block_widths(d["widths"], d["depths"])
        total = int(d["n_models"].iloc[0]) if "n_models" in d else len(d)
        data = {"spec_id": d["spec_id"].to_numpy() if "spec_id" in d else np.arange(len(d)).astype(str),
                "error": d["error"].to_numpy(np.float64), "block_widths": curves}
        slope = fitted_slope(curves)
        panels.append(Panel(g, f"{g}: best {len(d)} of {total} models", "block index j", "block width w_j",
                            (Series(g, total, data, {"fit_slope": slope}),), {"fit_slope": slope}))
    shown = ", ".join(f"{p.key}: {len(p.series[0].data['error'])} of {p.series[0].n}" for p in panels)
    caption = (f"Per-block widths of the lowest-error models of each population ({shown}); y axes shared. Dashed: "
               f"w_j = a (j + 1) fitted (least squares in log width) to the models shown; the paper's 48 (j + 1) "
               f"is its fit for 400MF ImageNet models and need not hold here.")
    return FigureData(name, TITLES[name], caption, TABLES[name], tuple(panels))


def efit_figure(models: pd.DataFrame, by: str, metric: str) -> FigureData:
    name = "efit"
    what = "mean |log w_j / ŵ_j|" if metric == "logratio" else "mean (log w_j / ŵ_j)²"
    d = ("mean_j |log w_j - log ŵ_j|, the paper's mean log-ratio" if metric == "logratio"
         else "mean_j (log w_j - log ŵ_j)^2, the squared variant")
    caption = (f"e_fit = {d}, of the best quantized linear (RegNet) fit of each model's per-block widths at fixed "
               f"depth; e_fit < log(1.1) = 0.095 means widths within about 10% of the fit on average.")
    ok = models[np.isfinite(models["e_fit"].to_numpy(np.float64))] if "e_fit" in models else models.iloc[:0]
    if ok.empty:
        return FigureData(name, TITLES[name], caption, TABLES[name],
                          missing="Not drawn: no model has an e_fit (it needs per-stage widths and depths).")
    of = _groups(ok, by)
    panels = tuple(
        Panel(g, f"{g}: median e_fit {of[g]['e_fit'].median():.3g}", f"e_fit ({what})", "error (%)",
              (Series(g, len(of[g]), _arrays(of[g], ("spec_id", "e_fit", "error"))),),
              {"median_e_fit": float(of[g]["e_fit"].median())})
        for g in order(ok[by])[:MAX_PANELS])
    return FigureData(name, TITLES[name], caption, TABLES[name], panels, options={"metric": metric})


def trends_error_figure(bins: pd.DataFrame, bands: pd.DataFrame, by: str, lvl: str) -> FigureData:
    name = "trends_error"
    caption = (f"Binned median error per population; bars along the top: {lvl} bootstrap interval of where each "
               f"population's best model lies (best of 25% subsamples, the paper's band), dot: its median. w0, wa, "
               f"wm of non-RegNet models come from their e_fit fit.")
    if bins.empty:
        return FigureData(name, TITLES[name], caption, TABLES[name],
                          missing="Not drawn: no design parameter could be computed for these models.")
    bins_of, band_of = _groups(bins, ["parameter", by]), _groups(bands, ["parameter", by])
    groups = order(bins[by])
    panels = []
    for p in [p for p in PARAM_LABELS if p in set(bins["parameter"])]:
        series = []
        for g in groups:
            b = bins_of.get((p, g))
            if b is None or b.empty:
                continue
            band = band_of.get((p, g))
            values = ({"band_lo": float(band["lo"].iloc[0]), "band_median": float(band["median"].iloc[0]),
                       "band_hi": float(band["hi"].iloc[0])} if band is not None else {})
            series.append(Series(g, int(b["n"].sum()), _arrays(b, ("x", "median", "n")), values))
        panels.append(Panel(p, p, PARAM_LABELS[p], "error (%), binned median", tuple(series)))
    return FigureData(name, TITLES[name], caption, TABLES[name], tuple(panels))


def trends_best_figure(bands: pd.DataFrame, models: pd.DataFrame | None, by: str, lvl: str) -> FigureData:
    name = "trends_best"
    caption = (f"Where the best models lie at each complexity: in each of {BEST_BAND_BINS} log-spaced flops bins "
               f"(shared by all populations; bins with fewer than {BEST_BAND_MIN_MODELS} models of a population "
               f"skipped), the best-range estimate (best model of 25% subsamples) of each parameter, line: its "
               f"median, band: its central {lvl} bootstrap interval. Log flops axis.")
    if bands.empty:
        largest = (f"; the largest population has {int(models.groupby(by).size().max())} models in all"
                   if models is not None and len(models) else "")
        return FigureData(name, TITLES[name], caption, TABLES[name],
                          missing=f"Not drawn: a flops bin needs at least {BEST_BAND_MIN_MODELS} models of a "
                                  f"population to estimate where its best models lie, and none of the "
                                  f"{BEST_BAND_BINS} bins has that many{largest}.")
    of = _groups(bands, ["parameter", by])
    groups = order(bands[by])
    panels = []
    for p in [p for p in PARAM_LABELS if p in set(bands["parameter"])]:
        series = tuple(Series(g, int(of[(p, g)]["n"].sum()),
                              _arrays(of[(p, g)].sort_values("flops"), ("flops", "median", "lo", "hi", "n")))
                       for g in groups if (p, g) in of)
        panels.append(Panel(p, f"best models: {p}", "flops (M), log scale", PARAM_LABELS[p], series))
    return FigureData(name, TITLES[name], caption, TABLES[name], tuple(panels))


COMPLEXITY_RELATIONS = (("params ~ flops", "flops (M)", "params (M)", "params"),
                        ("acts ~ sqrt(flops)", "sqrt(flops)", "activations (M)", "acts"))


def complexity_figure(models: pd.DataFrame, fits: pd.DataFrame, best: pd.DataFrame, by: str) -> FigureData:
    name = "complexity"
    k = len(best)
    caption = (f"params against flops and activations against sqrt(flops) (the paper's Fig. 12): all models "
               f"faint; circled: the lowest-error model of each population in each of 10 log-spaced flops bins "
               f"({k} models); lines: least-squares fits on those best models.")
    ok = models[np.isfinite(models[["flops", "params", "acts"]].to_numpy(np.float64)).all(axis=1)]
    if len(ok) < 3:
        return FigureData(name, TITLES[name], caption, TABLES[name],
                          missing=f"Not drawn: {len(ok)} models with flops, params and activations; a fit needs 3.")
    of = _groups(ok, by)
    panels = []
    for rel, xl, yl, col in COMPLEXITY_RELATIONS:
        def x_of(f, rel=rel):
            f = np.asarray(f, np.float64)
            return f / 1e6 if rel.startswith("params") else np.sqrt(f)

        series = [Series(g, len(of[g]), {"spec_id": of[g]["spec_id"].to_numpy() if "spec_id" in of[g]
                                         else np.array([""] * len(of[g])),
                                         "x": x_of(of[g]["flops"]), "y": of[g][col].to_numpy(np.float64) / 1e6})
                  for g in order(ok[by])]
        if k:
            series.append(Series("best per flops bin", k, {"x": x_of(best["flops"]),
                                                           "y": best[col].to_numpy(np.float64) / 1e6}))
        fit = fits[fits["relation"] == rel]
        values = {}
        if len(fit) and np.isfinite(fit["slope"].iloc[0]):
            # y (M) = slope * x_raw / 1e6 + intercept / 1e6, x_raw in flops (params) or sqrt(flops) (acts)
            scale = 1e6 if rel.startswith("params") else 1.0
            values = {"slope": float(fit["slope"].iloc[0]) * scale / 1e6,
                      "intercept": float(fit["intercept"].iloc[0]) / 1e6, "r2": float(fit["r2"].iloc[0]),
                      "n": int(fit["n"].iloc[0])}
        panels.append(Panel(rel, rel, xl, yl, tuple(series), values))
    return FigureData(name, TITLES[name], caption, TABLES[name], tuple(panels))


def search_figure(eff: pd.DataFrame, by: str, lvl: str) -> FigureData:
    name = "search"
    weights = eff["weights"].iloc[0] if len(eff) else "uniform"
    how = ("each model drawn with its complexity-normalized weight (as nds)" if weights == "normalized"
           else "models drawn uniformly")
    caption = (f"Expected best error among m models drawn at random with replacement ({how}; closed form from "
               f"order statistics), with the central {lvl} interval of the best-of-m error (dotted edges).")
    of = _groups(eff, by)
    series = tuple(Series(g, int(of[g]["n"].iloc[0]) if "n" in of[g] else 0,
                          _arrays(of[g], ("m", "expected", "lo", "hi"))) for g in order(eff[by]))
    if not series:
        return FigureData(name, TITLES[name], caption, TABLES[name], missing="Not drawn: no models.")
    panel = Panel("search", f"random-search efficiency ({weights} draws)", "models drawn at random (m), log2 scale",
                  "best error among m (%)", series)
    return FigureData(name, TITLES[name], caption, TABLES[name], (panel,), options={"weights": weights})


def fidelity_figure(pairs: pd.DataFrame, corr: pd.DataFrame, lvl: str, interval: str | None = None) -> FigureData:
    """interval: the correlations' interval method (stats.intervals.describe_interval); without it, the
    level `lvl` alone."""
    name = "fidelity"
    a, b = pairs["a"].iloc[0], pairs["b"].iloc[0]
    caption = (f"Each of the {len(pairs)} specs trained under both budgets: error with {a} against error with {b}. "
               + (f"Title: Spearman ρ and Kendall τ, each with its {interval}." if interval else
                  f"Title: Spearman ρ and Kendall τ with {lvl} bootstrap intervals (pairs resampled)."))
    of = _groups(pairs, "space")
    series = tuple(Series(g, len(of[g]), _arrays(of[g], ("spec_id", "error_a", "error_b")))
                   for g in order(pairs["space"]))
    c = corr.set_index("statistic")
    values = {f"{k}{suffix}": float(c.loc[k, col]) for k in ("spearman", "kendall") if k in c.index
              for suffix, col in (("", "estimate"), ("_lo", "lo"), ("_hi", "hi"))}
    panel = Panel("fidelity", "", f"error (%) with {a}", f"error (%) with {b}", series, values)
    return FigureData(name, TITLES[name], caption, TABLES[name], (panel,), options={"a": a, "b": b})
