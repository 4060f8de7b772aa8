"""Space definitions: the data a design space is made of, and the three ways to write one (a YAML/JSON
file, a dict, an inline refinement ``Base[k=v,expr,...]+modifier``); their schema is definition_input.py.

A resolved definition (what ``DesignSpace.definition()`` returns and ``designspace spaces --show``
prints) is self-contained: loading it gives the same samples as the space it came from. The keys:

    name, description
    kind: anynet | regnet          anynet: per-stage d, w, b, g; regnet: d, w0, wa, wm, b, g -> stages
    stages: 4                      number of stages (anynet: drawn; regnet: draws with other counts rejected)
    block: res_bottleneck          vanilla | res_basic | res_bottleneck;  se: 0.25 (SE ratio, 0 = none)
    stem_width: 32, stride: 2
    params: {name: distribution}   see distributions.py; anynet d1.. w1.. b1.. g1.. override one stage
    tie: {w0: wa}                  the key takes the value of the other parameter
    constraints: [expr, ...]       over the columns of columns.py (parameters, flops, params, acts)
    modifiers: [csp, ...]          seed-family modifiers applied on top (as in AnyNetXE+csp)

An input definition may also have ``base: SPACE`` (a name, file or inline form): it starts from that
space's resolved definition; params merge per parameter, tie per key, constraints and modifiers are
appended, other keys replace.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

from ..errors import UsageError
from ..limits import MAX_CONFIG_BYTES, MAX_STAGES
from .columns import column_names
from .distributions import KINDS, Param
from .expr import parse

KIND_PARAMS = {"anynet": ("d", "w", "b", "g"), "regnet": ("d", "w0", "wa", "wm", "b", "g")}
DEFAULTS = {"description": "", "stages": 4, "block": "res_bottleneck", "se": 0.0, "stem_width": 32, "stride": 2}


@dataclass(frozen=True)
class SpaceDef:
    """A resolved definition (frozen). `from_dict(sd.to_dict()) == sd` exactly."""

    name: str
    kind: str
    params: tuple  # ((name, Param), ...) in draw order
    description: str = ""
    stages: int = 4
    block: str = "res_bottleneck"
    se: float = 0.0
    stem_width: int = 32
    stride: int = 2
    tie: tuple = ()  # ((target, source), ...)
    constraints: tuple = ()  # canonical expression texts
    modifiers: tuple = ()
    _exprs: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        """The checks that relate keys; each key's own type and range are SpaceInput's (from_dict)."""
        params = dict(self.params)
        names = self.param_names
        for p in KIND_PARAMS[self.kind]:
            if p not in params:
                raise UsageError(f"space {self.name!r}: params lacks {p!r} (a {self.kind} space needs "
                                 f"{', '.join(KIND_PARAMS[self.kind])})")
        for p, prm in params.items():
            if p not in names:
                raise UsageError(f"space {self.name!r}: unknown parameter {p!r}; valid: {_show(names, self.kind)}")
            if (prm.per_stage or prm.non_decreasing) and (self.kind == "regnet" or p not in KIND_PARAMS["anynet"]):
                raise UsageError(f"space {self.name!r}: parameter {p!r} cannot be per_stage or non_decreasing")
            if prm.non_decreasing and not prm.per_stage and not any(f"{p}{i}" in params
                                                                    for i in range(1, self.stages + 1)):
                raise UsageError(f"space {self.name!r}: {p!r} is non_decreasing but not per_stage")
            lo, hi = prm.dist.bounds
            root = p.rstrip("0123456789") if self.kind == "anynet" else p
            least = {"d": 1 if self.kind == "regnet" else 0, "w": 1, "w0": 1, "wa": 0, "wm": 1, "b": 0, "g": 1}[root]
            if lo < least or (root in ("b", "wm") and lo <= least) or (root in ("w0",) and hi > 1e6):
                raise UsageError(f"space {self.name!r}: parameter {p!r} has range [{lo:g}, {hi:g}]; it needs "
                                 f"{root} {'>' if root in ('b', 'wm') else '>='} {least}")
            if root in ("d", "w", "g") and not _integral(prm.dist):
                raise UsageError(f"space {self.name!r}: parameter {p!r} must take integer values "
                                 "(use int/log_int, a step q, or integer choices)")
        if self.block != "res_bottleneck":
            for p in ("b", "g"):
                if params[p].dist.to_dict() != {"fixed": 1}:
                    raise UsageError(f"space {self.name!r}: a {self.block} block has no {p}; fix it: {p}: {{fixed: 1}}")
        targets = {t for t, _ in self.tie}
        for t, s in self.tie:
            for x in (t, s):
                if x not in names:
                    raise UsageError(f"space {self.name!r}: tie {t}: {s} names unknown parameter {x!r}; "
                                     f"valid: {_show(names, self.kind)}")
            if s in targets or t == s:
                raise UsageError(f"space {self.name!r}: tie {t}: {s} chains ties; tie each to an untied parameter")
            if self.kind == "anynet" and _root(t) in ("d", "w", "b", "g") and t == _root(t) and s != _root(s) \
                    and params[t].per_stage:
                raise UsageError(f"space {self.name!r}: tie {t}: {s} sets every stage from one stage; "
                                 f"make {t} shared or tie stages one by one")
        allowed = column_names(self.stages)
        exprs = []
        for c in self.constraints:
            e = parse(c, allowed)
            if not e.is_boolean:
                raise UsageError(f"constraint {c!r} is not a comparison (e.g. d <= 40)")
            exprs.append(e)
        object.__setattr__(self, "constraints", tuple(str(e) for e in exprs))
        object.__setattr__(self, "_exprs", tuple(exprs))

    @property
    def param_names(self) -> list[str]:
        if self.kind == "regnet":
            return list(KIND_PARAMS["regnet"])
        return [f"{p}{i}" if i else p for p in KIND_PARAMS["anynet"] for i in range(self.stages + 1)]

    @property
    def exprs(self):
        return self._exprs

    def to_dict(self) -> dict:
        out = {"name": self.name, "description": self.description, "kind": self.kind, "stages": self.stages,
               "block": self.block, "se": self.se, "stem_width": self.stem_width, "stride": self.stride,
               "params": {p: prm.to_dict() for p, prm in self.params}}
        if self.tie:
            out["tie"] = dict(self.tie)
        if self.constraints:
            out["constraints"] = list(self.constraints)
        if self.modifiers:
            out["modifiers"] = list(self.modifiers)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> SpaceDef:
        """A resolved definition (no `base`) -> SpaceDef; every problem is a one-line UsageError."""
        from .definition_input import check_definition

        given = check_definition(d)
        if given.base is not None:
            raise UsageError("a resolved definition has no base; use space_from_dict")
        if given.name is None or not given.name.strip():
            raise UsageError(f"space key name must be a non-empty string, got {given.name!r}")
        return cls._built(given, lambda p: Param.from_dict(given.params[p], f"space {given.name!r} parameter {p!r}"))

    @classmethod
    def from_shipped(cls, d: dict) -> SpaceDef:
        """A shipped resolved definition (builtin.py) without the schema pass of from_dict: tests check that
        every shipped definition passes it and reads the same both ways. The relations between keys are
        still checked (__post_init__)."""
        given = SimpleNamespace(**{**DEFAULTS, "kind": "anynet", "tie": {}, "constraints": [], "modifiers": [], **d})
        return cls._built(given, lambda p: Param.from_shipped(given.params[p]))

    @classmethod
    def _built(cls, given, param) -> SpaceDef:
        """The SpaceDef of checked input `given`; param(name) reads one parameter."""
        order = {p: i for i, p in enumerate(_order(given.kind, given.stages))}
        params = tuple((p, param(p)) for p in sorted(given.params, key=lambda p: (order.get(p, len(order)), p)))
        return cls(name=given.name, kind=given.kind, params=params, description=given.description,
                   stages=given.stages, block=given.block, se=given.se, stem_width=given.stem_width,
                   stride=given.stride, tie=tuple(given.tie.items()), constraints=tuple(given.constraints),
                   modifiers=tuple(given.modifiers))


def _order(kind, stages):
    if kind == "regnet":
        return list(KIND_PARAMS["regnet"])
    return [f"{p}{i}" if i else p for p in KIND_PARAMS["anynet"] for i in range(min(stages, MAX_STAGES) + 1)]


def _root(p: str) -> str:
    return p.rstrip("0123456789")


def _show(names, kind):
    if kind == "regnet":
        return ", ".join(names)
    return "d, w, b, g (and per stage d1.., w1.., b1.., g1..)"


def _integral(dist) -> bool:
    d = dist.to_dict()
    if "choice" in d:
        return all(float(v).is_integer() for v in d["choice"])
    if "fixed" in d:
        return float(d["fixed"]).is_integer()
    stepped = float(d.get("q", 0.5)).is_integer() and d.get("q", 0) >= 1
    return d.get("int", False) or ("power2_or_log_uniform" in d) or stepped


# --- merging a definition onto its base ------------------------------------------------------------
def merge(base: dict, over: dict) -> dict:
    """`over` applied to the resolved definition `base` (both plain dicts)."""
    out = {k: v for k, v in base.items()}
    if "kind" in over and over["kind"] != base.get("kind"):
        raise UsageError(f"space {over.get('name', '?')!r}: cannot change kind {base.get('kind')} -> {over['kind']}")
    for k, v in over.items():
        if k in ("base", "params", "tie", "constraints", "modifiers"):
            continue
        out[k] = v
    params = dict(base.get("params", {}))
    for p, v in (over.get("params") or {}).items():
        if not isinstance(v, dict):
            v = {"fixed": v}
        old = dict(params.get(p, {}))
        if any(k in v for k in KINDS):  # a new distribution; flags carry over unless given
            old = {k: old[k] for k in ("per_stage", "non_decreasing") if k in old}
        old.update(v)
        params[p] = {k: x for k, x in old.items() if x is not False}
    out["params"] = params
    tie = dict(base.get("tie", {}))
    tie.update(over.get("tie") or {})
    if tie:
        out["tie"] = tie
    for key in ("constraints", "modifiers"):
        merged = list(base.get(key, []))
        for c in over.get(key) or []:
            if c not in merged:
                merged.append(c)
        if merged:
            out[key] = merged
    return out


# --- YAML files -------------------------------------------------------------------------------------
def read_definition_file(path: str) -> dict:
    """A space file (.yaml / .yml / .json) as a dict: size-bounded, safe YAML without aliases."""
    import yaml

    try:
        size = os.path.getsize(path)
        if size > MAX_CONFIG_BYTES:  # a space file is a few hundred bytes
            raise UsageError(f"space file {path} is {size:,} bytes; the limit is {MAX_CONFIG_BYTES:,}")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read space file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"space file {path} is not UTF-8 text") from None
    if path.lower().endswith(".json"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"space file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    else:
        try:
            for event in yaml.parse(text, Loader=yaml.SafeLoader):  # aliases could expand without bound
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                    raise UsageError(f"space file {path}: YAML anchors and aliases are not allowed")
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = str(exc).strip().splitlines()[0]
            raise UsageError(f"space file {path} is not valid YAML: {first}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"space file {path} must hold a mapping (name, params, ...)")
    if "name" not in raw:
        raw = {"name": os.path.splitext(os.path.basename(path))[0], **raw}
    return raw


# --- inline refinements: Base[k=v, expr, ...]+modifier ---------------------------------------------
_FIX = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*=\s*(?!=)(.+?)\s*$")


def split_inline(text: str) -> tuple[str, list[str], list[str]]:
    """'AnyNetXE[b=1,g>=8]+csp' -> ('AnyNetXE', ['b=1', 'g>=8'], ['csp']). Commas inside
    parentheses (min(w1, w2)) do not split."""
    text = text.strip()
    depth, cut = 0, None
    head, items_text, tail = text, None, ""
    for i, ch in enumerate(text):
        if ch == "[":
            if depth == 0 and cut is None:
                cut = i
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0 and cut is not None:
                head, items_text, tail = text[:cut], text[cut + 1:i], text[i + 1:]
                break
            if depth < 0:
                raise UsageError(f"space {text!r}: unbalanced ']'")
    else:
        if depth:
            raise UsageError(f"space {text!r}: '[' without its ']'")
    if "[" in tail or "]" in tail:
        raise UsageError(f"space {text!r}: put [...] right after the base space, before +modifiers")
    if items_text is None:
        head, *mods = head.split("+")
    else:
        if "+" in head:
            raise UsageError(f"space {text!r}: put [...] right after the base space, before +modifiers")
        mods = [m for m in tail.split("+")]
        if mods and mods[0] == "":
            mods = mods[1:]
        elif mods and mods[0]:
            raise UsageError(f"space {text!r}: unexpected {tail!r} after ']'")
    if any(not m.strip() for m in mods):
        raise UsageError(f"space {text!r}: empty modifier name")
    items = []
    if items_text is not None:
        depth, start = 0, 0
        for i, ch in enumerate(items_text + ","):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 0:
                item = items_text[start:i].strip()
                if not item:
                    raise UsageError(f"space {text!r}: empty item in [...]")
                items.append(item)
                start = i + 1
    return head.strip(), items, [m.strip() for m in mods]


def inline_override(items: list[str], base: dict) -> dict:
    """Items of Base[...] as an override of `base`: `k=number` fixes k, `k=other` ties k to other,
    anything else is a constraint expression."""
    sd_names = set(_order(base.get("kind", "anynet"), base.get("stages", 4)))
    over: dict = {"params": {}, "tie": {}, "constraints": []}
    for item in items:
        m = _FIX.match(item)
        if m:
            key, value = m.group(1), m.group(2)
            if key not in sd_names:
                raise UsageError(f"[{item}]: {key!r} is not a parameter of {base.get('name')}; "
                                 f"valid: {_show(sorted(sd_names), base.get('kind'))} (use == for a constraint)")
            if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", value):
                if value not in sd_names:
                    raise UsageError(f"[{item}]: {value!r} is not a parameter of {base.get('name')}")
                over["tie"][key] = value
            else:
                from .expr import parse as _parse

                e = _parse(value)
                if e.names:
                    raise UsageError(f"[{item}]: a fixed value must be a number or a parameter name")
                v = float(e.evaluate({})[0])
                over["params"][key] = {"fixed": int(v) if v.is_integer() else v}
        else:
            over["constraints"].append(str(parse(item, column_names(base.get("stages", 4)))))
    return over


def canonical_items(over: dict) -> list[str]:
    """The canonical inline text of an override (name of an inline space)."""
    out = [f"{k}={_num_text(v['fixed'])}" for k, v in over["params"].items()]
    out += [f"{k}={v}" for k, v in over["tie"].items()]
    return out + [_compact(c) for c in over["constraints"]]


def _compact(text: str) -> str:
    """Canonical expression text without spaces around symbols: 'g >= 8' -> 'g>=8'."""
    return re.sub(r"\s*(\*\*|<=|>=|==|!=|[-+*/%<>,])\s*", r"\1", text)


def _num_text(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))
