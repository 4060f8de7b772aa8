"""CondenseNetV2's option parsing: the ``condensenetv2`` spec option and the ``condense`` recipe option,
each declared once as a schema (designspace.schema) and resolved, with a one-line UsageError for anything
malformed."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from ...errors import UsageError
from ...schema import STRICT, Integer, Items, Number, validate
from ...spec import MAX_DEPTH, MAX_STAGES, MAX_WIDTH, ModelSpec

KEY = "condensenetv2"
RECIPE_KEY = "condense"  # the recipe key this family owns: {lasso}

Width = Annotated[Integer, Field(ge=1, le=MAX_WIDTH)]
Count = Annotated[Integer, Field(ge=0, le=MAX_WIDTH)]  # 0 allowed: no SFR, no fc, no head SE, from block 0


class CondenseOptions(BaseModel):
    """The option as written; None: the default that depends on the others (sfr_groups = groups,
    stem = 2 growth[0])."""
    model_config = STRICT
    blocks: Items(Annotated[Integer, Field(ge=1, le=MAX_DEPTH)], min_length=1, max_length=MAX_STAGES)
    growth: Items(Width, min_length=1, max_length=MAX_STAGES)
    groups: Width
    condense: Width
    sfr: Count = 0
    sfr_groups: Width | None = None
    bottleneck: Width = 4
    stem: Width | None = None
    fc: Count = 0
    se_from: Count = 3
    hswish_from: Count = 2
    head_se: Count = 16

    @model_validator(mode="after")
    def _shape(self):
        if len(self.blocks) != len(self.growth):
            raise ValueError(f"blocks and growth need the same length, got {len(self.blocks)} and {len(self.growth)}")
        if self.sfr == 1:
            raise ValueError("sfr must be 0 (no SFR) or a factor >= 2, got 1")
        return self


def parse_options(spec: ModelSpec):
    """The resolved CondenseConfig of a spec; one-line UsageError for anything malformed."""
    from .config import CondenseConfig

    opt = spec.family.get(KEY)
    given = validate(CondenseOptions, dict(opt) if isinstance(opt, Mapping) else opt, KEY, noun="option")
    if spec.stages and any(st.depth for st in spec.stages):
        raise UsageError(f"{KEY} is a macro family: its spec has no AnyNet stages")
    fill = {"sfr_groups": given.groups, "stem": 2 * given.growth[0]}
    cfg = CondenseConfig(**{k: fill[k] if v is None else v for k, v in given})
    widest = cfg.bottleneck * max(cfg.growth)
    if cfg.final_width > 4 * MAX_WIDTH or widest > 4 * MAX_WIDTH:
        raise UsageError(f"{KEY}: the network would widen to {cfg.final_width:,} channels (bottleneck "
                         f"{widest:,}), past the limit {4 * MAX_WIDTH:,}")
    cfg.validate()
    if cfg.head_se and cfg.final_width // cfg.head_se < 1:
        raise UsageError(f"{KEY}.head_se={cfg.head_se} leaves no width for C={cfg.final_width}")
    return cfg


class CondenseRecipe(BaseModel):
    """recipe.condense as written: the group-lasso weight (0: off)."""
    model_config = STRICT
    lasso: Annotated[Number, Field(ge=0)] = 0.0


def parse_condense(option) -> dict:
    return validate(CondenseRecipe, option, "", at=f"recipe.{RECIPE_KEY}").model_dump()


def validate_condense(recipe) -> None:
    option = recipe.family_option(RECIPE_KEY)
    if option is not None:
        parse_condense(option)
