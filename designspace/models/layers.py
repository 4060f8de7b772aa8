"""Small torch building blocks shared by every family (pycls conventions: odd kernels, pad k//2)."""
from __future__ import annotations

import math

import torch
from torch import nn

BN_EPS, BN_MOMENTUM = 1e-5, 0.1


def conv2d(w_in: int, w_out: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=bias)


def norm2d(width: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM)


def activation(kind: str = "relu") -> nn.Module:
    """relu (pycls), silu (yolov7), leaky_relu (0.1: darknet, yolov7-tiny) or hswish (CondenseNetV2)."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "silu":
        return nn.SiLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.1, inplace=True)
    if kind == "hswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {kind!r}")


def swap_activations(module: nn.Module, kind: str) -> nn.Module:
    """Every ReLU inside `module` becomes `kind` (activations hold no parameters, so the network's
    complexity is unchanged). In place; returns the module."""
    if kind == "relu":
        return module
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, activation(kind))
    return module


class ConvBN(nn.Sequential):
    """conv -> BN (-> ReLU): the CB / CBA unit of every family."""

    def __init__(self, w_in, w_out, k, stride=1, groups=1, act=True):
        layers = [conv2d(w_in, w_out, k, stride, groups), norm2d(w_out)]
        if act:
            layers.append(activation())
        super().__init__(*layers)


class SE(nn.Module):
    """Squeeze-and-excitation: global pool -> 1x1 (bias) -> ReLU -> 1x1 (bias) -> sigmoid -> scale."""

    def __init__(self, width: int, se_width: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = conv2d(width, se_width, 1, bias=True)
        self.act = activation()
        self.expand = conv2d(se_width, width, 1, bias=True)

    def forward(self, x):
        return x * torch.sigmoid(self.expand(self.act(self.reduce(self.pool(x)))))


def init_weights(module: nn.Module) -> None:
    """pycls initialisation: conv N(0, sqrt(2/fan_out)), BN gamma 1 beta 0, fc N(0, 0.01) bias 0."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.01)
        nn.init.zeros_(module.bias)


def zero_init_final_bn(model: nn.Module) -> int:
    """Zero the gamma of every residual branch's last BN (pycls BN.ZERO_INIT_FINAL_GAMMA): each
    residual block starts as its shortcut, which lets deep nets train in very short runs.
    Returns how many BNs were zeroed."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and getattr(module, "final_bn", False):
            nn.init.zeros_(module.weight)
            count += 1
    return count
