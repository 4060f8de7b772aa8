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


def _grid(n, max_cols=3):
    ncols = min(n, max_cols)
    return ncols, int(np.ceil(n / ncols))


def save(fig: Figure, path: str, dpi: int = 80) -> str:
    """Write `fig` as a PNG at `path`; returns the path."""
    # light zlib compression: a few percent larger files, several times faster to encode
    fig.savefig(path, dpi=dpi, pil_kwargs={"compress_level": 1})
    return path


def _groups(df: pd.DataFrame, keys):
    """{key: sub-frame}: one groupby instead of a boolean filter per key (fast on string columns)."""
    return dict(iter(df.groupby(keys, sort=False)))


def plot_edfs(curves: pd.DataFrame, bands: pd.DataFrame | None = None, by: str = "space", value: str = "error",
              title: str = "Error EDF", xlabel: str = "error (%)") -> Figure:
    """EDF of each space (curves: tidy [by, value, cdf]) with optional bootstrap bands
    (bands: tidy [by, x, lo, hi]); the paper's design-space comparison (AnyNetXA..E, RegNet)."""
    fig, axes = _figure()
    ax = axes[0, 0]
    colors = space_colors(curves[by])
    curve_of = _groups(curves, by)
    band_of = _groups(bands, by) if bands is not None else {}
    for name in space_order(curves[by]):
        c = curve_of[name]
        if name in band_of:
            b = band_of[name]
            ax.fill_between(b["x"], b["lo"], b["hi"], color=colors[name], alpha=0.18, linewidth=0, step="post")
        ax.step(c[value], c["cdf"], where="post", color=colors[name], linewidth=1.8, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative probability")
    ax.set_ylim(0, 1)
    _title(ax, title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_top_widths(df: pd.DataFrame, top: int = 20, by: str = "space", max_spaces: int = 9) -> Figure:
    """Per-block widths of each space's `top` lowest-error models (one panel per space), with the
    paper's reference line w_j = 48 (j + 1) (RegNet paper, Fig. 8)."""
    names = space_order(df[by])[:max_spaces]
    ncols, nrows = _grid(len(names))
    fig, axes = _figure(ncols, nrows, width=4.2, height=3.4)
    colors = space_colors(df[by])
    of = _groups(df, by)
    for ax, name in zip(axes.flat, names):
        best = of[name].nsmallest(top, "error")
        curves = [np.repeat(np.asarray(w, np.float64), np.asarray(d, np.int64))
                  for w, d in zip(best["widths"], best["depths"])]
        # one collection per panel instead of one artist per model: far fewer draw calls
        ax.add_collection(LineCollection([np.column_stack([np.arange(c.size), c]) for c in curves if c.size],
                                         colors=colors[name], alpha=0.45, linewidths=1))
        dmax = max([c.size for c in curves] + [1])
        j = np.arange(dmax)
        ax.plot(j, 48 * (j + 1), color="black", linestyle="--", linewidth=1.2, label="w_j = 48 (j + 1)")
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(NullLocator())  # minor ticks of log axes are most of a figure's drawing time
        _title(ax, f"{name}: top {min(top, len(best))} models")
        ax.set_xlabel("block index j")
        ax.set_ylabel("block width w_j")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    return fig


def plot_efit(params: pd.DataFrame, by: str = "space", max_spaces: int = 9) -> Figure:
    """e_fit against error, one panel per space (params: design_parameters() with e_fit)."""
    names = space_order(params[by])[:max_spaces]
    ncols, nrows = _grid(len(names))
    fig, axes = _figure(ncols, nrows, width=4.2, height=3.4, sharey=True)
    colors = space_colors(params[by])
    of = _groups(params, by)
    for ax, name in zip(axes.flat, names):
        p = of[name]
        ax.scatter(p["e_fit"], p["error"], s=6, alpha=0.4, color=colors[name], label=name)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("e_fit (mean squared log-width error)")
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.set_ylabel("error (%)")
        _title(ax, f"{name}: median e_fit = {p['e_fit'].median():.3g}")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    return fig


def plot_error_trends(bins: pd.DataFrame, bands: pd.DataFrame, by: str = "space") -> Figure:
    """Error against each design parameter: binned median error per space (line and markers) and,
    as bars along the top of each panel, the bootstrap band where each space's best models lie
    (95% interval, dot at the median)."""
    names_p = [p for p in PARAM_LABELS if p in set(bins["parameter"])]
    ncols, nrows = _grid(max(len(names_p), 1))
    fig, axes = _figure(ncols, nrows, width=4.2, height=3.6)
    order = space_order(bins[by])
    colors = space_colors(bins[by])
    bins_of = _groups(bins, [by, "parameter"])
    band_of = _groups(bands, [by, "parameter"])
    for k, (ax, p) in enumerate(zip(axes.flat, names_p)):
        strip = ax.get_xaxis_transform()  # x in data units, y in axes fraction
        segments, medians, seg_colors = [], [], []
        for i, name in enumerate(order):
            b = bins_of.get((name, p))
            if b is None or b.empty:
                continue
            ax.plot(b["x"], b["median"], marker="o", markersize=3, color=colors[name], label=name)
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
    for ax in list(axes.flat)[len(names_p):]:
        ax.set_visible(False)
    return fig


def plot_best_model_trends(best: pd.DataFrame, by: str = "space") -> Figure:
    """Parameters of the best model in each flops bin against flops, one panel per parameter."""
    names_p = [p for p in PARAM_LABELS if p in best and best[p].notna().any()]
    ncols, nrows = _grid(max(len(names_p), 1))
    fig, axes = _figure(ncols, nrows, width=4.2, height=3.4)
    colors = space_colors(best[by])
    of = {name: g.sort_values("flops") for name, g in _groups(best, by).items()}
    for k, (ax, p) in enumerate(zip(axes.flat, names_p)):
        for name in space_order(best[by]):
            b = of[name]
            ax.plot(b["flops"] / 1e6, b[p], marker="o", markersize=4, color=colors[name], label=name)
        f = best["flops"].to_numpy(np.float64)
        if f.min() > 0 and f.max() / f.min() > 20:  # wide flops ranges read better on a log axis
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("flops (M)")
        ax.set_ylabel(PARAM_LABELS[p])
        _title(ax, f"best models: {p} vs flops")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names_p):]:
        ax.set_visible(False)
    return fig


