"""The population refine works on: one space's finished models, one row a model, with the space
language's columns (and e_fit) that candidate constraints are evaluated over."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import UsageError
from ...spaces.columns import table_columns
from ...spaces.expr import parse


@dataclass
class Population:
    """The models of one space, ready for candidates: one row per model, its error and columns."""

    models: pd.DataFrame
    errors: np.ndarray
    columns: dict  # name -> (N,) float64: the space language's columns, plus e_fit when measured
    label: str | None  # the population's space label (its `space` column), or the --space given
    space: object = None  # the DesignSpace, when the label names one
    n_trials: int = 0
    notes: list = field(default_factory=list)  # what was left out and why (also warned)

    def mask(self, text: str) -> np.ndarray:
        """The models satisfying a constraint text (UsageError for unknown columns, bad syntax)."""
        expr = parse(text)
        if not expr.is_boolean:
            raise UsageError(f"{text!r} is not a constraint; write a comparison such as 'wm >= 2'")
        return np.asarray(expr.evaluate(self.columns), bool)


def _finished(df: pd.DataFrame) -> pd.DataFrame:
    if "error" not in df.columns:
        raise UsageError("the population has no 'error' column (expected one error per trial, in %)")
    err = pd.to_numeric(df["error"], errors="coerce")
    ok = err.notna() & np.isfinite(err)
    if "status" in df.columns:
        ok &= df["status"].fillna("done").eq("done")
    out = df[ok].copy()
    out["error"] = err[ok].astype(np.float64)
    return out


def _json_list(v):
    import json

    if not isinstance(v, str):
        return v
    try:
        out = json.loads(v)
    except ValueError:
        out = None
    if not isinstance(out, list):
        raise UsageError(f"a per-stage column holds {v[:40]!r}, not a JSON list")
    return out


def _labels(models: pd.DataFrame, column: str) -> list[str]:
    return sorted(models[column].dropna().astype(str).unique()) if column in models.columns else []


def _resolve_space(models: pd.DataFrame, space):
    """-> (models of one population, its label, its DesignSpace or None, notes).

    A population is a group of population.read_population (the space, prefixed by sweep or source
    where several are read); `space` picks one by that label or by the space's name."""
    from ...spaces import DesignSpace, get_space

    notes = []
    key = "population" if "population" in models.columns else "space"
    labels = _labels(models, key)
    if space is not None:
        wanted = space.name if isinstance(space, DesignSpace) else str(space)
        for column in (key, "space"):
            match = models[column].astype(str).str.lower() == wanted.lower() if column in models.columns else None
            if match is not None and match.any():
                models = models[match.to_numpy()]
                break
        else:
            if len(labels) > 1:
                raise UsageError(f"no models of space {wanted!r}; the population holds: {', '.join(labels)}")
            if labels:
                notes.append(f"the population is labelled {labels[0]!r}; refined as {wanted!r}")
        labels = _labels(models, key) or [wanted]
    if len(labels) > 1:
        raise UsageError(f"the population holds {len(labels)} spaces ({', '.join(labels)}); choose one with --space")
    label = labels[0] if labels else None
    obj = space if isinstance(space, DesignSpace) else None
    names = _labels(models, "space") or ([str(space)] if space is not None else [])
    if obj is None and names:
        try:
            obj = get_space(names[0])
        except UsageError:
            if space is not None and str(space) != names[0]:
                try:
                    obj = get_space(str(space))
                except UsageError:
                    pass
    if obj is None and label is not None:
        notes.append(f"space {names[0] if names else label!r} is not a known space: candidates from every "
                     "varying column")
    return models.reset_index(drop=True), label, obj, notes


def prepare(df: pd.DataFrame, space=None, efit: bool = True, how: str = "mean") -> Population:
    """The population `refine` works on: finished trials, one row per model (repeats aggregated with
    population.model_table), of one space (`space`: a label in the `space` column or a space; needed
    when the population holds several), with the space language's columns and e_fit."""
    from ..population import model_table

    trials = _finished(df)
    if "spec_id" not in trials.columns:  # rows as `designspace sample` writes them: the spec id is `id`
        if "id" not in trials.columns:
            raise UsageError("the population has neither a spec_id nor an id column to tell models apart")
        trials["spec_id"] = trials["id"].astype(str)
    if trials.empty:
        raise UsageError("the population holds no finished trial with an error")
    if "space" not in trials.columns and "population" not in trials.columns:  # a table from elsewhere
        trials["space"] = getattr(space, "name", space) or "population"
    for col in ("widths", "depths", "bottleneck_ratios", "group_widths"):
        if col in trials.columns and trials[col].map(lambda v: isinstance(v, str)).any():
            trials[col] = trials[col].map(_json_list)  # lists stored as JSON text (csv, parquet)
    models = model_table(trials, how=how)
    models, label, obj, notes = _resolve_space(models, space)
    cols = table_columns(models)
    if efit:
        if "e_fit" in models.columns:
            cols["e_fit"] = pd.to_numeric(models["e_fit"], errors="coerce").to_numpy(np.float64)
        else:
            from ..efit import model_efit

            cols["e_fit"] = model_efit(models)["e_fit"].to_numpy(np.float64)
    n_trials = int(models["n_trials"].sum()) if "n_trials" in models.columns else len(models)
    return Population(models=models, errors=models["error"].to_numpy(np.float64), columns=cols, label=label,
                      space=obj, n_trials=n_trials, notes=notes)
