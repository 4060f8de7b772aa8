"""DesignSpace: draw candidate batches in numpy, measure them as a batch, keep those in the band."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..complexity import SpecArrays, complexity_arrays
from ..errors import UsageError
from ..fields import Bound
from ..limits import SEED
from ..regimes import Regime, get_regime
from ..spec import BLOCK_TYPES, FrozenDict, ModelSpec, StageSpec
from .columns import COMPLEXITY, batch_columns


@dataclass
class Draw:
    """A batch of m candidates in column form (after width/group compatibility)."""

    widths: np.ndarray  # (m, S)
    depths: np.ndarray  # (m, S)
    bottleneck_ratios: np.ndarray  # (m, S)
    group_widths: np.ndarray  # (m, S)
    meta: dict = field(default_factory=dict)  # per-candidate arrays (m,): provenance; "stem_stride" if drawn

    def __len__(self):
        return len(self.widths)

    def take(self, idx) -> Draw:
        return Draw(self.widths[idx], self.depths[idx], self.bottleneck_ratios[idx], self.group_widths[idx],
                    {k: v[idx] for k, v in self.meta.items()})


def parse_flops(text: str) -> tuple[float, float]:
    """'360M:400M' -> (360e6, 400e6); suffixes K, M, G (case-insensitive) or plain numbers."""
    units = {"K": 1e3, "M": 1e6, "G": 1e9}
    try:
        lo_s, hi_s = str(text).split(":")
        vals = []
        for s in (lo_s, hi_s):
            s = s.strip().upper().removesuffix("F")
            scale = units.get(s[-1:], 1.0)
            vals.append(float(s[:-1] if s[-1:] in units else s) * scale)
    except (ValueError, IndexError):
        raise UsageError(f"malformed flops band {text!r}; expected LOW:HIGH such as 360M:400M") from None
    lo, hi = vals
    if not (0 <= lo <= hi) or not np.isfinite(hi):
        raise UsageError(f"flops band {text!r} needs 0 <= LOW <= HIGH")
    return lo, hi


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a modified space comes from: the space it was built on (`core`, a data-defined or coded space)
    and the modifiers applied on top, in order (AnyNetXE+csp+prn: AnyNetXE, ("csp", "prn"))."""

    core: DesignSpace
    modifiers: tuple[str, ...]


