"""Claims suites: the paper's findings as sweeps, statistics and verdict rules, written before a run.

A suite file (experiments/paper/cpu.yaml) holds:

    suite: paper-cpu                 # name
    tier: cpu                        # cpu | gpu: where stores go (results/paper/<tier>/ by default)
    store_dir: results/paper/cpu     # optional: one SQLite store per sweep, <store_dir>/<sweep key>.db
    defaults: {regime, flops, seed, dataset, recipe, resources, max_retries, repeats}   # every sweep's
    statistics: {resamples: 2000, level: 0.9, seed: 0, aggregate: mean}                # bootstrap, unit
    sweeps:                          # each sweep runs once, however many claims read it
      base: {spaces: [AnyNetXA, RegNetX], models_per_space: 40}    # + any sweep key overriding defaults
    claims:
      - id: 5
        text: RegNetX has a better EDF than AnyNetXE
        figure: Fig. 9
        skip: why this tier cannot run it      # optional: the claim is reported "not run" with this
        parts:                                  # the claim holds when every part holds
          - name: median error, RegNetX - AnyNetXE
            statistic: median_diff              # designspace.claims.statistics.STATISTICS
            a: {sweep: base, space: RegNetX}    # arms: sweep (or sweeps: [..], pooled), space (a label
            b: {sweep: base, space: AnyNetXE}   #   of that sweep), where: EXPR, select: best:0.25|rest:0.25,
            expect: less                        #   value: error (default) | e_fit | d | b | g | w0 | ...
            ref: 0                              # reference of the rule (default: the statistic's)
            margin: 0                           # equivalent / at_most / at_least

The file's shape (each key's type, range and allowed keys) is declared once as pydantic models
(SuiteInput and the models it holds, on designspace.schema). Then each sweep is resolved through the
sweep machinery's own parser (so every space goes through `get_space`), and each arm is checked to
name a sweep and one of its spaces, each statistic to get the arms and parameters it takes, each
`where` to parse in the safe expression language. Problems are one line naming the place
(suite.yaml: suite key 'claims[2].parts[0].expect': ..., suite.yaml: claims[2].parts[0].a.space: ...).
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, create_model, model_validator

from ..errors import UsageError
from ..schema import STRICT, Flag, Integer, Name, Number, PathText, Seed, Text
from .rules import SCHEMA_KEYS, Rules
from .statistics import EXPECTS, STATISTICS

TIERS = ("cpu", "gpu")
SWEEP_DEFAULT_KEYS = ("regime", "flops", "seed", "dataset", "recipe", "resources", "max_retries", "repeats", "timeout",
                      "checkpoints", "tensorboard")
# per-model values an arm, x or y may name: store columns, and what analysis derives from the spec
STORE_VALUES = ("error", "flops", "params", "acts", "seconds", "cx_train", "images_per_s", "train_loss", "epochs")
DERIVED_VALUES = ("e_fit", "d", "b", "g", "w0", "wa", "wm")
VALUES = STORE_VALUES + DERIVED_VALUES


@dataclass(frozen=True)
class Arm:
    sweeps: tuple  # sweep keys, pooled
    space: str
    where: str | None = None
    select: str = "all"  # all | best:F | rest:F (fraction by error within each sweep)
    value: str = "error"

    def describe(self) -> str:
        bits = [self.space]
        if self.where:
            bits.append(f"where {self.where}")
        if self.select != "all":
            kind, frac = self.select.split(":")
            bits.append(f"{kind} {float(frac):.0%} by error")
        where = "+".join(self.sweeps)
        text = f"{' '.join(bits)} ({where})"
        return text if self.value == "error" else f"{self.value} of {text}"


@dataclass(frozen=True)
class Part:
    name: str
    statistic: str
    arms: dict  # arm name -> Arm
    expect: str
    ref: float
    margin: float
    params: dict  # statistic parameters (q, m, x, y, log, ignore)
    note: str = ""
    effect: float | None = None  # schema 2: the smallest effect that matters (the statistic's units)


@dataclass(frozen=True)
class Claim:
    id: int
    text: str
    figure: str
    parts: tuple
    note: str = ""
    skip: str = ""

    def sweeps(self) -> list[str]:
        if self.skip:
            return []
        return list(dict.fromkeys(s for p in self.parts for arm in p.arms.values() for s in arm.sweeps))


@dataclass
class Suite:
    name: str
    tier: str
    path: str
    store_dir: str
    sweeps: dict  # key -> sweep config mapping (what designspace.sweep.parse_config takes)
    claims: list
    resamples: int = 2000
    level: float = 0.9
    seed: int = 0
    aggregate: str = "mean"
    description: str = ""
    source: dict = field(default_factory=dict)
    rules: Rules | None = None  # schema 2's or 3's decision rules; None: schema 1 (bootstrap intervals, no adjustment)

    @property
    def schema(self) -> int:
        return 1 if self.rules is None else self.rules.schema_

    def store(self, key: str, store_dir: str | None = None) -> str:
        return os.path.join(store_dir or self.store_dir, f"{key}.db")

    def sweep_config(self, key: str, store_dir: str | None = None):
        """The sweep as designspace.sweep.SweepConfig, storing into its own file."""
        from ..sweep import parse_config

        return parse_config({**self.sweeps[key], "store": self.store(key, store_dir)}, f"{self.path}: sweeps.{key}")

    def select(self, only=None) -> list:
        """The claims `only` names (ids), all without it; UsageError for an unknown id."""
        if not only:
            return list(self.claims)
        known = {c.id for c in self.claims}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise UsageError(f"--only: no claim {', '.join(map(str, unknown))} in {self.path} "
                             f"(it has {', '.join(map(str, sorted(known)))})")
        return [c for c in self.claims if c.id in set(only)]


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "dataset":
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


# --- the file's shape, declared once (designspace.schema): each key's type, range and allowed keys. What
# relates one place to another (an arm's sweep and space, a statistic's arms) is checked by the steps below.
Words = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1)]  # stored stripped


def _select(text: str) -> str:
    kind, _, frac = text.partition(":")
    try:
        ok = text == "all" or (kind in ("best", "rest") and 0 < float(frac) < 1)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be all, best:F or rest:F with 0 < F < 1")
    return text


class ArmInput(BaseModel):
    model_config = STRICT
    sweep: Text | None = None
    sweeps: Annotated[list[Text], Field(min_length=1)] | None = None  # pooled
    space: Text
    where: Text | None = None
    select: Annotated[Text, AfterValidator(_select)] = "all"
    value: Literal[VALUES] = "error"

    @model_validator(mode="after")
    def _one_source(self):
        if ("sweep" in self.model_fields_set) == ("sweeps" in self.model_fields_set):
            raise ValueError("name exactly one of sweep or sweeps")
        return self

    @property
    def sweep_keys(self) -> list:
        return [self.sweep] if "sweep" in self.model_fields_set else self.sweeps


class PartInput(BaseModel):
    model_config = STRICT
    name: Text | None = None
    statistic: Literal[tuple(STATISTICS)]
    a: ArmInput | None = None
    b: ArmInput | None = None
    c: ArmInput | None = None
    d: ArmInput | None = None
    x: Literal[VALUES] | None = None
    y: Literal[VALUES] | None = None
    log: Flag | None = None
    q: Annotated[Number, Field(ge=0, le=1)] | None = None
    m: Annotated[Integer, Field(ge=1, le=100_000)] | None = None
    ignore: list[Annotated[Text, Field(min_length=1)]] | None = None  # spec option keys (e.g. [rep])
    expect: Literal[EXPECTS]
    ref: Number | None = None  # None: the statistic's reference
    margin: Annotated[Number, Field(ge=0)] = 0.0
    note: Text | None = None
    effect: Annotated[Number, Field(gt=0)] | None = None


class ClaimInput(BaseModel):
    model_config = STRICT
    id: Annotated[Integer, Field(ge=1)]
    text: Words
    figure: Words
    note: Text | None = None
    skip: Text | None = None  # why this tier cannot run the claim
    parts: Annotated[list[PartInput], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _needs_parts(self):
        if self.parts is None and not self.skip:
            raise ValueError("a claim needs parts (a non-empty list) unless it says why it is skipped (skip:)")
        return self


class StatisticsInput(BaseModel):
    model_config = STRICT
    resamples: Annotated[Integer, Field(ge=100, le=100_000)] | None = None  # None: by schema (2000 or 20000)
    level: Annotated[Number, Field(ge=0.5, le=0.999)] = 0.9
    seed: Seed = 0
    aggregate: Literal["mean", "median", "min"] = "mean"


# every sweep's defaults: any of these sweep config keys (their values checked by the sweep's own schema)
DefaultsInput = create_model("DefaultsInput", __config__=STRICT, **{k: (Any, None) for k in SWEEP_DEFAULT_KEYS})


class SuiteInput(BaseModel):
    model_config = STRICT
    suite: Words
    tier: Literal[TIERS]
    description: Text | None = None
    store_dir: PathText | None = None  # None: results/paper/<tier>
    defaults: DefaultsInput | None = None
    statistics: StatisticsInput | None = None
    sweeps: Annotated[dict[Name, dict], Field(min_length=1)]  # sweep key (its name) -> sweep config keys
    claims: Annotated[list[ClaimInput], Field(min_length=1)]
    # schema 2's decision rules: checked as claims.rules.Rules (a schema-1 suite may not use them)
    schema_: Any = Field(None, alias="schema")
    multiplicity: Any = None
    pairing: Any = None
    complexity: Any = None
    learning: Any = None
    power: Any = None
    schedule: Any = None


def parse_suite(raw, path: str = "suite") -> Suite:
    """Validate a suite mapping (see the module docstring); one-line UsageError for any problem."""
    from ..schema import validate

    given = validate(SuiteInput, raw, path, noun="suite key")
    rules = _rules(raw, path)
    store_dir = given.store_dir or os.path.join("results", "paper", given.tier)
    sweeps = _sweeps(given, store_dir, path)
    claims = _claims(given.claims, sweeps, rules, path)
    return Suite(given.suite, given.tier, path, store_dir, sweeps, claims, **_statistics(given.statistics, rules),
                 description=given.description or "", source=dict(raw), rules=rules)


def _fail(path: str, where: str, message: str):
    raise UsageError(f"{path}: {where}: {message}")


def _statistics(given: StatisticsInput | None, rules: Rules | None) -> dict:
    """The bootstrap's settings; schemas 2 and 3 draw ten times the resamples by default."""
    st = given or StatisticsInput()
    resamples = st.resamples if st.resamples is not None else 2000 if rules is None else 20000
    return {"resamples": resamples, "level": float(st.level), "seed": st.seed, "aggregate": st.aggregate}


