"""The built-in network families, one package each; each registers itself with
:func:`designspace.registry.register_family` when imported (``registry.load_families`` imports them,
and the ``designspace.families`` entry points of other distributions):

- ``stages``: the per-stage options of seeds 000 / 001 (PRN, CSP, ELAN, OSA / VoVNet, stop-gradient,
  ODE stacking, activation): options that combine inside one stage, so one package holds their
  parser, one vectorized cost kernel, their samplers and torch modules (per family module inside);
- ``rep``: re-parameterized convolutions (RepVGG / DBB), a wrapper family;
- ``dyrep``: DyRep, a training-recipe family (no spec keys);
- ``condensenet``: CondenseNetV2 (LGC + SFR), a macro family.

See docs/families.md for the interface.
"""
