"""VoVNet OSA module (seed 000 §1.4): the baseline of the deep-VoVNet experiment.

    h_0 = x;  h_j = CBA3x3(h_{j-1}) (C_in -> c_h, then c_h -> c_h);  z = CBA1x1(cat[x, h_1..h_m]) -> C_out
Gradient-path planning removes transitions (z = the concat, width C_in + m c_h, DenseNet-like); the
stage option `transition` says which modules keep theirs: all, the stage's last, or none.
"""
from __future__ import annotations

import torch
from torch import nn

from ....models.layers import ConvBN


class OSAModule(nn.Module):
    def __init__(self, w_in: int, hidden: int, m: int, w_out: int | None):
        super().__init__()
        self.convs = nn.ModuleList(ConvBN(w_in if j == 0 else hidden, hidden, 3) for j in range(m))
        cat_width = w_in + m * hidden
        self.transition = ConvBN(cat_width, w_out, 1) if w_out else None
        self.w_out = w_out or cat_width

    def forward(self, x):
        hs = [x]
        for conv in self.convs:
            hs.append(conv(hs[-1]))
        z = torch.cat(hs, dim=1)
        return z if self.transition is None else self.transition(z)


def make_osa_modules(w_in: int, opts, modules: int, w_out: int) -> tuple[list, int]:
    """`modules` OSA modules from w_in; those with a transition (per opts.osa_transition) hand on
    w_out, the others their concat. -> (modules, output width)."""
    layers = []
    for k in range(modules):
        keep = opts.osa_transition == "all" or (opts.osa_transition == "last" and k == modules - 1)
        module = OSAModule(w_in, opts.osa_hidden, opts.osa_m, w_out if keep else None)
        layers.append(module)
        w_in = module.w_out
    return layers, w_in


class OSAStage(nn.Sequential):
    """[3x3 max pool, stride: padding 1, or VoVNet's ceil_mode without padding] -> depth/m OSA modules."""

    def __init__(self, st, opts, w_in: int):
        pool = nn.MaxPool2d(3, st.stride, ceil_mode=True) if opts.osa_ceil else nn.MaxPool2d(3, st.stride, padding=1)
        layers = [pool] if st.stride > 1 else []
        modules, w_out = make_osa_modules(w_in, opts, st.depth // opts.osa_m, st.width)
        super().__init__(*layers, *modules)
        self.w_out = w_out
