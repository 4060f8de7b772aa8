"""The schema of a space definition as written (a file, a dict, an inline refinement's parameters): every key,
its type and range, as pydantic models. Imported when user input is read, so that sampling a shipped space
(definition.SpaceDef.from_shipped) never imports pydantic."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, Field, Strict, model_validator

from ..errors import UsageError
from ..limits import MAX_STAGES, MAX_STRIDE, MAX_WIDTH
from ..schema import STRICT, Flag, Integer, Number, validate
from ..spec import BLOCK_TYPES
from .definition import DEFAULTS, KIND_PARAMS
from .distributions import KINDS, TAKES_Q

# A number as written: an integer stays one (choice: [1, 2] draws integers), a float stays a float.
Value = Annotated[Annotated[int, Strict()] | Annotated[float, Strict(), AllowInfNan(False)],
                  Field(union_mode="left_to_right")]
Range = Annotated[list[Value], Field(min_length=2, max_length=2)]


class ParamInput(BaseModel):
    """A parameter as written: one distribution kind, its step q, and the per-stage flags."""
    model_config = STRICT
    uniform: Range | None = None
    log_uniform: Range | None = None
    int_: Annotated[Range | bool | None, Field(alias="int")] = None  # a range, or (with uniform) the integer flag
    log_int: Range | None = None
    power2_or_log_uniform: Range | None = None
    choice: Annotated[list[Value], Field(min_length=1, max_length=10_000)] | None = None
    fixed: Value | None = None
    q: Annotated[Value, Field(ge=0)] = 0
    per_stage: Flag = False
    non_decreasing: Flag = False

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = self.kinds()
        if len(kinds) != 1:
            raise ValueError(f"needs exactly one of {', '.join(KINDS)} (found {', '.join(kinds) or 'none'})")
        if isinstance(self.int_, bool) and kinds[0] not in ("uniform", "log_uniform"):
            raise ValueError(f"{kinds[0]} takes no 'int' option")
        if "q" in self.model_fields_set and kinds[0] not in TAKES_Q:
            raise ValueError(f"{kinds[0]} takes no 'q' option")
        return self

    def kinds(self) -> list[str]:
        given = {"int" if k == "int_" else k: getattr(self, k) for k in self.model_fields_set}
        return [k for k in KINDS if given.get(k) is not None and not (k == "int" and isinstance(given[k], bool))]

    @property
    def kind(self) -> str:
        return self.kinds()[0]

    @property
    def value(self):
        """The kind's value: [low, high], the choices or the fixed value."""
        return getattr(self, "int_" if self.kind == "int" else self.kind)


Constraint = Annotated[str, Field(min_length=1, max_length=2000)]
Modifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=200)]


class SpaceInput(BaseModel):
    """The schema of a definition as written (a file, a dict): every key, its type and range. A resolved
    definition is the same without `base`; SpaceDef adds the checks that relate keys (a kind's
    parameters, ties, constraints over the columns)."""
    model_config = STRICT
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] = ""
    base: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    kind: Literal[tuple(KIND_PARAMS)] = "anynet"
    stages: Annotated[Integer, Field(ge=1, le=MAX_STAGES)] = DEFAULTS["stages"]
    block: Literal[BLOCK_TYPES] = DEFAULTS["block"]
    se: Annotated[Number, Field(ge=0, lt=1)] = DEFAULTS["se"]
    stem_width: Annotated[Integer, Field(ge=1, le=MAX_WIDTH)] = DEFAULTS["stem_width"]
    stride: Annotated[Integer, Field(ge=1, le=MAX_STRIDE)] = DEFAULTS["stride"]
    params: Annotated[dict[str, Any], Field(max_length=64)] = {}  # name -> distribution (distributions.py)
    tie: Annotated[dict[str, str], Field(max_length=64)] = {}
    constraints: Annotated[list[Constraint], Field(max_length=64)] = []
    modifiers: Annotated[list[Modifier], Field(max_length=8)] = []


def check_definition(d) -> SpaceInput:
    """An input definition against the schema: one-line UsageError naming the key."""
    if not isinstance(d, dict):
        raise UsageError(f"a space definition must be a mapping, got {type(d).__name__}")
    return validate(SpaceInput, d, "space definition", noun="space key")


