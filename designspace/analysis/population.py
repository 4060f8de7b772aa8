"""The population an analysis compares: trials read from stores or tables, and models made of them.

    read_population(sources, sweeps=None)   trials of result stores (.db) and tidy tables
                                            (.csv/.parquet/.jsonl), one DataFrame with `source`
    model_table(df, how="mean")             one row per distinct model: the unit of every statistic
    pooled_std(models)                      the seed-to-seed spread of an error, pooled over models

A *model* is a spec trained with one recipe on one dataset. Several trials of one model (repeats
with other seeds, or the same model in two pooled sweeps) are one unit of analysis: EDFs, tests,
fits and rankings count models, not trials, so that repeating every training does not make a
difference look more certain than it is.

Sweep selection: a store may hold several sweeps. Without `sweeps`, all of them are read when they
share recipe, dataset and regime; otherwise UsageError names them (pooling them would mix budgets
into one EDF without a word). `["all"]` pools every sweep; naming several sweeps whose recipes
differ compares them side by side. The `population` column is the group an analysis compares: the
space, prefixed by the sweep where a source's selected sweeps differ in recipe/dataset/regime and by
the source where several sources are read (a table named after its space keeps the space's
name; a table with a `population` column, such as analyze's data/models.csv, keeps its labels).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..store import LIST_COLUMNS, flatten_specs, stage_columns

TABLE_EXTENSIONS = (".csv", ".parquet", ".jsonl", ".json")
AGGREGATIONS = ("mean", "median", "min")
# what makes two trials the same model
MODEL_KEY = ("source", "population", "spec_id", "recipe_key", "dataset", "regime")


def read_population(sources: Sequence[str], sweeps: Sequence[str] | None = None, executor=None,
                    flatten: bool = True) -> pd.DataFrame:
    """Trials of every source, concatenated (one row per trial, store columns, plus `source`,
    `context` and `population`). Raises UsageError (one line) for a missing/unreadable source, an unknown sweep,
    or a store whose sweeps differ in recipe/dataset/regime when `sweeps` is None. executor (e.g. a
    process pool): parse the stores' specs there (store.flatten_specs). flatten=False, where every
    source is a store: the rows keep their specs as JSON text, without the per-stage columns (a caller
    flattens them later, e.g. once per model); with a table among the sources (read with those columns)
    the stores' rows are flattened here anyway, so that like columns are concatenated."""
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise UsageError("no source given: name a result store (.db) or a table (.csv/.parquet/.jsonl)")
    sweeps = None if not sweeps else list(dict.fromkeys(sweeps))
    pool_all = sweeps is not None and "all" in sweeps
    if pool_all and len(sweeps) > 1:
        raise UsageError("--sweep all pools every sweep; do not combine it with sweep names")
    wanted = None if sweeps is None or pool_all else sweeps
    labels = _source_labels(sources)
    flatten = flatten or any(os.path.splitext(s)[1].lower() in TABLE_EXTENSIONS for s in sources)
    parts, seen_sweeps = [], set()
    for src in sources:
        if not os.path.exists(src):
            kind = "table" if os.path.splitext(src)[1].lower() in TABLE_EXTENSIONS else "result store"
            raise UsageError(f"no {kind} at {src}")
        if os.path.isdir(src):
            raise UsageError(f"{src} is a directory, not a result store or table")
        ext = os.path.splitext(src)[1].lower()
        if ext in TABLE_EXTENSIONS:
            df = read_table(src)
            if "population" in df:
                df = df.rename(columns={"population": "_own_population"})
            if wanted is not None and "sweep" in df and df["sweep"].notna().any():
                df = df[df["sweep"].isin(wanted)]
        else:
            df = _read_store(src, wanted, pool_all, executor, flatten)
        seen_sweeps |= set(df["sweep"].dropna().unique())
        parts.append(df.assign(source=src, _label=labels[src]))
    if wanted is not None:
        store_sweeps = [s for s in wanted if s not in seen_sweeps]
        if store_sweeps and any(os.path.splitext(s)[1].lower() not in TABLE_EXTENSIONS for s in sources):
            raise UsageError(f"no sweep named {', '.join(store_sweeps)} in {', '.join(sources)}")
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    df["context"], df["population"] = _population_labels(df, several_sources=len(sources) > 1, pool_all=pool_all)
    return df.drop(columns=[c for c in ("_label", "_own_population") if c in df])


