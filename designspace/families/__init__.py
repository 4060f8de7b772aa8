"""The built-in network families, one package each; each registers itself with
:func:`designspace.registry.register_family` when imported (``registry.load_families`` imports them,
and the ``designspace.families`` entry points of other distributions), except ``ode``, whose stage
key the gradient-path stage handler owns:

- ``gradient_paths``: the per-stage options of seed 000 (PRN, CSP, ELAN, OSA / VoVNet, stop-gradient)
  and the stage handler: options that combine inside one stage, so one package holds their parser,
  one vectorized cost kernel, their samplers and torch modules (a module per topology inside); it
  also owns the ``ode`` and ``act`` stage keys;
- ``ode``: high-order ODE stacking (seed 001: RK / LM blocks): options, tableaus, cost terms, sampler
  dimensions and torch blocks, used by the stage handler (gradient_paths -> ode, one way);
- ``rep``: re-parameterized convolutions (RepVGG / DBB), a wrapper family;
- ``dyrep``: DyRep, a training-recipe family (no spec keys);
- ``condensenet``: CondenseNetV2 (LGC + SFR), a macro family.

Two modules here are no family: ``common`` (option validators and sampling helpers the packages
share) and ``hosts`` (the plain ResNetC<n> / DownsampleC<n> base spaces of the seed experiments).
See docs/families.md for the interface.
"""
