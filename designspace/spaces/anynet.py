"""AnyNetX A..E: 4 stages of X blocks; each step of the paper adds one constraint.

A: per stage d_i, w_i, b_i, g_i free. B: shared b. C: shared b and g. D: C + w_{i+1} >= w_i.
E: D + d_{i+1} >= d_i. Depth log-uniform in [1, 16], width log-uniform in [8, 1024] (multiples of
8), b in {1, 2, 4}, g in {1, 2, 4, 8, 16, 32}; widths and groups are then made compatible as pycls
does (a narrow stage may get g capped to its bottleneck width).
"""
from __future__ import annotations

import numpy as np

from .base import DesignSpace, Draw
from .common import adjust_block_compatibility, choice, log_uniform, ordered_draws


class AnyNetX(DesignSpace):
    num_stages = 4
    depth_range = (1, 16)
    width_range = (8, 1024)
    bottleneck_choices = (1, 2, 4)
    group_choices = (1, 2, 4, 8, 16, 32)
    shared_b = shared_g = ordered_widths = ordered_depths = False

    @property
    def free_params(self):
        return [
            ("d1..d4", f"log-uniform integers in [{self.depth_range[0]}, {self.depth_range[1]}]"
             + (", non-decreasing" if self.ordered_depths else "")),
            ("w1..w4", f"log-uniform multiples of 8 in [{self.width_range[0]}, {self.width_range[1]}]"
             + (", non-decreasing" if self.ordered_widths else "")),
            ("b" if self.shared_b else "b1..b4", ("shared, " if self.shared_b else "") + "one of 1,2,4"),
            ("g" if self.shared_g else "g1..g4", ("shared, " if self.shared_g else "") + "one of 1,2,4,8,16,32"),
        ]

    def _depths(self, rng, m):
        return log_uniform(rng, *self.depth_range, 1, (m, self.num_stages)).astype(np.int64)

    def _widths(self, rng, m):
        return log_uniform(rng, *self.width_range, 8, (m, self.num_stages)).astype(np.int64)

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        s = self.num_stages
        # widths and depths are independent, so ordered tuples are drawn separately and paired
        depths = ordered_draws(self._depths, rng, m) if self.ordered_depths else self._depths(rng, m)
        widths = ordered_draws(self._widths, rng, m) if self.ordered_widths else self._widths(rng, m)
        b = choice(rng, self.bottleneck_choices, (m, 1) if self.shared_b else (m, s))
        g = choice(rng, self.group_choices, (m, 1) if self.shared_g else (m, s))
        b = np.broadcast_to(b, (m, s)).astype(np.float64)
        g = np.broadcast_to(g, (m, s))
        widths, g = adjust_block_compatibility(widths, b, g)
        return Draw(widths=widths, depths=depths, bottleneck_ratios=b, group_widths=g)


class AnyNetXA(AnyNetX):
    name = "AnyNetXA"
    description = "AnyNetX, all 16 stage parameters free"


class AnyNetXB(AnyNetX):
    name = "AnyNetXB"
    description = "AnyNetXA with a shared bottleneck ratio b"
    shared_b = True


class AnyNetXC(AnyNetXB):
    name = "AnyNetXC"
    description = "AnyNetXB with a shared group width g"
    shared_g = True


class AnyNetXD(AnyNetXC):
    name = "AnyNetXD"
    description = "AnyNetXC with non-decreasing widths"
    ordered_widths = True


class AnyNetXE(AnyNetXD):
    name = "AnyNetXE"
    description = "AnyNetXD with non-decreasing depths"
    ordered_depths = True
