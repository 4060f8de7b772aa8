"""report.html: an AnalysisResult rendered through the Jinja2 template designspace/templates/report.html.j2.

This module turns the result into what the template shows (tables of formatted cells, figures as
embedded PNG or their sentence); the template holds the page's layout and words, report.css its
style. Statistics are printed with 3 significant decimals, p-values in scientific notation, and
what the user wrote (recipes, settings) as they wrote it.
"""
from __future__ import annotations

import base64
import functools
import json
import os
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..analysis.result import AnalysisResult
from ..stats.intervals import describe_interval

CSS_PX_PER_INCH = 96  # a figure drawn w inches wide is shown w * 96 CSS pixels wide: its fonts keep their size
# the tables whose numbers are listed under a figure
DETAILS = {"trends_error": ("trend_bands",), "complexity": ("best_models",), "search": ("search",)}


@dataclass(frozen=True)
class Table:
    headers: list
    kinds: list  # css class per column: "txt" (left-aligned) or "" (numbers)
    rows: list
    titles: list | None = None
    id: str | None = None


def num(v, digits: int = 3) -> str:
    """A statistic: fixed decimals, scientific notation when very large or small, integers as such."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v != v:
            return ""
        return f"{v:.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"
    return str(v)


def pvalue(v) -> str:
    if v is None or v != v:
        return ""
    if v == 0:
        return "< 1e-300"  # below double precision: the test cannot say more
    return f"{v:.2e}"


def as_written(v) -> str:
    """A value the user gave (recipe, setting) as written: 1 stays 1, 0.1 stays 0.1, lists as JSON."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # the shortest text that reads back as the same number
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def interval(est, lo, hi, digits: int = 3) -> str:
    """est [lo, hi]; an end that is missing (unbounded: too few models for the level) reads "–"."""
    return f"{num(est, digits)} [{num(lo, digits) or '–'}, {num(hi, digits) or '–'}]" if est == est else ""


def frame_table(df: pd.DataFrame, digits: int = 3, headers: dict | None = None, id: str | None = None) -> Table:
    headers = headers or {}
    cols = list(df.columns)
    kinds = ["txt" if df[c].dtype == object else "" for c in cols]
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec):
            cells.append(pvalue(v) if "pvalue" in c or c.startswith("ks_p") else num(v, digits))
        rows.append(cells)
    return Table([headers.get(c, c) for c in cols], kinds, rows, id=id)


def ranking_table(r: pd.DataFrame, by: str, level: str) -> tuple[Table, list[tuple[str, str]]]:
    """The ranking as 10 columns, and the guide that explains each."""
    normalized = "median_normalized" in r
    headers = ["rank", by, "models", "trials", "best", "q25", f"median [{level}]",
               *(["normalized median"] if normalized else []), f"mean [{level}]", "KS D vs #1", "KS p vs #1"]
    rows = []
    for x in r.itertuples(index=False):
        d = x._asdict()
        rows.append([num(d["rank"]), str(d[by]), num(d["n"]), num(d["trials"]), num(d["best"]), num(d["q25"]),
                     interval(d["median"], d["median_lo"], d["median_hi"]),
                     *([num(d["median_normalized"])] if normalized else []),
                     interval(d["mean"], d["mean_lo"], d["mean_hi"]), num(d["ks_vs_best"]),
                     pvalue(d["ks_p_vs_best"])])
    guide = [
        ("rank", "order by median error (ties: mean); 1 is best"),
        (by, "what is compared: a design space, prefixed by its sweep or source when several are read"),
        ("models", "distinct models (the unit of every statistic)"),
        ("trials", "finished trainings behind them (repeats of a model are combined)"),
        ("best", "lowest model error (no interval: a sample minimum has no distribution-free one)"),
        ("q25", "25th percentile of the model errors: the error of the best quarter"),
        (f"median [{level}]", f"median model error and its exact {level} order-statistic interval "
                              "(distribution-free, no resampling)"),
        *([("normalized median", "median of the complexity-normalized EDF: each complexity bin weighs the "
            "same (see the normalized EDF figure)")] if normalized else []),
        (f"mean [{level}]", f"mean model error and its {level} Student t interval"),
        ("KS D vs #1", "Kolmogorov–Smirnov distance between this population's error EDF and the top-ranked one's "
         "(0: same distribution, 1: no overlap)"),
        ("KS p vs #1", "the KS test's p-value: small (say < 0.01) means the EDFs differ beyond sampling noise"),
    ]
    kinds = ["", "txt", "", "", "", "", "", *([""] if normalized else []), "", "", ""]
    return Table(headers, kinds, rows, titles=[dict(guide).get(h, "") for h in headers], id="ranking"), guide


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _label(p: dict) -> str:
    return os.path.basename(p["source"]) + (f" / {p['sweep']}" if p["sweep"] else "")


