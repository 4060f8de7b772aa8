"""Judge a suite's claims on the stores that exist: arms -> model values -> statistic -> verdict.

Read-only: stores are opened read-only (through analysis.population), nothing is written here.
An arm whose sweep has no store, or whose store holds no finished model of the arm's space, is
named ("missing: sweep base (results/paper/cpu/base.db) for claim 5") and its part is "not run";
judge() also leaves a part not run while its sweep is incomplete (fewer trials stored than the
sweep's recorded plan).
"""
from __future__ import annotations

import os
import sqlite3

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..store import read_only_uri
from .statistics import MIN_MODELS, NOT_RUN, PAIRED, STATISTICS, combine, compute, rule_text, verdict
from .suite import DERIVED_VALUES, Arm, Suite


class Stores:
    """Per sweep key: its trials and model table, read once and shared by every claim."""

    def __init__(self, suite: Suite, store_dir: str | None = None, require_complete: bool = False):
        """require_complete: a sweep whose store holds fewer trials than its recorded plan counts as
        missing (judging it would be an unplanned interim look at a fixed design); a pilot, a
        sequential look or a live view reads whatever is there."""
        self.suite = suite
        self.store_dir = store_dir
        self.require_complete = require_complete
        self._trials: dict = {}
        self._models: dict = {}
        self._missing: dict = {}
        self._incomplete: dict = {}  # rows of sweeps left unjudged as incomplete (progress still counts them)

    def path(self, key: str) -> str:
        return self.suite.store(key, self.store_dir)

    def trials(self, key: str) -> pd.DataFrame | None:
        """Trials of sweep `key` (None when missing; the reason in missing(key))."""
        if key not in self._trials:
            self._trials[key] = self._read(key)
        return self._trials[key]

    def missing(self, key: str) -> str | None:
        self.trials(key)
        return self._missing.get(key)

    def _read(self, key: str):
        from ..analysis.population import read_population

        path = self.path(key)
        if not os.path.isfile(path):
            self._missing[key] = f"sweep {key} has no store ({path})"
            return None
        try:
            df = read_population([path], sweeps=[key])
        except UsageError as exc:
            self._missing[key] = f"sweep {key}: {exc}"
            return None
        if df.empty:
            self._missing[key] = f"sweep {key} has no trials in {path}"
            return None
        if self.require_complete:
            planned = self.progress_counts(key)["planned"]
            if planned is not None and len(df) < planned:
                self._missing[key] = (f"sweep {key} is incomplete: {len(df)} of {planned} planned trials stored "
                                      f"(its claims are judged once it is complete; rerun reproduce to finish it)")
                self._incomplete[key] = df
                return None
        return df

    def models(self, key: str) -> pd.DataFrame | None:
        """One row per model of sweep `key` (model_table with the suite's aggregation), plus the
        derived design values (e_fit, d, b, g, w0, wa, wm) computed on first use."""
        if key not in self._models:
            from ..analysis.population import model_table

            df = self.trials(key)
            self._models[key] = None if df is None else model_table(df, how=self.suite.aggregate)
        return self._models[key]

    def with_derived(self, key: str) -> pd.DataFrame | None:
        m = self.models(key)
        if m is None or "e_fit" in m or m.empty:
            return m
        from ..analysis.efit import model_efit
        from ..analysis.trends import design_parameters

        fit = model_efit(m)
        params = design_parameters(m, fit)
        m = m.copy()
        for col in DERIVED_VALUES:
            m[col] = params[col].to_numpy()
        self._models[key] = m
        return m

    def progress(self, key: str) -> dict:
        """{planned, done, failed, diverged, timeout} of a sweep's store (planned from its sweeps
        table), with span_s, trial_seconds and core_seconds (x the sweep's cpus per trial) of its trials."""
        out = self.progress_counts(key)
        df = self.trials(key)
        df = self._incomplete.get(key) if df is None else df  # an incomplete sweep's rows still count
        if df is not None and len(df):
            t0, t1 = df["started_at"].min(), df["finished_at"].max()
            out["span_s"] = float((t1 - t0).total_seconds()) if pd.notna(t0) and pd.notna(t1) else None
            out["trial_seconds"] = float(pd.to_numeric(df["seconds"], errors="coerce").sum())
            cpus = ((self.suite.sweeps.get(key) or {}).get("resources") or {}).get("cpus", 1)
            out["core_seconds"] = out["trial_seconds"] * float(cpus or 1)
        return out

    def progress_counts(self, key: str) -> dict:
        """{store, planned, done, failed, diverged, timeout}: plain SQL on the store, nothing else read."""
        path = self.path(key)
        out = {"store": path, "planned": None, "done": 0, "failed": 0, "diverged": 0, "timeout": 0}
        if not os.path.isfile(path):
            return out
        try:
            con = sqlite3.connect(read_only_uri(path), uri=True)
            try:
                row = con.execute("SELECT planned FROM sweeps WHERE name = ?", (key,)).fetchone()
                out["planned"] = row[0] if row else None
                for status, n in con.execute("SELECT status, COUNT(*) FROM trials WHERE sweep = ? GROUP BY status",
                                             (key,)):
                    out[status] = n
            finally:
                con.close()
        except sqlite3.Error:
            pass
        return out


