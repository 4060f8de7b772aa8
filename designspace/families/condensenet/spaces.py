"""The CondenseNet design spaces: CondenseNetV2, CondenseNet (no SFR) and the CondenseNet twins of
CondenseNetV2's draws."""
from __future__ import annotations

import numpy as np

from ...regimes import get_regime
from ...spaces import register_space
from ...spaces.base import DesignSpace, Draw
from .complexity import condensenet_complexity_arrays
from .options import parse_options
from .presets import condensenet_spec, with_options


class CondenseNetV2Space(DesignSpace):
    """Dense networks, §5.2 ranges: G in {2, 4, 8}, C1 = S in {2, 4, 8}, k in {8, 16, 32} (growth
    doubling per block, as in CDNV2-A/B/C), b = 4, layers per block in [1, 16]. Small-image
    regimes: 3 blocks, h-swish from block 2, SE in block 3; ImageNet: 5 blocks, h-swish from
    block 3, SE from block 4 (the README configs). Stem 2k. The band uses the deploy flops."""

    name = "CondenseNetV2"
    description = "CondenseNetV2: dense blocks with learned group convs + sparse feature reactivation"
    with_sfr = True
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
        if self.with_sfr:
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
                   groups=int(dr.group_widths[i, 0]), condense=f, sfr=f if self.with_sfr else 0,
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


class CondenseNetSpace(CondenseNetV2Space):
    """CondenseNetV2's space without sparse feature reactivation (S = 0): its own draws and band."""

    name = "CondenseNet"
    description = "CondenseNet: dense blocks with learned group convs (no SFR)"
    with_sfr = False


class CondenseNetTwinSpace(CondenseNetV2Space):
    """CondenseNet paired with CondenseNetV2: the same draws (same seed, same band on the V2's deploy
    flops), each with its SFR removed, so an SFR / no-SFR comparison (E004-a/b) compares the same
    architectures; the twins' own complexity is reported (a little below the V2's)."""

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
        cfgs = [parse_options(s) for s in CondenseNetV2Space.specs_from(self, dr)]
        return condensenet_complexity_arrays(cfgs, regime), np.ones(len(dr), bool)

    def sample_arrays(self, n, seed=0, flops=None, regime="imagenet"):
        dr, _ = super().sample_arrays(n, seed, flops, regime)
        twins = [parse_options(s) for s in self.specs_from(dr)]
        return dr, condensenet_complexity_arrays(twins, get_regime(regime))


def register_spaces():
    for space in (CondenseNetV2Space, CondenseNetSpace, CondenseNetTwinSpace):
        register_space(space.name, space)