def recipe_table(populations) -> Table | None:
    """One row per recipe field, one column per source/sweep; values as written."""
    recipes = [(_label(p), _flatten(p["recipe"])) for p in populations if isinstance(p.get("recipe"), dict)]
    if not recipes:
        return None
    keys = list(dict.fromkeys(k for _, r in recipes for k in r))
    rows = [[k, *(as_written(r.get(k)) if k in r else "—" for _, r in recipes)] for k in keys]
    return Table(["field", *(lbl for lbl, _ in recipes)], ["txt"] * (1 + len(recipes)), rows, id="recipe")


def populations_table(populations) -> Table | None:
    if not populations:
        return None
    headers = ["source", "sweep", "dataset", "regime", "epochs", "trials", "finished", "spaces"]
    rows = [[os.path.basename(p["source"]), p["sweep"] or "", as_written(p["dataset"]), as_written(p["regime"]),
             as_written(_whole(p["epochs"])), str(p["trials"]), str(p["finished"]), ", ".join(p["spaces"])]
            for p in populations]
    return Table(headers, ["txt", "txt", "txt", "txt", "", "", "", "txt"], rows, id="populations")


def _whole(v):
    """A store's REAL column holds 1 as 1.0: a whole number is shown as the integer it was."""
    return int(v) if isinstance(v, (float, np.floating)) and float(v).is_integer() else v


def settings_table(settings) -> Table:
    rows = [[f.name, as_written(getattr(settings, f.name))] for f in fields(settings) if f.name != "sweeps"]
    return Table(["setting", "value"], ["txt", "txt"], rows, id="settings")


@functools.cache
def template():
    """The page's Jinja2 template, compiled once per process (about 12 ms): write_report loads it while
    the pool's worker draws figures, so the page is only rendered once the last figure is in."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("designspace", "templates"),
                      autoescape=select_autoescape(("html", "j2")), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2")


def render(result: AnalysisResult, images: dict) -> str:
    """The report page. images: {figure name: (PNG bytes, width in inches)} of the drawn figures,
    embedded as data URIs so that the file alone shows everything."""
    t, by = result.tables, result.by
    level = f"{result.settings.level:.0%}"
    ranking, guide = ranking_table(t["ranking"], by, level)
    figures = []
    for f in result.figures.values():
        image = images.get(f.name)
        figures.append({
            "name": f.name, "title": f.title, "caption": f.caption, "tables": f.tables,
            "missing": f.missing if image is None else None,
            "image": base64.b64encode(image[0]).decode("ascii") if image else None,
            "width_px": int(round(image[1] * CSS_PX_PER_INCH)) if image else None,
            "details": [{"name": k, "table": frame_table(t[k])} for k in DETAILS.get(f.name, ()) if k in t],
        })
    definitions = [{"space": sp, "label": _label(p),
                    "text": json.dumps(d, indent=1, sort_keys=True, default=str) if d is not None else None}
                   for p in result.populations for sp, d in p["definitions"].items()]
    repeats = t["repeats"]
    context = {
        "r": result, "level": level, "sources": result.sources, "warnings": result.warnings,
        "bootstrap": describe_interval("percentile bootstrap", result.settings.level, result.settings.n_boot,
                                       "models", result.settings.seed),
        "notes": [n.text for n in result.notes if n.kind != "warning"],
        "populations": populations_table(result.populations), "recipe": recipe_table(result.populations),
        "definitions": definitions, "settings": settings_table(result.settings),
        "ranking": ranking, "guide": guide,
        "ks_pairs": frame_table(t["ks_pairs"], headers={"a": "population a", "b": "population b",
                                                        "statistic": "KS D", "pvalue": "p-value"}),
        "repeats": frame_table(repeats, 4) if repeats["models_with_repeats"].sum() else None,
        "efit": frame_table(t["efit_summary"], 4), "complexity_fits": frame_table(t["complexity_fits"], 4),
        "fidelity": ({"correlation": frame_table(t["fidelity_correlation"]),
                      "overlap": frame_table(t["fidelity_overlap"])} if "fidelity_correlation" in t else None),
        "figures": figures,
    }
    return template().render(**context)
