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

Validation resolves every sweep through the sweep machinery's own parser (so every space goes
through `get_space`), checks every arm names a sweep and one of its spaces, every statistic is
known with its parameters, every `where` parses in the safe expression language. Problems are one
line naming the place (suite.yaml: claims[2].parts[0].a.space: ...).
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field

from ..errors import UsageError
from .rules import SCHEMA_KEYS, Rules
from .statistics import EXPECTS, STATISTICS

TIERS = ("cpu", "gpu")
TOP_KEYS = ("suite", "tier", "description", "store_dir", "defaults", "statistics", "sweeps", "claims") + SCHEMA_KEYS
SWEEP_DEFAULT_KEYS = ("regime", "flops", "seed", "dataset", "recipe", "resources", "max_retries", "repeats", "timeout",
                      "checkpoints", "tensorboard")
STAT_KEYS = ("resamples", "level", "seed", "aggregate")
CLAIM_KEYS = ("id", "text", "figure", "note", "skip", "parts")
PART_KEYS = ("name", "statistic", "a", "b", "c", "d", "x", "y", "log", "q", "m", "ignore", "expect", "ref", "margin",
             "note", "effect")
ARM_KEYS = ("sweep", "sweeps", "space", "where", "select", "value")
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
    rules: Rules | None = None  # schema 2's decision rules; None: schema 1 (bootstrap intervals, no adjustment)

    @property
    def schema(self) -> int:
        return 1 if self.rules is None else 2

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


def _need(cond, where, msg):
    if not cond:
        raise UsageError(f"{where}: {msg}")


def _number(v, where, lo=None, hi=None, integer=False):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (not integer or isinstance(v, int))
    ok = ok and (lo is None or v >= lo) and (hi is None or v <= hi)
    kind = "an integer" if integer else "a number"
    rng = "" if lo is None and hi is None else f" in [{'' if lo is None else lo}, {'' if hi is None else hi}]"
    _need(ok, where, f"must be {kind}{rng}, got {v!r}")
    return v


def _keys(d, allowed, where):
    _need(isinstance(d, dict), where, f"must be a mapping, got {type(d).__name__}")
    for k in d:
        _need(k in allowed, where, f"unknown key {k!r}; valid: {', '.join(allowed)}")