def _source_labels(sources) -> dict:
    """A short distinct name per source: the file stem, or parent/stem where stems collide."""
    stems = {s: os.path.splitext(os.path.basename(s))[0] for s in sources}
    out = {}
    for s, stem in stems.items():
        if list(stems.values()).count(stem) > 1:
            parent = os.path.basename(os.path.dirname(os.path.abspath(s)))
            stem = f"{parent}/{stem}"
        out[s] = stem
    return out


def _context(df: pd.DataFrame) -> pd.Series:
    """What makes two sweeps comparable: (recipe, dataset, regime) as one text per row."""
    recipe = _recipe_keys(df["recipe"]) if "recipe" in df else pd.Series("", index=df.index)
    return recipe + "|" + df.get("dataset", pd.Series("", index=df.index)).astype(str) + "|" + \
        df.get("regime", pd.Series("", index=df.index)).astype(str)


def _population_labels(df: pd.DataFrame, several_sources: bool, pool_all: bool) -> tuple[pd.Series, pd.Series]:
    """(context, population): the context is what sets a population apart besides its space (the
    sweep where one source's selected sweeps differ in recipe/dataset/regime, the source's label
    where several are read, both as `source/sweep`; "" otherwise), the population `context:space`
    (or the space alone)."""
    # a table's rows may have no sweep (None or NaN): text "" so that no label becomes NaN
    sweep = df["sweep"].map(_text) if "sweep" in df else pd.Series("", index=df.index, dtype=object)
    context = pd.Series("", index=df.index, dtype=object)
    several_sweeps = [idx for idx in df.groupby("source", sort=False).indices.values() if sweep.iloc[idx].nunique() > 1]
    if not pool_all and several_sweeps:
        ctx = _context(df)
        for idx in several_sweeps:
            own = sweep.iloc[idx]
            # sweeps of different recipes side by side within one source; across sources the
            # source's label already tells them apart
            if ctx.iloc[idx].groupby(own.to_numpy()).first().nunique() > 1:
                context.iloc[idx] = own.to_numpy()
    if several_sources:
        context = df["_label"].astype(str) + np.where(context != "", "/" + context, "")
    space = df["space"].map(_text)
    if "_own_population" in df:  # a table written by `analyze` (data/models.csv) keeps its labels
        own = df["_own_population"].map(_text)
        space = space.where(own == "", own)
    # a table named after its space (nds's ResNeXt-A.json) is labelled by the space alone
    population = np.where((context != "") & (context != space), context + ":" + space, space)
    return context, pd.Series(population, index=df.index)


def _text(value) -> str:
    """A label cell as text; a missing one (None, NaN) as ""."""
    return "" if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)


def _describe_context(recipe, dataset, regime) -> str:
    r = recipe if isinstance(recipe, dict) else {}
    bits = [str(dataset) if dataset else None, str(regime) if regime and regime != dataset else None]
    if "epochs" in r:
        bits.append(f"{r['epochs']:g} epochs" if isinstance(r["epochs"], (int, float)) else f"epochs {r['epochs']}")
    for k in ("train_size", "lr"):
        if k in r:
            bits.append(f"{k} {r[k]}")
    return ", ".join(b for b in bits if b) or "no recipe"


