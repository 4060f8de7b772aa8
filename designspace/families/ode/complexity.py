"""What ODE stacking changes in the closed-form cost of a run of host residual functions
(seed-families.md §2.3), pycls conventions; numpy only.

RK-s blocks regroup the host's residual functions without adding any (the fair stacking rule: an RK
stage of n blocks costs the Euler stage of s * n functions; the a_ij, b_i and h are constants), so
only three things differ from the host: LM-ResNet's trainable k_n (one per block after the stage's
first), option A's zero-pad shortcut (no projection conv; it cannot narrow) and the pre-activation
function, whose first BN normalises its input (C_in) instead of the first conv's output (C_out).
The stage handler (gradient_paths.complexity) carries these as per-stage option columns and adds
:func:`stacking_terms` to its host cost.
"""
from __future__ import annotations

import numpy as np

# column -> (dtype, default): a stage without the ode option
COLUMNS = {"lm": (bool, False), "zeropad": (bool, False), "preact": (bool, False)}


def stage_columns(opts) -> dict:
    """The column values of one stage's OdeOptions (None: no ode option)."""
    if opts is None:
        return {k: v for k, (_, v) in COLUMNS.items()}
    return {"lm": opts.scheme == "lm", "zeropad": opts.zeropad, "preact": opts.preact}


def stacking_terms(c, depth, w_in, w_out) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For `depth` host residual functions from w_in to w_out channels, the first one carrying the
    stage's shortcut, on rows with columns `c` (c.lm, c.zeropad, c.preact):
    (params to add, whether the shortcut is free (no projection conv), whether the stage is buildable)."""
    params = np.where(c.lm, np.maximum(depth - 1, 0), 0)  # one k_n per LM block (a stage's first is plain)
    params = params + np.where(c.preact & (depth > 0), 2 * (w_in - w_out), 0)
    return params, c.zeropad, ~(c.zeropad & (w_in > w_out))  # option A pads channels: it cannot narrow