def _select(frame: pd.DataFrame, select: str) -> pd.DataFrame:
    if select == "all" or frame.empty:
        return frame
    kind, frac = select.split(":")
    k = max(1, int(round(float(frac) * len(frame))))
    order = frame.sort_values("error", kind="stable")
    return order.iloc[:k] if kind == "best" else order.iloc[k:]


def _finished(trials: pd.DataFrame) -> pd.Series:
    """The trials the statistics read: done, with an error."""
    return (trials["status"] == "done") & pd.to_numeric(trials["error"], errors="coerce").notna()


def _in_arm(frame: pd.DataFrame, arm: Arm) -> pd.DataFrame:
    """The rows of `frame` (trials or models of one sweep) that belong to `arm`: its space and its `where`."""
    from ..spaces.columns import table_columns
    from ..spaces.expr import parse

    frame = frame[frame["space"] == arm.space]
    if arm.where and not frame.empty:
        frame = frame[parse(arm.where).evaluate(table_columns(frame)).astype(bool)]
    return frame


def arm_frame(stores: Stores, arm: Arm, trials: bool = False, derived: bool = False
              ) -> tuple[pd.DataFrame | None, list[str]]:
    """The models (or trials) of one arm, pooled over its sweeps; (None, reasons) when missing.
    derived: add e_fit, d, b, g, w0, wa, wm (an e_fit fit of every model of the sweep)."""
    parts, missing = [], []
    derived = derived or arm.value in DERIVED_VALUES
    for key in arm.sweeps:
        why = stores.missing(key)
        if why:
            missing.append(why)
            continue
        if trials:
            frame = stores.trials(key)
            frame = frame[_finished(frame)]
        else:
            frame = stores.with_derived(key) if derived else stores.models(key)
        frame = _select(_in_arm(frame, arm), arm.select)
        if frame.empty:
            missing.append(f"sweep {key} holds no finished {'trials' if trials else 'models'} of {arm.describe()}")
            continue
        parts.append(frame.assign(_sweep=key))
    if missing:
        return None, missing
    return pd.concat(parts, ignore_index=True), []


def architecture_key(spec_json: str, ignore=()) -> str:
    """What makes two models the same architecture for pairing: the spec without its `meta` (space name,
    sampled values) and without the option keys in `ignore` (wherever they sit, e.g. `rep` or a family's
    `sfr`), as canonical JSON."""
    import json

    drop = set(ignore)

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in drop}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    spec = json.loads(spec_json)
    spec.pop("meta", None)
    return json.dumps(strip(spec), sort_keys=True, separators=(",", ":"))


def paired_values(frames: dict, arms: dict, ignore=()) -> tuple[dict, list[str]]:
    """Arms a and b matched model to model by architecture_key: ({"a": values, "b": values} aligned, warnings).
    A model without a partner in the other arm is left out, and the warning says how many of each arm."""
    keyed = {}
    for name in ("a", "b"):
        f = frames[name]
        keys = [architecture_key(t, ignore) for t in f["spec"].astype(str)]
        vals = pd.to_numeric(f[arms[name].value], errors="coerce").to_numpy(np.float64)
        keyed[name] = pd.Series(vals, index=keys)
    warnings = []
    for name, s in keyed.items():
        dup = s.index.duplicated()
        if dup.any():  # one architecture twice in one arm (pooled sweeps): its first model is its partner
            warnings.append(f"arm {name}: {int(dup.sum())} models repeat an architecture already in the arm and "
                            "were left out of the pairing")
            keyed[name] = s[~dup]
    common = keyed["a"].index.intersection(keyed["b"].index, sort=False)
    for name, s in keyed.items():
        lost = len(s) - len(common)
        if lost:
            warnings.append(f"arm {name}: {lost} of {len(s)} models have no partner of the same architecture in "
                            "the other arm and were left out")
    return {k: s.loc[common].to_numpy() for k, s in keyed.items()}, warnings


