"""Declarative validation of user-facing input: a pydantic model states each key's type, range and
allowed keys once, and `validate` turns its first complaint into the one line the CLI prints:

    cfg.yaml: config key 'recipe.epochs': must be <= 10,000, got 100000

pydantic (v2) arrives with Ray; it is declared as our own dependency because we import it. Models use
STRICT (`extra="forbid"`: an unknown key is an error naming the allowed ones; strict types: a string is
never silently a number, true is not 1). The shared types below add what YAML needs on top: a whole
float (1e3 written as 1000.0) is an integer, and a number is finite. Checks that relate several keys
are model validators raising ValueError (or UsageError, a ValueError) with the message to print.
"""
from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    create_model,
)

from .errors import UsageError
from .fields import Bound, OneOf, Record
from .limits import NAME_RE, SEED

# defer_build: a model builds its validator when it first validates, so a command pays only for the schemas
# it uses (building every one at import cost each command's start-up)
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


def _whole(value):
    """A float with no fraction (YAML's 1.0e+3) is the integer it names; anything else is left to the type."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_whole), Strict()]
Number = Annotated[float, AllowInfNan(False), Strict()]  # an int is a number too (strict floats take ints)
Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict(), Field(max_length=100_000)]


def _sequence(value):
    """A YAML list, or the tuple a frozen spec option holds it as (FrozenDict): the same items."""
    return tuple(value) if isinstance(value, list) else value


def Items(item, **bounds):  # named as a type: it makes one
    """A list of `item` (min_length / max_length in `bounds`), as a tuple; a string is not a list."""
    return Annotated[tuple[item, ...], BeforeValidator(_sequence), Field(**bounds)]


def validate(model, raw: Any, where: str, noun: str = "key", at: str = ""):
    """model.model_validate(raw), or a one-line UsageError: 'where: key 'a.b': what is wrong, got value'.
    `noun` names what a key is ('config key'); `at` is the place of `raw` inside a larger input ('recipe')."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        text = describe_error(_first(exc.errors()), model, noun, at)
    except RecursionError:
        text = "nests too deeply"
    raise UsageError(f"{where}: {text}" if where else text)



@functools.cache  # one object per declaration: `check` keeps a validator per type
def annotation_of(decl: Bound | OneOf):
    """The pydantic type of a field declared as plain data (fields.py): Integer, Number or Flag with its
    bounds, or a Literal of its values."""
    if isinstance(decl, OneOf):
        return Literal[decl.values]
    base = {int: Integer, float: Number, bool: Flag}[decl.kind]
    bounds = {key: getattr(decl, key) for key in ("ge", "gt", "le", "lt") if getattr(decl, key) is not None}
    kind = Annotated[base, Field(**bounds)] if bounds else base
    return kind | None if decl.optional else kind


@functools.cache
def model_of(record: Record) -> type[BaseModel]:
    """The pydantic model of a record declared as plain data (fields.py), built once, when first needed."""
    fields = {key: (annotation_of(decl), ...) for key, decl in record.fields}
    return create_model(f"{record.name.title()}Fields", __config__=STRICT, **fields)


def validate_record(record: Record, values: dict) -> dict:
    """`values` as the record's schema returns them (1 -> 1.0 for a float field, 3.0 -> 3 for an integer one),
    or the one-line UsageError naming the key ('stage key 'width': must be <= 16,384, got 20000')."""
    checked = validate(model_of(record), values, "", at=record.name)
    return {name: getattr(checked, name) for name in values}


# --- shared field types of configs and suites (their limits are limits.py's) --------------------------
def _name(value: str) -> str:
    if not NAME_RE.match(value) or value in (".", ".."):
        raise ValueError("must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or digit)")
    return value


def _path(value: str) -> str:
    if "\0" in value:
        raise ValueError("must be a path (no NUL character)")
    return value


Seed = annotation_of(SEED)  # numpy's and torch's seeds: sampling, training, bootstrap
Name = Annotated[str, Strict(), AfterValidator(_name)]  # a sweep or suite name
PathText = Annotated[str, Strict(), Field(min_length=1, max_length=4096), AfterValidator(_path)]

