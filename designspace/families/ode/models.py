"""torch modules of ODE stacking (seed-families.md §2.2; imported lazily, by the stage builders only).

One RK block regroups s host residual functions F_1..F_s (Euler, s = 1, is the host block itself):
    x' = P(x);  k_1 = F_1(sg_block(x));  k_i = F_i(x' + h sum_{j<i} a_ij k_j)
    y  = act(M_γ ⊙ sg_residual(x') + sum_i b_i k_i)
h < 1 suppresses the inner states only (the a_ij): scaling the b_i as well would equal scaling each
F's last BN by h, a mere reparameterization, while scaling the a_ij alone changes the function class.
An Euler block is the host residual unit, so the gradient-path options that rewire it ride on its
arguments: M_γ keeps the shortcut on the first round(γ C) channels (PRN, darknet [shortcut]
semantics; `keep`) and sg_* are seed 000's stop-gradient variants (`stopgrad`); the stage handler
allows them with s = 1 only. Coefficients equal to 1 and the full mask are skipped, so s = 1 with
defaults computes exactly the host block's `shortcut(x) + f(x)` (bit-identical).
"""
from __future__ import annotations

import torch
from torch import nn

from ...models.layers import activation
from .tableaus import stages_of, tableau


def partial_add(shortcut: torch.Tensor, out: torch.Tensor, keep: int | None) -> torch.Tensor:
    """out + shortcut on the first min(keep, C_shortcut, C_out) channels (all when keep is None)."""
    c_out, c_sc = out.shape[1], shortcut.shape[1]
    c = min(c_out, c_sc) if keep is None else min(keep, c_out, c_sc)
    if c == c_out == c_sc:
        return shortcut + out
    if c == 0:
        return out
    return torch.cat([shortcut[:, :c] + out[:, :c], out[:, c:]], dim=1)


def _scaled(coef: float, t: torch.Tensor) -> torch.Tensor:
    return t if coef == 1.0 else coef * t


class RKBlock(nn.Module):
    """One Runge-Kutta step over residual functions `f` (a ModuleList), see the module docstring."""

    def __init__(self, fs, proj: nn.Module | None, scheme: str = "euler", suppress: float = 1.0,
                 keep: int | None = None, stopgrad: str = "none"):
        super().__init__()
        a, b = tableau(scheme)
        if len(fs) != len(b):
            raise ValueError(f"{scheme} needs {len(b)} residual functions, got {len(fs)}")
        self.f = nn.ModuleList(fs)
        self.proj = proj
        self.scheme, self.keep, self.stopgrad = scheme, keep, stopgrad
        self.a = [[suppress * v for v in row] for row in a]
        self.b = list(b)  # not suppressed: see the module docstring
        self.act = activation()

    def shortcut(self, x):
        return x if self.proj is None else self.proj(x)

    def forward(self, x):
        sc = self.shortcut(x)
        if self.stopgrad == "residual":  # gradient reaches the trunk only through F
            sc = sc.detach()
        ks = [self.f[0](x.detach() if self.stopgrad == "block" else x)]  # F trains but never feeds the trunk
        for i in range(1, len(self.f)):
            z = sc
            for a_ij, k_j in zip(self.a[i][:i], ks):
                if a_ij:
                    z = z + _scaled(a_ij, k_j)
            ks.append(self.f[i](z))
        out = None
        for b_i, k_i in zip(self.b, ks):
            if b_i:
                out = _scaled(b_i, k_i) if out is None else out + _scaled(b_i, k_i)
        return self.act(partial_add(sc, out, self.keep))


class LMStage(nn.Module):
    """LM-ResNet: u_{n+1} = act((1 - k_n) u_n + k_n u_{n-1} + F_n(u_n)), one trainable k_n per block.

    The first block is plain (it carries the stride); the next block uses u_{n-1} := P(x).
    k_n ~ U[-0.1, 0] (the paper's convention); k_n = 0 is exactly the plain ResNet."""

    def __init__(self, first: RKBlock, fs):
        super().__init__()
        self.first = first
        self.f = nn.ModuleList(fs)
        self.k = nn.Parameter(torch.empty(len(fs)).uniform_(-0.1, 0.0))
        self.act = activation()

    def forward(self, x):
        prev = self.first.shortcut(x)
        u = self.first.act(prev + self.first.f[0](x))
        for k, f in zip(self.k, self.f):
            u, prev = self.act((1 - k) * u + k * prev + f(u)), u
        return u


class ZeroPadShortcut(nn.Module):
    """Option A (He et al.; HO-ResNet's CIFAR setting): x[:, :, ::s, ::s] zero-padded on the channel
    axis to C_out, (C_out - C_in) // 2 zero channels before and the rest after (HO-ResNet pads
    C_out/4 each side for C_out = 2 C_in). No parameters."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        super().__init__()
        self.stride, self.before, self.after = stride, (w_out - w_in) // 2, w_out - w_in - (w_out - w_in) // 2

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.before, self.after))


class PreActBasic(nn.Sequential):
    """HO-ResNet's residual function: BN(C_in) -> ReLU -> 3x3 (stride) -> BN -> ReLU -> 3x3."""

    def __init__(self, w_in: int, w_out: int, stride: int):
        from ...models.layers import conv2d, norm2d

        super().__init__(norm2d(w_in), activation(), conv2d(w_in, w_out, 3, stride), norm2d(w_out), activation(),
                         conv2d(w_out, w_out, 3))


def stack_units(fs: list, first_proj: nn.Module | None, opts=None, keep: int | None = None,
                stopgrad: str = "none") -> nn.Sequential:
    """A stage's residual functions `fs` (the first carries the stride and width change, `first_proj`
    its shortcut) grouped into the units of its OdeOptions `opts` (None: Euler, one unit per
    function): RK-s blocks of s functions, or one LM stage. `keep` and `stopgrad` go to every block."""
    scheme = "euler" if opts is None else opts.scheme
    if scheme == "lm":
        return nn.Sequential(LMStage(RKBlock(fs[:1], first_proj), fs[1:]))
    s = stages_of(scheme)
    if len(fs) % s:
        raise ValueError(f"{len(fs)} residual functions do not group into {scheme} blocks of {s}")
    suppress = 1.0 if opts is None else opts.suppress
    return nn.Sequential(*[RKBlock(fs[u * s:(u + 1) * s], first_proj if u == 0 else None, scheme, suppress, keep,
                                   stopgrad) for u in range(len(fs) // s)])
