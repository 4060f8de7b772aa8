"""ModelSpec / StageSpec: the frozen, JSON-round-tripping description of one network.

One spec flows through every stage (sample -> complexity -> build -> train -> store -> analysis).
A spec is regime-free: input size, channels and classes come from a :class:`~designspace.regimes.Regime`.
"""
from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import UsageError
from .fields import Bound, OneOf, Record, canonical_check

# Bounds that keep every closed-form complexity inside int64 and every build finite (limits.py says why).
from .limits import MAX_DEPTH, MAX_STAGES, MAX_STRIDE, MAX_WIDTH

BLOCK_TYPES = ("vanilla", "res_basic", "res_bottleneck")
__all__ = ["BLOCK_TYPES", "MAX_DEPTH", "MAX_STAGES", "MAX_STRIDE", "MAX_WIDTH", "FrozenDict", "StageSpec", "ModelSpec",
           "load_spec"]


class FrozenDict(Mapping):
    """Immutable, hashable mapping (nested dicts become FrozenDicts, lists tuples)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, *args, **kwargs):
        data = dict(*args, **kwargs)
        object.__setattr__(self, "_data", {str(k): _freeze(v) for k, v in sorted(data.items())})
        object.__setattr__(self, "_hash", None)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __hash__(self):
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(tuple(self._data.items())))
        return self._hash

    def __eq__(self, other):
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __setattr__(self, name, value):
        raise AttributeError("FrozenDict is immutable")

    def __repr__(self):
        return f"FrozenDict({self._data!r})"

    def thaw(self) -> dict:
        return {k: _thaw(v) for k, v in self._data.items()}

    def __reduce__(self):  # pickle (Ray, multiprocessing) through the constructor, not __setattr__
        return (FrozenDict, (self._data,))


def _freeze(value):
    if isinstance(value, Mapping):
        return value if isinstance(value, FrozenDict) else FrozenDict(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, FrozenDict):
        return value.thaw()
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


_NO_OPTIONS = FrozenDict()  # the default family / meta: immutable, so every spec can share the one empty mapping


# A stage's and a model's fields with their types and ranges (family options are checked by their families).
STAGE_FIELDS = Record("stage", (
    ("depth", Bound(int, ge=0, le=MAX_DEPTH)),
    ("width", Bound(int, gt=0, le=MAX_WIDTH)),
    ("stride", Bound(int, gt=0, le=MAX_STRIDE)),
    ("block", OneOf(BLOCK_TYPES)),
    ("bottleneck_ratio", Bound(float, gt=0)),
    ("group_width", Bound(int, gt=0, le=MAX_WIDTH)),
    ("se_ratio", Bound(float, ge=0, lt=1)),
))
MODEL_FIELDS = Record("model", (
    ("stages", Bound(int, le=MAX_STAGES)),  # how many
    ("stem_width", Bound(int, gt=0, le=MAX_WIDTH)),
    ("head_width", Bound(int, ge=0, le=MAX_WIDTH)),
    ("stem_stride", Bound(int, ge=0, le=MAX_STRIDE)),  # 0: the regime's
))
_stage_values = operator.attrgetter(*STAGE_FIELDS.keys)  # a stage's values in field order, as one tuple
# What a sampler builds is already canonical: it skips the pydantic pass (and pydantic's import)
_CANONICAL_STAGE = canonical_check(STAGE_FIELDS)
_CANONICAL_MODEL = canonical_check(MODEL_FIELDS)


def _validated(record: Record, values: dict) -> dict:
    from .schema import validate_record  # pydantic, imported only for a value that is not canonical

    return validate_record(record, values)


@dataclass(frozen=True)
class StageSpec:
    """One stage: `depth` blocks of `block` type at `width` channels; the first block has `stride`.

    bottleneck_ratio is the paper's b (bottleneck width = width / b; pycls BOT_MUL = 1 / b).
    se_ratio is the SE width as a fraction of each block's input width (0 = no SE).
    family holds per-stage options of the seed families (e.g. {"csp": {...}}); empty for AnyNet.
    """

    depth: int
    width: int
    stride: int = 2
    block: str = "res_bottleneck"
    bottleneck_ratio: float = 1.0
    group_width: int = 1
    se_ratio: float = 0.0
    family: FrozenDict = field(default=_NO_OPTIONS)

    def __post_init__(self):
        values = _stage_values(self)
        if not _CANONICAL_STAGE(values):
            for name, value in _validated(STAGE_FIELDS, dict(zip(STAGE_FIELDS.keys, values))).items():
                object.__setattr__(self, name, value)  # canonical types: 1 and 1.0 give the same JSON and id
        if not isinstance(self.family, FrozenDict):
            object.__setattr__(self, "family", FrozenDict(self.family or {}))
        if self.block == "res_bottleneck" and not self.family:  # family stages check what they build
            self.check_groups()

    @property
    def bottleneck_width(self) -> int:
        """w_b = round(width / b), as pycls and designspace.models build it."""
        return int(round(self.width * (1.0 / self.bottleneck_ratio)))

    def check_groups(self) -> None:
        """The 3x3 group conv of an X block at this width needs w_b = k * group_width (pycls builds
        w_b // g groups; any other w_b would silently become a different network, or crash torch).
        Family stages whose X blocks run at the stage width call it from their option parsers."""
        w_b = self.bottleneck_width

        def where():  # built only for a stage that fails: every sampled stage passes through here
            return f"bottleneck width {w_b:,} (width {self.width} / b {self.bottleneck_ratio:g})"

        if not 1 <= w_b <= MAX_WIDTH:
            raise UsageError(f"stage {where()} must be in 1..{MAX_WIDTH:,}")
        if self.group_width > w_b:
            raise UsageError(f"stage group_width {self.group_width} exceeds its {where()}")
        if w_b % self.group_width:
            raise UsageError(f"stage {where()} is not divisible by group_width {self.group_width}")

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["family"] = self.family.thaw()
        return out


@dataclass(frozen=True)
class ModelSpec:
    """A whole network: stem (3x3 conv, `stem_width`) -> stages -> head (optional 1x1 conv of
    `head_width`, global average pool, fully connected classifier).

    family holds model-level options of macro families (e.g. CondenseNetV2); empty for AnyNet.
    meta records provenance (space name, RegNet parameters) and is not part of the id.
    """

    stages: tuple[StageSpec, ...]
    stem_width: int = 32
    head_width: int = 0
    family: FrozenDict = field(default=_NO_OPTIONS)
    meta: FrozenDict = field(default=_NO_OPTIONS)
    stem_stride: int = 0  # 0: the regime's (2 for imagenet, 1 for small images)

    def __post_init__(self):
        stages = tuple(s if isinstance(s, StageSpec) else StageSpec(**s) for s in self.stages)
        object.__setattr__(self, "stages", stages)
        values = {"stages": len(stages), "stem_width": self.stem_width, "head_width": self.head_width,
                  "stem_stride": self.stem_stride}
        if not _CANONICAL_MODEL(tuple(values.values())):  # as for stages
            checked = _validated(MODEL_FIELDS, values)
            for name in ("stem_width", "head_width", "stem_stride"):
                object.__setattr__(self, name, checked[name])
        for name in ("family", "meta"):
            if not isinstance(getattr(self, name), FrozenDict):
                object.__setattr__(self, name, FrozenDict(getattr(self, name) or {}))
        if not self.family and not any(s.depth > 0 for s in stages):
            raise UsageError("model needs at least one stage with depth > 0")

    # --- convenient per-stage views (the columns of a sample row) ---
    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.stages]

    @property
    def depths(self) -> list[int]:
        return [s.depth for s in self.stages]

    @property
    def strides(self) -> list[int]:
        return [s.stride for s in self.stages]

    @property
    def bottleneck_ratios(self) -> list[float]:
        return [s.bottleneck_ratio for s in self.stages]

    @property
    def group_widths(self) -> list[int]:
        return [s.group_width for s in self.stages]

    @property
    def se_ratio(self) -> float:
        return max((s.se_ratio for s in self.stages), default=0.0)

    @property
    def space(self) -> str:
        return self.meta.get("space", "")

    # --- serialisation ---
    def to_dict(self) -> dict:
        out = {
            "stages": [s.to_dict() for s in self.stages],
            "stem_width": self.stem_width,
            "head_width": self.head_width,
            "family": self.family.thaw(),
            "meta": self.meta.thaw(),
        }
        if self.stem_stride:  # written only when set, so the ids of every other spec stay as they were
            out["stem_stride"] = self.stem_stride
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        if not isinstance(data, Mapping):
            raise UsageError("a spec must be a JSON object")
        if "spec" in data and "stages" not in data:  # a sample row or describe --json object
            data = data["spec"]
        from .schema import validate
        from .spec_input import SpecInput  # pydantic: imported when a spec is read, not when one is built

        shape = validate(SpecInput, dict(data), "spec")
        try:
            stages = tuple(StageSpec(**stage) for stage in shape.stages)
        except TypeError as exc:  # an unknown stage field
            raise UsageError(f"bad stage in spec: {exc}") from None
        return cls(**{**data, "stages": stages})

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise UsageError(f"spec is not valid JSON: {exc}") from None
        except RecursionError:  # json and the frozen mappings recurse per level
            raise UsageError("spec nests too deeply (JSON nested hundreds of levels)") from None

    def canonical_json(self) -> str:
        """Architecture only (meta excluded), sorted keys, no spaces: the basis of `id`."""
        body = self.to_dict()
        del body["meta"]
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @property
    def id(self) -> str:
        return hashlib.sha1(self.canonical_json().encode()).hexdigest()[:16]


def load_spec(path: str) -> ModelSpec:
    """Read a spec (or a sample row holding one under 'spec') from a JSON file."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None
    try:
        return ModelSpec.from_json(text)
    except UsageError:
        lines = text.strip().splitlines()
        if len(lines) > 1:  # a .jsonl file of sample rows: take its first row
            return ModelSpec.from_json(lines[0])
        raise
