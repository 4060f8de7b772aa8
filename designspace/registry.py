"""The family registry: the one door between the core and the network families.

The core (spec, complexity, models, train, commands) imports only this module; each family is a
package that imports the core and registers itself with :func:`register_family`. Built-in families
live in ``designspace/families/<name>/``; families from other distributions are found through the
``designspace.families`` entry-point group (each entry point names a module; importing it registers
the family). See docs/families.md.

A spec belongs to at most one family handler (:func:`family_of`):

- ``kind="stage"``: the family owns per-stage option keys (``StageSpec.family``); every spec whose
  stages carry any of them goes to it (one stage handler may own several keys that combine);
- ``kind="macro"``: it owns a model-level key (``ModelSpec.family``) and replaces the AnyNet body;
- ``kind="wrapper"``: it owns a key (model or stage level) whose deploy network is the spec without
  it; its handlers strip the key and call back into :func:`designspace.complexity.complexity` /
  :func:`designspace.models.build` for the rest. Wrappers take precedence, in registration order;
- ``kind="recipe"``: no spec keys; only training hooks / recipe validation (e.g. DyRep).

Any family may also own top-level *recipe* keys (``recipe_keys``): ``Recipe.from_dict`` keeps them in
``Recipe.family_options`` and ``Recipe.to_dict`` writes them back at the top level, so a recipe's JSON
(and every trial id) reads as if the key were a core field; the family reads its option with
``recipe.family_option(key)`` and checks it in ``validate_recipe``.

Plain AnyNet specs (no family keys) stay with the core.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UsageError

ENTRY_POINT_GROUP = "designspace.families"
KINDS = ("stage", "macro", "wrapper", "recipe")


@dataclass(frozen=True)
class Family:
    """What a family provides: `name`, `kind`, `keys`, `complexity` and `build` (the last three empty
    / None for a recipe family), and optional hooks.

    complexity(specs, regime) -> {"flops", "params", "acts": int64 arrays (N,)} (+ optional "cx_*"
        columns such as cx_train_flops); numpy only: sampling never imports torch.
    build(spec, regime) -> torch.nn.Module; import torch inside it (lazily).
    stage_breakdown(spec, regime) -> {"stage_flops", "stage_params", "stage_acts": (1, S) arrays} for
        `describe` (optional).
    train_hooks(spec, recipe, model, ctx) -> list of TrainHook (optional; see TrainHook).
    recipe_keys: top-level recipe keys the family owns (e.g. ("dyrep",)); their values reach it as
        recipe.family_option(key) (None when unset).
    validate_recipe(recipe) -> None, raising UsageError on bad recipe options it owns (optional).
    deploy(model, spec, regime) -> (deployed model, deploy spec, form name) (optional; `deploy` command).
    load_deployed(spec, regime, form) -> an empty model of a deployed form to load weights into (optional).
    """

    name: str
    kind: str
    keys: tuple[str, ...]
    complexity: Callable[[Sequence, Any], dict] | None
    build: Callable[[Any, Any], Any] | None
    stage_breakdown: Callable | None = None
    train_hooks: Callable | None = None
    validate_recipe: Callable | None = None
    deploy: Callable | None = None
    load_deployed: Callable | None = None
    recipe_keys: tuple[str, ...] = ()
    # False: the family's modules must train in contiguous memory format on CPU (oneDNN's channels_last
    # backward corrupts the heap for DBB blocks in torch 2.13 CPU builds); GPUs keep channels_last.
    cpu_channels_last: bool = True
    description: str = ""
    module: str = field(default="", compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"family {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "keys", tuple(self.keys))
        object.__setattr__(self, "recipe_keys", tuple(self.recipe_keys))
        if not all(isinstance(k, str) and k.isidentifier() for k in self.recipe_keys):
            raise ValueError(f"family {self.name!r}: recipe keys must be identifiers, got {self.recipe_keys!r}")
        if self.kind == "recipe":
            if self.keys:
                raise ValueError(f"recipe family {self.name!r} owns no spec keys")
        elif not self.keys or not all(isinstance(k, str) and k for k in self.keys) or \
                self.complexity is None or self.build is None:
            raise ValueError(f"family {self.name!r} needs option keys, complexity and build")


_FAMILIES: dict[str, Family] = {}
_OWNER: dict[str, str] = {}  # option key -> family name
_RECIPE_OWNER: dict[str, str] = {}  # recipe key -> family name
_LOADED = False
_LOAD_ERRORS: list[str] = []


def register_family(family: Family) -> Family:
    """Add a family (idempotent for the same name). Its option keys and recipe keys must be free."""
    for owners, keys, what in ((_OWNER, family.keys, "option"), (_RECIPE_OWNER, family.recipe_keys, "recipe")):
        for key in keys:
            owner = owners.get(key)
            if owner is not None and owner != family.name:
                raise ValueError(f"{what} key {key!r} of family {family.name!r} is already owned by {owner!r}")
    _FAMILIES[family.name] = family
    for key in family.keys:
        _OWNER[key] = family.name
    for key in family.recipe_keys:
        _RECIPE_OWNER[key] = family.name
    return family


def load_families() -> None:
    """Import the built-in family packages and every `designspace.families` entry point, once."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    from . import families as builtin

    for info in pkgutil.iter_modules(builtin.__path__):
        importlib.import_module(f"{builtin.__name__}.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not take the tool down; say which one
            _LOAD_ERRORS.append(f"{ep.name} ({ep.value}): {type(exc).__name__}: {exc}")


def loaded(table):
    """`table` (one the families fill as they register: here, or the spaces' names and modifiers)
    once every built-in family and plugin has been imported; callers copy what they return."""
    load_families()
    return table


def families() -> dict[str, Family]:
    return dict(loaded(_FAMILIES))


def load_errors() -> list[str]:
    return list(loaded(_LOAD_ERRORS))


def known_keys() -> list[str]:
    return sorted(loaded(_OWNER))


def recipe_keys() -> dict[str, str]:
    """{recipe key: owning family} of every registered family."""
    return dict(loaded(_RECIPE_OWNER))


def family_build(spec, regime):
    """The torch module of a family spec (the core builds plain AnyNet specs itself)."""
    return family_of(spec).build(spec, regime)


def family_stage_breakdown(spec, regime) -> dict | None:
    fam = family_of(spec)
    return None if fam is None or fam.stage_breakdown is None else fam.stage_breakdown(spec, regime)


def family_deploy(spec):
    """The deploy hook of the spec's family, or None."""
    fam = family_of(spec)
    return None if fam is None else fam.deploy


def load_deployed(spec, regime, form):
    """An empty model of a deployed `form` (e.g. "condensed") from the family that wrote it, or None."""
    for fam in families().values():
        if fam.load_deployed is not None:
            model = fam.load_deployed(spec, regime, form)
            if model is not None:
                return model
    return None


def family_of(spec) -> Family | None:
    """The family handling `spec` (None: plain AnyNet); one-line UsageError for unknown or
    incompatible option keys."""
    model_keys = set(spec.family)
    stage_keys = {k for st in spec.stages for k in st.family}
    if not model_keys and not stage_keys:
        return None
    load_families()
    keys = model_keys | stage_keys
    unknown = keys - set(_OWNER)
    if unknown:
        hint = f"; plugins that failed to load: {'; '.join(_LOAD_ERRORS)}" if _LOAD_ERRORS else ""
        raise UsageError(f"unknown family option(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(known_keys())}{hint}")
    owners = {_OWNER[k] for k in keys}
    for fam in _FAMILIES.values():  # registration order: the first wrapper present wins
        if fam.kind == "wrapper" and fam.name in owners:
            return fam
    macros = [n for n in owners if _FAMILIES[n].kind == "macro"]
    if macros:
        if len(owners) > 1:
            raise UsageError(f"macro family {', '.join(sorted(macros))} cannot be combined with "
                             f"{', '.join(sorted(owners - set(macros[:1])))}")
        fam = _FAMILIES[macros[0]]
        if stage_keys:
            raise UsageError(f"macro family {fam.name} takes no stage options, got {', '.join(sorted(stage_keys))}")
        return fam
    if model_keys:
        raise UsageError(f"model-level option(s) {', '.join(sorted(model_keys))} belong to stage families; "
                         "put them on the stages")
    if len(owners) > 1:
        raise UsageError(f"stage options of different families cannot be combined: {', '.join(sorted(owners))}")
    return _FAMILIES[owners.pop()]


def family_complexity(specs: Sequence, regime, base: Callable[[Sequence, Any], dict]) -> dict:
    """Complexity of `specs` grouped by family; `base` costs the plain AnyNet ones. Columns only
    some families report: cx_train_* default to the deploy value, any other is left out."""
    fams = [family_of(s) for s in specs]
    if not any(fams):
        return base(specs, regime)
    n = len(specs)
    out: dict[str, np.ndarray] = {}
    reported: dict[str, int] = {}
    groups = list(dict.fromkeys(f.name if f else "" for f in fams))
    for name in groups:
        idx = [i for i, f in enumerate(fams) if (f.name if f else "") == name]
        part = (base if name == "" else _FAMILIES[name].complexity)([specs[i] for i in idx], regime)
        for col, values in part.items():
            if col not in out:
                out[col] = np.full(n, -1, np.int64)
            out[col][idx] = values
            reported[col] = reported.get(col, 0) + 1
    for col in list(out):
        if reported[col] == len(groups):
            continue
        if col.startswith("cx_train_") and col[9:] in out:  # no training graph of its own: the deploy one
            missing = out[col] < 0
            out[col][missing] = out[col[9:]][missing]
        else:  # a family-only column (e.g. a reference's own flops convention) means nothing for the others
            del out[col]
    return out


# --- training hooks --------------------------------------------------------------------------------
@dataclass
class TrainContext:
    """What hooks may need from the trainer."""

    epochs: float
    steps_per_epoch: int
    input_shape: tuple  # (C, H, W)
    sample_batch: Callable[[], Any]  # a random training batch as the loop sees it (augmented), prepared


class TrainHook:
    """No-op base of a family's training hook: override what you need. Hooks change the model and
    the optimizer's param groups in place."""

    def before_step(self, model, step: int, progress: float) -> None: ...

    def after_backward(self, model, step: int) -> None: ...

    def on_epoch_end(self, model, optimizer, epoch: int) -> None: ...

    def on_train_end(self, model) -> None: ...

    def report(self) -> dict:
        """Keys merged into the trial's metrics (e.g. cx_train, extra)."""
        return {}


class HookList(list):
    """Fans every call out to its hooks, in order."""

    def before_step(self, model, step, progress):
        for h in self:
            h.before_step(model, step, progress)

    def after_backward(self, model, step):
        for h in self:
            h.after_backward(model, step)

    def on_epoch_end(self, model, optimizer, epoch):
        for h in self:
            h.on_epoch_end(model, optimizer, epoch)

    def on_train_end(self, model):
        for h in self:
            h.on_train_end(model)

    def report(self) -> dict:
        out: dict = {}
        for h in self:
            part = dict(h.report())
            extra = {**out.get("extra", {}), **part.pop("extra", {})}
            out.update(part)
            if extra:
                out["extra"] = extra
        return out


def validate_recipe(recipe) -> None:
    """Every family checks the recipe options it owns (one-line UsageErrors)."""
    for fam in families().values():
        if fam.validate_recipe is not None:
            fam.validate_recipe(recipe)


def cpu_channels_last(spec, recipe) -> bool:
    """Whether a CPU trial of `spec` with `recipe` may run channels_last: not when the spec's family or a
    family owning one of the recipe's options opts out (Family.cpu_channels_last)."""
    fam = family_of(spec)
    if fam is not None and not fam.cpu_channels_last:
        return False
    owners = recipe_keys()
    return all(_FAMILIES[owners[k]].cpu_channels_last for k in recipe.family_options if k in owners)


def make_train_hooks(spec, recipe, model, ctx: TrainContext) -> HookList:
    """The hooks every family asks for on this trial, in registration order."""
    hooks = HookList()
    for fam in families().values():
        if fam.train_hooks is not None:
            hooks.extend(fam.train_hooks(spec, recipe, model, ctx) or ())
    return hooks
