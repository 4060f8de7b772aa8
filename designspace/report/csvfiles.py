"""The numbers behind a report as CSV files (data/NAME.csv), and any figure redrawn from them alone."""
from __future__ import annotations

import json
import os

import pandas as pd

from ..analysis import figures as F

BY = "population"


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and mappings as JSON text, so a CSV reader gets them back exactly."""
    obj = [c for c in df.columns if df[c].dtype == object and len(df) and
           isinstance(df[c].dropna().iloc[0] if df[c].notna().any() else None, (list, dict))]
    return df.assign(**{c: df[c].map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)
                        for c in obj})


def write_tables(tables: dict, data_dir: str) -> list[str]:
    """tables -> data_dir/NAME.csv (lists and mappings as JSON text); returns the paths."""
    os.makedirs(data_dir, exist_ok=True)
    paths = []
    for name, table in tables.items():
        path = os.path.join(data_dir, f"{name}.csv")
        _csv_ready(table).to_csv(path, index=False)
        paths.append(path)
    return paths


def figure_data_from_csv(name: str, data_dir: str, metric: str = "logratio", level: float = 0.9):
    """The FigureData of figure `name` (e.g. "edf" or "edf.png") from a report's data/ folder alone."""
    name = name.removesuffix(".png")
    t = {k: pd.read_csv(os.path.join(data_dir, f"{k}.csv")) for k in F.TABLES[name]}
    by = BY if any(BY in df.columns for df in t.values()) else "space"
    lvl = f"{level:.0%}"
    if name in ("edf", "edf_normalized"):
        bands = t[F.TABLES[name][0]]
        n_of = bands.groupby(by)["n"].first().to_dict() if "n" in bands else {}
        title = "Error EDF (models)" if name == "edf" else "Complexity-normalized error EDF"
        return F.edf_figure(name, bands, by, n_of, title, "")
    if name == "top_widths":
        return F.top_widths_figure(t["top_models"], by)
    if name == "efit":
        return F.efit_figure(t["models"], by, metric)
    if name == "trends_error":
        return F.trends_error_figure(t["trend_bins"], t["trend_bands"], by, lvl)
    if name == "trends_best":
        return F.trends_best_figure(t["best_bands"], None, by, lvl)
    if name == "complexity":
        return F.complexity_figure(t["models"], t["complexity_fits"], t["best_models"], by)
    if name == "search":
        return F.search_figure(t["search"], by, lvl)
    if name == "fidelity":
        return F.fidelity_figure(t["fidelity_pairs"], t["fidelity_correlation"], lvl)
    raise ValueError(f"no figure named {name!r}; figures: {', '.join(F.TABLES)}")


def figure_from_csv(name: str, data_dir: str, metric: str = "logratio", level: float = 0.9):
    """Redraw figure `name` from the CSV files of a report's data/ folder alone; returns the matplotlib Figure."""
    from ..plots import draw

    return draw(figure_data_from_csv(name, data_dir, metric, level))
