"""Host base spaces of the seed experiments (not a family: plain residual networks, no family
options). The family modifiers wrap them: ``ResNetC<n>+stopgrad_residual``, ``ResNetC<n>+csp``,
``ResNetC<n>+ode_rk4`` (seeds 000 / 001), ``DownsampleC<n>+ode_euler`` (seed 001 E001-c).

- ``ResNetC<n>``: 3 stages of n basic residual blocks (CIFAR-style ResNet-(6n+2));
- ``DownsampleC<n>``: a stem and n basic blocks at 64 channels, the single stride 2 in the stem or in
  the first block.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..spaces import register_space
from ..spaces.base import DesignSpace, Draw
from ..spaces.common import log_uniform, ordered_draws


class FixedDepthSpace(DesignSpace):
    """Basic residual blocks at a fixed depth n, one registered space `<prefix><n>` per n in `depths`.
    `about` (the description) and the fixed-depth parameter's text are formatted with the space."""

    block = "res_basic"
    prefix = ""
    depths: tuple = ()
    about = ""
    depth_param = ("d", "fixed: {self.depth}")

    def __init__(self, depth: int):
        self.depth = depth
        self.name = f"{self.prefix}{depth}"
        self.description = self.about.format(self=self)

    def varied_params(self) -> list:
        """(name, text) of what the space draws besides the fixed depth."""
        return []

    @property
    def free_params(self):
        name, text = self.depth_param
        return self.varied_params() + [(name, text.format(self=self))]

    @classmethod
    def register(cls) -> None:
        for depth in cls.depths:
            register_space(f"{cls.prefix}{depth}", lambda d=depth: cls(d))


# --- ResNetC<n>: the deep-network experiments' base spaces (seed 000 E000-a/b/c, seed 001 E001-a) --
class ResNetC(FixedDepthSpace):
    """3 stages of n basic residual blocks each; widths non-decreasing, log-uniform multiples of 4
    (finer than AnyNet's 8: at fixed large depth only narrow nets fit a small-image band, and a grid of
    8 leaves too few distinct ones)."""

    prefix = "ResNetC"
    depths = (4, 8, 12, 16, 24, 32)
    about = "3 stages of {self.depth} basic residual blocks (CIFAR-style ResNet-{self.resnet_depth})"
    depth_param = ("d1..d3", "fixed: {self.depth}")
    stem_width = 16
    num_stages = 3
    width_range = (8, 128)
    width_step = 4

    @property
    def resnet_depth(self) -> int:
        return 6 * self.depth + 2

    def varied_params(self):
        lo, hi = self.width_range
        return [("w1..w3", f"log-uniform multiples of {self.width_step} in [{lo}, {hi}], non-decreasing")]

    def draw(self, rng, m):
        s = self.num_stages

        def one(r, k):
            return log_uniform(r, *self.width_range, self.width_step, (k, s)).astype(np.int64)

        widths = ordered_draws(one, rng, m)
        return Draw(widths=widths, depths=np.full((m, s), self.depth, np.int64),
                    bottleneck_ratios=np.ones((m, s)), group_widths=np.ones((m, s), np.int64))


# --- DownsampleC<n>: where the single downsampling sits (seed 001 E001-c) ---------------------------
class DownsampleC(FixedDepthSpace):
    """A 3x3 conv stem to 64 channels, then n VGG-style residual blocks (2 x 3x3 at 64 channels), with
    the network's single stride 2 either in the stem conv or in the first block's first conv. The
    space holds two architectures per n; a sweep repeats them over training seeds (`repeats`)."""

    prefix = "DownsampleC"
    depths = (4, 8, 16)
    about = "stem + {self.depth} basic residual blocks at 64 channels; one stride 2, in the stem or block 1"
    depth_param = ("d", "fixed: {self.depth} blocks of width {self.width}")
    stem_width = 64
    width = 64

    def varied_params(self):
        return [("downsample", "stride 2 in the stem conv or in the first block's first conv")]

    def draw(self, rng, m):
        in_stem = rng.integers(0, 2, m).astype(bool)
        return Draw(widths=np.full((m, 1), self.width, np.int64), depths=np.full((m, 1), self.depth, np.int64),
                    bottleneck_ratios=np.ones((m, 1)), group_widths=np.ones((m, 1), np.int64),
                    meta={"stem_stride": np.where(in_stem, 2, 1)})

    def _block_stride(self, stem_stride):
        return np.where(np.asarray(stem_stride) == 2, 1, 2)

    def to_arrays(self, dr):
        arr = super().to_arrays(dr)
        arr.strides[:, 0] = self._block_stride(dr.meta["stem_stride"])
        return arr

    def specs_from(self, dr):
        specs = super().specs_from(dr)
        return [dataclasses.replace(spec, stages=(dataclasses.replace(spec.stages[0], stride=int(
            self._block_stride(spec.stem_stride))),) + spec.stages[1:]) for spec in specs]


ResNetC.register()
DownsampleC.register()
