"""A sequential suite (schema 2, `schedule: {kind: sequential, looks: [...]}`) run in rounds.

At look k every sweep that an open part uses is extended to n_k models per space through the
ordinary sweep machinery (the same sweep, its plan extended: sampling is prefix-stable, so the
first n models of a space and seed are the same however many are drawn, and a look only adds
models), then the whole suite is judged on the first n_k models of each sweep's spaces, each part
at look k's spent level (designspace.stats.sequential; multiplicity applied as in a fixed run). A
part decided at a look keeps that look's verdict and numbers; a sweep stops growing once every part
that uses it is decided or capped. A sweep never grows past its own models_per_space nor the last
look (the cap).

Resumable: a rerun replays the looks on the stored models (judging is seed-free), so it trains only
what the interrupted round left, and with --analyze-only it replays them without training.
"""
from __future__ import annotations

import os
import sqlite3

from ..stats.decisions import CONTRADICTED, HOLDS
from ..stats.sequential import PartState, Schedule, open_arms
from .judge import Stores
from .statistics import combine

DECIDED = (HOLDS, CONTRADICTED)


class LookStores(Stores):
    """The suite's stores cut to the first `sizes[key]` models of each space of sweep `key`, in the
    order of the sweep's stored plan (its sampling order)."""

    def __init__(self, suite, store_dir, sizes: dict):
        super().__init__(suite, store_dir)
        self.sizes = dict(sizes)

    def _read(self, key: str):
        df = super()._read(key)
        if df is None or key not in self.sizes:
            return df
        plan = _stored_plan(self.path(key), key)
        if not plan:
            return df
        pos: dict = {}
        for i, tid in enumerate(plan):
            pos.setdefault(tid, i)
        where = df["trial_id"].map(pos)
        first = where.groupby([df["space"], df["spec_id"]]).transform("min")
        ranks = first.groupby(df["space"]).rank(method="dense") - 1
        keep = where.notna() & (ranks < self.sizes[key])
        return df[keep.to_numpy()].reset_index(drop=True)


def _recorded(path: str, key: str) -> dict:
    """The sweep's stored record (plan, identity), read without creating anything beside the store;
    {} where there is no store or no such sweep."""
    import contextlib

    from ..store import get_sweep, open_read_only

    if not os.path.isfile(path):
        return {}
    try:
        with contextlib.closing(open_read_only(path)) as con:
            return get_sweep(con, key) or {}
    except sqlite3.Error:
        return {}


def _stored_plan(path: str, key: str) -> list | None:
    return _recorded(path, key).get("plan")


def _stored_models_per_space(path: str, key: str) -> int | None:
    return (_recorded(path, key).get("identity") or {}).get("models_per_space")


def schedule_of(suite) -> Schedule:
    declared = suite.rules.schedule
    return Schedule(tuple(declared.looks), declared.spending)


def run_rounds(suite, keys: list, store_dir: str, *, analyze_only: bool = False, address=None, data_dir=None,
               progress: bool = True, retry_failed: bool = False, log=None, seed=None) -> tuple[dict, list]:
    """Train (unless analyze_only) and judge a sequential suite look by look. Returns (the judge's
    result for the whole suite with each part's deciding look, the sweeps' problems this run)."""
    from .decide import judge_suite

    schedule = schedule_of(suite)
    alpha = (1.0 - suite.level) / 2.0
    levels = schedule.levels(alpha)
    seed = suite.seed if seed is None else seed
    caps = {k: min(suite.sweep_config(k, store_dir).models_per_space, schedule.cap) for k in keys}
    size = {k: 0 for k in keys}
    growing = list(keys)
    arms_of = _sweeps_of_parts(suite)
    kept: dict = {}  # (claim id, part index) -> the part at its deciding look
    states: dict = {}  # (claim id, part index) -> PartState after the latest look
    rounds, trouble, judged, stores = [], [], None, None
    for k, n in enumerate(schedule.looks):
        look = f"look {k + 1}/{len(schedule.looks)}"
        for key in growing:
            size[key] = min(n, caps[key])
        if not analyze_only:
            trouble += _grow(suite, growing, size, store_dir, f"{look} ({n} models per arm)", log,
                             address=address, data_dir=data_dir, progress=progress, retry_failed=retry_failed)
        stores = LookStores(suite, store_dir, size)
        judged = judge_suite(stores, suite.claims, seed, alpha=float(levels[k]))
        _note_look(judged, k, n, float(levels[k]), size, arms_of, states, kept)
        still = open_arms(states, arms_of, schedule)
        growing = [key for key in keys if key in still and size[key] < caps[key]]
        n_open = sum(1 for key in arms_of if key not in kept)
        rounds.append(_round_record(k, n, float(levels[k]), size, len(kept), n_open, growing))
        print(f"reproduce: {look} judged at level {levels[k]:.3g}: {len(kept)} part(s) decided, {n_open} open; "
              + (f"still growing: {', '.join(growing)}" if growing else "no sweep grows further"),
              file=log, flush=True)
        if not growing:
            break
    _settle(judged, kept, size, caps)
    sweeps = {k: stores.progress(k) for k in keys}
    schedule_block = {"kind": "sequential", "looks": list(schedule.looks), "spending": schedule.spending,
                      "alpha_one_sided": alpha, "levels": [float(x) for x in levels], "rounds": rounds}
    return {"claims": judged, "sweeps": sweeps, "schedule": schedule_block}, trouble