def plot_complexity(params: pd.DataFrame, fits: pd.DataFrame, by: str = "space") -> Figure:
    """params against flops and acts against sqrt(flops), with the linear fits (fits: complexity_fits())."""
    fig, axes = _figure(2, 1, width=4.6, height=3.6)
    colors = space_colors(params[by])
    f = params["flops"].to_numpy(np.float64)
    panels = [("params ~ flops", f / 1e6, params["params"] / 1e6, "flops (M)", "params (M)", 1e6, 1e6),
              ("acts ~ sqrt(flops)", np.sqrt(f), params["acts"] / 1e6, "sqrt(flops)", "activations (M)", 1.0, 1e6)]
    for ax, (rel, x, y, xl, yl, xs, ys) in zip(axes.flat, panels):
        for name in space_order(params[by]):
            m = (params[by] == name).to_numpy()
            ax.scatter(x[m], y[m], s=4, alpha=0.3, color=colors[name], label=name)
        fit = fits[(fits["relation"] == rel) & (fits["group"] == "all")]
        if not fit.empty and np.isfinite(fit["slope"].iloc[0]):
            s, c, r2 = fit[["slope", "intercept", "r2"]].iloc[0]
            xx = np.linspace(np.min(x), np.max(x), 50)
            ax.plot(xx, (s * xx * xs + c) / ys, color="black", linewidth=1.5, label=f"fit, r² = {r2:.2f}")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        _title(ax, rel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, markerscale=2)
    return fig


def plot_search(eff: pd.DataFrame, by: str = "space") -> Figure:
    """Expected best error against the number of models drawn at random, with the central band of
    the best-of-m error (eff: search_efficiency())."""
    fig, axes = _figure()
    ax = axes[0, 0]
    colors = space_colors(eff[by])
    of = _groups(eff, by)
    for name in space_order(eff[by]):
        e = of[name]
        ax.fill_between(e["m"], e["lo"], e["hi"], color=colors[name], alpha=0.12, linewidth=0)
        ax.plot(e["m"], e["expected"], color=colors[name], linewidth=1.8, label=name)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("models drawn at random (m)")
    ax.set_ylabel("best error among m (%)")
    _title(ax, "random-search efficiency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
