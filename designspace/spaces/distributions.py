"""Parameter distributions of a space definition: small frozen objects with an exact JSON round trip
(``from_dict(d.to_dict()) == d``), sampled as numpy batches with pycls's quantization rules.

    {uniform: [l, h], q: 1, int: true}    pycls uniform: U[l, h + q), floored to a multiple of q
    {log_uniform: [l, h], q: 8}          pycls log_uniform: log f ~ U(log(l - min(q, l/2)), log h],
                                         ceiled to a multiple of q (q = 0: continuous on [l, h])
    {int: [l, h]}, {log_int: [l, h]}     shorthands: q = 1, integer values
    {power2_or_log_uniform: [l, h], q: 8}  pycls: powers of 2 below q, log-uniform multiples of q above
    {choice: [v1, v2, ...]}              uniform over the values
    {fixed: v}                           always v
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .common import _quantize, log_uniform, uniform


def _canon(v):
    """JSON-stable number: integral values as int, others as float."""
    return int(v) if float(v).is_integer() else float(v)


@dataclass(frozen=True)
class Uniform:
    """Uniform or log-uniform on [low, high], optionally quantized to q (pycls's rules)."""

    low: float
    high: float
    q: float = 0.0
    log: bool = False
    integer: bool = False

    def __post_init__(self):
        if not self.low <= self.high:
            raise UsageError(f"range [{self.low:g}, {self.high:g}] needs low <= high")
        if self.q < 0 or (self.log and self.low <= 0):
            raise UsageError("log_uniform needs low > 0 and q >= 0" if self.log else "q must be >= 0")
        if self.integer and (self.q < 1 or not float(self.q).is_integer()):
            raise UsageError(f"integer values need an integer step q >= 1, got {self.q:g}")

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        if self.q:
            f = (log_uniform if self.log else uniform)(rng, self.low, self.high, self.q, size)
        elif self.log:
            f = np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))
        else:
            f = rng.uniform(self.low, self.high, size)
        return f.astype(np.int64) if self.integer else f

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def pmf(self):
        """(values, probabilities) of the quantized distribution, for integral steps q >= 1 (what
        `sample` draws, exactly); None where continuous or finely quantized."""
        if self.q < 1 or not float(self.q).is_integer():
            return None
        q = self.q
        if self.log:
            a = self.low - min(q, self.low / 2)  # f in (a, high], ceiled to q
            k = np.arange(max(1, int(np.floor(a / q)) + 1), int(np.ceil(self.high / q)) + 1)
            lo, hi = np.maximum((k - 1) * q, a), np.minimum(k * q, self.high)
            p = np.log(np.maximum(hi, lo) / lo) / np.log(self.high / a)
        else:  # f in [low, high + q), floored to q
            k = np.arange(int(np.floor(self.low / q)), int(np.floor((self.high + q) / q)) + 1)
            lo, hi = np.maximum(k * q, self.low), np.minimum((k + 1) * q, self.high + q)
            p = np.maximum(hi - lo, 0) / (self.high + q - self.low)
        values = k * q
        keep = p > 0
        values = values[keep].astype(np.int64) if self.integer else values[keep].astype(np.float64)
        return values, p[keep] / p[keep].sum()

    def to_dict(self) -> dict:
        out = {"log_uniform" if self.log else "uniform": [_canon(self.low), _canon(self.high)]}
        if self.q:
            out["q"] = _canon(self.q)
        if self.integer:
            out["int"] = True
        return out

    def describe(self) -> str:
        kind = "log-uniform" if self.log else "uniform"
        what = "integers" if self.integer and self.q == 1 else (f"multiples of {self.q:g}" if self.q else "values")
        return f"{kind} {what} in [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Power2OrLogUniform:
    """pycls ``power2_or_log_uniform``: powers of 2 in [low, high] below q (each as likely as in
    power2_uniform), log-uniform multiples of q in [max(low, q), high] where the power was >= q."""

    low: float
    high: float
    q: float

    def __post_init__(self):
        if not (0 < self.low <= self.high) or self.q < 1:
            raise UsageError("power2_or_log_uniform needs 0 < low <= high and q >= 1")

    def sample(self, rng, size) -> np.ndarray:
        f2 = np.floor(rng.uniform(np.log2(self.low), np.log2(self.high) + 1, size))
        p = _quantize(2.0 ** f2, self.low, np.floor)
        lu = log_uniform(rng, max(self.low, self.q), self.high, min(self.high, self.q), size)
        out = np.where(p >= self.q, lu, p)
        return out.astype(np.int64) if float(self.q).is_integer() and float(self.low).is_integer() else out

    @property
    def bounds(self):
        return self.low, self.high

    def pmf(self):
        return None

    def to_dict(self):
        return {"power2_or_log_uniform": [_canon(self.low), _canon(self.high)], "q": _canon(self.q)}

    def describe(self):
        return f"powers of 2 below {self.q:g}, log-uniform multiples of {self.q:g} up to {self.high:g}"