def _sweeps(given: SuiteInput, store_dir: str, path: str) -> dict:
    """Each sweep merged onto the defaults and checked by the sweep's own parser (every space through
    get_space); two sweeps that would run the same trials are refused."""
    from ..sweep import parse_config

    defaults = given.defaults.model_dump(exclude_unset=True) if given.defaults is not None else {}
    sweeps, seen = {}, {}
    for key, sw in given.sweeps.items():
        where = f"sweeps.{key}"
        for k in ("name", "store"):
            if k in sw:
                _fail(path, where, f"{k} is set by the suite (sweep key and store_dir); remove it")
        cfg = _merge(defaults, sw)
        cfg["name"] = key
        parse_config({**cfg, "store": os.path.join(store_dir, f"{key}.db")}, f"{path}: {where}")
        same = json.dumps({k: v for k, v in cfg.items() if k != "name"}, sort_keys=True, default=str)
        if same in seen:
            _fail(path, where, f"is the same sweep as sweeps.{seen[same]}; claims should share one")
        seen[same] = key
        sweeps[key] = cfg
    return sweeps


def _claims(given: list, sweeps: dict, rules: Rules | None, path: str) -> list:
    from ..spaces.columns import column_names

    names, ids, claims = column_names(), set(), []
    for ci, c in enumerate(given):
        if c.id in ids:
            _fail(path, f"claims[{ci}].id", f"claim id {c.id} appears twice")
        ids.add(c.id)
        parts = tuple(_part(p, sweeps, rules, names, path, f"claims[{ci}].parts[{pi}]")
                      for pi, p in enumerate(c.parts or ()))
        claims.append(Claim(c.id, c.text, c.figure, parts, (c.note or "").strip(), (c.skip or "").strip()))
    return claims


