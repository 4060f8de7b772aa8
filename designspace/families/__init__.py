"""Seed families as extra dimensions of the design spaces.

Three kinds of family options, each registered by its module in this package:
- stage options (``StageSpec.family`` keys such as "prn", "csp", "elan", "osa", "stopgrad", "ode"):
  every spec whose stages carry any of them goes to the one handler registered under STAGE_KEY,
  which knows how the options combine;
- macro families (``ModelSpec.family`` keys such as "condensenetv2"): their own handler each;
- wrappers (e.g. "rep"): options that leave the deploy network equal to the spec without them; the
  handler strips itself, recurses into ``complexity``/``build`` for the rest, and adds what it adds.
``complexity`` sends plain specs to the AnyNet kernel and the others, grouped by handler; a handler
returns {"flops", "params", "acts"} int64 arrays (plus optional "cx_train_*" columns).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import UsageError

STAGE_KEY = "stage"
ComplexityHandler = Callable[[Sequence, object], dict]
Builder = Callable[[object, object], object]  # (spec, regime) -> torch.nn.Module

_HANDLERS: dict[str, ComplexityHandler] = {}
_BUILDERS: dict[str, Builder] = {}
_WRAPPERS: list[str] = []  # wrapper option keys, in precedence order
_STAGE_OPTIONS: set[str] = set()
_MACROS: set[str] = set()
_LOADED = False


def register_family(key: str, complexity: ComplexityHandler, build: Builder, *, kind: str,
                    options: Sequence[str] = ()) -> None:
    """Register a family handler.

    kind="stage": key must be STAGE_KEY; `options` lists the StageSpec.family keys it handles.
    kind="macro": key is the ModelSpec.family key. kind="wrapper": key is the option key (stage or
    model level) that is stripped before recursing."""
    if kind not in ("stage", "macro", "wrapper"):
        raise ValueError(f"unknown family kind {kind!r}")
    _HANDLERS[key] = complexity
    _BUILDERS[key] = build
    if kind == "stage":
        _STAGE_OPTIONS.update(options)
    elif kind == "macro":
        _MACROS.add(key)
    elif key not in _WRAPPERS:
        _WRAPPERS.append(key)


def _load_builtin_families() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import importlib
        import pkgutil

        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")


def known_options() -> list[str]:
    _load_builtin_families()
    return sorted(_STAGE_OPTIONS | _MACROS | set(_WRAPPERS))


def family_key(spec) -> str:
    """The handler a spec belongs to: '' for plain AnyNet, a wrapper key, a macro key or STAGE_KEY."""
    model_keys = set(spec.family)
    stage_keys = {k for st in spec.stages for k in st.family}
    if not model_keys and not stage_keys:
        return ""
    _load_builtin_families()
    for key in _WRAPPERS:
        if key in model_keys or key in stage_keys:
            return key
    unknown = (model_keys - _MACROS) | (stage_keys - _STAGE_OPTIONS)
    if unknown:
        raise UsageError(f"unknown family option(s) {', '.join(sorted(unknown))}; known: {', '.join(known_options())}")
    if model_keys:
        if len(model_keys) > 1 or stage_keys:
            raise UsageError(f"macro family {', '.join(sorted(model_keys))} cannot be combined with other families")
        return next(iter(model_keys))
    return STAGE_KEY


def family_builder(key: str) -> Builder:
    _load_builtin_families()
    return _BUILDERS[key]


def family_complexity(specs: Sequence, regime, base: ComplexityHandler) -> dict:
    keys = [family_key(s) for s in specs]
    if not any(keys):
        return base(specs, regime)
    n = len(specs)
    out: dict[str, np.ndarray] = {}
    reported: dict[str, int] = {}
    groups = dict.fromkeys(keys)
    for key in groups:
        idx = [i for i, k in enumerate(keys) if k == key]
        part = (base if key == "" else _HANDLERS[key])([specs[i] for i in idx], regime)
        for name, values in part.items():
            if name not in out:
                out[name] = np.full(n, -1, np.int64)
            out[name][idx] = values
            reported[name] = reported.get(name, 0) + 1
    for name in list(out):
        if reported[name] == len(groups):
            continue
        if name.startswith("cx_train_") and name[9:] in out:  # no training graph of its own: the deploy one
            missing = out[name] < 0
            out[name][missing] = out[name[9:]][missing]
        else:  # a family-only column (e.g. a reference's own flops convention) means nothing for the others
            del out[name]
    return out
