"""Vectorized closed-form complexity of gradient-path stages (seed-families.md §1.6), pycls conventions.

The host arithmetic (``block_complexity``, ``_conv``) is reused from designspace.complexity; this module
only adds how each family wires host blocks and CBA units; what ODE stacking changes in a run of
residual functions is designspace.families.ode.complexity (its columns join these). Specs (or sampler draws) become
:class:`FamilyArrays`, per-stage option columns; each stage is costed once per topology, on the rows
that have it. Pooling, slicing, masks, concatenation, scalar mixing and stop-gradient cost nothing;
pool outputs are not counted as activations (as in the MP-entry formula of §1.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ...complexity import RES_BOTTLENECK, VANILLA, SpecArrays, _bn, _conv, block_complexity, stem_output_size
from ...limits import MAX_WIDTH
from ...regimes import Regime, get_regime
from ...spaces.common import adjust_block_compatibility
from ..ode import complexity as ode_cx
from .options import CSP_VARIANTS, TOPOLOGIES, StageOptions

OSA_NONE, OSA_LAST, OSA_ALL = range(3)
MAX_STAGE_OUTPUT = 4 * MAX_WIDTH  # widest concat a stage may hand on: keeps every cost inside int64
OSA_CODE = {"none": OSA_NONE, "last": OSA_LAST, "all": OSA_ALL}

# column -> (dtype, default); defaults describe a plain residual stage
COLUMNS = {
    "kind": (np.int64, 0), "prn_slice": (bool, False),
    "csp_variant": (np.int64, 0), "csp_ratio": (np.float64, 0.5), "csp_conv_split": (bool, True),
    "csp_conv_entry": (bool, False),
    "elan_rho": (np.float64, 0.25), "elan_eta": (np.float64, 1.0), "elan_m": (np.int64, 4),
    "elan_r": (np.int64, 2), "elan_blocks": (np.int64, 1), "elan_transition": (bool, True),
    "elan_mp": (bool, True),
    "csp_osa": (bool, False), "osa_hidden": (np.int64, 8), "osa_m": (np.int64, 5),
    "osa_transition": (np.int64, OSA_ALL),
    "osa_ceil": (bool, False), **ode_cx.COLUMNS,
}


@dataclass
class FamilyArrays:
    """Per-stage family option columns, each (N, S), aligned with a SpecArrays."""

    cols: dict

    @classmethod
    def empty(cls, n: int, s: int) -> FamilyArrays:
        return cls({k: np.full((n, s), v, dt) for k, (dt, v) in COLUMNS.items()})

    @classmethod
    def from_options(cls, options: list[list[StageOptions]], s: int) -> FamilyArrays:
        fam = cls.empty(len(options), s)
        c = fam.cols
        for i, stages in enumerate(options):
            for j, o in enumerate(stages):
                c["kind"][i, j] = TOPOLOGIES.index(o.topology)
                c["prn_slice"][i, j] = o.prn_slice
                c["csp_variant"][i, j] = CSP_VARIANTS.index(o.csp_variant)
                c["csp_ratio"][i, j] = o.csp_ratio
                c["csp_conv_split"][i, j] = o.csp_conv_split
                c["csp_conv_entry"][i, j] = o.csp_conv_entry
                c["csp_osa"][i, j] = o.csp_osa
                c["elan_rho"][i, j], c["elan_eta"][i, j] = o.elan_rho, o.elan_eta
                c["elan_m"][i, j], c["elan_r"][i, j], c["elan_blocks"][i, j] = o.elan_m, o.elan_r, o.elan_blocks
                c["elan_transition"][i, j], c["elan_mp"][i, j] = o.elan_transition, o.elan_mp
                c["osa_hidden"][i, j], c["osa_m"][i, j] = o.osa_hidden, o.osa_m
                c["osa_transition"][i, j] = OSA_CODE[o.osa_transition]
                c["osa_ceil"][i, j] = o.osa_ceil
                for k, v in ode_cx.stage_columns(o.ode).items():
                    c[k][i, j] = v
        return fam

    def take(self, idx) -> FamilyArrays:
        return FamilyArrays({k: v[idx] for k, v in self.cols.items()})


def round8(x) -> np.ndarray:
    """Nearest multiple of 8 (halves up), at least 8: the width rounding of CSP and ELAN."""
    return np.maximum(8, np.floor(np.asarray(x, np.float64) / 8 + 0.5).astype(np.int64) * 8)


def csp_widths(width, ratio, conv_split, block, b, g):
    """(c_b, g_b, c_p): block-path width (made group-compatible for X blocks, as RegNet does for w),
    its group width, and the bypass width (C - c_b for a slice split, round8((1-γ)C) for a conv split)."""
    width = np.asarray(width, np.int64)
    c_b = round8(ratio * width)
    adj_b, adj_g = adjust_block_compatibility(c_b, b, g)
    bottleneck = np.asarray(block) == RES_BOTTLENECK
    c_b = np.where(bottleneck, adj_b, c_b)
    g_b = np.where(bottleneck, adj_g, g)
    c_p = np.where(conv_split, round8((1 - np.asarray(ratio)) * width), width - c_b)
    return c_b, g_b, c_p


def elan_widths(width, rho, eta):
    """(c_p, c_h) of an ELAN block with C_out = width."""
    c_p = round8(rho * np.asarray(width))
    return c_p, round8(eta * c_p)


def cba(c_in, c_out, k, h_out, groups=1) -> np.ndarray:
    """(flops, params, acts) stacked as a (3, ...) array: conv (no bias) + BN."""
    f, p, a = _conv(c_in, c_out, k, h_out, groups)
    return np.stack(np.broadcast_arrays(f, p + _bn(c_out)[1], a)).astype(np.int64)


def _block(*args) -> tuple[np.ndarray, np.ndarray]:
    f, p, a, h_out = block_complexity(*args)
    return np.stack(np.broadcast_arrays(f, p, a)).astype(np.int64), h_out


# --- one function per topology: (cols) -> (cost (3, n), h_out, w_out, ok) ---
def _residual(c):
    first, h_out = _block(c.blk, c.w_in, c.w, c.stride, c.h, c.b, c.g, c.se)
    rest, _ = _block(c.blk, c.w, c.w, 1, h_out, c.b, c.g, c.se)
    cost = first + np.maximum(c.d - 1, 0) * rest
    ode_params, ode_free_shortcut, ok = ode_cx.stacking_terms(c, c.d, c.w_in, c.w)
    # a PRN slice shortcut (darknet's asymmetric residual) or option A's zero pad replaces the projection conv
    reshapes = (c.blk != VANILLA) & ((c.w_in != c.w) | (c.stride != 1))
    cost -= np.where((c.prn_slice | ode_free_shortcut) & reshapes, cba(c.w_in, c.w, 1, h_out), 0)
    cost[1] += ode_params
    return cost, h_out, c.w, ok


def _osa_modules(c_in, hidden, m, modules, transition, w_out, h_out):
    """`modules` OSA modules from width c_in; a module with a transition hands on w_out, one without
    its concat (c_in + m * hidden). -> (cost (3, n), output width)."""
    cost = np.zeros((3, len(c_in)), np.int64)
    for k in range(int(modules.max(initial=0))):
        on = modules > k
        trans = (transition == OSA_ALL) | ((transition == OSA_LAST) & (k == modules - 1))
        module = (cba(c_in, hidden, 3, h_out) + (m - 1) * cba(hidden, hidden, 3, h_out)
                  + np.where(trans, cba(c_in + m * hidden, w_out, 1, h_out), 0))
        cost += np.where(on, module, 0)
        c_in = np.where(on, np.where(trans, w_out, c_in + m * hidden), c_in)
    return cost, c_in


def _csp(c):
    h_out = (c.h - 1) // c.stride + 1
    entry_block, _ = _block(c.blk, c.w_in, c.w, c.stride, c.h, c.b, c.g, c.se)
    cost = np.where(c.csp_conv_entry, cba(c.w_in, c.w, 3, h_out), entry_block)
    body_depth = c.d - np.where(c.csp_conv_entry, 0, 1)
    c_b, g_b, c_p = csp_widths(c.w, c.csp_ratio, c.csp_conv_split, c.blk, c.b, c.g)
    cost += np.where(c.csp_conv_split, cba(c.w, c_p, 1, h_out) + cba(c.w, c_b, 1, h_out), 0)
    # body: host blocks at width c_b, or (CSPVoVNet) OSA modules from c_b whose width may grow
    body, _ = _block(c.blk, c_b, c_b, 1, h_out, c.b, g_b, c.se)
    modules = np.where(c.csp_osa, c.d // c.osa_m, 0)
    osa_body, c_o = _osa_modules(c_b, c.osa_hidden, c.osa_m, modules, c.osa_transition, c_b, h_out)
    cost += np.where(c.csp_osa, osa_body, body_depth * body)
    c_o = np.where(c.csp_osa, c_o, c_b)
    cost[1] += ode_cx.stacking_terms(c, body_depth, c_b, c_b)[0]  # RK / LM blocks in the body
    v = c.csp_variant
    fuse = cba(np.where(v == 0, c_b, c_o) + c_p, c.w, 1, h_out)
    cost += np.where(v == 0, cba(c_o, c_b, 1, h_out) + fuse, np.where(v == 1, fuse, cba(c_o, c.w - c_p, 1, h_out)))
    ok = (c_p >= 1) & (c_b >= 1) & (c.w - c_p >= 1)
    return cost, h_out, c.w, ok


def _elan(c):
    h_out = (c.h - 1) // c.stride + 1
    half = c.w_in // 2
    mp = cba(c.w_in, half, 1, h_out) + cba(c.w_in, half, 1, c.h) + cba(half, half, 3, h_out)
    entry = np.where(c.elan_mp, mp, cba(c.w_in, c.w_in, 3, h_out))
    has_entry = c.stride > 1
    cost = np.where(has_entry, entry, 0)
    ok = ~(has_entry & c.elan_mp & (c.w_in % 2 == 1))
    c_p, c_h = elan_widths(c.w, c.elan_rho, c.elan_eta)
    m, r = c.elan_m, c.elan_r
    cat_width = 2 * c_p + (m // r) * c_h
    w_out = np.where(c.elan_transition, c.w, cat_width)
    c_in = c.w_in
    for k in range(int(c.elan_blocks.max())):
        on = c.elan_blocks > k
        block = (2 * cba(c_in, c_p, 1, h_out) + cba(c_p, c_h, 3, h_out) + (m - 1) * cba(c_h, c_h, 3, h_out)
                 + np.where(c.elan_transition, cba(cat_width, c.w, 1, h_out), 0))
        cost += np.where(on, block, 0)
        c_in = np.where(on, w_out, c_in)
    return cost, h_out, w_out, ok


def _osa(c):
    # the entry is a free 3x3 max pool: padding 1, or VoVNet's ceil_mode without padding
    pad_out = (c.h - 1) // c.stride + 1
    ceil_out = (c.h - 3 + c.stride - 1) // c.stride + 1
    h_out = np.where(c.stride > 1, np.where(c.osa_ceil, ceil_out, pad_out), c.h)
    cost, w_out = _osa_modules(c.w_in, c.osa_hidden, c.osa_m, c.d // c.osa_m, c.osa_transition, c.w, h_out)
    return cost, h_out, w_out, h_out >= 1


TOPOLOGY_CX = (_residual, _csp, _elan, _osa)  # indexed like options.TOPOLOGIES


def family_complexity_arrays(arr: SpecArrays, fam: FamilyArrays, regime: str | Regime = "imagenet",
                             per_stage: bool = False) -> dict:
    """{"flops", "params", "acts"} (N,) int64 and "valid" (N, S) bool (a width too narrow for a CSP
    split or an odd width into an MP entry); per_stage adds "stage_*" (N, S) columns."""
    rg = get_regime(regime)
    n, s = arr.widths.shape
    h = stem_output_size(arr, rg)
    total = cba(rg.channels, arr.stem_widths, 3, h)
    stage_cost = np.zeros((3, n, s), np.int64)
    valid = np.ones((n, s), bool)
    w_in = arr.stem_widths.copy()
    for j in range(s):
        active = arr.depths[:, j] > 0
        h_next, w_next = h.copy(), w_in.copy()
        for code, fn in enumerate(TOPOLOGY_CX):
            idx = np.flatnonzero(active & (fam.cols["kind"][:, j] == code))
            if not len(idx):
                continue
            c = SimpleNamespace(
                d=arr.depths[idx, j], w=arr.widths[idx, j], stride=arr.strides[idx, j],
                b=arr.bottleneck_ratios[idx, j], g=arr.group_widths[idx, j], se=arr.se_ratios[idx, j],
                blk=arr.blocks[idx, j], w_in=w_in[idx], h=h[idx],
                **{k: v[idx, j] for k, v in fam.cols.items()})
            cost, h_out, w_out, ok = fn(c)
            stage_cost[:, idx, j] = cost
            h_next[idx], w_next[idx], valid[idx, j] = h_out, w_out, ok
        wide = active & (w_next > MAX_STAGE_OUTPUT)  # concat stages (no transition) widen with depth
        valid[wide, j] = False
        h, w_in = h_next, w_next
    total += stage_cost.sum(axis=2)
    head = arr.head_widths
    total += np.where(head > 0, cba(w_in, head, 1, h), 0)
    w_in = np.where(head > 0, head, w_in)
    nc = rg.num_classes
    total += np.stack([w_in * nc + nc, w_in * nc + nc, np.full(n, nc, np.int64)])
    out = {"flops": total[0], "params": total[1], "acts": total[2], "valid": valid}
    if per_stage:
        out.update(stage_flops=stage_cost[0], stage_params=stage_cost[1], stage_acts=stage_cost[2])
    return out
