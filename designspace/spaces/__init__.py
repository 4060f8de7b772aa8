"""One registry of design spaces, one door: ``get_space(x)`` takes a name (case-insensitive), a
space file (.yaml / .yml / .json), a dict, or an inline refinement ``Base[k=v,expr,...]+modifier``.

Spaces are data (definition.py): the shipped ones are definitions (builtin.py); the family packages
(designspace/families) register a few more as factories, and modifiers (``+csp``, ...) that wrap any
space with a family dimension.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from ..errors import UsageError, did_you_mean
from ..registry import load_families, loaded
from .base import DesignSpace, Draw, Origin, WrappedSpace, parse_flops
from .regnet import generate_regnet, regnet_stages

_SPACES: dict[str, Callable[[], DesignSpace]] = {}
_DEFINITIONS: dict[str, dict] = {}  # built-in input definitions (may have a base), by name
_RESOLVED: dict[str, dict] = {}  # their resolved definitions (cached)
# "Base+modifier" names (e.g. AnyNetXE+csp): a modifier wraps a base space with a family dimension.
_MODIFIERS: dict[str, Callable[[DesignSpace], DesignSpace]] = {}


def register_space(name: str, factory: Callable[[], DesignSpace]) -> None:
    _SPACES[name] = factory


def register_definition(d: dict, shipped: bool = False) -> None:
    """Register a space given as data (a definition, possibly with a base). Only builtin.py's definitions are
    `shipped`: tested against the schema, they skip its pass when built (sampling imports no pydantic)."""
    _DEFINITIONS[d["name"]] = d
    _SPACES[d["name"]] = lambda name=d["name"]: _defined(resolved_definition(name), shipped=shipped)


def register_modifier(name: str, wrap: Callable[[DesignSpace], DesignSpace]) -> None:
    _MODIFIERS[name] = wrap


def _load_builtins() -> None:
    from .builtin import BUILTIN

    for d in BUILTIN:
        register_definition(d, shipped=True)


_load_builtins()


def space_names() -> list[str]:
    return list(loaded(_SPACES))


def modifier_names() -> list[str]:
    return list(loaded(_MODIFIERS))


def _find(table: Mapping, name: str) -> str | None:
    """`name` as registered in `table` (spaces or modifiers), case-insensitively. The families, which
    register most of both, are imported only on a miss: naming a core space imports none of them."""
    for attempt in range(2):
        key = {k.lower(): k for k in table}.get(name.lower())
        if key is not None or attempt:
            return key
        load_families()


def modifier_descriptions() -> dict[str, str]:
    """One line per modifier: what it adds (the family's dimensions), for `designspace spaces`."""
    out = {}
    probe = get_space("AnyNetXA")
    for name in modifier_names():
        try:
            space = _MODIFIERS[name](probe)
            extra = list(space.free_params)[len(probe.free_params):]
            text = "adds " + ", ".join(p + (f" ({d})" if d.startswith("fixed") else "") for p, d in extra) \
                if extra else space.description.removeprefix(probe.description).strip(" +;")
        except Exception as exc:  # a listing must not fail on one modifier
            text = f"(cannot describe: {exc})"
        out[name] = text
    return out


def resolved_definition(name: str) -> dict:
    """The resolved definition of a built-in (data) space."""
    if name not in _RESOLVED:
        from .definition import merge

        d = dict(_DEFINITIONS[name])
        if "base" in d:
            d = merge(_space_dict(d["base"]), d)
            d.pop("base", None)
        _RESOLVED[name] = d
    return {k: v for k, v in _RESOLVED[name].items()}


def _space_dict(x) -> dict:
    """The resolved definition (a dict) of whatever get_space accepts."""
    return get_space(x).definition()


def _defined(d: dict, shipped: bool = False) -> DesignSpace:
    """The space of a resolved definition; `shipped` (builtin.py's, tested against the schema) skips its pass."""
    from .defined import DefinedSpace
    from .definition import SpaceDef

    mods = list(d.get("modifiers", []))
    core = {k: v for k, v in d.items() if k != "modifiers"}
    core = DefinedSpace(SpaceDef.from_shipped(core) if shipped else SpaceDef.from_dict(core))
    return _apply_modifiers(core, mods, d["name"]) if mods else core


def _apply_modifiers(space: DesignSpace, mods: list[str], label: str) -> DesignSpace:
    origin = space.origin or Origin(space, ())
    for mod in mods:
        key = _find(_MODIFIERS, mod)
        if key is None:
            known = ", ".join(modifier_names()) or "none yet"
            raise UsageError(f"unknown space modifier {mod!r} in {label!r}{did_you_mean(mod, modifier_names())}; "
                             f"valid: {known}")
        space = _MODIFIERS[key](space)
        origin = Origin(origin.core, (*origin.modifiers, key))
        if space.origin != origin:  # what definition() reports
            space = space.with_origin(origin)
    return space


def space_from_dict(d: Mapping, validate: bool = True) -> DesignSpace:
    """A space from a definition dict (the YAML schema; `base` allowed)."""
    from .definition import merge
    from .definition_input import check_definition

    d = dict(d)
    if validate:
        check_definition(d)
    if "base" in d:
        base_space = get_space(d["base"])
        base_def = base_space.definition()
        if "params" not in base_def:  # a space written as code: only modifiers can go on top
            extra = sorted(set(d) - {"name", "description", "base", "modifiers"})
            if extra:
                raise UsageError(f"space {base_space.name!r} is written as code, not data; a definition "
                                 f"based on it can only add modifiers, not {extra[0]!r}")
            return _apply_modifiers(base_space, list(d.get("modifiers", [])), str(d.get("name")))
        d.setdefault("name", f"{base_space.name}*")
        d = merge(base_def, d)
        d.pop("base", None)
    return _defined(d)


def space_from_yaml(path: str) -> DesignSpace:
    """A space from a YAML (or JSON) file: safe, size-bounded, no aliases."""
    from .definition import read_definition_file

    return space_from_dict(read_definition_file(path))


def _is_path(text: str) -> bool:
    return text.lower().endswith((".yaml", ".yml", ".json")) or (os.sep in text and os.path.exists(text))


def get_space(x) -> DesignSpace:
    """The design space `x` names: 'AnyNetXE', 'RegNetY', 'AnyNetXE+csp', 'RegNetX[wm=2]',
    'AnyNetXE[b=1,g>=8]+csp', 'my_space.yaml', a definition dict, or a DesignSpace (returned as is)."""
    if isinstance(x, DesignSpace):
        return x
    if isinstance(x, Mapping):
        return space_from_dict(x)
    if not isinstance(x, (str, os.PathLike)):
        raise UsageError(f"a space is a name, a file or a mapping, got {type(x).__name__}")
    text = os.fspath(x).strip()
    from .definition import canonical_items, inline_override, merge, split_inline

    head, items, mods = split_inline(text)
    if _is_path(head):
        space = space_from_yaml(head)
    else:
        key = _find(_SPACES, head)
        if key is None:
            raise UsageError(f"unknown space {head!r}{did_you_mean(head, space_names())}; valid: "
                             f"{', '.join(space_names())} "
                             "(or a .yaml file, or an inline refinement such as RegNetX[wm=2])")
        space = _SPACES[key]()
    if items:
        base = space.definition()
        if "params" not in base:
            raise UsageError(f"space {space.name!r} is not defined as data; [...] refinements need a data space")
        over = inline_override(items, base)
        name = f"{space.name}[{','.join(canonical_items(over))}]"
        desc = f"{space.name} refined: {', '.join(canonical_items(over))}"
        space = _defined({**merge(base, over), "name": name, "description": desc})
    if mods:
        space = _apply_modifiers(space, mods, text)
    return space


__all__ = ["DesignSpace", "Draw", "Origin", "WrappedSpace", "get_space", "space_names", "modifier_names",
           "register_space",
           "register_definition", "register_modifier", "space_from_dict", "space_from_yaml",
           "generate_regnet", "regnet_stages", "parse_flops"]