class DesignSpace:
    """A named design space. Subclasses define `draw(rng, m) -> Draw`; this class does the rest."""

    origin: Origin | None = None  # a modified space's: set when it is built (WrappedSpace); None: not modified
    name = ""
    description = ""
    block = "res_bottleneck"
    se_ratio = 0.0
    stem_width = 32
    stride = 2
    max_draws = 2_000_000_000  # hard bound on candidates examined (a time bound: minutes, not hours)
    max_batch = 1 << 17  # candidates per batch (spaces whose measure is per-spec Python use fewer)
    # Give up after this many candidates without a new model (at first: without any). Once models
    # come, the bound grows with the observed rate: STALL_FACTOR times the mean draws per new model.
    give_up_after = 300_000
    STALL_FACTOR = 10  # P(no new model in the window | rate unchanged) = e^-10

    @property
    def free_params(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        raise NotImplementedError

    @property
    def constraints(self) -> tuple:
        """Constraint expressions (spaces.expr.Expr) a sample must satisfy; a modified space keeps those
        of the space it was built on."""
        core = self.origin.core if self.origin is not None else None
        return core.constraints if core is not None and core is not self else ()

    def column_extras(self, dr: Draw) -> dict:
        """(m,) columns besides the stage lists that expressions may read (RegNet's w0, wa, wm)."""
        return {k: dr.meta[k] for k in ("w0", "wa", "wm") if k in dr.meta}

    # --- the definition (data) ---
    def definition(self) -> dict:
        """The resolved definition in the space-file schema (JSON-able); loading it gives the same
        samples. Spaces written as code (some seed-family spaces) refer to themselves by name."""
        if self.origin is not None and self.origin.core is not self:
            d = self.origin.core.definition()
            d["modifiers"] = list(d.get("modifiers", [])) + list(self.origin.modifiers)
            return d
        return {"name": self.name, "description": self.description, "base": self.name}

    def with_origin(self, origin: Origin) -> DesignSpace:
        """A copy of this space that comes from `origin`, for a modifier that does not say so itself (one
        that is not a WrappedSpace named by its registered key); the space it returned stays as it was."""
        out = copy.copy(self)
        out.origin = origin
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.definition(), sort_keys=False, default_flow_style=None, width=100)

    # --- the generic sampler ---
    def to_arrays(self, dr: Draw) -> SpecArrays:
        m, s = dr.widths.shape
        return SpecArrays(
            widths=dr.widths.astype(np.int64), depths=dr.depths.astype(np.int64),
            strides=np.full((m, s), self.stride, np.int64),
            bottleneck_ratios=dr.bottleneck_ratios.astype(np.float64),
            group_widths=dr.group_widths.astype(np.int64),
            se_ratios=np.full((m, s), self.se_ratio),
            blocks=np.full((m, s), BLOCK_TYPES.index(self.block), np.int64),
            stem_widths=np.full(m, self.stem_width, np.int64), head_widths=np.zeros(m, np.int64),
            stem_strides=dr.meta.get("stem_stride", np.zeros(m, np.int64)).astype(np.int64),
        )

    def measure(self, dr: Draw, regime: Regime) -> tuple[dict, np.ndarray]:
        """Complexity of a batch of candidates and which of them are buildable (all, here)."""
        return complexity_arrays(self.to_arrays(dr), regime), np.ones(len(dr), bool)

    def identity_columns(self, dr: Draw) -> list[np.ndarray]:
        """The columns that tell two candidates apart (deduplication inside a sample)."""
        cols = [dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths]
        return cols + ([dr.meta["stem_stride"]] if "stem_stride" in dr.meta else [])

    def _keys(self, dr: Draw, idx: np.ndarray) -> np.ndarray:
        """One packed key (bytes of the identity columns) per candidate in idx, for np.unique."""
        cols = [np.asarray(c)[idx].reshape(len(idx), -1).astype(np.float64) for c in self.identity_columns(dr)]
        packed = np.ascontiguousarray(np.concatenate(cols, axis=1) + 0.0)  # + 0.0: -0.0 -> 0.0
        return packed.view(np.dtype((np.void, packed.shape[1] * 8))).ravel()

    def _columns(self, dr: Draw, cx: dict | None = None, names=None) -> dict:
        extra = dict(self.column_extras(dr))
        if cx is not None:
            extra.update({k: cx[k] for k in ("flops", "params", "acts")})
        return batch_columns(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths, extra, names)

    def sample_arrays(self, n: int, seed: int = 0, flops=None, regime: str | Regime = "imagenet"):
        """n distinct candidates inside the flops band that satisfy the space's constraints ->
        (Draw, complexity dict), deterministic in seed.

        Candidates are drawn in growing numpy batches until n distinct ones are kept. The bound on
        draws follows the request and the observed rate: sampling stops only after a stretch of
        STALL_FACTOR x (mean draws per new model) candidates without a new one (give_up_after
        before the first), or at max_draws; the error then names the reachable flops range and the
        constraint that rejected the most candidates."""
        rg = get_regime(regime)
        n = HOW_MANY.check(_python(n), "number of models")
        rng = np.random.default_rng(check_seed(seed))
        lo, hi = parse_flops(flops) if isinstance(flops, str) else (flops or rg.default_flops)
        screen, pool = _Screen(self), _Pool(n)
        drawn = in_band = last_new = 0
        batch = min(4096, self.max_batch)
        reach = [np.inf, -np.inf]  # flops range of the buildable candidates that passed the constraints
        while pool.have < n:
            dr = screen.before_measure(self.draw(rng, batch))
            drawn += batch
            if len(dr):
                cx, ok = self.measure(dr, rg)
                ok = screen.after_measure(dr, cx, ok)
                f = cx["flops"]
                if ok.any():
                    reach = [min(reach[0], f[ok].min()), max(reach[1], f[ok].max())]
                idx = np.flatnonzero(ok & (f >= lo) & (f <= hi))
                in_band += len(idx)
                if len(idx) and pool.add(self._keys(dr, idx), dr, cx, idx):
                    last_new = drawn
            if pool.have >= n:
                break
            batch = self._next_batch(batch, n, pool.have, drawn)
            window = max(self.give_up_after, self.STALL_FACTOR * last_new / pool.have) if pool.have \
                else self.give_up_after
            if drawn - last_new >= window or drawn >= self.max_draws:
                raise UsageError(self._shortfall(n, pool.have, drawn, lo, hi, rg, reach, in_band, screen))
        return pool.result()

    def _next_batch(self, batch: int, n: int, have: int, drawn: int) -> int:
        """Size the next batch from the rate of new models so far (+25%); double it while none came."""
        batch = int(1.25 * (n - have) * drawn / have) + 1024 if have else batch * 2
        return int(min(max(batch, 2048), self.max_batch))

    def _shortfall(self, n, have, drawn, lo, hi, rg, reach, in_band, screen) -> str:
        f_min, f_max = reach
        span = f"{_fmt(f_min)}..{_fmt(f_max)}" if np.isfinite(f_min) else "none"
        msg = (f"{self.name}: only {have} of {n} models fall in the band {_fmt(lo)}:{_fmt(hi)} ({rg.name}) "
               f"after {drawn:,} draws; flops reachable in this space: {span}")
        if any(screen.rejected.values()):
            worst = max(screen.rejected, key=screen.rejected.get)
            share = screen.rejected[worst] / max(screen.seen_by[worst], 1)
            msg += f"; the constraint rejecting most candidates: {worst!r} ({share:.1%} of those it saw)"
        if have and in_band > have:
            msg += f"; in-band draws now repeat models already kept ({in_band - have:,} repeats)"
        return msg

    def specs_from(self, dr: Draw) -> list[ModelSpec]:
        specs = []
        for i in range(len(dr)):
            stages = tuple(
                StageSpec(depth=int(dr.depths[i, j]), width=int(dr.widths[i, j]), stride=self.stride,
                          block=self.block, bottleneck_ratio=float(dr.bottleneck_ratios[i, j]),
                          group_width=int(dr.group_widths[i, j]), se_ratio=self.se_ratio)
                for j in range(dr.widths.shape[1])
            )
            meta = {"space": self.name}
            meta.update({k: v[i].item() for k, v in dr.meta.items() if k != "stem_stride"})
            stem_stride = int(dr.meta["stem_stride"][i]) if "stem_stride" in dr.meta else 0
            specs.append(ModelSpec(stages=stages, stem_width=self.stem_width, meta=FrozenDict(meta),
                                   stem_stride=stem_stride))
        return specs

    def sample(self, n: int, seed: int = 0, flops=None, regime: str | Regime = "imagenet") -> list[ModelSpec]:
        """n distinct specs drawn from this space inside the flops band (default: the regime's band)."""
        return self.specs_from(self.sample_arrays(n, seed, flops, regime)[0])

    def __repr__(self):
        return f"<DesignSpace {self.name}>"


