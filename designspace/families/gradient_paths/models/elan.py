"""ELAN (yolov7 backbone, seed 000 §1.4): a bypass, a chain of 3x3 convs, concat of every r-th
feature (deepest first) and one transition; its MP stage entry.

ELAN(C_in -> C_out; c_p, c_h, m, r):
    a = CBA1x1(x): C_in -> c_p;  h_0 = CBA1x1(x): C_in -> c_p;  h_j = CBA3x3(h_{j-1}) -> c_h, j = 1..m
    z = CBA1x1(cat[h_m, h_{m-r}, ..., h_r, h_0, a]) -> C_out     (no transition: z = the concat)
"""
from __future__ import annotations

import torch
from torch import nn

from ....models.layers import ConvBN
from ..complexity import elan_widths


def elan_concat_indices(m: int, r: int) -> list[int]:
    """Indices of the concatenated h_j, deepest first (h_0 last; the bypass a follows)."""
    return list(range(m, 0, -r)) + [0]


class ELANBlock(nn.Module):
    def __init__(self, w_in: int, w_out: int, c_p: int, c_h: int, m: int, r: int, transition: bool = True):
        super().__init__()
        self.indices = elan_concat_indices(m, r)
        self.a = ConvBN(w_in, c_p, 1)
        self.h0 = ConvBN(w_in, c_p, 1)
        self.convs = nn.ModuleList(ConvBN(c_p if j == 0 else c_h, c_h, 3) for j in range(m))
        self.cat_width = 2 * c_p + (m // r) * c_h
        self.transition = ConvBN(self.cat_width, w_out, 1) if transition else None
        self.w_out = w_out if transition else self.cat_width

    def forward(self, x):
        hs = [self.h0(x)]
        for conv in self.convs:
            hs.append(conv(hs[-1]))
        z = torch.cat([hs[j] for j in self.indices] + [self.a(x)], dim=1)
        return z if self.transition is None else self.transition(z)


class MPEntry(nn.Module):
    """yolov7 "MP" downsampling, C -> C: cat[CBA3x3 s2(CBA1x1(x)), CBA1x1(MaxPool2x2(x))], C/2 each.

    ceil_mode keeps H' = (H - 1)//2 + 1 for odd H, the size of the strided conv branch."""

    def __init__(self, width: int, stride: int = 2):
        super().__init__()
        half = width // 2
        self.pool = nn.MaxPool2d(stride, stride, ceil_mode=True)
        self.u = ConvBN(width, half, 1)
        self.v = nn.Sequential(ConvBN(width, half, 1), ConvBN(half, half, 3, stride))

    def forward(self, x):
        return torch.cat([self.v(x), self.u(self.pool(x))], dim=1)


class ELANStage(nn.Sequential):
    """[entry (MP or CBA3x3 s2, C_in -> C_in) when strided] -> `blocks` ELAN blocks of m convs."""

    def __init__(self, st, opts, w_in: int):
        layers = []
        if st.stride > 1:
            layers.append(MPEntry(w_in, st.stride) if opts.elan_mp else ConvBN(w_in, w_in, 3, st.stride))
        c_p, c_h = (int(v) for v in elan_widths(st.width, opts.elan_rho, opts.elan_eta))
        for _ in range(opts.elan_blocks):
            block = ELANBlock(w_in, st.width, c_p, c_h, opts.elan_m, opts.elan_r, opts.elan_transition)
            layers.append(block)
            w_in = block.w_out
        super().__init__(*layers)
        self.w_out = w_in
