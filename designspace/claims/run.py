"""`designspace reproduce`: run a suite's missing sweeps through the sweep machinery, then judge.

Each sweep is an ordinary sweep (designspace.sweep.run_sweep: resumable, its plan stored, one
SQLite file per sweep under the tier's folder), run in the suite's order, so a session that ends
mid-suite keeps every finished store and the next run resumes where it stopped.
"""
from __future__ import annotations

import os
import platform
import sys
import time

from ..errors import UsageError
from ..store import read_only_uri
from .judge import judge
from .report import write_all
from .statistics import NOT_RUN
from .suite import TIERS, load_suite


def _finished(path: str, sweep: str) -> int:
    """Trials of `sweep` already stored with a result (done or diverged), read-only; 0 without a store."""
    import sqlite3

    if not os.path.isfile(path):
        return 0
    try:
        con = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM trials WHERE sweep = ? AND status IN ('done', 'diverged')",
                               (sweep,)).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def machine() -> str:
    bits = [f"{platform.system()} {platform.machine()}", f"{os.cpu_count()} CPUs"]
    try:
        import torch

        bits.append(f"torch {torch.__version__}")
        bits.append(f"GPU {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}" if torch.cuda.is_available()
                    else "no GPU")
    except ImportError:
        pass
    bits.append(f"Python {platform.python_version()}")
    return ", ".join(bits)


def reproduce(path: str, tier: str | None = None, only=None, analyze_only: bool = False, address: str | None = None,
              out: str | None = None, data_dir: str | None = None, progress: bool = True, figures: bool = True,
              retry_failed: bool = False, command: str = "", log=None, seed: int | None = None) -> dict:
    """Run (unless analyze_only) and judge the suite at `path`; write claims.json/.md/report.html
    into `<out>/<suite name>/`; stores are `<out>/<sweep key>.db` (out default: the suite's
    store_dir, results/paper/<tier>/, which several suites of one tier share). Returns the result with
    "exit": 0 when every selected claim was judged (skipped-by-tier claims aside) and every sweep
    finished cleanly, 1 when a claim could not be judged (missing stores/rows) or trials failed."""
    log = log or sys.stderr
    t0 = time.time()
    suite = load_suite(path)
    _check_tier(suite, path, tier)
    claims = suite.select(only)
    store_dir = out or suite.store_dir
    keys = list(dict.fromkeys(k for c in claims for k in c.sweeps()))
    sweep_options = {"address": address, "data_dir": data_dir, "progress": progress, "retry_failed": retry_failed}
    if suite.schema >= 2 and suite.rules.schedule.kind == "sequential":  # trained and judged look by look
        from .rounds import run_rounds

        judged, trouble = run_rounds(suite, keys, store_dir, analyze_only=analyze_only, log=log, seed=seed,
                                     **sweep_options)
        judged["claims"] = _selected(judged["claims"], claims)
    else:
        trouble = [] if analyze_only else _run_sweeps(suite, keys, store_dir, log, **sweep_options)
        judged = _judge_fixed(suite, claims, store_dir, seed)
    run = {"command": command or f"designspace reproduce {path}",
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "machine": machine(), "wall_s": time.time() - t0, "analyze_only": analyze_only}
    result = _result(suite, path, run, judged, trouble, seed)
    out_dir = os.path.join(store_dir, suite.name)
    if only:
        result = merge_claims(result, os.path.join(out_dir, "claims.json"))
    result["files"] = write_all(result, out_dir, figures=figures)
    return result


def _check_tier(suite, path: str, tier: str | None):
    """--tier, when given, must name the suite file's own tier (a guard against judging the wrong file)."""
    if tier is None:
        return
    if tier not in TIERS:
        raise UsageError(f"--tier must be one of {', '.join(TIERS)}, got {tier!r}")
    if tier != suite.tier:
        raise UsageError(f"{path} is the {suite.tier} tier's suite; --tier {tier} needs the {tier} suite file")


