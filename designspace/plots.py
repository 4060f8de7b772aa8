"""The paper's figures (matplotlib, headless), drawn from an analysis's figure data.

`draw(figure_data)` draws one designspace.analysis.result.FigureData (what `analyze()` returns
for each figure) on a new matplotlib Figure, no pyplot state, so thousands of figures do not leak
and no display is needed; a figure whose data is missing becomes its sentence. The plot_*
functions take the tidy DataFrames of designspace.analysis (as in a notebook), build the same
figure data and draw it. `save(fig, path)` writes a PNG. Figures are sized for a page about 11
inches wide, so that fonts and markers keep their point sizes when the report shows them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator, ScalarFormatter

from .analysis import figures as F
from .analysis.result import FigureData, Panel, Series

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf"]
PARAM_LABELS = F.PARAM_LABELS
PAGE_WIDTH = 11.0  # inches: the report's figures are drawn at the width they are shown
LEGEND = 9  # points
TITLE = 10.5

# No mathtext anywhere (plain labels and tick formats): its parser costs ~0.4 s per process to build.
_PLAIN = FuncFormatter(lambda v, _pos: f"{v:g}")
_STEPS = [1, 2, 2.5, 5, 10]  # matplotlib's AutoLocator steps


def _title(ax, text):
    # an explicit y turns off matplotlib's automatic title placement, which measures the tick
    # labels of every axes (a third of a multi-panel figure's drawing time)
    ax.set_title(text, y=1.0, pad=6, fontsize=TITLE)


def space_order(names) -> list[str]:
    """Spaces in the paper's order (AnyNetXA..E, RegNetX, RegNetY), others after, alphabetically."""
    return F.order(names)


def space_colors(names) -> dict:
    """A stable colour per space (same space, same colour in every figure)."""
    return {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(space_order(names))}


def _figure(ncols=1, nrows=1, width=5.0, height=3.8, legend_row=False, **kw):
    # fixed margins in inches rather than constrained layout: layout solving costs several extra
    # draws per figure, the dominant cost of a report
    top = 0.75 if legend_row else 0.4  # inches above the panels: their titles, and a figure legend
    fig = Figure(figsize=(width * ncols, height * nrows + top - 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    W, H = width * ncols, height * nrows + top - 0.4
    fig.subplots_adjust(left=0.8 / W, right=1 - 0.2 / W, bottom=0.6 / H, top=1 - top / H,
                        wspace=0.95 / (width - 0.95), hspace=1.05 / (height - 1.05))
    if axes.size > 1:
        # at most 5 ticks per linear axis of a small panel (matplotlib's default places up to 9):
        # each tick is five artists, and making them is the largest part of drawing a multi-panel figure
        for ax in axes.flat:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=_STEPS))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=_STEPS))
    return fig, axes


def _figure_legend(fig, ax, ncol: int):
    """One legend for all panels, in a row above them (the panels share their groups and colours)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=max(1, min(ncol, 6)), fontsize=LEGEND, frameon=False,
                   bbox_to_anchor=(0.5, 1.0))


def _panels(n: int, ax=None, width=PAGE_WIDTH / 3, height=3.2, max_cols=3, legend_row=False, **kw):
    """(figure, list of n axes): a new figure of n panels, or the caller's axes (`ax`: one Axes or
    an array/list of at least n)."""
    if ax is None:
        ncols, nrows = _grid(max(n, 1), max_cols)
        fig, axes = _figure(ncols, nrows, width=width, height=height, legend_row=legend_row, **kw)
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
    with open(path, "wb") as fh:
        fh.write(png(fig, dpi))
    return path


def png(fig: Figure, dpi: int = 150) -> bytes:
    """`fig` as PNG bytes: the pixels matplotlib's Agg renderer draws (savefig's own pipeline, as raw
    RGBA), encoded here rather than by Pillow: rows unfiltered, zlib level 1, RGB where every pixel is
    opaque. Lossless like Pillow's PNG, but about twice as fast to encode and smaller (a report's
    figures: 140 ms instead of 270 ms, 2.3 MB instead of 2.7 MB); Pillow's adaptive row filters cost
    more than they save on flat-coloured plots, and its PNG writer has no option to turn them off
    (measured on one 6-panel figure: Pillow at level 1, RGB, 47 ms; this, 30 ms)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=dpi)
    width = int(fig.get_figwidth() * dpi)  # the Agg renderer's int(figure width in pixels)
    raw = np.frombuffer(buf.getbuffer(), np.uint8)
    height = raw.size // (4 * width)
    if width * height * 4 != raw.size:
        raise RuntimeError(f"unexpected raster size {raw.size} for a {width}-pixel-wide figure")
    return _encode_png(raw.reshape(height, width, 4), dpi)


