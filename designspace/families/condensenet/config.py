"""The resolved options of one CondenseNetV2 network: pure Python, so option parsing and the closed
form never import torch."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError


@dataclass(frozen=True)
class CondenseConfig:
    """Resolved options of one CondenseNetV2 network (see the package docstring of designspace.families.condensenet)."""

    blocks: tuple[int, ...]
    growth: tuple[int, ...]
    groups: int  # G1 = G3
    condense: int  # C1
    sfr: int  # S; 0 = no SFR (CondenseNet)
    sfr_groups: int  # G_t
    bottleneck: int
    stem: int  # 2 k_0
    fc: int  # fc_ch; 0 = classifier straight on the pooled features
    se_from: int  # first block (0-based) with SE in its layers
    hswish_from: int  # first block (0-based) with h-swish
    head_se: int  # reduction of the head SE; 0 = none

    def layers(self):
        """(block, layer, C_in, growth, act, se) for every dense layer, in order."""
        c = self.stem
        for b, (n, k) in enumerate(zip(self.blocks, self.growth)):
            act = "hswish" if b >= self.hswish_from else "relu"
            for i in range(n):
                yield b, i, c, k, act, b >= self.se_from
                c += k

    @property
    def final_width(self) -> int:
        return self.stem + sum(n * k for n, k in zip(self.blocks, self.growth))

    def validate(self) -> None:
        """One-line UsageError naming the first layer whose widths the groups / factors do not divide."""
        g1, c1, s, gt, b = self.groups, self.condense, self.sfr, self.sfr_groups, self.bottleneck
        for blk, i, c, k, _, _ in self.layers():
            bk = b * k
            checks = [(c % c1, f"C={c} % condense={c1}"), (c % g1, f"C={c} % groups={g1}"),
                      (bk % g1, f"b*k={bk} % groups={g1}"), (k % g1, f"k={k} % groups={g1}")]
            if s:
                checks += [(k % gt, f"k={k} % sfr_groups={gt}"), (c % s, f"C={c} % sfr={s}")]
            for bad, what in checks:
                if bad:
                    raise UsageError(f"condensenetv2 block {blk + 1} layer {i + 1}: {what} != 0 "
                                     f"(choose k and the stem as multiples of lcm(groups, condense, sfr))")
