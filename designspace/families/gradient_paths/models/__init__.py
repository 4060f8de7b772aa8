"""torch modules of the gradient-path stages (CSP, ELAN, OSA, residual units); ODE's are
designspace.families.ode.models."""