def _round_record(k: int, n: int, level: float, size: dict, decided: int, still_open: int, growing: list) -> dict:
    return {"look": k + 1, "models_per_arm": n, "level": level, "models_per_space": dict(size), "decided": decided,
            "open": still_open, "growing": list(growing)}


def _sweeps_of_parts(suite) -> dict:
    """(claim id, part index) -> the sweeps the part reads (an arm is a sweep's space, and a sweep
    grows as a whole, so a part keeps every sweep of its arms growing while it is open)."""
    return {(c.id, i): list(dict.fromkeys(s for arm in p.arms.values() for s in arm.sweeps))
            for c in suite.claims if not c.skip for i, p in enumerate(c.parts)}


def _grow(suite, growing: list, size: dict, store_dir: str, look: str, log, **sweep_options) -> list:
    """Extend each growing sweep to size[key] models per space; the problems this run met."""
    from ..sweep import parse_config, run_sweep

    trouble = []
    if growing:
        os.makedirs(store_dir, exist_ok=True)
    for key in growing:
        stored = _stored_models_per_space(suite.store(key, store_dir), key)
        if stored is not None and stored > size[key]:
            continue  # extended past this look by an earlier run: the first size[key] are there
        cfg = parse_config({**suite.sweeps[key], "models_per_space": size[key],
                            "store": suite.store(key, store_dir)}, f"{suite.path}: sweeps.{key}")
        print(f"reproduce: {look}: sweep {key} to {size[key]} models per space -> {cfg.store}", file=log, flush=True)
        counts = run_sweep(cfg, out=log, **sweep_options)
        bad = counts.get("failed", 0) + counts.get("timeout", 0)
        if bad:
            trouble.append(f"sweep {key}: {bad} trials failed or timed out this run")
    return trouble


def _note_look(judged: list, k: int, n: int, level: float, size: dict, arms_of: dict, states: dict, kept: dict):
    """Record look k on every part not decided before it (its state, and a `sequential` note); a part
    decided here is kept with this look's verdict and numbers."""
    for entry in judged:
        for i, part in enumerate(entry.get("parts", [])):
            if (entry["id"], i) in kept:
                continue
            state = PartState(part.get("verdict"), k, n, float(part.get("p_adjusted", float("nan"))),
                              level, part.get("verdict") in DECIDED)
            states[(entry["id"], i)] = state
            part["sequential"] = {"look": k + 1, "models_per_space": {s: size[s] for s in arms_of[(
                entry["id"], i)] if s in size}, "level": state.level, "decided": state.decided}
            if state.decided:
                kept[(entry["id"], i)] = part


def _settle(judged: list, kept: dict, size: dict, caps: dict):
    """Put each decided part back at its deciding look, mark the open parts whose sweeps reached
    their cap, and recombine each claim's verdict from its parts."""
    for entry in judged:
        parts = entry.get("parts", [])
        for i in range(len(parts)):
            parts[i] = kept.get((entry["id"], i), parts[i])
            seq = parts[i].get("sequential")
            if seq is not None:
                seq["capped"] = not seq["decided"] and all(size[s] >= caps[s] for s in seq["models_per_space"])
        if parts and not entry.get("skip"):
            entry["verdict"] = combine([p["verdict"] for p in parts])
            entry["missing"] = list(dict.fromkeys(m for p in parts for m in p.get("missing", [])))
