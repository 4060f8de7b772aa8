"""The network of a spec whose stages carry family options: AnyNet's stem and head around family
stages. A family stage may change the width it hands on (ELAN/OSA without transitions), so each
stage builder returns its module and its output width."""
from __future__ import annotations

from torch import nn

from ....models.anynet import Head, Stem
from ....models.layers import init_weights, swap_activations
from ..options import parse_spec
from .csp import CSPStage
from .elan import ELANStage
from .osa import OSAStage
from .residual import make_residual_units


def make_family_stage(st, opts, w_in: int) -> tuple[nn.Module, int]:
    if opts.topology == "csp":
        return CSPStage(st, opts, w_in), st.width
    if opts.topology in ("elan", "osa"):
        stage = (ELANStage if opts.topology == "elan" else OSAStage)(st, opts, w_in)
        return stage, stage.w_out
    if st.block == "vanilla":  # a plain stage next to family stages
        from ....models.anynet import make_stage

        return make_stage(st, w_in), st.width
    return make_residual_units(opts, st.block, w_in, st.width, st.stride, st.depth, st.bottleneck_ratio,
                               st.group_width, st.se_ratio), st.width


class FamilyNet(nn.Module):
    def __init__(self, spec, regime):
        super().__init__()
        self.spec, self.regime = spec, regime
        self.stem = Stem(regime.channels, spec.stem_width, spec.stem_stride or regime.stem_stride)
        stages, w_in, acts = [], spec.stem_width, []
        for st, opts in zip(spec.stages, parse_spec(spec)):
            if st.depth > 0:
                stage, w_in = make_family_stage(st, opts, w_in)
                stages.append(swap_activations(stage, opts.act))
                acts.append(opts.act)
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, regime.num_classes, spec.head_width)
        if acts:  # the stem takes the first stage's activation, the head conv the last's
            swap_activations(self.stem, acts[0])
            swap_activations(self.head, acts[-1])
        self.apply(init_weights)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))
