"""Structural re-parameterization: the DBB transforms, BN-pad, the Diverse Branch Block and RepVGG.

A DiverseBranchBlock (DBB) trains several linear branches in parallel and, in eval mode, equals one
k x k conv with bias: every branch is linear once its BNs use running statistics. Branch indices
follow DyRep (hunto/image_classification_sota ``lib/models/utils/dbb/dbb_block.py``):

    0 1x1-BN          1 1x1-BNpad-kxk-BN     2 1x1-BNpad-avg-BN (or avg-BN)     3 kxk-BN (origin)
    4 1xk-BN          5 kx1-BN               6 BN (identity; only when c_in == c_out and stride 1)

The six transforms (DingXiaoH/DiverseBranchBlock ``dbb_transforms.py``) plus DyRep's BN -> kernel
are plain functions on tensors; ``branch_kernel`` / ``conv_kernel`` apply them recursively, because a
branch conv may itself be a DBB (DyRep's recursive growth).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...models.layers import BN_EPS, BN_MOMENTUM

BRANCH_NAMES = ("dbb_1x1", "dbb_1x1_kxk", "dbb_avg", "dbb_kxk", "dbb_1xk", "dbb_kx1", "dbb_id")
ORIGIN = 3
ALL_BRANCHES = (0, 1, 2, 3, 4, 5, 6)


# --- the transforms -------------------------------------------------------------------------------
def trans_I_fuse_bn(kernel, bias, bn: nn.BatchNorm2d):
    """conv (kernel, bias or None) -> BN in eval mode == conv (kernel * t, beta + (bias - mu) * t)."""
    t = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    b = bn.running_mean.new_zeros(()) if bias is None else bias
    return kernel * t.reshape(-1, 1, 1, 1), bn.bias + (b - bn.running_mean) * t


def trans_II_add(kernels, biases):
    """Parallel branches with equal kernel shapes add up."""
    return sum(kernels), sum(biases)


def trans_III_1x1_kxk(k1, b1, k2, b2, groups: int = 1):
    """1x1 conv (k1, b1) followed by kxk conv (k2, b2), both with `groups`, as one kxk conv.

    Per group: W[o, c] = sum_d k2[o, d] k1[d, c] (conv2d of k2 with k1 transposed);
    b[o] = b2[o] + sum_{d,u,v} k2[o, d, u, v] b1[d]. Exact only if the input of k2 is padded with the
    value the 1x1 part outputs on zero input (BN-pad), see BNAndPad."""
    ks, bs = [], []
    d_per, o_per = k1.shape[0] // groups, k2.shape[0] // groups
    for g in range(groups):
        k1g = k1[g * d_per:(g + 1) * d_per]  # (D/g, C_in/g, 1, 1)
        k2g = k2[g * o_per:(g + 1) * o_per]  # (C_out/g, D/g, k, k)
        ks.append(F.conv2d(k2g, k1g.permute(1, 0, 2, 3)))
        bs.append((k2g * b1[g * d_per:(g + 1) * d_per].reshape(1, -1, 1, 1)).sum((1, 2, 3)))
    k, b_hat = trans_IV_depth_concat(ks, bs)
    return k, b_hat + b2


def trans_IV_depth_concat(kernels, biases):
    """Per-group results stacked along the output channels (the group conv of the groups)."""
    return torch.cat(kernels, dim=0), torch.cat(biases)


def trans_V_avg(channels: int, k: int, groups: int = 1, like: torch.Tensor | None = None):
    """k x k average pooling over `channels` as a conv with `groups`: K[c, c mod (C/g)] = 1/k^2."""
    per = channels // groups
    kernel = torch.zeros(channels, per, k, k, dtype=like.dtype if like is not None else None,
                         device=like.device if like is not None else None)
    kernel[torch.arange(channels), torch.arange(channels) % per] = 1.0 / (k * k)
    return kernel


def trans_VI_pad(kernel, k: int):
    """Zero-pad a 1x1, 1xk or kx1 kernel centrally to k x k."""
    kh, kw = kernel.shape[2:]
    ph, pw = (k - kh) // 2, (k - kw) // 2
    return F.pad(kernel, [pw, pw, ph, ph])


def trans_IX_bn_to_kernel(bn: nn.BatchNorm2d, k: int, groups: int = 1):
    """An identity branch (BN only) as a k x k conv: K[i, i mod (C/g), centre] = 1, then fuse the BN."""
    c = bn.num_features
    per = c // groups
    kernel = torch.zeros(c, per, k, k, dtype=bn.weight.dtype, device=bn.weight.device)
    kernel[torch.arange(c), torch.arange(c) % per, k // 2, k // 2] = 1.0
    return trans_I_fuse_bn(kernel, None, bn)


# --- layers ----------------------------------------------------------------------------------------
def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class BNAndPad(nn.Module):
    """BN, then pad by `pad` with BN's output for a zero input (beta - mu*gamma/sqrt(var+eps)).

    The following kxk conv / avg-pool then runs with padding 0; zero padding here would make the
    1x1 -> kxk fusion inexact wherever the window overlaps the border."""

    def __init__(self, channels: int, pad: int):
        super().__init__()
        self.bn = batch_norm(channels)
        self.pad = pad

    def forward(self, x):
        out = self.bn(x)
        if self.pad > 0:
            bn = self.bn
            # detached, as in both references: the pad is a constant of the forward, not a path for
            # gradients into gamma and beta
            value = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
            out = F.pad(out, [self.pad] * 4)
            value = value.reshape(1, -1, 1, 1)
            p = self.pad
            out[:, :, :p, :] = value
            out[:, :, -p:, :] = value
            out[:, :, :, :p] = value
            out[:, :, :, -p:] = value
        return out


class ConvBNBranch(nn.Module):
    """conv -> BN (branches 0, 3, 4, 5). `conv` may be replaced by a DBB (DyRep recursive growth)."""

    def __init__(self, conv: nn.Module, channels: int):
        super().__init__()
        self.conv = conv
        self.bn = batch_norm(channels)

    def forward(self, x):
        return self.bn(self.conv(x))

    def kernel(self, k: int):
        w, b = conv_kernel(self.conv)
        w, b = trans_I_fuse_bn(w, b, self.bn)
        return trans_VI_pad(w, k), b

    @property
    def last_bn(self):
        return self.bn


class IdentityBasedConv1x1(nn.Conv2d):
    """1x1 conv computing (W + I) x with W initialised to 0 (original DBB, used when D = c_in): the
    1x1 -> kxk branch starts as a plain kxk conv of the input. I is a buffer, so params stay C^2/g."""

    def __init__(self, channels: int, groups: int = 1):
        super().__init__(channels, channels, 1, groups=groups, bias=False)
        per = channels // groups
        eye = torch.zeros(channels, per, 1, 1)
        eye[torch.arange(channels), torch.arange(channels) % per] = 1.0
        self.register_buffer("id_tensor", eye)
        nn.init.zeros_(self.weight)

    def forward(self, x):
        return self._conv_forward(x, self.weight + self.id_tensor, None)


class OneByOneKxK(nn.Module):
    """Branch 1: 1x1 (c_in -> D, groups) -> BN-pad -> kxk (D -> c_out, stride, groups, padding 0) -> BN."""

    def __init__(self, c_in, c_out, internal, k, stride, groups, padding, identity_1x1=False):
        super().__init__()
        if identity_1x1 and internal == c_in:
            self.conv1 = IdentityBasedConv1x1(c_in, groups)
        else:
            self.conv1 = nn.Conv2d(c_in, internal, 1, groups=groups, bias=False)
        self.bn1 = BNAndPad(internal, padding)
        self.conv2 = nn.Conv2d(internal, c_out, k, stride=stride, padding=0, groups=groups, bias=False)
        self.bn2 = batch_norm(c_out)
        self.groups = groups

    def forward(self, x):
        return self.bn2(self.conv2(self.bn1(self.conv1(x))))

    def kernel(self, k: int):
        w1, b1 = trans_I_fuse_bn(*conv_kernel(self.conv1), self.bn1.bn)
        w2, b2 = trans_I_fuse_bn(*conv_kernel(self.conv2), self.bn2)
        return trans_III_1x1_kxk(w1, b1, w2, b2, self.groups)

    @property
    def last_bn(self):
        return self.bn2


class OneByOneAvg(nn.Module):
    """Branch 2: [1x1 (c_in -> c_out, groups) -> BN-pad] -> avg-pool k (stride) -> BN.

    Without the 1x1 (depthwise case) the pool pads the input with zeros itself, counting the pad
    (count_include_pad=True is what makes it a conv)."""

    def __init__(self, c_in, c_out, k, stride, groups, padding, with_conv: bool):
        super().__init__()
        self.k, self.groups, self.c_out = k, groups, c_out
        if with_conv:
            self.conv = nn.Conv2d(c_in, c_out, 1, groups=groups, bias=False)
            self.bn1 = BNAndPad(c_out, padding)
            self.avg = nn.AvgPool2d(k, stride, padding=0)
        else:
            self.conv = self.bn1 = None
            self.avg = nn.AvgPool2d(k, stride, padding=padding, count_include_pad=True)
        self.bn = batch_norm(c_out)

    def forward(self, x):
        if self.conv is not None:
            x = self.bn1(self.conv(x))
        return self.bn(self.avg(x))

    def kernel(self, k: int):
        like = self.bn.weight
        avg = trans_V_avg(self.c_out, self.k, self.groups, like)
        if self.conv is None:
            return trans_I_fuse_bn(avg, None, self.bn)
        w1, b1 = trans_I_fuse_bn(*conv_kernel(self.conv), self.bn1.bn)
        w, b = trans_III_1x1_kxk(w1, b1, avg, torch.zeros_like(b1), self.groups)
        return trans_I_fuse_bn(w, b, self.bn)

    @property
    def last_bn(self):
        return self.bn


class IdentityBN(nn.BatchNorm2d):
    """Branch 6: BN of the input itself."""

    def kernel(self, k: int):
        return trans_IX_bn_to_kernel(self, k, self.groups)

    @property
    def last_bn(self):
        return self


def conv_kernel(conv: nn.Module):
    """(kernel, bias) of a conv or, recursively, of a DBB standing in for one (bias zeros if none)."""
    if isinstance(conv, DiverseBranchBlock):
        return conv.kernel()
    if isinstance(conv, IdentityBasedConv1x1):
        return conv.weight + conv.id_tensor, conv.weight.new_zeros(conv.out_channels)
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    return conv.weight, bias


def allowed_branches(c_in, c_out, stride, padding, k) -> set[int]:
    """DyRep's rule: 0, 4, 5, 6 need padding k//2; 6 needs c_in == c_out and stride 1."""
    allowed = {1, 2, 3}
    if padding == k // 2:
        allowed |= {0, 4, 5}
        if c_in == c_out and stride == 1:
            allowed.add(6)
    return allowed