def _read_store(path: str, wanted, pool_all: bool, executor=None, flatten: bool = True) -> pd.DataFrame:
    import sqlite3

    from ..store import connect, load

    try:
        con = connect(path, create=False)
        try:
            rows = con.execute("SELECT sweep, recipe, dataset, regime, COUNT(*) FROM trials "
                               "GROUP BY sweep, recipe, dataset, regime ORDER BY sweep").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise UsageError(f"{path} is not a designspace result store ({exc})") from None
    present = list(dict.fromkeys(r[0] for r in rows))
    if wanted is not None:
        unknown = [s for s in wanted if s not in present]
        if len(unknown) == len(wanted):
            raise UsageError(f"{path} has no sweep named {', '.join(unknown)} (it holds: "
                             f"{', '.join(present) or 'no trials'})")
    elif not pool_all:
        contexts = {(rec, ds, rg) for _, rec, ds, rg, _ in rows}
        if len(contexts) > 1:
            named = "; ".join(f"{sw} ({_describe_context(json.loads(rec) if rec else None, ds, rg)})"
                              for sw, rec, ds, rg, _ in rows)
            raise UsageError(f"{path} holds sweeps with different recipes or datasets: {named}; choose with "
                             f"--sweep NAME (repeatable, side by side) or pool them with --sweep all")
    try:
        if wanted is None:
            return load(path, flatten=flatten, executor=executor)
        frames = [load(path, sweep=s, flatten=flatten, executor=executor) for s in wanted if s in present]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    except (sqlite3.Error, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: cannot read its trials ({type(exc).__name__}: {exc})") from None


def read_table(path: str) -> pd.DataFrame:
    """A tidy table of trained models (.csv, .parquet, .jsonl): the columns `designspace sample`
    writes (id, space, regime, widths, depths, ..., flops, params, acts, spec) plus `error`;
    optional space (default: the file's stem), seed, flops (computed from spec and regime when
    absent), sweep, recipe, dataset, status. Returns store-like columns (lists as lists)."""
    df = _read_rows(path)
    df = _architectures(df, path)
    df = _store_columns(df, os.path.splitext(os.path.basename(path))[0])
    if "flops" not in df or df["flops"].isna().any():
        df = _add_complexity(df, path)
    for col in ("flops", "params", "acts"):  # a table may give flops alone (nds gives no acts)
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df else np.nan
    return df


def _read_rows(path: str) -> pd.DataFrame:
    """The file's rows as read (by its extension), with at least one row and an `error` column; any
    failure to read is one UsageError line, whatever the parser raised."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".csv":
            df = pd.read_csv(path)
        elif ext == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.DataFrame.from_records(_json_records(path))
    except UsageError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, ImportError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read {path} as a {ext[1:]} table ({msg})") from None
    except Exception as exc:  # pyarrow / parser errors on a file that is something else
        raise UsageError(f"cannot read {path} as a {ext[1:]} table ({type(exc).__name__})") from None
    if df.empty:
        raise UsageError(f"{path} holds no rows")
    if "error" not in df:
        raise UsageError(f"{path} has no `error` column (top-1 error of each model, percent)")
    return df.copy()


def _architectures(df: pd.DataFrame, path: str) -> pd.DataFrame:
    """The per-stage list columns and the store's stage columns, from whichever form the table gives
    them in: list columns, per-stage numbers (w1, d1, ...), or a spec column."""
    for col in (*LIST_COLUMNS, "spec", "recipe"):
        if col in df:
            df[col] = df[col].map(_decode)
    if "spec" in df:
        df["spec"] = df["spec"].map(lambda s: json.dumps(s, sort_keys=True) if isinstance(s, dict) else s)
    if ("widths" not in df or "depths" not in df) and "spec" not in df and {"w1", "d1"} <= set(df.columns):
        df = _stage_lists(df, path)  # per-stage numbers (w1, d1, ...), as analyze's data/models.csv has them
    if "widths" not in df or "depths" not in df:
        if "spec" not in df:
            raise UsageError(f"{path} needs per-stage widths and depths (list columns widths, depths or "
                             f"numbers w1, d1, w2, d2, ...), or a spec column")
        return flatten_specs(df)
    for col in ("bottleneck_ratios", "group_widths"):
        if col not in df:
            df[col] = [[1.0] * len(d) if col == "bottleneck_ratios" else [1] * len(d) for d in df["depths"]]
    return stage_columns(df)


def _store_columns(df: pd.DataFrame, stem: str) -> pd.DataFrame:
    """The columns a store's trials have, filled where the table leaves them out: its space is the
    file's stem, a model without an error failed, trial ids are `<stem>#<row>`."""
    if "space" not in df:
        df["space"] = stem
    df["space"] = df["space"].fillna(stem).astype(str)
    if "spec_id" not in df:
        df["spec_id"] = df["id"].astype(str) if "id" in df else _list_ids(df)
    df["error"] = pd.to_numeric(df["error"], errors="coerce")
    if "status" not in df:
        df["status"] = np.where(df["error"].notna(), "done", "failed")
    if "trial_id" not in df:
        df["trial_id"] = [f"{stem}#{i}" for i in range(len(df))]
    for col, default in (("sweep", None), ("recipe", None), ("dataset", None), ("regime", None), ("seed", None)):
        if col not in df:
            df[col] = default
    return df


def _stage_lists(df: pd.DataFrame, path: str) -> pd.DataFrame:
    """The list columns (widths, depths, and bottleneck_ratios, group_widths where b1.., g1.. are
    given) from per-stage number columns w1, d1, b1, g1, w2, ...; a model's stages end where its
    width or depth is missing."""
    n = 1
    while f"w{n + 1}" in df and f"d{n + 1}" in df:
        n += 1

    def numbers(short):
        return df[[f"{short}{j}" for j in range(1, n + 1)]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)

    w, d = numbers("w"), numbers("d")
    present = np.isfinite(w) & np.isfinite(d)
    out = df.copy()
    for key, short, kind in (("widths", "w", int), ("depths", "d", int), ("bottleneck_ratios", "b", float),
                             ("group_widths", "g", int)):
        if all(f"{short}{j}" in df for j in range(1, n + 1)):
            values = numbers(short)
            if not (np.isfinite(values[present]).all() and (values[present] > 0 if short != "d" else
                                                            values[present] >= 0).all()):
                raise UsageError(f"{path}: the {key} columns {short}1..{short}{n} need a positive number for "
                                 f"every stage that has a width and a depth")
            out[key] = [[kind(v) for v, ok in zip(row, keep) if ok] for row, keep in zip(values, present)]
    return out


def _json_records(path: str) -> list:
    """Rows of a .jsonl/.json table: JSON lines, a JSON list of row objects, or an nds file
    (designspace.analysis.nds: one JSON document holding a list of records)."""
    from .nds import is_nds, read_nds

    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        whole = json.loads(text)
    except ValueError:  # several documents: JSON lines
        whole = None
    if whole is not None and is_nds(whole):
        return read_nds(path, obj=whole)
    if isinstance(whole, list):
        records = whole
    elif isinstance(whole, dict):
        records = [whole]
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(r, dict) for r in records):
        raise ValueError("every line must be a JSON object")
    return records