def _encode_png(rgba: np.ndarray, dpi: int) -> bytes:
    import struct
    import zlib

    opaque = bool((rgba[..., 3] == 255).all())
    height, width = rgba.shape[:2]
    channels = 3 if opaque else 4
    rows = np.empty((height, width * channels + 1), np.uint8)
    rows[:, 0] = 0  # filter type "none" on every row
    if opaque:
        # one strided copy per colour channel: numpy copies a (height, width, 3) view of RGBA
        # (3 bytes of every 4) pixel by pixel, about 8 times slower
        flat = rgba.reshape(height, width * 4)
        for c in range(3):
            rows[:, 1 + c::3] = flat[:, c::4]
    else:
        rows[:, 1:] = rgba.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    per_metre = round(dpi / 0.0254)
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)),
        chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        chunk(b"IDAT", zlib.compress(rows, 1)),
        chunk(b"IEND", b""),
    ])


def _fill_bands(ax, bands, alpha: float, step: str | None = None):
    """Shade between lo and hi for many series at once: bands is [(x, lo, hi, colour)]. The polygons
    are the ones fill_between makes (one per run of finite points: from (x0, hi0) along lo to
    (x_end, hi_end) and back along hi; step "post" holds each value up to the next x), in one
    PolyCollection: fill_between takes about a millisecond to build each band, most of what a band costs."""
    verts, colors = [], []
    for x, lo, hi, color in bands:
        x, lo, hi = (np.asarray(v, np.float64) for v in (x, lo, hi))
        edges = np.flatnonzero(np.diff(np.r_[0, np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi), 0]))
        for start, end in zip(edges[::2], edges[1::2]):
            t, f1, f2 = x[start:end], lo[start:end], hi[start:end]
            if step == "post":
                t, f1, f2 = np.repeat(t, 2)[1:], np.repeat(f1, 2)[:-1], np.repeat(f2, 2)[:-1]
            verts.append(np.column_stack([np.r_[t[0], t, t[-1], t[::-1]], np.r_[f2[0], f1, f2[-1], f2[::-1]]]))
            colors.append(color)
    if verts:
        ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors=colors, alpha=alpha, linewidths=0))


def _colors(fd: FigureData) -> dict:
    return space_colors([s.group for p in fd.panels for s in p.series])


def _label(s: Series) -> str:
    return f"{s.group} (n={s.n})" if s.n > 0 else s.group


# ---------------------------------------------------------------------------------------------
# drawing from figure data


def draw(fd: FigureData, ax=None) -> Figure:
    """Draw one figure's data; a figure whose data is missing becomes its sentence."""
    if not fd.drawn:
        fig = Figure(figsize=(PAGE_WIDTH, 1.0))
        fig.text(0.02, 0.5, fd.missing, fontsize=LEGEND, va="center", wrap=True)
        return fig
    return _DRAW[fd.name](fd, ax)


