"""The decision rules of a schema-2 or schema-3 suite, declared once (pydantic), committed before its run.

    schema: 3                                     # 2: the same rules, best_of_m_diff and ks by percentile bootstrap
    multiplicity: {parts: holm, claims: fdr}      # within a claim / across the suite (stats.decisions)
    pairing: auto                                 # auto: arms holding the same architectures are paired
    complexity: {column: flops, max_ratio: 1.1, method: log_linear, paired: report}
    learning: {chance_margin: 10, keep: true}
    power: {target: 0.8, effect: 1.0, simulations: 400}
    schedule: {kind: fixed}                       # or {kind: sequential, looks: [10, 20, 40], spending: obrien_fleming}

A part may declare `effect:` (its effect of interest, in the statistic's units); error-point
statistics default to power.effect.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ..schema import STRICT
from ..stats.spending import SPENDING

SCHEMA_KEYS = ("schema", "multiplicity", "pairing", "complexity", "learning", "power", "schedule")
# Statistics measured in error points: power.effect is their default effect of interest.
POINT_STATISTICS = ("median_diff", "mean_diff", "quantile_diff", "paired_median_diff", "interaction",
                    "best_of_m_diff", "median", "mean")


class Multiplicity(BaseModel):
    model_config = STRICT
    parts: Literal["holm", "bonferroni", "none"] = "holm"
    claims: Literal["fdr", "bonferroni", "none"] = "fdr"


class Complexity(BaseModel):
    """When two arms' median `column` differ by more than max_ratio, error is compared at equal
    complexity: each model's error minus beta * (log column - the arms' pooled mean), beta the
    pooled within-arm least-squares slope of error on log column (its uncertainty added to the
    interval).

    Paired arms (the same architectures, model to model) always record their complexity ratio (the
    median over pairs of c_a / c_b) and warn when it exceeds max_ratio; `paired` says what follows:
    report (the default: the raw paired differences are compared, as every suite judged before this
    field existed was) or adjust (each pair's difference minus beta * (log c_a - log c_b), beta the same
    pooled within-arm slope, its standard error clustered by pair, its uncertainty added to the interval)."""
    model_config = STRICT
    column: Literal["flops", "params"] = "flops"
    max_ratio: float = Field(default=1.1, gt=1.0, le=100.0)
    method: Literal["log_linear", "none"] = "log_linear"
    paired: Literal["report", "adjust"] = "report"


class Learning(BaseModel):
    """A model did not learn when its final train loss is >= ln(classes) or its error is within
    chance_margin points of chance; keep: whether such models stay in their arm (the verdict with the
    other choice is reported beside it)."""
    model_config = STRICT
    chance_margin: float = Field(default=10.0, ge=0.0, le=100.0)
    keep: bool = True


class Power(BaseModel):
    model_config = STRICT
    target: float = Field(default=0.8, gt=0.0, lt=1.0)
    effect: float = Field(default=1.0, gt=0.0)
    simulations: int = Field(default=400, ge=50, le=100_000)
    spread: float | None = Field(default=None, gt=0.0)  # between-model sd (points) when there is no pilot


class Schedule(BaseModel):
    model_config = STRICT
    kind: Literal["fixed", "sequential"] = "fixed"
    looks: list[int] = Field(default_factory=list, max_length=20)
    spending: str = "obrien_fleming"

    @model_validator(mode="after")
    def _looks(self):
        if self.kind == "sequential":
            if len(self.looks) < 2 or any(n < 3 for n in self.looks) or sorted(set(self.looks)) != self.looks:
                raise ValueError("a sequential schedule needs at least 2 increasing looks of >= 3 models per arm")
            if self.spending not in SPENDING:
                raise ValueError(f"spending must be one of {', '.join(SPENDING)}")
        elif self.looks:
            raise ValueError("looks belong to a sequential schedule")
        return self


class Rules(BaseModel):
    model_config = STRICT
    schema_: Literal[2, 3] = Field(alias="schema")
    multiplicity: Multiplicity = Multiplicity()
    pairing: Literal["auto", "none"] = "auto"
    complexity: Complexity = Complexity()
    learning: Learning = Learning()
    power: Power = Power()
    schedule: Schedule = Schedule()

    @property
    def seed_free(self) -> bool:
        """Schema 3: best_of_m_diff and ks are judged by seed-free intervals (stats.best_of, stats.ks)
        instead of schema 2's percentile bootstrap, which under-covers for both."""
        return self.schema_ >= 3
