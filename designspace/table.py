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