def _run_sweeps(suite, keys: list, store_dir: str, log, **sweep_options) -> list:
    """Run the sweeps in the suite's order, each resuming its store, with a running estimate of the
    time left; the problems this run met."""
    from ..sweep import run_sweep

    cfgs = [suite.sweep_config(k, store_dir) for k in keys]  # every sweep validated before any runs
    os.makedirs(store_dir, exist_ok=True)
    left = [max(len(c.spaces) * c.models_per_space * c.repeats - _finished(c.store, c.name), 0) for c in cfgs]
    trouble, trained, t_run = [], 0, time.time()
    for i, cfg in enumerate(cfgs, 1):
        todo = sum(left[i - 1:])
        eta = ""
        if trained and todo:
            eta = f", about {(time.time() - t_run) / trained * todo / 60:.0f} min left at this run's pace"
        print(f"reproduce: sweep {i}/{len(cfgs)} {cfg.name} ({len(cfg.spaces)} spaces x {cfg.models_per_space} "
              f"models x {cfg.repeats} seeds, {left[i - 1]} to train; {todo} left in the suite{eta}) -> "
              f"{cfg.store}", file=log, flush=True)
        counts = run_sweep(cfg, out=log, **sweep_options)
        trained += sum(counts.get(k, 0) for k in ("done", "failed", "diverged", "timeout"))
        bad = counts.get("failed", 0) + counts.get("timeout", 0)
        if bad:
            trouble.append(f"sweep {cfg.name}: {bad} trials failed or timed out this run")
    return trouble


def _judge_fixed(suite, claims: list, store_dir: str, seed: int | None) -> dict:
    """Judge a fixed-size suite. Schema 2's multiplicity is over the whole suite, so every claim is
    judged and the selected ones reported; schema 1 judges the selected claims alone."""
    if suite.schema >= 2:
        result = judge(suite, None, store_dir, seed=seed)
        result["claims"] = _selected(result["claims"], claims)
        return result
    return judge(suite, claims, store_dir, seed=seed)


def _selected(judged: list, claims: list) -> list:
    chosen = {c.id for c in claims}
    return [c for c in judged if c["id"] in chosen]


def _result(suite, path: str, run: dict, judged: dict, trouble: list, seed: int | None) -> dict:
    """claims.json's content: the run, the statistics, the judge's result, the problems and the exit status."""
    unjudged = [c["id"] for c in judged["claims"] if c["verdict"] == NOT_RUN and not c.get("skip")]
    failed = [f"sweep {k}: {s['failed'] + s['timeout']} failed or timed-out trials stored (rerun with --retry-failed)"
              for k, s in judged["sweeps"].items() if s.get("failed") or s.get("timeout")]
    result = {
        "suite": suite.name, "tier": suite.tier, "suite_file": path, "run": run,
        "statistics": statistics_block(suite, seed),
        **judged,
        "problems": trouble + failed + [f"claim {i} not judged" for i in unjudged],
    }
    result["exit"] = 1 if unjudged or failed or trouble else 0
    return result


def statistics_block(suite, seed: int | None) -> dict:
    """How the suite's statistics were computed, for claims.json and the report."""
    block = {"unit": "models", "aggregate": suite.aggregate, "resamples": suite.resamples, "level": suite.level,
             "seed": suite.seed if seed is None else seed, "schema": suite.schema}
    if suite.schema == 1:
        return {**block, "interval": "percentile bootstrap"}
    rules = suite.rules
    interval = ("exact or closed-form where they exist (order-statistic, Bonett-Price, Welch, Fisher-z, t)"
                + ("; best of m by a jackknife t interval of its unbiased estimate, KS distance by Kolmogorov bands; "
                   "percentile bootstrap with its Monte-Carlo error for std_diff" if rules.seed_free else
                   "; percentile bootstrap with its Monte-Carlo error otherwise"))
    return {**block, "interval": interval,
            "alpha_one_sided": (1 - suite.level) / 2,
            "multiplicity": rules.multiplicity.model_dump(), "pairing": rules.pairing,
            "complexity": rules.complexity.model_dump(), "learning": rules.learning.model_dump(),
            "power": rules.power.model_dump(), "schedule": rules.schedule.model_dump()}


def merge_claims(result: dict, path: str) -> dict:
    """The claims just judged merged into the suite's committed claims.json (read-only input): every
    other claim kept as it was, so judging a subset never destroys the rest."""
    import json

    try:
        with open(path) as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        return result
    if not isinstance(old, dict) or not isinstance(old.get("claims"), list):
        return result
    fresh = {c["id"]: c for c in result["claims"]}
    kept = [c for c in old["claims"] if isinstance(c, dict) and c.get("id") not in fresh]
    merged = sorted(kept + list(fresh.values()), key=lambda c: c["id"])
    sweeps = {**(old.get("sweeps") or {}), **result["sweeps"]}
    return {**result, "claims": merged, "sweeps": sweeps,
            "merged": f"claims {', '.join(map(str, sorted(fresh)))} judged by this command; the others kept from "
                      f"the previous {os.path.basename(path)}"}
