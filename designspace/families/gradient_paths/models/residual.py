"""Residual units of gradient-path stages: host residual functions grouped into units, with PRN
partial shortcuts (seed 000 §1.2), stop-gradient variants (§1.5) and ODE stacking (seed 001 §2.2).

The units are the ODE package's blocks (designspace.families.ode.models): an Euler RKBlock is the
host residual unit, whose shortcut term takes PRN's channel mask (`keep`) and the stop-gradient
variant; RK-s and LM blocks regroup the same functions. This module picks each stage's residual
functions (host or HO-ResNet pre-activation) and shortcut (projection, PRN's strided slice or option
A's zero pad) and hands them to ``stack_units``.
"""
from __future__ import annotations

from torch import nn

from ....models.blocks import make_residual_function
from ....models.layers import ConvBN
from ...ode.models import PreActBasic, ZeroPadShortcut, stack_units


class StridedSlice(nn.Module):
    """The zero-cost asymmetric shortcut: x[:, :, ::t, ::t] (channels are matched by the add)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, :: self.stride, :: self.stride]


def make_shortcut(w_in: int, w_out: int, stride: int, slice_: bool, zeropad: bool = False) -> nn.Module | None:
    if w_in == w_out and stride == 1:
        return None
    if zeropad:
        return ZeroPadShortcut(w_in, w_out, stride)
    if slice_:
        return StridedSlice(stride) if stride > 1 else None
    return ConvBN(w_in, w_out, 1, stride, act=False)


def make_residual_units(opts, block: str, w_in: int, w_out: int, stride: int, depth: int,
                        bottleneck_ratio: float, group_width: int, se_ratio: float) -> nn.Sequential:
    """`depth` host residual functions grouped into units as the stage's options say."""
    ode = opts.ode

    def f(i):  # the i-th residual function of the stage; the first carries stride and width change
        if ode is not None and ode.preact:
            return PreActBasic(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1)
        return make_residual_function(block, w_in if i == 0 else w_out, w_out, stride if i == 0 else 1,
                                      bottleneck_ratio, group_width, se_ratio)

    if depth == 0:
        return nn.Sequential()
    keep = int(opts.prn_ratio * w_out + 0.5) if opts.has_prn else None
    first_proj = make_shortcut(w_in, w_out, stride, opts.prn_slice, ode is not None and ode.zeropad)
    return stack_units([f(i) for i in range(depth)], first_proj, ode, keep, opts.stopgrad)
