"""e_fit: how well a model's per-block widths follow a quantized linear (RegNet) rule.

For a model with d blocks of widths w_0..w_{d-1} (stage widths repeated by stage depths), the paper
fixes d and searches the RegNet parameters (w0, wa, wm) whose generated widths ŵ_j (the RegNet
generator, designspace.spaces.regnet.generate_regnet, including its rounding to multiples of 8)
best match the observed ones. The fitting error is the paper's mean log-ratio of predicted to
observed widths (natural log, mean over the d blocks, absolute so that ratios above and below 1 do
not cancel):

    e_fit = mean_j |log w_j - log ŵ_j|                 (metric="logratio", the default)
    e_fit = mean_j (log w_j - log ŵ_j)^2               (metric="squared", the former definition)

e_fit is the mean relative width deviation in log units: e_fit <= log(1.1) ≈ 0.095 means the widths
are within about 10% of the fit on average (THRESHOLDS). A generated RegNet gives e_fit ≈ 0 (exactly
0 when no width/group compatibility step moved a width); one block off by a factor 2 out of 20
gives log(2)/20 = 0.035 (squared: 0.024).

The search is vectorized over many models at once:
1. Grid: every multiple of 8 for w0, geometric grids for wa and wm over the RegNet space's ranges.
   The generator's width j does not depend on d, so the grid's widths are generated once for the
   largest d and each model uses the first d columns. For a bucket of models of similar d, the
   squared error against every grid point is one matrix product:
   sum_j (L_ij - Lhat_gj)^2 = |L_i|^2 - 2 L_i.Lhat_g + |Lhat_g[:d]|^2.
2. Seeds read off the model's own stages (see `_stage_seed`): w0 = first width, wm inside the
   interval that rounds every stage width correctly, wa inside the interval that puts every stage
   boundary where it is (stage widths taken as consecutive width levels, or as the levels the grid
   fit's wm puts them on, which finds levels a RegNet skipped). For a generated RegNet this lands
   on its own quantization plateau, which a grid can miss (plateaus are thin in (wa, wm)); the
   better of grid point and seed is kept.
3. Local refinement (default 2 rounds): a 3x3 pattern search over (wa, wm) in log space, with
   halving steps, all models at once.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..spaces.regnet import RegNetSpace, generate_regnet

METRICS = ("logratio", "squared")
# e_fit thresholds in the default metric: widths within 5% / 10% / 25% of the fit on average
THRESHOLDS = {"5%": float(np.log(1.05)), "10%": float(np.log(1.10)), "25%": float(np.log(1.25))}
_CHUNK = 2048  # models per matrix product: bounds the (models x grid) float32 block at ~80 MB


def stage_arrays(widths, depths) -> tuple[np.ndarray, np.ndarray]:
    """Per-stage values and depths of N models (ragged lists, e.g. a store's `widths` or
    `bottleneck_ratios` column and its `depths`) as zero-padded (N, S) float and int arrays."""
    n = len(widths)
    lens = np.fromiter((len(w) for w in widths), np.int64, n)
    total = int(lens.sum())
    s = int(lens.max()) if n else 0
    rows = np.repeat(np.arange(n), lens)
    cols = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    W = np.zeros((n, s))
    D = np.zeros((n, s), np.int64)
    W[rows, cols] = np.fromiter(itertools.chain.from_iterable(widths), np.float64, total)
    D[rows, cols] = np.fromiter(itertools.chain.from_iterable(depths), np.int64, total)
    return W, D


def block_widths(widths, depths) -> tuple[np.ndarray, np.ndarray]:
    """Per-block widths of N models from their stage widths and depths (lists or arrays).

    Returns (block widths (N, max d) float64, 0 past each model's d; d (N,) int64)."""
    W, D = stage_arrays(widths, depths)
    s = W.shape[1]
    total = D.sum(axis=1)
    ends = np.cumsum(D, axis=1)  # block j belongs to the first stage whose cumulative depth exceeds j
    j = np.arange(int(total.max()) if len(total) else 0)
    stage = (j[None, :, None] >= ends[:, None, :]).sum(axis=2)
    out = np.take_along_axis(W, np.minimum(stage, max(s - 1, 0)), axis=1)
    return np.where(j[None, :] < total[:, None], out, 0.0), total


def default_grid(num_wa: int = 24, num_wm: int = 12, space=RegNetSpace) -> dict:
    """The coarse search grid: all multiples of 8 in the space's w0 range, geometric wa and wm."""
    return {
        "w0": np.arange(space.w0_range[0], space.w0_range[1] + 1, 8, dtype=np.float64),
        "wa": np.geomspace(*space.wa_range, num_wa),
        "wm": np.geomspace(*space.wm_range, num_wm),
    }


def _log_widths(w0, wa, wm, d) -> np.ndarray:
    ws = generate_regnet(w0, wa, wm, d)[0].astype(np.float64)
    return np.log(np.maximum(ws, 1.0))  # padding (0) -> 0; a width rounded to 0 counts as 1


def fit_regnet(widths, depths, grid: dict | None = None, refine: int = 2, metric: str = "logratio",
               pad_to: int | None = None) -> pd.DataFrame:
    """Fit (w0, wa, wm) at fixed d to each model's per-block widths; see the module docstring.

    widths, depths: per model, stage widths and stage depths (sequences of lists or 2-D arrays).
    grid: {"w0", "wa", "wm"} 1-D arrays (default `default_grid()`); refine: rounds of local search;
    metric: "logratio" or "squared" (module docstring). The grid stage ranks candidates by the squared
    error (one matrix product); seeds and refinement minimize `metric`. pad_to: the largest d of the
    whole population when these models are a part of it (see `split_by_depth`), so that every part
    runs the grid stage's products at the shapes the whole would, and gets the same fits.
    Returns a DataFrame (one row per model, in input order) with d, w0, wa, wm and e_fit
    (NaN for a model without blocks)."""
    if metric not in METRICS:
        raise ValueError(f"e_fit metric must be one of {METRICS}, got {metric!r}")
    widths, depths = list(widths), list(depths)
    d_all = stage_arrays(widths, depths)[1].sum(axis=1)
    if len(d_all) and not np.all(d_all > 0):
        keep = np.flatnonzero(d_all > 0)
        out = pd.DataFrame({"d": d_all, **{k: np.full(len(d_all), np.nan) for k in ("w0", "wa", "wm", "e_fit")}})
        if len(keep):
            fit = fit_regnet([widths[i] for i in keep], [depths[i] for i in keep], grid, refine, metric, pad_to)
            out.loc[keep, ["w0", "wa", "wm", "e_fit"]] = fit[["w0", "wa", "wm", "e_fit"]].to_numpy()
        return out
    bw, d = block_widths(widths, depths)
    if len(d) == 0:
        return pd.DataFrame(columns=["d", "w0", "wa", "wm", "e_fit"])
    grid = default_grid() if grid is None else grid
    L = np.log(np.maximum(bw, 1.0))  # padding -> 0, so it drops out of the products
    from threadpoolctl import threadpool_limits

    # one BLAS thread: OpenBLAS's float32 products are not bit-identical across thread counts (measured: at
    # 10,000 synthetic models 2 fits changed between 1 and 2 threads), and a report must be the same from one
    # process (BLAS on every core) and from a pool (one thread per process)
    with threadpool_limits(limits=1, user_api="blas"):
        w0, wa, wm = _grid_search(L, d, grid, pad_to)
    err = _errors(L, d, w0, wa, wm, metric)
    W, D = stage_arrays(widths, depths)
    for guess in (None, wm.copy()):  # stages as consecutive levels; levels placed by the grid's wm
        s0, sa, sm = _stage_seed(W, D, guess)
        serr = _errors(L, d, s0, sa, sm, metric)
        use = serr < err
        w0, wa, wm, err = (np.where(use, a, b) for a, b in ((s0, w0), (sa, wa), (sm, wm), (serr, err)))
    wa, wm, err = _pattern_search(L, d, w0, wa, wm, err, grid, refine, metric)
    return pd.DataFrame({"d": d, "w0": w0, "wa": wa, "wm": wm, "e_fit": err})


def _grid_search(L: np.ndarray, d: np.ndarray, grid: dict,
                 pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid point nearest each model's log block widths L (squared error): (w0, wa, wm) per model.

    One matrix product per bucket of similar d (d rounded up to a multiple of 8): few, large BLAS
    calls. |L_i|^2 is constant per model, so the argmin needs only |Lhat_g[:d]|^2 - 2 L_i.Lhat_g;
    both terms come out of one product: L_i is extended by a one-hot of its d within the bucket,
    -2 Lhat by the matching rows of the prefix sums. L's zero padding past d drops out."""
    g0, ga, gm = (g.ravel() for g in np.meshgrid(grid["w0"], grid["wa"], grid["wm"], indexing="ij"))
    dmax = max(int(d.max()), int(pad_to or 0))
    if L.shape[1] < dmax:  # a part of a population: zero padding up to the whole's largest d
        L = np.pad(L, ((0, 0), (0, dmax - L.shape[1])))
    lhat = _log_widths(g0, ga, gm, np.full(g0.size, dmax))  # (G, dmax)
    lhat_sq_prefix = np.cumsum(lhat**2, axis=1)  # |Lhat_g[:d]|^2 = prefix[:, d-1]
    neg2_lhat_t = np.ascontiguousarray(-2.0 * lhat.T, np.float32)  # (dmax, G)
    sq_t = np.ascontiguousarray(lhat_sq_prefix.T, np.float32)  # (dmax, G): row d-1 = |Lhat_g[:d]|^2
    L32 = L.astype(np.float32)
    bucket = -(-d // 8) * 8
    best = np.zeros(len(d), np.int64)
    for top in np.unique(bucket):
        rows = np.flatnonzero(bucket == top)
        width = min(int(top), dmax)
        first = int(top) - 8  # the bucket holds d in (top - 8, top]
        right = np.vstack([neg2_lhat_t[:width], sq_t[first:width]])
        for start in range(0, len(rows), _CHUNK):
            r = rows[start:start + _CHUNK]
            left = np.zeros((len(r), width + width - first), np.float32)
            left[:, :width] = L32[r, :width]
            left[np.arange(len(r)), width + d[r] - 1 - first] = 1.0
            best[r] = np.argmin(left @ right, axis=1)
    return g0[best], ga[best], gm[best]


def _pattern_search(L, d, w0, wa, wm, err, grid, refine, metric):
    """`refine` rounds of pattern search over (wa, wm) in log space, steps halving from the coarse grid's
    spacing; each model keeps the best of its 8 neighbours when it lowers its error."""
    step_a = np.log(grid["wa"][1] / grid["wa"][0]) if len(grid["wa"]) > 1 else 0.1
    step_m = np.log(grid["wm"][1] / grid["wm"][0]) if len(grid["wm"]) > 1 else 0.05
    lo_a, hi_a = RegNetSpace.wa_range
    lo_m, hi_m = RegNetSpace.wm_range
    offsets = np.array([(a, m) for a in (-1, 0, 1) for m in (-1, 0, 1) if a or m], np.float64)
    for _ in range(refine):
        step_a, step_m = step_a / 2, step_m / 2
        todo = np.flatnonzero(err > 0)  # an exact fit cannot improve
        if not len(todo):
            break
        k = len(offsets)
        cw0 = np.repeat(w0[todo], k)
        cwa = np.clip(np.repeat(wa[todo], k) * np.exp(np.tile(offsets[:, 0], len(todo)) * step_a), lo_a, hi_a)
        cwm = np.clip(np.repeat(wm[todo], k) * np.exp(np.tile(offsets[:, 1], len(todo)) * step_m), lo_m, hi_m)
        cerr = _errors(np.repeat(L[todo], k, axis=0), np.repeat(d[todo], k), cw0, cwa, cwm, metric).reshape(-1, k)
        pick = np.argmin(cerr, axis=1)
        better = cerr[np.arange(len(todo)), pick] < err[todo]
        sel = todo[better]
        flat = (np.arange(len(todo)) * k + pick)[better]
        wa[sel], wm[sel], err[sel] = cwa[flat], cwm[flat], cerr[better, pick[better]]
    return wa, wm, err


def _stage_seed(W, D, wm_guess=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RegNet parameters read off each model's stages.

    Stage i is given width level s_i: i itself, or, with `wm_guess` (e.g. the grid fit's wm),
    round(log(w_i / w_0) / log(wm_guess)), which finds the levels a RegNet skipped. Then
    w_i = round(w0 * wm^s_i / 8) * 8 needs wm in [((w_i - 4) / w0)^(1/s_i), ((w_i + 4) / w0)^(1/s_i));
    stage i starting at block b_i needs wa >= w0 (wm^(s_i - 1/2) - 1) / b_i and
    wa < w0 (wm^(s_{i-1} + 1/2) - 1) / (b_i - 1), and the last block must stay below the next level.
    The centre of each interval (clipped to the space's ranges) is the seed; empty intervals (a
    model that is no RegNet) still give a usable guess."""
    n, s = W.shape
    # empty stages are not width levels: move them to the end
    order = np.argsort(D == 0, axis=1, kind="stable")
    D = np.take_along_axis(D, order, axis=1).astype(np.float64)
    W = np.where(D > 0, np.take_along_axis(W, order, axis=1), np.nan)
    w0 = np.maximum(np.round(W[:, 0] / 8) * 8, 8.0)
    has = D > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if wm_guess is None:
            level = np.broadcast_to(np.arange(s, dtype=np.float64), (n, s)).copy()
        else:
            level = np.round(np.log(W / w0[:, None]) / np.log(np.asarray(wm_guess, np.float64))[:, None])
            level = np.where(has, level, 0.0)
            level[:, 0] = 0.0
            for k in range(1, s):  # distinct stages are distinct, increasing levels
                level[:, k] = np.maximum(level[:, k], level[:, k - 1] + 1)
        lo_m = np.where(has & (level > 0), ((W - 4) / w0[:, None]) ** (1 / level), np.nan)
        hi_m = np.where(has & (level > 0), ((W + 4) / w0[:, None]) ** (1 / level), np.nan)
        lo_m = np.nanmax(np.c_[lo_m, np.full(n, RegNetSpace.wm_range[0])], axis=1)
        hi_m = np.nanmin(np.c_[hi_m, np.full(n, RegNetSpace.wm_range[1])], axis=1)
        wm = np.where(lo_m < hi_m, np.sqrt(lo_m * hi_m), np.clip(lo_m, *RegNetSpace.wm_range))
        start = np.cumsum(D, axis=1) - D  # first block of each stage
        prev = np.c_[np.zeros(n), level[:, :-1]]
        reach = w0[:, None] * (wm[:, None] ** (level - 0.5) - 1)  # u_j needed to reach level s_i
        stay = w0[:, None] * (wm[:, None] ** (prev + 0.5) - 1)  # u_j allowed before leaving s_{i-1}
        lo_a = np.where(has & (level > 0), reach / start, np.nan)
        hi_a = np.where(has & (level > 0) & (start > 1), stay / (start - 1), np.nan)
        last = np.take_along_axis(level, np.maximum(has.sum(axis=1) - 1, 0)[:, None], axis=1)[:, 0]
        top = w0 * (wm ** (last + 0.5) - 1) / np.maximum(D.sum(axis=1) - 1, 1)  # last block stays at its level
        lo_a = np.nanmax(np.c_[lo_a, np.full(n, RegNetSpace.wa_range[0])], axis=1)
        hi_a = np.nanmin(np.c_[hi_a, top, np.full(n, RegNetSpace.wa_range[1])], axis=1)
        wa = np.where(lo_a < hi_a, 0.5 * (lo_a + hi_a), np.clip(lo_a, *RegNetSpace.wa_range))
    return w0, np.clip(wa, *RegNetSpace.wa_range), np.clip(wm, *RegNetSpace.wm_range)


def _errors(L, d, w0, wa, wm, metric: str = "logratio") -> np.ndarray:
    """e_fit of per-model log widths L (N, >= max d) against RegNet parameters, in float64.

    Models are processed in groups of equal d so the generator pads only to that d."""
    out = np.empty(len(d))
    for dd in np.unique(d):
        r = np.flatnonzero(d == dd)
        lh = _log_widths(w0[r], wa[r], wm[r], np.full(len(r), dd))
        diff = L[r, :dd] - lh[:, :dd]
        out[r] = np.mean(np.abs(diff) if metric == "logratio" else diff**2, axis=1)
    return out


def split_by_depth(depths, parts: int = 2) -> tuple[list[np.ndarray], int]:
    """Row indices of `parts` groups of models, each holding whole buckets of the grid stage (total
    depth d rounded up to a multiple of 8) in their original order, about equal in size; and the
    largest d. Fitting each group with fit_regnet(..., pad_to=largest d) gives exactly the rows the
    whole population's fit gives (the same matrix products, row for row), so the groups can be
    fitted in separate processes."""
    d = np.fromiter((sum(v) for v in depths), np.int64, len(depths))
    bucket = -(-d // 8) * 8
    keys, counts = np.unique(bucket, return_counts=True)
    group_of, load = {}, np.zeros(parts, np.int64)
    for k in keys[np.argsort(-counts, kind="stable")]:  # largest buckets first, each to the lightest group
        g = int(np.argmin(load))
        group_of[int(k)] = g
        load[g] += counts[keys == k][0]
    owner = np.array([group_of[int(b)] for b in bucket], np.int64) if len(d) else np.zeros(0, np.int64)
    return [np.flatnonzero(owner == g) for g in range(parts)], int(d.max()) if len(d) else 0


def model_efit(df: pd.DataFrame, grid: dict | None = None, refine: int = 2, metric: str = "logratio",
               pad_to: int | None = None) -> pd.DataFrame:
    """e_fit and fitted RegNet parameters of every model in a store DataFrame (columns `widths`,
    `depths` holding per-stage lists). Returns a DataFrame with the same index and columns
    e_fit, fit_d, fit_w0, fit_wa, fit_wm. pad_to: see fit_regnet."""
    fit = fit_regnet(list(df["widths"]), list(df["depths"]), grid=grid, refine=refine, metric=metric, pad_to=pad_to)
    fit.index = df.index
    return fit.rename(columns={"d": "fit_d", "w0": "fit_w0", "wa": "fit_wa", "wm": "fit_wm"})[
        ["e_fit", "fit_d", "fit_w0", "fit_wa", "fit_wm"]]
