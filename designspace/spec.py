"""ModelSpec / StageSpec: the frozen, JSON-round-tripping description of one network.

One spec flows through every stage (sample -> complexity -> build -> train -> store -> analysis).
A spec is regime-free: input size, channels and classes come from a :class:`~designspace.regimes.Regime`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import UsageError

BLOCK_TYPES = ("vanilla", "res_basic", "res_bottleneck")

# Bounds that keep every closed-form complexity inside int64 (the largest regime's 224 x 224 at stride 1,
# 16 stages of 1,000 bottleneck blocks at width and bottleneck width 16,384 stay below 2^62) and every
# build finite; far above any network this tool trains.
MAX_STAGES = 16
MAX_DEPTH = 1_000  # blocks per stage
MAX_WIDTH = 16_384  # stage / stem / head / group / bottleneck width
MAX_STRIDE = 16


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


def _number(value, name):
    """Canonical number: always a float, so 1 and 1.0 give the same JSON and id."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, got {value!r}")
    return float(value)


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
    family: FrozenDict = field(default_factory=FrozenDict)

    def __post_init__(self):
        for name in ("depth", "width", "stride", "group_width"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
                object.__setattr__(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"stage {name} must be an integer, got {value!r}")
        if self.depth < 0 or self.width <= 0 or self.stride <= 0 or self.group_width <= 0:
            raise UsageError(
                f"stage needs depth >= 0 and positive width, stride, group_width; got "
                f"depth={self.depth} width={self.width} stride={self.stride} group_width={self.group_width}"
            )
        for name, top in (("depth", MAX_DEPTH), ("width", MAX_WIDTH), ("stride", MAX_STRIDE),
                          ("group_width", MAX_WIDTH)):
            if getattr(self, name) > top:
                raise UsageError(f"stage {name} {getattr(self, name):,} is past the limit {top:,}")
        if self.block not in BLOCK_TYPES:
            raise UsageError(f"unknown block type {self.block!r}; valid: {', '.join(BLOCK_TYPES)}")
        object.__setattr__(self, "bottleneck_ratio", _number(self.bottleneck_ratio, "bottleneck_ratio"))
        object.__setattr__(self, "se_ratio", _number(self.se_ratio, "se_ratio"))
        if not self.bottleneck_ratio > 0 or not 0 <= self.se_ratio < 1:
            raise UsageError("stage needs bottleneck_ratio > 0 and 0 <= se_ratio < 1")
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
        where = f"bottleneck width {w_b:,} (width {self.width} / b {self.bottleneck_ratio:g})"
        if not 1 <= w_b <= MAX_WIDTH:
            raise UsageError(f"stage {where} must be in 1..{MAX_WIDTH:,}")
        if self.group_width > w_b:
            raise UsageError(f"stage group_width {self.group_width} exceeds its {where}")
        if w_b % self.group_width:
            raise UsageError(f"stage {where} is not divisible by group_width {self.group_width}")

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
    family: FrozenDict = field(default_factory=FrozenDict)
    meta: FrozenDict = field(default_factory=FrozenDict)
    stem_stride: int = 0  # 0: the regime's (2 for imagenet, 1 for small images)

    def __post_init__(self):
        stages = tuple(s if isinstance(s, StageSpec) else StageSpec(**s) for s in self.stages)
        object.__setattr__(self, "stages", stages)
        for name in ("stem_width", "head_width", "stem_stride"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))
        if isinstance(self.stem_width, bool) or not isinstance(self.stem_width, int) or self.stem_width <= 0 or \
                isinstance(self.head_width, bool) or not isinstance(self.head_width, int) or self.head_width < 0:
            raise UsageError("model needs a positive integer stem_width and an integer head_width >= 0")
        for name in ("stem_width", "head_width"):
            if getattr(self, name) > MAX_WIDTH:
                raise UsageError(f"model {name} {getattr(self, name):,} is past the limit {MAX_WIDTH:,}")
        if len(stages) > MAX_STAGES:
            raise UsageError(f"model has {len(stages)} stages, past the limit {MAX_STAGES}")
        if isinstance(self.stem_stride, bool) or not isinstance(self.stem_stride, int) or \
                not 0 <= self.stem_stride <= MAX_STRIDE:
            raise UsageError(f"model stem_stride must be an integer in 0..{MAX_STRIDE} (0: the regime's), "
                             f"got {self.stem_stride!r}")
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
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelSpec":
        if not isinstance(data, Mapping):
            raise UsageError("a spec must be a JSON object")
        if "spec" in data and "stages" not in data:  # a sample row or describe --json object
            data = data["spec"]
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UsageError(f"unknown spec field(s): {', '.join(sorted(unknown))}")
        if "stages" not in data:
            raise UsageError("spec has no 'stages'")
        try:
            stages = tuple(StageSpec(**dict(s)) for s in data["stages"])
        except TypeError as exc:
            raise UsageError(f"bad stage in spec: {exc}") from None
        return cls(**{**data, "stages": stages})

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise UsageError(f"spec is not valid JSON: {exc}") from None

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
