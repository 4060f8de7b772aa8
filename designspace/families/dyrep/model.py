"""DyRep (seed 003; Huang et al. CVPR 2022; hunto/image_classification_sota lib/models/utils/dyrep.py):
grow DBB branches on the conv with the largest saliency (Rep), cut weak branches (Dep), deploy the
plain network at the end.

Rep and Dep both keep the eval-mode function exactly: the kxk branch absorbs the difference
between the target kernel and the other branches. Its BN is reset to (mu 0, var 1, gamma 1,
beta 0), which divides by sqrt(1 + eps); the kxk conv is scaled by sqrt(1 + eps) to cancel it
(the reference leaves a relative error of eps/2).
"""
from __future__ import annotations

import math
import random

import torch
from torch import nn

from ..rep.dbb import (
    ALL_BRANCHES,
    BRANCH_NAMES,
    ORIGIN,
    DiverseBranchBlock,
    conv_without_bias,
    fold_bias_into_bn,
    init_branch_weights,
    iter_parents,
    switch_to_deploy,
)
from . import METRICS  # declared with the options, which do not import torch

NEW_BRANCH_GAMMA = 0.01  # last BN of each new branch: the new branches start almost silent
CUT_STD, CUT_BELOW = 0.02, 0.1


def get_module(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path) if path else model


def set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(get_module(model, parent), name, module)


def is_candidate(name: str, module: nn.Module) -> bool:
    """A conv DyRep may grow: square kernel > 1, nested in fewer than 2 DBBs."""
    return (isinstance(module, nn.Conv2d) and module.kernel_size[0] == module.kernel_size[1] > 1
            and name.count("dbb") < 2)


def saliency(weight: torch.Tensor, grad: torch.Tensor, metric: str) -> torch.Tensor:
    """synflow: signed sum g*w (seed 003's S = dL/dtheta (.) theta); grad_norm: ||g||; snip: sum |g*w|.
    A 0-d tensor on the weight's device (no host sync per step)."""
    if metric == "synflow":
        return (grad * weight).sum()
    if metric == "grad_norm":
        return grad.norm()
    if metric == "snip":
        return (grad * weight).abs().sum()
    return torch.tensor(random.random(), device=weight.device)


def cut_branches(weights) -> set[int]:
    """The Dep cut rule on per-branch weights (index 3 = kxk = 1, absent = -1): if the present
    non-kxk weights spread (unbiased std > 0.02), cut those below their mean and below 0.1."""
    valid = torch.tensor([w for i, w in enumerate(weights) if i != ORIGIN and w != -1], dtype=torch.float64)
    if valid.numel() < 2 or not float(valid.std()) > CUT_STD:
        return set()
    mean = float(valid.mean())
    return {i for i, w in enumerate(weights) if i != ORIGIN and w != -1 and w < mean and w < CUT_BELOW}


def branch_weights(dbb: DiverseBranchBlock) -> list[float]:
    """mean|gamma| of each branch's last BN relative to the kxk BN's (kxk 1, absent -1)."""
    ref = float(dbb.branch(ORIGIN).last_bn.weight.detach().abs().mean())
    out = []
    for i in ALL_BRANCHES:
        if i == ORIGIN:
            out.append(1.0)
        elif i in dbb.branches:
            out.append(float(dbb.branch(i).last_bn.weight.detach().abs().mean()) / max(ref, 1e-12))
        else:
            out.append(-1.0)
    return out


@torch.no_grad()
def reset_bn(bn: nn.BatchNorm2d, gamma: float = 1.0) -> None:
    bn.reset_running_stats()
    bn.weight.fill_(gamma)
    bn.bias.zero_()


