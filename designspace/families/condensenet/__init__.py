"""CondenseNetV2 (seed 004): a macro family of dense networks with learned group convolutions (LGC)
and sparse feature reactivation (SFR), its closed-form complexity and its design spaces.

Option ``ModelSpec.family["condensenetv2"]`` (the spec's `stages` stay empty):

    blocks: [n_1, ...]     dense layers per block          growth: [k_1, ...]  growth per block
    groups: G (= G1 = G3)  condense: C1 (LGC factor)        sfr: S (0: no SFR = CondenseNet)
    sfr_groups: G_t (default G)     bottleneck: b (default 4)     stem: 2 k_0 (default 2 * growth[0])
    fc: fc_ch (default 0: no fc layer)    se_from / hswish_from: first 0-based block with SE /
    h-swish (defaults 3 / 2, the ImageNet configs)    head_se: reduction of the head SE (default 16; 0 none)

Complexity (pycls: conv/linear MACs + linear bias; BN params 2C), per layer at h x h with C inputs:
    deploy: MACs h^2 [C bk/C1 + 9 bk k/G3 + k C/S] + [SE 2k^2];
            params 2 G1 C/C1 + C bk/C1 + 2bk + 9 bk k/G3 + 2k + k C/S + [SE 2k^2]
    train (masked dense convs): LGC C bk h^2 MACs, C bk + 2C params; SFR k C h^2 MACs, k C + 2k params.
Network: stem 9 c 2k_0 h_0^2 (no BN) + blocks (h halves at each 2x2 avg-pool transition) + head
(BN 2C, SE 2 C (C/16), fc C fc + fc, classifier). Flops band and EDF normalisation use deploy.
``cx_reference_flops`` is the same network counted as the reference's utils/tools.py `measure_model`
counts it (LGC / SFR as dense / factor, every activation's input numel, pooling k^2 per output, 2 per
sigmoid element, Linear weights only): the numbers of the README table (CDNV2-A/B/C: 45,874,350 /
146,469,057 / 309,740,977, beside pycls's 43,145,604 / 140,470,680 / 295,789,576).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ...errors import UsageError
from ...registry import Family, TrainHook, register_family
from ...spec import FrozenDict, ModelSpec
from .options import (
    CONDENSE_KEYS,
    INT_KEYS,
    KEY,
    LIST_KEYS,
    RECIPE_KEY,
    parse_condense,
    parse_options,
    validate_condense,
)

__all__ = ["CDNV2", "CONDENSE_KEYS", "INT_KEYS", "KEY", "LIST_KEYS", "RECIPE_KEY", "CondensationHook",
           "build_condensenet", "build_converted", "cdnv2", "condensation_hooks", "condensenet_complexity",
           "condensenet_complexity_arrays", "condensenet_spec", "convert_model", "deploy_condensed", "load_condensed",
           "parse_condense", "parse_options", "validate_condense", "with_options"]

# The README's ImageNet models (jianghaojun/CondenseNetV2 model/condensenetv2.py cdnv2_a/b/c).
CDNV2 = {
    "A": dict(blocks=[1, 1, 4, 6, 8], growth=[8, 8, 16, 32, 64], groups=8, condense=8, sfr=8, fc=828),
    "B": dict(blocks=[2, 4, 6, 8, 6], growth=[6, 12, 24, 48, 96], groups=6, condense=6, sfr=6, fc=1024),
    "C": dict(blocks=[4, 6, 8, 10, 8], growth=[8, 16, 32, 64, 128], groups=8, condense=8, sfr=8, fc=1024),
}


def condensenet_spec(space: str = "", **options) -> ModelSpec:
    """A CondenseNetV2 ModelSpec from options (validated)."""
    spec = ModelSpec(stages=(), family={KEY: options}, meta={"space": space} if space else {})
    parse_options(spec)
    return spec


def cdnv2(name: str) -> ModelSpec:
    """CondenseNetV2-A, -B or -C (ImageNet configs: SE from block 3, h-swish from block 2, b = 4)."""
    return condensenet_spec(f"CDNV2-{name}", **CDNV2[name])


# --- vectorized closed form ------------------------------------------------------------------------
def _columns(cfgs):
    """Padded (N, B) arrays of the per-block options and (N,) arrays of the scalar ones."""
    n, b = len(cfgs), max(len(c.blocks) for c in cfgs)
    cols = {"blocks": np.zeros((n, b), np.int64), "growth": np.ones((n, b), np.int64)}
    for i, c in enumerate(cfgs):
        cols["blocks"][i, :len(c.blocks)] = c.blocks
        cols["growth"][i, :len(c.growth)] = c.growth
        cols.setdefault("nblocks", np.zeros(n, np.int64))[i] = len(c.blocks)
    for key in ("groups", "condense", "sfr", "sfr_groups", "bottleneck", "stem", "fc", "se_from", "hswish_from",
                "head_se"):
        cols[key] = np.array([getattr(c, key) for c in cfgs], np.int64)
    return cols


def condensenet_complexity_arrays(cfgs, regime) -> dict:
    """{"flops", "params", "acts", "cx_train_flops", "cx_train_params", "cx_train_acts"} int64 (N,)."""
    col = _columns(cfgs)
    n = len(cfgs)
    g, c1, s, gt, bott = col["groups"], col["condense"], col["sfr"], col["sfr_groups"], col["bottleneck"]
    has_sfr = s > 0
    s_safe = np.where(has_sfr, s, 1)
    h = np.full(n, (regime.im_size - 1) // regime.stem_stride + 1, np.int64)
    stem = col["stem"]
    dep = [9 * regime.channels * stem * h * h, 9 * regime.channels * stem, stem * h * h]
    train = [v.copy() for v in dep]
    ref = dep[0].copy()  # ops in the reference's measure_model convention (see reference_ops)
    c = stem.copy()
    max_layers = int(col["blocks"].max())
    l_idx = np.arange(max_layers)[None, :]
    for b in range(col["blocks"].shape[1]):
        nb, k = col["blocks"][:, b:b + 1], col["growth"][:, b:b + 1]
        live = l_idx < nb  # (N, L)
        cin = c[:, None] + l_idx * k
        hw = (h * h)[:, None]
        bk = bott[:, None] * k
        se = (b >= col["se_from"])[:, None]
        sfr = has_sfr[:, None]
        conv3 = [9 * bk * k // g[:, None] * hw, 9 * bk * k // g[:, None] + 2 * bk, k * hw]
        se_cx = [np.where(se, 2 * k * k, 0), np.where(se, 2 * k * k, 0), np.where(se, 2 * k, 0)]
        lgc_dep = [cin * bk // c1[:, None] * hw, cin * bk // c1[:, None] + 2 * g[:, None] * cin // c1[:, None],
                   bk * hw]
        lgc_train = [cin * bk * hw, cin * bk + 2 * cin, bk * hw]
        rows = gt[:, None] * cin // s_safe[:, None]
        sfr_dep = [np.where(sfr, k * cin // s_safe[:, None] * hw, 0),
                   np.where(sfr, k * cin // s_safe[:, None] + 2 * k, 0),
                   np.where(sfr, rows * hw, 0)]
        sfr_train = [np.where(sfr, k * cin * hw, 0), np.where(sfr, k * cin + 2 * k, 0), np.where(sfr, cin * hw, 0)]
        for tot, parts in ((dep, (lgc_dep, conv3, se_cx, sfr_dep)), (train, (lgc_train, conv3, se_cx, sfr_train))):
            for m in range(3):
                tot[m] = tot[m] + np.where(live, sum(p[m] for p in parts), 0).sum(1)
        # measure_model: LGC act + dense/C1 conv, 3x3 act + conv, SE (pool k h^2, 2 k^2, ReLU k,
        # sigmoid 2k), SFR act + dense/S conv; every activation counts its input's numel
        ref_layer = (cin * hw + cin * bk * hw // c1[:, None] + bk * hw + conv3[0]
                     + np.where(se, k * hw + 2 * k * k + 3 * k, 0)
                     + np.where(sfr, k * hw + k * cin * hw // s_safe[:, None], 0))
        ref = ref + np.where(live, ref_layer, 0).sum(1)
        active = b < col["nblocks"]
        c = np.where(active, c + col["blocks"][:, b] * col["growth"][:, b], c)
        last = b == col["nblocks"] - 1
        ref = ref + np.where(active & ~last, c * (h // 2) * (h // 2) * 4, 0)  # 2x2 avg pool: k^2 per output
        h = np.where(active & ~last, h // 2, h)
    # head: BN, [SE], [fc + h-swish], classifier
    r = np.maximum(col["head_se"], 1)
    has_se = col["head_se"] > 0
    fc, nc = col["fc"], regime.num_classes
    feat = np.where(fc > 0, fc, c)
    head = [np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            2 * c + np.where(has_se, 2 * c * (c // r), 0) + np.where(fc > 0, c * fc + fc, 0) + feat * nc + nc,
            np.where(has_se, c // r + c, 0) + np.where(fc > 0, fc, 0) + nc]
    # head: ReLU C h^2, AvgPool(h) C h^2, [SE: pool C, 2 C (C/r), ReLU C/r, sigmoid 2C], [fc C fc + h-swish fc],
    # classifier fc classes: Linear weights only
    rs = c // r
    ref = ref + 2 * c * h * h + np.where(has_se, c + 2 * c * rs + rs + 2 * c, 0) \
        + np.where(fc > 0, c * fc + fc, 0) + feat * nc
    out = {}
    for m, name in enumerate(("flops", "params", "acts")):
        out[name] = dep[m] + head[m]
        out[f"cx_train_{name}"] = train[m] + head[m]
    out["cx_reference_flops"] = ref
    return out


def condensenet_complexity(specs: Sequence[ModelSpec], regime) -> dict:
    return condensenet_complexity_arrays([parse_options(s) for s in specs], regime)


def build_condensenet(spec: ModelSpec, regime):
    """The training form (masked LGC / SFR)."""
    from .model import CondenseNetV2

    return CondenseNetV2(parse_options(spec), regime.channels, regime.num_classes, regime.stem_stride)


def build_converted(spec: ModelSpec, regime):
    """The converted (deploy) architecture with placeholder weights; load a converted state_dict into it."""
    from ...regimes import get_regime
    from .model import converted_skeleton

    return converted_skeleton(build_condensenet(spec, get_regime(regime)))


def convert_model(model):
    """In place: masked LGC / SFR -> index-select + group conv + shuffle / index layer."""
    from .model import convert

    return convert(model)


class CondensationHook(TrainHook):
    """Advance the LGC / SFR masks with progress p = step / total (catch-up included), optional group
    lasso after backward (recipe.condense.lasso, CondenseNet v1; default off), convert to group conv +
    index layers at the end."""

    def __init__(self, options: dict):
        self.lasso = options["lasso"]
        self.events: list[list] = []
        self.converted = False

    def before_step(self, model, step, progress):
        fired = model.set_progress(progress)
        if fired:
            self.events.append([step, round(progress, 6), fired])

    def after_backward(self, model, step):
        if self.lasso > 0:
            (self.lasso * model.lasso_loss()).backward()  # adds its gradient before optimizer.step

    def on_train_end(self, model):
        model.set_progress(1.0)  # a run shorter than the schedule still ends condensed
        from .model import convert

        convert(model)
        self.converted = True

    def report(self):
        return {"extra": {"condensation": {"events": self.events, "converted": self.converted}}}


def condensation_hooks(spec, recipe, model, ctx):
    condense = recipe.family_option(RECIPE_KEY)
    if KEY in spec.family:
        return [CondensationHook(parse_condense(condense or {}))]
    if condense is not None:
        raise UsageError("recipe.condense applies to condensenetv2 specs only")
    return []


def deploy_condensed(model, spec, regime):
    return convert_model(model), spec, "condensed"


def load_condensed(spec, regime, form):
    return build_converted(spec, regime) if form == "condensed" else None


register_family(Family(name=KEY, kind="macro", keys=(KEY,), recipe_keys=(RECIPE_KEY,),
                       complexity=condensenet_complexity, build=build_condensenet,
                       train_hooks=condensation_hooks, validate_recipe=validate_condense, deploy=deploy_condensed,
                       load_deployed=load_condensed, description="CondenseNetV2: LGC + sparse feature reactivation"))


# --- design spaces ---------------------------------------------------------------------------------
def _make_space(with_sfr: bool):
    from ...regimes import get_regime
    from ...spaces.base import DesignSpace, Draw

    class CondenseNetSpace(DesignSpace):
        """Dense networks, §5.2 ranges: G in {2, 4, 8}, C1 = S in {2, 4, 8}, k in {8, 16, 32} (growth
        doubling per block, as in CDNV2-A/B/C), b = 4, layers per block in [1, 16]. Small-image
        regimes: 3 blocks, h-swish from block 2, SE in block 3; ImageNet: 5 blocks, h-swish from
        block 3, SE from block 4 (the README configs). Stem 2k. The band uses the deploy flops."""

        name = "CondenseNetV2" if with_sfr else "CondenseNet"
        description = ("CondenseNetV2: dense blocks with learned group convs + sparse feature reactivation"
                       if with_sfr else "CondenseNet: dense blocks with learned group convs (no SFR)")
        group_choices = (2, 4, 8)
        factor_choices = (2, 4, 8)
        growth_choices = (8, 16, 32)
        layer_range = (1, 16)
        max_batch = 2048  # measuring builds a spec per candidate
        max_draws = give_up_after = 400_000
        _nblocks = 3  # set per regime by sample_arrays (3 for small images, 5 for ImageNet)

        @property
        def free_params(self):
            out = [("n1..nB", f"layers per block, uniform integers in [{self.layer_range[0]}, {self.layer_range[1]}]"),
                   ("k", "growth of block 1, one of 8,16,32 (doubles per block)"),
                   ("G", "group count of LGC and 3x3, one of 2,4,8"),
                   ("C1", "LGC condense factor, one of 2,4,8")]
            if with_sfr:
                out.append(("S", "SFR factor (= C1, as in the README configs)"))
            return out

        def _blocks(self, regime):
            return 3 if get_regime(regime).im_size < 64 else 5

        def draw(self, rng, m):  # regime-dependent block count: set by sample_arrays
            nb = self._nblocks
            layers = rng.integers(self.layer_range[0], self.layer_range[1] + 1, (m, nb))
            k = np.asarray(self.growth_choices)[rng.integers(0, 3, m)]
            g = np.asarray(self.group_choices)[rng.integers(0, 3, m)]
            f = np.asarray(self.factor_choices)[rng.integers(0, 3, m)]
            return Draw(widths=k[:, None] * 2 ** np.arange(nb)[None, :], depths=layers,
                        bottleneck_ratios=np.full((m, nb), 4.0), group_widths=np.broadcast_to(g[:, None], (m, nb)),
                        meta={"condense": f})

        def _options(self, dr, i):
            nb = dr.widths.shape[1]
            f = int(dr.meta["condense"][i])
            opt = dict(blocks=[int(v) for v in dr.depths[i]], growth=[int(v) for v in dr.widths[i]],
                       groups=int(dr.group_widths[i, 0]), condense=f, sfr=f if with_sfr else 0,
                       bottleneck=4, stem=2 * int(dr.widths[i, 0]), fc=0,
                       hswish_from=1 if nb == 3 else 2, se_from=2 if nb == 3 else 3, head_se=16)
            return opt

        def specs_from(self, dr):
            return [condensenet_spec(self.name, **self._options(dr, i)) for i in range(len(dr))]

        def measure(self, dr, regime):
            cfgs = [parse_options(s) for s in self.specs_from(dr)]
            return condensenet_complexity_arrays(cfgs, regime), np.ones(len(dr), bool)

        def identity_columns(self, dr):
            return super().identity_columns(dr) + [dr.meta["condense"]]

        def sample_arrays(self, n, seed=0, flops=None, regime="imagenet"):
            self._nblocks = self._blocks(get_regime(regime))  # the block count depends on the regime
            return super().sample_arrays(n, seed, flops, regime)

    return CondenseNetSpace


def _make_twin_space():
    """CondenseNet paired with CondenseNetV2: the same draws (same seed, same band on the V2's deploy
    flops), each with its SFR removed, so an SFR / no-SFR comparison (E004-a/b) compares the same
    architectures; the twins' own complexity is reported (a little below the V2's)."""
    v2_space = _make_space(True)

    class CondenseNetTwinSpace(v2_space):
        name = "CondenseNetTwin"
        description = ("CondenseNet (no SFR) twins of CondenseNetV2's draws: same architectures, SFR removed "
                       "(the band applies to the V2)")

        @property
        def free_params(self):
            return [p for p in super().free_params if p[0] != "S"] + [
                ("S", "0 (no SFR); the draw and band are CondenseNetV2's")]

        def specs_from(self, dr):
            return [with_options(s, sfr=0) for s in super().specs_from(dr)]

        def measure(self, dr, regime):  # the band applies to the V2 of each draw
            cfgs = [parse_options(s) for s in v2_space.specs_from(self, dr)]
            return condensenet_complexity_arrays(cfgs, regime), np.ones(len(dr), bool)

        def sample_arrays(self, n, seed=0, flops=None, regime="imagenet"):
            dr, _ = super().sample_arrays(n, seed, flops, regime)
            from ...regimes import get_regime

            twins = [parse_options(s) for s in self.specs_from(dr)]
            return dr, condensenet_complexity_arrays(twins, get_regime(regime))

    return CondenseNetTwinSpace


def _register_spaces():
    from ...spaces import register_space

    register_space("CondenseNetV2", _make_space(True))
    register_space("CondenseNet", _make_space(False))
    register_space("CondenseNetTwin", _make_twin_space())


_register_spaces()


def with_options(spec: ModelSpec, **changes) -> ModelSpec:
    """`spec` with some CondenseNetV2 options replaced (e.g. sfr=0 for the CondenseNet twin)."""
    opt = {**spec.family[KEY].thaw(), **changes}
    return dataclasses.replace(spec, family=FrozenDict({KEY: opt}))
