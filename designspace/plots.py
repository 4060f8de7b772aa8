"""The paper's figures from analysis DataFrames (matplotlib, headless).

Every function takes the tidy DataFrames that designspace.analysis returns, draws on a new
matplotlib Figure (no pyplot state, so thousands of figures do not leak and no display is needed)
and returns it; `save(fig, path)` writes a PNG. In a notebook the returned Figure displays inline.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator, ScalarFormatter

_CANONICAL = ["AnyNetXA", "AnyNetXB", "AnyNetXC", "AnyNetXD", "AnyNetXE", "RegNetX", "RegNetY"]
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf"]
PARAM_LABELS = {"d": "depth d (blocks)", "b": "bottleneck ratio b", "g": "group width g",
                "w0": "initial width w0", "wa": "width slope wa", "wm": "width multiplier wm"}


# No mathtext anywhere (plain labels and tick formats): its parser costs ~0.4 s per process to build.
_PLAIN = FuncFormatter(lambda v, _pos: f"{v:g}")


def _title(ax, text):
    # an explicit y turns off matplotlib's automatic title placement, which measures the tick
    # labels of every axes (a third of a multi-panel figure's drawing time)
    ax.set_title(text, y=1.0, pad=6)


def space_order(names) -> list[str]:
    """Spaces in the paper's order (AnyNetXA..E, RegNetX, RegNetY), others after, alphabetically."""
    names = [str(n) for n in pd.unique(pd.Series(names))]  # first-seen order, fast on long columns
    known = [n for n in _CANONICAL if n in names]
    return known + sorted(n for n in names if n not in known)


def space_colors(names) -> dict:
    """A stable colour per space (same space, same colour in every figure)."""
    return {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(space_order(names))}


def _figure(ncols=1, nrows=1, width=5.0, height=3.8, **kw):
    # fixed margins in inches rather than constrained layout: layout solving costs several extra
    # draws per figure, the dominant cost of a report
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    W, H = width * ncols, height * nrows
    fig.subplots_adjust(left=0.75 / W, right=1 - 0.2 / W, bottom=0.55 / H, top=1 - 0.4 / H,
                        wspace=0.9 / (width - 0.9), hspace=1.0 / (height - 1.0))
    return fig, axes


def _panels(n: int, ax=None, width=4.2, height=3.4, max_cols=3, **kw):
    """(figure, list of n axes): a new figure of n panels, or the caller's axes (`ax`: one Axes or
    an array/list of at least n)."""
    if ax is None:
        ncols, nrows = _grid(max(n, 1), max_cols)
        fig, axes = _figure(ncols, nrows, width=width, height=height, **kw)
        flat = list(axes.flat)
        for extra in flat[n:]:
            extra.set_visible(False)
        return fig, flat[:max(n, 1)]
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) < n:
        raise ValueError(f"this figure needs {n} axes, got {len(flat)}")
    return flat[0].figure, flat[:max(n, 1)]


def _grid(n, max_cols=3):
    ncols = min(n, max_cols)
    return ncols, int(np.ceil(n / ncols))


def save(fig: Figure, path: str, dpi: int = 150) -> str:
    """Write `fig` as a PNG at `path` (150 dpi: sharp when shown at its size); returns the path."""
    # light zlib compression: a few percent larger files, several times faster to encode
    fig.savefig(path, dpi=dpi, pil_kwargs={"compress_level": 1})
    return path


def _label(name, counts) -> str:
    """Legend entry of a group: its name and its number of models."""
    n = None if counts is None else counts.get(name)
    return f"{name} (n={int(n)})" if n is not None and n == n else str(name)


def _counts(df: pd.DataFrame, by: str, column: str = "n"):
    """{group: n} from a table's n column (None when it has none)."""
    if column not in df:
        return None
    return df.groupby(by, sort=False)[column].first().to_dict()


def _groups(df: pd.DataFrame, keys):
    """{key: sub-frame}: one groupby instead of a boolean filter per key (fast on string columns)."""
    return dict(iter(df.groupby(keys, sort=False)))


