"""pycls blocks: V (vanilla), R (residual basic), X (residual bottleneck, group conv), Y = X + SE.

Every block maps (w_in, H) -> (w_out, (H - 1)//stride + 1). The residual blocks expose their
residual function as `f` and their shortcut as `proj` (None for identity), so that families
(PRN, stop-gradient, ODE stacking) can rewire how the two are combined.
"""
from __future__ import annotations

from torch import nn

from .layers import SE, ConvBN, activation


class VanillaBlock(nn.Module):
    """[3x3 conv, BN, ReLU] x 2, no shortcut."""

    def __init__(self, w_in, w_out, stride, **_):
        super().__init__()
        self.a = ConvBN(w_in, w_out, 3, stride)
        self.b = ConvBN(w_out, w_out, 3)

    def forward(self, x):
        return self.b(self.a(x))


class BasicTransform(nn.Sequential):
    """3x3 (stride) -> BN -> ReLU -> 3x3 -> BN."""

    def __init__(self, w_in, w_out, stride):
        super().__init__(ConvBN(w_in, w_out, 3, stride), ConvBN(w_out, w_out, 3, act=False))
        self[-1][1].final_bn = True  # the residual branch's last BN (zero-init option, pycls)


class BottleneckTransform(nn.Sequential):
    """1x1 -> BN -> ReLU -> 3x3 group conv (stride) -> BN -> ReLU [-> SE] -> 1x1 -> BN.

    Bottleneck width w_b = round(w_out / b); groups = w_b // group_width; SE width from w_in."""

    def __init__(self, w_in, w_out, stride, bottleneck_ratio=1.0, group_width=1, se_ratio=0.0):
        w_b = int(round(w_out * (1.0 / bottleneck_ratio)))
        groups = max(w_b // group_width, 1)
        w_se = int(round(w_in * se_ratio))
        layers = [ConvBN(w_in, w_b, 1), ConvBN(w_b, w_b, 3, stride, groups)]
        if w_se:
            layers.append(SE(w_b, w_se))
        layers.append(ConvBN(w_b, w_out, 1, act=False))
        super().__init__(*layers)
        self[-1][1].final_bn = True  # the residual branch's last BN (zero-init option, pycls)


class ResidualBlock(nn.Module):
    """y = ReLU(proj(x) + f(x)); proj is a 1x1 conv + BN when the shape changes, else identity."""

    def __init__(self, f: nn.Module, w_in, w_out, stride):
        super().__init__()
        self.proj = ConvBN(w_in, w_out, 1, stride, act=False) if (w_in != w_out or stride != 1) else None
        self.f = f
        self.act = activation()

    def shortcut(self, x):
        return x if self.proj is None else self.proj(x)

    def forward(self, x):
        return self.act(self.shortcut(x) + self.f(x))


def make_block(block: str, w_in, w_out, stride, bottleneck_ratio=1.0, group_width=1, se_ratio=0.0) -> nn.Module:
    if block == "vanilla":
        return VanillaBlock(w_in, w_out, stride)
    if block == "res_basic":
        return ResidualBlock(BasicTransform(w_in, w_out, stride), w_in, w_out, stride)
    if block == "res_bottleneck":
        f = BottleneckTransform(w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio)
        return ResidualBlock(f, w_in, w_out, stride)
    raise ValueError(f"unknown block {block!r}")


def make_residual_function(block: str, w_in, w_out, stride, bottleneck_ratio=1.0, group_width=1, se_ratio=0.0):
    """The residual function F of a residual block type (for families that rewire shortcuts)."""
    if block == "res_basic":
        return BasicTransform(w_in, w_out, stride)
    if block == "res_bottleneck":
        return BottleneckTransform(w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio)
    raise ValueError(f"block {block!r} has no residual function")
