"""CondenseNetV2 (seed 004): a macro family of dense networks with learned group convolutions (LGC)
and sparse feature reactivation (SFR), its closed-form complexity and its design spaces.

Option ``ModelSpec.family["condensenetv2"]`` (the spec's `stages` stay empty):

    blocks: [n_1, ...]     dense layers per block          growth: [k_1, ...]  growth per block
    groups: G (= G1 = G3)  condense: C1 (LGC factor)        sfr: S (0: no SFR = CondenseNet)
    sfr_groups: G_t (default G)     bottleneck: b (default 4)     stem: 2 k_0 (default 2 * growth[0])
    fc: fc_ch (default 0: no fc layer)    se_from / hswish_from: first 0-based block with SE /
    h-swish (defaults 3 / 2, the ImageNet configs)    head_se: reduction of the head SE (default 16; 0 none)

The package, one module an idea: ``options`` (the spec and recipe options, parsed), ``config`` (the
resolved options of one network), ``presets`` (CDNV2-A/B/C, a spec from options), ``complexity`` (the
closed form), ``build`` (build, convert, deploy), ``hooks`` (the condensation during training),
``spaces`` (the CondenseNet design spaces) and ``model`` (the torch modules, imported lazily). Importing
the package registers the family and its spaces.
"""
from __future__ import annotations

from ...registry import Family, register_family
from .build import build_condensenet, build_converted, convert_model, deploy_condensed, load_condensed
from .complexity import condensenet_complexity, condensenet_complexity_arrays
from .hooks import CondensationHook, condensation_hooks
from .options import KEY, RECIPE_KEY, CondenseOptions, CondenseRecipe, parse_condense, parse_options, validate_condense
from .presets import CDNV2, cdnv2, condensenet_spec, with_options
from .spaces import register_spaces

__all__ = ["CDNV2", "KEY", "RECIPE_KEY", "CondensationHook", "CondenseOptions", "CondenseRecipe",
           "build_condensenet", "build_converted", "cdnv2", "condensation_hooks", "condensenet_complexity",
           "condensenet_complexity_arrays", "condensenet_spec", "convert_model", "deploy_condensed", "load_condensed",
           "parse_condense", "parse_options", "validate_condense", "with_options"]

register_family(Family(name=KEY, kind="macro", keys=(KEY,), recipe_keys=(RECIPE_KEY,),
                       complexity=condensenet_complexity, build=build_condensenet,
                       train_hooks=condensation_hooks, validate_recipe=validate_condense, deploy=deploy_condensed,
                       load_deployed=load_condensed, description="CondenseNetV2: LGC + sparse feature reactivation"))

register_spaces()