def plot_edfs(curves: pd.DataFrame, bands: pd.DataFrame | None = None, by: str = "space", value: str = "error",
              title: str = "Error EDF", xlabel: str = "error (%)", counts: dict | None = None, ax=None) -> Figure:
    """EDF of each space (curves: tidy [by, value, cdf], optional n) with optional bootstrap bands
    (bands: tidy [by, value or x, lo, hi], from edf_bands); the paper's design-space comparison. Legend entries carry each
    space's number of models (`counts`, else the curves' n column)."""
    fig, (ax,) = _panels(1, ax, width=5.6, height=4.2)
    colors = space_colors(curves[by])
    counts = counts if counts is not None else _counts(curves, by)
    curve_of = _groups(curves, by)
    band_of = _groups(bands, by) if bands is not None else {}
    for name in space_order(curves[by]):
        c = curve_of[name]
        if name in band_of:
            b = band_of[name]
            x = b[value] if value in b else b["x"]  # edf_bands names the grid as edf does; bootstrap_edf "x"
            ax.fill_between(x, b["lo"], b["hi"], color=colors[name], alpha=0.18, linewidth=0, step="post")
        ax.step(c[value], c["cdf"], where="post", color=colors[name], linewidth=1.8, label=_label(name, counts))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative probability")
    ax.set_ylim(0, 1)
    _title(ax, title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def fitted_slope(widths, depths) -> float:
    """The slope a of w_j = a (j + 1) fitted to the per-block widths of the given models (least
    squares in log space: a = exp(mean_j log(w_j / (j + 1))) over every block of every model)."""
    logs = []
    for w, d in zip(widths, depths):
        c = np.repeat(np.asarray(w, np.float64), np.asarray(d, np.int64))
        if c.size:
            logs.append(np.log(np.maximum(c, 1.0)) - np.log(np.arange(1, c.size + 1)))
    return float(np.exp(np.mean(np.concatenate(logs)))) if logs else float("nan")


def _as_list(v):
    if isinstance(v, str):
        import json

        return json.loads(v)
    return list(v)


def plot_top_widths(df: pd.DataFrame, top: int = 20, by: str = "space", max_spaces: int = 9, ax=None) -> Figure:
    """Per-block widths of each space's `top` lowest-error models (one panel per space, shared y
    axis), with the line w_j = a (j + 1) fitted to the models shown (the paper's Fig. 8 draws
    48 (j + 1), its fit for 400MF ImageNet models; here a comes from this population). `df` needs
    by, error, widths, depths (lists, or JSON text as in the CSV); an n_models column, when present,
    names how many models each space had."""
    names = space_order(df[by])[:max_spaces]
    fig, axes = _panels(len(names), ax, sharey=True)
    colors = space_colors(df[by])
    of = _groups(df, by)
    total = _counts(df, by, "n_models")
    for ax, name in zip(axes, names):
        best = of[name].nsmallest(top, "error")
        widths, depths = [_as_list(w) for w in best["widths"]], [_as_list(d) for d in best["depths"]]
        curves = [np.repeat(np.asarray(w, np.float64), np.asarray(d, np.int64)) for w, d in zip(widths, depths)]
        # one collection per panel instead of one artist per model: far fewer draw calls
        ax.add_collection(LineCollection([np.column_stack([np.arange(c.size), c]) for c in curves if c.size],
                                         colors=colors[name], alpha=0.45, linewidths=1))
        dmax = max([c.size for c in curves] + [1])
        j = np.arange(dmax)
        a = fitted_slope(widths, depths)
        ax.plot(j, a * (j + 1), color="black", linestyle="--", linewidth=1.2, label=f"fit: w_j = {a:.1f} (j + 1)")
        ax.set_xlim(-0.5, dmax - 0.5)
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(NullLocator())  # minor ticks of log axes are most of a figure's drawing time
        of_n = f" of {int(total[name])}" if total and name in total else ""
        _title(ax, f"{name}: best {len(best)}{of_n} models")
        ax.set_xlabel("block index j")
        ax.set_ylabel("block width w_j")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_efit(params: pd.DataFrame, by: str = "space", max_spaces: int = 9, metric: str = "logratio",
              ax=None) -> Figure:
    """e_fit against error, one panel per space, shared axes (params: design_parameters() with e_fit)."""
    names = space_order(params[by])[:max_spaces]
    fig, axes = _panels(len(names), ax, sharey=True, sharex=True)
    colors = space_colors(params[by])
    of = _groups(params, by)
    what = "mean |log w_j / ŵ_j|" if metric == "logratio" else "mean (log w_j / ŵ_j)²"
    for ax, name in zip(axes, names):
        p = of[name]
        # markers of one Line2D: one draw_markers call, much cheaper than a scatter's path collection
        ax.plot(p["e_fit"], p["error"], "o", markersize=2.2, alpha=0.4, color=colors[name], markeredgewidth=0,
                label=f"{name} (n={len(p)})")
        ax.set_xscale("symlog", linthresh=1e-2)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(f"e_fit ({what})")
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.set_ylabel("error (%)")
        _title(ax, f"{name}: median e_fit {p['e_fit'].median():.3g}")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    return fig


def plot_error_trends(bins: pd.DataFrame, bands: pd.DataFrame, by: str = "space", ax=None) -> Figure:
    """Error against each design parameter: binned median error per space (line and markers) and,
    as bars along the top of each panel, the bootstrap band where each space's best models lie
    (95% interval, dot at the median)."""
    names_p = [p for p in PARAM_LABELS if p in set(bins["parameter"])]
    fig, axes = _panels(max(len(names_p), 1), ax, height=3.6)
    order = space_order(bins[by])
    colors = space_colors(bins[by])
    bins_of = _groups(bins, [by, "parameter"])
    band_of = _groups(bands, [by, "parameter"])
    for k, (ax, p) in enumerate(zip(axes, names_p)):
        strip = ax.get_xaxis_transform()  # x in data units, y in axes fraction
        segments, medians, seg_colors = [], [], []
        for i, name in enumerate(order):
            b = bins_of.get((name, p))
            if b is None or b.empty:
                continue
            ax.plot(b["x"], b["median"], marker="o", markersize=3, color=colors[name],
                    label=f"{name} (n={int(b['n'].sum())})")
            band = band_of.get((name, p))
            if band is not None and np.isfinite(band["lo"].iloc[0]):
                y = 0.97 - 0.035 * i
                segments.append([(band["lo"].iloc[0], y), (band["hi"].iloc[0], y)])
                medians.append((band["median"].iloc[0], y))
                seg_colors.append(colors[name])
        if segments:  # all spaces' bands in two artists
            ax.add_collection(LineCollection(segments, colors=seg_colors, linewidths=2.5, alpha=0.7,
                                             transform=strip, capstyle="butt"))
            ax.scatter(*np.array(medians).T, s=14, c=seg_colors, transform=strip, zorder=3)
        ymin, ymax = ax.get_ylim()
        ax.set_ylim(ymin, ymax + 0.3 * (ymax - ymin))  # room for the band strip
        x = bins.loc[bins["parameter"] == p, "x"]
        if len(x) and x.min() > 0 and x.max() / x.min() > 20:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(PARAM_LABELS[p])
        ax.set_ylabel("error (%), binned median")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7, loc="lower left")
    return fig


