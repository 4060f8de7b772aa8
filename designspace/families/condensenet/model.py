"""CondenseNetV2 (seed 004; jianghaojun/CondenseNetV2): dense blocks of learned group convolutions
(LGC) with sparse feature reactivation (SFR), the condensation schedule, and the conversion of the
masked training form into group convs + index layers.

Everything is pre-activation (BN -> act -> conv). One dense layer with C inputs, growth k,
bottleneck b:
    u = LGC(x)      BN(C) -> act -> masked 1x1 C -> b*k        (output o in group o mod G1)
    v = BN -> act -> 3x3 group conv (G3) b*k -> k [-> SE(k, reduction 1)]
    r = SFR(v)      BN(k) -> act -> masked 1x1 k -> C          (input j in group j mod G_t)
    out = cat[x + r, v]
LGC keeps, per output group, C/C1 input columns; SFR keeps, per input group, C/S output rows.
The SFR BN starts at gamma = beta = 0, so r = 0 and the layer starts as a CondenseNet layer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import CondenseConfig


class HSwish(nn.Module):
    """h-swish: x * ReLU6(x + 3) / 6."""

    def forward(self, x):
        return x * F.relu6(x + 3.0) / 6.0


def make_act(kind: str) -> nn.Module:
    return HSwish() if kind == "hswish" else nn.ReLU(inplace=True)


def condense_stage(progress: float, factor: int) -> int:
    """Stage of the schedule at `progress`: min{j in 0..F-2 : 2p < (j+1)/(F-1)}, else F-1."""
    for j in range(factor - 1):
        if 2.0 * progress < (j + 1) / (factor - 1):
            return j
    return factor - 1


class MaskedConv2d(nn.Conv2d):
    """1x1 conv whose weight is multiplied by a 0/1 mask in the forward (masked weights still see
    weight decay, as in the reference). An nn.Conv2d, so hook-based MAC counters see it."""

    def __init__(self, c_in, c_out):
        super().__init__(c_in, c_out, 1, bias=False)
        self.register_buffer("mask", torch.ones(c_out, c_in, 1, 1))

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.mask, None)


class _Condensing(nn.Module):
    """Shared machinery of LGC and SFR: a dense 1x1 conv under a 0/1 mask that only shrinks.

    The pruned axis ('in' for LGC, 'out' for SFR) loses `delta` entries per group at every stage
    of the schedule; `advance(progress)` applies all stages up to the one `progress` has reached
    (catch-up: a short run that jumps over a threshold still prunes every stage, and p >= 1/2
    forces the last one)."""

    prune_axis = ""

    def __init__(self, c_in, c_out, groups, factor, act):
        super().__init__()
        self.in_channels, self.out_channels, self.groups, self.factor = c_in, c_out, groups, factor
        self.norm = nn.BatchNorm2d(c_in)
        self.act = make_act(act)
        self.act_kind = act
        self.conv = MaskedConv2d(c_in, c_out)
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        return self.conv(self.act(self.norm(x)))

    @property
    def mask(self) -> torch.Tensor:
        return self.conv.mask

    @property
    def delta(self) -> int:
        return (self.in_channels if self.prune_axis == "in" else self.out_channels) // self.factor

    @torch.no_grad()
    def advance(self, progress: float) -> int:
        """Prune every stage reached by `progress` and not yet applied; returns how many."""
        target = condense_stage(progress, self.factor) if 2.0 * progress < 1.0 else self.factor - 1
        events = 0
        while int(self.stage) < target:
            self._prune(self.delta)
            self.stage += 1
            events += 1
        return events

    def _prune(self, delta: int) -> None:
        weight = (self.conv.weight * self.mask).abs()[:, :, 0, 0]  # (out, in)
        mask = self.mask[:, :, 0, 0]
        count = int(self.count)
        for g in range(self.groups):
            if self.prune_axis == "in":  # LGC: outputs o = g (mod G) share their kept input columns
                members = slice(g, None, self.groups)
                imp = weight[members].sum(0)
                alive = mask[members].amax(0) > 0
            else:  # SFR: inputs j = g (mod G_t) share their kept output rows
                members = slice(g, None, self.groups)
                imp = weight[:, members].sum(1)
                alive = mask[:, members].amax(1) > 0
            imp = torch.where(alive, imp, torch.full_like(imp, -1.0))  # pruned first, ties cannot swap
            drop = torch.sort(imp, stable=True)[1][count:count + delta]
            if self.prune_axis == "in":
                mask[members, drop] = 0.0
            else:
                mask[drop, members] = 0.0
        self.count += delta

    def kept(self, group: int) -> torch.Tensor:
        """Kept indices (increasing) of one group on the pruned axis."""
        mask = self.mask[:, :, 0, 0]
        if self.prune_axis == "in":
            rows = mask[group::self.groups]
            keep = rows[0] > 0
            if not torch.equal(rows, keep.to(rows.dtype).expand_as(rows)):
                raise RuntimeError("LGC mask is not shared inside a group")
        else:
            cols = mask[:, group::self.groups]
            keep = cols[:, 0] > 0
            if not torch.equal(cols, keep.to(cols.dtype)[:, None].expand_as(cols)):
                raise RuntimeError("SFR mask is not shared inside a group")
        return torch.nonzero(keep).flatten()

    def lasso_loss(self) -> torch.Tensor:
        """Group lasso over the pruned axis (CondenseNet v1; unused by the released V2 training)."""
        w = (self.conv.weight * self.mask)[:, :, 0, 0].pow(2)
        if self.prune_axis == "in":
            w = w.view(self.out_channels // self.groups, self.groups, self.in_channels).sum(0)
        else:
            w = w.view(self.out_channels, self.in_channels // self.groups, self.groups).sum(1)
        return w.clamp(min=1e-6).sqrt().sum()


class LearnedGroupConv(_Condensing):
    """LGC: BN(C) -> act -> masked 1x1 C -> b*k; each output group keeps C/C1 input columns."""

    prune_axis = "in"


class SparseFeatureReactivation(_Condensing):
    """SFR: BN(k) -> act -> masked 1x1 k -> C; each input group keeps C/S output rows.
    BN gamma = 1, beta = 0 at init, as the reference's `_initialize()` leaves it (its SFR zero init is
    overwritten there; a gamma = beta = 0 BN before a ReLU would give SFR zero gradient for good)."""

    prune_axis = "out"


class SELayer(nn.Module):
    """SE on (N, C, H, W): GAP -> Linear(C, C/r) -> ReLU -> Linear(C/r, C) -> sigmoid -> scale; no biases."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(self.pool(x).flatten(1))[:, :, None, None]


