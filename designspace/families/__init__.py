"""Seed families as extra dimensions of the design spaces.

A family registers a complexity handler under the option key it uses in ``StageSpec.family`` or
``ModelSpec.family``. ``complexity`` sends plain specs to the AnyNet kernel and the others, grouped
by family key, to their handlers; each handler returns {"flops", "params", "acts"} int64 arrays
(and may add "cx_train_*" columns for families whose training graph differs from deploy).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import UsageError

ComplexityHandler = Callable[[Sequence, object], dict]
_HANDLERS: dict[str, ComplexityHandler] = {}
_LOADED = False


def register_family(key: str, handler: ComplexityHandler) -> None:
    _HANDLERS[key] = handler


def _load_builtin_families() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import importlib
        import pkgutil

        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")


def family_key(spec) -> str:
    """The family handler a spec belongs to ('' for plain AnyNet stages)."""
    keys = set(spec.family)
    for st in spec.stages:
        keys.update(st.family)
    if not keys:
        return ""
    _load_builtin_families()
    owners = sorted({_owner(k) for k in keys})
    return "+".join(owners)


def _owner(option: str) -> str:
    if option not in _HANDLERS:
        raise UsageError(f"unknown family option {option!r}; known: {', '.join(sorted(_HANDLERS)) or 'none'}")
    return option


def family_complexity(specs: Sequence, regime, base: ComplexityHandler) -> dict:
    keys = [family_key(s) for s in specs]
    if not any(keys):
        return base(specs, regime)
    n = len(specs)
    out: dict[str, np.ndarray] = {}
    for key in dict.fromkeys(keys):
        idx = [i for i, k in enumerate(keys) if k == key]
        subset = [specs[i] for i in idx]
        handler = base if key == "" else _HANDLERS.get(key) or _combined_handler(key)
        part = handler(subset, regime)
        for name, values in part.items():
            if name not in out:
                out[name] = np.zeros(n, np.int64)
            out[name][idx] = values
    return out


def _combined_handler(key: str) -> ComplexityHandler:
    if "composite" in _HANDLERS:
        return _HANDLERS["composite"]
    raise UsageError(f"family options {key.replace('+', ' and ')} cannot be combined in one model")