def _draw_edf(fd: FigureData, ax=None) -> Figure:
    fig, (ax,) = _panels(1, ax, width=PAGE_WIDTH, height=4.6)
    p = fd.panels[0]
    colors = _colors(fd)
    # band_x: bands on another grid than the curve (bootstrap_edf's "x")
    _fill_bands(ax, [(s.data.get("band_x", s.data["error"] if "error" in s.data else s.data["x"]), s.data["lo"],
                      s.data["hi"], colors[s.group]) for s in p.series if "lo" in s.data], alpha=0.18, step="post")
    for s in p.series:
        x = s.data["error"] if "error" in s.data else s.data["x"]
        ax.step(x, s.data["cdf"], where="post", color=colors[s.group], linewidth=2.0, label=_label(s))
    ax.set_xlabel(p.xlabel)
    ax.set_ylabel(p.ylabel)
    ax.set_ylim(0, 1)
    _title(ax, p.title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=LEGEND)
    return fig


def _draw_top_widths(fd: FigureData, ax=None) -> Figure:
    fig, axes = _panels(len(fd.panels), ax, sharey=True)
    colors = _colors(fd)
    for ax, p in zip(axes, fd.panels):
        s = p.series[0]
        curves = [np.asarray(c, np.float64) for c in s.data["block_widths"]]
        # one collection per panel instead of one artist per model: far fewer draw calls
        ax.add_collection(LineCollection([np.column_stack([np.arange(c.size), c]) for c in curves if c.size],
                                         colors=colors[s.group], alpha=0.5, linewidths=1.2))
        dmax = max([c.size for c in curves] + [1])
        j = np.arange(dmax)
        a = p.values.get("fit_slope", float("nan"))
        ax.plot(j, a * (j + 1), color="black", linestyle="--", linewidth=1.3, label=f"fit: w_j = {a:.1f} (j + 1)")
        ax.set_xlim(-0.5, dmax - 0.5)
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(NullLocator())  # minor ticks of log axes are most of a figure's drawing time
        _title(ax, p.title)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=LEGEND)
    return fig


def _draw_efit(fd: FigureData, ax=None) -> Figure:
    fig, axes = _panels(len(fd.panels), ax, sharey=True, sharex=True)
    colors = _colors(fd)
    for ax, p in zip(axes, fd.panels):
        s = p.series[0]
        # markers of one Line2D: one draw_markers call, much cheaper than a scatter's path collection
        ax.plot(s.data["e_fit"], s.data["error"], "o", markersize=3.2, alpha=0.55, color=colors[s.group],
                markeredgewidth=0)
        ax.set_xscale("symlog", linthresh=1e-2)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        _title(ax, f"{s.group} (n={s.n}): median e_fit {p.values.get('median_e_fit', float('nan')):.3g}")
        ax.grid(alpha=0.3)
    return fig


def _draw_trends_error(fd: FigureData, ax=None) -> Figure:
    ax_given = ax is not None
    fig, axes = _panels(len(fd.panels), ax, legend_row=not ax_given)
    colors = _colors(fd)
    rows = {g: i for i, g in enumerate(space_order([s.group for p in fd.panels for s in p.series]))}
    for k, (ax, p) in enumerate(zip(axes, fd.panels)):
        strip = ax.get_xaxis_transform()  # x in data units, y in axes fraction
        segments, medians, seg_colors = [], [], []
        for s in p.series:
            ax.plot(s.data["x"], s.data["median"], marker="o", markersize=4, linewidth=1.6, color=colors[s.group],
                    label=_label(s))
            if np.isfinite(s.values.get("band_lo", np.nan)):
                y = 0.97 - 0.04 * rows[s.group]
                segments.append([(s.values["band_lo"], y), (s.values["band_hi"], y)])
                medians.append((s.values["band_median"], y))
                seg_colors.append(colors[s.group])
        if segments:  # all spaces' bands in two artists
            ax.add_collection(LineCollection(segments, colors=seg_colors, linewidths=3, alpha=0.75,
                                             transform=strip, capstyle="butt"))
            ax.scatter(*np.array(medians).T, s=18, c=seg_colors, transform=strip, zorder=3)
        ymin, ymax = ax.get_ylim()
        ax.set_ylim(ymin, ymax + (0.1 + 0.05 * len(rows)) * (ymax - ymin))  # room for the band strip
        x = np.concatenate([np.asarray(s.data["x"], np.float64) for s in p.series]) if p.series else np.array([])
        if len(x) and x.min() > 0 and x.max() / x.min() > 20:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        ax.grid(alpha=0.3)
    _legend_once(fig, axes, ax_given, len(rows))
    return fig