class _Screen:
    """A space's constraints on candidate batches: those on the architecture before its complexity is
    measured, those on flops / params / acts after; counts what each saw and rejected (for the error)."""

    def __init__(self, space: DesignSpace):
        exprs = tuple(space.constraints)
        self.space = space
        self.pre = [e for e in exprs if not e.names & set(COMPLEXITY)]
        self.post = [e for e in exprs if e.names & set(COMPLEXITY)]
        self.needed = set().union(*(e.names for e in exprs)) if exprs else set()
        self.rejected = dict.fromkeys((str(e) for e in exprs), 0)
        self.seen_by = dict.fromkeys((str(e) for e in exprs), 0)

    def _apply(self, cols, group, ok):
        for e in group:
            passed = np.asarray(e.evaluate(cols), bool)
            self.seen_by[str(e)] += int(ok.sum())
            self.rejected[str(e)] += int((ok & ~passed).sum())
            ok &= passed
        return ok

    def before_measure(self, dr: Draw) -> Draw:
        if len(dr) and self.pre:
            ok = self._apply(self.space._columns(dr, names=self.needed), self.pre, np.ones(len(dr), bool))
            dr = dr.take(np.flatnonzero(ok)) if not ok.all() else dr
        return dr

    def after_measure(self, dr: Draw, cx: dict, ok: np.ndarray) -> np.ndarray:
        if self.post and ok.any():
            ok = self._apply(self.space._columns(dr, cx, self.needed), self.post, ok.copy())
        return ok