def avg_has_conv(c_in, c_out, groups) -> bool:
    """Branch 2 drops its 1x1 only for a depthwise conv (groups >= c_out and c_in == c_out)."""
    return not (groups >= c_out and c_in == c_out)


DBB_BRANCHES = frozenset({1, 2, 4, 5})  # what a DBB has beyond RepVGG's {0, 3, 6}


def uses_depthwise_rule(branches) -> bool:
    """The original DBB's depthwise rule (DingXiaoH/DiverseBranchBlock: when groups >= c_out, no
    1x1 branch 0 and branch 1's internal width 2 c_in through a plain 1x1) applies to branch sets
    with DBB branches; RepVGG's set {0, 3, 6} keeps its 1x1 unconditionally, as RepVGG does."""
    return bool(set(branches) & DBB_BRANCHES)


class DiverseBranchBlock(nn.Module):
    """Sum of the requested branches (those not allowed for the shape are dropped; 3 is always on).

    Parameters mirror nn.Conv2d (square kernel `k`, `stride`, `padding`, `groups`); `internal_mult`
    sets branch 1's width D = internal_mult * c_in; `origin_bias` gives the kxk conv a bias (DyRep);
    `identity_1x1` makes branch 1's 1x1 an IdentityBasedConv1x1 when D = c_in (original DBB).
    `depthwise_rule` (default: uses_depthwise_rule(branches)) applies the original DBB's rule on
    depthwise convs (groups >= c_out): branch 0 dropped, D = 2 c_in with a plain 1x1; DyRep's
    reference block does not apply it (it passes False)."""

    def __init__(self, c_in, c_out, k, stride=1, padding=None, groups=1, branches=ALL_BRANCHES,
                 internal_mult=1, origin_bias=False, identity_1x1=False, depthwise_rule=None):
        super().__init__()
        padding = k // 2 if padding is None else padding
        self.in_channels, self.out_channels, self.k = c_in, c_out, k
        self.stride, self.padding, self.groups = stride, padding, groups
        self.identity_1x1 = identity_1x1
        rule = uses_depthwise_rule(branches) if depthwise_rule is None else depthwise_rule
        depthwise = rule and groups >= c_out
        self.internal_mult = max(internal_mult, 2) if depthwise else internal_mult
        chosen = (set(branches) | {ORIGIN}) & allowed_branches(c_in, c_out, stride, padding, k)
        if depthwise:
            chosen.discard(0)
        self.branches = tuple(sorted(chosen))
        for idx in self.branches:
            setattr(self, BRANCH_NAMES[idx], self._make_branch(idx, origin_bias))

    def _make_branch(self, idx, origin_bias):
        c_in, c_out, k, s, p, g = self.in_channels, self.out_channels, self.k, self.stride, self.padding, self.groups
        if idx == 0:
            return ConvBNBranch(nn.Conv2d(c_in, c_out, 1, stride=s, padding=0, groups=g, bias=False), c_out)
        if idx == 1:
            return OneByOneKxK(c_in, c_out, self.internal_mult * c_in, k, s, g, p, self.identity_1x1)
        if idx == 2:
            return OneByOneAvg(c_in, c_out, k, s, g, p, avg_has_conv(c_in, c_out, g))
        if idx == 3:
            return ConvBNBranch(nn.Conv2d(c_in, c_out, k, stride=s, padding=p, groups=g, bias=origin_bias), c_out)
        if idx == 4:
            return ConvBNBranch(nn.Conv2d(c_in, c_out, (1, k), stride=s, padding=(0, p), groups=g, bias=False), c_out)
        if idx == 5:
            return ConvBNBranch(nn.Conv2d(c_in, c_out, (k, 1), stride=s, padding=(p, 0), groups=g, bias=False), c_out)
        branch = IdentityBN(c_in, eps=BN_EPS, momentum=BN_MOMENTUM)
        branch.groups = g
        return branch

    def branch(self, idx: int):
        return getattr(self, BRANCH_NAMES[idx], None)

    def forward(self, x):
        out = None
        for idx in self.branches:
            y = self.branch(idx)(x)
            out = y if out is None else out + y
        return out

    def branch_kernel(self, idx: int):
        return self.branch(idx).kernel(self.k)

    def kernel(self, exclude=()):
        """(kernel, bias) of the single conv equal to the block in eval mode (minus `exclude`)."""
        parts = [self.branch_kernel(i) for i in self.branches if i not in exclude]
        return trans_II_add([p[0] for p in parts], [p[1] for p in parts])

    @torch.no_grad()
    def fused_conv(self) -> nn.Conv2d:
        """The deploy form: one kxk conv with bias."""
        w, b = self.kernel()
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.k, stride=self.stride, padding=self.padding,
                         groups=self.groups, bias=True).to(device=w.device, dtype=w.dtype)
        conv.weight.copy_(w)
        conv.bias.copy_(b)
        return conv

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, k={self.k}, stride={self.stride}, groups={self.groups}, " \
               f"branches={list(self.branches)}"


