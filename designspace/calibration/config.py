"""A calibration config: one fixed sample of models, trained at a grid of budgets and one long reference.

    name: cpu-proxy
    store_dir: results/paper/cpu/calibration     # one store per budget: <store_dir>/<budget>.db
    spaces: [AnyNetXA, AnyNetXD, AnyNetXE, RegNetX]
    models_per_space: 5                           # the same specs at every budget (prefix-stable sampling)
    seed: 0
    regime: fashion-mnist
    flops: 3M:8M
    dataset: {name: fashion-mnist}
    recipe: {...}                                 # shared by every budget; a budget overrides its keys
    resources: {cpus: 1, gpus: 0}
    repeat: {models_per_space: 2, train_seed: 1}  # the first models of each space retrained with another seed
    reference: ref                                # the budget every other is compared with
    budgets:                                      # run in this order
      e1-5k: {epochs: 1, train_size: 5000, test_size: 2000}
      ref: {epochs: 8, train_size: 20000, test_size: 10000}
    decision: {level: 0.9, fidelity_bar: 0.5, effects: [1, 2], power: 0.8, alpha: 0.05}

Each budget is an ordinary sweep named after it (its store resumable, its plan recorded), and its
repeat a second sweep `<budget>-seed<train_seed>` in the same store, so `designspace analyze
--sweep` and `status` read them as they read any sweep.
"""
from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from ..errors import UsageError
from ..limits import MAX_SEED, NAME_RE
from ..schema import STRICT, validate


class Repeat(BaseModel):
    model_config = STRICT
    models_per_space: int = Field(ge=1, le=1000)
    train_seed: int = Field(default=1, ge=0, le=MAX_SEED)


class Decision(BaseModel):
    """The rule that picks a budget, declared before any of its sweeps run."""
    model_config = STRICT
    level: float = Field(default=0.9, gt=0.5, lt=1.0)  # two-sided level of every interval
    fidelity_bar: float = Field(ge=-1.0, le=1.0)  # lower bound of the within-space Spearman a budget must clear
    effects: list[float] = Field(default=[1.0, 2.0], min_length=1, max_length=10)  # error points
    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)  # two-sided level of the comparison to be powered
    top_k: int = Field(default=3, ge=1, le=1000)

    @field_validator("effects")
    @classmethod
    def _positive(cls, effects):
        if any(not 0 < e <= 100 for e in effects):
            raise ValueError("every effect must be in (0, 100] error points")
        return effects


class CalibrationConfig(BaseModel):
    model_config = STRICT
    name: str
    store_dir: str
    spaces: list[Any] = Field(min_length=1, max_length=64)
    models_per_space: int = Field(ge=3, le=100_000)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    regime: str | None = None
    flops: str | None = None
    dataset: Any = "fashion-mnist"
    recipe: dict = Field(default_factory=dict)
    resources: dict = Field(default_factory=lambda: {"cpus": 1, "gpus": 0})
    max_retries: int = Field(default=1, ge=0, le=100)
    timeout: float | None = Field(default=None, gt=0)
    repeat: Repeat | None = None
    reference: str
    budgets: dict[str, dict] = Field(min_length=2, max_length=64)
    decision: Decision

    @field_validator("name")
    @classmethod
    def _name(cls, value):
        if not NAME_RE.match(value):
            raise ValueError("must be 1-128 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("budgets")
    @classmethod
    def _budget_names(cls, budgets):
        for key in budgets:
            if not NAME_RE.match(key):
                raise ValueError(f"budget name {key!r} must be 1-128 letters, digits, '.', '_' or '-'")
        return budgets

    @model_validator(mode="after")
    def _reference_is_a_budget(self):
        if self.reference not in self.budgets:
            raise ValueError(f"reference {self.reference!r} is not one of the budgets ({', '.join(self.budgets)})")
        if self.repeat and self.repeat.models_per_space > self.models_per_space:
            raise ValueError("repeat.models_per_space cannot exceed models_per_space")
        return self


def parse_calibration(raw: Any, path: str = "calibration config") -> CalibrationConfig:
    cfg = validate(CalibrationConfig, raw, path)
    for budget in cfg.budgets:  # every budget must be a valid sweep (recipe keys, sizes, spaces)
        sweep_config(cfg, budget, path=path)
    return cfg


def load_calibration(path: str) -> CalibrationConfig:
    from ..sweep import read_yaml

    return parse_calibration(read_yaml(path, "calibration config"), path)


def store_path(cfg: CalibrationConfig, budget: str) -> str:
    return os.path.join(cfg.store_dir, f"{budget}.db")


def repeat_name(cfg: CalibrationConfig, budget: str) -> str | None:
    return f"{budget}-seed{cfg.repeat.train_seed}" if cfg.repeat else None


def sweep_config(cfg: CalibrationConfig, budget: str, repeat: bool = False, path: str = "calibration config"):
    """The ordinary sweep config of one budget (or of its repeat)."""
    from ..sweep import parse_config

    overrides = cfg.budgets[budget]
    raw = {"name": repeat_name(cfg, budget) if repeat else budget, "store": store_path(cfg, budget),
           "spaces": list(cfg.spaces), "seed": cfg.seed, "dataset": cfg.dataset,
           "models_per_space": cfg.repeat.models_per_space if repeat else cfg.models_per_space,
           "recipe": {**cfg.recipe, **overrides}, "resources": dict(cfg.resources), "max_retries": cfg.max_retries}
    if repeat:
        raw["train_seed"] = cfg.repeat.train_seed
    raw.update({k: v for k, v in (("regime", cfg.regime), ("flops", cfg.flops), ("timeout", cfg.timeout))
                if v is not None})
    try:
        return parse_config(raw, f"{path}: budget {budget}")
    except UsageError as exc:
        raise UsageError(str(exc).replace("config key recipe", "recipe")) from None
