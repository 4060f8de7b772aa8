"""Rows: the stable machine-readable form of specs with their complexity (sample, describe --json)."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence

from .errors import UsageError
from .spec import ModelSpec

REGNET_FIELDS = ("d", "w0", "wa", "wm")


def spec_row(spec: ModelSpec, cx: dict, regime: str, i: int = 0) -> dict:
    """One row: id, space, per-stage lists, complexity, (RegNet d, w0, wa, wm), and the spec."""
    row = {
        "id": spec.id,
        "space": spec.space,
        "regime": regime,
        "widths": spec.widths,
        "depths": spec.depths,
        "strides": spec.strides,
        "bottleneck_ratios": spec.bottleneck_ratios,
        "group_widths": spec.group_widths,
        "se_ratio": spec.se_ratio,
        "flops": int(cx["flops"][i]),
        "params": int(cx["params"][i]),
        "acts": int(cx["acts"][i]),
    }
    for key in cx:
        if key.startswith("cx_"):  # families with a training graph: cx_train_flops, ...
            row[key] = int(cx[key][i])
    for key in REGNET_FIELDS:
        if key in spec.meta:
            row[key] = spec.meta[key]
    row["spec"] = spec.to_dict()
    return row


def spec_rows(specs: Sequence[ModelSpec], cx: dict, regime: str) -> list[dict]:
    return [spec_row(s, cx, regime, i) for i, s in enumerate(specs)]


def write_rows(rows: list[dict], out: str | None) -> None:
    """Write rows as .jsonl (default, stdout when out is None or '-'), .csv or .parquet."""
    if out in (None, "-"):
        sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))
        return
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".jsonl", ".json", ".csv", ".parquet"):
        raise UsageError(f"unknown output format {ext or out!r}; use .jsonl, .csv or .parquet")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"output directory does not exist: {parent}")
    # csv holds lists and the spec as JSON text; parquet holds lists natively, mappings (the spec)
    # as JSON text (their keys vary between families, which a parquet struct cannot)
    if ext == ".csv":
        flat = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()} for r in rows]
    elif ext == ".parquet":
        flat = [{k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()} for r in rows]
    else:
        flat = None
    tmp = out + ".tmp"
    try:
        if ext in (".jsonl", ".json"):
            with open(tmp, "w") as fh:
                fh.write("".join(json.dumps(r) + "\n" for r in rows))
        elif ext == ".csv":
            buf = io.StringIO()
            fields = list(dict.fromkeys(k for r in flat for k in r))
            writer = csv.DictWriter(buf, fieldnames=fields)
            writer.writeheader()
            writer.writerows(flat)
            with open(tmp, "w", newline="") as fh:
                fh.write(buf.getvalue())
        else:
            import pandas as pd

            pd.DataFrame(flat).to_parquet(tmp, index=False)
        os.replace(tmp, out)  # never leave a half-written file where a good one was
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


ROW_EXTENSIONS = (".jsonl", ".csv", ".parquet")


def _json_rows(path: str, text: str) -> list:
    """A JSON file as rows: one object, or JSON lines."""
    try:
        try:
            return [json.loads(text)]
        except ValueError:
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as exc:
                raise UsageError(f"{path} is not valid JSON or JSON lines ({exc.msg} at line "
                                 f"{exc.lineno})") from None
    except RecursionError:
        raise UsageError(f"{path} nests too deeply (JSON nested hundreds of levels); a spec is a few levels deep") \
            from None


def read_spec_row(path: str, row: int | None = None, id: str | None = None) -> dict:
    """One model from a file: a spec (.json), or a sample row of a .json/.jsonl/.csv/.parquet table
    (row number `row`, or the row whose id is `id`; default the first).

    Returns {"spec": ModelSpec, "regime": the row's regime or None, "row": the row's fields,
    "index": its row number, "rows": rows in the file}. Every problem (missing, binary or non-JSON
    file, no such row) is a one-line UsageError."""
    import pandas as pd

    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None
    if ext == ".parquet":
        try:
            rows = pd.read_parquet(io.BytesIO(data)).to_dict(orient="records")
        except Exception as exc:  # pyarrow raises many types on a file that is not parquet
            raise UsageError(f"{path} is not a readable parquet table ({type(exc).__name__})") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path} is a binary file, not a JSON spec or a table of rows") from None
        if ext == ".csv":
            try:
                rows = list(csv.DictReader(io.StringIO(text)))
            except csv.Error as exc:
                raise UsageError(f"{path} is not a readable csv table ({exc})") from None
        else:
            rows = _json_rows(path, text)
    if not rows:
        raise UsageError(f"{path} holds no rows")
    if id is not None:
        found = [i for i, r in enumerate(rows) if isinstance(r, dict) and str(r.get("id")) == str(id)]
        if not found:
            raise UsageError(f"{path} has no row with id {id}")
        index = found[0]
    else:
        index = 0 if row is None else int(row)
        if not 0 <= index < len(rows):
            raise UsageError(f"--row {index} is outside {path} (rows 0..{len(rows) - 1})")
    r = rows[index]
    if not isinstance(r, dict):
        raise UsageError(f"{path}: row {index} is not a JSON object")
    spec_obj = r.get("spec", r)
    if isinstance(spec_obj, str):
        try:
            spec_obj = json.loads(spec_obj)
        except ValueError:
            raise UsageError(f"{path}: row {index} has a spec that is not valid JSON") from None
    try:
        spec = ModelSpec.from_dict(spec_obj)
    except RecursionError:
        raise UsageError(f"{path}: row {index} nests too deeply to be a spec") from None
    regime = r.get("regime") if "spec" in r else None
    regime = regime if isinstance(regime, str) and regime else None
    return {"spec": spec, "regime": regime, "row": r, "index": index, "rows": len(rows)}
