"""Re-parameterized convolutions ("rep"): a wrapper family.

Option (per stage in ``StageSpec.family["rep"]``, or for every stage in ``ModelSpec.family["rep"]``;
a stage's own option wins):

    rep: {branches: [b, ...] subset of {0, 1, 2, 4, 5, 6}, internal_mult: 1 | 2}

Every k > 1 conv that is followed by its BN (the CB unit of every family) in those stages becomes a
DiverseBranchBlock with the kxk branch 3 plus `branches` (see designspace/models/dbb.py for the
indices; {0, 6} is RepVGG, {0, 1, 2} the original DBB; as in the original DBB, branch 1's 1x1 is
identity-based, W + I with W = 0 at init, when D = c_in). The deploy network is the base network
(the fused bias is held by the BN that follows), so the deploy complexity is that of the spec
without "rep"; the training graph is reported as cx_train_flops / cx_train_params / cx_train_acts.

Closed forms (pycls conventions, per replaced conv + BN with input h x h, output h' x h', groups g,
D = internal_mult * c_in; each branch includes its BNs). On a depthwise conv (g >= c_out) a branch set
with DBB branches (1, 2, 4, 5) follows the original DBB: no branch 0, and D = 2 c_in through a plain 1x1:
    3 kxk:       k^2 c_in c_out / g h'^2 MACs,            k^2 c_in c_out / g + 2 c_out params
    0 1x1:       c_in c_out / g h'^2,                     c_in c_out / g + 2 c_out
    1 1x1->kxk:  c_in D / g h^2 + k^2 D c_out / g h'^2,   c_in D / g + 2D + k^2 D c_out / g + 2 c_out
    2 1x1->avg:  c_in c_out / g h^2 (0 if no 1x1),        c_in c_out / g + 4 c_out (2 c_out if no 1x1)
    4, 5:        k c_in c_out / g h'^2 each,              k c_in c_out / g + 2 c_out each
    6 id-BN:     0,                                       2 c_in
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Annotated

import numpy as np
from pydantic import BaseModel, Field

from ...errors import UsageError
from ...registry import Family, family_of, register_family
from ...schema import STRICT, Integer, Items, validate
from ...spaces.base import WrappedSpace
from ...spec import FrozenDict, ModelSpec

KEY = "rep"
OPTIONAL_BRANCHES = (0, 1, 2, 4, 5, 6)
DEFAULT_BRANCHES = (0, 1, 2)  # the original DBB


# --- options ---------------------------------------------------------------------------------------
class RepOption(BaseModel):
    """A rep option as written: branch indices 0-6 (3, the kxk conv, is always on) and internal_mult."""
    model_config = STRICT
    branches: Items(Annotated[Integer, Field(ge=0, le=6)], max_length=7) = DEFAULT_BRANCHES
    internal_mult: Annotated[Integer, Field(ge=1, le=2)] = 1


def parse_rep_option(option, where: str = "rep") -> tuple[tuple[int, ...], int]:
    """(branches without 3, internal_mult) from a rep option; UsageError naming the bad field."""
    given = validate(RepOption, dict(option) if isinstance(option, Mapping) else option, where, noun="option")
    return tuple(sorted(set(given.branches) - {3})), given.internal_mult


def stage_rep_options(spec: ModelSpec) -> list:
    """Per stage: (branches, internal_mult) or None where the stage is not re-parameterized."""
    model_opt = spec.family.get(KEY)
    out = []
    for j, st in enumerate(spec.stages):
        opt = st.family.get(KEY, model_opt)
        out.append(None if opt is None else parse_rep_option(opt, f"stage {j + 1} rep"))
    return out


def strip_rep(spec: ModelSpec) -> ModelSpec:
    """The spec without any "rep" option: the deploy (base) network."""
    stages = tuple(dataclasses.replace(st, family=FrozenDict({k: v for k, v in st.family.items() if k != KEY}))
                   for st in spec.stages)
    family = FrozenDict({k: v for k, v in spec.family.items() if k != KEY})
    return dataclasses.replace(spec, stages=stages, family=family)


def with_rep(spec: ModelSpec, branches, internal_mult: int = 1) -> ModelSpec:
    """`spec` with one model-level rep option (every stage)."""
    option = {"branches": sorted(set(int(b) for b in branches) - {3}), "internal_mult": int(internal_mult)}
    parse_rep_option(option)
    return dataclasses.replace(spec, family=FrozenDict({**spec.family.thaw(), KEY: option}))


# --- closed forms ----------------------------------------------------------------------------------
def rep_conv_cx(c_in, c_out, k, h_in, stride, groups, branches, internal_mult=1, origin_bias=False):
    """Training-graph (flops, params, acts) of one DBB replacing a conv + BN; numpy-broadcasting.

    `branches` is a (..., 7) boolean array or a set of indices (3 is always counted); branches not
    allowed by the shape are dropped as DiverseBranchBlock drops them."""
    c_in, c_out, k, h_in, stride, groups = (np.asarray(v, np.int64) for v in (c_in, c_out, k, h_in, stride, groups))
    if not isinstance(branches, np.ndarray):
        branches = np.array([i in set(branches) for i in range(7)])
    on = [branches[..., i].astype(bool) for i in range(7)]
    mult = np.asarray(internal_mult, np.int64)
    h_out = (h_in - 1) // stride + 1
    hw_in, hw_out = h_in * h_in, h_out * h_out
    dense = c_in * c_out // groups
    # the original DBB's depthwise rule (see models/dbb.py uses_depthwise_rule): no branch 0, D = 2 c_in
    depthwise = (on[1] | on[2] | on[4] | on[5]) & (groups >= c_out)
    on[0] = on[0] & ~depthwise
    d = np.where(depthwise, np.maximum(mult, 2), mult) * c_in
    on[6] = on[6] & (c_in == c_out) & (stride == 1)
    avg_conv = ~((groups >= c_out) & (c_in == c_out))
    bias = np.int64(1 if origin_bias else 0)
    parts = {  # branch: (flops, params, acts)
        3: (k * k * dense * hw_out + bias * c_out, k * k * dense + 2 * c_out + bias * c_out, c_out * hw_out),
        0: (dense * hw_out, dense + 2 * c_out, c_out * hw_out),
        1: (c_in * d // groups * hw_in + k * k * d * c_out // groups * hw_out,
            c_in * d // groups + 2 * d + k * k * d * c_out // groups + 2 * c_out, d * hw_in + c_out * hw_out),
        2: (np.where(avg_conv, dense * hw_in, 0), np.where(avg_conv, dense + 4 * c_out, 2 * c_out),
            np.where(avg_conv, c_out * hw_in, 0)),
        4: (k * dense * hw_out, k * dense + 2 * c_out, c_out * hw_out),
        5: (k * dense * hw_out, k * dense + 2 * c_out, c_out * hw_out),
        6: (np.zeros_like(c_in), 2 * c_in, np.zeros_like(c_in)),
    }
    total = [np.int64(0)] * 3
    for i, vals in parts.items():
        flag = np.ones_like(on[0]) if i == 3 else on[i]
        total = [t + np.where(flag, v, 0) for t, v in zip(total, vals)]
    return tuple(np.asarray(t, np.int64) for t in total)


def base_conv_bn_cx(c_in, c_out, k, h_in, stride, groups):
    """(flops, params, acts) of the conv + BN a DBB replaces (pycls)."""
    h_out = (np.asarray(h_in) - 1) // np.asarray(stride) + 1
    dense = np.asarray(c_in, np.int64) * c_out // groups
    return k * k * dense * h_out * h_out, k * k * dense + 2 * np.asarray(c_out, np.int64), c_out * h_out * h_out


def deploy_conv_cx(c_in, c_out, k, h_in, stride, groups):
    """(flops, params) of the fused conv with bias, pycls convention (bias adds c_out flops)."""
    h_out = (np.asarray(h_in) - 1) // np.asarray(stride) + 1
    dense = np.asarray(c_in, np.int64) * c_out // groups
    return k * k * dense * h_out * h_out + c_out, k * k * dense + c_out


def _anynet_rep_delta(specs: Sequence[ModelSpec], regime) -> dict:
    """cx_train - cx_deploy of plain AnyNet specs with rep options, vectorized over specs per stage."""
    from ...complexity import BLOCK_CODE, SpecArrays, stem_output_size

    arr = SpecArrays.from_specs(specs)
    n, s = arr.widths.shape
    mask = np.zeros((n, s, 7), bool)
    mult = np.ones((n, s), np.int64)
    enabled = np.zeros((n, s), bool)
    for i, spec in enumerate(specs):
        for j, opt in enumerate(stage_rep_options(spec)):
            if opt is not None:
                enabled[i, j] = True
                mask[i, j, list(opt[0])] = True
                mult[i, j] = opt[1]
    h = stem_output_size(arr, regime)
    w_in = arr.stem_widths.copy()
    delta = [np.zeros(n, np.int64) for _ in range(3)]
    for j in range(s):
        d, w, st = arr.depths[:, j], arr.widths[:, j], arr.strides[:, j]
        blk, m, mj = arr.blocks[:, j], mask[:, j], mult[:, j]
        h_out = (h - 1) // st + 1
        one = np.ones(n, np.int64)
        w_b = np.round(w * (1.0 / arr.bottleneck_ratios[:, j])).astype(np.int64)
        groups = np.maximum(w_b // arr.group_widths[:, j], 1)

        def conv_delta(c_in, c_out, hh, stride, g):
            train = rep_conv_cx(c_in, c_out, 3, hh, stride, g, m, mj)
            base = base_conv_bn_cx(c_in, c_out, 3, hh, stride, g)
            return [t - b for t, b in zip(train, base)]

        basic_first = [a + b for a, b in zip(conv_delta(w_in, w, h, st, one), conv_delta(w, w, h_out, one, one))]
        basic_rest = [2 * a for a in conv_delta(w, w, h_out, one, one)]
        bott_first = conv_delta(w_b, w_b, h, st, groups)
        bott_rest = conv_delta(w_b, w_b, h_out, one, groups)
        is_bott = blk == BLOCK_CODE["res_bottleneck"]
        active = (d > 0) & enabled[:, j]
        rest = np.maximum(d - 1, 0)
        for t, bf, br, xf, xr in zip(delta, basic_first, basic_rest, bott_first, bott_rest):
            stage = np.where(is_bott, xf + rest * xr, bf + rest * br)
            t += np.where(active, stage, 0)
        live = d > 0
        h = np.where(live, h_out, h)
        w_in = np.where(live, w, w_in)
    return dict(zip(("flops", "params", "acts"), delta))


def _measured_delta(specs: Sequence[ModelSpec], regime) -> dict:
    """cx_train - cx_deploy by counting the built training graph (bases without a closed form here,
    e.g. stage families of other seeds); exact, but builds each model once."""
    from ...models import build
    from ...models.counting import measure

    out = {m: np.zeros(len(specs), np.int64) for m in ("flops", "params", "acts")}
    shape = (regime.channels, regime.im_size, regime.im_size)
    for i, spec in enumerate(specs):
        train = measure(build_rep(spec, regime), shape)
        base = measure(build(strip_rep(spec), regime), shape)
        for m in out:
            out[m][i] = train[m] - base[m]
    return out


def rep_complexity(specs: Sequence[ModelSpec], regime) -> dict:
    """Deploy columns = the base network's; cx_train_* = deploy + what the branches add."""
    from ...complexity import complexity

    for spec in specs:
        stage_rep_options(spec)  # validate before any work
    stripped = [strip_rep(s) for s in specs]
    deploy = complexity(stripped, regime)
    plain = np.array([family_of(s) is None for s in stripped], bool)
    delta = {m: np.zeros(len(specs), np.int64) for m in ("flops", "params", "acts")}
    for sel, fn in ((plain, _anynet_rep_delta), (~plain, _measured_delta)):
        idx = np.flatnonzero(sel)
        if len(idx):
            part = fn([specs[i] for i in idx], regime)
            for m in delta:
                delta[m][idx] = part[m]
    out = dict(deploy)
    for m in ("flops", "params", "acts"):
        base_train = deploy.get(f"cx_train_{m}", deploy[m])
        out[f"cx_train_{m}"] = base_train + delta[m]
    return out


