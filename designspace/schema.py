"""Declarative validation of user-facing files: a pydantic model states each key's type, range and
allowed keys once, and `validate` turns its first complaint into the one line the CLI prints.

pydantic (v2) arrives with Ray; it is declared as our own dependency because we import it. Models
here use `extra="forbid"` (an unknown key is an error naming the allowed ones) and strict types (a
string is not silently a number, true is not 1).
"""
from __future__ import annotations

from typing import Any

from .errors import UsageError


def validate(model, raw: Any, where: str):
    """model.model_validate(raw), or a one-line UsageError: 'where: key a.b: what is wrong'."""
    import pydantic

    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise UsageError(f"{where}: {describe_error(exc.errors()[0], model)}") from None


def describe_error(error: dict, model=None) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()) if not str(part).startswith("function-"))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, error.get("loc", ())[:-1])
        return f"unknown key {loc!r}" + (f"; valid: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return f"key {loc!r} is required"
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    value = error.get("input")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"key {loc!r}: {message}, got {shown}" if loc else message


def _allowed_keys(model, loc) -> list[str]:
    """The field names of the (nested) model at `loc`, for the 'valid:' hint."""
    import typing

    current = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        args = [a for a in typing.get_args(annotation) if hasattr(a, "model_fields")]
        current = args[-1] if args else annotation
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []
