"""Sampler dimensions of ODE stacking (seed-families.md §5.2): ``+ode`` (any scheme), ``+ode_<scheme>``,
``+ode_suppress`` (ralston2 with h in {1/4, 1/2, 3/4}) and ``+ode_<scheme>_ho`` (HO-ResNet's CIFAR
host: option-A shortcuts, pre-activation basic blocks).

Each is a per-stage dimension object: ``name``, ``dims`` (what ``designspace spaces`` lists),
``sample(rng, draw) -> (draw, {column: (m, S) array})`` and ``options(column values of one stage) ->
StageSpec.family``. The stage handler (gradient_paths.samplers) registers every one in
:data:`SAMPLERS` as a space modifier measured with its vectorized stage kernel; the columns named in
ode.complexity.COLUMNS are cost inputs, the others (ode_scheme, ode_n, ode_suppress) only feed
``options``.
"""
from __future__ import annotations

import numpy as np

from ...spaces.base import Draw
from ..common import per_model
from .tableaus import SCHEMES, stages_of


class ODE:
    """RK-s / LM stacking; n_i = ceil(d_i / s) RK blocks and d_i = s * n_i (the fair stacking rule)."""

    name = "ode"
    dims = [("ode scheme", "shared: " + ", ".join(SCHEMES)),
            ("n1..nS", "RK blocks per stage, ceil(d_i / s); depth d_i = s * n_i sub-functions")]

    def __init__(self, scheme: str | None = None, suppress=(1.0,), ho: bool = False):
        self.schemes = SCHEMES if scheme is None else (scheme,)
        self.suppress, self.ho = suppress, ho
        if scheme:
            self.name = f"ode_{scheme}"
            self.dims = [("ode scheme", f"fixed: {scheme}")] + ODE.dims[1:]
        if ho:  # HO-ResNet's CIFAR setting: option-A shortcuts and pre-activation basic blocks
            self.name += "_ho"
            self.dims = self.dims + [("host", "HO-ResNet: option-A zero-pad shortcuts, pre-activation F "
                                              "(BN-ReLU-conv3x3-BN-ReLU-conv3x3); res_basic bases")]
        if suppress != (1.0,):
            self.name = "ode_suppress"
            self.dims = self.dims + [("suppress h", "shared inner-state coefficient, one of "
                                      + ", ".join(f"{h:g}" for h in suppress))]

    def sample(self, rng, dr):
        m, s = dr.widths.shape
        code = per_model(rng, tuple(SCHEMES.index(x) for x in self.schemes), m, s)
        order = np.array([stages_of(x) for x in SCHEMES])[code]
        blocks = -(-dr.depths // order)
        dr = Draw(dr.widths, blocks * order, dr.bottleneck_ratios, dr.group_widths, dr.meta)
        return dr, {"lm": code == SCHEMES.index("lm"), "ode_scheme": code, "ode_n": blocks,
                    "ode_suppress": per_model(rng, self.suppress, m, s),
                    "zeropad": np.full((m, s), self.ho), "preact": np.full((m, s), self.ho)}

    def options(self, col):
        o = {"scheme": SCHEMES[int(col["ode_scheme"])], "n": int(col["ode_n"])}
        if col["ode_suppress"] != 1.0:  # defaults are left out: specs written before keep their ids
            o["suppress"] = float(col["ode_suppress"])
        if col["zeropad"]:
            o["shortcut"] = "zeropad"
        if col["preact"]:
            o["block"] = "preact"
        return {"ode": o}


SAMPLERS = [ODE()] + [ODE(x) for x in SCHEMES] + [ODE("ralston2", suppress=(0.25, 0.5, 0.75))]
SAMPLERS += [ODE(x, ho=True) for x in SCHEMES if x != "lm"]
