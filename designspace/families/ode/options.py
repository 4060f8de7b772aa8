"""The ``ode`` stage option (seed 001: HO-ResNet's high-order stacking, LM-ResNet), validated with
one-line UsageErrors:

    ode: {scheme: one of SCHEMES, n: RK blocks, suppress: h in (0, 1] (inner states a_ij only; s >= 2),
          shortcut: "proj" | "zeropad" (option A: x[:, :, ::s, ::s] zero-padded to C_out, HO-ResNet),
          block: "post" | "preact" (HO-ResNet's F = BN-ReLU-conv3x3-BN-ReLU-conv3x3; res_basic)}

A stage of n RK-s blocks holds s * n host residual functions (its depth). Missing keys take the
defaults below; unknown keys and values are errors. How ``ode`` combines with the other options of a
stage (PRN, stop-gradient, a CSP body) is the stage handler's rule (gradient_paths.options).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError
from ..common import choice, count, option_fields, ratio
from .tableaus import SCHEMES, stages_of

KEY = "ode"
DEFAULTS = {"scheme": "euler", "n": None, "suppress": 1.0, "shortcut": "proj", "block": "post"}


@dataclass(frozen=True)
class OdeOptions:
    """The parsed ``ode`` option of one stage."""

    scheme: str = "euler"
    n: int = 1  # RK blocks
    suppress: float = 1.0  # h, scaling the inner states a_ij
    zeropad: bool = False  # option-A shortcut (shortcut "zeropad")
    preact: bool = False  # pre-activation residual functions (block "preact")

    @property
    def order(self) -> int:
        """s: host residual functions per block."""
        return stages_of(self.scheme)

    @property
    def high_order(self) -> bool:
        """Blocks that mix several functions (s >= 2) or steps (LM), not one shortcut + F."""
        return self.order > 1 or self.scheme == "lm"


def parse_ode(value, block: str) -> OdeOptions:
    """Validate a stage's ``ode`` option (the stage's host block type is `block`)."""
    o = option_fields(KEY, value, DEFAULTS)
    scheme = choice(KEY, "scheme", o["scheme"], SCHEMES)
    suppress = ratio(KEY, "suppress", o["suppress"], 0, 1)
    if o["n"] is None:
        raise UsageError("ode.n (the number of RK blocks) is required")
    n = count(KEY, "n", o["n"])
    if suppress != 1.0 and (scheme == "lm" or stages_of(scheme) < 2):
        raise UsageError(f"ode.suppress scales the inner states a_ij of a Runge-Kutta scheme with s >= 2; "
                         f"{scheme} has none")
    zeropad = choice(KEY, "shortcut", o["shortcut"], ("proj", "zeropad")) == "zeropad"
    preact = choice(KEY, "block", o["block"], ("post", "preact")) == "preact"
    if preact and block != "res_basic":
        raise UsageError("ode.block preact is HO-ResNet's basic block: it needs res_basic stages")
    return OdeOptions(scheme=scheme, n=n, suppress=suppress, zeropad=zeropad, preact=preact)


def check_depth(opts: OdeOptions, depth: int, extra: int = 0, extra_note: str = "") -> None:
    """The fair stacking rule: a stage of n RK-s blocks has s * n residual functions (+ `extra`
    functions of the host outside the blocks, explained by `extra_note`)."""
    expected = opts.order * opts.n + extra
    if depth != expected:
        raise UsageError(f"ode stage depth must be s*n{extra_note} = {expected} sub-functions "
                         f"({opts.scheme}: s={opts.order}, n={opts.n}), got {depth}")
