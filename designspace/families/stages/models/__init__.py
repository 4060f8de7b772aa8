"""torch modules of the seed families (gradient-path stages, ODE stacking); see designspace/families."""
