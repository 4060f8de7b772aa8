"""DesignSpace: draw candidate batches in numpy, measure them as a batch, keep those in the band."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..complexity import SpecArrays, complexity_arrays
from ..errors import UsageError
from ..regimes import Regime, get_regime
from ..spec import BLOCK_TYPES, FrozenDict, ModelSpec, StageSpec


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

    def take(self, idx) -> "Draw":
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


class DesignSpace:
    """A named design space. Subclasses define `draw(rng, m) -> Draw`; this class does the rest."""

    name = ""
    description = ""
    block = "res_bottleneck"
    se_ratio = 0.0
    stem_width = 32
    stride = 2
    max_draws = 4_000_000  # bound on candidates examined before giving up on a band
    max_batch = 1 << 17  # candidates per batch (spaces whose measure is per-spec Python use fewer)
    give_up_after = 300_000  # ...or earlier, when no candidate so far came near the band

    @property
    def free_params(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, m: int) -> Draw:
        raise NotImplementedError

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

    def sample_arrays(self, n: int, seed: int = 0, flops=None, regime: "str | Regime" = "imagenet"):
        """n distinct candidates inside the flops band -> (Draw, complexity dict), deterministic in seed."""
        rg = get_regime(regime)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise UsageError(f"number of models must be a positive integer, got {n!r}")
        lo, hi = parse_flops(flops) if isinstance(flops, str) else (flops or rg.default_flops)
        rng = np.random.default_rng(seed)
        kept: list[Draw] = []
        kept_cx: list[dict] = []
        seen: set[bytes] = set()
        have, drawn, batch = 0, 0, min(4096, self.max_batch)
        f_min, f_max = np.inf, -np.inf
        while have < n and drawn < self.max_draws:
            dr = self.draw(rng, batch)
            drawn += batch
            batch = min(batch * 2, self.max_batch)
            if not len(dr):
                continue
            cx, ok = self.measure(dr, rg)
            f = cx["flops"]
            if ok.any():
                f_min, f_max = min(f_min, f[ok].min()), max(f_max, f[ok].max())
            idx = np.flatnonzero(ok & (f >= lo) & (f <= hi))
            cols = self.identity_columns(dr)
            fresh = []
            for i in idx:  # few rows: deduplicate identical architectures, keep first
                key = b"".join(np.ascontiguousarray(a[i]).tobytes() for a in cols)
                if key not in seen:
                    seen.add(key)
                    fresh.append(i)
            fresh = np.asarray(fresh[: n - have], np.int64)
            if len(fresh):
                kept.append(dr.take(fresh))
                kept_cx.append({k: v[fresh] for k, v in cx.items()})
                have += len(fresh)
            elif drawn >= self.give_up_after and (len(idx) or (have == 0 and (f_max < lo or f_min > hi))):
                break  # the band holds no more distinct models (all in-band draws repeat), or none at all
        if have < n:
            reach = f"{_fmt(f_min)}..{_fmt(f_max)}" if np.isfinite(f_min) else "none"
            raise UsageError(
                f"{self.name}: only {have} of {n} models fall in the band {_fmt(lo)}:{_fmt(hi)} "
                f"({rg.name}) after {drawn} draws; flops reachable in this space: {reach}"
            )
        dr = Draw(*(np.concatenate([getattr(k, a) for k in kept]) for a in
                    ("widths", "depths", "bottleneck_ratios", "group_widths")),
                  meta={key: np.concatenate([k.meta[key] for k in kept]) for key in kept[0].meta})
        return dr, {k: np.concatenate([c[k] for c in kept_cx]) for k in kept_cx[0]}

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

    def sample(self, n: int, seed: int = 0, flops=None, regime: "str | Regime" = "imagenet") -> list[ModelSpec]:
        """n distinct specs drawn from this space inside the flops band (default: the regime's band)."""
        return self.specs_from(self.sample_arrays(n, seed, flops, regime)[0])

    def __repr__(self):
        return f"<DesignSpace {self.name}>"


def _fmt(v: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.4g}{unit}"
    return f"{v:.4g}"