def _legend_once(fig, axes, ax_given: bool, ngroups: int):
    """A figure legend above a new figure's panels; in the caller's axes, a legend in the first."""
    if not axes:
        return
    if ax_given:
        axes[0].legend(fontsize=LEGEND - 1)
    else:
        _figure_legend(fig, axes[0], ngroups)


def _log_flops_axis(ax, flops_m):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_locator(NullLocator())
    f = np.asarray(flops_m, np.float64)
    f = f[np.isfinite(f) & (f > 0)]
    if f.size:
        ticks = np.unique(np.round(np.geomspace(f.min(), f.max(), 4), 2 if f.max() < 10 else 0))
        ax.set_xticks(ticks)


def _draw_trends_best(fd: FigureData, ax=None) -> Figure:
    ax_given = ax is not None
    fig, axes = _panels(len(fd.panels), ax, legend_row=not ax_given)
    colors = _colors(fd)
    for k, (ax, p) in enumerate(zip(axes, fd.panels)):
        _fill_bands(ax, [(np.asarray(s.data["flops"], np.float64) / 1e6, s.data["lo"], s.data["hi"], colors[s.group])
                         for s in p.series if len(s.data["flops"]) > 1], alpha=0.15)
        for s in p.series:
            x = np.asarray(s.data["flops"], np.float64) / 1e6
            if len(x) == 1:  # one bin: its band as a bar (a band of one point has no area)
                ax.vlines(x, s.data["lo"], s.data["hi"], color=colors[s.group], alpha=0.4, linewidth=4)
            ax.plot(x, s.data["median"], marker="o", markersize=4, linewidth=1.6, color=colors[s.group],
                    label=_label(s))
        _log_flops_axis(ax, np.concatenate([np.asarray(s.data["flops"], np.float64) for s in p.series]) / 1e6)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        _title(ax, p.title)
        ax.grid(alpha=0.3)
    _legend_once(fig, axes, ax_given, len(colors))
    return fig


def _draw_complexity(fd: FigureData, ax=None) -> Figure:
    fig, axes = _panels(2, ax, width=PAGE_WIDTH / 2, height=4.2, max_cols=2)
    colors = _colors(fd)
    for ax, p in zip(axes, fd.panels):
        xs = []
        for s in p.series:
            if s.group == "best per flops bin":
                ax.scatter(s.data["x"], s.data["y"], s=30, facecolors="none", edgecolors="black", linewidths=1.1,
                           label=f"best per flops bin (n={s.n})")
            else:
                ax.plot(s.data["x"], s.data["y"], "o", markersize=2.6, alpha=0.35, color=colors[s.group],
                        markeredgewidth=0, label=_label(s))
                xs.append(np.asarray(s.data["x"], np.float64))
        v = p.values
        if "slope" in v and xs:
            x = np.concatenate(xs)
            xx = np.linspace(np.min(x), np.max(x), 50)
            ax.plot(xx, v["slope"] * xx + v["intercept"], color="black", linewidth=1.6,
                    label=f"fit on best, r² = {v['r2']:.2f}")
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        _title(ax, p.title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=LEGEND - 1, markerscale=2, loc="upper left")  # "best" scans every point: slow
    return fig


def _draw_search(fd: FigureData, ax=None) -> Figure:
    fig, (ax,) = _panels(1, ax, width=PAGE_WIDTH, height=4.6)
    p = fd.panels[0]
    colors = _colors(fd)
    _fill_bands(ax, [(s.data["m"], s.data["lo"], s.data["hi"], colors[s.group]) for s in p.series], alpha=0.15)
    for s in p.series:
        m, c = s.data["m"], colors[s.group]
        ax.plot(m, s.data["lo"], color=c, linewidth=0.8, alpha=0.7, linestyle=":")
        ax.plot(m, s.data["hi"], color=c, linewidth=0.8, alpha=0.7, linestyle=":")
        ax.plot(m, s.data["expected"], color=c, linewidth=2.0, label=_label(s))
    ax.set_xscale("log", base=2)
    top = int(max(np.max(s.data["m"]) for s in p.series))
    ax.set_xticks([2**k for k in range(int(np.log2(max(top, 1))) + 1)])
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(p.xlabel)
    ax.set_ylabel(p.ylabel)
    _title(ax, p.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=LEGEND, loc="upper right")
    return fig


