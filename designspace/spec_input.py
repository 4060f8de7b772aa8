"""The shape of a spec as written (its JSON form), checked when a spec is read (`ModelSpec.from_dict`); the
fields' values are then checked by the specs themselves (spec.STAGE_FIELDS, spec.MODEL_FIELDS). A module of its
own so that building specs, which sampling does thousands of times, never imports pydantic."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from .limits import MAX_STAGES
from .schema import STRICT


class SpecInput(BaseModel):
    model_config = STRICT
    stages: Annotated[list[dict], Field(max_length=MAX_STAGES)]
    stem_width: Any = None
    head_width: Any = None
    family: dict | None = None
    meta: dict | None = None
    stem_stride: Any = None