def bn_act_conv(c_in, c_out, k, groups, act) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(c_in), make_act(act), nn.Conv2d(c_in, c_out, k, padding=k // 2,
                                                                        groups=groups, bias=False))


class DenseLayer(nn.Module):
    """out = cat[x + SFR(v), v] with v = 3x3(LGC(x)) [SE]; without SFR, cat[x, v] (CondenseNet)."""

    def __init__(self, c_in, k, cfg: CondenseConfig, act, use_se):
        super().__init__()
        bk = cfg.bottleneck * k
        self.lgc = LearnedGroupConv(c_in, bk, cfg.groups, cfg.condense, act)
        self.conv = bn_act_conv(bk, k, 3, cfg.groups, act)
        self.se = SELayer(k, 1) if use_se else None
        self.sfr = SparseFeatureReactivation(k, c_in, cfg.sfr_groups, cfg.sfr, act) if cfg.sfr else None

    def forward(self, x):
        v = self.conv(self.lgc(x))
        if self.se is not None:
            v = self.se(v)
        if self.sfr is not None:
            x = x + self.sfr(v)
        return torch.cat([x, v], 1)


class CondenseNetV2(nn.Module):
    """stem 3x3 conv (no BN) -> dense blocks with 2x2 avg-pool transitions -> BN, ReLU, global pool,
    [SE(C, head_se)], [Linear(C, fc) + h-swish], Linear(., classes)."""

    def __init__(self, cfg: CondenseConfig, in_channels: int, num_classes: int, stem_stride: int):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.stem = nn.Conv2d(in_channels, cfg.stem, 3, stride=stem_stride, padding=1, bias=False)
        blocks = []
        layers = list(cfg.layers())
        for b in range(len(cfg.blocks)):
            mods = [DenseLayer(c, k, cfg, act, se) for blk, _, c, k, act, se in layers if blk == b]
            if b < len(cfg.blocks) - 1:
                mods.append(nn.AvgPool2d(2, 2))
            blocks.append(nn.Sequential(*mods))
        self.blocks = nn.Sequential(*blocks)
        c = cfg.final_width
        self.norm = nn.BatchNorm2d(c)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_se = SELayer(c, cfg.head_se) if cfg.head_se else None
        self.fc = nn.Sequential(nn.Linear(c, cfg.fc), HSwish()) if cfg.fc else None
        self.classifier = nn.Linear(cfg.fc or c, num_classes)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)  # SFR's BN included (reference `_initialize()`)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.pool(self.act(self.norm(self.blocks(self.stem(x)))))
        if self.head_se is not None:
            x = self.head_se(x)
        x = x.flatten(1)
        if self.fc is not None:
            x = self.fc(x)
        return self.classifier(x)

    def condensing_layers(self):
        return [m for m in self.modules() if isinstance(m, _Condensing)]

    def set_progress(self, progress: float) -> int:
        """Advance the condensation schedule to training progress p = (epoch*I + i)/(E*I)."""
        return sum(m.advance(progress) for m in self.condensing_layers())

    def lasso_loss(self) -> torch.Tensor:
        return sum((m.lasso_loss() for m in self.condensing_layers()), torch.zeros(()))