def _part(p: PartInput, sweeps: dict, rules: Rules | None, names, path: str, where: str) -> Part:
    """One part: the arms and parameters its statistic takes, its rule, and its arms resolved."""
    stat = STATISTICS[p.statistic]
    given = {k for k in p.model_fields_set if getattr(p, k) is not None}  # a key set to null is not given
    for arm in ("a", "b", "c", "d"):
        if arm in stat.arms and arm not in given:
            _fail(path, where, f"{p.statistic} needs arm {arm}")
        if arm not in stat.arms and arm in given:
            _fail(path, where, f"{p.statistic} takes arms {', '.join(stat.arms)}, not {arm}")
    for k in ("x", "y", "log", "q", "m", "ignore"):
        if k in given and k not in stat.params:
            _fail(path, where, f"{p.statistic} takes no parameter {k}")
    for k in stat.required:
        if k not in given:
            _fail(path, where, f"{p.statistic} needs parameter {k}")
    params = {k: getattr(p, k) for k in stat.params if k in given}
    if "ignore" in params:
        params["ignore"] = tuple(params["ignore"])
    if p.expect == "equivalent" and not p.margin > 0:
        _fail(path, f"{where}.margin", "an equivalent rule needs a margin > 0")
    if p.effect is not None and rules is None:
        _fail(path, f"{where}.effect", "effects of interest need schema: 2 or 3")
    arms = {arm: _arm(getattr(p, arm), p.statistic, sweeps, names, path, f"{where}.{arm}") for arm in stat.arms}
    ref = float(p.ref if p.ref is not None else stat.reference)
    return Part(p.name or p.statistic, p.statistic, arms, p.expect, ref, float(p.margin), params, p.note or "",
                None if p.effect is None else float(p.effect))