def _decode(v):
    """A list/mapping cell as read from csv (JSON text) or parquet (numpy arrays) -> Python objects."""
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _list_ids(df: pd.DataFrame) -> list[str]:
    """Model ids from the per-stage lists when a table has no id: equal architectures, equal ids."""
    import hashlib

    cols = [c for c in LIST_COLUMNS if c in df]
    return [hashlib.sha1(json.dumps([list(r) for r in row]).encode()).hexdigest()[:16]
            for row in zip(*(df[c] for c in cols))]


def _add_complexity(df: pd.DataFrame, path: str) -> pd.DataFrame:
    from ..complexity import complexity
    from ..regimes import get_regime
    from ..spec import ModelSpec

    if "spec" not in df or df["spec"].isna().any() or df["regime"].isna().any():
        raise UsageError(f"{path}: rows without flops need a spec and a regime column to compute it")
    out = df.copy()
    for col in ("flops", "params", "acts"):
        if col not in out:
            out[col] = np.nan
    missing = out["flops"].isna().to_numpy()
    for regime, idx in out[missing].groupby("regime").groups.items():
        specs = [ModelSpec.from_dict(json.loads(s)) for s in out.loc[idx, "spec"]]
        cx = complexity(specs, get_regime(regime))
        for col in ("flops", "params", "acts"):
            out.loc[idx, col] = np.asarray(cx[col], np.float64)
    return out


def _recipe_keys(recipes: pd.Series) -> pd.Series:
    """Canonical JSON text of each recipe (dicts shared between rows are dumped once)."""
    memo: dict[int, str] = {}

    def key(r):
        if r is None or (isinstance(r, float) and r != r):
            return ""
        if isinstance(r, str):
            return r
        k = id(r)
        if k not in memo:
            memo[k] = json.dumps(r, sort_keys=True, default=str)
        return memo[k]

    return recipes.map(key)