# --- conversion: masked training form -> group conv + index layers --------------------------------
def shuffle(x, groups):
    """ShuffleLayer: view (G, C/G), transpose -> channel r*G + g holds group g's r-th output."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def shuffle_trans(x, groups):
    """ShuffleLayerTrans: view (C/G, G), transpose -> group g's channels j = g (mod G) contiguous."""
    n, c, h, w = x.shape
    return x.view(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, index=None):
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            value = getattr(src, name)
            getattr(dst, name).copy_(value if index is None else value[index])
        dst.num_batches_tracked.copy_(src.num_batches_tracked)


class CondensedLGC(nn.Module):
    """index_select(I) -> BN(|I|) -> act -> group conv G1 (|I| -> b*k) -> shuffle(G1)."""

    def __init__(self, c_in, c_out, groups, condense, act):
        super().__init__()
        self.groups = groups
        kept = groups * c_in // condense
        self.register_buffer("index", torch.arange(kept) % c_in)
        self.norm = nn.BatchNorm2d(kept)
        self.act = make_act(act)
        self.conv = nn.Conv2d(kept, c_out, 1, groups=groups, bias=False)

    def forward(self, x):
        x = self.conv(self.act(self.norm(torch.index_select(x, 1, self.index))))
        return shuffle(x, self.groups)

    @classmethod
    @torch.no_grad()
    def from_masked(cls, lgc: LearnedGroupConv) -> CondensedLGC:
        g, c_out = lgc.groups, lgc.out_channels
        new = cls(lgc.in_channels, c_out, g, lgc.factor, lgc.act_kind)
        per_in, per_out = new.index.numel() // g, c_out // g
        w = lgc.conv.weight * lgc.mask
        index = []
        for grp in range(g):
            cols = lgc.kept(grp)
            if cols.numel() != per_in:
                raise RuntimeError(f"LGC group {grp} keeps {cols.numel()} inputs, expected {per_in}: "
                                   "condensation not finished (progress < 1/2)")
            index.append(cols)
            outs = torch.arange(grp, c_out, g)  # outputs of this group, r-th is o = grp + r*G
            new.conv.weight[grp * per_out:(grp + 1) * per_out] = w[outs][:, cols]
        new.index.copy_(torch.cat(index))
        _copy_bn(new.norm, lgc.norm, new.index)
        return new


class IndexLayer(nn.Module):
    """r_o = sum over q with idx(q) = o of z_q, stored as the general O' x C 0/1 matrix: outputs never
    kept get 0 and duplicates add up (works for G_t != S, unlike an O' x O' permutation)."""

    def __init__(self, rows: int, c_out: int):
        super().__init__()
        self.register_buffer("index", torch.zeros(rows, c_out))
        self.c_out = c_out

    def forward(self, z):
        target = self.index.argmax(1)  # each row has exactly one 1
        out = z.new_zeros(z.shape[0], self.c_out, *z.shape[2:])
        return out.index_add(1, target, z)


