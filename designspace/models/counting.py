"""Measure a built model the way pycls's analytic complexity counts it, with forward hooks.

Used to verify the closed forms: conv flops = k_h*k_w*(c_in/groups)*c_out*h'*w' (+ c_out with a
bias, as pycls's conv2d_cx adds), linear flops = in*out (+ out); acts = conv/linear output sizes."""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def measure(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    """{"flops", "params", "acts"} of one image through `model` (input_shape = (C, H, W))."""
    totals = {"flops": 0, "acts": 0}

    def on_conv(mod: nn.Conv2d, _inp, out):
        kh, kw = mod.kernel_size
        spatial = out.shape[2] * out.shape[3]
        totals["flops"] += kh * kw * (mod.in_channels // mod.groups) * mod.out_channels * spatial
        totals["flops"] += mod.out_channels if mod.bias is not None else 0
        totals["acts"] += out[0].numel()

    def on_linear(mod: nn.Linear, _inp, out):
        totals["flops"] += mod.in_features * mod.out_features + (mod.out_features if mod.bias is not None else 0)
        totals["acts"] += out[0].numel()

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(on_conv))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(on_linear))
    p = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    totals["params"] = sum(p.numel() for p in model.parameters())
    return totals
