"""Gradient-path stages (seed 000: PRN, CSP, ELAN, OSA / VoVNet, stop-gradient) and the stage handler.

These options are one family because they combine per stage: CSP wraps a body of residual units or
OSA modules (CSP + OSA = CSPVoVNet), PRN and stop-gradient rewire the residual units of any residual
or CSP stage, ELAN and OSA replace the residual units. So one parser checks how a stage's options
combine (options.parse_stage), one vectorized kernel costs every topology (complexity), and one
builder wires them (models/), with a module per topology for its torch blocks and one sampler class
per family (samplers).

The handler owns every per-stage option key, also ``ode`` (seed 001's high-order stacking, a separate
package, designspace.families.ode: its blocks are the residual units these stages hold, so the two
meet in one stage) and ``act`` (any stage's activation). It calls into the ODE package to parse, cost,
sample and build ``ode``; the import runs one way (gradient_paths -> ode). Torch is imported only in
``build`` (models/).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...complexity import SpecArrays
from ...errors import UsageError
from ...registry import Family, register_family
from .complexity import MAX_STAGE_OUTPUT, FamilyArrays, family_complexity_arrays
from .options import STAGE_OPTIONS, parse_spec


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
        raise UsageError(f"stage {j + 1}: width {st.width} is too narrow (or its concat too wide) for its "
                         f"{', '.join(st.family)} options "
                         f"(a CSP split needs both parts non-empty; an MP entry needs an even input width; a "
                         f"stage without transitions may hand on at most {MAX_STAGE_OUTPUT:,} channels)")
    return cx


def build_stage_family(spec, regime):
    from .models.net import FamilyNet

    stage_complexity([spec], regime)  # one-line errors before any torch work
    return FamilyNet(spec, regime)


def stage_breakdown(spec, regime) -> dict:
    return stage_complexity([spec], regime, per_stage=True)


register_family(Family(name="gradient_paths", kind="stage", keys=STAGE_OPTIONS, complexity=stage_complexity,
                       build=build_stage_family, stage_breakdown=stage_breakdown,
                       description="per-stage PRN / CSP / ELAN / OSA / stop-gradient options, with ODE "
                                   "stacking and the activation"))

from . import samplers as _samplers  # noqa: E402,F401  (registers the +prn, +csp, ..., +ode modifiers)