# --- models ----------------------------------------------------------------------------------------
def apply_rep(model, spec: ModelSpec):
    """Replace, in the stages of `model` with a rep option, every [kxk conv, BN] pair of a Sequential
    by [DBB, Identity] (in place). Returns the number of convs replaced."""
    from torch import nn

    from .dbb import DiverseBranchBlock, init_branch_weights

    if not hasattr(model, "stages"):
        raise UsageError(f"rep: the {type(model).__name__} model has no stages to re-parameterize")
    active = [j for j, st in enumerate(spec.stages) if st.depth > 0]
    options = stage_rep_options(spec)
    replaced = 0
    for pos, j in enumerate(active):
        if options[j] is None:
            continue
        branches, mult = options[j]
        for seq in list(model.stages[pos].modules()):
            if not isinstance(seq, nn.Sequential):
                continue
            names = list(seq._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = seq._modules[a], seq._modules[b]
                if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                        and conv.kernel_size[0] == conv.kernel_size[1] > 1 and conv.bias is None):
                    k = conv.kernel_size[0]
                    dbb = DiverseBranchBlock(conv.in_channels, conv.out_channels, k, conv.stride[0], conv.padding[0],
                                             conv.groups, branches, mult, identity_1x1=True)
                    init_branch_weights(dbb)  # pycls init, identity-based 1x1 at W = 0; BN gamma 1 (DBB default)
                    seq._modules[a], seq._modules[b] = dbb, nn.Identity()
                    replaced += 1
    return replaced


