"""Build a CondenseNetV2 (training form, masked LGC / SFR), convert it to its deploy form (index-select +
group conv + shuffle / index layers), and the deploy hooks the registry calls. Torch is imported only
inside these functions (model.py)."""
from __future__ import annotations

from ...spec import ModelSpec
from .options import parse_options


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


def deploy_condensed(model, spec, regime):
    return convert_model(model), spec, "condensed"


def load_condensed(spec, regime, form):
    return build_converted(spec, regime) if form == "condensed" else None