@torch.no_grad()
def assign_kernel(dbb: DiverseBranchBlock, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Make the eval-mode kernel of `dbb` equal (weight, bias) by changing only its kxk branch."""
    others = [i for i in dbb.branches if i != ORIGIN]
    if others:
        ow, ob = dbb.kernel(exclude={ORIGIN})
        weight, bias = weight - ow, bias - ob
    kxk = dbb.branch(ORIGIN)
    reset_bn(kxk.bn)
    scale = math.sqrt(1.0 + kxk.bn.eps)  # cancels the reset BN's 1/sqrt(var + eps) exactly
    set_conv_kernel(kxk.conv, weight * scale, bias * scale)


@torch.no_grad()
def set_conv_kernel(conv: nn.Module, weight, bias) -> None:
    if isinstance(conv, DiverseBranchBlock):
        assign_kernel(conv, weight, bias)
        return
    if conv.bias is None:
        if bias.abs().max() > 0:
            raise RuntimeError("set_conv_kernel: a bias-free conv cannot hold a nonzero bias")
    else:
        conv.bias.copy_(bias)
    conv.weight.copy_(weight)


@torch.no_grad()
def reinit_branches(dbb: DiverseBranchBlock) -> None:
    """Re-initialise every non-kxk branch of `dbb` as a new branch (convs N(0, sqrt(2/fan_out)), BN
    statistics reset, gamma 1 except the branch's last BN at NEW_BRANCH_GAMMA, beta 0). The reference
    does this to a DBB standing in for the kxk conv of a DBB that Dep cuts (its `_reset_dbb` of the
    kxk); `assign_kernel` then lets the kxk absorb the difference, so the eval output is unchanged."""
    for i in dbb.branches:
        if i == ORIGIN:
            continue
        branch = dbb.branch(i)
        init_branch_weights(branch)
        for m in branch.modules():
            if isinstance(m, nn.BatchNorm2d):
                reset_bn(m)
        branch.last_bn.weight.fill_(NEW_BRANCH_GAMMA)


class DyRep:
    """Saliency bookkeeping and the Rep / Dep steps on a model, optimizer-agnostic.

    branches: the DBB branches a grown conv gets (those allowed by its shape); internal_mult: D / c_in
    of branch 1; recal_batches: N batches of BN recalibration after each growth."""

    def __init__(self, model: nn.Module, metric: str = "synflow", branches=ALL_BRANCHES, internal_mult: int = 1,
                 recal_batches: int = 20, grow_top: int = 1):
        if metric not in METRICS:
            raise ValueError(f"unknown saliency metric {metric!r}")
        self.model, self.metric = model, metric
        self.branches, self.internal_mult = tuple(branches), internal_mult
        self.recal_batches, self.grow_top = recal_batches, grow_top
        self._sum: dict[str, torch.Tensor] = {}
        self._n: dict[str, int] = {}
        self.touched: set[str] = set()  # convs DyRep replaced (their bias is folded at deploy)
        self.events: list[dict] = []

    # --- saliency ---
    def candidates(self):
        return [(name, m) for name, m in self.model.named_modules() if is_candidate(name, m)]

    @torch.no_grad()
    def record(self) -> None:
        """After backward, before optimizer.step: add each candidate's saliency to its running mean."""
        for name, conv in self.candidates():
            if conv.weight.grad is None:
                continue
            value = saliency(conv.weight, conv.weight.grad, self.metric).double()
            self._sum[name] = self._sum[name] + value if name in self._sum else value
            self._n[name] = self._n.get(name, 0) + 1

    def mean_saliency(self) -> dict[str, float]:
        return {k: float(self._sum[k]) / self._n[k] for k in self._sum}

    # --- Rep ---
    def grow(self, batches=None) -> list[str]:
        """Replace the top `grow_top` convs by mean saliency with DBBs; exact in eval mode."""
        ranked = sorted(self.mean_saliency().items(), key=lambda kv: kv[1], reverse=True)
        names = dict(self.candidates())
        grown = []
        for name, _ in ranked:
            if len(grown) == self.grow_top:
                break
            if name in names:
                self.grow_conv(name, batches)
                grown.append(name)
        return grown

    @torch.no_grad()
    def grow_conv(self, name: str, batches=None) -> DiverseBranchBlock:
        conv = get_module(self.model, name)
        k = conv.kernel_size[0]
        dbb = DiverseBranchBlock(conv.in_channels, conv.out_channels, k, conv.stride[0], conv.padding[0], conv.groups,
                                 self.branches, self.internal_mult, origin_bias=True, depthwise_rule=False)
        dbb.to(device=conv.weight.device, dtype=conv.weight.dtype)
        init_branch_weights(dbb)
        for i in dbb.branches:
            for m in dbb.branch(i).modules():
                if isinstance(m, nn.BatchNorm2d):
                    reset_bn(m)
            if i != ORIGIN:
                dbb.branch(i).last_bn.weight.fill_(NEW_BRANCH_GAMMA)
        w0 = conv.weight.detach().clone()
        b0 = conv.bias.detach().clone() if conv.bias is not None else torch.zeros_like(dbb.dbb_kxk.conv.bias)
        dbb.dbb_kxk.conv.weight.copy_(w0)
        dbb.dbb_kxk.conv.bias.copy_(b0)
        set_module(self.model, name, dbb)
        if batches is not None and self.recal_batches > 0:
            self.recalibrate(dbb, batches)
        assign_kernel(dbb, w0, b0)
        self.touched.add(name)
        return dbb

    @torch.no_grad()
    def recalibrate(self, dbb: DiverseBranchBlock, batches) -> None:
        """Cumulative BN statistics of the new block over N training batches; the rest of the model
        stays in eval mode (its statistics are untouched)."""
        was_training = self.model.training
        self.model.eval()
        bns = [m for m in dbb.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for _ in range(self.recal_batches):
            self.model(batches())
        for bn in bns:
            bn.momentum = 0.1
        self.model.train(was_training)

    # --- Dep ---
    @torch.no_grad()
    def cut(self) -> list[tuple[str, list[int]]]:
        """Cut weak branches of every DBB (deepest first); exact in eval mode."""
        cuts = []
        for parent, child_name, dbb in iter_parents(self.model, DiverseBranchBlock):
            drop = cut_branches(branch_weights(dbb))
            if not drop:
                continue
            path = self._path_of(dbb)
            w, b = dbb.kernel()  # the block as a whole, before anything is removed
            for i in drop:
                delattr(dbb, BRANCH_NAMES[i])
            dbb.branches = tuple(i for i in dbb.branches if i not in drop)
            if dbb.branches == (ORIGIN,):
                conv = nn.Conv2d(dbb.in_channels, dbb.out_channels, dbb.k, stride=dbb.stride, padding=dbb.padding,
                                 groups=dbb.groups, bias=True).to(device=w.device, dtype=w.dtype)
                conv.weight.copy_(w)
                conv.bias.copy_(b)
                setattr(parent, child_name, conv)
            else:
                nested = dbb.branch(ORIGIN).conv
                if isinstance(nested, DiverseBranchBlock):  # the reference's kxk `_reset_dbb`
                    reinit_branches(nested)
                assign_kernel(dbb, w, b)
            cuts.append((path, sorted(drop)))
        return cuts

    def _path_of(self, module) -> str:
        return next(name for name, m in self.model.named_modules() if m is module)

    # --- one adjustment ---
    def adjust(self, batches=None) -> dict:
        grown = self.grow(batches)
        cuts = self.cut()
        self._sum, self._n = {}, {}
        event = {"grown": grown, "cut": [[p, b] for p, b in cuts]}
        self.events.append(event)
        return event

    @torch.no_grad()
    def deploy(self) -> nn.Module:
        """Back to the base network's shapes: fuse every DBB, fold the biases DyRep introduced."""
        switch_to_deploy(self.model)
        for name in sorted(self.touched):
            try:
                conv = get_module(self.model, name)
            except AttributeError:
                continue
            parent_path, _, child = name.rpartition(".")
            parent = get_module(self.model, parent_path)
            if isinstance(conv, nn.Conv2d) and conv.bias is not None and isinstance(parent, nn.Sequential):
                keys = list(parent._modules)
                i = keys.index(child)
                nxt = parent._modules[keys[i + 1]] if i + 1 < len(keys) else None
                if isinstance(nxt, nn.BatchNorm2d):
                    fold_bias_into_bn(conv.bias, nxt)
                    parent._modules[child] = conv_without_bias(conv)
        return self.model


def rebuild_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """Point the optimizer at the model's current parameters (sorted by name), dropping the state of
    removed ones; new parameters start with empty state. With one param group all parameters go
    there; with several, survivors keep their group and new ones join the first."""
    named = sorted(model.named_parameters(), key=lambda kv: kv[0])
    live = {id(p): p for _, p in named}
    for p in list(optimizer.state):
        if id(p) not in live:
            del optimizer.state[p]
    if len(optimizer.param_groups) == 1:
        optimizer.param_groups[0]["params"] = [p for _, p in named]
        return
    placed = set()
    for group in optimizer.param_groups:
        group["params"] = [p for p in group["params"] if id(p) in live]
        placed |= {id(p) for p in group["params"]}
    optimizer.param_groups[0]["params"] += [p for _, p in named if id(p) not in placed]


def count_training_graph(model: nn.Module, input_shape) -> dict:
    """flops / params / acts of the model's current graph (pycls counting, one image), on its device."""
    from ...models.counting import measure

    return measure(model, input_shape)
