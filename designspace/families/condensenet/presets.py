"""The CondenseNetV2 specs by name: the README's ImageNet models, a spec from options, and a spec
with some options replaced."""
from __future__ import annotations

import dataclasses

from ...spec import FrozenDict, ModelSpec
from .options import KEY, parse_options

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


def with_options(spec: ModelSpec, **changes) -> ModelSpec:
    """`spec` with some CondenseNetV2 options replaced (e.g. sfr=0 for the CondenseNet twin)."""
    opt = {**spec.family[KEY].thaw(), **changes}
    return dataclasses.replace(spec, family=FrozenDict({KEY: opt}))
