"""A flat record's fields as plain data: each key's type and its range or allowed values, stated once.

    STAGE = Record("stage", (("depth", Bound(int, ge=0, le=MAX_DEPTH)), ("block", OneOf(BLOCK_TYPES)), ...))

`schema.model_of(STAGE)` builds the pydantic model that validates such a record (with the one-line messages of
schema.validate), the first time a value needs validating. `canonical_check(STAGE)` compiles from the same
declaration the fast test a hot constructor runs first: values that already are what validation would return
skip it. So a command that only builds canonical values (`sample` builds thousands of specs) never imports
pydantic, and the declaration stays the one source of each limit.

The types mean what schema.py's shared types mean: int is an integer (a whole float such as YAML's 1e3 is the
integer it names), float a finite number (an integer is one too), bool true or false, never 1 or 0.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bound:
    """A number or a flag: `kind` int, float or bool, inside the given bounds; None too where `optional`."""

    kind: type
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    optional: bool = False

    def __post_init__(self):
        if self.kind not in (int, float, bool):
            raise TypeError(f"Bound: kind must be int, float or bool, got {self.kind!r}")

    def admits(self, value: Any) -> bool:
        """Whether `value` is already what validation returns: its exact type (an int is not a float here,
        a bool not an int), finite, inside the bounds (canonical_check's test, for one value)."""
        return _admitted((value,), (_plan(self),))

    def check(self, value: Any, where: str):
        """`value` as validated (3.0 -> 3 for an integer), or the one-line UsageError 'where must be ..., got
        value'. A value already canonical returns at once, without pydantic."""
        if self.admits(value):
            return value
        from .schema import annotation_of, check

        return check(annotation_of(self), value, where)


@dataclass(frozen=True)
class OneOf:
    """One of a few strings (a block type, a kind)."""

    values: tuple

    def admits(self, value: Any) -> bool:
        return _admitted((value,), (_plan(self),))


@dataclass(frozen=True)
class Record:
    """A flat record: `name` (what messages call it), and its fields, ((key, Bound | OneOf), ...) in order."""

    name: str
    fields: tuple

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.fields)

    def field(self, key: str) -> Bound | OneOf:
        return dict(self.fields)[key]


def canonical_check(record: Record) -> Callable[[tuple], bool]:
    """A fast test of whether values (in field order) are already what validation would return, each
    admitted by its field. A hot constructor validates only when it fails."""
    plan = tuple(_plan(decl) for _, decl in record.fields)
    return lambda values: _admitted(values, plan)


def _plan(decl: Bound | OneOf) -> tuple:
    """A field's test as a plain tuple (kind, allowed strings, ge, gt, le, lt, optional): read in one loop
    (_admitted) without a method call per field, since it runs for every stage a sampler builds."""
    if isinstance(decl, OneOf):
        return None, decl.values, None, None, None, None, False
    return decl.kind, None, decl.ge, decl.gt, decl.le, decl.lt, decl.optional


def _admitted(values: tuple, plan: tuple) -> bool:
    """Whether every value is admitted by its field's plan (the one statement of what canonical means)."""
    if len(values) != len(plan):
        return False
    for v, (kind, allowed, ge, gt, le, lt, optional) in zip(values, plan):
        if allowed is not None:
            if type(v) is not str or v not in allowed:
                return False
        elif v is None:
            if not optional:
                return False
        elif type(v) is not kind or (kind is float and v - v != 0):  # v - v: NaN and infinities fail
            return False
        elif (ge is not None and v < ge) or (gt is not None and v <= gt) or (le is not None and v > le) \
                or (lt is not None and v >= lt):
            return False
    return True
