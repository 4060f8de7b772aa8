"""designspace: design network design spaces (Radosavovic et al., "Designing Network Design Spaces").

Public API (torch and pandas are imported only when the functions that need them are used):
    ModelSpec, StageSpec, get_space, space_names, complexity, build, load, analysis
"""
from .complexity import complexity
from .errors import UsageError
from .regimes import REGIMES, Regime, get_regime
from .spaces import get_space, space_from_dict, space_from_yaml, space_names
from .spec import ModelSpec, StageSpec, load_spec

__version__ = "0.1.0"

_LAZY = {
    "build": ("designspace.models", "build"),
    "load": ("designspace.store", "load"),
    "train": ("designspace.train", "train"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name == "analysis":
        import importlib

        return importlib.import_module("designspace.analysis")
    raise AttributeError(f"module 'designspace' has no attribute {name!r}")


__all__ = ["ModelSpec", "StageSpec", "load_spec", "get_space", "space_from_dict", "space_from_yaml", "space_names",
           "complexity", "build",
           "load", "train", "get_regime", "Regime", "REGIMES", "UsageError", "__version__"]
