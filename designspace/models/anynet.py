"""AnyNet: stem -> stages -> head, built from a ModelSpec for a regime."""
from __future__ import annotations

from torch import nn

from ..regimes import Regime
from ..spec import ModelSpec, StageSpec
from .blocks import make_block
from .layers import ConvBN, activation, conv2d, init_weights, norm2d


class Stem(ConvBN):
    """3x3 conv (stride 2 for imagenet, 1 for small images) -> BN -> ReLU."""

    def __init__(self, channels: int, width: int, stride: int):
        super().__init__(channels, width, 3, stride)


class Head(nn.Module):
    """[1x1 conv -> BN -> ReLU to head_width] -> global average pool -> fully connected."""

    def __init__(self, w_in: int, num_classes: int, head_width: int = 0):
        super().__init__()
        self.conv = nn.Sequential(conv2d(w_in, head_width, 1), norm2d(head_width), activation()) if head_width else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head_width or w_in, num_classes, bias=True)

    def forward(self, x):
        if self.conv is not None:
            x = self.conv(x)
        return self.fc(self.pool(x).flatten(1))


def make_stage(st: StageSpec, w_in: int) -> nn.Sequential:
    """`depth` blocks; the first carries the stride and the width change."""
    blocks = []
    for i in range(st.depth):
        blocks.append(make_block(st.block, w_in if i == 0 else st.width, st.width, st.stride if i == 0 else 1,
                                 st.bottleneck_ratio, st.group_width, st.se_ratio))
    return nn.Sequential(*blocks)


class AnyNet(nn.Module):
    def __init__(self, spec: ModelSpec, regime: Regime, stage_builder=make_stage):
        super().__init__()
        self.spec, self.regime = spec, regime
        self.stem = Stem(regime.channels, spec.stem_width, spec.stem_stride or regime.stem_stride)
        stages, w_in = [], spec.stem_width
        for st in spec.stages:
            if st.depth > 0:
                stages.append(stage_builder(st, w_in))
                w_in = st.width
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, regime.num_classes, spec.head_width)
        self.apply(init_weights)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))