_ADAPTERS: dict = {}


def check(kind, value: Any, where: str):
    """One value against a type (Integer, Annotated[float, Field(gt=0)], Literal[...]): the value as
    validated, or a one-line UsageError 'where must be ..., got value'."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise UsageError(f"{where} {_complaint(_first(exc.errors()))}") from None


def _first(errors: list) -> dict:
    """The error to print: the first place's; where a union tried several types there (an integer, then a
    number), the last type's complaint, which is the most general."""
    place = _place(errors[0])
    return [e for e in errors if _place(e) == place][-1]


def _place(error: dict) -> tuple:
    return tuple(part if isinstance(part, int) else str(part) for part in error.get("loc", ()) if not _internal(part))


def _joined(place: list) -> str:
    """claims[2].parts[0].a: a list's item by its index, as YAML's reader counts it."""
    text = ""
    for part in place:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def describe_error(error: dict, model=None, noun: str = "key", at: str = "") -> str:
    loc = _joined([at] * bool(at) + list(_place(error)))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, error.get("loc", ())[:-1])
        unknown = f"unknown {noun.removesuffix(' key')} key" if noun.endswith(" key") else f"unknown {noun}"
        return f"{unknown} {loc!r}" + (f"; valid: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return f"{noun} {loc!r} is required"
    text = _complaint(error)
    return f"{noun} {loc!r}: {text}" if loc else text


def _internal(part) -> bool:
    """pydantic's own location steps (function-after[...], a union member's type name)."""
    text = str(part)
    return (text.startswith(("function-", "constrained-")) or text in ("int", "float", "bool", "str", "dict", "list")
            or text == "[key]")  # a mapping's key that failed its type: the key itself names the place


_MESSAGES = {
    "int_type": "must be an integer", "int_from_float": "must be an integer", "int_parsing": "must be an integer",
    "float_type": "must be a finite number", "finite_number": "must be a finite number",
    "float_parsing": "must be a finite number", "bool_type": "must be true or false",
    "bool_parsing": "must be true or false", "string_type": "must be a string", "dict_type": "must be a mapping",
    "model_type": "must be a mapping", "model_attributes_type": "must be a mapping", "list_type": "must be a list",
    "tuple_type": "must be a list", "string_too_short": "must not be empty", "string_too_long": "is too long",
}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "less_than_equal": ("<=", "le"), "greater_than": (">", "gt"),
           "less_than": ("<", "lt")}


def _complaint(error: dict) -> str:
    """'must be ..., got VALUE' for one pydantic error."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in _MESSAGES:
        message = _MESSAGES[kind]
    elif kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        message = f"must be {sign} {_number(ctx.get(key))}"
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '?')}".replace(" or ", ", ")
    elif kind in ("too_long", "too_short"):
        most = "at most" if kind == "too_long" else "at least"
        bound = ctx.get("max_length" if kind == "too_long" else "min_length")
        message = f"must have {most} {bound} item(s)"
    else:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ").replace("Input should be", "must be")
        if kind == "value_error" and ("got " in message or isinstance(error.get("input"), dict)):
            return message  # a model validator's own words: the mapping it read would only repeat the file
    return f"{message}, got {_shown(error.get('input'))}"


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(model, loc) -> list[str]:
    """The field names (aliases where set) of the (nested) model at `loc`, for the 'valid:' hint."""
    import typing

    current = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        match = next((f for name, f in fields.items() if (f.alias or name) == part), None)
        if match is None:  # a list's index, a mapping's key or a pydantic step: still the same model
            continue
        current = _model_in(match.annotation, typing)
    fields = getattr(current, "model_fields", None)
    return [f.alias or name for name, f in fields.items()] if fields else []


def _model_in(annotation, typing):
    """The model a field holds, through Optional, list[...] and dict[..., ...]; None when it holds none."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in reversed(typing.get_args(annotation)):
        found = _model_in(arg, typing)
        if found is not None:
            return found
    return None