def build_rep(spec: ModelSpec, regime):
    """The training form: the base network with its kxk conv + BN pairs re-parameterized."""
    from ...models import build

    model = build(strip_rep(spec), regime)
    apply_rep(model, spec)
    return model


def deploy_rep(model, spec: ModelSpec, regime):
    """Fuse every DBB: the base network's shapes (checked), the fused biases in its BNs."""
    from ...models import build
    from .dbb import switch_to_deploy

    deployed, deploy_spec = switch_to_deploy(model), strip_rep(spec)
    want = {k: tuple(v.shape) for k, v in build(deploy_spec, regime).state_dict().items()}
    have = {k: tuple(v.shape) for k, v in deployed.state_dict().items()}
    if want != have:
        bad = sorted(set(want.items()) ^ set(have.items()))[:3]
        raise RuntimeError(f"deploy: fused network differs from the base network's shapes: {bad}")
    return deployed, deploy_spec, "rep-fused"


register_family(Family(name=KEY, kind="wrapper", keys=(KEY,), complexity=rep_complexity, build=build_rep,
                       cpu_channels_last=False,  # DBB blocks: see Family.cpu_channels_last
                       deploy=deploy_rep, description="re-parameterized kxk convs (RepVGG / DBB branches)"))


# --- the space modifier ----------------------------------------------------------------------------
def _subset_branches(code: int) -> list[int]:
    return [b for bit, b in enumerate(OPTIONAL_BRANCHES) if code >> bit & 1]


# Fixed branch sets for paired comparisons (same seed -> the same base models): "+rep_repvgg" etc.
FIXED_SETS = {"repvgg": (0, 6), "dbb": (0, 1, 2), "full": (0, 1, 2, 4, 5, 6)}


class RepSpace(WrappedSpace):
    """`base` with a re-parameterization dimension: a branch subset of {0, 1, 2, 4, 5, 6} (64
    combinations; the kxk branch 3 is always on) and internal_mult in {1, 2}, shared by all stages;
    or, for +rep_repvgg / +rep_dbb / +rep_full, that fixed set with internal_mult 1. The deploy
    network (and so the flops band) is the base network's."""

    inherits = WrappedSpace.inherits + ("max_draws", "give_up_after")
    meta_keys = ("rep_subset", "rep_internal_mult")

    def __init__(self, base, fixed: str | None = None):
        about = f"(branches {list(FIXED_SETS[fixed])})" if fixed else "(DBB branch subset)"
        super().__init__(base, f"rep_{fixed}" if fixed else "rep", f" + re-parameterized kxk convs {about}")
        self.fixed = fixed

    @property
    def free_params(self):
        if self.fixed:
            return list(self.base.free_params)
        return list(self.base.free_params) + [
            ("rep", "branch subset of {0,1,2,4,5,6} (uniform over 64), internal_mult in {1,2}")]

    def draw(self, rng, m):
        return self._with_rep_draws(self.base.draw(rng, m), rng)

    def _with_rep_draws(self, dr, rng):
        if self.fixed:
            code = sum(1 << OPTIONAL_BRANCHES.index(b) for b in FIXED_SETS[self.fixed])
            dr.meta["rep_subset"] = np.full(len(dr), code, np.int64)
            dr.meta["rep_internal_mult"] = np.ones(len(dr), np.int64)
        else:
            dr.meta["rep_subset"] = rng.integers(0, 64, len(dr))
            dr.meta["rep_internal_mult"] = rng.integers(1, 3, len(dr))
        return dr

    def with_options(self, spec, i, dr):
        return with_rep(spec, _subset_branches(dr.meta["rep_subset"][i]), int(dr.meta["rep_internal_mult"][i]))

    def sample_arrays(self, n, seed=0, flops=None, regime="imagenet"):
        """The base space's sample (its own sampler, band on the deploy flops), then one branch
        set per model from a stream seeded by `seed`, then the training-graph columns."""
        from ...regimes import get_regime

        dr, cx = self.base.sample_arrays(n, seed, flops, regime)
        dr = self._with_rep_draws(dr, np.random.default_rng([seed, 0x7E9]))
        train = rep_complexity(self.specs_from(dr), get_regime(regime))
        cx.update({k: v for k, v in train.items() if k.startswith("cx_train_")})
        return dr, cx


def _register_modifier():
    from ...spaces import register_modifier

    register_modifier(KEY, RepSpace)
    for fixed in FIXED_SETS:
        register_modifier(f"{KEY}_{fixed}", lambda base, fixed=fixed: RepSpace(base, fixed))


_register_modifier()