def _arm(a: ArmInput, statistic: str, sweeps: dict, names, path: str, where: str) -> Arm:
    """One arm: sweeps of this suite that hold its space, and a `where` in the safe expression language."""
    from ..spaces.expr import parse as parse_expr

    for k in a.sweep_keys:
        if k not in sweeps:
            _fail(path, where, f"unknown sweep {k!r}; the suite's sweeps: {', '.join(sweeps)}")
        if a.space not in sweeps[k]["spaces"]:
            _fail(path, f"{where}.space", f"{a.space!r} is not a space of sweep {k} ({', '.join(sweeps[k]['spaces'])})")
    if a.where is not None:
        try:
            parse_expr(a.where, allowed=names)
        except UsageError as exc:
            raise UsageError(f"{path}: {where}.where: {exc}") from None
    if statistic in ("slope", "spearman") and "value" in a.model_fields_set:
        _fail(path, f"{where}.value", f"{statistic} reads x and y, not value")
    return Arm(tuple(a.sweep_keys), a.space, a.where, a.select, a.value)


def _rules(raw: dict, path: str) -> Rules | None:
    """Schema 2's or 3's rules, or None for a schema-1 suite (whose files may not use schema 2's keys)."""
    from ..schema import validate

    if raw.get("schema", 1) == 1:
        extra = [k for k in SCHEMA_KEYS if k in raw and k != "schema"]
        if extra:
            raise UsageError(f"{path}: {', '.join(extra)} need schema: 2 or 3 (a schema-1 suite keeps its committed "
                             "rules)")
        return None
    return validate(Rules, {k: raw[k] for k in SCHEMA_KEYS if k in raw}, path)


def load_suite(path: str) -> Suite:
    import yaml

    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise UsageError(f"suite file {path} not found") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a suite file") from None
    except OSError as exc:
        raise UsageError(f"cannot read suite file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not valid YAML: {first}") from None
    return parse_suite(raw, path)
