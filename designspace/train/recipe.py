"""The training recipe: its fields, their types and limits, and the families' own recipe keys.

The defaults are the paper's (pycls): SGD with momentum 0.9 and Nesterov, cosine schedule, weight decay
5e-5, lr 0.05 at batch 128 scaled linearly with the batch size, no label smoothing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import UsageError
from ..fields import Bound, Record
from ..limits import MAX_BATCH, MAX_EPOCHS, MAX_IMAGES
from ..spec import FrozenDict

REFERENCE_BATCH = 128  # lr is given at this batch size and scaled linearly (Goyal et al.; pycls)


# The core recipe keys with their types and ranges (the families' own keys are checked by their modules). Sizes
# past the limits cannot be meant (a typo, or 1e9): refused rather than run for ever.
RECIPE_FIELDS = Record("recipe", (
    ("epochs", Bound(float, gt=0, le=MAX_EPOCHS)),
    ("batch_size", Bound(int, gt=0, le=MAX_BATCH)),
    ("lr", Bound(float, gt=0)),
    ("momentum", Bound(float, ge=0, lt=1)),
    ("nesterov", Bound(bool)),
    ("weight_decay", Bound(float, ge=0)),
    ("warmup_epochs", Bound(float, ge=0, le=MAX_EPOCHS)),
    ("warmup_factor", Bound(float, gt=0, le=1)),
    ("label_smoothing", Bound(float, ge=0, lt=1)),
    ("zero_init_residual", Bound(bool)),
    ("train_size", Bound(int, gt=0, le=MAX_IMAGES, optional=True)),
    ("test_size", Bound(int, gt=0, le=MAX_IMAGES, optional=True)),
    ("augment", Bound(bool)),
    ("eval_batch_size", Bound(int, gt=0, le=MAX_BATCH)),
    ("amp", Bound(bool)),
))


@dataclass(frozen=True)
class Recipe:
    """How one model is trained. `lr` is the learning rate at batch 128; the trainer uses
    lr * batch_size / 128. train_size / test_size take a fixed random subset (None: all)."""

    epochs: float = 1.0
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-5
    warmup_epochs: float = 0.0  # linear warm-up from warmup_factor * lr, then cosine
    warmup_factor: float = 0.1
    label_smoothing: float = 0.0
    # pycls BN.ZERO_INIT_FINAL_GAMMA: every residual block starts as its shortcut, which is what
    # lets deep models (RegNets of 40-60 blocks) learn anything in a one-epoch proxy run.
    zero_init_residual: bool = True
    train_size: int | None = None
    test_size: int | None = None
    augment: bool = False  # random crop (padding im_size // 8) + horizontal flip
    eval_batch_size: int = 256
    amp: bool = True  # GPU only: autocast (bf16 or fp16)
    # Options of the families' own recipe keys (Family.recipe_keys in designspace.registry), by key; set ones
    # only. In the JSON form (from_dict / to_dict) they are top-level keys like the fields above, and an
    # unset one is absent, so the recipes (and trial ids) written before a family existed do not change.
    family_options: Mapping[str, Any] = field(default_factory=FrozenDict, hash=False)

    def __post_init__(self):
        from ..schema import validate_record

        core = {name: getattr(self, name) for name in RECIPE_FIELDS.keys}
        for name, value in validate_record(RECIPE_FIELDS, core).items():  # canonical types: 1 -> 1.0 for
            object.__setattr__(self, name, value)  # float keys, 64.0 -> 64 for integer ones
        from ..registry import recipe_keys, validate_recipe

        if not isinstance(self.family_options, Mapping):
            raise UsageError(f"recipe.family_options must be a mapping, got {self.family_options!r}")
        owned = recipe_keys()
        for key in self.family_options:
            if key not in owned or key in _CORE_KEYS:
                raise UsageError(f"unknown recipe key recipe.{key}; valid: {', '.join(_valid_keys())}")
        object.__setattr__(self, "family_options",
                           FrozenDict({k: v for k, v in self.family_options.items() if v is not None}))
        validate_recipe(self)  # every family checks its own options (one-line UsageErrors)

    def family_option(self, key: str, default: Any = None) -> Any:
        """The value of a family-owned recipe key as given (plain dicts and lists), or `default`."""
        return self.family_options.thaw().get(key, default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Recipe:
        """A recipe from its JSON form: the core fields, and the top-level keys registered families own."""
        from ..registry import recipe_keys

        data = dict(data or {})
        owned = recipe_keys()
        core, family = {}, {}
        for key, value in data.items():
            if key in _CORE_KEYS:
                core[key] = value
            elif key in owned:
                family[key] = value
            else:
                raise UsageError(f"unknown recipe key recipe.{key}; valid: {', '.join(_valid_keys())}")
        return cls(**core, family_options=family)

    def to_dict(self) -> dict:
        """The JSON form: core fields, then the set family options as top-level keys (what trial ids hash)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "family_options"}
        out.update(self.family_options.thaw())
        return out


_CORE_KEYS = frozenset(f.name for f in fields(Recipe)) - {"family_options"}


def _valid_keys() -> list[str]:
    from ..registry import recipe_keys

    return sorted(_CORE_KEYS | set(recipe_keys()))