def left_out(stores: Stores, arm: Arm) -> str | None:
    """A warning naming the arm's trials that did not finish (diverged, failed, timed out): the
    statistics read finished trials only, so a model whose every trial diverged is not in its arm."""
    counts: dict = {}
    for key in arm.sweeps:
        frame = stores.trials(key)
        if frame is None:
            continue
        frame = _in_arm(frame, arm)
        for status, n in frame.loc[~_finished(frame), "status"].value_counts().items():
            counts[status] = counts.get(status, 0) + int(n)
    if not counts:
        return None
    what = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{arm.describe()}: {what} trials left out (statistics read finished trials only)"


def judge_part(stores: Stores, claim, index: int, part, seed: int | None = None) -> dict:
    """One part of a claim: effect, interval, n per arm, verdict (or not run, saying why)."""
    stat = STATISTICS[part.statistic]
    out = {"name": part.name, "statistic": part.statistic, "describe": stat.describe, "expect": part.expect,
           "ref": part.ref, "margin": part.margin, "params": part.params,
           "rule": rule_text(part.expect, part.ref, part.margin), "note": part.note,
           "arms": {k: a.describe() for k, a in part.arms.items()}}
    values, frames, missing = {}, {}, []
    use_trials = part.statistic == "std_diff"
    for name, arm in part.arms.items():
        derived = any(part.params.get(k) in DERIVED_VALUES for k in ("x", "y"))
        frame, why = arm_frame(stores, arm, trials=use_trials, derived=derived)
        if frame is None:
            missing += why
            continue
        frames[name] = frame
        if part.statistic in ("slope", "spearman"):
            values[name] = (pd.to_numeric(frame[part.params["x"]], errors="coerce").to_numpy(np.float64),
                            pd.to_numeric(frame[part.params["y"]], errors="coerce").to_numpy(np.float64))
        else:
            values[name] = pd.to_numeric(frame[arm.value], errors="coerce").to_numpy(np.float64)
    if missing:
        out.update(verdict=NOT_RUN, missing=[f"missing: {m} for claim {claim.id}" for m in dict.fromkeys(missing)])
        return out
    pairing = []
    if part.statistic in PAIRED:
        values, pairing = paired_values(frames, part.arms, part.params.get("ignore", ()))
    seed = (stores.suite.seed if seed is None else seed, claim.id, index)
    eff = compute(part.statistic, values, part.params, stores.suite.resamples, stores.suite.level, seed)
    eff.warnings[:0] = pairing + [w for w in (left_out(stores, a) for a in part.arms.values()) if w]
    out["effect"] = eff.to_dict()
    small = {k: n for k, n in eff.n.items() if n < MIN_MODELS}
    if small:
        out.update(verdict=NOT_RUN, missing=[f"too few {eff.unit} in arm {k} ({n} < {MIN_MODELS}) for claim {claim.id}"
                                             for k, n in small.items()])
        return out
    out["verdict"] = verdict(eff, part.expect, part.ref, part.margin)
    return out


def judge(suite: Suite, claims=None, store_dir: str | None = None, seed: int | None = None) -> dict:
    """Every selected claim judged on the stores under store_dir (default: the suite's). seed: the
    statistics seed (default: the suite's); schema 2's verdicts do not depend on it. A claim whose
    sweep is incomplete (fewer trials stored than planned) is not run: its verdict waits for the data
    its design fixed."""
    stores = Stores(suite, store_dir, require_complete=True)
    claims = suite.claims if claims is None else claims
    seed = suite.seed if seed is None else seed
    if suite.schema >= 2:
        from .decide import judge_suite

        results = judge_suite(stores, claims, seed)
        keys = list(dict.fromkeys(k for c in claims for k in c.sweeps()))
        return {"claims": results, "sweeps": {k: stores.progress(k) for k in keys}}
    results = []
    for claim in claims:
        entry = {"id": claim.id, "text": claim.text, "figure": claim.figure, "note": claim.note,
                 "sweeps": claim.sweeps()}
        if claim.skip:
            entry.update(verdict=NOT_RUN, skip=claim.skip, parts=[], missing=[f"not run at this tier: {claim.skip}"])
            results.append(entry)
            continue
        parts = [judge_part(stores, claim, i, p, seed) for i, p in enumerate(claim.parts)]
        entry["parts"] = parts
        entry["verdict"] = combine([p["verdict"] for p in parts])
        entry["missing"] = list(dict.fromkeys(m for p in parts for m in p.get("missing", [])))
        results.append(entry)
    keys = list(dict.fromkeys(k for c in claims for k in c.sweeps()))
    return {"claims": results, "sweeps": {k: stores.progress(k) for k in keys}}