@dataclass(frozen=True)
class Choice:
    values: tuple

    def __post_init__(self):
        if not self.values:
            raise UsageError("choice needs at least one value")

    def sample(self, rng, size) -> np.ndarray:
        values = np.asarray(self.values)
        return values[rng.integers(0, len(values), size)]

    @property
    def bounds(self):
        return min(self.values), max(self.values)

    def pmf(self):
        values, counts = np.unique(np.asarray(self.values), return_counts=True)
        return values, counts / counts.sum()

    def to_dict(self):
        return {"choice": [_canon(v) for v in self.values]}

    def describe(self):
        return "one of " + ",".join(f"{v:g}" for v in self.values)


@dataclass(frozen=True)
class Fixed:
    value: float

    def sample(self, rng, size) -> np.ndarray:
        return np.full(size, self.value)

    @property
    def bounds(self):
        return self.value, self.value

    def pmf(self):
        return np.asarray([self.value]), np.ones(1)

    def to_dict(self):
        return {"fixed": _canon(self.value)}

    def describe(self):
        return f"fixed: {self.value:g}"


Distribution = "Uniform | Power2OrLogUniform | Choice | Fixed"
KINDS = ("uniform", "log_uniform", "int", "log_int", "power2_or_log_uniform", "choice", "fixed")
RANGES = ("uniform", "log_uniform", "int", "log_int", "power2_or_log_uniform")  # the kinds that take [low, high]
TAKES_Q = ("uniform", "log_uniform", "int", "log_int", "power2_or_log_uniform")


def declared(kind: str, value, q=0, integer: bool = False):
    """The distribution one kind key declares: `kind` (one of KINDS) with its value ([low, high], the choices or
    the fixed value), its step q, and (for uniform and log_uniform) the integer flag."""
    if kind in ("uniform", "log_uniform"):
        return Uniform(*value, q=q, log=kind == "log_uniform", integer=integer)
    if kind in ("int", "log_int"):
        return Uniform(*value, q=q or 1, log=kind == "log_int", integer=True)
    if kind == "power2_or_log_uniform":
        return Power2OrLogUniform(*value, q=q or 1)
    if kind == "choice":
        return Choice(tuple(value))
    return Fixed(value)


def distribution_from_dict(d: dict, where: str = "parameter"):
    """The distribution a mapping such as {log_uniform: [8, 1024], q: 8} declares (one kind key)."""
    return Param.from_dict(d, where).dist


@dataclass(frozen=True)
class Param:
    """One parameter: a distribution, drawn per stage or once per model, optionally non-decreasing
    across stages (by rejection, which keeps the conditional distribution exact)."""

    dist: object
    per_stage: bool = False
    non_decreasing: bool = False

    def to_dict(self) -> dict:
        out = dict(self.dist.to_dict())
        if self.per_stage:
            out["per_stage"] = True
        if self.non_decreasing:
            out["non_decreasing"] = True
        return out

    @classmethod
    def from_dict(cls, d, where: str = "parameter") -> Param:
        """A parameter as written, checked against its schema (definition_input.ParamInput)."""
        from ..schema import validate
        from .definition_input import ParamInput

        if not isinstance(d, dict):
            d = {"fixed": d}  # a bare number fixes the parameter
        given = validate(ParamInput, d, where)
        try:
            dist = declared(given.kind, given.value, given.q, given.int_ is True)
        except UsageError as exc:  # a range the distribution cannot draw from (low > high, ...)
            raise UsageError(f"{where}: {exc}") from None
        return cls(dist, per_stage=given.per_stage, non_decreasing=given.non_decreasing)

    @classmethod
    def from_shipped(cls, d: dict) -> Param:
        """A parameter of a shipped definition (builtin.py), read without the schema pass that user input gets:
        tests check that every shipped parameter reads the same both ways (and passes the schema), so that
        sampling a built-in space never imports pydantic."""
        kind = next(k for k in KINDS if k in d and not (k == "int" and d[k] is True))
        return cls(declared(kind, d[kind], d.get("q", 0), d.get("int") is True),
                   per_stage=d.get("per_stage", False), non_decreasing=d.get("non_decreasing", False))

    def describe(self) -> str:
        return (("per stage, " if self.per_stage else "") + self.dist.describe()
                + (", non-decreasing" if self.non_decreasing else ""))