def parse_suite(raw, path: str = "suite") -> Suite:
    """Validate a suite mapping (see the module docstring); one-line UsageError for any problem."""
    from ..spaces.columns import column_names
    from ..spaces.expr import parse as parse_expr
    from ..sweep import parse_config

    _keys(raw, TOP_KEYS, path)
    rules = _rules(raw, path)
    name = raw.get("suite")
    _need(isinstance(name, str) and name.strip(), path, f"suite must be a name, got {name!r}")
    tier = raw.get("tier")
    _need(tier in TIERS, path, f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
    store_dir = raw.get("store_dir") or os.path.join("results", "paper", tier)
    _need(isinstance(store_dir, str), path, f"store_dir must be a path, got {store_dir!r}")
    defaults = raw.get("defaults") or {}
    _keys(defaults, SWEEP_DEFAULT_KEYS, f"{path}: defaults")
    st = raw.get("statistics") or {}
    _keys(st, STAT_KEYS, f"{path}: statistics")
    resamples = _number(st.get("resamples", 2000 if rules is None else 20000), f"{path}: statistics.resamples", 100,
                        100_000, integer=True)
    level = _number(st.get("level", 0.9), f"{path}: statistics.level", 0.5, 0.999)
    seed = _number(st.get("seed", 0), f"{path}: statistics.seed", 0, integer=True)
    aggregate = st.get("aggregate", "mean")
    _need(aggregate in ("mean", "median", "min"), f"{path}: statistics.aggregate",
          f"must be mean, median or min, got {aggregate!r}")

    sweeps_raw = raw.get("sweeps")
    _need(isinstance(sweeps_raw, dict) and sweeps_raw, path, "sweeps must be a mapping of sweep key -> sweep")
    sweeps, seen = {}, {}
    for key, sw in sweeps_raw.items():
        where = f"{path}: sweeps.{key}"
        _need(isinstance(key, str) and key and "/" not in key and not key.startswith("."), where,
              "a sweep key must be a name without '/'")
        _need(isinstance(sw, dict), where, "must be a mapping (spaces, models_per_space, ...)")
        for k in ("name", "store"):
            _need(k not in sw, where, f"{k} is set by the suite (sweep key and store_dir); remove it")
        cfg = _merge(defaults, sw)
        cfg["name"] = key
        parse_config({**cfg, "store": os.path.join(store_dir, f"{key}.db")}, where)  # spaces via get_space
        same = json.dumps({k: v for k, v in cfg.items() if k != "name"}, sort_keys=True, default=str)
        _need(same not in seen, where, f"is the same sweep as sweeps.{seen.get(same)}; claims should share one")
        seen[same] = key
        sweeps[key] = cfg

    claims_raw = raw.get("claims")
    _need(isinstance(claims_raw, list) and claims_raw, path, "claims must be a non-empty list")
    allowed_names = column_names()
    claims, ids = [], set()
    for ci, c in enumerate(claims_raw):
        where = f"{path}: claims[{ci}]"
        _keys(c, CLAIM_KEYS, where)
        cid = _number(c.get("id"), f"{where}.id", 1, integer=True)
        _need(cid not in ids, f"{where}.id", f"claim id {cid} appears twice")
        ids.add(cid)
        for k in ("text", "figure"):
            _need(isinstance(c.get(k), str) and c[k].strip(), f"{where}.{k}", "must be a non-empty string")
        skip = c.get("skip") or ""
        _need(isinstance(skip, str), f"{where}.skip", "must be a reason (text)")
        parts_raw = c.get("parts")
        if skip and parts_raw is None:
            parts_raw = []  # a claim this tier cannot run may leave its parts unwritten
        else:
            _need(isinstance(parts_raw, list) and parts_raw, f"{where}.parts", "must be a non-empty list")
        parts = []
        for pi, p in enumerate(parts_raw):
            pw = f"{where}.parts[{pi}]"
            _keys(p, PART_KEYS, pw)
            sname = p.get("statistic")
            _need(sname in STATISTICS, f"{pw}.statistic",
                  f"unknown statistic {sname!r}; valid: {', '.join(STATISTICS)}")
            stat = STATISTICS[sname]
            for arm in ("a", "b", "c", "d"):
                if arm in stat.arms:
                    _need(arm in p, pw, f"{sname} needs arm {arm}")
                else:
                    _need(arm not in p, pw, f"{sname} takes arms {', '.join(stat.arms)}, not {arm}")
            for k in ("x", "y", "log", "q", "m", "ignore"):
                if k in p:
                    _need(k in stat.params, pw, f"{sname} takes no parameter {k}")
            for k in stat.required:
                _need(k in p, pw, f"{sname} needs parameter {k}")
            params = {k: p[k] for k in stat.params if k in p}
            if "q" in params:
                _number(params["q"], f"{pw}.q", 0, 1)
            if "m" in params:
                _number(params["m"], f"{pw}.m", 1, 100_000, integer=True)
            for k in ("x", "y"):
                if k in params:
                    _need(params[k] in VALUES, f"{pw}.{k}", f"unknown value {params[k]!r}; valid: {', '.join(VALUES)}")
            if "log" in params:
                _need(isinstance(params["log"], bool), f"{pw}.log", "must be true or false")
            if "ignore" in params:
                _need(isinstance(params["ignore"], list) and all(isinstance(k, str) and k for k in params["ignore"]),
                      f"{pw}.ignore", "must be a list of spec option keys (e.g. [rep])")
                params["ignore"] = tuple(params["ignore"])
            expect = p.get("expect")
            _need(expect in EXPECTS, f"{pw}.expect", f"must be one of {', '.join(EXPECTS)}, got {expect!r}")
            ref = float(_number(p.get("ref", stat.reference), f"{pw}.ref"))
            margin = float(_number(p.get("margin", 0.0), f"{pw}.margin", 0))
            if expect in ("equivalent", "at_most", "at_least"):
                _need(margin > 0 or expect != "equivalent", f"{pw}.margin", "an equivalent rule needs a margin > 0")
            arms = {}
            for arm in stat.arms:
                aw = f"{pw}.{arm}"
                a = p[arm]
                _keys(a, ARM_KEYS, aw)
                _need(("sweep" in a) != ("sweeps" in a), aw, "name exactly one of sweep or sweeps")
                keys = [a["sweep"]] if "sweep" in a else a["sweeps"]
                _need(isinstance(keys, list) and keys, aw, "sweeps must be a non-empty list")
                for k in keys:
                    _need(k in sweeps, aw, f"unknown sweep {k!r}; the suite's sweeps: {', '.join(sweeps)}")
                    _need(a.get("space") in sweeps[k]["spaces"], f"{aw}.space",
                          f"{a.get('space')!r} is not a space of sweep {k} ({', '.join(sweeps[k]['spaces'])})")
                if a.get("where") is not None:
                    _need(isinstance(a["where"], str), f"{aw}.where", "must be an expression (text)")
                    try:
                        parse_expr(a["where"], allowed=allowed_names)
                    except UsageError as exc:
                        raise UsageError(f"{aw}.where: {exc}") from None
                select = a.get("select", "all")
                if select != "all":
                    kind, _, frac = str(select).partition(":")
                    try:
                        ok = kind in ("best", "rest") and 0 < float(frac) < 1
                    except ValueError:
                        ok = False
                    _need(ok, f"{aw}.select", f"must be all, best:F or rest:F with 0 < F < 1, got {select!r}")
                value = a.get("value", "error")
                _need(value in VALUES, f"{aw}.value", f"unknown value {value!r}; valid: {', '.join(VALUES)}")
                _need(sname not in ("slope", "spearman") or "value" not in a, f"{aw}.value",
                      f"{sname} reads x and y, not value")
                arms[arm] = Arm(tuple(keys), a["space"], a.get("where"), str(select), value)
            pname = p.get("name") or f"{sname}"
            effect = p.get("effect")
            if effect is not None:
                _need(rules is not None, f"{pw}.effect", "effects of interest need schema: 2")
                effect = float(_number(effect, f"{pw}.effect", 0))
                _need(effect > 0, f"{pw}.effect", "must be > 0")
            parts.append(Part(str(pname), sname, arms, expect, ref, margin, params, str(p.get("note") or ""),
                              effect))
        claims.append(Claim(cid, c["text"].strip(), c["figure"].strip(), tuple(parts), str(c.get("note") or "").strip(),
                            skip.strip()))
    return Suite(name.strip(), tier, path, store_dir, sweeps, claims, resamples, float(level), seed, aggregate,
                 str(raw.get("description") or ""), dict(raw), rules)


def _rules(raw: dict, path: str) -> Rules | None:
    """Schema 2's rules, or None for a schema-1 suite (whose files may not use schema 2's keys)."""
    from ..schema import validate

    if raw.get("schema", 1) == 1:
        extra = [k for k in SCHEMA_KEYS if k in raw and k != "schema"]
        _need(not extra, path, f"{', '.join(extra)} need schema: 2 (a schema-1 suite keeps its committed rules)")
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