def _draw_fidelity(fd: FigureData, ax=None) -> Figure:
    fig, (ax,) = _panels(1, ax, width=6.0, height=5.0)
    p = fd.panels[0]
    colors = _colors(fd)
    for s in p.series:
        ax.scatter(s.data["error_a"], s.data["error_b"], s=16, alpha=0.65, color=colors[s.group], label=_label(s))
    ax.set_xlabel(p.xlabel)
    ax.set_ylabel(p.ylabel)
    v = p.values
    text = ", ".join(f"{sym} = {v[k]:.2f} [{v[k + '_lo']:.2f}, {v[k + '_hi']:.2f}]"
                     for k, sym in (("spearman", "ρ"), ("kendall", "τ")) if k in v)
    if text:
        _title(ax, text)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=LEGEND, loc="upper left")
    return fig


_DRAW = {"edf": _draw_edf, "edf_normalized": _draw_edf, "top_widths": _draw_top_widths, "efit": _draw_efit,
         "trends_error": _draw_trends_error, "trends_best": _draw_trends_best, "complexity": _draw_complexity,
         "search": _draw_search, "fidelity": _draw_fidelity}


# ---------------------------------------------------------------------------------------------
# the same figures from tidy DataFrames (notebooks; the report's CSV files)


def _counts(df: pd.DataFrame, by: str, column: str = "n"):
    """{group: n} from a table's n column (None when it has none)."""
    if column not in df:
        return None
    return df.groupby(by, sort=False)[column].first().to_dict()


def plot_edfs(curves: pd.DataFrame, bands: pd.DataFrame | None = None, by: str = "space", value: str = "error",
              title: str = "Error EDF", xlabel: str = "error (%)", counts: dict | None = None, ax=None) -> Figure:
    """EDF of each space (curves: tidy [by, value, cdf], optional n) with optional bootstrap bands
    (bands: tidy [by, value or x, lo, hi], from edf_bands); the paper's design-space comparison.
    Legend entries carry each space's number of models (`counts`, else the curves' n column)."""
    counts = counts if counts is not None else (_counts(curves, by) or {})
    curve_of = dict(iter(curves.groupby(by, sort=False)))
    band_of = dict(iter(bands.groupby(by, sort=False))) if bands is not None else {}
    series = []
    for name in space_order(curves[by]):
        c = curve_of[name]
        data = {"error": c[value].to_numpy(np.float64), "cdf": c["cdf"].to_numpy(np.float64)}
        if name in band_of:
            b = band_of[name]
            data["band_x"] = (b[value] if value in b else b["x"]).to_numpy(np.float64)
            data["lo"], data["hi"] = b["lo"].to_numpy(np.float64), b["hi"].to_numpy(np.float64)
        n = counts.get(name)
        series.append(Series(str(name), int(n) if n is not None and n == n else len(c), data))
    fd = FigureData("edf", title, "", (), (Panel("edf", title, xlabel, "cumulative probability", tuple(series)),))
    return _draw_edf(fd, ax)


def fitted_slope(widths, depths) -> float:
    """The slope a of w_j = a (j + 1) fitted to the per-block widths of the given models (least
    squares in log space: a = exp(mean_j log(w_j / (j + 1))) over every block of every model)."""
    return F.fitted_slope(F.block_widths(widths, depths))


