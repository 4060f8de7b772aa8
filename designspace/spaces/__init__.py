"""One registry of design spaces, looked up by name (case-insensitive)."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import UsageError
from .anynet import AnyNetXA, AnyNetXB, AnyNetXC, AnyNetXD, AnyNetXE
from .base import DesignSpace, Draw, parse_flops
from .regnet import RegNetX, RegNetY, generate_regnet, regnet_stages

_SPACES: dict[str, Callable[[], DesignSpace]] = {}
# "Base+modifier" names (e.g. AnyNetXE+csp): a modifier wraps a base space with a family dimension.
_MODIFIERS: dict[str, Callable[[DesignSpace], DesignSpace]] = {}


def register_space(name: str, factory: Callable[[], DesignSpace]) -> None:
    _SPACES[name] = factory


def register_modifier(name: str, wrap: Callable[[DesignSpace], DesignSpace]) -> None:
    _MODIFIERS[name] = wrap


for _cls in (AnyNetXA, AnyNetXB, AnyNetXC, AnyNetXD, AnyNetXE, RegNetX, RegNetY):
    register_space(_cls.name, _cls)


def _load_families() -> None:
    from ..families import _load_builtin_families

    _load_builtin_families()


def space_names() -> list[str]:
    _load_families()
    return list(_SPACES)


def modifier_names() -> list[str]:
    _load_families()
    return list(_MODIFIERS)


def get_space(name: str) -> DesignSpace:
    """The design space called `name`, e.g. 'AnyNetXE', 'RegNetY' or 'AnyNetXE+csp'."""
    lookup = {k.lower(): k for k in _SPACES}
    base, *mods = str(name).split("+")
    if base.lower() not in lookup:
        _load_families()
        lookup = {k.lower(): k for k in _SPACES}
    if base.lower() not in lookup:
        raise UsageError(f"unknown space {name!r}; valid: {', '.join(space_names())}")
    space = _SPACES[lookup[base.lower()]]()
    for mod in mods:
        mod_lookup = {k.lower(): k for k in modifier_names()}
        if mod.lower() not in mod_lookup:
            known = ", ".join(modifier_names()) or "none yet"
            raise UsageError(f"unknown space modifier {mod!r} in {name!r}; valid: {known}")
        space = _MODIFIERS[mod_lookup[mod.lower()]](space)
    return space


__all__ = ["DesignSpace", "Draw", "get_space", "space_names", "register_space", "register_modifier",
           "generate_regnet", "regnet_stages", "parse_flops"]
