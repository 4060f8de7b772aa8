"""The stage-family handler: every spec whose stages carry prn / csp / elan / osa / stopgrad / ode
options is costed and built here (options combine per stage, see options.parse_stage)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...complexity import SpecArrays
from ...errors import UsageError
from ...registry import Family, register_family
from .options import STAGE_OPTIONS, parse_spec
from .complexity import MAX_STAGE_OUTPUT, FamilyArrays, family_complexity_arrays


def family_arrays(specs: Sequence) -> tuple[SpecArrays, FamilyArrays]:
    arr = SpecArrays.from_specs(specs)
    return arr, FamilyArrays.from_options([parse_spec(s) for s in specs], arr.widths.shape[1])


def stage_complexity(specs: Sequence, regime, per_stage: bool = False) -> dict:
    arr, fam = family_arrays(specs)
    cx = family_complexity_arrays(arr, fam, regime, per_stage)
    valid = cx.pop("valid")
    if not valid.all():
        i, j = np.argwhere(~valid)[0]
        st = specs[i].stages[j]
        raise UsageError(f"stage {j + 1}: width {st.width} is too narrow (or its concat too wide) for its {', '.join(st.family)} options "
                         f"(a CSP split needs both parts non-empty; an MP entry needs an even input width; a "
                         f"stage without transitions may hand on at most {MAX_STAGE_OUTPUT:,} channels)")
    return cx


def build_stage_family(spec, regime):
    from .models.net import FamilyNet

    stage_complexity([spec], regime)  # one-line errors before any torch work
    return FamilyNet(spec, regime)


def stage_breakdown(spec, regime) -> dict:
    return stage_complexity([spec], regime, per_stage=True)


register_family(Family(name="stages", kind="stage", keys=STAGE_OPTIONS, complexity=stage_complexity,
                       build=build_stage_family, stage_breakdown=stage_breakdown,
                       description="per-stage PRN / CSP / ELAN / OSA / stop-gradient / ODE / activation options"))

from . import samplers as _samplers  # noqa: E402,F401  (registers the +prn, +csp, ... modifiers)