def _log_flops_axis(ax, flops_m):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_locator(NullLocator())
    f = np.asarray(flops_m, np.float64)
    f = f[np.isfinite(f) & (f > 0)]
    if f.size:
        ticks = np.unique(np.round(np.geomspace(f.min(), f.max(), 5), 2 if f.max() < 10 else 0))
        ax.set_xticks(ticks)


def plot_best_model_bands(bands: pd.DataFrame, by: str = "space", ax=None) -> Figure:
    """Where the best models lie against flops (bands: best_model_bands()): per space, the best-range
    median of each parameter in each flops bin, with its bootstrap band, on a log flops axis."""
    names_p = [p for p in PARAM_LABELS if p in set(bands["parameter"])]
    fig, axes = _panels(max(len(names_p), 1), ax)
    colors = space_colors(bands[by]) if len(bands) else {}
    of = _groups(bands, [by, "parameter"]) if len(bands) else {}
    for k, (ax, p) in enumerate(zip(axes, names_p)):
        for name in space_order(bands[by]):
            b = of.get((name, p))
            if b is None:
                continue
            b = b.sort_values("flops")
            x = b["flops"] / 1e6
            ax.fill_between(x, b["lo"], b["hi"], color=colors[name], alpha=0.15, linewidth=0)
            ax.plot(x, b["median"], marker="o", markersize=3, color=colors[name],
                    label=f"{name} (n={int(b['n'].sum())})")
        _log_flops_axis(ax, bands["flops"] / 1e6)
        ax.set_xlabel("flops (M), log scale")
        ax.set_ylabel(PARAM_LABELS[p])
        _title(ax, f"best models: {p}")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7)
    return fig


def plot_best_model_trends(best: pd.DataFrame, by: str = "space", ax=None) -> Figure:
    """Parameters of the best model in each flops bin against flops (best_model_trends()), one
    panel per parameter, log flops axis."""
    names_p = [p for p in PARAM_LABELS if p in best and best[p].notna().any()]
    fig, axes = _panels(max(len(names_p), 1), ax)
    colors = space_colors(best[by])
    of = {name: g.sort_values("flops") for name, g in _groups(best, by).items()}
    for k, (ax, p) in enumerate(zip(axes, names_p)):
        for name in space_order(best[by]):
            b = of[name]
            ax.plot(b["flops"] / 1e6, b[p], marker="o", markersize=4, color=colors[name], label=name)
        _log_flops_axis(ax, best["flops"] / 1e6)
        ax.set_xlabel("flops (M), log scale")
        ax.set_ylabel(PARAM_LABELS[p])
        _title(ax, f"best models: {p} vs flops")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7)
    return fig