class RepVGGBlock(nn.Module):
    """RepVGG: ReLU(kxk-BN + 1x1-BN + [BN if c_in == c_out and stride 1]); deploys to kxk conv -> ReLU."""

    def __init__(self, c_in, c_out, k=3, stride=1, groups=1):
        super().__init__()
        self.rep = DiverseBranchBlock(c_in, c_out, k, stride, groups=groups, branches=(0, 3, 6))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.rep(x))

    def deploy(self) -> nn.Sequential:
        return nn.Sequential(self.rep.fused_conv(), nn.ReLU(inplace=True))


# --- deploy of whole networks ---------------------------------------------------------------------
@torch.no_grad()
def bias_as_bn(bias: torch.Tensor) -> nn.BatchNorm2d:
    """A BN that, in eval mode, adds `bias` exactly: gamma 1, beta = bias, mu 0, var = 1 - eps.

    It lets a fused conv+bias take the place of the base network's conv -> BN, keeping its shapes."""
    bn = batch_norm(bias.numel()).to(device=bias.device, dtype=bias.dtype)
    bn.weight.fill_(1.0)
    bn.bias.copy_(bias)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
    bn.num_batches_tracked.zero_()
    return bn


@torch.no_grad()
def fold_bias_into_bn(bias: torch.Tensor, bn: nn.BatchNorm2d) -> None:
    """conv + bias -> BN equals conv -> BN' with beta' = beta + gamma * bias / sqrt(var + eps)."""
    bn.bias.add_(bn.weight * bias / torch.sqrt(bn.running_var + bn.eps))


