"""Views of a store for analysis: tidy DataFrames (one row per trial, spec fields flattened; one row per
epoch), exports to parquet/CSV, and the per-sweep summary `status` polls."""
from __future__ import annotations

import json
import os
import re

from ..errors import UsageError
from .sql import EPOCH_COLUMNS, STATUSES, connect, has_table, planned


def load_epochs(db: str, sweep: str | None = None, trial_ids=None):
    """Per-epoch records as a tidy DataFrame: one row per trial and epoch, with trial_id, sweep,
    space, spec_id, seed, epoch, train_loss, test_error (%), lr, seconds (of `sweep` and of the
    trials `trial_ids` where given)."""
    import pandas as pd

    con = connect(db, create=False)
    try:
        if not has_table(con, "epochs"):  # a store from before per-epoch records
            return pd.DataFrame(columns=["trial_id", "sweep", "space", "spec_id", "seed", *EPOCH_COLUMNS])
        q = ("SELECT e.trial_id, t.sweep, t.space, t.spec_id, t.seed, e.epoch, e.train_loss, e.test_error, e.lr, "
             "e.seconds FROM epochs e JOIN trials t ON t.trial_id = e.trial_id")
        where, args = [], []
        if sweep is not None:
            where.append("t.sweep = ?")
            args.append(sweep)
        if trial_ids is not None:
            where.append("e.trial_id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(trial_ids)))
        if where:
            q += " WHERE " + " AND ".join(where)
        return pd.read_sql_query(q + " ORDER BY t.sweep, e.trial_id, e.epoch", con, params=tuple(args))
    finally:
        con.close()


def load(db: str, sweep: str | None = None, flatten: bool = True, executor=None):
    """The store as a tidy DataFrame: one row per trial, one column per variable.

    recipe and extra are dicts, started_at/finished_at UTC timestamps (pandas datetimes), spec
    the ModelSpec JSON text. With flatten (default) the spec's fields become columns: widths,
    depths, strides, bottleneck_ratios, group_widths (per-stage lists), num_stages, d (total
    blocks; RegNet's d where the spec is a RegNet), w1..wS, d1..dS, b1..bS, g1..gS, se_ratio,
    family, and RegNet w0, wa, wm where the spec has them. executor: see flatten_specs."""
    import pandas as pd

    con = connect(db, create=False)
    try:
        q, args = "SELECT * FROM trials", ()
        if sweep is not None:
            q, args = q + " WHERE sweep = ?", (sweep,)
        df = pd.read_sql_query(q + " ORDER BY finished_at, trial_id", con, params=args)
    finally:
        con.close()
    for key in ("recipe", "extra"):
        df[key] = _json_column(df[key])
    for key in ("started_at", "finished_at"):
        df[key] = pd.to_datetime(pd.to_numeric(df[key], errors="coerce"), unit="s", utc=True)
    return flatten_specs(df, executor) if flatten else df


def _json_column(col):
    """JSON text -> dicts (None stays None); each distinct text is parsed once (recipes repeat)."""
    parsed = {t: json.loads(t) for t in col.dropna().unique()}
    return col.map(lambda t: None if t is None or t != t else parsed[t])


LIST_COLUMNS = ("widths", "depths", "strides", "bottleneck_ratios", "group_widths")


PARALLEL_MIN_SPECS = 4000  # with an executor, specs are parsed in chunks there from this many on
ARROW_MIN_SPECS = 2000  # from this many spec texts on, Arrow's JSON reader parses them (several times faster)


def flatten_specs(df, executor=None):
    """Add the flattened spec columns to a DataFrame holding a `spec` column (JSON text or dicts).
    Many spec texts are parsed by Arrow's JSON reader when it gives exactly what json.loads would
    (spec_columns_arrow); otherwise, with an executor (e.g. a process pool), in chunks there."""
    import pandas as pd

    if df.empty:
        out = df.copy()
        for col in (*LIST_COLUMNS, "num_stages", "d", "se_ratio", "family"):
            out[col] = pd.Series(dtype=object)
        return out
    specs = df["spec"].tolist()
    arrow = _arrow_spec_columns(specs) if len(specs) >= ARROW_MIN_SPECS else None
    cols, stage_values = arrow or (None, None)
    if cols is None and executor is not None and len(specs) >= PARALLEL_MIN_SPECS:
        size = -(-len(specs) // 4)
        parts = list(executor.map(spec_columns, [specs[i:i + size] for i in range(0, len(specs), size)]))
        cols = {key: [v for part in parts for v in part[key]] for key in parts[0]}
    elif cols is None:
        cols = spec_columns(specs)
    for key in ("w0", "wa", "wm"):
        if not any(v == v for v in cols[key]):  # every value NaN: no RegNet parameters in these specs
            del cols[key]
    cols.update(stage_values or _stage_values(cols))
    # one concat instead of a column insert per field (each insert consolidates the frame again)
    return pd.concat([df.drop(columns=[c for c in cols if c in df]),
                      pd.DataFrame(cols, index=df.index)], axis=1)


def spec_columns(specs) -> dict[str, list]:
    """The per-model columns of specs (JSON texts or dicts): per-stage lists, se_ratio, RegNet w0, wa,
    wm (NaN where absent) and family. Module-level, so a process pool can run it on a chunk."""
    specs = [json.loads(s) if isinstance(s, str) else s for s in specs]
    stages = [s["stages"] for s in specs]
    cols: dict[str, list] = {
        "widths": [[st["width"] for st in ss] for ss in stages],
        "depths": [[st["depth"] for st in ss] for ss in stages],
        "strides": [[st["stride"] for st in ss] for ss in stages],
        "bottleneck_ratios": [[st["bottleneck_ratio"] for st in ss] for ss in stages],
        "group_widths": [[st["group_width"] for st in ss] for ss in stages],
        "se_ratio": [max([st["se_ratio"] for st in ss], default=0.0) for ss in stages],
    }
    for key in ("w0", "wa", "wm"):
        cols[key] = [s.get("meta", {}).get(key, float("nan")) for s in specs]
    cols["family"] = [_family(s, ss) for s, ss in zip(specs, stages)]
    return cols


def _family(spec: dict, stages: list) -> str:
    return "+".join(sorted({k for st in stages for k in st.get("family", {})} | set(spec.get("family", {}))))


_STAGE_INTS = {"width": "widths", "depth": "depths", "stride": "strides", "group_width": "group_widths"}
_STAGE_NUMBERS = {"bottleneck_ratio": "bottleneck_ratios", "se_ratio": "se_ratio"}
_NONEMPTY_FAMILY = re.compile(r'"family"\s*:\s*\{\s*"')


def spec_columns_arrow(specs) -> dict[str, list] | None:
    """spec_columns of JSON spec texts through Arrow's JSON reader, or None where its result could
    differ from json.loads' (then the caller parses them in Python).

    Arrow types a field per column: a field that mixes JSON integers and decimals comes back all
    floats, where json.loads keeps each value's own type (and a list of them prints differently).
    So integer fields must come back as integers, and a decimal field is accepted only when no
    value of it is written as an integer (one regular-expression scan of the texts). Families are
    key sets, which Arrow's structs cannot tell apart from null values: specs that name a family
    are parsed in Python, one by one."""
    arrow = _arrow_spec_columns(specs)
    return None if arrow is None else arrow[0]


def _arrow_spec_columns(specs) -> tuple[dict[str, list], dict] | None:
    """(spec_columns_arrow's columns, their _stage_values as arrays) or None."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        text = "\n".join(specs)
    except TypeError:  # dicts, not texts
        return None
    if text.count("\n") != len(specs) - 1:  # a text spanning lines (Arrow reads one object per line)
        return None
    try:
        table = pj.read_json(pa.py_buffer(text.encode()))
    except (pa.ArrowException, ValueError):
        return None
    if "stages" not in table.column_names or table.num_rows != len(specs):
        return None
    stages = table.column("stages").combine_chunks()
    if not pa.types.is_list(stages.type) or not pa.types.is_struct(stages.type.value_type) or stages.null_count:
        return None
    fields = {f.name: f.type for f in stages.type.value_type}
    if any(fields.get(k) != pa.int64() for k in _STAGE_INTS) or \
            any(k not in fields or not pa.types.is_floating(fields[k]) and fields[k] != pa.int64()
                for k in _STAGE_NUMBERS):
        return None
    for k in _STAGE_NUMBERS:
        if pa.types.is_floating(fields[k]) and re.search(rf'"{k}"\s*:\s*-?\d+\s*[,}}]', text):
            return None  # some value written as an integer: json.loads would keep it one
    cols = _arrow_stage_lists(stages)
    regnet = _arrow_regnet(table, text, len(specs))
    if cols is None or regnet is None:
        return None
    cols.update(regnet)
    cols["family"] = _families(specs, text)
    return cols, _arrow_stage_values(stages)


def _arrow_stage_lists(stages) -> dict | None:
    """The per-stage list columns and each model's largest se_ratio from Arrow's stages column."""
    import numpy as np
    import pyarrow as pa

    flat = stages.flatten()
    if any(flat.field(key).null_count for key in (*_STAGE_INTS, *_STAGE_NUMBERS)):
        return None
    offsets = stages.offsets
    # each model's lists through Arrow's own conversion (a Python slice per model costs several times more)
    cols: dict[str, list] = {_STAGE_INTS.get(key) or _STAGE_NUMBERS[key]:
                             pa.ListArray.from_arrays(offsets, flat.field(key)).to_pylist()
                             for key in (*_STAGE_INTS, "bottleneck_ratio")}
    # each model's largest se_ratio (0.0 without stages), as max() would give it
    offsets = offsets.to_numpy()
    se, starts = flat.field("se_ratio").to_numpy(), offsets[:-1]
    has = np.diff(offsets) > 0
    top = np.maximum.reduceat(se, starts[has]).tolist() if has.any() else []
    se_ratio = [0.0] * (len(offsets) - 1)
    for row, value in zip(np.flatnonzero(has).tolist(), top):
        se_ratio[row] = value
    return {**{name: cols[name] for name in LIST_COLUMNS}, "se_ratio": se_ratio}


def _arrow_stage_values(stages) -> dict:
    """_stage_values of Arrow's stages column, as arrays: a stage column is integer where every
    model has the stage (as the lists of Python numbers make it) and float with NaN past a model's
    stages otherwise. Per array, instead of a Python loop over the models per stage column."""
    import numpy as np

    flat, offsets = stages.flatten(), stages.offsets.to_numpy()
    starts, num = offsets[:-1], np.diff(offsets)
    total = np.concatenate(([0], np.cumsum(flat.field("depth").to_numpy())))
    out: dict = {"num_stages": num.astype(np.int64), "d": total[offsets[1:]] - total[starts]}
    max_s = int(num.max()) if len(num) else 0
    for key, short in (("width", "w"), ("depth", "d"), ("bottleneck_ratio", "b"), ("group_width", "g")):
        values = flat.field(key).to_numpy()
        for j in range(max_s):
            has = num > j
            if has.all():
                out[f"{short}{j + 1}"] = values[starts + j]
            else:
                column = np.full(len(num), np.nan)
                column[has] = values[starts[has] + j]
                out[f"{short}{j + 1}"] = column
    return out


def _arrow_regnet(table, text: str, n: int) -> dict | None:
    """RegNet w0, wa, wm (NaN where a spec has none) from Arrow's meta column, or None where they
    could differ from json.loads' (a null value, a non-numeric one)."""
    import pyarrow as pa

    meta = table.column("meta").combine_chunks() if "meta" in table.column_names else None
    if meta is not None and (not pa.types.is_struct(meta.type) or meta.null_count):
        return None
    if re.search(r'"(w0|wa|wm)"\s*:\s*null', text):
        return None  # json.loads gives None there, Arrow a missing value (NaN here)
    cols = {}
    for key in ("w0", "wa", "wm"):
        present = meta is not None and meta.type.get_field_index(key) >= 0
        if present and not (pa.types.is_integer(meta.type.field(key).type) or
                            pa.types.is_floating(meta.type.field(key).type)):
            return None
        values = meta.field(key).to_pylist() if present else [None] * n
        cols[key] = [float("nan") if v is None else v for v in values]
    return cols


def _families(specs, text: str) -> list[str]:
    """Each spec's family names ("" for most): only the specs that name one are parsed."""
    import numpy as np

    out = [""] * len(specs)
    found = [m.start() for m in _NONEMPTY_FAMILY.finditer(text)]
    if not found:
        return out
    line_starts = np.cumsum([0] + [len(s) + 1 for s in specs[:-1]])
    for row in np.unique(np.searchsorted(line_starts, found, side="right") - 1):
        spec = json.loads(specs[row])
        out[row] = _family(spec, spec["stages"])
    return out


def stage_columns(df):
    """From the per-stage list columns (widths, depths, bottleneck_ratios, group_widths), add
    num_stages, d (total blocks) and w1..wS, d1..dS, b1..bS, g1..gS (NaN past a model's stages)."""
    out = df.copy()
    for key, values in _stage_values({c: list(df[c]) for c in LIST_COLUMNS if c in df}).items():
        out[key] = values
    return out


def _stage_values(lists: dict) -> dict:
    """{num_stages, d, w1.., d1.., b1.., g1..: values} of per-stage lists {widths: [...], depths: [...], ...}."""
    import numpy as np

    depths = lists["depths"]
    num = np.fromiter((len(v) for v in depths), np.int64, len(depths))
    out: dict = {"num_stages": num, "d": np.fromiter((sum(v) for v in depths), np.int64, len(depths))}
    max_s = int(num.max()) if len(num) else 0
    for key, short in (("widths", "w"), ("depths", "d"), ("bottleneck_ratios", "b"), ("group_widths", "g")):
        if key not in lists:
            continue
        values = lists[key]
        for j in range(max_s):
            out[f"{short}{j + 1}"] = [v[j] if j < len(v) else np.nan for v in values]
    return out


def export(db: str, out: str) -> None:
    """Export a store to .parquet or .csv (lists and JSON as strings in CSV)."""
    df = load(db)
    df = df.assign(**{c: df[c].map(lambda v: None if v is None else json.dumps(v, sort_keys=True))
                      for c in ("recipe", "extra")})  # free-form mappings: JSON text in both formats
    ext = os.path.splitext(out)[1].lower()
    if ext == ".parquet":
        df.to_parquet(out, index=False)
    elif ext == ".csv":
        df.assign(**{c: df[c].map(json.dumps) for c in df.columns if df[c].map(type).eq(list).any()}).to_csv(
            out, index=False)
    else:
        raise UsageError(f"unknown export format {ext!r}; use .parquet or .csv")



def summary(db: str) -> list[dict]:
    """Per sweep: planned vs stored, and per space: counts by status, best and median error.

    Reads with plain SQL (no spec flattening), so it is cheap enough to poll while a sweep writes."""
    import statistics

    con = connect(db, create=False)
    try:
        plans = planned(con) if has_table(con, "sweeps") else {}
        rows = con.execute("SELECT sweep, space, status, error, images_per_s, seconds FROM trials").fetchall()
    finally:
        con.close()
    sweeps: dict[str, dict] = {name: {"sweep": name, "planned": n, "spaces": {}} for name, n in plans.items()}
    for sweep, space, status, error, ips, seconds in rows:
        sw = sweeps.setdefault(sweep, {"sweep": sweep, "planned": None, "spaces": {}})
        sp = sw["spaces"].setdefault(space, {"space": space, **{s: 0 for s in STATUSES}, "errors": [],
                                             "images_per_s": [], "seconds": 0.0})
        sp[status] = sp.get(status, 0) + 1
        if status == "done" and error is not None:
            sp["errors"].append(error)
            if ips:
                sp["images_per_s"].append(ips)
        sp["seconds"] += seconds or 0.0
    out = []
    for sw in sweeps.values():
        spaces = []
        for sp in sw["spaces"].values():
            errs = sp.pop("errors")
            ips = sp.pop("images_per_s")
            sp["stored"] = sum(sp[s] for s in STATUSES)
            sp["best_error"] = min(errs) if errs else None
            sp["median_error"] = statistics.median(errs) if errs else None
            sp["median_images_per_s"] = statistics.median(ips) if ips else None
            spaces.append(sp)
        sw["spaces"] = sorted(spaces, key=lambda s: s["space"])
        sw["stored"] = sum(s["stored"] for s in spaces)
        for s in STATUSES:
            sw[s] = sum(sp[s] for sp in spaces)
        out.append(sw)
    return sorted(out, key=lambda s: s["sweep"])