class _Pool:
    """The distinct candidates kept so far, in draw order (the first of identical architectures)."""

    def __init__(self, n: int):
        self.n, self.have = n, 0
        self.kept: list[Draw] = []
        self.kept_cx: list[dict] = []
        self.seen = np.zeros(0, np.void)

    def add(self, keys: np.ndarray, dr: Draw, cx: dict, idx: np.ndarray) -> int:
        """Keep the candidates idx of dr (their identity keys `keys`) not seen before; how many were new."""
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)
        new = first[~np.isin(keys[first], self.seen)][: self.n - self.have]
        if len(new):
            self.seen = np.concatenate([self.seen, keys[new]]) if len(self.seen) else keys[new]
            fresh = idx[new]
            self.kept.append(dr.take(fresh))
            self.kept_cx.append({k: v[fresh] for k, v in cx.items()})
            self.have += len(fresh)
        return len(new)

    def result(self) -> tuple[Draw, dict]:
        kept = self.kept
        dr = Draw(*(np.concatenate([getattr(k, a) for k in kept]) for a in
                    ("widths", "depths", "bottleneck_ratios", "group_widths")),
                  meta={key: np.concatenate([k.meta[key] for k in kept]) for key in kept[0].meta})
        return dr, {k: np.concatenate([c[k] for c in self.kept_cx]) for k in self.kept_cx[0]}


class WrappedSpace(DesignSpace):
    """A space wrapping another one, `base`: the shape of a space modifier (``BASE+name``; register it
    with ``register_modifier(name, SubClass)``). Named ``<base name>+<suffix>`` and described as the
    base's description followed by `about`, with the base's host attributes (the names in `inherits`),
    it is the base space until a subclass says otherwise: free_params, draw, measure, to_arrays,
    identity_columns, column_extras and the constraints are the base's. The generic sampler runs on
    top (sample_arrays, with this space's draw and measure).

    The common case, options added to every spec, takes two pieces:
      - draw() adds per-candidate columns to ``Draw.meta`` under the names listed in `meta_keys`
        (identity_columns includes them: candidates that differ only there stay distinct);
      - with_options(spec, i, dr), the hook, returns spec i of the draw with its options (read from
        ``dr.meta[key][i]``); by default the spec as the base built it.
    specs_from() hides the `meta_keys` columns from the base (base_draw: they are not the base's, and
    DesignSpace.specs_from would copy them into every spec's meta), builds the base's specs, applies
    with_options to each and names this space in ``meta["space"]``."""

    inherits: tuple = ("block", "se_ratio", "stem_width", "stride")
    meta_keys: tuple = ()

    def __init__(self, base: DesignSpace, suffix: str, about: str = ""):
        self.base = base
        self.name = f"{base.name}+{suffix}"
        self.description = base.description + about
        below = base.origin or Origin(base, ())
        self.origin = Origin(below.core, (*below.modifiers, suffix))  # `suffix` is the modifier's registered key
        for attr in self.inherits:
            setattr(self, attr, getattr(base, attr))

    @property
    def free_params(self) -> list[tuple[str, str]]:
        return list(self.base.free_params)

    @property
    def constraints(self) -> tuple:
        return self.base.constraints

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        return self.base.draw(rng, m)

    def measure(self, dr: Draw, regime: Regime) -> tuple[dict, np.ndarray]:
        return self.base.measure(dr, regime)

    def to_arrays(self, dr: Draw) -> SpecArrays:
        return self.base.to_arrays(dr)

    def identity_columns(self, dr: Draw) -> list[np.ndarray]:
        return self.base.identity_columns(dr) + [dr.meta[k] for k in self.meta_keys if k in dr.meta]

    def column_extras(self, dr: Draw) -> dict:
        return self.base.column_extras(dr)

    def base_draw(self, dr: Draw) -> Draw:
        """The draw as the base reads it: without this space's `meta_keys` columns."""
        meta = {k: v for k, v in dr.meta.items() if k not in self.meta_keys}
        return Draw(dr.widths, dr.depths, dr.bottleneck_ratios, dr.group_widths, meta)

    def with_options(self, spec: ModelSpec, i: int, dr: Draw) -> ModelSpec:
        """Spec i of `dr` (as the base built it) with this space's options."""
        return spec

    def specs_from(self, dr: Draw) -> list[ModelSpec]:
        out = []
        for i, spec in enumerate(self.base.specs_from(self.base_draw(dr))):
            spec = self.with_options(spec, i, dr)
            out.append(dataclasses.replace(spec, meta=FrozenDict({**spec.meta.thaw(), "space": self.name})))
        return out


HOW_MANY = Bound(int, ge=1)  # models to sample


def check_seed(seed) -> int:
    """A sampling seed: an integer in [0, limits.MAX_SEED], the range training takes too."""
    return SEED.check(_python(seed), "seed")


def _python(value):
    """A numpy integer as the Python int it holds (the schema's integers are strict)."""
    return int(value) if isinstance(value, np.integer) else value


def _fmt(v: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.4g}{unit}"
    return f"{v:.4g}"