def model_table(df: pd.DataFrame, how: str = "mean", value: str = "error") -> pd.DataFrame:
    """One row per distinct model of the finished trials of `df`: the unit of every analysis.

    A model is (source, population, spec_id, recipe, dataset, regime); its trials' `value` is
    aggregated by `how` (mean, median or min). Other columns keep the model's first trial
    (trial_id, flops, widths, ...). Adds n_trials and error_std (the per-model sample standard
    deviation of `value`, ddof=1; NaN for a single trial). Rows that did not finish (status other
    than done, or no finite error) are left out; df.attrs["trials"] and ["models"] count both."""
    if how not in AGGREGATIONS:
        raise UsageError(f"unknown aggregation {how!r}; use one of {', '.join(AGGREGATIONS)}")
    err = pd.to_numeric(df[value], errors="coerce")
    ok = err.notna().to_numpy() & np.isfinite(err.to_numpy(np.float64, na_value=np.nan))
    if "status" in df:
        ok &= (df["status"] == "done").to_numpy()
    done = df[ok].reset_index(drop=True)
    e = err[ok].to_numpy(np.float64)
    keys = pd.DataFrame({
        "source": done["source"].astype(str) if "source" in done else "",
        "population": done["population"].astype(str) if "population" in done else done["space"].astype(str),
        "spec_id": done["spec_id"].astype(str),
        "recipe_key": _recipe_keys(done["recipe"]) if "recipe" in done else "",
        "dataset": done["dataset"].astype(str) if "dataset" in done else "",
        "regime": done["regime"].astype(str) if "regime" in done else "",
    })
    codes = keys.groupby(list(MODEL_KEY), sort=False, dropna=False).ngroup().to_numpy()
    n_models = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_models, len(codes), np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    out = done.iloc[first].reset_index(drop=True)
    if "population" not in out:
        out["population"] = out["space"].astype(str)
    counts = np.bincount(codes, minlength=n_models)
    sums = np.bincount(codes, weights=e, minlength=n_models)
    mean = np.divide(sums, counts, out=np.full(n_models, np.nan), where=counts > 0)
    sq = np.bincount(codes, weights=(e - mean[codes]) ** 2, minlength=n_models)
    std = np.where(counts > 1, np.sqrt(sq / np.maximum(counts - 1, 1)), np.nan)
    if how == "mean" or n_models == len(codes):
        agg = mean
    else:
        s = pd.Series(e).groupby(codes)
        agg = (s.median() if how == "median" else s.min()).reindex(range(n_models)).to_numpy()
    out[value] = agg
    out["n_trials"] = counts
    out[f"{value}_std"] = std
    out.attrs.update(df.attrs)
    out.attrs.update({"trials": int(len(df)), "finished_trials": int(len(done)), "models": n_models,
                      "aggregation": how})
    return out


def pooled_std(models: pd.DataFrame, value: str = "error", by: str | None = None):
    """Seed-to-seed standard deviation of `value` pooled over models with repeats:
    sqrt(sum_i (n_i - 1) s_i^2 / sum_i (n_i - 1)). A float (NaN when no model has repeats), or with
    `by` a DataFrame [by, pooled_std, models_with_repeats, dof]."""
    n = models["n_trials"].to_numpy(np.float64)
    s = models[f"{value}_std"].to_numpy(np.float64)
    rep = n > 1

    def pool(mask):
        dof = float(np.sum(n[mask] - 1))
        return (float(np.sqrt(np.sum((n[mask] - 1) * s[mask] ** 2) / dof)) if dof > 0 else float("nan")), dof

    if by is None:
        return pool(rep)[0]
    rows = []
    for name, idx in models.groupby(by, sort=True).indices.items():
        mask = np.zeros(len(models), bool)
        mask[idx] = True
        sd, dof = pool(mask & rep)
        rows.append({by: name, "pooled_std": sd, "models_with_repeats": int(np.sum(mask & rep)), "dof": dof})
    return pd.DataFrame(rows, columns=[by, "pooled_std", "models_with_repeats", "dof"])