class CondensedSFR(nn.Module):
    """BN(k) -> act -> shuffle_trans(G_t) -> group conv G_t (k -> O' = G_t C/S) -> index layer (O' x C)."""

    def __init__(self, c_in, c_out, groups, factor, act):
        super().__init__()
        self.groups = groups
        rows = groups * c_out // factor
        self.norm = nn.BatchNorm2d(c_in)
        self.act = make_act(act)
        self.conv = nn.Conv2d(c_in, rows, 1, groups=groups, bias=False)
        self.index = IndexLayer(rows, c_out)

    def forward(self, x):
        return self.index(self.conv(shuffle_trans(self.act(self.norm(x)), self.groups)))

    @classmethod
    @torch.no_grad()
    def from_masked(cls, sfr: SparseFeatureReactivation) -> CondensedSFR:
        g, k = sfr.groups, sfr.in_channels
        new = cls(k, sfr.out_channels, g, sfr.factor, sfr.act_kind)
        per_row = new.conv.out_channels // g
        w = sfr.conv.weight * sfr.mask
        new.index.index.zero_()
        for grp in range(g):
            rows = sfr.kept(grp)
            if rows.numel() != per_row:
                raise RuntimeError(f"SFR group {grp} keeps {rows.numel()} outputs, expected {per_row}: "
                                   "condensation not finished (progress < 1/2)")
            ins = torch.arange(grp, k, g)  # after shuffle_trans, group grp's r-th input is j = grp + r*G_t
            new.conv.weight[grp * per_row:(grp + 1) * per_row] = w[rows][:, ins]
            new.index.index[grp * per_row + torch.arange(per_row), rows] = 1.0
        _copy_bn(new.norm, sfr.norm)
        return new


def _replace_all(model: nn.Module, kind, make):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, kind):
                setattr(parent, name, make(child))


def convert(model: CondenseNetV2) -> CondenseNetV2:
    """In place: every LGC / SFR becomes its group-conv form (needs the finished masks)."""
    _replace_all(model, LearnedGroupConv, CondensedLGC.from_masked)
    _replace_all(model, SparseFeatureReactivation, CondensedSFR.from_masked)
    model.converted = True
    return model


def converted_skeleton(model: CondenseNetV2) -> CondenseNetV2:
    """The converted architecture with placeholder weights (to load a converted state_dict into)."""
    def lgc(m):
        return CondensedLGC(m.in_channels, m.out_channels, m.groups, m.factor, m.act_kind)

    def sfr(m):
        return CondensedSFR(m.in_channels, m.out_channels, m.groups, m.factor, m.act_kind)

    _replace_all(model, LearnedGroupConv, lgc)
    _replace_all(model, SparseFeatureReactivation, sfr)
    model.converted = True
    return model



@torch.no_grad()
def feature_reuse_map(model: CondenseNetV2) -> list:
    """E004-c (cf. jianghaojun/CondenseNetV2 visualize/plot_weight_layer_level.py): per dense block, an
    (n_layers, n_layers + 1) array whose [l, s] entry is the mean |W_LGC * M| of layer l over the
    input channels produced by source s (s = 0: the block's input, s >= 1: layer s's new features).
    Entries for sources a layer cannot see (s > l) are NaN. Needs the masked (unconverted) form."""
    maps = []
    for block in model.blocks:
        layers = [m for m in block if isinstance(m, DenseLayer)]
        if not layers:
            continue
        c0 = layers[0].lgc.in_channels
        k = layers[0].conv[2].out_channels
        grid = torch.full((len(layers), len(layers) + 1), float("nan"))
        for li, layer in enumerate(layers):
            if not isinstance(layer.lgc, LearnedGroupConv):
                raise RuntimeError("feature_reuse_map needs the masked form (before convert)")
            w = (layer.lgc.conv.weight * layer.lgc.mask).abs()[:, :, 0, 0].mean(0)  # per input channel
            grid[li, 0] = w[:c0].mean()
            for s in range(1, li + 1):
                grid[li, s] = w[c0 + (s - 1) * k:c0 + s * k].mean()
        maps.append(grid.numpy())
    return maps
