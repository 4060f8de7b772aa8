"""Populations released by nds (Radosavovic et al., "On Network Design Spaces for Visual
Recognition", github.com/facebookresearch/nds): one JSON file per design space.

    read_nds(path, space=None)   -> one row per record, in the columns `read_table` accepts
    is_nds(obj)                  -> whether parsed JSON looks like an nds file

nds's file `<Space>.json` is a JSON list of records (a few files: {"top": [...], "mid": [...]}),
one per trained model: `min_test_top1` (the lowest test top-1 error over the epochs, in percent;
what nds's notebooks plot), `test_ep_top1` (the test error after each epoch), `flops` and `params`
(counts), `net` (the model's configuration), `optim` (base_lr, wd, max_ep...), `rng_seed`, `job_id`.
A model's error here is `min_test_top1`, or the last `test_ep_top1` where a record lacks it.

`net` holds per-stage lists for the ResNet/ResNeXt/Vanilla spaces (ds depths, ws widths, ss
strides, bms or bot_muls bottleneck multipliers, gws group widths or num_gs numbers of groups):
they become our widths, depths, strides, bottleneck ratios (b = 1 / bm) and group widths, so
e_fit and the trends apply. The cell-based spaces (DARTS, ENAS, PNAS, NASNet, Amoeba: a `genotype`)
have no stages: their models get empty stage lists, which the analysis treats as "no widths"
(EDFs, normalized EDFs, ranking and search efficiency still apply).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Annotated

from pydantic import Field

from ..errors import UsageError
from ..schema import Number, check

_PERCENT = Annotated[Number, Field(ge=0, le=100)]
_POSITIVE = Annotated[Number, Field(gt=0)]
ERROR_FIELDS = ("min_test_top1", "test_ep_top1")


def is_nds(obj) -> bool:
    """True for a JSON list of records with nds's error fields, or nds's {"top": [...], "mid": [...]}."""
    if isinstance(obj, dict) and "top" in obj:
        return True
    return isinstance(obj, list) and bool(obj) and isinstance(obj[0], dict) and any(k in obj[0] for k in ERROR_FIELDS)


def _records(obj):
    if isinstance(obj, dict):
        parts = [obj.get("top"), obj.get("mid") or []]
        return parts[0] + parts[1] if all(isinstance(p, list) for p in parts) else None
    return obj if isinstance(obj, list) else None


def read_nds(path: str, space: str | None = None, obj=None) -> list[dict]:
    """The records of an nds file as table rows (space, id, error, flops, params, seed, recipe,
    dataset, regime, widths, depths, strides, bottleneck_ratios, group_widths, nds_job_id).

    space: the design space's name (default: the file's stem, e.g. ResNeXt-A). obj: the file's
    parsed JSON, when the caller has it. UsageError (one line) for a file that is not nds's format."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if obj is None:
        try:
            with open(path, encoding="utf-8") as fh:
                obj = json.load(fh)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path} as an nds file ({str(exc).splitlines()[0]})") from None
    records = _records(obj)
    if not records:
        raise UsageError(f"{path} is not an nds file: expected a JSON list of records (or nds's "
                         f"{{\"top\": [...], \"mid\": [...]}}) holding at least one record")
    # nds's ImageNet files end in _in (ResNeXt-A_in.json); the others were trained on CIFAR-10
    imagenet = stem.endswith("_in")
    rows = [_row(r, k, path, space or stem, imagenet) for k, r in enumerate(records)]
    return rows


def _row(rec, k: int, path: str, space: str, imagenet: bool) -> dict:
    where = f"{path}: record {k}"
    if not isinstance(rec, dict):
        raise UsageError(f"{where} is not a JSON object")
    net = rec.get("net")
    if not isinstance(net, dict):
        raise UsageError(f"{where} has no `net` configuration")
    error = _error(rec, where)
    out = {
        "space": space,
        "id": hashlib.sha1(json.dumps(net, sort_keys=True).encode()).hexdigest()[:16],
        "error": error,
        "flops": _count(rec, "flops", where), "params": _count(rec, "params", where),
        "seed": rec.get("rng_seed"),
        "recipe": rec.get("optim") if isinstance(rec.get("optim"), dict) else None,
        "dataset": "imagenet" if imagenet else "cifar10",
        "regime": "imagenet" if imagenet else "cifar",
        "nds_job_id": rec.get("job_id"),
    }
    out.update(_stages(net, where))
    return out


def _error(rec: dict, where: str) -> float:
    value = rec.get("min_test_top1")
    if value is None:
        curve = rec.get("test_ep_top1")
        value = curve[-1] if isinstance(curve, list) and curve else None
    if value is None:
        raise UsageError(f"{where} has no test error (`min_test_top1` or `test_ep_top1`)")
    return check(_PERCENT, value, f"{where}: the test error (a percentage)")


def _count(rec: dict, key: str, where: str) -> float:
    return check(_POSITIVE, rec.get(key), f"{where}: `{key}`")


def _stages(net: dict, where: str) -> dict:
    """Per-stage lists from an AnyNet-style `net`; empty lists for a cell-based one (genotype)."""
    if "ds" not in net and "ws" not in net:
        return {"widths": [], "depths": [], "strides": [], "bottleneck_ratios": [], "group_widths": []}
    ds, ws = net.get("ds"), net.get("ws")
    n = len(ds) if isinstance(ds, list) else -1
    ss = net.get("ss", [1] * max(n, 0))
    bms = net.get("bms", net.get("bot_muls", [1.0] * max(n, 0)))
    ok = isinstance(ws, list) and len(ws) == n and all(
        isinstance(v, list) and len(v) == n for v in (ss, bms)) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in [*ws, *ss, *bms]) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in ds)
    if not ok:
        raise UsageError(f"{where}: `net` needs per-stage lists ds, ws (and ss, bms) of equal length, "
                         f"positive numbers")
    w_b = [max(1, int(round(w * bm))) for w, bm in zip(ws, bms)]
    if "gws" in net:
        gws = net["gws"]
    elif "num_gs" in net:  # numbers of groups: group width = bottleneck width / groups
        gs = net["num_gs"]
        gws = [max(1, wb // g) if isinstance(g, int) and g > 0 else None for wb, g in zip(w_b, gs)] \
            if isinstance(gs, list) and len(gs) == n else None
    else:
        gws = w_b  # no groups given: a plain convolution
    if not isinstance(gws, list) or len(gws) != n or not all(isinstance(g, int) and g > 0 for g in gws):
        raise UsageError(f"{where}: `net` group widths (gws or num_gs) must be positive whole numbers, one "
                         f"per stage")
    return {"widths": [int(w) for w in ws], "depths": list(ds), "strides": [int(s) for s in ss],
            "bottleneck_ratios": [1.0 / bm for bm in bms], "group_widths": gws}