def plot_top_widths(df: pd.DataFrame, top: int = 20, by: str = "space", max_spaces: int = 9, ax=None) -> Figure:
    """Per-block widths of each space's `top` lowest-error models (one panel per space, shared y
    axis), with the line w_j = a (j + 1) fitted to the models shown (the paper's Fig. 8 draws
    48 (j + 1), its fit for 400MF ImageNet models; here a comes from this population). `df` needs
    by, error, widths, depths (lists, or JSON text as in the CSV); an n_models column, when present,
    names how many models each space had."""
    best = df.sort_values("error", kind="stable").groupby(by, sort=False).head(top)
    if "n_models" not in best:
        best = best.assign(n_models=best[by].map(df.groupby(by).size()))
    fd = F.top_widths_figure(best[best[by].isin(space_order(df[by])[:max_spaces])], by)
    return draw(fd, ax)


def plot_efit(params: pd.DataFrame, by: str = "space", max_spaces: int = 9, metric: str = "logratio",
              ax=None) -> Figure:
    """e_fit against error, one panel per space, shared axes (params: design_parameters() with e_fit)."""
    keep = params[params[by].isin(space_order(params[by])[:max_spaces])]
    return draw(F.efit_figure(keep, by, metric), ax)


def plot_error_trends(bins: pd.DataFrame, bands: pd.DataFrame, by: str = "space", level: float = 0.95,
                      ax=None) -> Figure:
    """Error against each design parameter: binned median error per space (line and markers) and,
    as bars along the top of each panel, the bootstrap band where each space's best models lie
    (its central `level` interval, dot at the median)."""
    return draw(F.trends_error_figure(bins, bands, by, f"{level:.0%}"), ax)


def plot_best_model_bands(bands: pd.DataFrame, by: str = "space", level: float = 0.9, ax=None) -> Figure:
    """Where the best models lie against flops (bands: best_model_bands()): per space, the best-range
    median of each parameter in each flops bin, with its bootstrap band, on a log flops axis."""
    return draw(F.trends_best_figure(bands, None, by, f"{level:.0%}"), ax)


def plot_best_model_trends(best: pd.DataFrame, by: str = "space", ax=None) -> Figure:
    """Parameters of the best model in each flops bin against flops (best_model_trends()), one
    panel per parameter, log flops axis."""
    names_p = [p for p in PARAM_LABELS if p in best and best[p].notna().any()]
    fig, axes = _panels(max(len(names_p), 1), ax)
    colors = space_colors(best[by])
    of = {name: g.sort_values("flops") for name, g in best.groupby(by, sort=False)}
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
            ax.legend(fontsize=LEGEND - 1)
    return fig


def plot_complexity(params: pd.DataFrame, fits: pd.DataFrame, best: pd.DataFrame | None = None, by: str = "space",
                    ax=None) -> Figure:
    """params against flops and acts against sqrt(flops) (the paper's Fig. 12): every model faintly,
    the best model of each flops bin (`best`, from best_complexity_fits) marked, and the line fitted
    on them (fits rows with group "best per flops bin", else "all")."""
    if "group" in fits and (fits["group"] == "best per flops bin").any():
        fits = fits[fits["group"] == "best per flops bin"]
    best = best if best is not None else params.iloc[:0]
    return draw(F.complexity_figure(params, fits, best, by), ax)


def plot_search(eff: pd.DataFrame, by: str = "space", counts: dict | None = None, level: float = 0.9,
                ax=None) -> Figure:
    """Expected best error against the number of models drawn at random, with the central band of
    the best-of-m error (eff: search_efficiency(), optional n column for the legend); log2 m axis."""
    if counts is not None:
        eff = eff.assign(n=eff[by].map(counts))
    elif "n" not in eff:
        eff = eff.assign(n=0)
    return draw(F.search_figure(eff, by, f"{level:.0%}"), ax)


def plot_fidelity(pairs: pd.DataFrame, corr: pd.DataFrame | None = None, level: float = 0.9, ax=None) -> Figure:
    """Proxy fidelity: each shared model's error under budget a (x) and b (y), with the rank
    correlations in the title (pairs: proxy_fidelity()["pairs"], corr: its "correlation")."""
    corr = corr if corr is not None else pd.DataFrame(columns=["statistic", "estimate", "lo", "hi"])
    return draw(F.fidelity_figure(pairs, corr, f"{level:.0%}"), ax)
