"""What one analysis of a population yields, as one typed, immutable object.

`designspace.analysis.full.analyze` returns an AnalysisResult; the static report (designspace.report)
and the live dashboard are views of it. Everything a view shows is in it: the tables (the numbers),
every figure's data as plain arrays (no matplotlib objects), the notes (warnings and choices in
words) and the settings. `to_dict()` gives the same as JSON-able Python objects (NaN -> None).

    AnalysisResult  settings, sources, populations, counts, tables, figures, notes
    FigureData      one figure: title, caption, panels of series; or `missing`, the sentence shown
                    instead when the data cannot fill it
    Panel, Series   a panel's axes labels and its series: one group's equal-length arrays
                    (x/y, lo/hi, spec_id, ...) and scalars (band ends, fit slope)
    Settings        everything besides the data that changes the numbers
    Note            a warning or a stated choice
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..limits import MAX_BOOT
from .efit import METRICS


@dataclass(frozen=True)
class Settings:
    """Everything that changes an analysis's numbers besides its data (all stated in the report)."""

    normalize: str = "flops"  # flops | params | none: the complexity the normalized EDF controls
    max_bins: int = 10  # normalized EDF: at most this many equal-width bins over the common range ...
    min_per_bin: int = 3  # ... with at least this many models of every space in every bin
    search_weights: str = "normalized"  # random-search draws: normalized (nds) | uniform
    n_boot: int = 1000
    level: float = 0.9  # the one level of every interval and band
    seed: int = 0
    efit: str = "logratio"  # logratio (the paper's mean log-ratio) | squared
    aggregate: str = "mean"  # how repeated trials of one model are combined: mean | median | min
    top: int = 20  # models per space in the widths figure
    sweeps: tuple = field(default_factory=tuple)

    def validate(self) -> Settings:
        if self.normalize not in ("flops", "params", "none"):
            raise UsageError(f"--normalize must be flops, params or none, got {self.normalize!r}")
        if self.search_weights not in ("normalized", "uniform"):
            raise UsageError(f"--search-weights must be normalized or uniform, got {self.search_weights!r}")
        if self.efit not in METRICS:
            raise UsageError(f"--efit must be one of {', '.join(METRICS)}, got {self.efit!r}")
        if not 10 <= self.n_boot <= MAX_BOOT:
            raise UsageError(f"--bootstrap needs 10 to {MAX_BOOT} replicates, got {self.n_boot:g}")
        if not 0.5 <= self.level < 1:
            raise UsageError(f"the interval level must be in [0.5, 1), got {self.level:g}")
        if not 1 <= self.max_bins <= 100:
            raise UsageError(f"--bins needs 1 to 100 bins, got {self.max_bins}")
        if not 1 <= self.min_per_bin <= 1000:
            raise UsageError(f"--min-per-bin needs 1 to 1000, got {self.min_per_bin}")
        if not 1 <= self.top <= 1000:
            raise UsageError(f"--top needs 1 to 1000, got {self.top}")
        return self

    @classmethod
    def of(cls, overrides: Mapping) -> Settings:
        """Settings from keyword overrides (other keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in overrides.items() if k in names})


@dataclass(frozen=True)
class Note:
    kind: str  # warning | setting | repeats
    text: str


@dataclass(frozen=True)
class Series:
    """One group's data in a panel: `data` holds equal-length 1-d arrays named by what they hold
    (e.g. error/cdf/lo/hi for an EDF, spec_id/e_fit/error for a scatter), `values` scalars."""

    group: str
    n: int  # models behind it
    data: Mapping[str, np.ndarray]
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    key: str  # what the panel shows: a parameter, a relation, a population, or the figure's name
    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureData:
    """A figure's data. `missing` is None when there is something to draw; otherwise it says what
    is missing, and a view shows that sentence instead of empty axes."""

    name: str  # edf, edf_normalized, top_widths, efit, trends_error, trends_best, complexity, search, fidelity
    title: str
    caption: str
    tables: tuple[str, ...]  # the result's tables that hold its numbers
    panels: tuple[Panel, ...] = ()
    missing: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)  # drawing choices (e.g. the e_fit metric)

    @property
    def drawn(self) -> bool:
        return self.missing is None


@dataclass(frozen=True)
class AnalysisResult:
    settings: Settings
    by: str  # the column the analysis compares (population, or space)
    sources: tuple[str, ...]
    populations: tuple[dict, ...]  # per source and sweep: dataset, regime, recipe, epochs, spaces' definitions
    n_trials: int  # trials read
    n_done: int  # finished trials behind the models
    n_models: int
    tables: Mapping[str, pd.DataFrame]
    figures: Mapping[str, FigureData]  # in the report's order
    notes: tuple[Note, ...]
    created_at: str

    @property
    def warnings(self) -> list[str]:
        return [n.text for n in self.notes if n.kind == "warning"]

    @property
    def ranking(self) -> pd.DataFrame:
        return self.tables["ranking"]

    def to_dict(self) -> dict:
        """The whole result as JSON-able objects: tables as lists of records, figures' arrays as lists."""
        return jsonable({
            "settings": settings_dict(self.settings), "by": self.by, "sources": list(self.sources),
            "populations": list(self.populations), "n_trials": self.n_trials, "n_done": self.n_done,
            "n_models": self.n_models, "created_at": self.created_at,
            "tables": {k: records(v) for k, v in self.tables.items()},
            "figures": {k: figure_dict(f) for k, f in self.figures.items()},
            "notes": [{"kind": n.kind, "text": n.text} for n in self.notes],
        })


def frozen(mapping: Mapping) -> dict:
    """A result's own copy of a mapping. A plain dict, not a read-only proxy, so that a result can be
    pickled (sent from a worker process); the result's fields themselves cannot be reassigned."""
    return dict(mapping)


def settings_dict(s: Settings) -> dict:
    return {f.name: (list(getattr(s, f.name)) if f.name == "sweeps" else getattr(s, f.name)) for f in fields(s)}


def figure_dict(f: FigureData) -> dict:
    return jsonable({
        "name": f.name, "title": f.title, "caption": f.caption, "tables": list(f.tables), "missing": f.missing,
        "options": dict(f.options),
        "panels": [{"key": p.key, "title": p.title, "xlabel": p.xlabel, "ylabel": p.ylabel, "values": dict(p.values),
                    "series": [{"group": s.group, "n": s.n, "data": dict(s.data), "values": dict(s.values)}
                               for s in p.series]} for p in f.panels],
    })


def jsonable(value):
    """Python/numpy/pandas values -> JSON-able ones (non-finite floats -> None)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return [None if not math.isfinite(v) else v for v in value.tolist()]
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def records(df: pd.DataFrame) -> list[dict]:
    return jsonable(df.to_dict(orient="records"))