def plot_complexity(params: pd.DataFrame, fits: pd.DataFrame, best: pd.DataFrame | None = None, by: str = "space",
                    ax=None) -> Figure:
    """params against flops and acts against sqrt(flops) (the paper's Fig. 12): every model faintly,
    the best model of each flops bin (`best`, from best_complexity_fits) marked, and the line fitted
    on them (fits rows with group "best per flops bin", else "all")."""
    fig, axes = _panels(2, ax, width=4.8, height=3.8, max_cols=2)
    colors = space_colors(params[by])
    panels = [("params ~ flops", "flops (M)", "params (M)", lambda f: f / 1e6, 1e6, "params"),
              ("acts ~ sqrt(flops)", "sqrt(flops)", "activations (M)", np.sqrt, 1.0, "acts")]
    for ax, (rel, xl, yl, xf, xs, col) in zip(axes, panels):
        f = params["flops"].to_numpy(np.float64)
        for name in space_order(params[by]):
            m = (params[by] == name).to_numpy()
            ax.plot(xf(f[m]), params[col].to_numpy(np.float64)[m] / 1e6, "o", markersize=1.8, alpha=0.2,
                    color=colors[name], markeredgewidth=0, label=f"{name} (n={int(m.sum())})")
        if best is not None and len(best):
            bf = best["flops"].to_numpy(np.float64)
            ax.scatter(xf(bf), best[col].to_numpy(np.float64) / 1e6, s=22, facecolors="none", edgecolors="black",
                       linewidths=1.0, label=f"best per flops bin (n={len(best)})")
        fit = fits[(fits["relation"] == rel)]
        fit = fit[fit["group"] == "best per flops bin"] if (fit["group"] == "best per flops bin").any() else fit
        if not fit.empty and np.isfinite(fit["slope"].iloc[0]):
            s, c, r2 = fit[["slope", "intercept", "r2"]].iloc[0]
            xx = np.linspace(np.min(xf(f)), np.max(xf(f)), 50)
            ax.plot(xx, (s * xx * xs + c) / 1e6, color="black", linewidth=1.5,
                    label=f"fit on best, r² = {r2:.2f}")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        _title(ax, rel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, markerscale=2)
    return fig


def plot_search(eff: pd.DataFrame, by: str = "space", counts: dict | None = None, ax=None) -> Figure:
    """Expected best error against the number of models drawn at random, with the central band of
    the best-of-m error (eff: search_efficiency(), optional n column for the legend); log2 m axis."""
    fig, (ax,) = _panels(1, ax, width=5.6, height=4.2)
    colors = space_colors(eff[by])
    counts = counts if counts is not None else _counts(eff, by)
    of = _groups(eff, by)
    for name in space_order(eff[by]):
        e = of[name]
        ax.fill_between(e["m"], e["lo"], e["hi"], color=colors[name], alpha=0.15, linewidth=0)
        ax.plot(e["m"], e["lo"], color=colors[name], linewidth=0.6, alpha=0.6, linestyle=":")
        ax.plot(e["m"], e["hi"], color=colors[name], linewidth=0.6, alpha=0.6, linestyle=":")
        ax.plot(e["m"], e["expected"], color=colors[name], linewidth=2.0, label=_label(name, counts))
    ax.set_xscale("log", base=2)
    top = int(eff["m"].max()) if len(eff) else 1
    ax.set_xticks([2**k for k in range(int(np.log2(max(top, 1))) + 1)])
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("models drawn at random (m), log2 scale")
    ax.set_ylabel("best error among m (%)")
    weights = eff["weights"].iloc[0] if "weights" in eff and len(eff) else "uniform"
    _title(ax, f"random-search efficiency ({weights} draws)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_fidelity(pairs: pd.DataFrame, corr: pd.DataFrame | None = None, ax=None) -> Figure:
    """Proxy fidelity: each shared model's error under budget a (x) and b (y), with the rank
    correlations in the title (pairs: proxy_fidelity()["pairs"], corr: its "correlation")."""
    fig, (ax,) = _panels(1, ax, width=5.2, height=4.6)
    colors = space_colors(pairs["space"]) if len(pairs) else {}
    for name in space_order(pairs["space"]):
        m = pairs["space"] == name
        ax.scatter(pairs.loc[m, "error_a"], pairs.loc[m, "error_b"], s=10, alpha=0.6, color=colors[name],
                   label=f"{name} (n={int(m.sum())})")
    a = pairs["a"].iloc[0] if len(pairs) else "a"
    b = pairs["b"].iloc[0] if len(pairs) else "b"
    ax.set_xlabel(f"error (%) with {a}")
    ax.set_ylabel(f"error (%) with {b}")
    if corr is not None and len(corr):
        c = corr.set_index("statistic")
        text = ", ".join(f"{'ρ' if k == 'spearman' else 'τ'} = {c.loc[k, 'estimate']:.2f} "
                         f"[{c.loc[k, 'lo']:.2f}, {c.loc[k, 'hi']:.2f}]" for k in ("spearman", "kendall") if k in c.index)
        _title(ax, text)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
