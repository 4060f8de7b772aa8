"""High-order ODE stacking (seed 001: HO-ResNet's Runge-Kutta blocks, LM-ResNet), one package:

- ``tableaus``: the Butcher tableaus (Euler, midpoint, Heun, Ralston, Kutta, RK4, Gill) and LM;
- ``options``: the ``ode`` stage option {scheme, n, suppress, shortcut, block} and its validation;
- ``complexity``: what stacking changes in a stage's closed-form cost (numpy);
- ``samplers``: its sampler dimensions (``+ode``, ``+ode_<scheme>``, ``+ode_suppress``, ``+ode_<scheme>_ho``);
- ``models``: RKBlock, LMStage, option-A shortcut, pre-activation function and ``stack_units``
  (torch, imported lazily by the builders).

ODE stacking regroups the residual functions of a host stage, so it registers no handler of its own:
the gradient-path stage handler (designspace/families/gradient_paths) owns the ``ode`` stage key, as
it owns every per-stage key that can meet in one stage (a CSP body of RK blocks, Euler blocks with
PRN shortcuts), and calls into this package to parse, cost, sample and build it. The dependency runs
one way, gradient_paths -> ode; this package imports only the core and designspace.families.common.
Nothing here imports torch except ``models``.
"""
from .options import KEY, OdeOptions, check_depth, parse_ode
from .tableaus import SCHEMES, TABLEAUS, order_conditions, stages_of, tableau

__all__ = ["KEY", "OdeOptions", "SCHEMES", "TABLEAUS", "check_depth", "order_conditions", "parse_ode",
           "stages_of", "tableau"]