def conv_without_bias(conv: nn.Conv2d) -> nn.Conv2d:
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, groups=conv.groups, bias=False).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        plain.weight.copy_(conv.weight)
    return plain


def iter_parents(model: nn.Module, kind):
    """(parent, child name, child) for every module of type `kind`, deepest first, found up front so
    that callers may replace children while iterating."""
    found = []

    def visit(parent, depth):
        for name, child in parent.named_children():
            visit(child, depth + 1)
            if isinstance(child, kind):
                found.append((depth, parent, name, child))

    visit(model, 0)
    return [(p, n, c) for _, p, n, c in sorted(found, key=lambda t: -t[0])]


@torch.no_grad()
def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Fuse every DBB in `model` (in place) into the base network's form.

    A DBB followed by a BN in a Sequential (DyRep: only the conv was replaced) becomes a bias-free
    conv with its bias folded into that BN; a DBB followed by nn.Identity (the rep family: conv and
    BN were replaced) becomes conv + a bias-holding BN; any other DBB becomes a conv with bias."""
    for parent, name, dbb in iter_parents(model, DiverseBranchBlock):
        fused = dbb.fused_conv()
        nxt = _next_sibling(parent, name)
        if isinstance(nxt, nn.BatchNorm2d):
            fold_bias_into_bn(fused.bias, nxt)
            fused = conv_without_bias(fused)
        elif isinstance(nxt, nn.Identity) and isinstance(parent, nn.Sequential):
            names = list(parent._modules)
            parent._modules[names[names.index(name) + 1]] = bias_as_bn(fused.bias)
            fused = conv_without_bias(fused)
        parent._modules[name] = fused
    return model


def _next_sibling(parent: nn.Module, name: str):
    names = list(parent._modules)
    i = names.index(name)
    return parent._modules[names[i + 1]] if isinstance(parent, nn.Sequential) and i + 1 < len(names) else None


def init_branch_weights(module: nn.Module) -> None:
    """New branch convs ~ N(0, sqrt(2 / (k_h k_w c_out))) (pycls / DyRep fan-out init); an
    IdentityBasedConv1x1 keeps W = 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and not isinstance(m, IdentityBasedConv1x1):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
