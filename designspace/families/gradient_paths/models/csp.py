"""CSP stage (cross-stage partial, seed 000 §1.3): split, host blocks on one part, concat, fuse.

    entry:  host block (C_prev -> C, stride) | CBA3x3 stride (C_prev -> C)
    split:  slice x = [x_p | x_b]  |  conv p = CBA1x1(x): C -> c_p, q = CBA1x1(x): C -> c_b
    body:   q_n = B_n(...B_1(q)) at width c_b (residual units: PRN / stop-gradient / RK apply here),
            or OSA modules from c_b (CSPVoVNet) whose output width c_o may grow
    csp:          z = CBA1x1(cat[CBA1x1(q_n): c_o -> c_b, p])
    fusion_first: z = CBA1x1(cat[q_n, p])
    fusion_last:  z = cat[CBA1x1(q_n): c_o -> C - c_p, p]
Concat order is always [block path, bypass] (yolov7 cat((y1, y2))).
"""
from __future__ import annotations

import torch
from torch import nn

from ....complexity import BLOCK_CODE
from ....models.blocks import make_block
from ....models.layers import ConvBN
from ..complexity import csp_widths
from .osa import make_osa_modules
from .residual import make_residual_units


class CSPStage(nn.Module):
    def __init__(self, st, opts, w_in: int):
        super().__init__()
        C = st.width
        c_b, g_b, c_p = (int(v) for v in csp_widths(C, opts.csp_ratio, opts.csp_conv_split, BLOCK_CODE[st.block],
                                                    st.bottleneck_ratio, st.group_width))
        self.c_b, self.c_p, self.variant = c_b, c_p, opts.csp_variant
        if opts.csp_conv_entry:
            self.entry = ConvBN(w_in, C, 3, st.stride)
        else:
            self.entry = make_block(st.block, w_in, C, st.stride, st.bottleneck_ratio, st.group_width, st.se_ratio)
        body_depth = st.depth - (0 if opts.csp_conv_entry else 1)
        self.split_p = ConvBN(C, c_p, 1) if opts.csp_conv_split else None
        self.split_b = ConvBN(C, c_b, 1) if opts.csp_conv_split else None
        if opts.csp_osa:
            modules, c_o = make_osa_modules(c_b, opts, st.depth // opts.osa_m, c_b)
            self.body = nn.Sequential(*modules)
        else:
            self.body = make_residual_units(opts, st.block, c_b, c_b, 1, body_depth, st.bottleneck_ratio, g_b,
                                            st.se_ratio)
            c_o = c_b
        if self.variant == "csp":
            self.transition, self.fuse = ConvBN(c_o, c_b, 1), ConvBN(c_b + c_p, C, 1)
        elif self.variant == "fusion_first":
            self.transition, self.fuse = None, ConvBN(c_o + c_p, C, 1)
        else:  # fusion_last
            self.transition, self.fuse = ConvBN(c_o, C - c_p, 1), None

    def forward(self, x):
        x = self.entry(x)
        if self.split_p is not None:
            p, q = self.split_p(x), self.split_b(x)
        else:
            p, q = x[:, : self.c_p], x[:, self.c_p:]
        q = self.body(q)
        if self.transition is not None:
            q = self.transition(q)
        z = torch.cat([q, p], dim=1)
        return z if self.fuse is None else self.fuse(z)
