"""DefinedSpace: a design space made from a SpaceDef (data), drawn as numpy batches.

anynet: every stage's d, w, b, g drawn from its distribution (per stage or once per model),
non-decreasing parameters by vectorized rejection (exact: widths and depths are independent, so
ordered tuples are drawn separately and paired), ties applied, then pycls's width / group
compatibility. regnet: d, w0, wa, wm, b, g drawn, ties applied, the quantized linear widths
generated and draws without exactly `stages` stages (all levels used) rejected, as pycls does.
"""
from __future__ import annotations

import numpy as np

from .base import DesignSpace, Draw
from .common import adjust_block_compatibility, ordered_draws, ordered_from_pmfs
from .definition import SpaceDef
from .regnet import regnet_stage_arrays


class DefinedSpace(DesignSpace):
    def __init__(self, sdef: SpaceDef):
        self.sdef = sdef
        self.name = sdef.name
        self.description = sdef.description
        self.block, self.se_ratio = sdef.block, float(sdef.se)
        self.stem_width, self.stride = sdef.stem_width, sdef.stride
        self.num_stages = sdef.stages
        self._params = dict(sdef.params)
        self._ties = dict(sdef.tie)

    # --- the data --------------------------------------------------------------------------------
    @property
    def constraints(self):
        return self.sdef.exprs

    def definition(self) -> dict:
        return self.sdef.to_dict()

    @property
    def free_params(self):
        out = []
        s = self.num_stages
        for name, prm in self.sdef.params:
            if name in self._ties:
                out.append((name, f"tied: {name} = {self._ties[name]}"))
                continue
            label = f"{name}1..{name}{s}" if prm.per_stage else name
            shared = "shared, " if self.sdef.kind == "anynet" and not prm.per_stage and name in "dwbg" else ""
            out.append((label, shared + prm.describe()))
        out += [("constraint", c) for c in self.sdef.constraints]
        if self.se_ratio:
            out.append(("se", f"fixed SE ratio {self.se_ratio:g}"))
        return out

    # --- drawing ---------------------------------------------------------------------------------
    def _stage_draw(self, root: str):
        """(rng, k) -> (k, S) draws of an anynet stage parameter (shared or per stage, with any
        per-stage overrides and within-parameter ties)."""
        p, s = self._params[root], self.num_stages
        overrides = [(i, self._params[f"{root}{i + 1}"].dist) for i in range(s) if f"{root}{i + 1}" in self._params]
        stage_ties = [(int(t[len(root):]) - 1, src) for t, src in self._ties.items()
                      if t[:len(root)] == root and t[len(root):].isdigit()
                      and src[:len(root)] == root and src[len(root):].isdigit()]

        draw_ordered = None
        dists = [dict(overrides).get(i, p.dist) for i in range(s)]
        adjacent = all(abs(t - int(src[len(root):]) + 1) == 1 for t, src in stage_ties)
        if p.non_decreasing and adjacent and all(d.pmf() is not None for d in dists) and (p.per_stage or overrides):
            # exact, no rejection. A stage tied to a neighbour drops out: its own draw is discarded
            # and the order between the two holds by construction.
            free = [i for i in range(s) if i not in {t for t, _ in stage_ties}]
            pmfs = [dists[i].pmf() for i in free]
            copies = [(t, int(src[len(root):]) - 1) for t, src in stage_ties]

            def draw_ordered(rng, k):
                out = np.empty((k, s), np.int64 if all(np.issubdtype(v.dtype, np.integer) for v, _ in pmfs)
                               else np.float64)
                out[:, free] = ordered_from_pmfs(rng, k, pmfs)
                for t, src in copies:
                    out[:, t] = out[:, src]
                return out

        def draw(rng, k):
            a = p.dist.sample(rng, (k, s) if p.per_stage else (k, 1))
            if overrides or not p.per_stage:  # float where an override may be fractional (b1 = 0.5)
                a = np.array(np.broadcast_to(a, (k, s)), np.float64 if overrides else a.dtype)
            for i, dist in overrides:
                a[:, i] = dist.sample(rng, k)
            for i, src in stage_ties:
                a[:, i] = a[:, int(src[len(root):]) - 1]
            return a

        draw.ordered = draw_ordered
        return draw

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        return self._draw_regnet(rng, m) if self.sdef.kind == "regnet" else self._draw_anynet(rng, m)

    def _draw_anynet(self, rng, m):
        s = self.num_stages
        cols = {}
        for root in ("d", "w", "b", "g"):
            draw = self._stage_draw(root)
            if not self._params[root].non_decreasing:
                cols[root] = draw(rng, m)
            else:
                cols[root] = draw.ordered(rng, m) if draw.ordered else ordered_draws(draw, rng, m)
        keep = np.ones(m, bool)
        for t, src in self._ties.items():  # ties across parameters (e.g. g: b, or w1: d1)
            rt, rs = t.rstrip("0123456789"), src.rstrip("0123456789")
            if rt == rs and t != rt:
                continue  # within a parameter: done in its draw
            value = cols[rs][:, int(src[len(rs):]) - 1] if src != rs else cols[rs][:, 0]
            if t == rt:
                cols[rt] = np.repeat(np.asarray(value)[:, None], s, axis=1).astype(cols[rt].dtype)
            else:
                cols[rt] = cols[rt].copy()
                cols[rt][:, int(t[len(rt):]) - 1] = value
            if self._params[rt].non_decreasing:  # a tie from outside may break the order: reject those
                keep &= np.all(np.diff(cols[rt], axis=1) >= 0, axis=1)
        if not keep.all():
            cols = {k: v[keep] for k, v in cols.items()}
        b = cols["b"].astype(np.float64)
        widths, g = adjust_block_compatibility(cols["w"], b, cols["g"])
        return Draw(widths=widths, depths=cols["d"].astype(np.int64), bottleneck_ratios=b, group_widths=g)

    def _draw_regnet(self, rng, m):
        s = self.num_stages
        v = {name: self._params[name].dist.sample(rng, m) for name in ("d", "w0", "wa", "wm", "b", "g")}
        for t, src in self._ties.items():
            v[t] = v[src]
        d = np.asarray(v["d"]).astype(np.int64)
        w0, wa, wm = (np.asarray(v[k], np.float64) for k in ("w0", "wa", "wm"))
        b, g = np.asarray(v["b"], np.float64), np.asarray(v["g"]).astype(np.int64)
        w0_meta = v["w0"] if "w0" not in self._ties and np.issubdtype(np.asarray(v["w0"]).dtype, np.integer) else w0
        with np.errstate(all="ignore"):
            # levels are non-decreasing, so the last block's level (same arithmetic as the generator)
            # is the top one: drop draws without exactly S levels before building the block matrix
            top = np.round(np.log(((d - 1) * wa + w0) / w0) / np.log(wm))
        pre = (top == s - 1) & (d >= 1) & (w0 > 0)
        d, w0, wa, wm, b, g, w0_meta = (x[pre] for x in (d, w0, wa, wm, b, g, np.asarray(w0_meta)))
        # pycls keeps a draw only if every width level is used and there are exactly S stages
        widths, depths, keep = regnet_stage_arrays(w0, wa, wm, d, s)
        widths, depths, d, w0, wa, wm, b, g, w0_meta = (
            x[keep] for x in (widths, depths, d, w0, wa, wm, b, g, w0_meta))
        bb = np.repeat(b[:, None], s, axis=1)
        gg = np.repeat(g[:, None], s, axis=1)
        widths, gg = adjust_block_compatibility(widths, bb, gg)
        return Draw(widths=widths, depths=depths, bottleneck_ratios=bb, group_widths=gg,
                    meta={"d": d, "w0": w0_meta, "wa": wa, "wm": wm,
                          "sampled_group_width": g, "sampled_bottleneck_ratio": b})

    def column_extras(self, dr: Draw) -> dict:
        return {k: dr.meta[k] for k in ("w0", "wa", "wm") if k in dr.meta}
